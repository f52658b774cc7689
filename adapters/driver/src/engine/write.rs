//! Writing: taking transmits from the core into a bounded batch, writing
//! the batch with vectored writes that reference the payloads, following
//! partial progress, and flushing the transport.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use crate::io::Transport;
use bytes::Buf;
use wscore::Transmit;

use super::Engine;
use crate::Timer;

/// At most this many slices go into one vectored write (well under every
/// platform's `IOV_MAX`).
const MAX_SLICES: usize = 64;
/// Transmits are taken from the core until this many are waiting…
const MAX_PENDING_TRANSMITS: usize = MAX_SLICES / 2;
/// …or this many bytes, so a late pong waits behind little data.
const MAX_PENDING_BYTES: usize = 512 << 10;
/// Room for transmits a connection keeps once everything is written.
const IDLE_TRANSMITS: usize = 4;
/// A batch of at most this many bytes is copied into one contiguous buffer
/// on the stack and written with a plain write: for small messages one
/// copy costs less than the kernel's walk over a header slice and a
/// payload slice per message.
const SMALL_WRITE: usize = 4 << 10;
/// The stack buffer for the smallest batches (a few short messages), so
/// they do not pay for clearing [`SMALL_WRITE`] bytes.
const TINY_WRITE: usize = 256;

impl<S, T> Engine<S, T>
where
    S: Transport,
    T: Timer,
{
    /// Takes transmits from the core while the batch has room.
    fn refill(&mut self) {
        while self.out.len() < MAX_PENDING_TRANSMITS && self.out_bytes < MAX_PENDING_BYTES {
            match self.conn.poll_transmit() {
                Some(t) if t.is_empty() => {}
                Some(t) => {
                    self.out_bytes += t.remaining();
                    self.out.push_back(t);
                }
                None => break,
            }
        }
    }

    /// Writes every transmit the core has ready, then flushes. `Ready(Ok)`
    /// means nothing is left to write.
    pub(super) fn poll_write(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            self.refill();
            if self.out.is_empty() {
                if self.out.capacity() > IDLE_TRANSMITS {
                    // A burst's room goes with the burst: an idle
                    // connection keeps room for a few transmits, not 32
                    // (2.5 KiB).
                    self.out = VecDeque::new();
                }
                if self.needs_flush {
                    ready!(Pin::new(&mut self.io).poll_flush(cx))?;
                    self.needs_flush = false;
                }
                return Poll::Ready(Ok(()));
            }
            let polled = if self.out_bytes <= TINY_WRITE {
                self.poll_write_copied::<TINY_WRITE>(cx)
            } else if self.out_bytes <= SMALL_WRITE {
                self.poll_write_copied::<SMALL_WRITE>(cx)
            } else {
                let mut slices = [IoSlice::new(&[]); MAX_SLICES];
                let count = gather(&self.out, &mut slices);
                Pin::new(&mut self.io)
                    .poll_write_vectored(cx, slices.get(..count).unwrap_or_default())
            };
            let written = match polled {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => n,
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            };
            self.advance(written);
            self.needs_flush = true;
        }
    }

    /// One plain write of the whole batch, copied into a buffer of `N`
    /// bytes on the stack (the batch is known to fit).
    fn poll_write_copied<const N: usize>(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<usize>> {
        let mut buf = [0u8; N];
        let len = copy_into(&self.out, &mut buf);
        Pin::new(&mut self.io).poll_write(cx, buf.get(..len).unwrap_or_default())
    }

    /// Marks `written` bytes of the batch as written, releasing the
    /// transmits that are complete.
    fn advance(&mut self, written: usize) {
        self.out_bytes = self.out_bytes.saturating_sub(written);
        let mut left = written;
        while left > 0 {
            let Some(front) = self.out.front_mut() else {
                break;
            };
            let remaining = front.remaining();
            if left >= remaining {
                left -= remaining;
                self.out.pop_front();
            } else {
                front.advance(left);
                left = 0;
            }
        }
    }
}

