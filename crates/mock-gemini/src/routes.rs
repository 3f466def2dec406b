//! Request routing: paths like `/v1beta/models/gemini-2.5-flash:streamGenerateContent`
//! are split by hand (the method follows a colon inside the last segment).

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use crate::content::{self, Meta};
use crate::framing::{self, Ending, Framing};
use crate::google_errors::{self, GoogleError};
use crate::keys::Cost;
use crate::scenario::Scenario;
use crate::{RecordedRequest, Shared, lock, openai};
use mock_kit::Ending::Reset;
use mock_kit::{Pacing, paced_body};

/// Largest request body read.
const BODY_LIMIT: usize = 64 * 1024 * 1024;
/// Size of `batchEmbedContents` vectors.
const EMBEDDING_SIZE: usize = 8;

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    MockLog,
    MockRelease,
    ListModels,
    GetModel(String),
    Call { model: String, action: String },
    OpenAiChat,
    OpenAiModels,
    Unknown,
}

fn route(path: &str) -> Route {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["_mock", "log"] => Route::MockLog,
        ["_mock", "release"] => Route::MockRelease,
        ["v1beta", "openai", "chat", "completions"] => Route::OpenAiChat,
        ["v1beta", "openai", "models"] => Route::OpenAiModels,
        [version, "models"] if is_version(version) => Route::ListModels,
        [version, "models", rest] if is_version(version) => {
            let rest = mock_kit::percent_decode(rest);
            match rest.rsplit_once(':') {
                Some((model, action)) => Route::Call {
                    model: model.to_string(),
                    action: action.to_string(),
                },
                None => Route::GetModel(rest),
            }
        }
        _ => Route::Unknown,
    }
}

fn is_version(segment: &str) -> bool {
    matches!(segment, "v1beta" | "v1" | "v1alpha")
}

/// A query parameter, percent-decoded.
pub(crate) fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| mock_kit::form_decode(value))
}

/// The key and how it came: `x-goog-api-key`, `?key=`, or a bearer token.
fn api_key(headers: &HeaderMap, query: Option<&str>) -> Option<(String, &'static str)> {
    let header_value = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    if let Some(key) = header_value("x-goog-api-key").filter(|k| !k.is_empty()) {
        return Some((key, "header"));
    }
    if let Some(key) = query_param(query, "key").filter(|k| !k.is_empty()) {
        return Some((key, "query"));
    }
    header_value("authorization")
        .and_then(|value| value.strip_prefix("Bearer ").map(str::to_string))
        .filter(|k| !k.is_empty())
        .map(|key| (key, "bearer"))
}

pub(crate) fn json_response(status: u16, body: &Value) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json; charset=UTF-8")
        .body(Body::from(body.to_string()))
        .unwrap_or_default()
}

pub(crate) fn error_response(error: &GoogleError) -> Response {
    json_response(error.status, &error.body)
}

