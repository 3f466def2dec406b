//! The answer options of one request: its route's `answers`, over its
//! plugin's `[plugins.<name>.answers]`, over `[answers]`.

use crate::config::{AnswerPolicy, AnswersSection};
use crate::registry::Registry;

/// `plugin` is the route's first plugin (the one a request goes to first).
pub fn policy(registry: &Registry, model: &str, plugin: &str) -> AnswerPolicy {
    let file = &registry.config.file;
    let route = registry
        .config
        .routes
        .resolve(model)
        .and_then(|(route, _)| route.answers.as_ref());
    let plugin = file.plugins.get(plugin).map(|section| &section.answers);
    AnswersSection::resolve(route.into_iter().chain(plugin).chain([&file.answers]))
}
