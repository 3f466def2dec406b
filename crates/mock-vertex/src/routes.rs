//! The HTTP side: one fallback handler that routes by path, checks
//! credentials, runs the scenario and frames the answer as Vertex does.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mock_kit::{Pacing, paced_body};
use serde_json::{Value, json};

use crate::content::{self, Answer};
use crate::scenario::Scenario;
use crate::{RecordedRequest, RequestKind, Shared, google_errors, oauth};

/// Largest request body read.
const BODY_LIMIT: usize = 32 * 1024 * 1024;

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

/// Where a path leads.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    Token,
    Generate {
        api_version: String,
        /// `(project, location)`; `None` on the express paths.
        scope: Option<(String, String)>,
        model: String,
        action: String,
    },
    Unknown,
}

fn route(path: &str) -> Route {
    let segments: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(mock_kit::percent_decode)
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let (version, scope, rest) = match segments.as_slice() {
        ["token"] => return Route::Token,
        [
            version,
            "projects",
            project,
            "locations",
            location,
            "publishers",
            "google",
            "models",
            rest,
        ] => (
            *version,
            Some((project.to_string(), location.to_string())),
            *rest,
        ),
        [version, "publishers", "google", "models", rest] => (*version, None, *rest),
        _ => return Route::Unknown,
    };
    match (version, rest.rsplit_once(':')) {
        ("v1" | "v1beta1", Some((model, action))) if !model.is_empty() => Route::Generate {
            api_version: version.to_string(),
            scope,
            model: model.to_string(),
            action: action.to_string(),
        },
        _ => Route::Unknown,
    }
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let ticket = shared.controls.hold.ticket();
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, BODY_LIMIT)
        .await
        .unwrap_or_default();
    let mut record = RecordedRequest {
        seq: shared.controls.records.next_seq(),
        kind: RequestKind::Other,
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers: mock_kit::header_pairs(&parts.headers),
        body: String::from_utf8_lossy(&body).into_owned(),
        api_version: None,
        project: None,
        location: None,
        model: None,
        action: None,
        scenario: None,
        claims: None,
        issued_token: None,
        status: 0,
    };
    let response = match (parts.method, route(parts.uri.path())) {
        (Method::POST, Route::Token) => {
            record.kind = RequestKind::Token;
            token(&shared, &mut record)
        }
        (
            Method::POST,
            Route::Generate {
                api_version,
                scope,
                model,
                action,
            },
        ) => {
            record.kind = RequestKind::Generate;
            record.api_version = Some(api_version);
            if let Some((project, location)) = scope {
                record.project = Some(project);
                record.location = Some(location);
            }
            record.model = Some(model);
            record.action = Some(action);
            generate(&shared, &mut record, ticket)
        }
        _ => json_response(
            StatusCode::NOT_FOUND,
            &json!({"error": {"code": 404, "message": "The requested URL was not found on this server.", "status": "NOT_FOUND"}}),
        ),
    };
    record.status = response.status().as_u16();
    shared.controls.records.record(record);
    response
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=UTF-8")],
        body.to_string(),
    )
        .into_response()
}

/// `POST /token`.
fn token(shared: &Shared, record: &mut RecordedRequest) -> Response {
    let call = shared.next_token_call();
    if call <= u64::from(shared.options.token_failures) {
        return json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({"error": "temporarily_unavailable", "error_description": "The service is currently unavailable."}),
        );
    }
    let is_form = record
        .header("content-type")
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return json_response(
            StatusCode::BAD_REQUEST,
            &json!({"error": "invalid_request", "error_description": "Bad Request"}),
        );
    }
    let form = oauth::parse_form(&record.body);
    let verified = oauth::assertion_of(&form)
        .and_then(|assertion| oauth::verify_assertion(assertion, crate::unix_now()));
    match verified {
        Ok(claims) => {
            record.claims = Some(claims);
            let token = shared.issue_token();
            record.issued_token = Some(token.clone());
            json_response(
                StatusCode::OK,
                &json!({
                    "access_token": token,
                    "expires_in": shared.options.token_lifetime.as_secs(),
                    "token_type": "Bearer",
                }),
            )
        }
        Err(refusal) => json_response(StatusCode::BAD_REQUEST, &refusal.body()),
    }
}

