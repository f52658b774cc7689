//! Reading: one read from the transport, handed to the core, and the end
//! of the transport's input.
//!
//! A connection that holds no read window (every idle one) reads into a
//! buffer shared by every connection of its thread, and hands the core a
//! copy of exactly the bytes that came, as uWebSockets does: a message of
//! a few bytes costs an allocation of a few bytes, not a zeroed window,
//! and an idle connection owns no read buffer at all. A read that fills
//! the shared buffer means the peer is sending a lot: the connection then
//! reads into a window of its own, which grows while reads fill it and
//! whose chunks the core keeps without a copy, until a read finds nothing
//! and the window is let go.
//!
//! A frame too large for the reads that brought its start has its rest
//! read into the room the core sets aside right behind that start
//! ([`Connection::take_read_buffer`](wscore::Connection::take_read_buffer)),
//! one piece at a time, so the payload is assembled where it is read.
//!
//! A `futures-io` read fills a slice, so a window is zeroed once before
//! reads fill it, and each piece of a room just before its read. A
//! transport that reads into spare capacity
//! ([`Transport::READS_INTO_SPARE_CAPACITY`]) is read into the window and
//! the room as they are: nothing is zeroed, and the window holds no bytes
//! between reads.

use std::cell::RefCell;
use std::io;
use std::task::{Context, Poll};

use crate::io::Transport;
use bytes::BytesMut;

use super::Engine;
use crate::Timer;

/// The first read window of a connection, before reads show it needs more,
/// and the size of the buffer a thread's connections share.
pub(super) const FIRST_WINDOW: usize = 4 << 10;

thread_local! {
    /// The read buffer shared by the connections of this thread that hold
    /// no window: read into, copied out of, never kept.
    static SHARED: RefCell<Box<[u8]>> = RefCell::new(vec![0; FIRST_WINDOW].into_boxed_slice());
}

/// What the next read goes into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ReadTarget {
    /// The thread's shared buffer: the connection is idle or reads little.
    Shared,
    /// A window of the connection's own: the last read filled the shared
    /// buffer, so the peer is sending a lot.
    Window,
    /// The room the core set aside for the rest of a large frame: it is
    /// kept, through waits, until the frame is complete.
    Room,
}

/// What a read into the shared buffer gave.
pub(super) enum Shared {
    /// This many bytes, copied out.
    Read(BytesMut),
    /// The transport is done, or failed, or has nothing now.
    Other(Poll<io::Result<usize>>),
    /// The buffer is in use further up this thread's stack (a transport
    /// that is itself a connection of this thread): read elsewhere.
    Busy,
}

impl<S, T> Engine<S, T>
where
    S: Transport,
    T: Timer,
{
    /// One read from the transport, fed to the core.
    pub(super) fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.input_ended {
            // Nothing more will come; what is left is the core's events and
            // deadlines, which wake the caller themselves.
            return Poll::Pending;
        }
        if let Some(room) = self.conn.take_read_buffer() {
            self.read_buf = room;
            self.read_target = ReadTarget::Room;
        }
        if self.read_target == ReadTarget::Room && self.read_buf.capacity() == 0 {
            // The frame is complete. Its buffer is let go rather than
            // reclaimed for a window, so that it returns to the allocator
            // with the message and the next large frame can have it.
            self.read_buf = BytesMut::new();
            self.read_target = ReadTarget::Window;
        }
        if self.read_buf.is_empty() && self.read_target == ReadTarget::Shared {
            match self.read_shared(cx) {
                Shared::Read(chunk) => {
                    let n = chunk.len();
                    // Filled: the next reads get a window of their own.
                    if n >= self.window.min(FIRST_WINDOW) {
                        self.read_target = ReadTarget::Window;
                    }
                    self.feed(chunk);
                    return Poll::Ready(Ok(n));
                }
                Shared::Other(other) => return other,
                Shared::Busy => {}
            }
        }
        // How many bytes the read may bring: the bytes of the window or
        // room piece laid out for it.
        let offered = if S::READS_INTO_SPARE_CAPACITY {
            self.prepare_spare()
        } else {
            self.prepare_zeroed()
        };
        loop {
            let read = if S::READS_INTO_SPARE_CAPACITY {
                self.io.poll_read_buf(cx, &mut self.read_buf, offered)
            } else {
                self.io.poll_read_slice(cx, &mut self.read_buf)
            };
            match read {
                Poll::Ready(Ok(n)) => {
                    // Never more than the buffer holds, whatever the
                    // transport says.
                    let n = n.min(self.read_buf.len());
                    if n == offered && n >= self.window / 2 {
                        // The peer sends faster than this window takes.
                        self.window = (self.window * 2).min(self.read_size);
                    }
                    if n > 0 {
                        let chunk = self.read_buf.split_to(n);
                        self.feed(chunk);
                    }
                    return Poll::Ready(Ok(n));
                }
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Pending => {
                    // Nothing to read: an idle connection holds no window,
                    // and reads into the shared buffer again. A frame's
                    // room stays: its memory is the frame's.
                    if self.read_target != ReadTarget::Room {
                        self.read_buf = BytesMut::new();
                        self.read_target = ReadTarget::Shared;
                    }
                    return Poll::Pending;
                }
                other => return other,
            }
        }
    }

    /// Lays out initialized bytes for a `futures-io` read: the next piece
    /// of the room, zeroed just before the read fills it (at most one full
    /// read's worth), or a fresh window, zeroed once for all the reads
    /// that fill it. Returns how many bytes the read may bring.
    fn prepare_zeroed(&mut self) -> usize {
        if self.read_target == ReadTarget::Room {
            if self.read_buf.is_empty() {
                let piece = self.read_buf.capacity().min(self.read_size);
                self.read_buf.resize(piece, 0);
            }
        } else if self.read_buf.len() < (self.window / 8).max(1) {
            // `resize` reuses the allocation once every earlier chunk has
            // been released.
            self.read_buf.clear();
            self.read_buf.resize(self.window, 0);
        }
        self.read_buf.len()
    }

    /// Makes room for a read into spare capacity: the room as it is, or a
    /// fresh window once little of the last one is left. Nothing is zeroed
    /// and the buffer holds no bytes between reads. Returns how many bytes
    /// the read may bring.
    fn prepare_spare(&mut self) -> usize {
        if self.read_target != ReadTarget::Room
            && self.read_buf.capacity() < (self.window / 8).max(1)
        {
            // `reserve` takes the old allocation back once every earlier
            // chunk has been released.
            self.read_buf.clear();
            self.read_buf.reserve(self.window);
        }
        self.read_buf.capacity().min(self.read_size)
    }

    /// One read into the thread's shared buffer, at most a window's worth.
    fn read_shared(&mut self, cx: &mut Context<'_>) -> Shared {
        read_shared(&mut self.io, cx, self.window.min(FIRST_WINDOW))
    }

    /// Hands bytes read to the core.
    fn feed(&mut self, chunk: BytesMut) {
        self.input_total += chunk.len() as u64;
        let queued = self.conn.queued_bytes();
        self.conn.handle_input_buf(self.clock.now(), chunk);
        // Automatic answers and refusals are queued by the input itself;
        // nobody else may write them soon.
        self.answer_queued |= self.conn.queued_bytes() > queued;
    }

    /// The transport's input ended: the core decides what that means (a
    /// normal end after the peer's close frame, `Closed` with 1006
    /// otherwise) and reports it through its events.
    pub(super) fn on_eof(&mut self) {
        self.input_ended = true;
        self.conn.handle_eof(self.clock.now());
    }
}

