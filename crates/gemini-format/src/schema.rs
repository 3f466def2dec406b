//! JSON Schema (as callers write tool parameters) → Gemini's `Schema`.
//!
//! Gemini accepts an OpenAPI-flavoured subset of JSON Schema and answers 400
//! ("Unknown name \"additionalProperties\"", "only 'enum' and 'date-time' are
//! supported for STRING type", …) to anything else. So the schema is rebuilt
//! from an allow-list rather than patched with a deny-list: local `$ref`s are
//! inlined, `type: [T, "null"]` becomes `nullable`, `const` becomes `enum`,
//! `oneOf` becomes `anyOf`, and every other keyword is dropped.

use serde_json::{Map, Value};

/// Keywords copied as they are. UNCONFIRMED: the references only show `$schema`
/// being rejected; this list follows the fields of Gemini's `Schema` message
/// (`docs/protocols/gemini-api.md`, "Function schemas").
const KEPT_KEYWORDS: &[&str] = &[
    "title",
    "description",
    "nullable",
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "minProperties",
    "maxProperties",
    "minimum",
    "maximum",
    "pattern",
    "propertyOrdering",
];

/// `format` values Gemini accepts, per type. UNCONFIRMED, like the list above.
fn format_allowed(schema_type: Option<&str>, format: &str) -> bool {
    match schema_type {
        Some("string") => matches!(format, "enum" | "date-time"),
        Some("integer") => matches!(format, "int32" | "int64"),
        Some("number") => matches!(format, "float" | "double"),
        _ => false,
    }
}

/// How deep `$ref`s are followed; recursive schemas are cut there.
const MAX_REF_DEPTH: usize = 8;

/// The tool parameters to send, or `None` when the function takes none.
///
/// Gemini refuses an `OBJECT` without properties ("should be non-empty for
/// OBJECT type"), so a parameter-less function gets no `parameters` at all.
pub fn function_parameters(schema: &Value) -> Option<Value> {
    let converted = convert(schema, schema, 0);
    let has_properties = converted
        .get("properties")
        .and_then(Value::as_object)
        .is_some_and(|properties| !properties.is_empty());
    let is_object = converted.get("type").and_then(Value::as_str) == Some("object");
    if is_object && !has_properties {
        return None;
    }
    if converted.as_object().is_some_and(Map::is_empty) {
        return None;
    }
    Some(converted)
}

/// A schema rewritten for Gemini (used for `responseSchema` too).
pub fn sanitize(schema: &Value) -> Value {
    convert(schema, schema, 0)
}

fn convert(schema: &Value, root: &Value, depth: usize) -> Value {
    let Some(object) = schema.as_object() else {
        return Value::Object(Map::new());
    };
    if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
        return match resolve(reference, root) {
            Some(target) if depth < MAX_REF_DEPTH => {
                let mut resolved = convert(target, root, depth + 1);
                // Annotations next to a `$ref` describe this use of it.
                if let (Some(description), Some(out)) =
                    (object.get("description"), resolved.as_object_mut())
                {
                    out.insert("description".into(), description.clone());
                }
                resolved
            }
            _ => Value::Object(Map::new()),
        };
    }
    if let Some(Value::Array(all)) = object.get("allOf")
        && all.len() == 1
    {
        return convert(&all[0], root, depth + 1);
    }

    let mut out = Map::new();
    let schema_type = convert_type(object, &mut out);

    for &keyword in KEPT_KEYWORDS {
        if let Some(value) = object.get(keyword) {
            out.insert(keyword.into(), value.clone());
        }
    }
    if let Some(format) = object.get("format").and_then(Value::as_str)
        && format_allowed(
            schema_type.map(|t| t.to_ascii_lowercase()).as_deref(),
            format,
        )
    {
        out.insert("format".into(), format.into());
    }
    if let Some(values) = enum_values(object) {
        out.insert("enum".into(), Value::Array(values));
    }
    if let Some(Value::Object(properties)) = object.get("properties") {
        let converted: Map<String, Value> = properties
            .iter()
            .map(|(name, property)| (name.clone(), convert(property, root, depth + 1)))
            .collect();
        if let Some(Value::Array(required)) = object.get("required") {
            // Gemini rejects a required name that is not a property.
            let required: Vec<Value> = required
                .iter()
                .filter(|name| name.as_str().is_some_and(|n| converted.contains_key(n)))
                .cloned()
                .collect();
            if !required.is_empty() {
                out.insert("required".into(), Value::Array(required));
            }
        }
        out.insert("properties".into(), Value::Object(converted));
    }
    match object.get("items") {
        Some(items @ Value::Object(_)) => {
            out.insert("items".into(), convert(items, root, depth + 1));
        }
        // Tuple form: Gemini has one item schema; the first is the best guess.
        Some(Value::Array(items)) if !items.is_empty() => {
            out.insert("items".into(), convert(&items[0], root, depth + 1));
        }
        _ => {}
    }
    let alternatives = object.get("anyOf").or_else(|| object.get("oneOf"));
    if let Some(Value::Array(alternatives)) = alternatives {
        let converted: Vec<Value> = alternatives
            .iter()
            .filter(|alternative| alternative.get("type").and_then(Value::as_str) != Some("null"))
            .map(|alternative| convert(alternative, root, depth + 1))
            .collect();
        if converted.len() < alternatives.len() {
            out.insert("nullable".into(), Value::Bool(true));
        }
        match converted.len() {
            0 => {}
            1 if !out.contains_key("type") => {
                if let Value::Object(only) = converted.into_iter().next().unwrap_or_default() {
                    for (key, value) in only {
                        out.entry(key).or_insert(value);
                    }
                }
            }
            _ => {
                out.insert("anyOf".into(), Value::Array(converted));
            }
        }
    }
    Value::Object(out)
}

