//! Sending commands: queueing messages, streams, pings and pongs (no IO),
//! the write-buffer limit that makes a sender wait, and flushing.

use std::task::{ready, Context, Poll};

use crate::io::Transport;
use bytes::Bytes;
use wscore::{Message, PreparedMessage, StreamId};

use super::end::Phase;
use super::Engine;
use crate::{Error, Timer};

impl<S, T> Engine<S, T>
where
    S: Transport,
    T: Timer,
{
    /// The error for a command on a connection that cannot send any more.
    fn send_state(&self) -> Result<(), Error> {
        if self.is_running() && self.conn.is_open() {
            Ok(())
        } else {
            Err(Error::Closed)
        }
    }

    /// Ready when a message may be queued: the connection is open and
    /// fewer than `write_buffer_limit` bytes wait to be written.
    pub(crate) fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.send_state()?;
        if self.buffered() <= self.write_limit {
            // Room: the message joins what is queued and goes out with it
            // at the next flush. Writing here would cost a write per message
            // and cut every batch at one message. Timers wait for the flush
            // or the next read, as a clock reading per message would cost
            // more than the message.
            return Poll::Ready(Ok(()));
        }
        self.poll_timers(cx);
        self.send_state()?;
        if let Poll::Ready(Err(e)) = self.poll_write(cx) {
            return Poll::Ready(Err(self.report_io(e)));
        }
        if self.buffered() > self.write_limit {
            // The write above returned `Pending`: the transport wakes us.
            return Poll::Pending;
        }
        Poll::Ready(Ok(()))
    }

    /// Queues a message (no IO).
    pub(crate) fn start_send(&mut self, message: Message) -> Result<(), Error> {
        self.send_state()?;
        if self.timed_sends {
            // Sends carry no time; telling the core the time first starts
            // a batch linger from now rather than from the last read.
            self.conn.handle_timeout(self.clock.now());
        }
        self.conn.send(message).map_err(Error::Send)
    }

    /// Queues a message framed beforehand (no IO).
    pub(crate) fn start_send_prepared(&mut self, message: &PreparedMessage) -> Result<(), Error> {
        self.send_state()?;
        if self.timed_sends {
            self.conn.handle_timeout(self.clock.now());
        }
        self.conn.send_prepared(message).map_err(Error::Send)
    }

    /// Whether a sender may queue more without waiting: what waits to be
    /// written is within `write_buffer_limit`.
    pub(crate) fn has_room(&self) -> bool {
        self.buffered() <= self.write_limit
    }

    /// Writes what the transport takes now, without waiting for the rest
    /// (the transport wakes the caller when it takes more). A transport
    /// failure ends the connection, to be reported by the event loop.
    pub(crate) fn poll_write_some(&mut self, cx: &mut Context<'_>) {
        if self.is_running() {
            if let Poll::Ready(Err(e)) = self.poll_write(cx) {
                self.fail_io(e);
            }
        }
    }

    /// Queues `payload` as a stream of the streamed envelope (no IO).
    pub(crate) fn start_stream(
        &mut self,
        payload: Bytes,
        metadata: Bytes,
    ) -> Result<StreamId, Error> {
        self.send_state()?;
        if self.timed_sends {
            self.conn.handle_timeout(self.clock.now());
        }
        self.conn
            .send_stream(payload, metadata)
            .map_err(Error::Send)
    }

    /// Opens a stream whose bytes are pushed later (no IO).
    pub(crate) fn open_stream(
        &mut self,
        total_len: u64,
        metadata: Bytes,
    ) -> Result<StreamId, Error> {
        self.send_state()?;
        self.conn
            .open_stream(total_len, metadata)
            .map_err(Error::Send)
    }

    /// Queues the next bytes of a pushed stream (no IO).
    pub(crate) fn push_stream(&mut self, id: StreamId, data: Bytes) -> Result<(), Error> {
        if !self.is_running() {
            return Err(Error::Closed);
        }
        self.conn.push_stream(id, data).map_err(Error::Send)
    }

    /// Stops sending stream `id` (no IO).
    pub(crate) fn abort_stream(&mut self, id: StreamId, reason: &str) -> Result<(), Error> {
        self.conn.abort_stream(id, reason).map_err(Error::Send)
    }

    /// Changes the connection's automatic answers (no IO).
    pub(crate) fn set_auto_response(&mut self, request: Message, response: Message) {
        self.conn.set_auto_response(request, response);
    }

    /// Queues a ping (no IO).
    pub(crate) fn ping(&mut self, payload: Bytes) -> Result<(), Error> {
        self.send_state()?;
        self.conn.ping(payload).map_err(Error::Send)
    }

    /// Queues an unsolicited pong (no IO).
    pub(crate) fn pong(&mut self, payload: Bytes) -> Result<(), Error> {
        self.send_state()?;
        self.conn.pong(payload).map_err(Error::Send)
    }

    /// Writes everything queued and flushes the transport.
    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.poll_timers(cx);
        if !self.is_running() {
            // What the end could not write is lost with the transport.
            return match &self.phase {
                Phase::Ending { writable: true, .. } => {
                    ready!(self.poll_shutdown(cx));
                    Poll::Ready(Ok(()))
                }
                _ if self.buffered() == 0 => Poll::Ready(Ok(())),
                _ => Poll::Ready(Err(Error::Closed)),
            };
        }
        match ready!(self.poll_write(cx)) {
            Ok(()) => Poll::Ready(Ok(())),
            Err(e) => Poll::Ready(Err(self.report_io(e))),
        }
    }
}
