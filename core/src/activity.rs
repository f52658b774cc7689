//! Live, parked, dormant: how busy one connection is, from the side of the
//! application that holds it.
//!
//! A connection is **live** while the application handles one of its
//! events, **parked** while the application waits for the next one, and
//! **dormant** once it has stayed parked with nothing received for longer
//! than a threshold. Dormant connections are the ones a server may shed
//! or move to cheaper storage; a live one never becomes dormant, however
//! long its handler runs, because the application is still working on it.
//!
//! Pure bookkeeping: every call takes `now`, and the caller arms its own
//! timer at [`Activity::poll_timeout`].

use core::time::Duration;

use crate::Instant;

/// How busy a connection is; [`Activity`] follows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Liveness {
    /// The application is handling one of its events.
    Live,
    /// The application waits for its next event.
    Parked,
    /// Parked, with nothing received, for longer than the threshold.
    Dormant,
}

/// The [`Liveness`] of one connection, and when it would next change.
///
/// ```
/// use core::time::Duration;
/// use wscore::{Activity, Instant, Liveness};
///
/// let start = Instant::ZERO;
/// let mut activity = Activity::new(start, Duration::from_secs(30));
/// assert_eq!(activity.state(), Liveness::Parked);
/// let deadline = activity.poll_timeout().unwrap();
/// // Exactly the threshold is not enough; one tick more is.
/// assert!(!activity.handle_timeout(deadline));
/// assert!(activity.handle_timeout(deadline + Duration::from_nanos(1)));
/// assert_eq!(activity.state(), Liveness::Dormant);
/// ```
#[derive(Clone, Debug)]
pub struct Activity {
    state: Liveness,
    /// The last frame received, or the last change between live and
    /// parked: what the idle time counts from.
    last: Instant,
    dormant_after: Duration,
}

impl Activity {
    /// A parked connection whose last activity is `now`; it becomes dormant
    /// once parked and idle for strictly longer than `dormant_after`.
    pub fn new(now: Instant, dormant_after: Duration) -> Activity {
        Activity {
            state: Liveness::Parked,
            last: now,
            dormant_after,
        }
    }

    /// The application took an event: live, and active at `now`.
    pub fn handling(&mut self, now: Instant) {
        self.state = Liveness::Live;
        self.touch(now);
    }

    /// The application waits for the next event again: parked, idle from
    /// `now` on.
    pub fn parked(&mut self, now: Instant) {
        if self.state == Liveness::Live {
            self.touch(now);
        }
        if self.state != Liveness::Dormant {
            self.state = Liveness::Parked;
        }
    }

    /// A frame was received (one the connection answered by itself
    /// included): activity at `now`; a dormant connection is parked again.
    pub fn frame(&mut self, now: Instant) {
        self.touch(now);
        if self.state == Liveness::Dormant {
            self.state = Liveness::Parked;
        }
    }

    /// The current state.
    pub fn state(&self) -> Liveness {
        self.state
    }

    /// The threshold given to [`Activity::new`].
    pub fn dormant_after(&self) -> Duration {
        self.dormant_after
    }