/// Writes `type` (and `nullable` for `[T, "null"]`); returns the type.
fn convert_type(object: &Map<String, Value>, out: &mut Map<String, Value>) -> Option<String> {
    let schema_type = match object.get("type") {
        Some(Value::String(name)) => Some(name.clone()),
        Some(Value::Array(names)) => {
            let names: Vec<&str> = names.iter().filter_map(Value::as_str).collect();
            if names.contains(&"null") {
                out.insert("nullable".into(), Value::Bool(true));
            }
            names
                .into_iter()
                .find(|name| *name != "null")
                .map(str::to_string)
        }
        // A bare string `enum`/`const` is a string; Gemini wants the type.
        _ if enum_values(object).is_some() => Some("string".to_string()),
        _ => None,
    };
    if let Some(name) = &schema_type {
        out.insert("type".into(), Value::String(name.clone()));
    }
    schema_type
}

/// `enum` (or `const`) when every value is a string: Gemini enums are strings.
fn enum_values(object: &Map<String, Value>) -> Option<Vec<Value>> {
    let values = match (object.get("enum"), object.get("const")) {
        (Some(Value::Array(values)), _) => values.clone(),
        (None, Some(value)) => vec![value.clone()],
        _ => return None,
    };
    (!values.is_empty() && values.iter().all(Value::is_string)).then_some(values)
}

/// A local reference: `#/$defs/Name`, `#/definitions/Name`, `#`.
fn resolve<'a>(reference: &str, root: &'a Value) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    root.pointer(pointer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn drops_keywords_gemini_rejects() {
        let schema = json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "city": {"type": "string", "description": "City name", "format": "uri", "examples": ["Paris"]},
                "when": {"type": "string", "format": "date-time"},
                "days": {"type": "integer", "minimum": 1, "exclusiveMaximum": 15, "default": 3}
            },
            "required": ["city", "ghost"]
        });
        assert_eq!(
            function_parameters(&schema).unwrap(),
            json!({
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "City name"},
                    "when": {"type": "string", "format": "date-time"},
                    "days": {"type": "integer", "minimum": 1}
                },
                "required": ["city"]
            })
        );
    }

    #[test]
    fn inlines_refs_and_nullable_types() {
        let schema = json!({
            "type": "object",
            "$defs": {"Unit": {"type": "string", "enum": ["c", "f"]}},
            "properties": {
                "unit": {"$ref": "#/$defs/Unit", "description": "Temperature unit"},
                "note": {"type": ["string", "null"]},
                "mode": {"const": "fast"},
                "maybe": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
                "either": {"oneOf": [{"type": "integer"}, {"type": "string"}]}
            }
        });
        let converted = function_parameters(&schema).unwrap();
        assert_eq!(
            converted["properties"],
            json!({
                "unit": {"type": "string", "enum": ["c", "f"], "description": "Temperature unit"},
                "note": {"type": "string", "nullable": true},
                "mode": {"type": "string", "enum": ["fast"]},
                "maybe": {"type": "integer", "nullable": true},
                "either": {"anyOf": [{"type": "integer"}, {"type": "string"}]}
            })
        );
    }

    #[test]
    fn recursive_refs_are_cut() {
        let schema = json!({
            "type": "object",
            "properties": {"node": {"$ref": "#"}}
        });
        // Does not recurse forever; the innermost level is an empty schema.
        let converted = sanitize(&schema);
        assert_eq!(converted["type"], "object");
    }

    #[test]
    fn parameterless_functions_send_no_parameters() {
        assert_eq!(
            function_parameters(&json!({"type": "object", "properties": {}})),
            None
        );
        assert_eq!(function_parameters(&json!({"type": "object"})), None);
        assert_eq!(function_parameters(&json!({})), None);
    }

    #[test]
    fn arrays_keep_their_item_schema() {
        let schema = json!({
            "type": "object",
            "properties": {"tags": {"type": "array", "items": {"type": "string", "maxLength": 5}, "uniqueItems": true}}
        });
        assert_eq!(
            function_parameters(&schema).unwrap()["properties"]["tags"],
            json!({"type": "array", "items": {"type": "string", "maxLength": 5}})
        );
    }
}
