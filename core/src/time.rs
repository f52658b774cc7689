//! The clock-free time type every time-dependent call takes.
//!
//! The core never reads a clock. Callers pass `now` as an [`Instant`]: a
//! point on a monotonic timeline measured from an epoch the caller chooses
//! (for example the moment the process started). Because it is only a
//! [`Duration`] since that epoch it works without `std`, and transcripts are
//! reproducible: the same inputs at the same instants give the same outputs.

use core::fmt;
use core::ops::{Add, AddAssign, Sub};
use core::time::Duration;

/// A point in time, as the [`Duration`] elapsed since a caller-chosen epoch.
///
/// ```
/// use core::time::Duration;
/// use wscore::Instant;
///
/// let start = Instant::ZERO;
/// let later = start + Duration::from_millis(250);
/// assert_eq!(later.saturating_duration_since(start), Duration::from_millis(250));
/// assert_eq!(start.saturating_duration_since(later), Duration::ZERO);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(Duration);

impl Instant {
    /// The epoch itself.
    pub const ZERO: Instant = Instant(Duration::ZERO);

    /// The instant `elapsed` after the epoch.
    pub const fn from_elapsed(elapsed: Duration) -> Self {
        Instant(elapsed)
    }

    /// The time elapsed since the epoch.
    pub const fn elapsed_since_epoch(self) -> Duration {
        self.0
    }

    /// How long after `earlier` this instant is, or zero if it is not later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        self.0.saturating_sub(earlier.0)
    }

    /// `self + d`, saturating instead of overflowing: a deadline that far
    /// away is the same as no deadline.
    pub fn saturating_add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(d))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, rhs: Duration) -> Instant {
        self.saturating_add(rhs)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, rhs: Duration) {
        *self = *self + rhs;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_duration_since(rhs)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Instant({:?})", self.0)
    }
}
