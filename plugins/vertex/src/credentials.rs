//! The service-account key file: the JSON a user downloads from the Cloud
//! console, held whole in the account's `credentials-json` secret.
//!
//! Only what the token flow needs is kept. Errors name the field at fault and
//! never quote a value: the text is a secret.

use std::fmt;

use serde_json::{Map, Value};

/// What the token flow reads from a key file.
#[derive(Clone, PartialEq, Eq)]
pub struct ServiceAccount {
    /// The JWT's `iss`.
    pub client_email: String,
    /// The PEM of the RSA key (PKCS#8, `-----BEGIN PRIVATE KEY-----`).
    pub private_key_pem: String,
    /// The JWT header's `kid`, when the file names its key.
    pub private_key_id: Option<String>,
    /// The default project of the request URLs.
    pub project_id: Option<String>,
    /// Where to exchange the assertion; `oauth2.googleapis.com/token` if absent.
    pub token_uri: Option<String>,
}

impl fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("client_email", &self.client_email)
            .field("private_key_pem", &"***")
            .field("private_key_id", &self.private_key_id)
            .field("project_id", &self.project_id)
            .field("token_uri", &self.token_uri)
            .finish()
    }
}

/// Why a key file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialsError {
    /// Not JSON at all (a path, a truncated paste…).
    NotJson,
    /// Several key files in one secret (hajimi accepted `{…},{…}`).
    Several(usize),
    NotAnObject,
    /// A `type` other than `service_account` (e.g. gcloud's `authorized_user`).
    WrongType(String),
    Missing(&'static str),
}

impl fmt::Display for CredentialsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialsError::NotJson => f.write_str("is not a JSON key file"),
            CredentialsError::Several(count) => write!(
                f,
                "holds {count} key files; configure one account per service account"
            ),
            CredentialsError::NotAnObject => f.write_str("is not a JSON object"),
            CredentialsError::WrongType(kind) => write!(
                f,
                "is a {kind:?} credential; only service-account key files are supported"
            ),
            CredentialsError::Missing(field) => write!(f, "has no {field:?} string"),
        }
    }
}

/// Parses a key file.
pub fn parse(text: &str) -> Result<ServiceAccount, CredentialsError> {
    let object = single_object(text)?;
    let field = |name: &'static str| -> Option<String> {
        object
            .get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .map(str::to_string)
    };
    if let Some(kind) = field("type")
        && kind != "service_account"
    {
        // Only the type's own name is echoed, never another field.
        let kind: String = kind.chars().take(40).collect();
        return Err(CredentialsError::WrongType(kind));
    }
    let client_email = field("client_email").ok_or(CredentialsError::Missing("client_email"))?;
    let private_key = field("private_key").ok_or(CredentialsError::Missing("private_key"))?;
    Ok(ServiceAccount {
        client_email,
        private_key_pem: normalize_pem(&private_key),
        private_key_id: field("private_key_id"),
        project_id: field("project_id"),
        token_uri: field("token_uri"),
    })
}

/// The one JSON object of the text: an object, or an array holding one.
fn single_object(text: &str) -> Result<Map<String, Value>, CredentialsError> {
    let mut values = json_values(text.trim())
        // hajimi's `{…},{…}`, to say what is wrong with it.
        .or_else(|| json_values(&format!("[{}]", text.trim())))
        .ok_or(CredentialsError::NotJson)?;
    if values.len() == 1
        && let Some(Value::Array(items)) = values.first()
    {
        values = items.clone();
    }
    match values.len() {
        0 => Err(CredentialsError::NotJson),
        1 => match values.pop() {
            Some(Value::Object(object)) => Ok(object),
            _ => Err(CredentialsError::NotAnObject),
        },
        count => Err(CredentialsError::Several(count)),
    }
}

/// The JSON values of a text, one after another.
fn json_values(text: &str) -> Option<Vec<Value>> {
    serde_json::Deserializer::from_str(text)
        .into_iter::<Value>()
        .collect::<Result<Vec<_>, _>>()
        .ok()
}

