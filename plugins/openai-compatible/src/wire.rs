//! OpenAI's chat completions on the wire: request, stream chunks, refusals, models.

use serde_json::{Map, Value, json};
use wasmgate_plugin_sdk::openai_json::{self as oa, object};
use wasmgate_plugin_sdk::{ChatRequest, ModelInfo, ProviderError};

/// The body of `POST {base}/chat/completions`, always streamed with usage.
pub fn body(r: &ChatRequest) -> Result<Value, ProviderError> {
    let tools: Vec<Value> = r.tools.iter().map(oa::tool).collect::<Result<_, _>>()?;
    let messages = r.messages.iter().map(oa::message).collect();
    let mut body = object([
        ("model", Some(json!(r.model))),
        ("messages", Some(messages)),
        ("stream", Some(json!(true))),
        ("stream_options", Some(json!({"include_usage": true}))),
        ("stop", (!r.stop.is_empty()).then(|| json!(r.stop))),
        ("tools", (!tools.is_empty()).then(|| json!(tools))),
        ("tool_choice", r.tool_choice.as_ref().map(oa::tool_choice)),
        (
            "reasoning_effort",
            r.reasoning_effort.map(|e| json!(oa::reasoning_effort(e))),
        ),
    ]);
    body.extend(oa::sampling(&r.sampling));
    // The caller's unmapped fields (`response_format`, vendor options…) pass on.
    let extra: Map<String, Value> =
        serde_json::from_str(r.extra.as_deref().unwrap_or("{}")).unwrap_or_default();
    for (key, value) in extra {
        body.entry(key).or_insert(value);
    }
    Ok(Value::Object(body))
}

/// The typed error of a non-2xx answer, checking OpenAI's error codes first.
pub fn refusal(status: u16, body: &str, retry_after_ms: Option<u64>) -> ProviderError {
    let json: Value = serde_json::from_str(body).unwrap_or(json!(body));
    let error = json.get("error").unwrap_or(&json);
    let message = format!("HTTP {status}: {}", oa::error_text(error));
    let said = format!("{} {} {message}", error["code"], error["type"]).to_ascii_lowercase();
    let has = |word: &str| said.contains(word);
    let filtered = ["content_filter", "content_policy", "moderation", "flagged"];
    match status {
        400 | 403 | 422 if filtered.into_iter().any(has) => ProviderError::ContentFiltered(message),
        429 if has("insufficient_quota") => ProviderError::quota_exhausted(message, None),
        400 | 422 if has("model_not_found") => ProviderError::ModelNotFound(message),
        404 if !has("model") => ProviderError::upstream(404, message),
        _ => ProviderError::from_status(status, message, retry_after_ms),
    }
}

/// `GET {base}/models`: `{"data": [{"id": …}, …]}`.
pub fn models(body: &str) -> Result<Vec<ModelInfo>, ProviderError> {
    let json: Value = serde_json::from_str(body).unwrap_or_default();
    let missing = || ProviderError::upstream(200, "the model list has no `data`");
    let ids = json["data"].as_array().ok_or_else(missing)?.iter();
    Ok(ids.filter_map(|m| model(m["id"].as_str()?)).collect())
}

pub fn model(id: &str) -> Option<ModelInfo> {
    let id = Some(id.trim().to_string()).filter(|id| !id.is_empty())?;
    Some(ModelInfo {
        id,
        display_name: None,
        context_window: None,
    })
}