    /// When a parked connection would be found dormant: the first instant
    /// past the threshold at which [`Activity::handle_timeout`] should be
    /// called. `None` while live or dormant.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            Liveness::Parked => Some(self.last.saturating_add(self.dormant_after)),
            Liveness::Live | Liveness::Dormant => None,
        }
    }

    /// Becomes dormant if parked and idle for strictly longer than the
    /// threshold; `true` exactly once per such change. A call at any other
    /// time changes nothing.
    pub fn handle_timeout(&mut self, now: Instant) -> bool {
        if self.state != Liveness::Parked {
            return false;
        }
        if now.saturating_duration_since(self.last) <= self.dormant_after {
            return false;
        }
        self.state = Liveness::Dormant;
        true
    }

    fn touch(&mut self, now: Instant) {
        // A caller's clock that steps back never moves the idle start back.
        if now > self.last {
            self.last = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const THRESHOLD: Duration = Duration::from_secs(10);
    const TICK: Duration = Duration::from_nanos(1);

    fn at(secs: u64) -> Instant {
        Instant::from_elapsed(Duration::from_secs(secs))
    }

    #[test]
    fn exactly_the_threshold_is_not_enough_and_one_tick_more_is() {
        let mut activity = Activity::new(at(0), THRESHOLD);
        assert_eq!(activity.poll_timeout(), Some(at(10)));
        assert!(!activity.handle_timeout(at(10)));
        assert_eq!(activity.state(), Liveness::Parked);
        assert!(activity.handle_timeout(at(10) + TICK));
        assert_eq!(activity.state(), Liveness::Dormant);
    }

    #[test]
    fn dormancy_is_reported_once() {
        let mut activity = Activity::new(at(0), THRESHOLD);
        assert!(activity.handle_timeout(at(11)));
        assert!(!activity.handle_timeout(at(12)));
        assert!(!activity.handle_timeout(at(100)));
        assert_eq!(activity.poll_timeout(), None);
        assert_eq!(activity.state(), Liveness::Dormant);
    }

    #[test]
    fn a_frame_wakes_a_dormant_connection_and_restarts_the_idle_time() {
        let mut activity = Activity::new(at(0), THRESHOLD);
        assert!(activity.handle_timeout(at(11)));
        activity.frame(at(20));
        assert_eq!(activity.state(), Liveness::Parked);
        assert_eq!(activity.poll_timeout(), Some(at(30)));
        assert!(!activity.handle_timeout(at(30)));
        assert!(activity.handle_timeout(at(30) + TICK));
    }

    #[test]
    fn a_frame_on_a_parked_connection_pushes_the_deadline() {
        let mut activity = Activity::new(at(0), THRESHOLD);
        activity.frame(at(5));
        assert!(!activity.handle_timeout(at(10) + TICK));
        assert_eq!(activity.poll_timeout(), Some(at(15)));
    }

    #[test]
    fn a_live_connection_is_never_made_dormant() {
        let mut activity = Activity::new(at(0), THRESHOLD);
        activity.handling(at(1));
        assert_eq!(activity.poll_timeout(), None);
        assert!(!activity.handle_timeout(at(1_000)));
        assert_eq!(activity.state(), Liveness::Live);
        // Idle time counts from when the application waits again.
        activity.parked(at(1_000));
        assert_eq!(activity.state(), Liveness::Parked);
        assert!(!activity.handle_timeout(at(1_010)));
        assert!(activity.handle_timeout(at(1_010) + TICK));
    }

    #[test]
    fn a_timeout_before_the_deadline_changes_nothing() {
        let mut activity = Activity::new(at(0), THRESHOLD);
        assert!(!activity.handle_timeout(at(3)));
        assert!(!activity.handle_timeout(at(0)));
        assert_eq!(activity.state(), Liveness::Parked);
        assert_eq!(activity.poll_timeout(), Some(at(10)));
    }

    #[test]
    fn waiting_again_while_dormant_stays_dormant() {
        let mut activity = Activity::new(at(0), THRESHOLD);
        assert!(activity.handle_timeout(at(11)));
        activity.parked(at(12));
        assert_eq!(activity.state(), Liveness::Dormant);
        assert!(!activity.handle_timeout(at(30)));
    }

    #[test]
    fn handling_a_dormant_connection_makes_it_live() {
        let mut activity = Activity::new(at(0), THRESHOLD);
        assert!(activity.handle_timeout(at(11)));
        activity.handling(at(12));
        assert_eq!(activity.state(), Liveness::Live);
        activity.parked(at(13));
        assert_eq!(activity.poll_timeout(), Some(at(23)));
    }

    #[test]
    fn a_clock_stepping_back_does_not_move_the_idle_start_back() {
        let mut activity = Activity::new(at(5), THRESHOLD);
        activity.frame(at(2));
        assert_eq!(activity.poll_timeout(), Some(at(15)));
    }
}
