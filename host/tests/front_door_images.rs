//! OpenAI's image generations and edits (`/v1/images/generations`,
//! `/v1/images/edits`) end to end, driven
//! by OpenAI's TypeScript SDK (`tests/sdk/images.mjs`): the real gateway, the
//! `gemini-business` plugin built from source (its `gemini-imagen` draws),
//! and its mock upstream.

mod front_door_support;

use base64::Engine as _;
use front_door_support::{business_gateway, run_case};
use mock_gemini_business::GENERATED_PNG;

const SCRIPT: &str = "images.mjs";

#[tokio::test]
async fn an_image_comes_back_as_base64_or_as_a_link_that_serves_it() {
    let mock = mock_gemini_business::spawn(mock_gemini_business::MockOptions::default()).await;
    let data = tempfile::tempdir().unwrap();
    let env = [
        ("PUBLIC_BASE_URL", "https://gw.example/"),
        ("WASMGATE_DATA_DIR", data.path().to_str().unwrap()),
    ];
    let gateway = business_gateway(&mock, "", &env);
    let Some(out) = run_case(SCRIPT, &gateway, "generate", None).await else {
        return;
    };
    let png = base64::engine::general_purpose::STANDARD.encode(GENERATED_PNG);
    assert_eq!(out["inline"].as_array().unwrap().len(), 1, "{out}");
    assert_eq!(
        out["inline"][0]["b64"],
        png.as_str(),
        "b64_json is the default"
    );
    assert!(out["created"].as_u64().unwrap() > 0);
    let url = out["url"].as_str().unwrap();
    assert!(
        url.starts_with("https://gw.example/media/") && url.ends_with(".png"),
        "{url}"
    );
    assert_eq!(out["fetchedStatus"], 200, "{out}");
    assert_eq!(out["fetchedType"], "image/png");
    assert_eq!(
        out["fetchedBase64"],
        png.as_str(),
        "the link serves the bytes"
    );
}

#[tokio::test]
async fn errors_reach_the_sdk_as_its_typed_errors() {
    let mock = mock_gemini_business::spawn(mock_gemini_business::MockOptions::default()).await;
    let gateway = business_gateway(&mock, "", &[]);
    let Some(out) = run_case(SCRIPT, &gateway, "errors", None).await else {
        return;
    };
    let expect = |case: &str, class: &str, status: u64| {
        let error = &out[case];
        assert_eq!(error["failed"], true, "{case}: {out}");
        assert_eq!(error["class"], class, "{case}: {error}");
        assert_eq!(error["status"], status, "{case}: {error}");
    };
    expect("noImage", "BadRequestError", 400);
    assert_eq!(out["noImage"]["code"], "no_image", "{out}");
    assert!(
        out["noImage"]["message"]
            .as_str()
            .unwrap()
            .contains("answered without an image"),
        "{out}"
    );
    expect("unknownModel", "NotFoundError", 404);
    expect("malformed", "BadRequestError", 400);
    expect("badKey", "AuthenticationError", 401);
}

#[tokio::test]
async fn an_edit_uploads_the_image_with_the_prompt_and_returns_the_new_one() {
    let mock = mock_gemini_business::spawn(mock_gemini_business::MockOptions::default()).await;
    let gateway = business_gateway(&mock, "", &[]);
    let Some(out) = run_case(SCRIPT, &gateway, "edit", None).await else {
        return;
    };
    let png = base64::engine::general_purpose::STANDARD.encode(GENERATED_PNG);
    assert_eq!(out["edited"], serde_json::json!([png]), "{out}");
    // The picture to edit reached the upstream as an upload, byte for byte.
    let uploads = mock.requests_to("widgetAddContextFile");
    assert_eq!(uploads.len(), 1, "one upload");
    let upload = uploads[0].json().unwrap();
    let file = &upload["addContextFileRequest"];
    assert_eq!(file["mimeType"], "image/png");
    assert_eq!(file["fileContents"], out["sent"], "the caller's bytes");
    // A mask cannot be honoured: refused, saying why.
    assert_eq!(out["masked"]["status"], 400, "{out}");
    assert!(
        out["masked"]["message"].as_str().unwrap().contains("Masks"),
        "{out}"
    );
}
