//! The routes: `GET /auth/getoxsrf`, the widget methods under
//! `/v1alpha/locations/global/`, downloads under `/v1alpha/<session>:downloadFile`
//! and `/download/v1alpha/<session>:downloadFile`, and `POST /__mock/scenario`.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use crate::scenario::{Scenario, scenarios_in};
use crate::stream::{self, Element};
use crate::token::{self, IssuedKey};
use crate::{GENERATED_PNG, GeneratedFile, RecordedRequest, Session, Shared, TRICKY_PARTS};
use mock_kit::{Pacing, form_decode, paced_body};

const SESSION_PREFIX: &str = "collections/default_collection/engines/agentspace-engine/sessions/";
const PROJECT_PREFIX: &str = "projects/000000000000/locations/global/";
const METHODS: &str = "/v1alpha/locations/global/";
/// Unauthenticated file URLs that [`Scenario::DownloadRedirect`] points to.
const FILES: &str = "/__mock/files/";
/// Model ids the mock accepts in `assistGenerationConfig.modelId`: the
/// newest fork's `MODEL_MAPPING` (yukkcat `bc97009`, 2026-04-24), which
/// dropped `gemini-3-pro-preview` (removed upstream).
pub const KNOWN_MODELS: &[&str] = &[
    "gemini-2.5-flash",
    "gemini-2.5-pro",
    "gemini-3-flash-preview",
    "gemini-3.1-pro-preview",
];

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(dispatch).with_state(shared)
}

async fn dispatch(
    AxumState(shared): AxumState<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut record = RecordedRequest {
        http: mock_kit::HttpRecord::new(&method, &uri, &headers, &body),
        account: None,
        jwt: None,
        key_id: None,
        status: 0,
    };
    let response = route(&shared, &mut record);
    record.status = response.status().as_u16();
    shared.controls.records.record(record);
    response
}

fn route(shared: &Shared, record: &mut RecordedRequest) -> Response {
    let path = record.path.clone();
    match (record.method.as_str(), path.as_str()) {
        ("GET", "/auth/getoxsrf") => getoxsrf(shared, record),
        ("POST", "/__mock/scenario") => set_scenario(shared, record),
        ("POST", p) if p.starts_with(METHODS) => match &p[METHODS.len()..] {
            "widgetCreateSession" => create_session(shared, record),
            "widgetAddContextFile" => add_context_file(shared, record),
            "widgetStreamAssist" => stream_assist(shared, record),
            "widgetListSessionFileMetadata" => list_files(shared, record),
            _ => not_found(),
        },
        ("GET", p) if p.ends_with(":downloadFile") => download(shared, record),
        ("GET", p) if p.starts_with(FILES) => signed_file(shared, &p[FILES.len()..]),
        _ => not_found(),
    }
}

// ---- responses ----

fn json_response(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=UTF-8")],
        body.to_string(),
    )
        .into_response()
}

fn google_error(code: u16, status: &str, message: Option<&str>) -> Response {
    let mut error = json!({"code": code, "status": status});
    if let Some(message) = message {
        error["message"] = json!(message);
    }
    let status_code = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(status_code, json!({"error": error}))
}

fn unauthenticated() -> Response {
    google_error(401, "UNAUTHENTICATED", None)
}

fn permission_denied() -> Response {
    google_error(403, "PERMISSION_DENIED", None)
}

fn invalid_argument(message: &str) -> Response {
    google_error(400, "INVALID_ARGUMENT", Some(message))
}

fn not_found() -> Response {
    google_error(404, "NOT_FOUND", Some("Requested entity was not found."))
}

/// The documented 429 body.
pub(crate) fn rate_limit_body() -> Value {
    json!({"error": {
        "code": 429,
        "message": "Resource has been exhausted (e.g. check quota).",
        "status": "RESOURCE_EXHAUSTED",
        "details": [{
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "LLM_OVERLOADED",
            "domain": "discoveryengine.googleapis.com"
        }]
    }})
}