/// Google's HTML page for paths it does not serve.
fn html_not_found() -> Response {
    Response::builder()
        .status(StatusCode::NOT_FOUND)
        .header(header::CONTENT_TYPE, "text/html; charset=UTF-8")
        .body(Body::from(
            "<!DOCTYPE html>\n<html lang=en><title>Error 404 (Not Found)!!1</title><p><b>404.</b> <ins>That’s an error.</ins><p>The requested URL was not found on this server. <ins>That’s all we know.</ins>",
        ))
        .unwrap_or_default()
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().map(str::to_string);
    let route = route(&path);
    if route == Route::MockLog {
        return mock_log(&shared, &parts.method);
    }
    if route == Route::MockRelease {
        shared.controls.hold.release();
        return json_response(200, &json!({ "held": shared.controls.hold.held() }));
    }
    let bytes = to_bytes(body, BODY_LIMIT).await.unwrap_or_default();
    let body_json: Option<Value> = serde_json::from_slice(&bytes).ok();
    let key = api_key(&parts.headers, query.as_deref());
    let scenario_header = mock_kit::requested_scenario(&parts.headers, &bytes);
    let (model, action) = match &route {
        Route::Call { model, action } => (Some(model.clone()), Some(action.clone())),
        Route::GetModel(model) => (Some(model.clone()), Some("getModel".into())),
        Route::ListModels => (None, Some("listModels".into())),
        Route::OpenAiChat => (
            body_json
                .as_ref()
                .and_then(|b| b.get("model"))
                .and_then(Value::as_str)
                .map(str::to_string),
            Some("openaiChat".into()),
        ),
        Route::OpenAiModels => (None, Some("openaiModels".into())),
        _ => (None, None),
    };
    let scenario = match action.as_deref() {
        Some("generateContent" | "streamGenerateContent" | "openaiChat") => Some(
            Scenario::of_request(scenario_header.as_deref(), model.as_deref().unwrap_or("")),
        ),
        _ => None,
    };
    let seq = shared.controls.records.next_seq();
    shared.controls.records.record(RecordedRequest {
        seq,
        method: parts.method.to_string(),
        path: path.clone(),
        query: query.clone(),
        headers: mock_kit::header_pairs(&parts.headers),
        key: key.as_ref().map(|(key, _)| key.clone()),
        key_source: key.as_ref().map(|(_, source)| source.to_string()),
        model: model.clone(),
        action,
        scenario: scenario.map(|s| s.name().to_string()),
        body: body_json.clone(),
        status: None,
    });

    let call = Call {
        shared: shared.clone(),
        seq,
        key: key.map(|(key, _)| key),
        query,
        body: body_json,
        raw_body_is_empty: bytes.is_empty(),
        scenario: scenario.unwrap_or(Scenario::Normal),
    };
    let response = match (route, parts.method) {
        (Route::ListModels, Method::GET) => call.list_models(),
        (Route::GetModel(model), Method::GET) => call.get_model(&model),
        (Route::Call { model, action }, Method::POST) => call.model_call(&model, &action).await,
        (Route::OpenAiChat, Method::POST) => openai::chat(&call).await,
        (Route::OpenAiModels, Method::GET) => openai::models(&call),
        _ => html_not_found(),
    };
    shared.set_status(seq, response.status().as_u16());
    response
}

fn mock_log(shared: &Shared, method: &Method) -> Response {
    if method == Method::DELETE {
        shared.controls.records.clear();
        return json_response(200, &json!({}));
    }
    json_response(
        200,
        &serde_json::to_value(shared.controls.records.all()).unwrap_or_default(),
    )
}

/// One API call being answered.
pub(crate) struct Call {
    pub shared: Arc<Shared>,
    pub seq: u64,
    pub key: Option<String>,
    pub query: Option<String>,
    pub body: Option<Value>,
    pub raw_body_is_empty: bool,
    pub scenario: Scenario,
}

impl Call {
    /// Auth and quota for this key: a run-time fault first, then the prefix.
    pub fn admit(&self, cost: Cost, model: &str) -> Result<(), GoogleError> {
        if cost == Cost::Generation
            && let Some(key) = &self.key
            && let Some(fault) = self.shared.fault_of(key)
        {
            return Err(fault.error(model));
        }
        let options = &self.shared.options;
        lock(&self.shared.limits).admit(
            self.key.as_deref(),
            cost,
            model,
            options.limited_successes,
            options.limited_retry_delay,
        )
    }

    /// The JSON body, or Google's complaint about it.
    pub fn json_body(&self) -> Result<&Value, GoogleError> {
        match &self.body {
            Some(body) => Ok(body),
            None if self.raw_body_is_empty => Err(google_errors::invalid_argument(
                "* GenerateContentRequest.contents: contents is not specified\n",
            )),
            None => Err(google_errors::invalid_argument(
                "Invalid JSON payload received. Unexpected token.",
            )),
        }
    }

    fn knows_model(&self, model: &str) -> bool {
        self.shared
            .options
            .models
            .iter()
            .any(|known| known == model)
            || model.starts_with("mock-")
            || Scenario::parse(model).is_some()
    }

    fn list_models(&self) -> Response {
        if let Err(error) = self.admit(Cost::Free, "") {
            return error_response(&error);
        }
        let query = self.query.as_deref();
        let page_size = query_param(query, "pageSize")
            .and_then(|size| size.parse::<usize>().ok())
            .filter(|size| *size > 0)
            .unwrap_or(50)
            .min(1000);
        let offset = match query_param(query, "pageToken").filter(|t| !t.is_empty()) {
            None => 0,
            Some(token) => match page_offset(&token) {
                Some(offset) => offset,
                None => {
                    return error_response(&google_errors::invalid_argument("Invalid page token."));
                }
            },
        };
        let models = &self.shared.options.models;
        let page: Vec<Value> = models
            .iter()
            .skip(offset)
            .take(page_size)
            .map(|id| model_json(id))
            .collect();
        let mut body = json!({ "models": page });
        if offset + page_size < models.len() {
            body["nextPageToken"] = page_token(offset + page_size).into();
        }
        json_response(200, &body)
    }

