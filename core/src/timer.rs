//! The connection's deadlines, in one table indexed by [`Timer`].
//!
//! The next deadline handed to the caller is the minimum of the table, so
//! adding a timer never adds a code path to `poll_timeout`.

use crate::Instant;

/// Every deadline a connection can have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Timer {
    /// The handshake must complete by then.
    Handshake,
    /// Send a keepalive ping.
    Keepalive,
    /// The peer must have answered the keepalive ping.
    Pong,
    /// No message in either direction for the idle timeout.
    Idle,
    /// The peer must have answered our close frame.
    Close,
    /// A lingering batch must be written.
    Linger,
    /// The oldest inbound stream expires.
    StreamTtl,
}

impl Timer {
    const ALL: [Timer; 7] = [
        Timer::Handshake,
        Timer::Keepalive,
        Timer::Pong,
        Timer::Idle,
        Timer::Close,
        Timer::Linger,
        Timer::StreamTtl,
    ];

    const fn index(self) -> usize {
        self as usize
    }
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Timers {
    deadlines: [Option<Instant>; Timer::ALL.len()],
}

impl Timers {
    pub(crate) fn set(&mut self, timer: Timer, at: Instant) {
        if let Some(slot) = self.deadlines.get_mut(timer.index()) {
            *slot = Some(at);
        }
    }

    pub(crate) fn clear(&mut self, timer: Timer) {
        if let Some(slot) = self.deadlines.get_mut(timer.index()) {
            *slot = None;
        }
    }

    pub(crate) fn clear_all(&mut self) {
        self.deadlines = Default::default();
    }

    /// The deadline of `timer`, if set.
    pub(crate) fn get(&self, timer: Timer) -> Option<Instant> {
        self.deadlines.get(timer.index()).copied().flatten()
    }

    pub(crate) fn is_set(&self, timer: Timer) -> bool {
        self.deadlines
            .get(timer.index())
            .is_some_and(Option::is_some)
    }

    pub(crate) fn next(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// Takes the earliest timer that has expired at `now`, clearing it.
    pub(crate) fn take_expired(&mut self, now: Instant) -> Option<Timer> {
        let timer = Timer::ALL
            .into_iter()
            .filter_map(|t| Some((t, (*self.deadlines.get(t.index())?)?)))
            .filter(|&(_, at)| at <= now)
            .min_by_key(|&(_, at)| at)
            .map(|(t, _)| t)?;
        self.clear(timer);
        Some(timer)
    }
}