fn rate_limited(shared: &Shared) -> Response {
    let mut response = json_response(StatusCode::TOO_MANY_REQUESTS, rate_limit_body());
    if let Some(seconds) = shared.options.retry_after_seconds
        && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// `)]}'` + newline + JSON, as `getoxsrf` answers.
fn xssi_response(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        format!(")]}}'\n{body}"),
    )
        .into_response()
}

// ---- helpers ----

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (form_decode(key) == name).then(|| form_decode(value))
    })
}

fn cookie(headers: &[(String, String)], name: &str) -> Option<String> {
    headers
        .iter()
        .filter(|(key, _)| key.eq_ignore_ascii_case("cookie"))
        .flat_map(|(_, value)| value.split(';'))
        .find_map(|pair| {
            let (key, value) = pair.trim().split_once('=')?;
            (key == name).then(|| value.to_string())
        })
}

/// The id of a session named in short (`collections/…/sessions/<id>`) or
/// full (`projects/<n>/locations/global/collections/…`) form.
pub(crate) fn session_id(name: &str) -> Option<String> {
    let name = name.trim_matches('/');
    let short = match name.strip_prefix("projects/") {
        Some(rest) => {
            let (number, rest) = rest.split_once('/')?;
            if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            rest.strip_prefix("locations/global/")?
        }
        None => name,
    };
    let id = short.strip_prefix(SESSION_PREFIX)?;
    (!id.is_empty() && !id.contains('/')).then(|| id.to_string())
}

fn short_session_name(id: &str) -> String {
    format!("{SESSION_PREFIX}{id}")
}

fn request_body(record: &RecordedRequest) -> Option<Value> {
    serde_json::from_slice(&record.body).ok()
}

/// Checks the bearer JWT (and the body's `configId`, when given) and
/// returns the account index; records who called.
fn authorize(
    shared: &Shared,
    record: &mut RecordedRequest,
    config_id: Option<&Value>,
) -> Result<usize, Refusal> {
    let token = record
        .header("authorization")
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::to_string)
        .ok_or(Refusal::Unauthenticated)?;
    record.key_id = token::key_id_of(&token);
    record.jwt = Some(token.clone());
    let verified = {
        let state = shared.lock();
        token::verify(&token, &state.keys, now(), shared.options.jwt_skew_seconds)
    }
    .map_err(|_| Refusal::Unauthenticated)?;
    let account = &shared.options.accounts[verified.account];
    record.account = Some(account.csesidx.clone());
    if account.restricted {
        return Err(Refusal::PermissionDenied);
    }
    // ddcat666 reports 401 for a configId that is not the account's.
    if let Some(config_id) = config_id
        && config_id.as_str() != Some(account.config_id.as_str())
    {
        return Err(Refusal::Unauthenticated);
    }
    Ok(verified.account)
}

/// The session named by `name` when `account` owns it.
fn owned_session(shared: &Shared, name: &Value, account: usize) -> Result<String, Refusal> {
    let id = name
        .as_str()
        .and_then(session_id)
        .ok_or(Refusal::NotFound)?;
    match shared.lock().sessions.get(&id) {
        Some(session) if session.account == account => Ok(id),
        _ => Err(Refusal::NotFound),
    }
}

/// Why a widget call is refused before it is looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    Unauthenticated,
    PermissionDenied,
    NotFound,
}

impl Refusal {
    fn response(self) -> Response {
        match self {
            Refusal::Unauthenticated => unauthenticated(),
            Refusal::PermissionDenied => permission_denied(),
            Refusal::NotFound => not_found(),
        }
    }
}

// ---- routes ----

