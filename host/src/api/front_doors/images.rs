//! `POST /v1/images/generations` and `/v1/images/edits`: OpenAI's image
//! generation and editing onto any plugin whose model answers with images
//! (gemini-business `gemini-imagen`, gemini-web, Gemini image models). The
//! prompt is sent as one user turn — for an edit, after the images to edit
//! (a multipart form, as OpenAI's SDKs send it; a `mask` is refused, since
//! none of these upstreams takes one: say in the prompt what to change);
//! the images the answer carries come back as `b64_json` (the default) or,
//! with `response_format: "url"`, stored in the media store and linked
//! (`GET /media/<id>.<ext>`, like `[answers] images = "url"`). `n` must be 1;
//! `size`, `quality` and `style` are not passed on (the plugins' upstreams
//! choose). A model that answers without an image is a 400 saying so.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{new_chat, parse_json};
use crate::api::AppState;
use crate::api::chat_core::{self, ChatCall, Door, Images, Shape, StreamEncoder};
use crate::api::error::ApiError;
use crate::api::tool_memory::CallerTag;
use crate::runtime::bindings::{ContentPart, Event, Media, Message, Role, Usage};

#[derive(Debug, Deserialize)]
struct GenerationRequest {
    model: Option<String>,
    prompt: String,
    n: Option<u32>,
    response_format: Option<String>,
}

pub async fn generations(
    State(state): State<AppState>,
    caller: Option<axum::Extension<CallerTag>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let request: GenerationRequest =
        match chat_core::body(&state, body).and_then(|body| parse_json(&body)) {
            Ok(request) => request,
            Err(error) => return error.into_response(),
        };
    let ask = ImageAsk {
        model: request.model,
        prompt: request.prompt,
        images: Vec::new(),
        n: request.n,
        response_format: request.response_format,
    };
    serve(state, CallerTag::from_extension(caller), headers, ask).await
}

/// `POST /v1/images/edits`: a multipart form with `image` (or `image[]`,
/// one or more files), `prompt`, `model`, and optionally `n` and
/// `response_format`.
pub async fn edits(
    State(state): State<AppState>,
    caller: Option<axum::Extension<CallerTag>>,
    headers: HeaderMap,
    form: Result<Multipart, MultipartRejection>,
) -> Response {
    match read_edit_form(form).await {
        Ok(ask) => serve(state, CallerTag::from_extension(caller), headers, ask).await,
        Err(error) => error.into_response(),
    }
}

/// What either endpoint asks for.
struct ImageAsk {
    model: Option<String>,
    prompt: String,
    /// The images to edit, in the order given.
    images: Vec<Media>,
    n: Option<u32>,
    response_format: Option<String>,
}

async fn read_edit_form(form: Result<Multipart, MultipartRejection>) -> Result<ImageAsk, ApiError> {
    let bad_form = |e: &dyn std::fmt::Display| {
        ApiError::invalid_request(format!("The body is not a readable multipart form: {e}"))
    };
    let mut form = form.map_err(|e| bad_form(&e))?;
    let mut ask = ImageAsk {
        model: None,
        prompt: String::new(),
        images: Vec::new(),
        n: None,
        response_format: None,
    };
    while let Some(field) = form.next_field().await.map_err(|e| bad_form(&e))? {
        let name = field.name().unwrap_or_default().to_string();
        match name.as_str() {
            "image" | "image[]" => {
                let mime_type = field
                    .content_type()
                    .filter(|t| t.starts_with("image/"))
                    .unwrap_or("image/png")
                    .to_string();
                let data = field.bytes().await.map_err(|e| bad_form(&e))?.to_vec();
                if data.is_empty() {
                    return Err(ApiError::invalid_param("image", "An image file is empty."));
                }
                ask.images.push(Media { mime_type, data });
            }
            "mask" => {
                return Err(ApiError::invalid_param(
                    "mask",
                    "Masks are not supported by the upstreams behind this gateway: say in the prompt what to change.",
                ));
            }
            _ => {
                let value = field.text().await.map_err(|e| bad_form(&e))?;
                match name.as_str() {
                    "prompt" => ask.prompt = value,
                    "model" => ask.model = Some(value),
                    "response_format" => ask.response_format = Some(value),
                    "n" => {
                        let n = value.trim().parse().map_err(|_| {
                            ApiError::invalid_param("n", "`n` must be a whole number.")
                        })?;
                        ask.n = Some(n);
                    }
                    // `size`, `quality`, `background`, `user`…: the upstream chooses.
                    _ => {}
                }
            }
        }
    }
    if ask.images.is_empty() {
        return Err(ApiError::invalid_param(
            "image",
            "An edit needs the image to edit (`image`).",
        ));
    }
    Ok(ask)
}

