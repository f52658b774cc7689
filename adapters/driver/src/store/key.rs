//! The durable identity of a connection: [`AttachmentKey`], its text form
//! (the stem of the attachment's file name) and its parse error.

use std::fmt;
use std::str::FromStr;

/// A connection's durable identity: unique across restarts of the same
/// store directory, never handed out twice.
///
/// It pairs the store's epoch (claimed durably by every
/// [`FsStore::open`](super::FsStore::open), so no two opens share one) with
/// a sequence number counted within that open. Its text form, used as the
/// stem of the attachment's file name, is two 16-digit lowercase hex
/// numbers joined by `-`:
///
/// ```
/// use wscore_driver::store::AttachmentKey;
///
/// let key = AttachmentKey::new(1, 42);
/// assert_eq!(key.to_string(), "0000000000000001-000000000000002a");
/// assert_eq!("0000000000000001-000000000000002a".parse(), Ok(key));
/// assert!("1-2a".parse::<AttachmentKey>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AttachmentKey {
    epoch: u64,
    seq: u64,
}

/// The length of a key's text form: two 16-digit hex numbers and a `-`.
pub(super) const KEY_TEXT_LEN: usize = 33;

impl AttachmentKey {
    /// The key numbered `seq` within the open of the store that claimed
    /// `epoch`. Stores make their own keys ([`new_key`]); this is for keys
    /// kept elsewhere as numbers.
    ///
    /// [`new_key`]: super::AttachmentStore::new_key
    #[must_use]
    pub const fn new(epoch: u64, seq: u64) -> Self {
        Self { epoch, seq }
    }

    /// The epoch: which open of the store handed the key out.
    #[must_use]
    pub const fn epoch(self) -> u64 {
        self.epoch
    }

    /// The sequence number within that open.
    #[must_use]
    pub const fn seq(self) -> u64 {
        self.seq
    }
}

impl fmt::Display for AttachmentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}-{:016x}", self.epoch, self.seq)
    }
}

/// Text that is not an [`AttachmentKey`]: anything but two 16-digit
/// lowercase hex numbers joined by `-`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseKeyError;

impl fmt::Display for ParseKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not an attachment key (expected 16 hex digits, '-', 16 hex digits)")
    }
}

impl std::error::Error for ParseKeyError {}

impl FromStr for AttachmentKey {
    type Err = ParseKeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // One spelling per key, so two file names never name the same key.
        let (epoch, seq) = s.split_once('-').ok_or(ParseKeyError)?;
        Ok(Self {
            epoch: parse_hex16(epoch)?,
            seq: parse_hex16(seq)?,
        })
    }
}

fn parse_hex16(s: &str) -> Result<u64, ParseKeyError> {
    let lowercase_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    if s.len() != 16 || !s.bytes().all(lowercase_hex) {
        return Err(ParseKeyError);
    }
    u64::from_str_radix(s, 16).map_err(|_| ParseKeyError)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips_at_the_extremes() {
        for key in [
            AttachmentKey::new(0, 0),
            AttachmentKey::new(u64::MAX, u64::MAX),
            AttachmentKey::new(0x0123_4567_89ab_cdef, 7),
        ] {
            let text = key.to_string();
            assert_eq!(text.len(), KEY_TEXT_LEN);
            assert_eq!(text.parse(), Ok(key));
        }
    }

    #[test]
    fn other_spellings_are_refused() {
        for text in [
            "",
            "-",
            "0000000000000001",
            "0000000000000001-000000000000002A",
            "0000000000000001-00000000000002a",
            "0000000000000001-0000000000000002a",
            "+000000000000001-000000000000002a",
            "0000000000000001_000000000000002a",
            "0000000000000001-000000000000002a-",
            "0000000000000001-000000000000002a.att",
        ] {
            assert_eq!(
                text.parse::<AttachmentKey>(),
                Err(ParseKeyError),
                "{text:?}"
            );
        }
    }
}