/// The PEM with real line breaks. A secret pasted through a shell or a web
/// form may keep the JSON's `\n` escapes as two characters, or gain `\r`.
fn normalize_pem(pem: &str) -> String {
    let pem = pem.replace("\r\n", "\n");
    let pem = if pem.contains('\n') {
        pem
    } else {
        pem.replace("\\n", "\n")
    };
    pem.trim().to_string() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_FILE: &str = r#"{
      "type": "service_account",
      "project_id": "my-proj",
      "private_key_id": "0123abcd",
      "private_key": "-----BEGIN PRIVATE KEY-----\nMIIEvQ==\n-----END PRIVATE KEY-----\n",
      "client_email": "svc@my-proj.iam.gserviceaccount.com",
      "client_id": "1234567890",
      "auth_uri": "https://accounts.google.com/o/oauth2/auth",
      "token_uri": "https://oauth2.googleapis.com/token",
      "universe_domain": "googleapis.com"
    }"#;

    #[test]
    fn a_downloaded_key_file() {
        let account = parse(KEY_FILE).unwrap();
        assert_eq!(account.client_email, "svc@my-proj.iam.gserviceaccount.com");
        assert_eq!(account.project_id.as_deref(), Some("my-proj"));
        assert_eq!(account.private_key_id.as_deref(), Some("0123abcd"));
        assert_eq!(
            account.token_uri.as_deref(),
            Some("https://oauth2.googleapis.com/token")
        );
        assert_eq!(
            account.private_key_pem,
            "-----BEGIN PRIVATE KEY-----\nMIIEvQ==\n-----END PRIVATE KEY-----\n"
        );
        assert!(!format!("{account:?}").contains("MIIEvQ"));
    }

    #[test]
    fn a_one_element_array_is_one_key_file() {
        let account = parse(&format!("[{KEY_FILE}]")).unwrap();
        assert_eq!(account.project_id.as_deref(), Some("my-proj"));
    }

    #[test]
    fn pem_escapes_kept_as_text_are_undone() {
        let text = r#"{"client_email":"a@b","private_key":"-----BEGIN PRIVATE KEY-----\\nAAAA\\n-----END PRIVATE KEY-----\\n"}"#;
        let account = parse(text).unwrap();
        assert_eq!(
            account.private_key_pem,
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
        );
        let crlf = r#"{"client_email":"a@b","private_key":"-----BEGIN PRIVATE KEY-----\r\nAAAA\r\n-----END PRIVATE KEY-----"}"#;
        assert_eq!(
            parse(crlf).unwrap().private_key_pem,
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
        );
    }

    #[test]
    fn unusable_texts_say_why_without_quoting_them() {
        assert_eq!(parse("/secrets/key.json"), Err(CredentialsError::NotJson));
        assert_eq!(parse(""), Err(CredentialsError::NotJson));
        assert_eq!(parse("\"text\""), Err(CredentialsError::NotAnObject));
        assert_eq!(
            parse(&format!("{KEY_FILE},{KEY_FILE}")),
            Err(CredentialsError::Several(2)),
            "hajimi's comma-joined list"
        );
        assert_eq!(
            parse(&format!("{KEY_FILE}\n{KEY_FILE}")),
            Err(CredentialsError::Several(2))
        );
        assert_eq!(
            parse(&format!("[{KEY_FILE},{KEY_FILE}]")),
            Err(CredentialsError::Several(2))
        );
        assert_eq!(
            parse(r#"{"type":"authorized_user","client_secret":"s3cret","refresh_token":"r"}"#),
            Err(CredentialsError::WrongType("authorized_user".into()))
        );
        let missing = parse(r#"{"client_email":"a@b","private_key":""}"#).unwrap_err();
        assert_eq!(missing, CredentialsError::Missing("private_key"));
        assert_eq!(missing.to_string(), "has no \"private_key\" string");
        let broken = parse(r#"{"client_email":"a@b","private_key":"-----BEGIN"#).unwrap_err();
        assert!(!broken.to_string().contains("BEGIN"));
    }
}