fn getoxsrf(shared: &Shared, record: &mut RecordedRequest) -> Response {
    let csesidx = query_param(record.query.as_deref(), "csesidx").unwrap_or_default();
    let ses = cookie(&record.headers, "__Secure-C_SES").unwrap_or_default();
    let Some(index) = shared
        .options
        .accounts
        .iter()
        .position(|a| a.secure_c_ses == ses && a.csesidx == csesidx)
    else {
        return xssi_response(
            StatusCode::UNAUTHORIZED,
            json!({"message": "Unauthenticated.", "status": "UNAUTHENTICATED"}),
        );
    };
    let account = &shared.options.accounts[index];
    record.account = Some(account.csesidx.clone());
    if account.cookies_expired {
        return xssi_response(
            StatusCode::UNAUTHORIZED,
            json!({"message": "Session has expired.", "status": "EXPIRED_SIGN_IN"}),
        );
    }
    let mut state = shared.lock();
    let key_id = format!("mock-kid-{}", state.next_number());
    state.keys.push(IssuedKey {
        key_id: key_id.clone(),
        secret: shared.options.signing_key.clone(),
        account: index,
        csesidx: account.csesidx.clone(),
        revoked: false,
    });
    xssi_response(
        StatusCode::OK,
        json!({
            "xsrfToken": URL_SAFE_NO_PAD.encode(&shared.options.signing_key),
            "keyId": key_id,
        }),
    )
}

fn set_scenario(shared: &Shared, record: &mut RecordedRequest) -> Response {
    let token = request_body(record)
        .and_then(|body| body["scenario"].as_str().map(str::to_string))
        .unwrap_or_default();
    match Scenario::from_token(&token) {
        Some(scenario) => {
            shared.lock().next_scenarios.push(scenario);
            json_response(StatusCode::OK, json!({"scenario": token}))
        }
        None => invalid_argument("unknown scenario"),
    }
}

fn create_session(shared: &Shared, record: &mut RecordedRequest) -> Response {
    let body = request_body(record).unwrap_or(Value::Null);
    let account = match authorize(shared, record, Some(&body["configId"])) {
        Ok(account) => account,
        Err(refusal) => return refusal.response(),
    };
    if !body["createSessionRequest"].is_object() {
        return invalid_argument("createSessionRequest is required");
    }
    let mut state = shared.lock();
    let id = (7_305_114_297_548_062_200u64 + state.next_number()).to_string();
    state.sessions.insert(
        id.clone(),
        Session {
            account,
            ..Session::default()
        },
    );
    json_response(
        StatusCode::OK,
        json!({"session": {"name": short_session_name(&id), "displayName": ""}}),
    )
}

fn add_context_file(shared: &Shared, record: &mut RecordedRequest) -> Response {
    let body = request_body(record).unwrap_or(Value::Null);
    let account = match authorize(shared, record, Some(&body["configId"])) {
        Ok(account) => account,
        Err(refusal) => return refusal.response(),
    };
    let request = &body["addContextFileRequest"];
    let id = match owned_session(shared, &request["name"], account) {
        Ok(id) => id,
        Err(refusal) => return refusal.response(),
    };
    let mime_type = request["mimeType"].as_str().unwrap_or("");
    if shared
        .options
        .unsupported_mime_types
        .iter()
        .any(|m| m == mime_type)
    {
        return invalid_argument(&format!("Unsupported file type: {mime_type}"));
    }
    if STANDARD
        .decode(request["fileContents"].as_str().unwrap_or(""))
        .is_err()
    {
        return invalid_argument("fileContents is not base64");
    }
    let mut state = shared.lock();
    let file_id = format!("mock-upload-{}", state.next_number());
    if let Some(session) = state.sessions.get_mut(&id) {
        session.uploads.push(file_id.clone());
    }
    json_response(
        StatusCode::OK,
        json!({"addContextFileResponse": {"fileId": file_id}}),
    )
}

