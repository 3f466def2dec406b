//! Safe navigation through the positional (JSPB) arrays Google answers with.

use serde_json::Value;

/// The value at a path of array indexes, or `None` if the path runs out or
/// ends on `null`.
pub fn at<'a>(value: &'a Value, path: &[usize]) -> Option<&'a Value> {
    let mut current = value;
    for &index in path {
        current = current.as_array()?.get(index)?;
    }
    (!current.is_null()).then_some(current)
}

/// The string at a path.
pub fn str_at<'a>(value: &'a Value, path: &[usize]) -> Option<&'a str> {
    at(value, path).and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_never_panic() {
        let value = json!([null, ["a", [1, "b"]], {"k": 1}]);
        assert_eq!(str_at(&value, &[1, 0]), Some("a"));
        assert_eq!(str_at(&value, &[1, 1, 1]), Some("b"));
        assert_eq!(at(&value, &[0]), None);
        assert_eq!(at(&value, &[9]), None);
        assert_eq!(at(&value, &[2, 0]), None);
        assert_eq!(at(&value, &[1, 0, 0]), None);
    }
}
