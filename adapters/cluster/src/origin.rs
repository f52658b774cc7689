//! Who published a message: a random 128-bit id drawn at each start of a
//! process's bridge.

use std::fmt;

/// The id of one running bridge, drawn at random when it starts; a
/// restarted process is a new origin, so its sequence numbers start over
/// without looking like a replay.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Origin(u128);

impl Origin {
    /// A fresh random id; `None` only if the system's random source fails.
    pub(crate) fn random() -> Option<Origin> {
        let mut bytes = [0; 16];
        getrandom::fill(&mut bytes).ok()?;
        Some(Origin(u128::from_be_bytes(bytes)))
    }

    /// The id as a number.
    pub fn get(self) -> u128 {
        self.0
    }

    /// The origin with this number (for tests and tools that read the wire).
    pub const fn from_raw(raw: u128) -> Origin {
        Origin(raw)
    }
}

impl fmt::Debug for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Origin({:032x})", self.0)
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}