/// Fills `slices` with the unwritten bytes of `out`, in order; returns how
/// many slices were used. Payloads are referenced, never copied.
fn gather<'a>(out: &'a VecDeque<Transmit>, slices: &mut [IoSlice<'a>]) -> usize {
    let mut count = 0;
    let mut push = |bytes: &'a [u8]| {
        if bytes.is_empty() {
            return true;
        }
        match slices.get_mut(count) {
            Some(slot) => {
                *slot = IoSlice::new(bytes);
                count += 1;
                true
            }
            None => false,
        }
    };
    for transmit in out {
        let header = transmit.header();
        let payload = transmit.payload().as_ref();
        let remaining = transmit.remaining();
        let full = if remaining > payload.len() {
            let header_left = remaining - payload.len();
            let header_part = header
                .get(header.len().saturating_sub(header_left)..)
                .unwrap_or_default();
            push(header_part) && push(payload)
        } else {
            push(payload.get(payload.len() - remaining..).unwrap_or_default())
        };
        if !full {
            break;
        }
    }
    count
}

/// Copies the unwritten bytes of `out` into `buf`, in order, as far as
/// they fit; returns how many bytes were copied.
fn copy_into(out: &VecDeque<Transmit>, buf: &mut [u8]) -> usize {
    let mut slices = [IoSlice::new(&[]); MAX_SLICES];
    let count = gather(out, &mut slices);
    let mut len = 0;
    for slice in slices.iter().take(count) {
        let Some(dest) = buf.get_mut(len..len + slice.len()) else {
            break;
        };
        dest.copy_from_slice(slice);
        len += slice.len();
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use wscore::{Config as ProtocolConfig, Connection, Instant, Message, Role};

    fn transmits() -> VecDeque<Transmit> {
        let mut conn = Connection::upgraded(
            Role::Server,
            ProtocolConfig::default(),
            [0; 32],
            Instant::ZERO,
        )
        .unwrap();
        conn.send(Message::binary(Bytes::from_static(b"hello")))
            .unwrap();
        conn.send(Message::text("world!")).unwrap();
        let mut out = VecDeque::new();
        while let Some(t) = conn.poll_transmit() {
            out.push_back(t);
        }
        out
    }

    fn concat(out: &VecDeque<Transmit>) -> Vec<u8> {
        let mut slices = [IoSlice::new(&[]); MAX_SLICES];
        let n = gather(out, &mut slices);
        slices[..n].iter().flat_map(|s| s.iter().copied()).collect()
    }

    #[test]
    fn gather_follows_partial_progress() {
        let mut out = transmits();
        let all = concat(&out);
        assert_eq!(all, b"\x82\x05hello\x81\x06world!");
        // Part of the first header, then into the payload, then into the
        // second transmit.
        for step in [1, 3, 4] {
            let mut left = step;
            while left > 0 {
                let front = out.front_mut().unwrap();
                let take = left.min(front.remaining());
                front.advance(take);
                left -= take;
                if front.remaining() == 0 {
                    out.pop_front();
                }
            }
        }
        assert_eq!(concat(&out), &all[8..]);
    }

    #[test]
    fn copy_into_follows_partial_progress_and_stops_at_a_whole_slice() {
        let mut out = transmits();
        let mut buf = [0u8; 64];
        let n = copy_into(&out, &mut buf);
        assert_eq!(&buf[..n], b"\x82\x05hello\x81\x06world!");
        out.front_mut().unwrap().advance(3);
        let n = copy_into(&out, &mut buf);
        assert_eq!(&buf[..n], b"ello\x81\x06world!");
        // A buffer too small for the next slice stops before it.
        let mut small = [0u8; 6];
        let n = copy_into(&out, &mut small);
        assert_eq!(&small[..n], b"ello\x81\x06");
    }

    #[test]
    fn gather_stops_when_slices_run_out() {
        let out = transmits();
        let mut slices = [IoSlice::new(&[]); 3];
        assert_eq!(gather(&out, &mut slices), 3);
        let bytes: Vec<u8> = slices.iter().flat_map(|s| s.iter().copied()).collect();
        assert_eq!(bytes, b"\x82\x05hello\x81\x06");
    }
}
