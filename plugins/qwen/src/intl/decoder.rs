//! chat.qwen.ai's completion stream → events.
//!
//! Deltas carry a `phase`: `think` (raw thinking) and `thinking_summary`
//! (cumulative summary arrays in `extra.summary_thought.content`) become
//! reasoning, `answer` becomes text. `status:"finished"` on the answer ends
//! it (the thinking phase has its own `finished`, which does not).

use serde_json::Value;
use wasmgate_plugin_sdk::{Event, FinishReason, ProviderError, Step, Usage};

use crate::account::Flow;
use crate::errors;
use crate::increments::PhaseText;
use crate::pump::Decoder;
use crate::snapshot::SnapshotDiff;

#[derive(Debug, Default)]
pub struct IntlDecoder {
    answer: PhaseText,
    think: PhaseText,
    summary: SnapshotDiff,
    usage: Option<Usage>,
    /// From `response.created`.
    pub response_id: Option<String>,
}

impl IntlDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    fn produced_nothing(&self) -> bool {
        self.answer.is_empty() && self.think.is_empty() && self.summary.is_empty()
    }

    fn complete(&mut self, out: &mut Vec<Event>) -> Result<Step, ProviderError> {
        if self.produced_nothing() {
            return Err(silent_rate_limit());
        }
        if let Some(usage) = self.usage.take() {
            out.push(Event::Usage(usage));
        }
        out.push(Event::Finish(FinishReason::Stop));
        Ok(Step::Done)
    }

    fn delta(&mut self, delta: &Value, out: &mut Vec<Event>) -> bool {
        let content = delta.get("content").and_then(Value::as_str).unwrap_or("");
        let phase = delta.get("phase").and_then(Value::as_str);
        match phase {
            // No phase: the answer, as the server sends it without `output_schema`.
            Some("answer") | None => push(out, Event::Text, self.answer.next(content)),
            Some("think") => push(out, Event::Reasoning, self.think.next(content)),
            Some("thinking_summary") => {
                if let Some(thoughts) = summary_thoughts(delta) {
                    let had_text = !self.summary.is_empty();
                    let delta = self.summary.next(&thoughts);
                    let text = if delta.restarted && had_text {
                        format!("\n{}", delta.text)
                    } else {
                        delta.text
                    };
                    push(out, Event::Reasoning, text);
                }
            }
            // Tool and search phases carry no answer text.
            Some(_) => {}
        }
        let finished = delta.get("status").and_then(Value::as_str) == Some("finished");
        finished && matches!(phase, Some("answer") | None)
    }
}

fn push(out: &mut Vec<Event>, make: fn(String) -> Event, text: String) {
    if !text.is_empty() {
        out.push(make(text));
    }
}

/// The summary so far: `extra.summary_thought.content`, an array of strings.
fn summary_thoughts(delta: &Value) -> Option<String> {
    let lines = delta
        .pointer("/extra/summary_thought/content")?
        .as_array()?;
    let lines: Vec<&str> = lines.iter().filter_map(Value::as_str).collect();
    Some(lines.join("\n"))
}

/// A stream that ends with nothing in it: the proxies treat it as a rate
/// limit and rest the account for a minute.
fn silent_rate_limit() -> ProviderError {
    ProviderError::rate_limited(
        "chat.qwen.ai ended the stream without any answer (a silent rate limit)",
        Some(errors::SILENT_RATE_LIMIT_MS),
    )
}

/// `input_tokens`/`output_tokens` or the OpenAI names.
fn usage(value: &Value) -> Option<Usage> {
    let number = |names: &[&str]| {
        names
            .iter()
            .find_map(|name| value.get(*name).and_then(Value::as_u64))
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
    };
    let prompt = number(&["input_tokens", "prompt_tokens"])?;
    let completion = number(&["output_tokens", "completion_tokens"]).unwrap_or(0);
    let reasoning = [
        "/output_tokens_details/reasoning_tokens",
        "/completion_tokens_details/reasoning_tokens",
    ]
    .iter()
    .find_map(|path| value.pointer(path).and_then(Value::as_u64))
    .map(|n| u32::try_from(n).unwrap_or(u32::MAX));
    Some(Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        reasoning_tokens: reasoning,
        total_tokens: number(&["total_tokens"]).unwrap_or(prompt.saturating_add(completion)),
    })
}