    fn get_model(&self, model: &str) -> Response {
        if let Err(error) = self.admit(Cost::Free, model) {
            return error_response(&error);
        }
        if self
            .shared
            .options
            .models
            .iter()
            .any(|known| known == model)
        {
            json_response(200, &model_json(model))
        } else {
            error_response(&google_errors::not_found(&format!(
                "models/{model} is not found for API version v1beta, or is not supported for getModel."
            )))
        }
    }

    async fn model_call(&self, model: &str, action: &str) -> Response {
        let cost = match action {
            "generateContent" | "streamGenerateContent" | "batchEmbedContents" => Cost::Generation,
            _ => Cost::Free,
        };
        // Google wraps the error of a streamed call in a one-element array
        // (`[{"error":…}]`), whether or not `alt=sse` was asked for.
        let refuse = |error: &GoogleError| {
            if action == "streamGenerateContent" {
                json_response(error.status, &json!([error.body]))
            } else {
                error_response(error)
            }
        };
        if let Err(error) = self.admit(cost, model) {
            return refuse(&error);
        }
        if !self.knows_model(model) {
            return refuse(&google_errors::model_not_found(model, action));
        }
        let result = match action {
            "generateContent" => self.generate(model, false).await,
            "streamGenerateContent" => self.generate(model, true).await,
            "countTokens" => self.count_tokens(),
            "batchEmbedContents" => self.embed(),
            _ => Err(google_errors::not_found(&format!(
                "Method {action} not found."
            ))),
        };
        result.unwrap_or_else(|error| refuse(&error))
    }

    async fn generate(&self, model: &str, stream: bool) -> Result<Response, GoogleError> {
        let options = &self.shared.options;
        let scenario = self.scenario;
        // Taken on arrival, so a release() that comes before the hold point counts.
        let ticket = self.shared.controls.hold.ticket();
        match scenario {
            Scenario::Overloaded => return Err(google_errors::overloaded()),
            Scenario::Internal => return Err(google_errors::internal()),
            Scenario::Timeout => tokio::time::sleep(options.timeout_hold).await,
            _ => {}
        }
        let prompt = content::inspect(self.json_body()?)?;
        content::check_thought_signatures(self.json_body()?, model)?;
        let meta = Meta {
            model: model.to_string(),
            response_id: format!("mock-{}", self.seq),
        };
        let reply = content::reply(&prompt, scenario);
        let search = crate::grounding::carries_search_tool(self.json_body()?);
        let framing = match (stream, query_param(self.query.as_deref(), "alt").as_deref()) {
            (false, _) => Framing::Json,
            (true, Some("sse")) => Framing::Sse,
            (true, _) => Framing::JsonArray,
        };
        let mut pacing = Pacing {
            piece_delay: options.chunk_delay,
            hold: (scenario == Scenario::Hold).then(|| (self.shared.controls.hold.clone(), ticket)),
            ..Pacing::default()
        };
        let pieces = if framing == Framing::Json {
            match scenario {
                Scenario::MidstreamError | Scenario::MidstreamRawError => {
                    return Err(google_errors::internal_encountered());
                }
                // A non-streamed answer has no first byte before it is done.
                Scenario::SlowFirstByte => tokio::time::sleep(options.slow_first_byte).await,
                Scenario::Disconnect => pacing.ending = Reset,
                _ => {}
            }
            let split = matches!(scenario, Scenario::Hold | Scenario::Disconnect);
            let mut whole = reply.whole(prompt.prompt_tokens, &meta);
            if search {
                crate::grounding::ground_whole(&mut whole);
            }
            let mut pieces = framing::document_pieces(&whole, split);
            if pacing.ending == Reset {
                pieces.truncate(1);
            }
            pieces
        } else {
            let mut chunks = reply.chunks(prompt.prompt_tokens, &meta);
            if search {
                crate::grounding::ground_chunks(&mut chunks);
            }
            let ending = match scenario {
                Scenario::MidstreamError => {
                    Ending::Error(google_errors::internal_encountered().error_object())
                }
                Scenario::MidstreamRawError => {
                    Ending::RawError(google_errors::internal_encountered().error_object())
                }
                Scenario::Disconnect => Ending::Abort,
                _ => Ending::Complete,
            };
            if !matches!(ending, Ending::Complete) {
                // Two chunks, neither of them finishing, then the failure.
                chunks.truncate(2);
                for chunk in &mut chunks {
                    if let Some(candidate) = chunk
                        .pointer_mut("/candidates/0")
                        .and_then(Value::as_object_mut)
                    {
                        candidate.remove("finishReason");
                    }
                }
            }
            if matches!(ending, Ending::Abort) {
                pacing.ending = Reset;
            }
            if scenario == Scenario::SlowFirstByte {
                pacing.first_delay = options.slow_first_byte;
            }
            framing::stream_pieces(framing, &chunks, &ending)
        };
        let body = paced_body(pieces, pacing);
        Ok(Response::builder()
            .status(200)
            .header(header::CONTENT_TYPE, framing.content_type())
            .body(body)
            .unwrap_or_default())
    }

