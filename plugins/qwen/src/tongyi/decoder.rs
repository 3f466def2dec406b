//! Tongyi's conversation stream → events.
//!
//! Each event carries `contents[]` items: `contentType:"text"` is the answer,
//! `contentType:"think"` the deep-thinking text (its `content` may be a JSON
//! string `{"content":"…"}`). An item is a cumulative snapshot, or, when it
//! says `incremental:true`, only the new piece (a `status:"finished"`
//! incremental item repeats the whole text). `msgStatus:"finished"` (or
//! `stopReason:"stop"`) marks the last event, `canShare:false` a filtered
//! answer, `errorCode` a failure. `data: [DONE]` ends the stream and
//! `data: [heartbeat]` keeps it alive. A stream that simply ends after an
//! answer is complete too: no client treats it as an error.

use serde_json::Value;
use wasmgate_plugin_sdk::{Event, FinishReason, ProviderError, Step};

use crate::account::Flow;
use crate::errors;
use crate::pump::Decoder;
use crate::snapshot::{Delta, SnapshotDiff};

#[derive(Debug, Default)]
pub struct TongyiDecoder {
    answer: SnapshotDiff,
    thought: SnapshotDiff,
    /// Some event said `canShare:false`.
    filtered: bool,
    /// How many times the snapshot restarted (for the log).
    pub restarts: u32,
    pub session_id: Option<String>,
    pub msg_id: Option<String>,
}

impl TongyiDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    fn complete(&mut self, out: &mut Vec<Event>) -> Result<Step, ProviderError> {
        let reason = match (self.filtered, self.answer.is_empty()) {
            (true, true) => {
                return Err(ProviderError::ContentFiltered(
                    "tongyi refused the prompt (content filter)".into(),
                ));
            }
            (true, false) => FinishReason::ContentFilter,
            (false, true) => {
                return Err(ProviderError::upstream(
                    0,
                    "tongyi finished without any answer text",
                ));
            }
            (false, false) => FinishReason::Stop,
        };
        out.push(Event::Finish(reason));
        Ok(Step::Done)
    }
}

/// What one item adds to the text it continues.
fn item_delta(diff: &mut SnapshotDiff, item: &Value, content: &str) -> Delta {
    let incremental = item.get("incremental").and_then(Value::as_bool) == Some(true);
    if !incremental {
        return diff.next(content);
    }
    let finished = item.get("status").and_then(Value::as_str) == Some("finished");
    let so_far = diff.text();
    // The closing item of an incremental run repeats what came before.
    if finished && (content.starts_with(so_far) || so_far.ends_with(content)) {
        return diff.next(content);
    }
    let whole = format!("{so_far}{content}");
    diff.next(&whole)
}

/// An item's text: a think item's content may be `{"content":"…"}`.
fn item_text(item: &Value) -> Option<String> {
    let content = item.get("content")?.as_str()?;
    if item.get("contentType").and_then(Value::as_str) == Some("think")
        && content.trim_start().starts_with('{')
        && let Ok(inner) = serde_json::from_str::<Value>(content)
    {
        return inner
            .get("content")
            .and_then(Value::as_str)
            .map(str::to_string);
    }
    Some(content.to_string())
}

/// The last item of a kind in an event's `contents[]`, as Qwen-2api reads
/// the answer (qwen-free-api concatenates them instead).
fn last_item<'a>(event: &'a Value, kind: &str) -> Option<&'a Value> {
    event
        .get("contents")?
        .as_array()?
        .iter()
        .rev()
        .find(|item| item.get("contentType").and_then(Value::as_str) == Some(kind))
}

impl Decoder for TongyiDecoder {
    fn data(&mut self, data: &str, out: &mut Vec<Event>) -> Result<Step, ProviderError> {
        match data.trim() {
            "[DONE]" => return self.complete(out),
            "" | "[heartbeat]" => return Ok(Step::More),
            _ => {}
        }
        // Anything else that is not JSON is noise, not a reason to fail.
        let Ok(event) = serde_json::from_str::<Value>(data) else {
            return Ok(Step::More);
        };
        if let Some(error) = errors::from_error_object(Flow::Tongyi, 0, &event) {
            return Err(error);
        }
        if let Some(id) = event
            .get("sessionId")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
        {
            self.session_id = Some(id.to_string());
        }
        if let Some(id) = event
            .get("msgId")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
        {
            self.msg_id = Some(id.to_string());
        }
        if event.get("canShare") == Some(&Value::Bool(false)) {
            self.filtered = true;
        }
        if let Some(item) = last_item(&event, "think")
            && let Some(text) = item_text(item)
        {
            let delta = item_delta(&mut self.thought, item, &text);
            if !delta.text.is_empty() {
                out.push(Event::Reasoning(delta.text));
            }
        }
        if let Some(item) = last_item(&event, "text")
            && let Some(text) = item_text(item)
        {
            let delta = item_delta(&mut self.answer, item, &text);
            if delta.restarted {
                self.restarts += 1;
            }
            if !delta.text.is_empty() {
                out.push(Event::Text(delta.text));
            }
        }
        let finished = event.get("msgStatus").and_then(Value::as_str) == Some("finished")
            || event.get("stopReason").and_then(Value::as_str) == Some("stop");
        if finished {
            return self.complete(out);
        }
        Ok(Step::More)
    }

