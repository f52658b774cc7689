//! The one thing a runtime supplies: a clock and a resettable sleep.

use std::task::{Context, Poll};

/// A clock and a resettable sleep: all a runtime has to provide.
///
/// The socket keeps one timer per connection, created on the first
/// deadline and moved with [`Timer::reset`] after that.
pub trait Timer: Unpin + Sized {
    /// The current time on the clock this timer sleeps on (a runtime with
    /// a mockable clock returns its own notion of now here).
    fn now() -> std::time::Instant;

    /// A timer that expires at `deadline`.
    fn new(deadline: std::time::Instant) -> Self;

    /// Moves the deadline, whether or not the timer has expired.
    fn reset(&mut self, deadline: std::time::Instant);

    /// `Ready` once the deadline has passed; otherwise registers the waker.
    /// After `Ready` the socket polls again only after a
    /// [`reset`](Timer::reset).
    fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<()>;
}
