//! The mock's routes: one server standing in for every upstream origin.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::Response;
use axum::routing::{get, post};
use bytes::Bytes;
use serde_json::{Value, json};

use crate::frames::{self, CandidateSpec};
use crate::scenario::{self, Scenario};
use crate::state::{Shared, StoredTurn};
use crate::streaming::{self, Plan};
use crate::wire;
use crate::{
    ExpiredStyle, Glitch, MOCK_PNG, PAGE_BUILD_LABEL, PAGE_PUSH_ID, PAGE_SESSION_ID,
    RecordedRequest, RotateBehaviour, STATUS_SIGNED_IN, STATUS_UNAUTHENTICATED, Upload,
};

pub const GENERATE_PATH: &str =
    "/_/BardChatUi/data/assistant.lamda.BardFrontendService/StreamGenerate";
pub const BATCH_PATH: &str = "/_/BardChatUi/data/batchexecute";
const PSID: &str = "__Secure-1PSID";
const PSIDTS: &str = "__Secure-1PSIDTS";
const IMAGE_PLACEHOLDER: &str = "http://googleusercontent.com/image_generation_content/0";
const LOGIN_URL: &str =
    "https://accounts.google.com/ServiceLogin?continue=https://gemini.google.com/app";

type AppState = State<Arc<Shared>>;

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(preflight))
        .route("/app", get(app_page))
        .route(GENERATE_PATH, post(stream_generate))
        .route(BATCH_PATH, post(batch_execute))
        .route("/upload", post(upload).options(upload_options))
        .route("/upload/", post(upload).options(upload_options))
        .route("/upload/session/{id}", post(upload_finalize))
        .route("/RotateCookies", post(rotate_cookies))
        .route("/mock-img/{tail}", get(preview_image))
        .route("/mock-orig/{tail}", get(original_image))
        .route("/mock-step/{id}", get(download_step))
        .route("/mock-final/{id}", get(final_image))
        .layer(from_fn_with_state(shared.clone(), record))
        .layer(DefaultBodyLimit::max(64 << 20))
        .with_state(shared)
}

/// Logs every request (with its body) before it is handled.
async fn record(State(shared): AppState, request: Request, next: Next) -> Response {
    let (http, request) = mock_kit::read_whole(request, 64 << 20).await;
    shared.controls.records.record(RecordedRequest { http });
    next.run(request).await
}

fn respond(status: StatusCode, content_type: &str, body: impl Into<Body>) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .body(body.into())
        .unwrap_or_default()
}

fn text(status: StatusCode, body: impl Into<String>) -> Response {
    respond(status, "text/plain; charset=utf-8", body.into())
}