/// One read from `io` into the thread's shared buffer, at most `limit`
/// bytes, copied out.
pub(super) fn read_shared<S: Transport>(io: &mut S, cx: &mut Context<'_>, limit: usize) -> Shared {
    SHARED.with(|shared| {
        let Ok(mut shared) = shared.try_borrow_mut() else {
            return Shared::Busy;
        };
        let buf = shared
            .get_mut(..limit.min(FIRST_WINDOW))
            .unwrap_or_default();
        loop {
            return match io.poll_read_slice(cx, buf) {
                Poll::Ready(Ok(n)) if n > 0 => {
                    Shared::Read(BytesMut::from(buf.get(..n).unwrap_or_default()))
                }
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => Shared::Other(other),
            };
        }
    })
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::Waker;

    use futures_io::AsyncRead;

    use super::*;

    /// Bytes to read, all at once.
    struct Bytes(&'static [u8]);

    impl AsyncRead for Bytes {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            let n = self.0.len().min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Poll::Ready(Ok(n))
        }
    }

    /// Writes go nowhere: these tests read.
    macro_rules! discard_writes {
        ($ty:ty) => {
            impl futures_io::AsyncWrite for $ty {
                fn poll_write(
                    self: Pin<&mut Self>,
                    _: &mut Context<'_>,
                    buf: &[u8],
                ) -> Poll<io::Result<usize>> {
                    Poll::Ready(Ok(buf.len()))
                }
                fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                    Poll::Ready(Ok(()))
                }
                fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                    Poll::Ready(Ok(()))
                }
            }
        };
    }
    discard_writes!(Bytes);
    discard_writes!(Nested);

    /// A transport that is itself read through the shared buffer, as a
    /// connection tunnelled through another connection of the same thread
    /// would be; it records whether it found the buffer taken.
    struct Nested {
        inner: Bytes,
        found_busy: bool,
    }

    impl AsyncRead for Nested {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            match read_shared(&mut self.inner, cx, FIRST_WINDOW) {
                Shared::Busy => {
                    self.found_busy = true;
                    Pin::new(&mut self.inner).poll_read(cx, buf)
                }
                Shared::Read(_) | Shared::Other(_) => {
                    panic!("the shared buffer was lent twice")
                }
            }
        }
    }

    #[test]
    fn a_read_copies_exactly_what_came() {
        let mut cx = Context::from_waker(Waker::noop());
        let mut io = Bytes(b"hello");
        let Shared::Read(chunk) = read_shared(&mut io, &mut cx, FIRST_WINDOW) else {
            panic!("no read");
        };
        assert_eq!(&chunk[..], b"hello");
        assert_eq!(chunk.capacity(), 5);
        let Shared::Other(Poll::Ready(Ok(0))) = read_shared(&mut io, &mut cx, FIRST_WINDOW) else {
            panic!("no end");
        };
    }

    #[test]
    fn a_read_takes_at_most_the_limit() {
        let mut cx = Context::from_waker(Waker::noop());
        let mut io = Bytes(b"hello");
        let Shared::Read(chunk) = read_shared(&mut io, &mut cx, 2) else {
            panic!("no read");
        };
        assert_eq!(&chunk[..], b"he");
    }

    #[test]
    fn a_transport_read_through_the_shared_buffer_finds_it_taken_and_reads_anyway() {
        let mut cx = Context::from_waker(Waker::noop());
        let mut io = Nested {
            inner: Bytes(b"tunnelled"),
            found_busy: false,
        };
        let Shared::Read(chunk) = read_shared(&mut io, &mut cx, FIRST_WINDOW) else {
            panic!("no read");
        };
        assert_eq!(&chunk[..], b"tunnelled");
        assert!(io.found_busy);
    }
}
