//! The answer being streamed: pulls the StreamGenerate body as events are
//! asked for, then downloads the generated images, then finishes.

use std::cell::RefCell;
use std::collections::VecDeque;

use wasmgate_plugin_sdk::{Event, FinishReason, ProviderError};

use crate::assembler::Assembler;
use crate::platform::{HttpResponse, Level};
use crate::session::Session;

pub struct Answer {
    state: RefCell<State>,
}

struct State {
    session: Session,
    response: Option<HttpResponse>,
    assembler: Assembler,
    pending: VecDeque<Event>,
    phase: Phase,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Streaming,
    /// Downloading the generated image at this index.
    Images(usize),
    Done,
}

impl Answer {
    pub fn new(session: Session, response: HttpResponse, model: &str) -> Self {
        let assembler = Assembler::new(&session.account.id, model);
        Answer {
            state: RefCell::new(State {
                session,
                response: Some(response),
                assembler,
                pending: VecDeque::new(),
                phase: Phase::Streaming,
            }),
        }
    }

    /// Whether `prime` failed in a way a fresh attempt may fix.
    pub fn retryable(&self) -> bool {
        self.state.borrow().assembler.retryable()
    }

    /// The session back, to try again.
    pub fn into_session(self) -> Session {
        self.state.into_inner().session
    }

    /// Reads until the first event, so that a refusal (an in-band error in
    /// the first frame) surfaces from `chat()`, where the host can still
    /// try another account.
    pub fn prime(&self) -> Result<(), ProviderError> {
        let mut state = self.state.borrow_mut();
        while state.pending.is_empty() && state.phase == Phase::Streaming {
            state.read_more()?;
        }
        Ok(())
    }
}

impl Answer {
    /// The next event, `None` at the end.
    pub fn next_event(&self) -> Result<Option<Event>, ProviderError> {
        let mut state = self.state.borrow_mut();
        loop {
            if let Some(event) = state.pending.pop_front() {
                return Ok(Some(event));
            }
            match state.phase {
                Phase::Streaming => state.read_more()?,
                Phase::Images(index) => state.download(index)?,
                Phase::Done => return Ok(None),
            }
        }
    }
}

impl State {
    fn read_more(&mut self) -> Result<(), ProviderError> {
        let result = self.read_chunk();
        if result.is_err() {
            self.stop();
        }
        result
    }

    fn read_chunk(&mut self) -> Result<(), ProviderError> {
        if self.assembler.is_complete() {
            // The rest is bookkeeping: stop reading.
            self.response = None;
            self.phase = Phase::Images(0);
            return Ok(());
        }
        let Some(response) = self.response.as_mut() else {
            self.phase = Phase::Images(0);
            return Ok(());
        };
        match response.next_chunk() {
            Ok(Some(bytes)) => {
                let events = self.assembler.push(&bytes)?;
                self.pending.extend(events);
            }
            Ok(None) => {
                let events = self.assembler.finish()?;
                self.pending.extend(events);
                self.response = None;
                self.phase = Phase::Images(0);
            }
            Err(error) => {
                self.assembler.broken(ProviderError::upstream(
                    0,
                    format!("the answer stream broke: {error}"),
                ))?;
                self.response = None;
                self.phase = Phase::Images(0);
            }
        }
        Ok(())
    }

    fn download(&mut self, index: usize) -> Result<(), ProviderError> {
        let Some(image) = self.assembler.images().get(index).cloned() else {
            self.pending.push_back(Event::Finish(FinishReason::Stop));
            self.phase = Phase::Done;
            return Ok(());
        };
        match self.session.download_image(&image.url) {
            Ok(media) => {
                self.pending.push_back(Event::Image(media));
                self.phase = Phase::Images(index + 1);
                Ok(())
            }
            Err(error) => {
                self.session
                    .log(Level::Warn, "a generated image could not be downloaded");
                self.stop();
                Err(error)
            }
        }
    }

    fn stop(&mut self) {
        self.response = None;
        self.pending.clear();
        self.phase = Phase::Done;
    }
}