fn session_cookies(headers: &HeaderMap) -> (Option<String>, Option<String>) {
    let all: Vec<(String, String)> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(wire::cookies)
        .collect();
    let find = |name: &str| {
        all.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    (find(PSID), find(PSIDTS))
}

fn session_valid(shared: &Shared, headers: &HeaderMap) -> bool {
    let (psid, psidts) = session_cookies(headers);
    shared
        .state()
        .session_valid(psid.as_deref(), psidts.as_deref())
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

fn set_cookie(name: &str, value: &str) -> String {
    format!(
        "{name}={value}; Domain=.google.com; Path=/; Expires=Fri, 01 Jan 2027 00:00:00 GMT; Secure; HttpOnly; SameSite=none"
    )
}

// ---- www.google.com ---------------------------------------------------------

async fn preflight(State(shared): AppState) -> Response {
    let mut response = text(StatusCode::OK, "<html>Google</html>");
    let nid = format!("NID={}; Domain=.google.com; Path=/", shared.next_id());
    if let Ok(value) = nid.parse() {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

// ---- the app page -----------------------------------------------------------

async fn app_page(State(shared): AppState, headers: HeaderMap) -> Response {
    if let Some(status) = shared.state().app_status {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return text(
            status,
            "<html>Our systems have detected unusual traffic.</html>",
        );
    }
    if !session_valid(&shared, &headers) {
        if shared.options.expired_redirect {
            return Response::builder()
                .status(StatusCode::FOUND)
                .header(header::LOCATION, LOGIN_URL)
                .body(Body::empty())
                .unwrap_or_default();
        }
        // Signed out is a guest session: every value but the access token.
        let page = format!(
            "<!doctype html><html><head><script>window.WIZ_global_data = {{\"cfb2h\":\"{PAGE_BUILD_LABEL}\",\"FdrFJe\":\"{PAGE_SESSION_ID}\",\n\"TuX5cc\":\"en\",\"qKIAYe\":\"{PAGE_PUSH_ID}\"}};</script></head><body><a href=\"https://accounts.google.com/ServiceLogin\">Sign in</a></body></html>"
        );
        return respond(StatusCode::OK, "text/html; charset=utf-8", page);
    }
    let token = shared.state().access_token.clone();
    let page = format!(
        "<!doctype html><html><head><script>window.WIZ_global_data = {{\"SNlM0e\":\"{token}\",\n\"cfb2h\":\"{PAGE_BUILD_LABEL}\",\"FdrFJe\":\"{PAGE_SESSION_ID}\",\n\"TuX5cc\":\"en\",\"qKIAYe\":\"{PAGE_PUSH_ID}\"}};</script></head><body>Gemini</body></html>"
    );
    let mut response = respond(StatusCode::OK, "text/html; charset=utf-8", page);
    if shared.options.app_sets_psidts {
        let fresh = format!("mock-psidts-app-{:04}", shared.next_id());
        shared.state().issue_psidts(fresh.clone(), None);
        if let Ok(value) = set_cookie(PSIDTS, &fresh).parse() {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

// ---- StreamGenerate ----------------------------------------------------------

async fn stream_generate(State(shared): AppState, headers: HeaderMap, body: Bytes) -> Response {
    let form = String::from_utf8_lossy(&body).into_owned();
    let at = wire::form_value(&form, "at");
    let guest = !session_valid(&shared, &headers);
    if guest && at.as_deref().is_some_and(|at| !at.is_empty()) {
        // A token from a page read while the session was alive.
        return match shared.options.expired_style {
            ExpiredStyle::Http401 => text(StatusCode::UNAUTHORIZED, "Unauthorized"),
            ExpiredStyle::InBandRejected => framed(
                &shared,
                vec![frames::status_frame(7), frames::trailer_frames()],
            ),
        };
    }
    if !guest {
        let token = shared.state().access_token.clone();
        if at.as_deref() != Some(token.as_str()) {
            return bad_request();
        }
    } else if at.is_none() {
        // The web app sends `at=` (empty) on a guest page, never no field.
        return bad_request();
    }
    let Some(inner) = wire::form_value(&form, "f.req").and_then(|f| decode_f_req(&f)) else {
        return bad_request();
    };
    if shared.options.strict_request_id && !request_id_matches(&inner, &headers) {
        return bad_request();
    }
    let Some(prompt) = inner
        .pointer("/0/0")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return bad_request();
    };
    if !files_known(&shared, &inner) {
        return bad_request();
    }
    let selector = match model_selector(&headers) {
        Ok(selector) => selector,
        // The 12-element header of early 2026 and other shapes.
        Err(()) => return in_band_error(&shared, 1052),
    };
    if !current_shape(&inner, selector.as_ref()) {
        return in_band_error(&shared, 1052);
    }
    let thinking = match &selector {
        Some(selector) => {
            let known = shared.options.known_models.contains(&selector.id)
                && number_of(&shared, &selector.id).is_none_or(|n| n == selector.number);
            // A guest may use only the default model.
            if guest || !known {
                return in_band_error(&shared, 1052);
            }
            selector.thinking == 2
        }
        None => false,
    };
    if guest {
        let reply = Reply {
            cid: shared.hex_id("c_"),
            rid: shared.hex_id("r_"),
            rcid: shared.hex_id("rc_"),
            context: format!("!MockContext{}", shared.next_id()),
        };
        let escaped = frames::html_escape(crate::GUEST_ANSWER);
        let mut frames = reply.growing(&escaped, None, 1, &[], false);
        frames.push(frames::trailer_frames());
        return framed(&shared, frames);
    }
    let glitch = {
        let mut state = shared.state();
        (!state.glitches.is_empty()).then(|| state.glitches.remove(0))
    };
    match glitch {
        Some(Glitch::Code(code)) => return in_band_error(&shared, code),
        Some(Glitch::Silent) => return framed(&shared, vec![frames::trailer_frames()]),
        None => {}
    }
    let cid = match inner.pointer("/2/0").and_then(Value::as_str).unwrap_or("") {
        "" => shared.hex_id("c_"),
        cid if shared
            .state()
            .turns
            .iter()
            .any(|t| t.cid == cid && !t.deleted) =>
        {
            cid.to_string()
        }
        _ => return in_band_error(&shared, 1050),
    };
    answer(&shared, scenario::pick(&prompt), &prompt, &cid, thinking)
}

/// What `x-goog-ext-525001261-jspb` selects.
struct Selector {
    id: String,
    number: i64,
    thinking: i64,
}

/// The model header in its current 17-element shape
/// `[1,null,null,null,"<id>",null,null,0,[4,5,6,8],null,null,<capacity>,null,null,<number>,<thinking>,"<UUID>"]`;
/// `Ok(None)` without one (the server's default model), `Err` for any other shape.
fn model_selector(headers: &HeaderMap) -> Result<Option<Selector>, ()> {
    let Some(text) = header_text(headers, "x-goog-ext-525001261-jspb") else {
        return Ok(None);
    };
    let value: Value = serde_json::from_str(text).map_err(|_| ())?;
    let list = value.as_array().ok_or(())?;
    let id = list.get(4).and_then(Value::as_str).ok_or(())?;
    let thinking = list.get(15).and_then(Value::as_i64).ok_or(())?;
    let valid = list.len() == 17
        && list[8] == json!([4, 5, 6, 8])
        && list[11].is_i64()
        && (1..=2).contains(&thinking)
        && list[16].as_str().is_some_and(|uuid| uuid.len() == 36)
        && header_text(headers, "x-goog-ext-73010990-jspb") == Some("[0,0,0]");
    if !valid {
        return Err(());
    }
    Ok(Some(Selector {
        id: id.to_string(),
        number: list[14].as_i64().ok_or(())?,
        thinking,
    }))
}

/// The 81-slot inner list: slot 68 = 1, slot 79 = the model number of the
/// header, slot 80 = its thinking level.
fn current_shape(inner: &Value, selector: Option<&Selector>) -> bool {
    let Some(slots) = inner.as_array() else {
        return false;
    };
    if slots.len() != 81 || slots[68] != json!(1) {
        return false;
    }
    match selector {
        Some(selector) => {
            slots[79].as_i64() == Some(selector.number)
                && slots[80].as_i64() == Some(selector.thinking)
        }
        None => slots[80]
            .as_i64()
            .is_some_and(|level| (1..=2).contains(&level)),
    }
}

/// The model number `otAQ7b` lists for an id, if it lists it.
fn number_of(shared: &Shared, id: &str) -> Option<i64> {
    shared
        .options
        .listed_models
        .iter()
        .find(|(listed, _, _)| listed == id)
        .map(|(_, _, number)| *number)
}

fn bad_request() -> Response {
    respond(
        StatusCode::BAD_REQUEST,
        "text/html; charset=utf-8",
        "<html><title>Error 400 (Bad Request)!!1</title></html>",
    )
}

/// `f.req` = `[null, "<inner JSON>"]`.
fn decode_f_req(f_req: &str) -> Option<Value> {
    let outer: Value = serde_json::from_str(f_req).ok()?;
    let inner: Value = serde_json::from_str(outer.get(1)?.as_str()?).ok()?;
    inner.is_array().then_some(inner)
}

fn request_id_matches(inner: &Value, headers: &HeaderMap) -> bool {
    let from_header = header_text(headers, "x-goog-ext-525005358-jspb")
        .and_then(|text| serde_json::from_str::<Value>(text).ok())
        .and_then(|value| value.get(0).and_then(Value::as_str).map(str::to_string));
    let in_body = inner.get(59).and_then(Value::as_str);
    from_header.is_some() && from_header.as_deref() == in_body
}

/// Every file the prompt references was uploaded.
fn files_known(shared: &Shared, inner: &Value) -> bool {
    let Some(files) = inner.pointer("/0/3").and_then(Value::as_array) else {
        return true;
    };
    let state = shared.state();
    files.iter().all(|file| {
        file.pointer("/0/0")
            .and_then(Value::as_str)
            .is_some_and(|id| state.uploads.iter().any(|upload| upload.id == id))
    })
}

fn in_band_error(shared: &Arc<Shared>, code: i64) -> Response {
    framed(
        shared,
        vec![frames::error_frame(code), frames::trailer_frames()],
    )
}

/// A complete framed 200 answer, streamed without a hold.
fn framed(shared: &Arc<Shared>, frames: Vec<String>) -> Response {
    stream_response(
        shared,
        Plan {
            frames,
            hold_after: None,
            abort: false,
        },
    )
}

fn stream_response(shared: &Arc<Shared>, plan: Plan) -> Response {
    respond(
        StatusCode::OK,
        "application/json; charset=utf-8",
        streaming::body(shared.clone(), plan),
    )
}

/// A turn being answered: its ids and the frames that carry it.
struct Reply {
    cid: String,
    rid: String,
    rcid: String,
    context: String,
}

impl Reply {
    fn snapshot(&self, spec: CandidateSpec, final_frame: bool) -> String {
        let spec = CandidateSpec {
            rcid: self.rcid.clone(),
            ..spec
        };
        let context = final_frame.then_some(self.context.as_str());
        frames::snapshot_frame(&frames::inner(
            &self.cid,
            &self.rid,
            frames::candidate(&spec),
            context,
        ))
    }

    /// Growing snapshots of `text` (escaped), the last one complete.
    fn growing(
        &self,
        text: &str,
        thoughts: Option<&str>,
        count: usize,
        images: &[(String, String, String)],
        sparse_images: bool,
    ) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(thoughts) = thoughts {
            for cut in frames::growth(thoughts, count) {
                out.push(self.snapshot(
                    CandidateSpec {
                        thoughts: Some(thoughts[..cut].to_string()),
                        ..CandidateSpec::default()
                    },
                    false,
                ));
            }
        }
        let cuts = frames::growth(text, count);
        let last = cuts.len() - 1;
        for (index, cut) in cuts.into_iter().enumerate() {
            let complete = index == last;
            out.push(self.snapshot(
                CandidateSpec {
                    text: text[..cut].to_string(),
                    complete,
                    thoughts: thoughts.map(str::to_string),
                    images: if complete {
                        images.to_vec()
                    } else {
                        Vec::new()
                    },
                    sparse_images,
                    ..CandidateSpec::default()
                },
                complete,
            ));
        }
        out
    }
}

fn answer(
    shared: &Arc<Shared>,
    scenario: Scenario,
    prompt: &str,
    cid: &str,
    thinking: bool,
) -> Response {
    let options = &shared.options;
    let reply = Reply {
        cid: cid.to_string(),
        rid: shared.hex_id("r_"),
        rcid: shared.hex_id("rc_"),
        context: format!("!MockContext{}", shared.next_id()),
    };
    let thoughts = thinking.then(|| frames::html_escape(&options.thoughts));
    let plain = match scenario {
        Scenario::Echo => prompt.to_string(),
        Scenario::Image | Scenario::ImageEdit => {
            format!("Here is the image you asked for:\n\n{IMAGE_PLACEHOLDER}\n")
        }
        Scenario::Flicker => "Use **bold** text\n```rust\nfn main() {}\n```".to_string(),
        _ => options.answer.clone(),
    };
    let escaped = frames::html_escape(&plain);
    let count = options.snapshots.max(1);

    let mut abort = false;
    let mut polls_until_done = 0;
    let frames: Vec<String> = match scenario {
        Scenario::HttpStatus(status) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = text(status, format!("mock HTTP {}", status.as_u16()));
            if status == StatusCode::TOO_MANY_REQUESTS
                && let Ok(value) = "7".parse()
            {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            return response;
        }
        Scenario::InBandError(code) => return in_band_error(shared, code),
        Scenario::Rejected => {
            return framed(
                shared,
                vec![frames::status_frame(7), frames::trailer_frames()],
            );
        }
        Scenario::Answer | Scenario::Echo => {
            reply.growing(&escaped, thoughts.as_deref(), count, &[], false)
        }
        Scenario::ErrorAfterAnswer(code) => {
            let mut frames = reply.growing(&escaped, thoughts.as_deref(), count, &[], false);
            frames.push(frames::error_frame(code));
            frames
        }
        Scenario::Queue => {
            let mut frames = vec![frames::status_frame(1), frames::status_frame(1)];
            frames.extend(reply.growing(&escaped, thoughts.as_deref(), count, &[], false));
            frames
        }
        Scenario::Flicker => vec![
            reply.snapshot(text_spec("Use **bold\\*", false), false),
            reply.snapshot(text_spec("Use **bold** text\n```", false), false),
            reply.snapshot(text_spec(&escaped, true), true),
        ],
        Scenario::Image | Scenario::ImageEdit => {
            let url = format!(
                "{}/mock-img/img{}=s1024-rj",
                shared.base_url,
                shared.next_id()
            );
            let images = [(
                url,
                "a generated image".to_string(),
                IMAGE_PLACEHOLDER.to_string(),
            )];
            let sparse = scenario == Scenario::ImageEdit;
            reply.growing(&escaped, thoughts.as_deref(), count, &images, sparse)
        }
        Scenario::Cut => {
            abort = true;
            let cuts = frames::growth(&escaped, count.max(3));
            cuts.iter()
                .take(2)
                .map(|&cut| reply.snapshot(text_spec(&escaped[..cut], false), false))
                .collect()
        }
        Scenario::CutPersisted => {
            abort = true;
            polls_until_done = 1;
            let cut = frames::growth(&escaped, 2)[0];
            // The context token arrives, but the answer is not complete.
            let inner = frames::inner(
                &reply.cid,
                &reply.rid,
                frames::candidate(&CandidateSpec {
                    rcid: reply.rcid.clone(),
                    ..text_spec(&escaped[..cut], false)
                }),
                Some(&reply.context),
            );
            vec![frames::snapshot_frame(&inner)]
        }
    };
    let mut frames = frames;
    if !abort {
        frames.push(frames::trailer_frames());
    }
    let hold_after = frames
        .iter()
        .position(|frame| frame.contains("\"wrb.fr\",null,\"["));
    shared.state().turns.push(StoredTurn {
        cid: reply.cid.clone(),
        rid: reply.rid.clone(),
        rcid: reply.rcid.clone(),
        prompt: prompt.to_string(),
        escaped_answer: escaped,
        answer: plain,
        polls_until_done,
        deleted: false,
    });
    stream_response(
        shared,
        Plan {
            frames,
            hold_after,
            abort,
        },
    )
}

fn text_spec(text: &str, complete: bool) -> CandidateSpec {
    CandidateSpec {
        text: text.to_string(),
        complete,
        ..CandidateSpec::default()
    }
}

// ---- batchexecute ------------------------------------------------------------

async fn batch_execute(
    State(shared): AppState,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = String::from_utf8_lossy(&body).into_owned();
    let at = wire::form_value(&form, "at");
    // Signed out with an empty token is a guest: calls work, `otAQ7b` says 1016.
    let guest = !session_valid(&shared, &headers);
    if guest && at.as_deref().is_none_or(|at| !at.is_empty()) {
        return text(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    let token = shared.state().access_token.clone();
    if !guest && at.as_deref() != Some(token.as_str()) {
        return bad_request();
    }
    if query
        .as_deref()
        .and_then(|q| wire::form_value(q, "rpcids"))
        .is_none()
    {
        return bad_request();
    }
    let Some(calls) = wire::form_value(&form, "f.req")
        .and_then(|f| serde_json::from_str::<Value>(&f).ok())
        .and_then(|v| v.get(0).and_then(Value::as_array).cloned())
    else {
        return bad_request();
    };
    let mut frames = Vec::new();
    for call in &calls {
        let rpcid = call.get(0).and_then(Value::as_str).unwrap_or_default();
        let payload: Value = call
            .get(1)
            .and_then(Value::as_str)
            .and_then(|p| serde_json::from_str(p).ok())
            .unwrap_or(Value::Null);
        let payload = if rpcid == "otAQ7b" {
            user_status(&shared, guest)
        } else if guest {
            json!([])
        } else {
            rpc_payload(&shared, rpcid, &payload)
        };
        frames.push(frames::rpc_frame(rpcid, &payload));
    }
    frames.push(frames::trailer_frames());
    framed(&shared, frames)
}

/// `otAQ7b` (GetUserStatus): `[14]` the account status, `[15]` the models
/// as `[id, display name, description, …]` with the model number at entry
/// `[9]`, `[16]` tier flags, `[17]` capability flags.
fn user_status(shared: &Shared, guest: bool) -> Value {
    let mut status = vec![Value::Null; 18];
    status[14] = json!(if guest {
        STATUS_UNAUTHENTICATED
    } else {
        STATUS_SIGNED_IN
    });
    let models: Vec<Value> = shared
        .options
        .listed_models
        .iter()
        .filter(|(_, _, number)| !guest || *number == crate::NUMBER_FLASH)
        .map(|(id, name, number)| {
            let mut entry = vec![Value::Null; 10];
            entry[0] = json!(id);
            entry[1] = json!(name);
            entry[2] = json!(format!("{name} (mock)"));
            entry[9] = json!(number);
            Value::Array(entry)
        })
        .collect();
    status[15] = Value::Array(models);
    status[16] = json!([]);
    status[17] = json!(shared.options.capability_flags);
    Value::Array(status)
}

fn rpc_payload(shared: &Shared, rpcid: &str, payload: &Value) -> Value {
    match rpcid {
        "MaZiqc" => {
            let state = shared.state();
            let mut seen: Vec<&str> = Vec::new();
            let chats: Vec<Value> = state
                .turns
                .iter()
                .rev()
                .filter(|turn| !turn.deleted)
                .filter(|turn| {
                    let new = !seen.contains(&turn.cid.as_str());
                    seen.push(&turn.cid);
                    new
                })
                .map(|turn| json!([turn.cid, "Mock chat", false, null, null, [1_700_000_000, 0]]))
                .collect();
            json!([null, null, chats])
        }
        "hNvQHb" => {
            let cid = payload.get(0).and_then(Value::as_str).unwrap_or_default();
            let mut state = shared.state();
            let mut turns = Vec::new();
            for turn in state
                .turns
                .iter_mut()
                .rev()
                .filter(|t| t.cid == cid && !t.deleted)
            {
                let generating = turn.polls_until_done > 0;
                turn.polls_until_done = turn.polls_until_done.saturating_sub(1);
                let text = if generating {
                    turn.escaped_answer[..frames::growth(&turn.escaped_answer, 2)[0]].to_string()
                } else {
                    turn.escaped_answer.clone()
                };
                let candidate = frames::candidate(&CandidateSpec {
                    rcid: turn.rcid.clone(),
                    text,
                    complete: !generating,
                    generating,
                    ..CandidateSpec::default()
                });
                turns.push(json!([
                    [turn.cid, turn.rid],
                    null,
                    [[turn.prompt]],
                    [[candidate]]
                ]));
            }
            json!([turns])
        }
        "GzXR5e" => {
            let cid = payload.get(0).and_then(Value::as_str).unwrap_or_default();
            for turn in shared.state().turns.iter_mut().filter(|t| t.cid == cid) {
                turn.deleted = true;
            }
            json!([])
        }
        // The original's URL; the client appends `=d-I?alr=yes`. Needs the
        // image id and the reply's ids, as the web app sends them.
        "c8o8Fe" => {
            let image_id = payload.pointer("/0/1/0").and_then(Value::as_str);
            let cid = payload.pointer("/1/2").and_then(Value::as_str);
            if image_id.is_none_or(str::is_empty) || cid.is_none_or(str::is_empty) {
                return json!([]);
            }
            json!([format!(
                "{}/mock-orig/img{}",
                shared.base_url,
                shared.next_id()
            )])
        }
        _ => json!([]),
    }
}

// ---- upload (content-push) ---------------------------------------------------

async fn upload_options() -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .header("access-control-allow-methods", "POST, OPTIONS")
        .body(Body::empty())
        .unwrap_or_default()
}

fn upload_headers_ok(headers: &HeaderMap) -> bool {
    header_text(headers, "x-tenant-id") == Some("bard-storage")
        && header_text(headers, "push-id").is_some_and(|id| !id.is_empty())
}

async fn upload(State(shared): AppState, headers: HeaderMap, body: Bytes) -> Response {
    if !upload_headers_ok(&headers) {
        return text(StatusCode::BAD_REQUEST, "missing X-Tenant-Id or Push-ID");
    }
    let command = header_text(&headers, "x-goog-upload-command").unwrap_or_default();
    if command.eq_ignore_ascii_case("start") {
        let name = String::from_utf8_lossy(&body)
            .trim()
            .strip_prefix("File name: ")
            .unwrap_or("file")
            .to_string();
        let session = format!("s{}", shared.next_id());
        shared.state().upload_sessions.push((session.clone(), name));
        return Response::builder()
            .status(StatusCode::OK)
            .header("x-goog-upload-status", "active")
            .header(
                "x-goog-upload-url",
                format!("{}/upload/session/{session}", shared.base_url),
            )
            .body(Body::empty())
            .unwrap_or_default();
    }
    let content_type = header_text(&headers, "content-type").unwrap_or_default();
    let Some(file) = wire::multipart(content_type, &body).and_then(|parts| {
        parts
            .into_iter()
            .find(|part| part.name.as_deref() == Some("file"))
    }) else {
        return text(
            StatusCode::BAD_REQUEST,
            "expected a multipart part named file",
        );
    };
    let id = store_upload(
        &shared,
        file.file_name.unwrap_or_else(|| "file".into()),
        file.content_type,
        file.data,
    );
    text(StatusCode::OK, id)
}

async fn upload_finalize(
    State(shared): AppState,
    Path(session): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let command = header_text(&headers, "x-goog-upload-command").unwrap_or_default();
    let name = shared
        .state()
        .upload_sessions
        .iter()
        .find(|(id, _)| *id == session)
        .map(|(_, name)| name.clone());
    match name {
        Some(name) if command.contains("finalize") => {
            let id = store_upload(&shared, name, None, body.to_vec());
            text(StatusCode::OK, id)
        }
        _ => text(StatusCode::BAD_REQUEST, "unknown upload session"),
    }
}

fn store_upload(
    shared: &Shared,
    name: String,
    content_type: Option<String>,
    data: Vec<u8>,
) -> String {
    let id = format!(
        "/contrib_service/ttl_1d/{}mockupload",
        1_709_764_705 + shared.next_id()
    );
    shared.state().uploads.push(Upload {
        id: id.clone(),
        name,
        content_type,
        data,
    });
    id
}

// ---- RotateCookies (accounts) --------------------------------------------------

async fn rotate_cookies(State(shared): AppState, headers: HeaderMap) -> Response {
    let (psid, _) = session_cookies(&headers);
    let mut state = shared.state();
    if state.rotate == RotateBehaviour::Unauthorized || !state.psid_valid(psid.as_deref()) {
        return text(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    if let (Some(min), Some(last)) = (shared.options.rotate_min_interval, state.last_rotation)
        && last.elapsed() < min
    {
        return text(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
    }
    state.last_rotation = Some(Instant::now());
    let mut response = text(StatusCode::OK, "");
    let cc = set_cookie("__Secure-1PSIDCC", &format!("mock-cc-{}", shared.next_id()));
    if let Ok(value) = cc.parse() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    if state.rotate == RotateBehaviour::NoNewCookie {
        return response;
    }
    state.rotations += 1;
    let fresh = format!("mock-psidts-{:04}", state.rotations);
    state.issue_psidts(fresh.clone(), shared.options.old_psidts_grace);
    if let Ok(value) = set_cookie(PSIDTS, &fresh).parse() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    if shared.options.rotate_psid {
        state.psid = format!("mock-psid-rotated-{:04}", state.rotations);
        if let Ok(value) = set_cookie(PSID, &state.psid).parse() {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

// ---- generated images ------------------------------------------------------------

fn png() -> Response {
    respond(StatusCode::OK, "image/png", MOCK_PNG)
}

async fn preview_image(
    State(shared): AppState,
    Path(tail): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !session_valid(&shared, &headers) {
        return text(StatusCode::FORBIDDEN, "Forbidden");
    }
    let sized = ["=s1024-rj", "=s2048-rj", "=s0"]
        .iter()
        .any(|suffix| tail.ends_with(suffix));
    if !sized {
        return text(StatusCode::NOT_FOUND, "unknown image size");
    }
    png()
}

async fn original_image(
    State(shared): AppState,
    Path(tail): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    if !session_valid(&shared, &headers) {
        return text(StatusCode::FORBIDDEN, "Forbidden");
    }
    let Some(id) = tail.strip_suffix("=d-I") else {
        return text(StatusCode::NOT_FOUND, "not a download URL");
    };
    if query
        .as_deref()
        .and_then(|q| wire::form_value(q, "alr"))
        .as_deref()
        != Some("yes")
    {
        return text(StatusCode::NOT_FOUND, "missing alr=yes");
    }
    text(
        StatusCode::OK,
        format!("{}/mock-step/{id}", shared.base_url),
    )
}

async fn download_step(State(shared): AppState, Path(id): Path<String>) -> Response {
    text(
        StatusCode::OK,
        format!("{}/mock-final/{id}", shared.base_url),
    )
}

async fn final_image() -> Response {
    png()
}
