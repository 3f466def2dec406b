//! What the upstream attached to a tool call (Gemini's thought signature),
//! remembered by the call's id for the caller who received it.
//!
//! Every front door hands provider data back to the caller in its own way
//! (`extra_content` on an OpenAI tool call, `thoughtSignature` on a Gemini
//! part), but many clients rebuild the assistant turn from the id, name and
//! arguments alone and drop everything else — and Gemini 3 then refuses the
//! next turn. Clients do keep the id, so the gateway keeps the data by id:
//! a call sent back without its data gets it from here. Bounded in entries
//! and bytes, oldest first out; scoped to the caller's key so one caller
//! cannot have another's data attached to its requests.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::runtime::bindings::{ChatRequest, ToolCallDelta};

/// Entries kept at most.
const MAX_ENTRIES: usize = 16_384;
/// Bytes of provider data kept at most.
const MAX_BYTES: usize = 32 << 20;
/// Provider data larger than this is not kept (signatures are a few KiB).
const MAX_VALUE_BYTES: usize = 64 << 10;
/// How long a conversation may pause between turns.
const KEEP_FOR: Duration = Duration::from_secs(24 * 3600);

/// Who a remembered call belongs to: a digest of the caller's key (never
/// the key), or `local` for a keyless gateway's loopback callers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CallerTag([u8; 16]);

impl CallerTag {
    /// The tag `require_caller` put on the request (a keyless one without).
    pub fn from_extension(extension: Option<axum::Extension<CallerTag>>) -> Self {
        extension.map_or_else(|| CallerTag::of_key(None), |axum::Extension(tag)| tag)
    }

    pub fn of_key(key: Option<&str>) -> Self {
        let digest = Sha256::digest(key.unwrap_or("").as_bytes());
        let mut tag = [0; 16];
        tag.copy_from_slice(&digest[..16]);
        CallerTag(tag)
    }
}

type Key = (CallerTag, String);

#[derive(Default)]
pub struct ToolMemory {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// The data, when it was kept, and which insertion it was.
    entries: HashMap<Key, Entry>,
    /// Insertions in order, for eviction; an insertion superseded by a later
    /// one for the same key is skipped when it comes up.
    order: VecDeque<(Key, u64)>,
    insertions: u64,
    bytes: usize,
}

struct Entry {
    data: String,
    at: Instant,
    insertion: u64,
}

impl ToolMemory {
    /// Keeps `data` for the call `id` answered to `caller`.
    pub fn remember(&self, caller: &CallerTag, id: &str, data: &str) {
        if id.is_empty() || data.len() > MAX_VALUE_BYTES || id.len() > 512 {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let key = (caller.clone(), id.to_string());
        inner.insertions += 1;
        let entry = Entry {
            data: data.to_string(),
            at: Instant::now(),
            insertion: inner.insertions,
        };
        if let Some(old) = inner.entries.insert(key.clone(), entry) {
            inner.bytes -= old.data.len() + id.len();
        }
        inner.bytes += data.len() + id.len();
        let insertion = inner.insertions;
        inner.order.push_back((key, insertion));
        inner.evict();
    }

    /// Fills in the provider data of the request's earlier tool calls that
    /// came back without it.
    pub fn restore(&self, caller: &CallerTag, request: &mut ChatRequest) {
        let calls = request
            .messages
            .iter_mut()
            .flat_map(|message| message.tool_calls.iter_mut())
            .filter(|call| call.provider_data.is_none());
        let mut inner = None;
        for call in calls {
            let inner =
                inner.get_or_insert_with(|| self.inner.lock().unwrap_or_else(|p| p.into_inner()));
            let key = (caller.clone(), call.id.clone());
            if let Some(entry) = inner.entries.get(&key)
                && entry.at.elapsed() < KEEP_FOR
            {
                call.provider_data = Some(entry.data.clone());
            }
        }
    }
}

/// One answer's tool calls as they stream by: each call's provider data
/// is remembered under its id once both are known.
pub struct Recorder {
    memory: Arc<ToolMemory>,
    caller: CallerTag,
    /// Per call index: its id and provider data so far.
    calls: Mutex<HashMap<u32, CallSoFar>>,
}

/// A streamed call's id and provider data, as far as its pieces told.
type CallSoFar = (Option<String>, Option<String>);

impl Recorder {
    pub fn new(memory: Arc<ToolMemory>, caller: CallerTag) -> Self {
        Recorder {
            memory,
            caller,
            calls: Mutex::default(),
        }
    }

