//! The answer as events: text and reasoning as their elements arrive, then
//! the generated images once the array is closed.

use std::collections::VecDeque;

use wasmgate_plugin_sdk::http::Response;
use wasmgate_plugin_sdk::{
    Event, FinishReason, Level, Media, Platform, Producer, ProviderError, Pump, Step,
};

use crate::answer::{FileRef, Piece, Tally, Verdict, interpret};
use crate::array_stream::{ArrayScanner, ScanError};
use crate::errors::GoogleError;
use crate::upstream::Upstream;

/// What the component hands the host: the pump over an [`Answer`].
pub type AnswerStream<'a, P> = Pump<Answer<'a, P>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Streaming,
    Downloading,
    Finished,
}

/// One answer being read: the streamed array, then the downloads of the
/// files it generated.
pub struct Answer<'a, P: Platform> {
    upstream: Upstream<'a, P>,
    body: Response,
    /// The session this request created, the fallback for downloads.
    session: String,
    scanner: ArrayScanner,
    tally: Tally,
    phase: Phase,
    downloads: VecDeque<FileRef>,
    /// `(fileId, full session path)` from the metadata call, fetched once.
    file_sessions: Option<Vec<(String, String)>>,
    /// A non-429 error element the stream carried; it fails the answer
    /// only if no answer follows.
    stream_error: Option<GoogleError>,
}

impl<'a, P: Platform> Answer<'a, P> {
    pub fn new(upstream: Upstream<'a, P>, body: Response, session: String) -> Self {
        Answer {
            upstream,
            body,
            session,
            scanner: ArrayScanner::new(),
            tally: Tally::default(),
            phase: Phase::Streaming,
            downloads: VecDeque::new(),
            file_sessions: None,
            stream_error: None,
        }
    }

    /// Reads until the answer has something to say or its array ended, so
    /// that a refusal inside a 200 stream (an error element, a bare
    /// `uToken`) surfaces from `chat`, where the host can still try another
    /// account; then hands the rest to the pump. Generated files are
    /// downloaded only once the client is reading the answer (which is why
    /// this is not `Pump::prime`: that would read on into the downloads of
    /// an answer made of generated files alone).
    pub fn into_stream(mut self) -> Result<AnswerStream<'a, P>, ProviderError> {
        let mut opening = Vec::new();
        while opening.is_empty() && self.phase == Phase::Streaming {
            self.read_more(&mut opening)?;
        }
        Ok(Pump::starting_with(opening, Some(self)))
    }
}

impl<P: Platform> Producer for Answer<'_, P> {
    fn produce(&mut self, out: &mut Vec<Event>) -> Result<Step, ProviderError> {
        match self.phase {
            Phase::Streaming => self.read_more(out)?,
            Phase::Downloading => self.download_next(out)?,
            Phase::Finished => {}
        }
        Ok(match self.phase {
            Phase::Finished => Step::Done,
            Phase::Streaming | Phase::Downloading => Step::More,
        })
    }
}

