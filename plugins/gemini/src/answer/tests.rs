use std::collections::VecDeque;

use wasmgate_plugin_sdk::FinishReason;

use super::*;

/// A body that yields the given pieces, then ends or fails.
struct Pieces {
    pieces: VecDeque<Vec<u8>>,
    then: Result<(), ProviderError>,
    reads: usize,
}

impl Pieces {
    fn new(pieces: &[&str], then: Result<(), ProviderError>) -> Self {
        Pieces {
            pieces: pieces.iter().map(|p| p.as_bytes().to_vec()).collect(),
            then,
            reads: 0,
        }
    }
}

impl BodySource for Pieces {
    fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, ProviderError> {
        self.reads += 1;
        match self.pieces.pop_front() {
            Some(piece) => Ok(Some(piece)),
            None => match std::mem::replace(&mut self.then, Ok(())) {
                Ok(()) => Ok(None),
                Err(err) => Err(err),
            },
        }
    }
}

fn chunk(text: &str) -> String {
    format!(
        "data: {{\"candidates\":[{{\"content\":{{\"parts\":[{{\"text\":\"{text}\"}}],\"role\":\"model\"}},\"index\":0}}]}}\r\n\r\n"
    )
}

const FINISH: &str = "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"!\"}]},\"finishReason\":\"STOP\"}]}\r\n\r\n";

fn collect<B: BodySource>(answer: &Answer<B>) -> (Vec<String>, Option<ProviderError>) {
    let mut seen = Vec::new();
    loop {
        match answer.next_event() {
            Ok(Some(event)) => seen.push(format!("{event:?}")),
            Ok(None) => return (seen, None),
            Err(err) => {
                // After an error the answer is over.
                assert!(matches!(answer.next_event(), Ok(None)));
                return (seen, Some(err));
            }
        }
    }
}

#[test]
fn events_are_yielded_as_pieces_arrive() {
    let first = chunk("Hello");
    let (head, tail) = first.split_at(17);
    let answer = Answer::streaming(Pieces::new(&[head, tail, &chunk(" world"), FINISH], Ok(())));
    // The first event needs only the first two reads, not the whole body.
    assert_eq!(
        format!("{:?}", answer.next_event().unwrap().unwrap()),
        format!("{:?}", Event::Text("Hello".into()))
    );
    assert_eq!(answer.state.borrow().body.as_ref().unwrap().reads, 2);
    let (rest, error) = collect(&answer);
    assert!(error.is_none());
    assert_eq!(rest.len(), 3);
    assert_eq!(rest[2], format!("{:?}", Event::Finish(FinishReason::Stop)));
}

#[test]
fn a_connection_cut_mid_stream_is_an_upstream_error_after_the_events() {
    let cut = ProviderError::upstream(0, "the upstream answer broke off: connection reset");
    let answer = Answer::streaming(Pieces::new(&[&chunk("Hel"), &chunk("lo")], Err(cut)));
    let (events, error) = collect(&answer);
    assert_eq!(events.len(), 2);
    match error {
        Some(ProviderError::Upstream(failure)) => assert!(failure.message.contains("broke off")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_clean_eof_before_the_finish_is_an_error() {
    let answer = Answer::streaming(Pieces::new(&[&chunk("Hel")], Ok(())));
    let (events, error) = collect(&answer);
    assert_eq!(events.len(), 1);
    assert!(matches!(error, Some(ProviderError::Upstream(_))));
}

#[test]
fn reading_stops_at_the_finish() {
    // A body that would fail if read past the finishing chunk.
    let never = ProviderError::upstream(0, "read past the end");
    let answer = Answer::streaming(Pieces::new(&[&chunk("Hi"), FINISH], Err(never)));
    let (events, error) = collect(&answer);
    assert!(error.is_none(), "{error:?}");
    assert_eq!(events.len(), 3);
}

#[test]
fn complete_answers_replay_their_events() {
    let answer: Answer<Pieces> = Answer::complete(vec![
        Event::Text("x".into()),
        Event::Finish(FinishReason::Stop),
    ]);
    let (events, error) = collect(&answer);
    assert!(error.is_none());
    assert_eq!(events.len(), 2);
}
