//! The connection's clock and its timer glue: the per-connection epoch
//! that turns the timer's clock into the core's `now`, the one timer
//! re-armed to whatever deadline the core asks for, and the firing of the
//! core's deadlines while the connection runs.

use std::task::{Context, Poll};

use crate::io::Transport;
use wscore::{Connection, Instant};

use super::Engine;
use crate::Timer;

/// Deadlines fired in one poll: a guard against a timer that keeps
/// reporting ready before the clock reaches its deadline.
const TIMER_BUDGET: usize = 16;

/// The connection's clock: a per-connection epoch on the timer's clock,
/// and one timer object re-armed to whatever deadline the core asks for.
pub(crate) struct Clock<T> {
    base: std::time::Instant,
    timer: Option<T>,
    armed: Option<Instant>,
}

impl<T: Timer> Clock<T> {
    pub(crate) fn new() -> Self {
        Clock {
            base: T::now(),
            timer: None,
            armed: None,
        }
    }

    /// Drops the timer (and the waker it was last polled with); the next
    /// deadline builds a new one.
    pub(crate) fn release_timer(&mut self) {
        self.timer = None;
        self.armed = None;
    }

    /// The timer-clock instant the core's `Instant::ZERO` stands for.
    pub(crate) fn base(&self) -> std::time::Instant {
        self.base
    }

    pub(crate) fn now(&self) -> Instant {
        Instant::from_elapsed(T::now().saturating_duration_since(self.base))
    }

    /// Arms the timer for `deadline` and polls it; `Ready` once it passed.
    pub(crate) fn poll_deadline(&mut self, deadline: Instant, cx: &mut Context<'_>) -> Poll<()> {
        if deadline <= self.now() {
            self.armed = None;
            return Poll::Ready(());
        }
        // A deadline too far to represent never comes.
        let Some(at) = self.base.checked_add(deadline.elapsed_since_epoch()) else {
            return Poll::Pending;
        };
        if self.armed != Some(deadline) {
            match &mut self.timer {
                Some(timer) => timer.reset(at),
                None => self.timer = Some(T::new(at)),
            }
            self.armed = Some(deadline);
        }
        match &mut self.timer {
            Some(timer) => match timer.poll_expired(cx) {
                Poll::Ready(()) => {
                    self.armed = None;
                    Poll::Ready(())
                }
                Poll::Pending => Poll::Pending,
            },
            None => Poll::Pending,
        }
    }

    /// Fires every deadline of `conn` that has passed and leaves the timer
    /// armed for the next one. Returns whether anything fired.
    fn poll_connection(&mut self, conn: &mut Connection, cx: &mut Context<'_>) -> bool {
        let mut fired = false;
        for _ in 0..TIMER_BUDGET {
            let Some(deadline) = conn.poll_timeout() else {
                self.armed = None;
                return fired;
            };
            match self.poll_deadline(deadline, cx) {
                Poll::Ready(()) => {
                    // The timer may round; the core compares exactly.
                    conn.handle_timeout(self.now().max(deadline));
                    fired = true;
                }
                Poll::Pending => return fired,
            }
        }
        // Still firing: come back through the executor rather than spin.
        cx.waker().wake_by_ref();
        fired
    }
}

impl<S, T> Engine<S, T>
where
    S: Transport,
    T: Timer,
{
    /// Fires the core's deadlines while the connection runs; after the
    /// end the timer belongs to the drain deadline.
    pub(super) fn poll_timers(&mut self, cx: &mut Context<'_>) -> bool {
        self.is_running() && self.clock.poll_connection(&mut self.conn, cx)
    }
}
