//! Taking an engine with nothing in flight apart into its transport, its
//! clock and the core's hibernation record, waiting on those alone for
//! the next thing that concerns the connection, and putting the engine
//! back together around them.

use std::io;
use std::task::{Context, Poll};

use crate::io::Transport;
use bytes::BytesMut;
use wscore::{Connection, HibernateError, Hibernated, Instant};

use super::read::{read_shared, Shared, FIRST_WINDOW};
use super::{Clock, Engine};
use crate::{Config, Error, Timer};

/// Bytes a hibernated engine reads at a time when the thread's shared read
/// buffer is taken, into a buffer on the stack: a sleeping connection
/// holds no read window.
const BUSY_READ: usize = 1 << 10;

/// A hibernated engine: the transport, the clock (its epoch, which the
/// record's deadlines are measured on, and its one timer), the record,
/// and the core's next deadline, the one the timer waits for.
pub(crate) struct Parts<S, T> {
    io: S,
    clock: Clock<T>,
    record: Hibernated,
    deadline: Option<Instant>,
}

/// What woke a hibernated engine.
#[derive(Debug)]
pub(crate) enum Wake {
    /// The peer sent these bytes.
    Input(BytesMut),
    /// The transport's input ended.
    Eof,
    /// The transport failed.
    Failed(io::Error),
    /// The core's next deadline passed.
    Deadline,
    /// The deadline the owner gave [`Parts::poll_wake`] passed; the
    /// engine need not be rebuilt for it.
    Alarm,
    /// Something else concerns the connection (what its owner queued).
    Queued,
}

impl<S, T> Parts<S, T> {
    /// The core's record, for its size.
    pub(crate) fn record(&self) -> &Hibernated {
        &self.record
    }
}

impl<S, T: Timer> Parts<S, T> {
    /// The connection's `now`, on the clock the record's deadlines use.
    pub(crate) fn now(&self) -> Instant {
        self.clock.now()
    }
}

impl<S, T> Parts<S, T>
where
    S: Transport,
    T: Timer,
{
    /// Waits for bytes, the end of the input, the core's next deadline,
    /// or `alarm`, a deadline of the owner's on the same clock. The one
    /// timer waits for the earlier of the two deadlines.
    pub(crate) fn poll_wake(&mut self, cx: &mut Context<'_>, alarm: Option<Instant>) -> Poll<Wake> {
        let earliest = match (self.deadline, alarm) {
            (Some(core), Some(alarm)) => Some(core.min(alarm)),
            (core, alarm) => core.or(alarm),
        };
        if let Some(at) = earliest {
            if self.clock.poll_deadline(at, cx).is_ready() {
                // Both may have passed: the core's goes first, and the
                // rebuilt connection's owner sees the other when it polls.
                return Poll::Ready(if self.deadline == Some(at) {
                    Wake::Deadline
                } else {
                    Wake::Alarm
                });
            }
        }
        let read = match read_shared(&mut self.io, cx, FIRST_WINDOW) {
            Shared::Read(bytes) => return Poll::Ready(Wake::Input(bytes)),
            Shared::Other(read) => read.map(|read| read.map(|_| ())),
            Shared::Busy => {
                // The shared buffer is in use further up this thread's
                // stack: a small one of the sleeper's own.
                let mut buf = [0u8; BUSY_READ];
                loop {
                    match self.io.poll_read_slice(cx, &mut buf) {
                        Poll::Ready(Ok(n)) if n > 0 => {
                            let read = buf.get(..n).unwrap_or_default();
                            return Poll::Ready(Wake::Input(BytesMut::from(read)));
                        }
                        Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                        other => break other.map(|read| read.map(|_| ())),
                    }
                }
            }
        };
        match read {
            Poll::Ready(Ok(())) => Poll::Ready(Wake::Eof),
            Poll::Ready(Err(e)) => Poll::Ready(Wake::Failed(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S, T> Engine<S, T>
where
    S: Transport,
    T: Timer,
{
    /// Whether the engine can be taken apart now, and if not why: the
    /// connection is running, the engine holds no event, message, body or
    /// unwritten byte, and the core can hibernate.
    pub(crate) fn can_hibernate(&self) -> Result<(), HibernateError> {
        if !self.is_running() || self.input_ended || self.reader_elsewhere {
            return Err(HibernateError::NotOpen);
        }
        if !self.side.is_empty() {
            return Err(HibernateError::EventsPending);
        }
        if !self.assembler.is_idle() || !self.in_progress.is_idle() {
            return Err(HibernateError::MessageInProgress);
        }
        if !self.dropped.is_empty() {
            return Err(HibernateError::StreamsOpen);
        }
        if !self.out.is_empty() || self.out_bytes > 0 || self.needs_flush {
            return Err(HibernateError::OutputQueued);
        }
        self.conn.can_hibernate()
    }

    /// Takes the engine apart, giving back every buffer; the engine comes
    /// back unchanged with the reason when it cannot. `config` is the one
    /// it was built with.
    // As with `Connection::hibernate`: the engine comes in by value, and
    // boxing it on the way back would allocate on the path that is meant
    // to change nothing.
    #[allow(clippy::result_large_err)]
    pub(crate) fn hibernate(self, config: &Config) -> Result<Parts<S, T>, (Self, HibernateError)> {
        if let Err(error) = self.can_hibernate() {
            return Err((self, error));
        }
        let deadline = self.conn.poll_timeout();
        let Engine {
            conn,
            io,
            mut clock,
            ..
        } = self;
        match conn.hibernate() {
            Ok(record) => {
                // The timer was last polled by whoever drove the awake
                // connection, and a runtime keeps that task's waker, and
                // with it the task, as long as the timer lives. A sleeper
                // arms a fresh one if it has a deadline.
                clock.release_timer();
                Ok(Parts {
                    io,
                    clock,
                    record,
                    deadline,
                })
            }
            // Checked above; kept for a core that changes its mind.
            Err((conn, error)) => Err((Engine::assemble(io, conn, clock, config), error)),
        }
    }
}

impl<S, T> Engine<S, T>
where
    S: Transport,
    T: Timer,
{
    /// Puts a hibernated engine back together with `config` (the one it
    /// was built with) and hands it what woke it.
    pub(crate) fn resume(parts: Parts<S, T>, config: &Config, wake: Wake) -> Result<Self, Error> {
        let Parts {
            io, clock, record, ..
        } = parts;
        let conn = Connection::resume(record, config.core(), clock.now()).map_err(Error::Setup)?;
        let mut engine = Engine::assemble(io, conn, clock, config);
        match wake {
            Wake::Input(bytes) => {
                let queued = engine.conn.queued_bytes();
                engine.conn.handle_input_buf(engine.clock.now(), bytes);
                engine.answer_queued |= engine.conn.queued_bytes() > queued;
            }
            Wake::Eof => engine.on_eof(),
            Wake::Failed(error) => engine.fail_io(error),
            // The event loop fires the deadline; the owner writes what it
            // queued or handles its own alarm.
            Wake::Deadline | Wake::Queued | Wake::Alarm => {}
        }
        Ok(engine)
    }
}
