//! `ChatRequest` → `GenerateContentRequest` JSON.
//!
//! The body is written so that both the Gemini API and Vertex accept it:
//! turns carry the roles `user` and `model` only, system messages become
//! `systemInstruction`, tool results are `functionResponse` parts in a `user`
//! turn, and consecutive turns of one role are merged (Gemini wants them
//! alternating).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value, json};
use wasmgate_plugin_sdk::openai_json;
use wasmgate_plugin_sdk::{
    ChatRequest, ContentPart, Media, Message, ProviderError, Role, ToolCall, ToolChoice,
};

use crate::{schema, search, thinking, tool_ids};

/// What differs between the upstreams that share this format.
#[derive(Debug, Clone, Default)]
pub struct RequestOptions {
    /// `image-url` prefixes the upstream reads itself, passed as `fileData`
    /// (e.g. `gs://`). Other remote URLs are refused: Gemini does not fetch them.
    pub file_uri_prefixes: Vec<String>,
    /// A threshold (`OFF`, `BLOCK_NONE`, …) for every harm category, used when
    /// the caller sends no `safetySettings` of its own.
    pub safety_threshold: Option<String>,
    /// `fileData` must name its `mimeType` (Vertex): a URI whose type cannot
    /// be told from its extension is refused, as google-genai's
    /// `Part.from_uri` does, instead of failing upstream.
    pub file_data_needs_mime_type: bool,
    /// The model validates thought signatures (Gemini 3): an assistant turn
    /// whose calls lost theirs gets Google's documented dummy.
    pub thought_signature_fallback: bool,
}

/// The dummy signature Google documents for function calls whose signature
/// is unknown ("Thought signatures", ai.google.dev and Vertex docs).
pub const DUMMY_THOUGHT_SIGNATURE: &str = "skip_thought_signature_validator";

/// Whether `model` (an upstream id) validates thought signatures on the
/// function calls of the history: Gemini 3 and later; older or unknown
/// families do not.
pub fn validates_thought_signatures(model: &str) -> bool {
    let model = model.to_ascii_lowercase();
    let model = model.strip_prefix("models/").unwrap_or(&model);
    let Some(version) = model.strip_prefix("gemini-") else {
        return false;
    };
    // `gemini-flash-latest` and friends point at the newest generation.
    if version
        .split('-')
        .next()
        .is_some_and(|v| v == "flash" || v == "pro")
    {
        return version.ends_with("-latest");
    }
    version
        .split(['-', '.'])
        .next()
        .and_then(|major| major.parse::<u32>().ok())
        .is_some_and(|major| major >= 3)
}

/// Harm categories a default threshold applies to.
const HARM_CATEGORIES: &[&str] = &[
    "HARM_CATEGORY_HARASSMENT",
    "HARM_CATEGORY_HATE_SPEECH",
    "HARM_CATEGORY_SEXUALLY_EXPLICIT",
    "HARM_CATEGORY_DANGEROUS_CONTENT",
    "HARM_CATEGORY_CIVIC_INTEGRITY",
];

/// The JSON body of `generateContent` / `streamGenerateContent` for `request`.
pub fn build_request(
    request: &ChatRequest,
    options: &RequestOptions,
) -> Result<Value, ProviderError> {
    let extra = parse_extra(request.extra.as_deref())?;
    let Conversation {
        mut contents,
        system,
    } = conversation(&request.messages, options)?;

    let mut body = Map::new();
    if contents.is_empty() {
        // Gemini needs at least one turn: a system-only request becomes the prompt.
        if system.is_empty() {
            return Err(bad_request("the request has no messages to send"));
        }
        contents.push(turn("user", system));
    } else if !system.is_empty() {
        body.insert("systemInstruction".into(), json!({ "parts": system }));
    }
    body.insert("contents".into(), Value::Array(contents));

    let generation_config = generation_config(request, &extra)?;
    if !generation_config.is_empty() {
        body.insert("generationConfig".into(), Value::Object(generation_config));
    }
    if let Some(safety) = safety_settings(&extra, options)? {
        body.insert("safetySettings".into(), safety);
    }
    if !request.tools.is_empty() {
        body.insert("tools".into(), tools(request)?);
        if let Some(choice) = &request.tool_choice {
            body.insert("toolConfig".into(), tool_config(choice));
        }
    }
    if search::wanted(request, &extra) {
        search::add_tool(&mut body);
    }
    Ok(Value::Object(body))
}

fn bad_request(message: impl Into<String>) -> ProviderError {
    ProviderError::BadRequest(message.into())
}

