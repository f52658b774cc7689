//! UTF-8 for text messages: validation across fragment boundaries, and a
//! [`Bytes`] that is known to hold UTF-8.
//!
//! Validation is incremental so that a connection fails as soon as an invalid
//! sequence is certain, not when the message ends: a code point split between
//! two fragments is carried over (at most three bytes), and a prefix that can
//! never become valid is rejected at once.

use bytes::Bytes;
use core::{fmt, ops::Deref, str};

/// Validates a byte stream chunk by chunk: a code point split between
/// chunks is completed by the next one, and a prefix that can never become
/// valid (F4 90, past U+10FFFF) is rejected without waiting for more.
#[derive(Clone, Debug, Default)]
pub(crate) struct Utf8Validator {
    pending: [u8; 4],
    pending_len: u8,
}

/// Chunks shorter than this are checked for ASCII before validation.
const SHORT: usize = 64;

/// The input is not, and can never become, valid UTF-8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidUtf8;

impl Utf8Validator {
    /// Validates the next chunk. An incomplete code point at its end is
    /// remembered and completed by the next chunk.
    #[inline]
    pub(crate) fn feed(&mut self, chunk: &[u8]) -> Result<(), InvalidUtf8> {
        // Short ASCII, the common small message, is settled here: for short
        // input the validator only calls the standard library's, which
        // costs more than the look.
        if self.pending_len == 0 && chunk.len() < SHORT && chunk.is_ascii() {
            return Ok(());
        }
        self.feed_slow(chunk)
    }

    fn feed_slow(&mut self, mut chunk: &[u8]) -> Result<(), InvalidUtf8> {
        if self.pending_len > 0 {
            chunk = self.complete_pending(chunk)?;
            if self.pending_len > 0 {
                return Ok(());
            }
        }
        // The whole code points go through the faster validator, which
        // only says yes or no; a code point cut off at the end is looked
        // at on its own.
        let (whole, tail) = chunk.split_at(incomplete_end(chunk));
        if simdutf8::basic::from_utf8(whole).is_ok() {
            return self.check_tail(tail);
        }
        // Invalid in the middle, or the cut was not where it seemed: the
        // exact validator decides.
        self.check_tail(chunk)
    }

    /// Checks `bytes`, remembering an incomplete code point at their end
    /// and rejecting anything that can never become valid.
    fn check_tail(&mut self, bytes: &[u8]) -> Result<(), InvalidUtf8> {
        match simdutf8::compat::from_utf8(bytes) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_some() => Err(InvalidUtf8),
            Err(e) => self.remember(bytes.get(e.valid_up_to()..).unwrap_or_default()),
        }
    }

    /// Confirms that the stream did not end inside a code point.
    pub(crate) fn finish(&mut self) -> Result<(), InvalidUtf8> {
        let complete = self.pending_len == 0;
        self.pending_len = 0;
        if complete {
            Ok(())
        } else {
            Err(InvalidUtf8)
        }
    }

    /// Feeds bytes into the carried-over prefix until it forms a whole code
    /// point, returning the rest of `chunk`.
    fn complete_pending<'a>(&mut self, chunk: &'a [u8]) -> Result<&'a [u8], InvalidUtf8> {
        let mut rest = chunk;
        while let Some((&byte, tail)) = rest.split_first() {
            let len = usize::from(self.pending_len);
            let Some(slot) = self.pending.get_mut(len) else {
                return Err(InvalidUtf8);
            };
            *slot = byte;
            self.pending_len += 1;
            rest = tail;
            let bytes = self.pending.get(..len + 1).unwrap_or_default();
            match simdutf8::compat::from_utf8(bytes) {
                Ok(_) => {
                    self.pending_len = 0;
                    return Ok(rest);
                }
                Err(e) if e.error_len().is_some() => return Err(InvalidUtf8),
                Err(_) => {}
            }
        }
        Ok(rest)
    }

    fn remember(&mut self, tail: &[u8]) -> Result<(), InvalidUtf8> {
        let slot = self.pending.get_mut(..tail.len()).ok_or(InvalidUtf8)?;
        slot.copy_from_slice(tail);
        self.pending_len = tail.len() as u8;
        Ok(())
    }
}

/// Where the code point that `chunk` ends inside begins, or the length of
/// `chunk` if it ends on a boundary. Only the last three bytes are looked
/// at: a lead byte there whose sequence runs past the end starts an
/// incomplete code point.
/// Validates a whole message at once: nothing can be carried over, so the
/// faster yes-or-no validator decides alone.
#[inline]
pub(crate) fn validate(message: &[u8]) -> Result<(), InvalidUtf8> {
    if message.len() < SHORT && message.is_ascii() {
        return Ok(());
    }
    simdutf8::basic::from_utf8(message)
        .map(|_| ())
        .map_err(|_| InvalidUtf8)
}

fn incomplete_end(chunk: &[u8]) -> usize {
    let len = chunk.len();
    for back in 1..=len.min(3) {
        let at = len - back;
        let Some(&byte) = chunk.get(at) else {
            break;
        };
        if byte & 0xC0 != 0x80 {
            let needs = match byte {
                0xF0.. => 4,
                0xE0.. => 3,
                0xC0.. => 2,
                _ => 1,
            };
            return if needs > back { at } else { len };
        }
    }
    len
}

