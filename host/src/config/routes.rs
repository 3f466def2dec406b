//! `[models]`: which plugin serves an exposed model name, under which
//! upstream name, and what to fall back to.
//!
//! ```toml
//! [models]
//! "gemini-2.5-pro" = "gemini"                                  # exact name → plugin
//! "gemini-*"       = "gemini"                                  # glob
//! "web/*"          = { plugin = "gemini-web", model = "*" }    # `*` in `model` = what the glob matched
//! "best"           = { plugin = "vertex", model = "gemini-2.5-pro", fallback = ["gemini"] }
//! "gemini-*"       = ["gemini", "vertex", "gemini-web"]        # several plugins, in this order
//! "web-*"          = { plugin = "gemini-web", model = "*", default = "gemini-2.5-flash" }
//! ```
//! Exact names win over globs; globs are tried in file order. A request walks
//! a route's plugins in order, skipping those with no usable account, so one
//! name works with whichever credentials are set. A plugin that does not know
//! the model passes the request on to the next one; with a `default`, it is
//! asked for that model instead (Gemi2Api-Server's leniency, off unless set).

use std::collections::HashMap;

use serde::Deserialize;

use super::file::{ConfigFile, Invalid, is_plugin_name};
use super::hosts::glob_match;

/// A `[models]` value: a plugin name, or a table.
#[derive(Debug, Clone, Deserialize)]
#[serde(
    untagged,
    expecting = "a plugin name, a list of plugins in the order to try them, or a table such as { plugin = \"gemini\", model = \"gemini-2.5-pro\", fallback = [\"vertex\"] } (keys: plugin, model, default, fallback)"
)]
pub enum RouteSpec {
    Plugin(String),
    /// Several plugins, tried in order: `["gemini", { plugin = "vertex" }]`.
    List(Vec<FallbackSpec>),
    Detailed(RouteDetail),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteDetail {
    plugin: String,
    model: Option<String>,
    /// The model to ask for when the plugin does not know the requested one.
    default: Option<String>,
    #[serde(default)]
    fallback: Vec<FallbackSpec>,
    /// Answer options of this route, over its plugin's and `[answers]`.
    pub(super) answers: Option<toml::Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(
    untagged,
    expecting = "a plugin name, or a table such as { plugin = \"gemini\", model = \"gemini-2.5-flash\" } (keys: plugin, model, default)"
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
    default: Option<String>,
}

/// One place a request may go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub plugin: String,
    /// The upstream model name; `None` passes the requested name through.
    /// A `*` in it is replaced by what the route's glob matched.
    pub model: Option<String>,
    /// The upstream model asked for instead when the plugin reports the
    /// requested one unknown.
    pub default: Option<String>,
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
    pub default_model: Option<String>,
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
    let entry = |spec: &FallbackSpec| match spec {
        FallbackSpec::Plugin(plugin) => Target {
            plugin: plugin.clone(),
            model: None,
            default: None,
        },
        FallbackSpec::Detailed(FallbackDetail {
            plugin,
            model,
            default,
        }) => Target {
            plugin: plugin.clone(),
            model: model.clone(),
            default: default.clone(),
        },
    };
    let targets: Vec<Target> = match spec {
        RouteSpec::Plugin(plugin) => vec![Target {
            plugin: plugin.clone(),
            model: None,
            default: None,
        }],
        RouteSpec::List(list) => list.iter().map(entry).collect(),
        RouteSpec::Detailed(RouteDetail {
            plugin,
            model,
            default,
            fallback,
            ..
        }) => std::iter::once(Target {
            plugin: plugin.clone(),
            model: model.clone(),
            default: default.clone(),
        })
        .chain(fallback.iter().map(entry))
        .collect(),
    };
    if targets.is_empty() {
        return Err("the list of plugins is empty".into());
    }
    for target in &targets {
        if !is_plugin_name(&target.plugin) {
            return Err(format!("{:?} is not a plugin name", target.plugin));
        }
        if target.model.as_deref() == Some("") || target.default.as_deref() == Some("") {
            return Err("model and default must not be empty".into());
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
            default_model: target.default.clone(),
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

    #[test]
    fn a_list_tries_plugins_in_order_and_a_default_is_carried() {
        let routes = table(
            r#"
            [models]
            "gemini-*" = ["gemini", { plugin = "gemini-web", default = "gemini-2.5-flash" }, "gemini-business"]
            "web-*" = { plugin = "gemini-web", model = "*", default = "gemini-2.5-flash" }
            "#,
        );
        let (_, targets) = routes.resolve("gemini-2.5-pro").unwrap();
        let got: Vec<_> = targets
            .iter()
            .map(|t| {
                (
                    t.plugin.as_str(),
                    t.upstream_model.as_str(),
                    t.default_model.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("gemini", "gemini-2.5-pro", None),
                ("gemini-web", "gemini-2.5-pro", Some("gemini-2.5-flash")),
                ("gemini-business", "gemini-2.5-pro", None),
            ]
        );
        let (_, targets) = routes.resolve("web-anything").unwrap();
        assert_eq!(targets[0].upstream_model, "anything");
        assert_eq!(
            targets[0].default_model.as_deref(),
            Some("gemini-2.5-flash")
        );
    }

    #[test]
    fn an_empty_list_is_refused_with_its_line() {
        let err = super::super::Config::parse(
            std::path::Path::new("t.toml"),
            "[models]\n\"a\" = \"gemini\"\n\"b\" = []\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("t.toml:3:") && err.contains("empty"),
            "{err}"
        );
    }
}
