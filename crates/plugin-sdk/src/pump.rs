//! The event pump every completion runs on: the host pulls, the pump hands
//! over every event decoded so far in one batch, reading from the upstream
//! only when nothing is queued; an error comes after the events decoded
//! before it and ends the answer.

use std::cell::RefCell;
use std::collections::VecDeque;

use crate::{Event, ProviderError};

/// What a producer says after a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Call again for more.
    More,
    /// The answer is complete.
    Done,
}

/// One answer's source of events: reads a piece of the upstream's answer
/// (blocking as needed) and appends what it decoded.
pub trait Producer {
    fn produce(&mut self, out: &mut Vec<Event>) -> Result<Step, ProviderError>;
}

/// A completion fed by a [`Producer`]: export it with
/// `Completion::new(Pump::new(producer))`.
pub struct Pump<P> {
    state: RefCell<State<P>>,
}

struct State<P> {
    /// `None` once the answer is complete or broke.
    producer: Option<P>,
    queue: VecDeque<Event>,
    /// Reported once the events before it have been handed over.
    error: Option<ProviderError>,
}

impl<P: Producer> Pump<P> {
    pub fn new(producer: P) -> Self {
        Self::with(Some(producer), Vec::new())
    }

    /// Events known already (a non-streamed answer, or what `chat` read
    /// while checking that the upstream accepted the request), then the
    /// producer's.
    pub fn starting_with(events: Vec<Event>, producer: Option<P>) -> Self {
        Self::with(producer, events)
    }

    fn with(producer: Option<P>, queue: Vec<Event>) -> Self {
        Pump {
            state: RefCell::new(State {
                producer,
                queue: queue.into(),
                error: None,
            }),
        }
    }

    /// Reads until at least one event is queued (or the answer ended), so
    /// that a refusal at the start surfaces from `chat`, where the host can
    /// still try another account.
    pub fn prime(&self) -> Result<(), ProviderError> {
        let mut state = self.state.borrow_mut();
        state.fill();
        match state.error.take() {
            Some(err) if state.queue.is_empty() => Err(err),
            other => {
                state.error = other;
                Ok(())
            }
        }
    }

    /// The events available now (at least one, reading as needed); empty at
    /// the end.
    pub fn next_batch(&self) -> Result<Vec<Event>, ProviderError> {
        let mut state = self.state.borrow_mut();
        state.fill();
        if !state.queue.is_empty() {
            return Ok(std::mem::take(&mut state.queue).into());
        }
        match state.error.take() {
            Some(err) => Err(err),
            None => Ok(Vec::new()),
        }
    }

    /// One event at a time (`None` at the end): the same answer as
    /// [`Pump::next_batch`], for code and tests that look at events singly.
    pub fn next_event(&self) -> Result<Option<Event>, ProviderError> {
        let mut state = self.state.borrow_mut();
        state.fill();
        if let Some(event) = state.queue.pop_front() {
            return Ok(Some(event));
        }
        match state.error.take() {
            Some(err) => Err(err),
            None => Ok(None),
        }
    }

    /// Runs `f` on the producer, e.g. to read what it learnt at the end.
    pub fn with_producer<R>(&self, f: impl FnOnce(Option<&mut P>) -> R) -> R {
        f(self.state.borrow_mut().producer.as_mut())
    }
}

impl<P: Producer> State<P> {
    fn fill(&mut self) {
        while self.queue.is_empty() && self.error.is_none() {
            let Some(producer) = self.producer.as_mut() else {
                return;
            };
            let mut decoded = Vec::new();
            let step = producer.produce(&mut decoded);
            self.queue.extend(decoded);
            match step {
                Ok(Step::More) => {}
                Ok(Step::Done) => self.producer = None,
                Err(err) => {
                    self.producer = None;
                    self.error = Some(err);
                }
            }
        }
    }
}

impl<P: Producer + 'static> crate::CompletionStream for Pump<P> {
    fn next(&self) -> Result<Vec<Event>, ProviderError> {
        self.next_batch()
    }
}

/// A producer over a plugin's own one-event-at-a-time reader (`Ok(None)` at
/// the end): the pump still batches whatever the reader had queued. Prefer a
/// [`Producer`] that appends everything one read decoded.
pub struct OneByOne<F>(pub F);

impl<F: FnMut() -> Result<Option<Event>, ProviderError>> Producer for OneByOne<F> {
    fn produce(&mut self, out: &mut Vec<Event>) -> Result<Step, ProviderError> {
        match (self.0)()? {
            Some(event) => {
                out.push(event);
                Ok(Step::More)
            }
            None => Ok(Step::Done),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Yields its scripted steps, one `produce` call each.
    struct Script(Vec<Result<(Vec<&'static str>, Step), ProviderError>>);

    impl Producer for Script {
        fn produce(&mut self, out: &mut Vec<Event>) -> Result<Step, ProviderError> {
            let (texts, step) = self.0.remove(0)?;
            out.extend(texts.into_iter().map(|t| Event::Text(t.into())));
            Ok(step)
        }
    }

    fn texts(events: Vec<Event>) -> Vec<String> {
        events
            .into_iter()
            .map(|event| match event {
                Event::Text(text) => text,
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_batch_is_everything_one_read_decoded_and_empty_reads_are_skipped() {
        let pump = Pump::new(Script(vec![
            Ok((vec![], Step::More)),
            Ok((vec!["a", "b"], Step::More)),
            Ok((vec!["c"], Step::Done)),
        ]));
        assert_eq!(texts(pump.next_batch().unwrap()), ["a", "b"]);
        assert_eq!(texts(pump.next_batch().unwrap()), ["c"]);
        assert!(pump.next_batch().unwrap().is_empty());
        assert!(pump.next_batch().unwrap().is_empty());
    }

    #[test]
    fn an_error_comes_after_the_events_before_it_and_ends_the_answer() {
        let pump = Pump::starting_with(
            vec![Event::Text("first".into())],
            Some(Script(vec![Err(ProviderError::Timeout("stalled".into()))])),
        );
        assert_eq!(texts(pump.next_batch().unwrap()), ["first"]);
        assert!(matches!(pump.next_batch(), Err(ProviderError::Timeout(_))));
        assert!(pump.next_batch().unwrap().is_empty());
    }

    #[test]
    fn prime_surfaces_a_refusal_before_any_event() {
        let pump = Pump::new(Script(vec![Err(ProviderError::Unauthorized("no".into()))]));
        assert!(matches!(pump.prime(), Err(ProviderError::Unauthorized(_))));
        let pump = Pump::new(Script(vec![
            Ok((vec!["hi"], Step::More)),
            Err(ProviderError::Timeout("later".into())),
        ]));
        pump.prime().unwrap();
        assert_eq!(texts(pump.next_batch().unwrap()), ["hi"]);
    }
}