impl Decoder for IntlDecoder {
    fn data(&mut self, data: &str, out: &mut Vec<Event>) -> Result<Step, ProviderError> {
        if data.trim() == "[DONE]" {
            return self.complete(out);
        }
        let Ok(event) = serde_json::from_str::<Value>(data) else {
            return Ok(Step::More);
        };
        if let Some(created) = event.get("response.created") {
            self.response_id = created
                .get("response_id")
                .and_then(Value::as_str)
                .map(str::to_string);
            return Ok(Step::More);
        }
        if let Some(error) = errors::from_error_object(Flow::ChatQwenAi, 0, &event) {
            // Moderation stopping an answer midway: what was said stands,
            // and the answer ends as filtered.
            if matches!(error, ProviderError::ContentFiltered(_)) && !self.answer.is_empty() {
                out.push(Event::Finish(FinishReason::ContentFilter));
                return Ok(Step::Done);
            }
            return Err(error);
        }
        if let Some(usage) = event.get("usage").and_then(usage) {
            self.usage = Some(usage);
        }
        let Some(choice) = event.get("choices").and_then(|c| c.get(0)) else {
            return Ok(Step::More);
        };
        let mut finished = match choice.get("delta") {
            Some(delta) => self.delta(delta, out),
            None => false,
        };
        finished |= choice
            .get("finish_reason")
            .and_then(Value::as_str)
            .is_some_and(|reason| !reason.is_empty());
        if finished {
            return self.complete(out);
        }
        Ok(Step::More)
    }

