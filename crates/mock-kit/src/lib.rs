//! What every mock upstream shares, so each mock is only its protocol:
//!
//! - [`serve`]: a router on an ephemeral loopback port, stopped on drop,
//!   and [`Running`], the handle a test holds;
//! - [`Controls`]: what a test does with any mock (its [`Recorder`] of
//!   every request in arrival order, and its hold);
//! - [`Recorder`]: every request in arrival order, numbered from 1;
//! - [`Gate`]: answers held until the test releases them, and
//!   [`HoldSwitch`], a mock-wide hold that stays released once released;
//! - [`paced_body`]: a body sent piece by piece, N ms apart, optionally held
//!   after its first piece or cut off with a connection reset;
//! - [`requested_scenario`]: the one scenario convention (see there);
//! - [`HttpRecord`], [`read_whole`]: what every mock keeps of a request;
//! - [`header_pairs`], [`find_header`]: headers as a record keeps them;
//! - [`percent_decode`], [`form_decode`]: paths, queries and forms.

mod controls;
mod encoding;
mod gate;
mod headers;
mod pace;
mod received;
mod record;
mod scenario;
mod serve;
mod switch;

pub use controls::{Controls, Hold};
pub use encoding::{form_decode, percent_decode};
pub use gate::Gate;
pub use headers::{find_header, header_pairs};
pub use pace::{Ending, Pacing, paced_body};
pub use received::{HttpRecord, read_whole};
pub use record::Recorder;
pub use scenario::{SCENARIO_HEADER, SCENARIO_MARK, requested_scenario, scenario_of};
pub use serve::{ReleaseHeld, Running, Served, serve, serve_on, serve_with};
pub use switch::HoldSwitch;

/// A poisoned lock only means a handler panicked; the data is still usable.
pub fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Lets a mock's type answer for what it keeps: its handle for its
/// [`Controls`] (`requests()`, `release()`…), its request record for the
/// [`HttpRecord`] inside (`path`, `header()`…):
/// `mock_kit::deref_to!(MockUpstream => shared.controls: Controls<RecordedRequest>);`
#[macro_export]
macro_rules! deref_to {
    ($outer:ty => $($field:ident).+ : $target:ty) => {
        impl std::ops::Deref for $outer {
            type Target = $target;
            fn deref(&self) -> &$target {
                &self.$($field).+
            }
        }
    };
}