fn parse_extra(extra: Option<&str>) -> Result<Map<String, Value>, ProviderError> {
    match extra.map(str::trim) {
        None | Some("") => Ok(Map::new()),
        Some(text) => match serde_json::from_str(text) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(Value::Null) => Ok(Map::new()),
            _ => Err(bad_request(
                "the request's extra fields are not a JSON object",
            )),
        },
    }
}

/// A field of `extra` under its camelCase or snake_case name.
fn extra_field<'a>(extra: &'a Map<String, Value>, camel: &str, snake: &str) -> Option<&'a Value> {
    extra.get(camel).or_else(|| extra.get(snake))
}

struct Conversation {
    contents: Vec<Value>,
    /// Parts of `systemInstruction`.
    system: Vec<Value>,
}

fn conversation(
    messages: &[Message],
    options: &RequestOptions,
) -> Result<Conversation, ProviderError> {
    let mut contents: Vec<Value> = Vec::new();
    let mut system = Vec::new();
    // Tool results name their call by id; Gemini wants the function's name.
    // A later assistant turn may reuse an id (`call_0`), so the latest wins.
    let mut call_names: BTreeMap<&str, &str> = BTreeMap::new();

    for message in messages {
        let (role, parts) = match message.role {
            Role::System => {
                system.extend(message.content.iter().filter_map(|part| match part {
                    ContentPart::Text(text) if !text.is_empty() => Some(json!({ "text": text })),
                    _ => None,
                }));
                continue;
            }
            Role::User => ("user", content_parts(&message.content, options)?),
            Role::Assistant => {
                let mut parts = content_parts(&message.content, options)?;
                let first_call = parts.len();
                for call in &message.tool_calls {
                    call_names.insert(call.id.as_str(), call.name.as_str());
                    parts.push(function_call_part(call)?);
                }
                // Only the first call of a step carries the signature; if no
                // call kept one (a client rebuilt the ids), send the dummy.
                if options.thought_signature_fallback
                    && !parts[first_call..]
                        .iter()
                        .any(|part| part.get("thoughtSignature").is_some())
                    && let Some(part) = parts.get_mut(first_call)
                {
                    part["thoughtSignature"] = DUMMY_THOUGHT_SIGNATURE.into();
                }
                ("model", parts)
            }
            Role::Tool => {
                let name = message
                    .tool_call_id
                    .as_deref()
                    .and_then(|id| call_names.get(id).copied())
                    .or(message.name.as_deref())
                    .ok_or_else(|| {
                        bad_request(format!(
                            "a tool result answers the tool call {:?}, which no earlier assistant message made",
                            message.tool_call_id.as_deref().unwrap_or("")
                        ))
                    })?;
                ("user", vec![function_response_part(name, &message.content)])
            }
        };
        if parts.is_empty() {
            continue; // Gemini refuses a turn without parts.
        }
        match contents.last_mut() {
            Some(last) if last["role"] == role => {
                if let Some(Value::Array(existing)) = last.get_mut("parts") {
                    existing.extend(parts);
                }
            }
            _ => contents.push(turn(role, parts)),
        }
    }
    Ok(Conversation { contents, system })
}

fn turn(role: &str, parts: Vec<Value>) -> Value {
    json!({ "role": role, "parts": parts })
}

fn content_parts(
    content: &[ContentPart],
    options: &RequestOptions,
) -> Result<Vec<Value>, ProviderError> {
    let mut parts = Vec::with_capacity(content.len());
    for part in content {
        match part {
            ContentPart::Text(text) if text.is_empty() => {}
            ContentPart::Text(text) => parts.push(json!({ "text": text })),
            ContentPart::Image(media) | ContentPart::File(media) => parts.push(inline_data(media)),
            ContentPart::ImageUrl(url) => parts.push(image_url_part(url, options)?),
            // Earlier thinking is not sent back: Gemini needs only the
            // signatures of function calls, which travel with the calls.
            ContentPart::Reasoning(_) => {}
        }
    }
    Ok(parts)
}

fn inline_data(media: &Media) -> Value {
    let mime_type = if media.mime_type.is_empty() {
        "application/octet-stream"
    } else {
        media.mime_type.as_str()
    };
    json!({ "inlineData": { "mimeType": mime_type, "data": BASE64.encode(&media.data) } })
}

fn image_url_part(url: &str, options: &RequestOptions) -> Result<Value, ProviderError> {
    if let Some(part) = data_url_part(url) {
        return Ok(part);
    }
    if options
        .file_uri_prefixes
        .iter()
        .any(|prefix| url.starts_with(prefix.as_str()))
    {
        let mut file_data = Map::new();
        match mime_type_of(url) {
            Some(mime_type) => {
                file_data.insert("mimeType".into(), mime_type.into());
            }
            None if options.file_data_needs_mime_type => {
                return Err(bad_request(format!(
                    "the media type of {url:?} cannot be told from its extension, and this \
                     upstream needs it: use a URI ending in .png, .jpg, .webp, .pdf… or send the \
                     file inline"
                )));
            }
            None => {}
        }
        file_data.insert("fileUri".into(), url.into());
        return Ok(json!({ "fileData": file_data }));
    }
    // The accepted prefixes are not listed: they may name the operator's proxy.
    Err(bad_request(
        "this upstream does not fetch image URLs: send the image inline as a data: URL",
    ))
}

