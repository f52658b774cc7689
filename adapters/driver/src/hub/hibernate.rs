//! A dormant member of [`Served`](super::Served) hibernated: its
//! transport, its place in the hub and the core's record, waiting for
//! bytes, a deadline of its connection or something the hub queued for
//! it, and rebuilt into a member then.

use std::fmt;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::io::Transport;
use wscore::{Activity, HibernateError};

use super::member::Seat;
use crate::engine::{Parts, Wake};
use crate::{Config, Timer};

/// Why a dormant member of [`Served`](super::Served) stays awake
/// ([`HubEvent::HibernateRefused`](super::HubEvent::HibernateRefused)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HibernateRefusal {
    /// The connection has something in flight, or a compression window
    /// with context.
    Connection(HibernateError),
    /// The stream was given no configuration to rebuild members with
    /// ([`Served::with_config`](super::Served::with_config)).
    NoConfig,
}

impl fmt::Display for HibernateRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HibernateRefusal::Connection(error) => write!(f, "cannot hibernate: {error}"),
            HibernateRefusal::NoConfig => f.write_str("cannot hibernate: no configuration"),
        }
    }
}

impl std::error::Error for HibernateRefusal {}

/// A hibernated member: what it takes to rebuild it.
pub(super) struct Sleeper<S, T, R: Ord + Clone> {
    pub(super) parts: Parts<S, T>,
    /// Still registered: the hub queues for it and wakes it.
    pub(super) seat: Seat<R>,
    /// Dormant, or parked again by a frame the connection answered
    /// itself, on the clock kept in `parts`.
    pub(super) activity: Activity,
}

impl<S, T, R> Sleeper<S, T, R>
where
    S: Transport,
    T: Timer,
    R: Ord + Clone,
{
    /// Waits for something to do: a message or close the hub queued (its
    /// slot's waker is this task's), bytes, the end of the input, the
    /// connection's next deadline, or, while parked, the moment it would
    /// become dormant ([`Wake::Alarm`], for [`Sleeper::note_alarm`]). A
    /// member the hub no longer knows wakes to end.
    pub(super) fn poll_wake(&mut self, cx: &mut Context<'_>) -> Poll<Wake> {
        let queued = self.seat.hub.with_slot(self.seat.id, |slot| {
            slot.register(cx.waker());
            !slot.is_empty() || slot.is_closing()
        });
        if queued != Some(false) {
            return Poll::Ready(Wake::Queued);
        }
        // Dormant needs strictly more than the threshold: one tick past.
        let alarm = match self.seat.hub.config().dormant_after {
            Some(_) => self
                .activity
                .poll_timeout()
                .map(|at| at.saturating_add(Duration::from_nanos(1))),
            None => None,
        };
        self.parts.poll_wake(cx, alarm)
    }

    /// After [`Wake::Alarm`]: true once, when a parked sleeper became
    /// dormant; the hub is told, and the sleeper sleeps on.
    pub(super) fn note_alarm(&mut self) -> bool {
        if !self.activity.handle_timeout(self.parts.now()) {
            return false;
        }
        let liveness = self.activity.state();
        let _ = self
            .seat
            .hub
            .with_slot(self.seat.id, |slot| slot.set_liveness(liveness));
        true
    }

    /// Bytes held beyond the size of the sleeper itself.
    pub(super) fn heap_size(&self) -> usize {
        self.parts.record().heap_size()
    }
}

/// The configuration a member is rebuilt with, shared by every member.
pub(super) type Shared = std::sync::Arc<Config>;
