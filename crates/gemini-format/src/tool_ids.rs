//! Tool-call ids and the thought signature of a call.
//!
//! Gemini rarely names its function calls, so the ids the caller sees are made
//! up here. Gemini 3 also attaches an opaque `thoughtSignature` to a
//! `functionCall` part and refuses a later request whose history lacks it;
//! it travels as the call's `provider-data` (contract 0.2.0). Contract 0.1.0
//! carried it inside the id (`call_0~ts~<signature>`); such ids from a
//! conversation started before the upgrade are still read.

use std::cell::RefCell;

thread_local! {
    /// What made-up ids start with; see [`name_calls_with`].
    static PREFIX: RefCell<String> = RefCell::new("call_".into());
}

/// Tool calls the upstream does not name get `<prefix><index>` ids. A plugin
/// sets a random prefix per request (an instance serves one request), so
/// ids stay unique across the turns of a chat: callers and the host match
/// results and provider data to calls by id.
pub fn name_calls_with(prefix: String) {
    PREFIX.with(|p| *p.borrow_mut() = prefix);
}

/// Separated the id from the signature in contract 0.1.0's ids.
const SIGNATURE_MARK: &str = "~ts~";

/// The id the caller sees for the `index`-th call of an answer.
pub fn id(index: u32, upstream_id: Option<&str>) -> String {
    match upstream_id {
        Some(id) if !id.is_empty() => id.to_string(),
        _ => PREFIX.with(|prefix| format!("{}{index}", prefix.borrow())),
    }
}

/// The thought signature of a call from an earlier turn: its provider data,
/// or what a 0.1.0 id carried.
pub fn signature<'a>(id: &'a str, provider_data: Option<&'a str>) -> Option<&'a str> {
    provider_data.filter(|data| !data.is_empty()).or_else(|| {
        id.split_once(SIGNATURE_MARK)
            .map(|(_, signature)| signature)
            .filter(|signature| !signature.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_generated_or_upstream() {
        assert_eq!(id(2, Some("")), "call_2");
        assert_eq!(id(0, Some("fc-7")), "fc-7");
        name_calls_with("call_ab12_".into());
        assert_eq!(id(2, None), "call_ab12_2");
    }

    #[test]
    fn the_signature_is_the_provider_data_or_what_an_old_id_carried() {
        assert_eq!(signature("call_2", Some("EoYC")), Some("EoYC"));
        assert_eq!(signature("call_2", None), None);
        assert_eq!(signature("call_0~ts~EoYC+B==", None), Some("EoYC+B=="));
        assert_eq!(signature("call_0~ts~", Some("")), None);
    }
}