    fn count_tokens(&self) -> Result<Response, GoogleError> {
        let body = self.json_body()?;
        // `{"contents":…}` or `{"generateContentRequest":{…}}`.
        let request = content::field(body, "generateContentRequest", "generate_content_request")
            .unwrap_or(body);
        let prompt = content::inspect(request)?;
        Ok(json_response(
            200,
            &json!({ "totalTokens": prompt.prompt_tokens }),
        ))
    }

    fn embed(&self) -> Result<Response, GoogleError> {
        let body = self.json_body()?;
        let requests = body
            .get("requests")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                google_errors::invalid_argument(
                    "* BatchEmbedContentsRequest.requests: requests is not specified\n",
                )
            })?;
        let embeddings: Vec<Value> = requests
            .iter()
            .map(|request| {
                let text: String = request
                    .pointer("/content/parts")
                    .and_then(Value::as_array)
                    .map(|parts| {
                        parts
                            .iter()
                            .filter_map(|p| p.get("text").and_then(Value::as_str))
                            .collect()
                    })
                    .unwrap_or_default();
                json!({ "values": embedding(&text) })
            })
            .collect();
        Ok(json_response(200, &json!({ "embeddings": embeddings })))
    }
}

/// A fixed-length vector derived from the text.
fn embedding(text: &str) -> Vec<f64> {
    let sum: u64 = text.bytes().map(u64::from).sum();
    (0..EMBEDDING_SIZE as u64)
        .map(|i| ((sum + i * 37) % 200) as f64 / 100.0 - 1.0)
        .collect()
}

fn page_token(offset: usize) -> String {
    format!("mock-page-{offset}")
}

fn page_offset(token: &str) -> Option<usize> {
    token.strip_prefix("mock-page-")?.parse().ok()
}

/// A `Model` resource for a model id.
fn model_json(id: &str) -> Value {
    let display_name = id
        .split('-')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    json!({
        "name": format!("models/{id}"),
        "baseModelId": id,
        "version": "001",
        "displayName": display_name,
        "description": format!("Mock of {display_name}"),
        "inputTokenLimit": 1_048_576,
        "outputTokenLimit": 65_536,
        "supportedGenerationMethods": ["generateContent", "countTokens", "createCachedContent", "batchGenerateContent"],
        "temperature": 1.0,
        "maxTemperature": 2.0,
        "topP": 0.95,
        "topK": 64,
        "thinking": id.contains("2.5") || id.contains("gemini-3")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(route("/v1beta/models"), Route::ListModels);
        assert_eq!(
            route("/v1beta/models/gemini-2.5-flash"),
            Route::GetModel("gemini-2.5-flash".into())
        );
        assert_eq!(
            route("/v1beta/models/gemini-2.5-flash:streamGenerateContent"),
            Route::Call {
                model: "gemini-2.5-flash".into(),
                action: "streamGenerateContent".into()
            }
        );
        assert_eq!(
            route("/v1/models/mock-thinking%3AgenerateContent"),
            Route::Call {
                model: "mock-thinking".into(),
                action: "generateContent".into()
            }
        );
        assert_eq!(route("/v1beta/openai/chat/completions"), Route::OpenAiChat);
        assert_eq!(route("/v2/models"), Route::Unknown);
        assert_eq!(route("/_mock/log"), Route::MockLog);
    }

    #[test]
    fn query_parameters() {
        assert_eq!(
            query_param(Some("alt=sse&key=good%2D1"), "key").as_deref(),
            Some("good-1")
        );
        assert_eq!(query_param(Some("alt=sse"), "key"), None);
        assert_eq!(query_param(None, "alt"), None);
    }
}