    fn end_of_stream(&mut self, out: &mut Vec<Event>) -> Result<(), ProviderError> {
        // A clean end after an answer is how some streams finish; a broken
        // connection never gets here (the body reports it as an error).
        if !self.answer.is_empty() {
            return self.complete(out).map(|_| ());
        }
        Err(ProviderError::upstream(
            0,
            "tongyi closed the stream without an answer",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pump::testing::*;
    use serde_json::json;

    fn event(status: &str, text: &str) -> String {
        json!({
            "sessionId": "a1b2", "msgId": "c3d4", "msgStatus": status, "contentType": "text",
            "canShare": true,
            "contents": [{"role": "assistant", "contentType": "text", "content": text}]
        })
        .to_string()
    }

    fn sse(datas: &[String], newline: &str) -> Vec<u8> {
        datas
            .iter()
            .map(|d| format!("data: {d}{newline}{newline}"))
            .collect::<String>()
            .into_bytes()
    }

    fn run_split(bytes: &[u8], size: usize) -> (Vec<Ev>, Option<ProviderError>) {
        run(split_body(bytes, size), TongyiDecoder::new())
    }

    #[test]
    fn snapshots_become_deltas_at_every_read_boundary() {
        let datas = [
            event("generating", "你好"),
            "[heartbeat]".to_string(),
            event("generating", "你好，我是"),
            event("finished", "你好，我是通义千问。"),
            "[DONE]".to_string(),
        ];
        for newline in ["\n", "\r\n"] {
            let bytes = sse(&datas, newline);
            for size in 1..=bytes.len() {
                let (events, error) = run_split(&bytes, size);
                assert!(error.is_none(), "size {size}: {error:?}");
                assert_eq!(
                    merged(&events),
                    [
                        Ev::Text("你好，我是通义千问。".into()),
                        Ev::Finish("Stop".into())
                    ],
                    "size {size}"
                );
            }
        }
        // Whole reads give one delta per snapshot.
        let (events, _) = run_split(&sse(&datas, "\n"), usize::MAX >> 1);
        assert_eq!(
            events,
            [
                Ev::Text("你好".into()),
                Ev::Text("，我是".into()),
                Ev::Text("通义千问。".into()),
                Ev::Finish("Stop".into())
            ]
        );
    }

    #[test]
    fn a_snapshot_cut_mid_character_is_completed_by_the_next() {
        let datas = [
            event("generating", "你好，我\u{FFFD}"),
            event("generating", "你好，我是"),
            event("finished", "你好，我是通义千问。"),
        ];
        let (events, error) = run_split(&sse(&datas, "\n"), 1 << 20);
        assert!(error.is_none());
        assert_eq!(
            events,
            [
                Ev::Text("你好，我".into()),
                Ev::Text("是".into()),
                Ev::Text("通义千问。".into()),
                Ev::Finish("Stop".into())
            ]
        );
    }

    #[test]
    fn a_restarted_snapshot_is_emitted_whole() {
        let datas = [
            event("generating", "Hello, wor"),
            event("generating", "Restarted: Hel"),
            event("finished", "Restarted: Hello, world."),
        ];
        let mut decoder = TongyiDecoder::new();
        let mut out = Vec::new();
        for data in &datas {
            decoder.data(data, &mut out).unwrap();
        }
        let texts: Vec<_> = out.iter().map(ev).collect();
        assert_eq!(
            texts,
            [
                Ev::Text("Hello, wor".into()),
                Ev::Text("Restarted: Hel".into()),
                Ev::Text("lo, world.".into()),
                Ev::Finish("Stop".into())
            ]
        );
        assert_eq!(decoder.restarts, 1);
        assert_eq!(decoder.session_id.as_deref(), Some("a1b2"));
    }

    #[test]
    fn the_last_text_item_is_the_answer() {
        let data = json!({
            "msgStatus": "finished",
            "contents": [
                {"contentType": "text", "content": "thinking…"},
                {"contentType": "text2image", "content": "https://img"},
                {"contentType": "text", "content": "answer"}
            ]
        })
        .to_string();
        let (events, _) = run_split(&sse(&[data], "\n"), 1 << 20);
        assert_eq!(
            events,
            [Ev::Text("answer".into()), Ev::Finish("Stop".into())]
        );
    }

    #[test]
    fn not_login_is_unauthorized() {
        let data =
            json!({"errorCode": "NOT_LOGIN", "errorMsg": "not login", "contents": []}).to_string();
        let (events, error) = run_split(&sse(&[data], "\n"), 1 << 20);
        assert!(events.is_empty());
        assert!(
            matches!(error, Some(ProviderError::Unauthorized(_))),
            "{error:?}"
        );
    }

    #[test]
    fn a_filtered_answer_finishes_with_content_filter() {
        let mut last: Value = serde_json::from_str(&event("finished", "Hello, I am")).unwrap();
        last["canShare"] = json!(false);
        let datas = [event("generating", "Hello"), last.to_string()];
        let (events, error) = run_split(&sse(&datas, "\n"), 1 << 20);
        assert!(error.is_none());
        assert_eq!(
            events,
            [
                Ev::Text("Hello".into()),
                Ev::Text(", I am".into()),
                Ev::Finish("ContentFilter".into())
            ]
        );
    }

    #[test]
    fn a_prompt_refused_outright_is_content_filtered() {
        let data = json!({"msgStatus": "finished", "canShare": false, "contents": []}).to_string();
        let (events, error) = run_split(&sse(&[data], "\n"), 1 << 20);
        assert!(events.is_empty());
        assert!(
            matches!(error, Some(ProviderError::ContentFiltered(_))),
            "{error:?}"
        );
    }

    #[test]
    fn a_backend_error_after_some_text_fails_the_answer() {
        let mut last: Value = serde_json::from_str(&event("finished", "Hello")).unwrap();
        last["errorCode"] = json!("SERVICE_ERROR");
        let datas = [event("generating", "Hel"), last.to_string()];
        let (events, error) = run_split(&sse(&datas, "\n"), 1 << 20);
        assert_eq!(events, [Ev::Text("Hel".into())]);
        match error {
            Some(ProviderError::Upstream(failure)) => {
                assert!(failure.message.contains("SERVICE_ERROR"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_clean_end_after_text_finishes_but_a_broken_connection_fails() {
        let datas = [event("generating", "Hel"), event("generating", "Hello")];
        let (events, error) = run_split(&sse(&datas, "\n"), 7);
        assert!(error.is_none(), "{error:?}");
        assert_eq!(
            merged(&events),
            [Ev::Text("Hello".into()), Ev::Finish("Stop".into())]
        );

        let (events, error) = run(
            pieces_body(
                sse(&datas[..1], "\n")
                    .chunks(5)
                    .map(<[u8]>::to_vec)
                    .collect(),
                true,
            ),
            TongyiDecoder::new(),
        );
        assert_eq!(merged(&events), [Ev::Text("Hel".into())]);
        assert!(error.is_some());
    }

    #[test]
    fn done_after_text_without_finished_status_is_a_normal_end() {
        let datas = [event("generating", "Hello"), "[DONE]".to_string()];
        let (events, error) = run_split(&sse(&datas, "\n"), 1 << 20);
        assert!(error.is_none());
        assert_eq!(
            events,
            [Ev::Text("Hello".into()), Ev::Finish("Stop".into())]
        );
    }

    fn item(kind: &str, content: &str, incremental: bool, status: &str) -> Value {
        json!({"role": "assistant", "contentType": kind, "content": content,
            "incremental": incremental, "status": status})
    }

    fn with_items(items: Vec<Value>, status: &str) -> String {
        json!({"sessionId": "s", "msgId": "m", "msgStatus": status, "canShare": true,
            "contents": items})
        .to_string()
    }

    #[test]
    fn think_items_become_reasoning_and_incremental_text_is_appended() {
        let think = |piece: &str, status: &str| {
            item(
                "think",
                &json!({"content": piece}).to_string(),
                true,
                status,
            )
        };
        let datas = [
            with_items(vec![think("The user ", "generating")], "generating"),
            with_items(vec![think("greets.", "generating")], "generating"),
            with_items(vec![think("The user greets.", "finished")], "generating"),
            with_items(vec![item("text", "Hel", true, "generating")], "generating"),
            with_items(vec![item("text", "lo!", true, "generating")], "generating"),
            with_items(vec![item("text", "Hello!", true, "finished")], "finished"),
        ];
        let bytes = sse(&datas, "\n");
        for size in [1, 7, 1 << 20] {
            let (events, error) = run_split(&bytes, size);
            assert!(error.is_none(), "{error:?}");
            assert_eq!(
                merged(&events),
                [
                    Ev::Reasoning("The user greets.".into()),
                    Ev::Text("Hello!".into()),
                    Ev::Finish("Stop".into())
                ],
                "size {size}"
            );
        }
    }

    #[test]
    fn a_plain_think_snapshot_and_stop_reason_are_understood() {
        let datas = [
            with_items(
                vec![item("think", "Hmm", false, "generating")],
                "generating",
            ),
            with_items(
                vec![
                    item("think", "Hmm, hi.", false, "finished"),
                    item("text", "Hi", false, "generating"),
                ],
                "generating",
            ),
            json!({"stopReason": "stop", "contents": [item("text", "Hi!", false, "finished")]})
                .to_string(),
        ];
        let (events, error) = run_split(&sse(&datas, "\n"), 1 << 20);
        assert!(error.is_none(), "{error:?}");
        assert_eq!(
            merged(&events),
            [
                Ev::Reasoning("Hmm, hi.".into()),
                Ev::Text("Hi!".into()),
                Ev::Finish("Stop".into())
            ]
        );
    }
}
