//! `[models]`: which plugin serves an exposed model name, under which
//! upstream name, and what to fall back to.
//!
//! ```toml
//! [models]
//! "gemini-2.5-pro" = "gemini"                                  # exact name → plugin
//! "gemini-*"       = "gemini"                                  # glob
//! "web/*"          = { plugin = "gemini-web", model = "*" }    # `*` in `model` = what the glob matched
//! "best"           = { plugin = "vertex", model = "gemini-2.5-pro", fallback = ["gemini"] }
//! ```
//! Exact names win over globs; globs are tried in file order.

use std::collections::HashMap;

use serde::Deserialize;

use super::file::{ConfigFile, Invalid, is_plugin_name};
use super::hosts::glob_match;

/// A `[models]` value: a plugin name, or a table.
#[derive(Debug, Clone, Deserialize)]
#[serde(
    untagged,
    expecting = "a plugin name, or a table such as { plugin = \"gemini\", model = \"gemini-2.5-pro\", fallback = [\"vertex\"] } (keys: plugin, model, fallback)"
)]
pub enum RouteSpec {
    Plugin(String),
    Detailed(RouteDetail),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteDetail {
    plugin: String,
    model: Option<String>,
    #[serde(default)]
    fallback: Vec<FallbackSpec>,
    /// Answer options of this route, over its plugin's and `[answers]`.
    pub(super) answers: Option<toml::Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(
    untagged,
    expecting = "a plugin name, or a table such as { plugin = \"gemini\", model = \"gemini-2.5-flash\" }"
)]
pub enum FallbackSpec {
    Plugin(String),
    Detailed(FallbackDetail),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FallbackDetail {
    plugin: String,
    model: Option<String>,
}

/// One place a request may go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub plugin: String,
    /// The upstream model name; `None` passes the requested name through.
    /// A `*` in it is replaced by what the route's glob matched.
    pub model: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Route {
    /// The exposed name or glob, as written.
    pub pattern: String,
    /// The primary target first, then the fallbacks in order.
    pub targets: Vec<Target>,
    pub answers: Option<super::answers::AnswersSection>,
}

/// A route applied to one requested name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedTarget {
    pub plugin: String,
    pub upstream_model: String,
}

#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    exact: HashMap<String, Route>,
    globs: Vec<Route>,
}

impl RouteTable {
    pub(super) fn from_file(file: &ConfigFile) -> Result<Self, Invalid> {
        let mut table = RouteTable::default();
        for (name, spec) in &file.models {
            let span = Some(spec.span());
            let targets = targets_of(spec.get_ref()).map_err(|message| {
                (
                    span.clone(),
                    format!("[models] {:?}: {message}", name.get_ref()),
                )
            })?;
            let route = Route {
                pattern: name.get_ref().clone(),
                targets,
                answers: super::answers::of_route(spec.get_ref()),
            };
            if name.get_ref().contains('*') {
                table.globs.push(route);
            } else {
                table.exact.insert(name.get_ref().clone(), route);
            }
        }
        Ok(table)
    }

    /// The route for a requested model name, applied to it.
    pub fn resolve(&self, requested: &str) -> Option<(&Route, Vec<ResolvedTarget>)> {
        if let Some(route) = self.exact.get(requested) {
            return Some((route, apply(route, requested, None)));
        }
        self.globs.iter().find_map(|route| {
            capture(&route.pattern, requested)
                .map(|captured| (route, apply(route, requested, Some(captured))))
        })
    }

    /// Every route, exact names first.
    pub fn routes(&self) -> impl Iterator<Item = &Route> {
        self.exact.values().chain(self.globs.iter())
    }
}

fn targets_of(spec: &RouteSpec) -> Result<Vec<Target>, String> {
    let (plugin, model, fallback) = match spec {
        RouteSpec::Plugin(plugin) => (plugin, None, &[][..]),
        RouteSpec::Detailed(RouteDetail {
            plugin,
            model,
            fallback,
            ..
        }) => (plugin, model.clone(), &fallback[..]),
    };
    let mut targets = vec![Target {
        plugin: plugin.clone(),
        model,
    }];
    for entry in fallback {
        targets.push(match entry {
            FallbackSpec::Plugin(plugin) => Target {
                plugin: plugin.clone(),
                model: None,
            },
            FallbackSpec::Detailed(FallbackDetail { plugin, model }) => Target {
                plugin: plugin.clone(),
                model: model.clone(),
            },
        });
    }
    for target in &targets {
        if !is_plugin_name(&target.plugin) {
            return Err(format!("{:?} is not a plugin name", target.plugin));
        }
        if target.model.as_deref() == Some("") {
            return Err("model must not be empty".into());
        }
    }
    Ok(targets)
}

fn apply(route: &Route, requested: &str, captured: Option<&str>) -> Vec<ResolvedTarget> {
    route
        .targets
        .iter()
        .map(|target| ResolvedTarget {
            plugin: target.plugin.clone(),
            upstream_model: match (&target.model, captured) {
                (Some(model), Some(captured)) => model.replacen('*', captured, 1),
                (Some(model), None) => model.clone(),
                (None, _) => requested.to_string(),
            },
        })
        .collect()
}

/// What the first `*` of `pattern` matched in `text`, if it matches.
fn capture<'t>(pattern: &str, text: &'t str) -> Option<&'t str> {
    if !glob_match(pattern, text) {
        return None;
    }
    let (head, tail) = pattern.split_once('*')?;
    let rest = &text[head.len()..];
    // The shortest capture that lets the rest of the pattern match.
    (0..=rest.len())
        .filter(|&i| rest.is_char_boundary(i))
        .find(|&i| glob_match(tail, &rest[i..]))
        .map(|i| &rest[..i])
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use std::path::Path;

    fn table(text: &str) -> super::RouteTable {
        Config::parse(Path::new("t.toml"), text).unwrap().routes
    }

    #[test]
    fn exact_wins_then_globs_in_order_and_remaps() {
        let routes = table(
            r#"
            [models]
            "gemini-*" = "gemini"
            "gemini-2.5-pro" = { plugin = "vertex", model = "gemini-2.5-pro-002", fallback = ["gemini", { plugin = "other", model = "x" }] }
            "web/*" = { plugin = "gemini-web", model = "*" }
            "#,
        );
        let (_, targets) = routes.resolve("gemini-2.5-pro").unwrap();
        let got: Vec<_> = targets
            .iter()
            .map(|t| (t.plugin.as_str(), t.upstream_model.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("vertex", "gemini-2.5-pro-002"),
                ("gemini", "gemini-2.5-pro"),
                ("other", "x")
            ]
        );

        let (_, targets) = routes.resolve("gemini-2.5-flash").unwrap();
        assert_eq!(targets[0].plugin, "gemini");
        assert_eq!(targets[0].upstream_model, "gemini-2.5-flash");

        let (_, targets) = routes.resolve("web/gemini-2.5-flash").unwrap();
        assert_eq!(targets[0].plugin, "gemini-web");
        assert_eq!(targets[0].upstream_model, "gemini-2.5-flash");

        assert!(routes.resolve("gpt-4").is_none());
    }
}
