//! Tool-call ids, and the thought signature they carry.
//!
//! Gemini rarely names its function calls, so the ids the caller sees are made
//! up here (`call_<n>`). Gemini 3 also attaches an opaque `thoughtSignature`
//! to a `functionCall` part and refuses a later request whose history lacks it
//! ("Function call is missing a thought_signature"). The provider contract has
//! no field for such data, but every client echoes tool-call ids back
//! verbatim, so the signature rides in the id: `call_0~ts~<signature>`.

/// Separates the id from the signature. Neither base64 nor Gemini's ids use `~`.
const SIGNATURE_MARK: &str = "~ts~";

/// The id the caller sees for the `index`-th call of an answer.
pub fn encode(index: u32, upstream_id: Option<&str>, signature: Option<&str>) -> String {
    let id = match upstream_id {
        Some(id) if !id.is_empty() => id.to_string(),
        _ => format!("call_{index}"),
    };
    match signature {
        Some(signature) if !signature.is_empty() => format!("{id}{SIGNATURE_MARK}{signature}"),
        _ => id,
    }
}

/// The thought signature carried by an id made by [`encode`], if any.
pub fn signature(id: &str) -> Option<&str> {
    id.split_once(SIGNATURE_MARK)
        .map(|(_, signature)| signature)
        .filter(|signature| !signature.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_ids_are_generated_or_upstream() {
        assert_eq!(encode(2, None, None), "call_2");
        assert_eq!(encode(2, Some(""), None), "call_2");
        assert_eq!(encode(0, Some("fc-7"), None), "fc-7");
        assert_eq!(signature("call_2"), None);
    }

    #[test]
    fn signatures_round_trip() {
        let id = encode(0, None, Some("EoYCCoMC+ARFNMg/vB=="));
        assert_eq!(id, "call_0~ts~EoYCCoMC+ARFNMg/vB==");
        assert_eq!(signature(&id), Some("EoYCCoMC+ARFNMg/vB=="));
        assert_eq!(signature("call_0~ts~"), None);
    }
}