/// The key of an express call, from `x-goog-api-key` or `?key=`.
fn api_key(record: &RecordedRequest) -> Option<String> {
    record
        .header("x-goog-api-key")
        .map(str::to_string)
        .or_else(|| record.query_param("key"))
}

/// Models Google has shut down; a call to one answers 404.
pub const RETIRED_MODELS: &[&str] = &[
    "gemini-3-pro-preview",
    "gemini-2.0-flash",
    "gemini-2.0-flash-001",
    "gemini-2.0-flash-lite",
    "gemini-2.0-flash-lite-001",
];

/// A generation call.
fn generate(shared: &Arc<Shared>, record: &mut RecordedRequest, ticket: u64) -> Response {
    let unauthorized = |body: Value| json_response(StatusCode::UNAUTHORIZED, &body);
    // Credentials first, as Google checks them before anything else.
    if record.project.is_some() {
        match record.bearer() {
            Some(token) if shared.token_valid(token) => {}
            Some(_) => return unauthorized(google_errors::unauthenticated()),
            None if api_key(record).is_some() => {
                return unauthorized(google_errors::api_key_not_supported());
            }
            None => return unauthorized(google_errors::unauthenticated()),
        }
    } else if api_key(record).as_deref() != Some(shared.options.express_key.as_str()) {
        return unauthorized(google_errors::api_key_not_supported());
    }

    let model = record.model.clone().unwrap_or_default();
    let asked = mock_kit::scenario_of(
        record.header(mock_kit::SCENARIO_HEADER),
        record.body.as_bytes(),
    );
    let scenario = Scenario::select(asked.as_deref(), &model);
    record.scenario = Some(scenario);
    let resource = match (&record.project, &record.location) {
        (Some(project), Some(location)) => {
            format!("projects/{project}/locations/{location}/publishers/google/models/{model}")
        }
        _ => format!("publishers/google/models/{model}"),
    };
    let stream = match record.action.as_deref() {
        Some("generateContent") => false,
        Some("streamGenerateContent") => true,
        _ => {
            return json_response(
                StatusCode::NOT_FOUND,
                &json!({"error": {"code": 404, "message": "Method not found.", "status": "NOT_FOUND"}}),
            );
        }
    };
    // A refused streamed call's error comes wrapped in a one-element array
    // (`[{"error":…}]`), as google-genai's `APIError` expects.
    let refuse = |status: StatusCode, body: &Value| {
        if stream {
            json_response(status, &json!([body]))
        } else {
            json_response(status, body)
        }
    };
    // Retired models are gone from Vertex (checked 2026-12-05), and model
    // ids are lower case: anything else is an unknown model.
    if RETIRED_MODELS.contains(&model.as_str()) || model.chars().any(|c| c.is_ascii_uppercase()) {
        return refuse(
            StatusCode::NOT_FOUND,
            &google_errors::model_not_found(&resource),
        );
    }
    let failure = match scenario {
        Scenario::ExpiredToken => {
            Some((StatusCode::UNAUTHORIZED, google_errors::unauthenticated()))
        }
        Scenario::Permission => Some((
            StatusCode::FORBIDDEN,
            google_errors::permission_denied(&resource),
        )),
        Scenario::NotFound => Some((
            StatusCode::NOT_FOUND,
            google_errors::model_not_found(&resource),
        )),
        Scenario::BadRole => Some((StatusCode::BAD_REQUEST, google_errors::bad_role())),
        Scenario::RateLimited => Some((
            StatusCode::TOO_MANY_REQUESTS,
            google_errors::resource_exhausted(shared.options.retry_delay),
        )),
        Scenario::Internal => Some((StatusCode::INTERNAL_SERVER_ERROR, google_errors::internal())),
        Scenario::Unavailable => Some((
            StatusCode::SERVICE_UNAVAILABLE,
            google_errors::unavailable(),
        )),
        _ => None,
    };
    if let Some((status, body)) = failure {
        return refuse(status, &body);
    }
    let Ok(body) = serde_json::from_str::<Value>(&record.body) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            &google_errors::invalid_argument("Invalid JSON payload received."),
        );
    };
    let prompt = match content::read_request(&body)
        .and_then(|prompt| content::check_parts(&body, &model).map(|()| prompt))
    {
        Ok(prompt) => prompt,
        Err(error) => return refuse(StatusCode::BAD_REQUEST, &error),
    };
    let answer = content::answer(scenario, &prompt);
    let search = crate::grounding::carries_search_tool(&body);
    if !stream {
        let mut whole = answer.whole(&model);
        if search {
            crate::grounding::ground_whole(&mut whole);
        }
        return json_response(StatusCode::OK, &whole);
    }
    let framing = if record.query_param("alt").as_deref() == Some("sse") {
        Framing::Sse
    } else {
        Framing::JsonArray
    };
    streamed(
        shared.clone(),
        framing,
        &answer,
        &model,
        scenario,
        ticket,
        search,
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// `data: <json>\r\n\r\n` per chunk.
    Sse,
    /// `[{…}`, `,\r\n{…}`, …, `]`.
    JsonArray,
}