impl<P: Platform> Answer<'_, P> {
    fn read_more(&mut self, out: &mut Vec<Event>) -> Result<(), ProviderError> {
        let chunk = self
            .body
            .next_chunk()
            .map_err(|err| ProviderError::upstream(0, format!("the answer stream broke: {err}")))?;
        let Some(bytes) = chunk else {
            match self.scanner.finish() {
                Ok(()) => {}
                // The forks read on at a clean EOF before `]`; so do we, but
                // only between elements after an answer arrived: a body cut
                // inside an element may have lost part of the answer.
                Err(ScanError::Truncated {
                    inside_element: false,
                }) if self.tally.verdict() == Verdict::Answered => {
                    self.upstream.platform().log(
                        Level::Warn,
                        "the answer array ended without its closing `]`",
                    );
                }
                Err(err) => return Err(ProviderError::upstream(0, err.to_string())),
            }
            return self.end_of_stream();
        };
        let elements = self
            .scanner
            .push(&bytes)
            .map_err(|err| ProviderError::upstream(0, err.to_string()))?;
        for raw in elements {
            let (pieces, responded) = interpret(&raw).map_err(|err| {
                ProviderError::upstream(0, format!("malformed answer element at {}", err.0))
            })?;
            self.tally.responded |= responded;
            for piece in pieces {
                self.apply(piece, out)?;
            }
        }
        Ok(())
    }

    fn apply(&mut self, piece: Piece, out: &mut Vec<Event>) -> Result<(), ProviderError> {
        match piece {
            Piece::Text(text) => {
                self.tally.text = true;
                out.push(Event::Text(text));
            }
            Piece::Thought(text) => {
                self.tally.thoughts = true;
                out.push(Event::Reasoning(text));
            }
            Piece::InlineImage { mime_type, data } => {
                self.tally.images = true;
                out.push(Event::Image(Media { mime_type, data }));
            }
            Piece::GeneratedFile(file) => {
                self.tally.add_file(file);
            }
            Piece::Session(session) => self.tally.session = Some(session),
            Piece::Skipped(reasons) => self.tally.skipped = Some(reasons),
            Piece::Error(error) => {
                let failure = self.upstream.classifier.in_stream(&error);
                // The forks act only on rate limits and read on past other
                // error elements; refused credentials end the answer too.
                if matches!(
                    failure,
                    ProviderError::RateLimited(_)
                        | ProviderError::Unauthorized(_)
                        | ProviderError::Forbidden(_)
                ) {
                    return Err(failure);
                }
                self.upstream.platform().log(
                    Level::Warn,
                    &format!(
                        "an error element in the answer, reading on: {}",
                        crate::upstream::describe(&failure)
                    ),
                );
                self.stream_error = Some(error);
            }
        }
        Ok(())
    }

    fn end_of_stream(&mut self) -> Result<(), ProviderError> {
        let verdict = self.tally.verdict();
        if verdict != Verdict::Answered
            && let Some(error) = &self.stream_error
        {
            // No answer came after the error element: it is the failure.
            return Err(self.upstream.classifier.in_stream(error));
        }
        match verdict {
            Verdict::Answered => {}
            Verdict::Skipped(reasons) => {
                return Err(ProviderError::ContentFiltered(format!(
                    "Gemini Business skipped the answer: {}",
                    if reasons.is_empty() {
                        "no reason given".to_string()
                    } else {
                        reasons.join(", ")
                    }
                )));
            }
            Verdict::CredentialsRefused => {
                return Err(ProviderError::Unauthorized(
                    "widgetStreamAssist answered only a uToken: the credentials were not accepted"
                        .into(),
                ));
            }
            Verdict::ThoughtsOnly => {
                return Err(ProviderError::upstream(
                    502,
                    "the model thought but produced no answer",
                ));
            }
            Verdict::Empty => {
                return Err(ProviderError::upstream(502, "the answer was empty"));
            }
        }
        self.downloads = self.tally.files.iter().cloned().collect();
        self.phase = Phase::Downloading;
        Ok(())
    }

    fn download_next(&mut self, out: &mut Vec<Event>) -> Result<(), ProviderError> {
        let Some(file) = self.downloads.pop_front() else {
            let reason = if self.tally.skipped.is_some() {
                FinishReason::ContentFilter
            } else {
                FinishReason::Stop
            };
            out.push(Event::Finish(reason));
            self.phase = Phase::Finished;
            return Ok(());
        };
        let session = self.file_session(&file.file_id);
        let (data, content_type) = self.upstream.download(&session, &file.file_id)?;
        let mime_type = content_type
            .filter(|t| t.starts_with("image/") || t.starts_with("video/"))
            .unwrap_or_else(|| file.mime().to_string());
        out.push(Event::Image(Media { mime_type, data }));
        Ok(())
    }

    /// The session path to download a file from: the full path the
    /// metadata call gives, else the answer's session, else ours.
    fn file_session(&mut self, file_id: &str) -> String {
        let named = self
            .tally
            .session
            .clone()
            .unwrap_or_else(|| self.session.clone());
        let listed = self
            .file_sessions
            .get_or_insert_with(|| self.upstream.generated_file_sessions(&named));
        listed
            .iter()
            .find(|(id, _)| id == file_id)
            .map(|(_, session)| session.clone())
            .unwrap_or(named)
    }
}
