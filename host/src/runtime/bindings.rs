//! Host bindings of the `provider` world, generated from `wit/`. Kept apart so
//! the generated code never mixes with the glue around it.

wasmtime::component::bindgen!({
    world: "provider",
    path: "../wit",
    exports: { default: async },
    // A plugin over its state budget is stopped there, so its request fails
    // as over budget rather than going on with a silently dropped value.
    imports: { "wasmgate:provider/state.set": trappable },
    with: {
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
        "wasi:random": wasmtime_wasi::p2::bindings::random,
        "wasi:http": wasmtime_wasi_http::p2::bindings::http,
    },
});

pub use self::exports::wasmgate::provider::plugin::PluginManifest;
pub use self::wasmgate::provider::types::{
    ChatRequest, Citation, ContentPart, Event, FinishReason, Media, Message, ModelInfo,
    ProviderError, ReasoningEffort, ReasoningPart, RetryInfo, Role, Sampling, Tool, ToolCall,
    ToolCallDelta, ToolChoice, UpstreamFailure, Usage,
};

/// The contract version these bindings speak (`wit/`'s package version).
pub const CONTRACT_VERSION: &str = "0.2.0";