    pub fn see(&self, delta: &ToolCallDelta) {
        if delta.id.is_none() && delta.provider_data.is_none() {
            return;
        }
        let mut calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        let (id, data) = calls.entry(delta.index).or_default();
        if let Some(new) = &delta.id {
            *id = Some(new.clone());
        }
        if let Some(new) = &delta.provider_data {
            *data = Some(new.clone());
        }
        if let (Some(id), Some(data)) = (id, data) {
            self.memory.remember(&self.caller, id, data);
        }
    }
}

impl Inner {
    /// Drops the oldest entries while over a bound or expired.
    fn evict(&mut self) {
        while let Some((key, insertion)) = self.order.front() {
            let current = self
                .entries
                .get(key)
                .filter(|entry| entry.insertion == *insertion);
            let drop_it = match current {
                None => true, // superseded: only the queue entry goes
                Some(entry) => {
                    self.entries.len() > MAX_ENTRIES
                        || self.bytes > MAX_BYTES
                        || entry.at.elapsed() >= KEEP_FOR
                }
            };
            if !drop_it {
                break;
            }
            let (key, insertion) = self.order.pop_front().expect("a front entry");
            if self
                .entries
                .get(&key)
                .is_some_and(|entry| entry.insertion == insertion)
                && let Some(entry) = self.entries.remove(&key)
            {
                self.bytes -= entry.data.len() + key.1.len();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::bindings::{Message, Role, ToolCall};

    fn request_with_call(id: &str) -> ChatRequest {
        let call = ToolCall {
            id: id.into(),
            name: "f".into(),
            arguments: "{}".into(),
            provider_data: None,
        };
        let assistant = Message {
            role: Role::Assistant,
            content: vec![],
            name: None,
            tool_calls: vec![call],
            tool_call_id: None,
        };
        crate::api::front_doors::new_chat("m", vec![assistant], false)
    }

    fn restored(memory: &ToolMemory, caller: &CallerTag, id: &str) -> Option<String> {
        let mut request = request_with_call(id);
        memory.restore(caller, &mut request);
        request.messages[0].tool_calls[0].provider_data.clone()
    }

    #[test]
    fn a_call_sent_back_without_its_data_gets_it_for_the_same_caller_only() {
        let memory = ToolMemory::default();
        let alice = CallerTag::of_key(Some("alice"));
        let bob = CallerTag::of_key(Some("bob"));
        memory.remember(&alice, "call_x1", "sig-1");
        assert_eq!(
            restored(&memory, &alice, "call_x1").as_deref(),
            Some("sig-1")
        );
        assert_eq!(restored(&memory, &bob, "call_x1"), None);
        assert_eq!(restored(&memory, &alice, "call_other"), None);
    }

    #[test]
    fn data_the_caller_sent_is_kept() {
        let memory = ToolMemory::default();
        let caller = CallerTag::of_key(None);
        memory.remember(&caller, "c", "remembered");
        let mut request = request_with_call("c");
        request.messages[0].tool_calls[0].provider_data = Some("sent".into());
        memory.restore(&caller, &mut request);
        assert_eq!(
            request.messages[0].tool_calls[0].provider_data.as_deref(),
            Some("sent")
        );
    }

    #[test]
    fn the_memory_is_bounded_oldest_first() {
        let memory = ToolMemory::default();
        let caller = CallerTag::of_key(Some("k"));
        for i in 0..MAX_ENTRIES + 10 {
            memory.remember(&caller, &format!("call_{i}"), "s");
        }
        assert_eq!(restored(&memory, &caller, "call_0"), None);
        let last = format!("call_{}", MAX_ENTRIES + 9);
        assert_eq!(restored(&memory, &caller, &last).as_deref(), Some("s"));
        let inner = memory.inner.lock().unwrap();
        assert!(inner.entries.len() <= MAX_ENTRIES);
        // Oversized values are not kept at all.
        drop(inner);
        memory.remember(&caller, "big", &"x".repeat(MAX_VALUE_BYTES + 1));
        assert_eq!(restored(&memory, &caller, "big"), None);
    }
}
