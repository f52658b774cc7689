//! Reading: one read from the transport into a reusable window that grows
//! while reads fill it, handed to the core without a copy, and the end of
//! the transport's input.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::BytesMut;
use futures_io::{AsyncRead, AsyncWrite};

use super::Engine;
use crate::Timer;

/// The first read window of a connection, before reads show it needs more.
pub(super) const FIRST_WINDOW: usize = 4 << 10;

impl<S, T> Engine<S, T>
where
    S: AsyncRead + AsyncWrite + Unpin,
    T: Timer,
{
    /// One read from the transport, fed to the core.
    pub(super) fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.input_ended {
            // Nothing more will come; what is left is the core's events and
            // deadlines, which wake the caller themselves.
            return Poll::Pending;
        }
        if self.read_buf.len() < (self.window / 8).max(1) {
            // A fresh window. `resize` reuses the allocation once every
            // earlier chunk has been released, and zeroes it only here, once
            // per window rather than once per read.
            self.read_buf.clear();
            self.read_buf.resize(self.window, 0);
        }
        loop {
            match Pin::new(&mut self.io).poll_read(cx, &mut self.read_buf) {
                Poll::Ready(Ok(n)) => {
                    let n = n.min(self.read_buf.len());
                    if n == self.read_buf.len() && n >= self.window / 2 {
                        // The peer sends faster than this window takes.
                        self.window = (self.window * 2).min(self.read_size);
                    }
                    if n > 0 {
                        self.input_total += n as u64;
                        let chunk = self.read_buf.split_to(n);
                        let queued = self.conn.queued_bytes();
                        self.conn.handle_input_buf(self.clock.now(), chunk);
                        // Automatic answers and refusals are queued by the
                        // input itself; nobody else may write them soon.
                        self.answer_queued |= self.conn.queued_bytes() > queued;
                    }
                    return Poll::Ready(Ok(n));
                }
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Pending => {
                    // Nothing to read: an idle connection holds no window.
                    self.read_buf = BytesMut::new();
                    return Poll::Pending;
                }
                other => return other,
            }
        }
    }

    /// The transport's input ended: the core decides what that means (a
    /// normal end after the peer's close frame, `Closed` with 1006
    /// otherwise) and reports it through its events.
    pub(super) fn on_eof(&mut self) {
        self.input_ended = true;
        self.conn.handle_eof(self.clock.now());
    }
}