/// A [`Bytes`] that holds valid UTF-8: a text message's payload, shared
/// without copying.
///
/// ```
/// use wscore::Utf8Bytes;
///
/// let text = Utf8Bytes::from("héllo");
/// assert_eq!(text.as_str(), "héllo");
/// assert!(Utf8Bytes::try_from(bytes::Bytes::from_static(b"\xff")).is_err());
/// ```
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Utf8Bytes(Bytes);

impl Utf8Bytes {
    /// Wraps bytes the caller has already validated.
    pub(crate) fn from_validated(bytes: Bytes) -> Self {
        debug_assert!(str::from_utf8(&bytes).is_ok());
        Utf8Bytes(bytes)
    }

    /// A `&'static str` as `Utf8Bytes`, without copying.
    pub const fn from_static(s: &'static str) -> Self {
        Utf8Bytes(Bytes::from_static(s.as_bytes()))
    }

    /// The text.
    #[allow(unsafe_code)]
    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor either validates or takes a `str`; the
        // inner `Bytes` is never exposed mutably, so it stays valid UTF-8.
        unsafe { str::from_utf8_unchecked(&self.0) }
    }

    /// The underlying bytes.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// Unwraps into the underlying bytes.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl Deref for Utf8Bytes {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Utf8Bytes {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<[u8]> for Utf8Bytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl TryFrom<Bytes> for Utf8Bytes {
    type Error = InvalidUtf8;
    fn try_from(bytes: Bytes) -> Result<Self, InvalidUtf8> {
        simdutf8::basic::from_utf8(&bytes).map_err(|_| InvalidUtf8)?;
        Ok(Utf8Bytes(bytes))
    }
}

impl From<&'static str> for Utf8Bytes {
    fn from(s: &'static str) -> Self {
        Utf8Bytes::from_static(s)
    }
}

impl From<alloc::string::String> for Utf8Bytes {
    fn from(s: alloc::string::String) -> Self {
        Utf8Bytes(Bytes::from(s))
    }
}

impl From<Utf8Bytes> for Bytes {
    fn from(s: Utf8Bytes) -> Bytes {
        s.0
    }
}

impl PartialEq<str> for Utf8Bytes {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Utf8Bytes {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use quickcheck::quickcheck;

    fn chunked(data: &[u8], cuts: &[usize]) -> Result<(), InvalidUtf8> {
        let mut v = Utf8Validator::default();
        let mut rest = data;
        for &cut in cuts {
            let at = if rest.is_empty() {
                0
            } else {
                cut % (rest.len() + 1)
            };
            let (head, tail) = rest.split_at(at);
            v.feed(head)?;
            rest = tail;
        }
        v.feed(rest)?;
        v.finish()
    }

    quickcheck! {
        fn agrees_with_std_under_any_chunking(data: Vec<u8>, cuts: Vec<usize>) -> bool {
            chunked(&data, &cuts).is_ok() == str::from_utf8(&data).is_ok()
        }

        fn whole_message_validation_agrees_with_std(data: Vec<u8>) -> bool {
            validate(&data).is_ok() == str::from_utf8(&data).is_ok()
        }

        fn whole_valid_text_passes(text: alloc::string::String) -> bool {
            validate(text.as_bytes()).is_ok()
        }

        fn valid_text_passes_any_chunking(text: alloc::string::String, cuts: Vec<usize>) -> bool {
            chunked(text.as_bytes(), &cuts).is_ok()
        }
    }

    #[test]
    fn fails_fast_inside_a_code_point() {
        // Autobahn 6.4.x: the invalid byte arrives before the message ends.
        let mut v = Utf8Validator::default();
        assert!(v.feed("κόσμε".as_bytes()).is_ok());
        assert!(v.feed(b"\xf4").is_ok());
        assert_eq!(v.feed(b"\x90"), Err(InvalidUtf8));
    }

    #[test]
    fn byte_by_byte_rejects_surrogates() {
        let mut v = Utf8Validator::default();
        assert!(v.feed(b"\xed").is_ok());
        assert_eq!(v.feed(b"\xa0"), Err(InvalidUtf8));
    }

    #[test]
    fn split_code_point_completes_and_impossible_prefix_fails_at_once() {
        let mut v = Utf8Validator::default();
        // "€" is E2 82 AC, split across two chunks.
        assert!(v.feed(b"price: \xe2\x82").is_ok());
        assert!(v.feed(b"\xac").is_ok());
        assert!(v.finish().is_ok());

        let mut v = Utf8Validator::default();
        assert_eq!(v.feed(b"\xf4\x90"), Err(InvalidUtf8));
    }

    #[test]
    fn a_code_point_cut_at_any_byte_of_a_long_chunk_carries_over() {
        // Long enough for the block validator, with the cut in every place
        // of a four-byte character, and a byte that can start nothing.
        let text = "a".repeat(100) + "𝄞" + "b";
        for cut in 100..=104 {
            let mut v = Utf8Validator::default();
            let (head, tail) = text.as_bytes().split_at(cut);
            assert!(v.feed(head).is_ok(), "{cut}");
            assert!(v.feed(tail).is_ok(), "{cut}");
            assert!(v.finish().is_ok(), "{cut}");
        }
        let mut bad = "a".repeat(100).into_bytes();
        bad.push(0xF8);
        assert_eq!(Utf8Validator::default().feed(&bad), Err(InvalidUtf8));
    }

    #[test]
    fn truncated_end_is_invalid() {
        let mut v = Utf8Validator::default();
        assert!(v.feed(b"\xe2\x82").is_ok());
        assert_eq!(v.finish(), Err(InvalidUtf8));
    }
}
