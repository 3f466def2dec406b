//! The answer being streamed: pulls the StreamGenerate body as events are
//! asked for, then downloads the generated images, then finishes.

use std::cell::RefCell;
use std::collections::VecDeque;

use wasmgate_plugin_sdk::{Event, FinishReason, ProviderError};

use crate::assembler::Assembler;
use crate::page::PageValues;
use crate::session::Session;
use wasmgate_plugin_sdk::http::Response as HttpResponse;
use wasmgate_plugin_sdk::platform::Level;

/// Reading an interrupted answer back from the chat: polls and their
/// spacing (the reference client polls every 10 s until its timeout).
const READ_BACK_POLLS: u32 = 24;
const READ_BACK_DELAY_MS: u64 = 5000;

pub struct Answer {
    state: RefCell<State>,
}

struct State {
    session: Session,
    page: PageValues,
    response: Option<HttpResponse>,
    assembler: Assembler,
    pending: VecDeque<Event>,
    phase: Phase,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Streaming,
    /// The stream ended early after the turn was saved: reading it back
    /// (this many polls done).
    ReadingBack(u32),
    /// Downloading the generated image at this index.
    Images(usize),
    Done,
}

impl Answer {
    pub fn new(session: Session, page: PageValues, response: HttpResponse, model: &str) -> Self {
        let assembler = Assembler::new(&session.account.id, model);
        Answer {
            state: RefCell::new(State {
                session,
                page,
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
                Phase::ReadingBack(polls) => state.read_back(polls)?,
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
                self.response = None;
                match self.assembler.finish() {
                    Ok(events) => {
                        self.pending.extend(events);
                        self.phase = Phase::Images(0);
                    }
                    Err(_) if self.assembler.recoverable().is_some() => {
                        self.phase = Phase::ReadingBack(0);
                    }
                    Err(error) => return Err(error),
                }
            }
            Err(_) if self.assembler.recoverable().is_some() => {
                self.response = None;
                self.phase = Phase::ReadingBack(0);
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

    /// One read of the saved turn; the answer continues from it once the
    /// upstream reports it complete.
    fn read_back(&mut self, polls: u32) -> Result<(), ProviderError> {
        let result = self.read_back_once(polls);
        if result.is_err() {
            self.stop();
        }
        result
    }

    fn read_back_once(&mut self, polls: u32) -> Result<(), ProviderError> {
        if polls > 0 {
            self.session.sleep_ms(READ_BACK_DELAY_MS);
        } else {
            self.session.log(
                Level::Info,
                "the answer stream ended early after the turn was saved: reading it back",
            );
        }
        let cid = self.assembler.recoverable().unwrap_or_default().to_string();
        let rcid = self.assembler.candidate_id().map(str::to_string);
        let found = self.session.read_chat(&self.page, &cid, rcid.as_deref());
        if let Some(events) = found.and_then(|candidate| self.assembler.recovered(candidate)) {
            self.pending.extend(events);
            self.phase = Phase::Images(0);
            return Ok(());
        }
        if polls + 1 >= READ_BACK_POLLS {
            return Err(ProviderError::upstream(
                0,
                "the answer stream ended before Gemini finished the answer, and reading the chat back did not find it finished",
            ));
        }
        self.phase = Phase::ReadingBack(polls + 1);
        Ok(())
    }

    fn download(&mut self, index: usize) -> Result<(), ProviderError> {
        let Some(image) = self.assembler.images().get(index).cloned() else {
            self.pending.push_back(Event::Finish(FinishReason::Stop));
            self.phase = Phase::Done;
            return Ok(());
        };
        let reply = self.assembler.reply_ids();
        match self
            .session
            .download_generated(&self.page, &image, reply.as_ref())
        {
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