/// A `data:<mime>;base64,<data>` URL the host left undecoded, passed as is.
fn data_url_part(url: &str) -> Option<Value> {
    let rest = url.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    let mime_type = meta.strip_suffix(";base64")?;
    Some(json!({ "inlineData": { "mimeType": mime_type, "data": data } }))
}

/// A media type guessed from a file URI's extension, when it is a common one.
fn mime_type_of(uri: &str) -> Option<&'static str> {
    let path = uri.split(['?', '#']).next().unwrap_or(uri);
    let extension = path.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match extension.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "heic" => "image/heic",
        "heif" => "image/heif",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "mp4" => "video/mp4",
        _ => return None,
    })
}

fn function_call_part(call: &ToolCall) -> Result<Value, ProviderError> {
    let (id, name) = (&call.id, &call.name);
    let args = match call.arguments.trim() {
        "" => json!({}),
        text => match serde_json::from_str::<Value>(text) {
            Ok(args @ Value::Object(_)) => args,
            Ok(_) => {
                return Err(bad_request(format!(
                    "the arguments of tool call {id:?} are not a JSON object"
                )));
            }
            Err(_) => {
                return Err(bad_request(format!(
                    "the arguments of tool call {id:?} are not valid JSON"
                )));
            }
        },
    };
    let mut part = json!({ "functionCall": { "name": name, "args": args } });
    if let Some(signature) = tool_ids::signature(id, call.provider_data.as_deref()) {
        part["thoughtSignature"] = signature.into();
    }
    Ok(part)
}

