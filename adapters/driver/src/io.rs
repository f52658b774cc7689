//! Helpers for transports that the runtime crates wrap.

use std::io::IoSlice;

/// Copies the leading slices of `bufs` into `scratch` when the first
/// non-empty one is smaller than it; `None` when that slice is big enough
/// to go alone.
///
/// For transports that write one slice per call (a TLS stream, a tokio
/// stream without vectored writes): gathering small slices keeps a frame
/// header from going out alone, in its own record or segment.
///
/// ```
/// use std::io::IoSlice;
///
/// let mut scratch = [0; 8];
/// let bufs = [IoSlice::new(b"ab"), IoSlice::new(b"cdefghij")];
/// assert_eq!(wscore_driver::io::coalesce(&bufs, &mut scratch), Some(&b"abcdefgh"[..]));
/// ```
pub fn coalesce<'a>(bufs: &[IoSlice<'_>], scratch: &'a mut [u8]) -> Option<&'a [u8]> {
    let mut bufs = bufs.iter().filter(|b| !b.is_empty()).peekable();
    if bufs.peek().is_some_and(|b| b.len() >= scratch.len()) {
        return None;
    }
    let mut filled = 0;
    for buf in bufs {
        let room = scratch.get_mut(filled..).unwrap_or_default();
        let n = room.len().min(buf.len());
        room.get_mut(..n)?.copy_from_slice(buf.get(..n)?);
        filled += n;
        if filled == scratch.len() {
            break;
        }
    }
    scratch.get(..filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coalesce_gathers_small_slices() {
        let mut scratch = [0; 8];
        let bufs = [
            IoSlice::new(b""),
            IoSlice::new(b"ab"),
            IoSlice::new(b"cdefghij"),
        ];
        assert_eq!(coalesce(&bufs, &mut scratch), Some(&b"abcdefgh"[..]));
        let big = [IoSlice::new(b"0123456789")];
        assert_eq!(coalesce(&big, &mut scratch), None);
        assert_eq!(coalesce(&[], &mut scratch), Some(&b""[..]));
    }
}
