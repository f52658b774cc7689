//! The end of the connection: the phases after `Running`, writing what
//! is left within the close timeout, shutting the transport down, reporting
//! the end once, and the close handshake the application starts.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use crate::io::Transport;
use wscore::{CloseCode, Closed, Instant};

use super::events::Take;
use super::Engine;
use crate::{Error, Timer};

/// Where the socket is in its life, as far as IO is concerned.
#[derive(Debug)]
pub(super) enum Phase {
    /// Reading and writing.
    Running,
    /// The connection is over (the core's `Closed` event, a transport
    /// failure, or the transport's end). Transmits still queued are written
    /// before the transport is shut down.
    Ending {
        /// The error not yet reported to a reader.
        error: Option<Error>,
        /// Whether the transport still accepts writes.
        writable: bool,
        /// Give up writing what is left at this instant.
        drain_deadline: Instant,
    },
    /// The transport has been shut down.
    Done {
        /// The error not yet reported to a reader.
        error: Option<Error>,
    },
}

impl<S, T> Engine<S, T>
where
    S: Transport,
    T: Timer,
{
    /// Shuts the transport down once; a failure is as good as done.
    fn poll_close_transport(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if !self.transport_closed {
            let _ = ready!(Pin::new(&mut self.io).poll_close(cx));
            self.transport_closed = true;
        }
        Poll::Ready(())
    }

    /// Leaves `Running`, keeping `error` for the reader. Writes continue
    /// only if the transport still takes them.
    pub(super) fn end(&mut self, error: Option<Error>, writable: bool) {
        if self.is_running() {
            self.phase = Phase::Ending {
                error,
                writable,
                drain_deadline: self.clock.now() + self.close_timeout,
            };
        }
    }

    pub(super) fn fail_io(&mut self, error: io::Error) {
        self.end(Some(Error::Io(error)), false);
    }

    pub(super) fn on_closed(&mut self, closed: Closed) {
        let error = Error::from_cause(&closed.cause);
        self.closed = Some(closed);
        self.end(error, true);
    }

    /// Writes what is left (bounded by the close timeout), then shuts the
    /// transport down. Errors are dropped: the connection is already over.
    pub(super) fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if let Phase::Ending {
            writable,
            drain_deadline,
            ..
        } = &mut self.phase
        {
            let deadline = *drain_deadline;
            if *writable {
                match self.poll_write(cx) {
                    Poll::Ready(_) => {}
                    Poll::Pending => {
                        if self.clock.poll_deadline(deadline, cx).is_pending() {
                            return Poll::Pending;
                        }
                    }
                }
                if let Phase::Ending { writable, .. } = &mut self.phase {
                    *writable = false;
                }
            }
            // Closing may wait for the transport (a TLS close_notify to
            // write); it is bounded by the same deadline.
            match self.poll_close_transport(cx) {
                Poll::Ready(_) => {}
                Poll::Pending => {
                    if self.clock.poll_deadline(deadline, cx).is_pending() {
                        return Poll::Pending;
                    }
                }
            }
            let error = match &mut self.phase {
                Phase::Ending { error, .. } => error.take(),
                _ => None,
            };
            self.phase = Phase::Done { error };
            self.out.clear();
            self.out_bytes = 0;
        }
        Poll::Ready(())
    }

    /// Once ended: finish the shutdown, then report the end once (the
    /// error if there is one), then `None` forever.
    pub(super) fn poll_end<R>(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<R, Error>>> {
        ready!(self.poll_shutdown(cx));
        let error = match &mut self.phase {
            Phase::Done { error } => error.take(),
            _ => None,
        };
        match error {
            Some(e) if !self.finished => Poll::Ready(Some(Err(e))),
            _ => {
                self.finished = true;
                Poll::Ready(None)
            }
        }
    }

    /// Ends the connection on a write error and returns the error for the
    /// caller; the reader is told as well.
    pub(super) fn report_io(&mut self, e: io::Error) -> Error {
        let error = Error::Io(e);
        let copy = error.duplicate();
        self.end(Some(error), false);
        copy
    }

    /// Starts the close handshake if the connection is open.
    pub(crate) fn start_close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        if self.is_running() && self.conn.is_open() {
            let now = self.clock.now();
            self.conn.close(now, code, reason).map_err(Error::Send)?;
        }
        Ok(())
    }

    /// Completes a close started with [`Engine::start_close`]: waits for
    /// the peer's close frame (or the deadline), then shuts the transport
    /// down. Messages that arrive meanwhile are dropped unless a read half
    /// takes them.
    pub(crate) fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if self.is_running() {
            if !self.reader_elsewhere {
                // Nobody else reads: take events here until the end.
                ready!(self.poll_events(cx, Take::Nothing));
            } else {
                // The read half takes the peer's close (and wakes us); the
                // deadlines and writes are driven from here too.
                self.poll_timers(cx);
                let closed = self.conn.is_closed();
                ready!(self.poll_write(cx)).map_err(|e| self.report_io(e))?;
                if !closed {
                    return Poll::Pending;
                }
                // The core is done; the reader may still have events to
                // take, but the transport can go now.
                ready!(self.poll_close_transport(cx));
                return Poll::Ready(Ok(()));
            }
        }
        ready!(self.poll_shutdown(cx));
        Poll::Ready(Ok(()))
    }
}
