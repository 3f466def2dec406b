//! Where requests go (`docs/protocols/vertex.md`, "Endpoints").
//!
//! Service accounts call
//! `{origin}/{version}/projects/{project}/locations/{location}/publishers/google/models/{model}:{method}`
//! on the location's host; express keys call
//! `{origin}/{version}/publishers/google/models/{model}:{method}` on the global host.

use wasmgate_plugin_sdk::http::encode_component;

/// The global host, used for `location = global` and by express keys.
pub const GLOBAL_HOST: &str = "aiplatform.googleapis.com";
/// The hosts the manifest asks for: global, regional, multi-regional, tokens.
pub const PUBLIC_HOSTS: &[&str] = &[
    GLOBAL_HOST,
    "*-aiplatform.googleapis.com",
    "aiplatform.*.rep.googleapis.com",
    "oauth2.googleapis.com",
];

/// The origin of a location's endpoint when no `base-url` replaces it:
/// `global` → `https://aiplatform.googleapis.com`,
/// `us-central1` → `https://us-central1-aiplatform.googleapis.com`.
pub fn default_origin(location: &str) -> String {
    match location {
        "" | "global" => format!("https://{GLOBAL_HOST}"),
        // UNCONFIRMED: newer google-genai versions send the multi-regions to
        // regional endpoint hosts of this form.
        "us" | "eu" => format!("https://aiplatform.{location}.rep.googleapis.com"),
        region => format!("https://{region}-{GLOBAL_HOST}"),
    }
}

/// Which resource path a request uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// A service account: the project and location are in the path.
    Project { project: String, location: String },
    /// An express-mode key: neither is.
    Express,
}

/// Everything a request URL is made of besides the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `https://…` without a trailing slash.
    pub origin: String,
    /// `v1` or `v1beta1`.
    pub api_version: String,
    pub scope: Scope,
}

impl Endpoint {
    /// `:streamGenerateContent?alt=sse` when streaming, else `:generateContent`.
    pub fn generate_url(&self, model: &str, stream: bool) -> String {
        let Endpoint {
            origin,
            api_version,
            scope,
        } = self;
        let model = encode_component(model_id(model));
        let resource = match scope {
            Scope::Project { project, location } => format!(
                "projects/{}/locations/{}/publishers/google/models/{model}",
                encode_component(project),
                encode_component(location)
            ),
            Scope::Express => format!("publishers/google/models/{model}"),
        };
        let method = if stream {
            "streamGenerateContent?alt=sse"
        } else {
            "generateContent"
        };
        format!("{origin}/{api_version}/{resource}:{method}")
    }
}

/// The bare model id of the forms a caller may use: `gemini-2.5-flash`,
/// `models/…`, `publishers/google/models/…`, `google/…`.
pub fn model_id(model: &str) -> &str {
    let model = model.trim();
    model
        .rsplit_once("publishers/google/models/")
        .map(|(_, id)| id)
        .or_else(|| model.strip_prefix("models/"))
        .or_else(|| model.strip_prefix("google/"))
        .unwrap_or(model)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_location_picks_the_host() {
        assert_eq!(
            default_origin("global"),
            "https://aiplatform.googleapis.com"
        );
        assert_eq!(default_origin(""), "https://aiplatform.googleapis.com");
        assert_eq!(
            default_origin("us-central1"),
            "https://us-central1-aiplatform.googleapis.com"
        );
        assert_eq!(
            default_origin("europe-west4"),
            "https://europe-west4-aiplatform.googleapis.com"
        );
        assert_eq!(
            default_origin("eu"),
            "https://aiplatform.eu.rep.googleapis.com"
        );
    }

    #[test]
    fn service_account_urls_name_project_and_location() {
        let endpoint = Endpoint {
            origin: default_origin("us-central1"),
            api_version: "v1beta1".into(),
            scope: Scope::Project {
                project: "my-proj".into(),
                location: "us-central1".into(),
            },
        };
        assert_eq!(
            endpoint.generate_url("gemini-2.5-flash", true),
            "https://us-central1-aiplatform.googleapis.com/v1beta1/projects/my-proj/locations/us-central1/publishers/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
        );
        assert_eq!(
            endpoint.generate_url("publishers/google/models/gemini-2.5-pro", false),
            "https://us-central1-aiplatform.googleapis.com/v1beta1/projects/my-proj/locations/us-central1/publishers/google/models/gemini-2.5-pro:generateContent"
        );
    }

    #[test]
    fn express_urls_have_no_project() {
        let endpoint = Endpoint {
            origin: "http://127.0.0.1:9000".into(),
            api_version: "v1".into(),
            scope: Scope::Express,
        };
        assert_eq!(
            endpoint.generate_url("models/gemini-2.0-flash", false),
            "http://127.0.0.1:9000/v1/publishers/google/models/gemini-2.0-flash:generateContent"
        );
        // A model name cannot leave its path segment.
        assert_eq!(
            endpoint.generate_url("../x?key=1", true),
            "http://127.0.0.1:9000/v1/publishers/google/models/..%2Fx%3Fkey%3D1:streamGenerateContent?alt=sse"
        );
    }

    #[test]
    fn model_ids() {
        assert_eq!(model_id("gemini-2.5-flash"), "gemini-2.5-flash");
        assert_eq!(model_id("models/gemini-2.5-flash"), "gemini-2.5-flash");
        assert_eq!(model_id("google/gemini-2.5-flash"), "gemini-2.5-flash");
        assert_eq!(
            model_id("projects/p/locations/l/publishers/google/models/gemini-2.5-flash"),
            "gemini-2.5-flash"
        );
    }
}