/// How a streamed answer ends.
enum Ending {
    Complete,
    /// After two chunks, an `{"error":…}` element.
    Error,
    /// After two chunks, the connection is aborted.
    Abort,
}

fn streamed(
    shared: Arc<Shared>,
    framing: Framing,
    answer: &Answer,
    model: &str,
    scenario: Scenario,
    ticket: u64,
    search: bool,
) -> Response {
    let mut chunks = answer.chunks(model);
    if search {
        crate::grounding::ground_chunks(&mut chunks);
    }
    let ending = match scenario {
        Scenario::MidstreamError => Ending::Error,
        Scenario::Disconnect => Ending::Abort,
        _ => Ending::Complete,
    };
    if !matches!(ending, Ending::Complete) {
        chunks.truncate(2);
    }
    if matches!(ending, Ending::Error) {
        chunks.push(google_errors::unavailable());
    }
    let mut pieces: Vec<String> = chunks
        .iter()
        .enumerate()
        .map(|(index, chunk)| match framing {
            Framing::Sse => format!("data: {chunk}\r\n\r\n"),
            Framing::JsonArray if index == 0 => format!("[{chunk}"),
            Framing::JsonArray => format!(",\r\n{chunk}"),
        })
        .collect();
    if framing == Framing::JsonArray && !matches!(ending, Ending::Abort) {
        pieces.push("]".into());
    }
    let pacing = Pacing {
        piece_delay: shared.options.chunk_delay,
        hold: (scenario == Scenario::Hold).then(|| (shared.controls.hold.clone(), ticket)),
        ending: match ending {
            Ending::Abort => mock_kit::Ending::Reset,
            _ => mock_kit::Ending::Clean,
        },
        ..Pacing::default()
    };
    let body = paced_body(pieces.into_iter().map(Bytes::from).collect(), pacing);
    let content_type = match framing {
        Framing::Sse => "text/event-stream",
        Framing::JsonArray => "application/json; charset=UTF-8",
    };
    (StatusCode::OK, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(route("/token"), Route::Token);
        assert_eq!(
            route(
                "/v1beta1/projects/p/locations/us-central1/publishers/google/models/gemini-2.5-flash:streamGenerateContent"
            ),
            Route::Generate {
                api_version: "v1beta1".into(),
                scope: Some(("p".into(), "us-central1".into())),
                model: "gemini-2.5-flash".into(),
                action: "streamGenerateContent".into(),
            }
        );
        assert_eq!(
            route("/v1/publishers/google/models/gemini-2.0-flash:generateContent"),
            Route::Generate {
                api_version: "v1".into(),
                scope: None,
                model: "gemini-2.0-flash".into(),
                action: "generateContent".into(),
            }
        );
        assert_eq!(
            route("/v2/publishers/google/models/m:generateContent"),
            Route::Unknown
        );
        assert_eq!(route("/v1/publishers/google/models/m"), Route::Unknown);
        assert_eq!(route("/"), Route::Unknown);
    }
}