fn stream_assist(shared: &Shared, record: &mut RecordedRequest) -> Response {
    let body = request_body(record).unwrap_or(Value::Null);
    let account = match authorize(shared, record, Some(&body["configId"])) {
        Ok(account) => account,
        Err(refusal) => return refusal.response(),
    };
    let request = &body["streamAssistRequest"];
    let id = match owned_session(shared, &request["session"], account) {
        Ok(id) => id,
        Err(refusal) => return refusal.response(),
    };
    let query: String = request["query"]["parts"]
        .as_array()
        .map(|parts| parts.iter().filter_map(|p| p["text"].as_str()).collect())
        .unwrap_or_default();
    let file_ids: Vec<&str> = request["fileIds"]
        .as_array()
        .map(|ids| ids.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if let Some(model) = request["assistGenerationConfig"]["modelId"].as_str() {
        // UNCONFIRMED: the real status for an unknown model.
        if !KNOWN_MODELS.contains(&model) {
            return invalid_argument(&format!("Unknown model: {model}"));
        }
    }
    let mut scenarios = scenarios_in(&query);
    // mock-kit's convention names one scenario by its token too.
    scenarios.extend(
        mock_kit::scenario_of(None, query.as_bytes())
            .and_then(|token| Scenario::from_token(&token)),
    );
    {
        let mut state = shared.lock();
        scenarios.append(&mut state.next_scenarios);
        let Some(session) = state.sessions.get(&id) else {
            return not_found();
        };
        if file_ids
            .iter()
            .any(|f| !session.uploads.iter().any(|u| u == f))
        {
            return invalid_argument("fileIds must belong to the session");
        }
    }
    let has = |scenario: Scenario| scenarios.contains(&scenario);
    if has(Scenario::RateLimited) || shared.options.accounts[account].rate_limited {
        return rate_limited(shared);
    }
    if has(Scenario::Forbidden) {
        return permission_denied();
    }
    if has(Scenario::UnauthorizedOnce) {
        let key_id = record.key_id.clone().unwrap_or_default();
        let mut state = shared.lock();
        let first = state
            .sessions
            .get_mut(&id)
            .is_some_and(|session| !std::mem::replace(&mut session.refused_once, true));
        if first {
            for key in state.keys.iter_mut().filter(|k| k.key_id == key_id) {
                key.revoked = true;
            }
            return unauthenticated();
        }
    }

    let wants_image = has(Scenario::Image)
        || (request["toolsSpec"].get("imageGenerationSpec").is_some() && asks_for_image(&query));
    let (elements, closed, cut) = {
        let mut state = shared.lock();
        let number = state.next_number();
        let Some(session) = state.sessions.get_mut(&id) else {
            return not_found();
        };
        session.queries.push(query.clone());
        session.metadata_fails |= has(Scenario::MetadataFails);
        session.download_unauthorized_pending |= has(Scenario::DownloadUnauthorizedOnce);
        session.download_redirect |= has(Scenario::DownloadRedirect);
        if has(Scenario::DownloadUnavailableTwice) {
            session.download_unavailable = 2;
        }
        let turn = session.queries.len();
        let name = short_session_name(&id);
        build_answer(
            shared,
            &scenarios,
            &query,
            wants_image,
            number,
            session,
            &name,
            turn,
        )
    };
    // `hold_after_first_piece` holds until the first release (later streams
    // are not held); `[mock:hold]` holds this stream until the next one.
    let ticket = shared.controls.hold.ticket();
    let hold = has(Scenario::Hold) || (shared.options.hold_after_first_piece && ticket == 0);
    let pacing = Pacing {
        piece_delay: shared.options.delay,
        hold: hold.then(|| (shared.controls.hold.clone(), ticket)),
        ending: if cut {
            mock_kit::Ending::Reset
        } else {
            mock_kit::Ending::Clean
        },
        ..Pacing::default()
    };
    let mut pieces = stream::pieces(&elements, closed, shared.options.chunk_size);
    if has(Scenario::UnterminatedMidElement) {
        // The body ends cleanly halfway through its last element.
        let whole = pieces.concat();
        let last = elements.last().map_or(0, |e| e.render().len());
        pieces = vec![bytes::Bytes::copy_from_slice(
            &whole[..whole.len() - last / 2],
        )];
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json; charset=UTF-8")],
        paced_body(pieces, pacing),
    )
        .into_response()
}

fn asks_for_image(query: &str) -> bool {
    let query = query.to_lowercase();
    ["image", "draw", "picture", "画"]
        .iter()
        .any(|word| query.contains(word))
}

/// The elements of the answer, whether the array is closed, whether the
/// connection is cut after them.
#[allow(clippy::too_many_arguments)]
fn build_answer(
    shared: &Shared,
    scenarios: &[Scenario],
    query: &str,
    wants_image: bool,
    number: u64,
    session: &mut Session,
    session_name: &str,
    turn: usize,
) -> (Vec<Element>, bool, bool) {
    let has = |scenario: Scenario| scenarios.contains(&scenario);
    let options = &shared.options;
    let thoughts = || {
        options
            .thoughts
            .iter()
            .enumerate()
            .map(|(i, t)| stream::thought(t, i == 0))
    };
    if has(Scenario::TokenOnly) {
        return (vec![stream::token_only()], true, false);
    }
    if has(Scenario::RateLimitedInStream) {
        return (vec![stream::rate_limit_error()], true, false);
    }
    if has(Scenario::PolicySkip) {
        return (vec![stream::policy_skip()], true, false);
    }
    if has(Scenario::ErrorElementOnly) {
        return (vec![stream::internal_error()], true, false);
    }
    if has(Scenario::ThoughtsOnly) {
        let mut elements: Vec<Element> = thoughts().collect();
        elements.push(stream::succeeded(session_name, turn, None));
        return (elements, true, false);
    }
    let parts: Vec<String> = if has(Scenario::Tricky) {
        TRICKY_PARTS.iter().map(|p| p.to_string()).collect()
    } else if has(Scenario::Echo) {
        vec![query.to_string()]
    } else if wants_image {
        Vec::new()
    } else {
        options.answer.clone()
    };
    if has(Scenario::Cut) {
        let elements = parts.iter().take(2).map(|p| stream::text(p)).collect();
        return (elements, false, true);
    }
    let mut elements: Vec<Element> = thoughts().collect();
    if has(Scenario::ErrorElement) {
        elements.push(stream::internal_error());
    }
    for (i, part) in parts.iter().enumerate() {
        let mut element = stream::text(part);
        element.ascii_escaped = i % 2 == 1;
        elements.push(element);
    }
    let file = wants_image.then(|| {
        let generated = GeneratedFile {
            file_id: format!("mock-gen-{number}"),
            mime_type: "image/png".into(),
            name: format!("generated_image_{number}.png"),
            bytes: GENERATED_PNG.to_vec(),
        };
        let reference = json!({
            "fileId": generated.file_id,
            "mimeType": generated.mime_type,
            "name": generated.name,
        });
        session.generated.push(generated);
        reference
    });
    if file.is_some() {
        elements.push(stream::text("Here is your image."));
    }
    elements.push(stream::succeeded(session_name, turn, file));
    let closed = !has(Scenario::Unterminated) && !has(Scenario::UnterminatedMidElement);
    (elements, closed, false)
}

fn list_files(shared: &Shared, record: &mut RecordedRequest) -> Response {
    let body = request_body(record).unwrap_or(Value::Null);
    let account = match authorize(shared, record, Some(&body["configId"])) {
        Ok(account) => account,
        Err(refusal) => return refusal.response(),
    };
    let id = match owned_session(
        shared,
        &body["listSessionFileMetadataRequest"]["name"],
        account,
    ) {
        Ok(id) => id,
        Err(refusal) => return refusal.response(),
    };
    let state = shared.lock();
    let Some(session) = state.sessions.get(&id) else {
        return not_found();
    };
    if session.metadata_fails {
        return google_error(500, "INTERNAL", Some("Internal error encountered."));
    }
    let full = format!("{PROJECT_PREFIX}{}", short_session_name(&id));
    let entries: Vec<Value> = session
        .generated
        .iter()
        .map(|file| {
            json!({
                "fileId": file.file_id,
                "session": full,
                "mimeType": file.mime_type,
                "name": file.name,
                "downloadUri": format!("/download/v1alpha/{full}:downloadFile?fileId={}&alt=media", file.file_id),
            })
        })
        .collect();
    json_response(
        StatusCode::OK,
        json!({"listSessionFileMetadataResponse": {"fileMetadata": entries}}),
    )
}

fn download(shared: &Shared, record: &mut RecordedRequest) -> Response {
    let account = match authorize(shared, record, None) {
        Ok(account) => account,
        Err(refusal) => return refusal.response(),
    };
    let path = record.path.clone();
    let rest = path.strip_prefix("/download").unwrap_or(&path);
    let Some(session_name) = rest
        .strip_prefix("/v1alpha/")
        .and_then(|r| r.strip_suffix(":downloadFile"))
    else {
        return not_found();
    };
    let id = match owned_session(shared, &json!(session_name), account) {
        Ok(id) => id,
        Err(refusal) => return refusal.response(),
    };
    if query_param(record.query.as_deref(), "alt").as_deref() != Some("media") {
        return invalid_argument("alt=media is required");
    }
    let file_id = query_param(record.query.as_deref(), "fileId").unwrap_or_default();
    let mut state = shared.lock();
    let Some(session) = state.sessions.get_mut(&id) else {
        return not_found();
    };
    if session.download_unauthorized_pending {
        session.download_unauthorized_pending = false;
        return unauthenticated();
    }
    if session.download_unavailable > 0 {
        session.download_unavailable -= 1;
        return json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": {"code": 503, "message": "The service is currently unavailable.", "status": "UNAVAILABLE"}}),
        );
    }
    let Some(file) = session.generated.iter().find(|f| f.file_id == file_id) else {
        return not_found();
    };
    if session.download_redirect {
        let port = record
            .header("host")
            .and_then(|host| host.rsplit_once(':'))
            .map(|(_, port)| port.to_string())
            .unwrap_or_default();
        let location = format!("http://localhost:{port}{FILES}{id}/{file_id}");
        return (StatusCode::FOUND, [(header::LOCATION, location)]).into_response();
    }
    file_response(file)
}