/// A tool's output as Gemini's `response` object: `{"content": …}`, with
/// JSON objects and arrays passed as JSON and anything else as text.
fn function_response_part(name: &str, content: &[ContentPart]) -> Value {
    let text: String = content
        .iter()
        .filter_map(|part| match part {
            ContentPart::Text(text) => Some(text.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let content = match serde_json::from_str::<Value>(text.trim()) {
        Ok(value @ (Value::Object(_) | Value::Array(_))) => value,
        _ => Value::String(text),
    };
    json!({ "functionResponse": { "name": name, "response": { "content": content } } })
}

fn generation_config(
    request: &ChatRequest,
    extra: &Map<String, Value>,
) -> Result<Map<String, Value>, ProviderError> {
    let sampling = &request.sampling;
    let mut config = Map::new();
    let mut put_float = |key: &str, value: Option<f32>| {
        if let Some(value) = value.and_then(float_json) {
            config.insert(key.into(), value);
        }
    };
    put_float("temperature", sampling.temperature);
    put_float("topP", sampling.top_p);
    put_float("presencePenalty", sampling.presence_penalty);
    put_float("frequencyPenalty", sampling.frequency_penalty);
    if let Some(top_k) = sampling.top_k {
        config.insert("topK".into(), top_k.into());
    }
    if let Some(max_tokens) = sampling.max_tokens {
        config.insert("maxOutputTokens".into(), max_tokens.into());
    }
    if let Some(seed) = sampling.seed {
        // Gemini's seed is 32-bit; a wider one is folded rather than refused.
        config.insert("seed".into(), (seed as i32).into());
    }
    if !request.stop.is_empty() {
        config.insert("stopSequences".into(), json!(request.stop));
    }
    response_format(extra, &mut config)?;

    let mut thinking_config = Map::new();
    let effort = match request.reasoning_effort {
        Some(effort) => Some(openai_json::reasoning_effort(effort)),
        None => match extra_field(extra, "reasoning_effort", "reasoningEffort") {
            None => None,
            Some(effort) => Some(
                effort
                    .as_str()
                    .ok_or_else(|| bad_request("reasoning_effort must be a string"))?,
            ),
        },
    };
    if let Some(effort) = effort {
        let setting = thinking::for_effort(&request.model, effort).map_err(bad_request)?;
        merge(&mut thinking_config, setting.config());
    }
    if effort.is_some() || thinking::model_thinks(&request.model) {
        // Without this Gemini thinks silently; with it thoughts come back as parts.
        thinking_config.insert("includeThoughts".into(), true.into());
    }
    if !thinking_config.is_empty() {
        config.insert("thinkingConfig".into(), Value::Object(thinking_config));
    }

    match extra_field(extra, "generationConfig", "generation_config") {
        None | Some(Value::Null) => {}
        Some(Value::Object(given)) => merge(&mut config, camel_case_keys(given)),
        Some(_) => return Err(bad_request("generationConfig must be a JSON object")),
    }
    Ok(config)
}

/// OpenAI's `response_format` as `responseMimeType` (+ `responseSchema`).
fn response_format(
    extra: &Map<String, Value>,
    config: &mut Map<String, Value>,
) -> Result<(), ProviderError> {
    let Some(format) = extra.get("response_format").filter(|f| !f.is_null()) else {
        return Ok(());
    };
    match format.get("type").and_then(Value::as_str) {
        Some("text") => {}
        Some("json_object") => {
            config.insert("responseMimeType".into(), "application/json".into());
        }
        Some("json_schema") => {
            config.insert("responseMimeType".into(), "application/json".into());
            if let Some(schema) = format.pointer("/json_schema/schema") {
                config.insert("responseSchema".into(), schema::sanitize(schema));
            }
        }
        _ => return Err(bad_request("unsupported response_format type")),
    }
    Ok(())
}

fn safety_settings(
    extra: &Map<String, Value>,
    options: &RequestOptions,
) -> Result<Option<Value>, ProviderError> {
    match extra_field(extra, "safetySettings", "safety_settings") {
        Some(settings @ Value::Array(_)) => return Ok(Some(settings.clone())),
        None | Some(Value::Null) => {}
        Some(_) => return Err(bad_request("safetySettings must be a JSON array")),
    }
    Ok(options.safety_threshold.as_ref().map(|threshold| {
        HARM_CATEGORIES
            .iter()
            .map(|category| json!({ "category": category, "threshold": threshold }))
            .collect()
    }))
}

fn tools(request: &ChatRequest) -> Result<Value, ProviderError> {
    let mut declarations = Vec::with_capacity(request.tools.len());
    for tool in &request.tools {
        let mut declaration = Map::new();
        declaration.insert("name".into(), tool.name.clone().into());
        if let Some(description) = tool.description.as_ref().filter(|d| !d.is_empty()) {
            declaration.insert("description".into(), description.clone().into());
        }
        if let Some(text) = tool.parameters.as_deref().filter(|p| !p.trim().is_empty()) {
            let parameters: Value = serde_json::from_str(text).map_err(|_| {
                bad_request(format!(
                    "the parameters of tool {:?} are not valid JSON",
                    tool.name
                ))
            })?;
            if let Some(parameters) = schema::function_parameters(&parameters) {
                declaration.insert("parameters".into(), parameters);
            }
        }
        declarations.push(Value::Object(declaration));
    }
    Ok(json!([{ "functionDeclarations": declarations }]))
}

fn tool_config(choice: &ToolChoice) -> Value {
    let config = match choice {
        ToolChoice::Auto => json!({ "mode": "AUTO" }),
        ToolChoice::None => json!({ "mode": "NONE" }),
        ToolChoice::Required => json!({ "mode": "ANY" }),
        ToolChoice::Function(name) => json!({ "mode": "ANY", "allowedFunctionNames": [name] }),
    };
    json!({ "functionCallingConfig": config })
}

/// An `f32` as the JSON number it reads as (`0.7`, not `0.699999988`).
fn float_json(value: f32) -> Option<Value> {
    if !value.is_finite() {
        return None;
    }
    let decimal: f64 = value.to_string().parse().ok()?;
    serde_json::Number::from_f64(decimal).map(Value::Number)
}

/// Writes `overlay` into `base`, merging nested objects key by key.
fn merge(base: &mut Map<String, Value>, overlay: Value) {
    let Value::Object(overlay) = overlay else {
        return;
    };
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (Some(Value::Object(existing)), value @ Value::Object(_)) => merge(existing, value),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// `generationConfig` given by the caller, with snake_case keys renamed so they
/// do not collide with the camelCase ones written here. Only the config's own
/// keys and `thinkingConfig`'s are renamed; a schema's property names are not.
fn camel_case_keys(config: &Map<String, Value>) -> Value {
    let renamed = config
        .iter()
        .map(|(key, value)| {
            let key = camel_case(key);
            let value = match (key.as_str(), value) {
                ("thinkingConfig", Value::Object(inner)) => Value::Object(
                    inner
                        .iter()
                        .map(|(k, v)| (camel_case(k), v.clone()))
                        .collect(),
                ),
                _ => value.clone(),
            };
            (key, value)
        })
        .collect();
    Value::Object(renamed)
}

fn camel_case(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut upper = false;
    for c in key.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests;
