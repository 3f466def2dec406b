//! The test service account the mock's token endpoint knows, and key files
//! a test hands the gateway. The keys were generated for these tests only
//! (`keys/README.md`); nothing here is a real credential.

use serde_json::json;

/// PKCS#8 PEM of the known service account's key.
pub const TEST_PRIVATE_KEY_PEM: &str = include_str!("../keys/test-key.pem");
/// A key the mock does not know: assertions signed with it are refused.
pub const OTHER_PRIVATE_KEY_PEM: &str = include_str!("../keys/other-key.pem");

pub const CLIENT_EMAIL: &str = "wasmgate-test@mock-project.iam.gserviceaccount.com";
pub const PRIVATE_KEY_ID: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0mockkey1";
pub const PROJECT_ID: &str = "mock-project";

/// The `token_uri` of every key file Google issues.
pub const PUBLIC_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// A downloaded-key-file lookalike for the known account, whose `token_uri`
/// is `token_uri` (e.g. the mock's `/token`).
pub fn credentials_json(token_uri: &str) -> String {
    key_file(TEST_PRIVATE_KEY_PEM, token_uri)
}

/// The same account's file with a different key: its signatures fail.
pub fn forged_credentials_json(token_uri: &str) -> String {
    key_file(OTHER_PRIVATE_KEY_PEM, token_uri)
}

fn key_file(pem: &str, token_uri: &str) -> String {
    json!({
        "type": "service_account",
        "project_id": PROJECT_ID,
        "private_key_id": PRIVATE_KEY_ID,
        "private_key": pem,
        "client_email": CLIENT_EMAIL,
        "client_id": "100000000000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/wasmgate-test%40mock-project.iam.gserviceaccount.com",
        "universe_domain": "googleapis.com"
    })
    .to_string()
}