fn file_response(file: &GeneratedFile) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, file.mime_type.clone())],
        file.bytes.clone(),
    )
        .into_response()
}

/// `/__mock/files/<session id>/<file id>`: no authentication, like a
/// signed URL.
fn signed_file(shared: &Shared, rest: &str) -> Response {
    let Some((id, file_id)) = rest.split_once('/') else {
        return not_found();
    };
    let state = shared.lock();
    match state
        .sessions
        .get(id)
        .and_then(|s| s.generated.iter().find(|f| f.file_id == file_id))
    {
        Some(file) => file_response(file),
        None => not_found(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_named_in_either_form() {
        let short = "collections/default_collection/engines/agentspace-engine/sessions/42";
        assert_eq!(session_id(short).as_deref(), Some("42"));
        let full = format!("projects/000000000000/locations/global/{short}");
        assert_eq!(session_id(&full).as_deref(), Some("42"));
        assert_eq!(session_id(&format!("/{short}")).as_deref(), Some("42"));
        assert_eq!(
            session_id("projects/x/locations/global/collections/a"),
            None
        );
        assert_eq!(session_id("sessions/42"), None);
    }

    #[test]
    fn query_values_are_decoded() {
        assert_eq!(
            query_param(Some("fileId=a%20b&alt=media"), "fileId").as_deref(),
            Some("a b")
        );
        assert_eq!(query_param(Some("alt=media"), "fileId"), None);
        assert_eq!(form_decode("100%"), "100%");
        assert_eq!(form_decode("%zz"), "%zz");
    }
}
