//! Transports: what a socket reads and writes ([`Transport`]), and
//! helpers for the transports that the runtime crates wrap.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::BytesMut;
use futures_io::{AsyncRead, AsyncWrite};

/// What a [`Socket`](crate::Socket) runs over: a byte stream it writes as
/// a `futures-io` [`AsyncWrite`] and reads through this trait.
///
/// Every `futures-io` `AsyncRead + AsyncWrite + Unpin` type is a transport
/// as it is. A `futures-io` read fills a slice, which must be initialized
/// memory, so the socket zeroes each read buffer once before reads land in
/// it. A transport that can read into a buffer's spare capacity without
/// that (tokio's `ReadBuf` can) implements this trait itself instead of
/// `AsyncRead`, sets [`READS_INTO_SPARE_CAPACITY`], and the socket reads
/// large frames and busy connections' windows without zeroing them first:
/// `wscore-tokio`'s `TokioIo` does.
///
/// [`READS_INTO_SPARE_CAPACITY`]: Transport::READS_INTO_SPARE_CAPACITY
pub trait Transport: AsyncWrite + Unpin {
    /// Whether [`Transport::poll_read_buf`] reads into spare capacity as
    /// it is. If not (the default), the socket zeroes its buffers and
    /// reads into them with [`Transport::poll_read_slice`].
    const READS_INTO_SPARE_CAPACITY: bool = false;

    /// Reads into `buf`, as [`AsyncRead::poll_read`] does.
    fn poll_read_slice(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>>;

    /// Reads at most `max` bytes into the spare capacity of `buf` and
    /// appends them to it; the number of bytes read, `0` at the end of
    /// the stream. The socket calls it with spare capacity of at least
    /// `max` bytes, and `max` at least 1.
    ///
    /// The default zeroes `max` bytes and reads into them with
    /// [`Transport::poll_read_slice`].
    fn poll_read_buf(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
        max: usize,
    ) -> Poll<io::Result<usize>> {
        let start = buf.len();
        buf.resize(start + max, 0);
        let read = self.poll_read_slice(cx, buf.get_mut(start..).unwrap_or_default());
        let n = match &read {
            Poll::Ready(Ok(n)) => (*n).min(max),
            _ => 0,
        };
        buf.truncate(start + n);
        read.map_ok(|_| n)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Transport for S {
    #[inline]
    fn poll_read_slice(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        Pin::new(self).poll_read(cx, buf)
    }
}

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