async fn serve(state: AppState, caller: CallerTag, headers: HeaderMap, ask: ImageAsk) -> Response {
    let Some(model) = ask.model.filter(|model| !model.is_empty()) else {
        return ApiError::invalid_param(
            "model",
            "`model` is required: a model that generates images, e.g. gemini-imagen.",
        )
        .into_response();
    };
    let refused = |error| chat_core::refused(error, &model, false);
    if ask.prompt.trim().is_empty() {
        return refused(ApiError::invalid_param(
            "prompt",
            "`prompt` must not be empty.",
        ));
    }
    if ask.n.is_some_and(|n| n != 1) {
        return refused(ApiError::invalid_param("n", "Only n = 1 is supported."));
    }
    let links = match ask.response_format.as_deref() {
        None | Some("b64_json") => None,
        Some("url") => match &state.media.store {
            Some(store) => Some(Images::Stored {
                store: Arc::clone(store),
                base: state.media.base_for(&headers),
            }),
            None => {
                return refused(ApiError::invalid_param(
                    "response_format",
                    "This gateway has no writable data directory to keep images in: ask for b64_json.",
                ));
            }
        },
        Some(_) => {
            return refused(ApiError::invalid_param(
                "response_format",
                "`response_format` must be \"b64_json\" or \"url\".",
            ));
        }
    };
    let mut content: Vec<ContentPart> = ask.images.into_iter().map(ContentPart::Image).collect();
    content.push(ContentPart::Text(ask.prompt));
    let prompt = Message {
        role: Role::User,
        content,
        name: None,
        tool_calls: Vec::new(),
        tool_call_id: None,
    };
    let call = ChatCall {
        chat: new_chat(&model, vec![prompt], false),
        model: model.clone(),
        stream: false,
        caller,
    };
    chat_core::run(state, headers, call, ImageDoor { model, links }).await
}

/// Image generation as a front door: whole answers only.
struct ImageDoor {
    model: String,
    /// Where `url` images go; `None` for `b64_json`.
    links: Option<Images>,
}

impl Door for ImageDoor {
    type Encoder = NoStream;

    fn encoder(&self, _shape: &Shape) -> NoStream {
        NoStream
    }

    fn whole(&self, events: Vec<Event>, _shape: &Shape) -> Response {
        let mut data = Vec::new();
        let mut usage: Option<Usage> = None;
        for event in events {
            match event {
                Event::Image(media) => {
                    let link = self.links.as_ref().and_then(|links| links.link(&media));
                    data.push(match link {
                        Some(url) => json!({ "url": url }),
                        None => json!({
                            "b64_json": base64::engine::general_purpose::STANDARD.encode(&media.data),
                        }),
                    });
                }
                Event::Usage(u) => usage = Some(u),
                _ => {}
            }
        }
        if data.is_empty() {
            return ApiError {
                status: StatusCode::BAD_REQUEST,
                code: Some("no_image"),
                ..ApiError::invalid_param(
                    "model",
                    format!(
                        "{} answered without an image: use a model that generates images (e.g. gemini-imagen).",
                        self.model
                    ),
                )
            }
            .into_response();
        }
        let mut body = json!({ "created": crate::clock::unix_seconds(), "data": data });
        if let Some(usage) = usage {
            body["usage"] = json!({
                "input_tokens": usage.prompt_tokens,
                "output_tokens": usage.completion_tokens,
                "total_tokens": usage.total_tokens,
            });
        }
        axum::Json::<Value>(body).into_response()
    }
}

/// Image generations are never streamed (the handler asks for whole answers).
struct NoStream;

impl StreamEncoder for NoStream {
    fn begin(&mut self) -> Vec<u8> {
        Vec::new()
    }

    fn event(&mut self, _event: Event) -> Vec<u8> {
        Vec::new()
    }

    fn end(&mut self) -> Vec<u8> {
        Vec::new()
    }

    fn fail(&mut self, error: &ApiError) -> Vec<u8> {
        error.to_json()
    }
}
