//! The answer being streamed: pulls the StreamGenerate body as events are
//! asked for, then downloads the generated images, then finishes. The
//! queueing and the error after the events before it are the SDK's
//! [`Pump`]'s; this is its producer.

use wasmgate_plugin_sdk::{Event, FinishReason, Producer, ProviderError, Pump, Step};

use crate::assembler::Assembler;
use crate::page::PageValues;
use crate::session::Session;
use wasmgate_plugin_sdk::http::Response as HttpResponse;
use wasmgate_plugin_sdk::platform::Level;

/// Reading an interrupted answer back from the chat: polls and their
/// spacing (the reference client polls every 10 s until its timeout).
const READ_BACK_POLLS: u32 = 24;
const READ_BACK_DELAY_MS: u64 = 5000;

/// The completion handed to the host.
pub type Answer = Pump<Reader>;

/// One answer's source of events: the stream, a read-back if it ended
/// early, then the images.
pub struct Reader {
    session: Session,
    page: PageValues,
    response: Option<HttpResponse>,
    assembler: Assembler,
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

impl Reader {
    pub fn new(session: Session, page: PageValues, response: HttpResponse, model: &str) -> Self {
        let assembler = Assembler::new(&session.account.id, model);
        Reader {
            session,
            page,
            response: Some(response),
            assembler,
            phase: Phase::Streaming,
        }
    }

    /// Reads the stream until its first events, so that a refusal (an
    /// in-band error in the first frame) surfaces from `chat()`, where the
    /// host can still try another account; the answer starts with them. A
    /// read-back or the images are left to the answer.
    pub fn prime(&mut self) -> Result<Vec<Event>, ProviderError> {
        let mut first = Vec::new();
        while first.is_empty() && self.phase == Phase::Streaming {
            self.read_more(&mut first)?;
        }
        Ok(first)
    }

    /// Whether `prime` failed in a way a fresh attempt may fix.
    pub fn retryable(&self) -> bool {
        self.assembler.retryable()
    }

    /// The session back, to try again.
    pub fn into_session(self) -> Session {
        self.session
    }
}

impl Producer for Reader {
    fn produce(&mut self, out: &mut Vec<Event>) -> Result<Step, ProviderError> {
        match self.phase {
            Phase::Streaming => self.read_more(out)?,
            Phase::ReadingBack(polls) => self.read_back(polls, out)?,
            Phase::Images(index) => self.download(index, out)?,
            Phase::Done => {}
        }
        Ok(match self.phase {
            Phase::Done => Step::Done,
            _ => Step::More,
        })
    }
}

impl Reader {
    fn read_more(&mut self, out: &mut Vec<Event>) -> Result<(), ProviderError> {
        let result = self.read_chunk(out);
        if result.is_err() {
            // Nothing more is read (a failed `prime` hands the reader back).
            self.response = None;
            self.phase = Phase::Done;
        }
        result
    }

    fn read_chunk(&mut self, out: &mut Vec<Event>) -> Result<(), ProviderError> {
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
            Ok(Some(bytes)) => out.extend(self.assembler.push(&bytes)?),
            Ok(None) => {
                self.response = None;
                match self.assembler.finish() {
                    Ok(events) => {
                        out.extend(events);
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
    fn read_back(&mut self, polls: u32, out: &mut Vec<Event>) -> Result<(), ProviderError> {
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
            out.extend(events);
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

    fn download(&mut self, index: usize, out: &mut Vec<Event>) -> Result<(), ProviderError> {
        let Some(image) = self.assembler.images().get(index).cloned() else {
            out.push(Event::Finish(FinishReason::Stop));
            self.phase = Phase::Done;
            return Ok(());
        };
        let reply = self.assembler.reply_ids();
        let media = self
            .session
            .download_generated(&self.page, &image, reply.as_ref())
            .inspect_err(|_| {
                self.session
                    .log(Level::Warn, "a generated image could not be downloaded")
            })?;
        out.push(Event::Image(media));
        self.phase = Phase::Images(index + 1);
        Ok(())
    }
}