    fn end_of_stream(&mut self, _out: &mut Vec<Event>) -> Result<(), ProviderError> {
        if self.produced_nothing() {
            return Err(silent_rate_limit());
        }
        Err(ProviderError::upstream(
            0,
            "chat.qwen.ai's stream ended before the answer finished",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pump::testing::*;
    use serde_json::json;

    fn sse(events: &[Value]) -> Vec<u8> {
        events
            .iter()
            .map(|e| format!("data: {e}\r\n\r\n"))
            .collect::<String>()
            .into_bytes()
    }

    fn delta(phase: &str, content: &str, status: &str) -> Value {
        json!({"choices":[{"delta":{"role":"assistant","content":content,"phase":phase,"status":status}}]})
    }

    fn created() -> Value {
        json!({"response.created":{"chat_id":"c-01","parent_id":"p-01","response_id":"r-01"}})
    }

    fn with_usage(mut event: Value, input: u64, output: u64) -> Value {
        event["usage"] =
            json!({"input_tokens": input, "output_tokens": output, "total_tokens": input + output});
        event
    }

    #[test]
    fn phases_become_reasoning_and_text_at_every_read_boundary() {
        let events = [
            created(),
            delta("think", "The user greets", "typing"),
            delta("think", "; reply kindly.", "typing"),
            delta("think", "", "finished"),
            with_usage(delta("answer", "Hel", "typing"), 11, 1),
            with_usage(delta("answer", "lo! 你好", "typing"), 11, 3),
            with_usage(delta("answer", "", "finished"), 11, 4),
        ];
        let bytes = sse(&events);
        for size in 1..=bytes.len() {
            let (got, error) = run(split_body(&bytes, size), IntlDecoder::new());
            assert!(error.is_none(), "size {size}: {error:?}");
            assert_eq!(
                merged(&got),
                [
                    Ev::Reasoning("The user greets; reply kindly.".into()),
                    Ev::Text("Hello! 你好".into()),
                    Ev::Usage(11, 4, None),
                    Ev::Finish("Stop".into())
                ],
                "size {size}"
            );
        }
    }

    #[test]
    fn thinking_summaries_are_diffed_and_their_finished_does_not_end_the_answer() {
        let summary = |thoughts: &[&str], status: &str| {
            json!({"choices":[{"delta":{"role":"assistant","content":"","phase":"thinking_summary","status":status,
                "extra":{"summary_title":{"content":["Greeting"]},"summary_thought":{"content":thoughts}}}}]})
        };
        let events = [
            created(),
            summary(&["User says hi."], "typing"),
            summary(&["User says hi.", "Answer briefly."], "typing"),
            json!({"choices":[{"delta":{"role":"assistant","content":"","phase":"thinking_summary","status":"finished"}}]}),
            delta("answer", "Hello!", "typing"),
            delta("answer", "", "finished"),
        ];
        let (got, error) = run(split_body(&sse(&events), 1 << 20), IntlDecoder::new());
        assert!(error.is_none(), "{error:?}");
        assert_eq!(
            got,
            [
                Ev::Reasoning("User says hi.".into()),
                Ev::Reasoning("\nAnswer briefly.".into()),
                Ev::Text("Hello!".into()),
                Ev::Finish("Stop".into())
            ]
        );
    }

    #[test]
    fn deltas_without_phase_are_the_answer() {
        let events = [
            json!({"choices":[{"delta":{"content":"Hi","status":"typing"}}]}),
            json!({"choices":[{"delta":{"content":"","status":"finished"}}]}),
        ];
        let (got, _) = run(split_body(&sse(&events), 1 << 20), IntlDecoder::new());
        assert_eq!(got, [Ev::Text("Hi".into()), Ev::Finish("Stop".into())]);
    }

    #[test]
    fn rate_limit_frame_is_rate_limited_with_hours() {
        let events = [
            json!({"success":false,"data":{"code":"RateLimited","num":2,"details":"quota exceeded"}}),
        ];
        let (got, error) = run(split_body(&sse(&events), 1 << 20), IntlDecoder::new());
        assert!(got.is_empty());
        match error {
            Some(ProviderError::RateLimited(info)) => {
                assert_eq!(info.retry_after_ms, Some(7_200_000))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn quota_frame_is_quota_exhausted() {
        let events = [
            json!({"error":{"message":"Allocated quota exceeded, please increase your quota limit token-limit"}}),
        ];
        let (_, error) = run(split_body(&sse(&events), 1 << 20), IntlDecoder::new());
        assert!(
            matches!(error, Some(ProviderError::QuotaExhausted(_))),
            "{error:?}"
        );
    }

    #[test]
    fn an_empty_stream_is_a_silent_rate_limit() {
        let (got, error) = run(split_body(&sse(&[created()]), 1 << 20), IntlDecoder::new());
        assert!(got.is_empty());
        match error {
            Some(ProviderError::RateLimited(info)) => assert_eq!(info.retry_after_ms, Some(60_000)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_cut_stream_is_an_error_after_its_text() {
        let events = [
            created(),
            delta("answer", "Hel", "typing"),
            delta("answer", "lo", "typing"),
        ];
        let (got, error) = run(pieces_body(vec![sse(&events)], true), IntlDecoder::new());
        assert_eq!(merged(&got), [Ev::Text("Hello".into())]);
        assert!(
            matches!(error, Some(ProviderError::Upstream(_))),
            "{error:?}"
        );
        let (_, error) = run(pieces_body(vec![sse(&events)], false), IntlDecoder::new());
        assert!(
            matches!(error, Some(ProviderError::Upstream(_))),
            "{error:?}"
        );
    }

    #[test]
    fn noise_lines_and_done_are_tolerated() {
        let bytes = b"event: ping\n\n: comment\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"Hi\",\"phase\":\"answer\"}}]}\n\ndata: [DONE]\n\n";
        let (got, error) = run(split_body(bytes, 3), IntlDecoder::new());
        assert!(error.is_none());
        assert_eq!(
            merged(&got),
            [Ev::Text("Hi".into()), Ev::Finish("Stop".into())]
        );
    }

    #[test]
    fn openai_usage_names_and_reasoning_tokens() {
        let usage = usage(&json!({"prompt_tokens":5,"completion_tokens":9,"completion_tokens_details":{"reasoning_tokens":4}})).unwrap();
        assert_eq!(
            (
                usage.prompt_tokens,
                usage.completion_tokens,
                usage.reasoning_tokens,
                usage.total_tokens
            ),
            (5, 9, Some(4), 14)
        );
    }

    #[test]
    fn moderation_refuses_the_prompt_or_ends_the_answer_as_filtered() {
        let inspection = |message: &str| json!({"error":{"code":"data_inspection_failed","type":"data_inspection_failed","message":message}});
        let (got, error) = run(
            split_body(
                &sse(&[
                    created(),
                    inspection("Input data may contain inappropriate content."),
                ]),
                1 << 20,
            ),
            IntlDecoder::new(),
        );
        assert!(got.is_empty());
        assert!(
            matches!(error, Some(ProviderError::ContentFiltered(_))),
            "{error:?}"
        );
        let events = [
            created(),
            delta("answer", "Hel", "typing"),
            inspection("Output data may contain inappropriate content."),
        ];
        let (got, error) = run(split_body(&sse(&events), 1 << 20), IntlDecoder::new());
        assert!(error.is_none(), "{error:?}");
        assert_eq!(
            got,
            [Ev::Text("Hel".into()), Ev::Finish("ContentFilter".into())]
        );
    }
}
