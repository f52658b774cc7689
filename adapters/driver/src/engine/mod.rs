//! The poll loop that binds one [`Connection`] to one transport and one
//! timer: reading into a reusable buffer, writing ready transmits in
//! vectored batches, firing the core's deadlines, and the end of the
//! connection (draining, shutting the transport down).
//!
//! Every method takes the [`Context`] of whoever polls; nothing here knows
//! about tasks, halves or runtimes. This module holds the [`Engine`] and
//! its getters; each concern of the loop lives in a submodule.
//!
//! [`Context`]: std::task::Context

mod clock;
mod end;
mod events;
mod handshake;
mod parts;
mod read;
mod send;
mod write;

use std::collections::{BTreeSet, VecDeque};

use crate::io::Transport;
use bytes::{Bytes, BytesMut};
use wscore::{Closed, Connection, Instant, StreamId, Transmit};

use crate::assemble::Assembler;
use crate::side::{SideQueue, Target};
use crate::{Config, Timer};

pub(crate) use clock::Clock;
use end::Phase;
pub(crate) use events::BodyItem;
use events::InProgress;
pub(crate) use parts::{Parts, Wake};
use read::ReadTarget;
use read::FIRST_WINDOW;

/// One connection bound to its transport and timer.
pub(crate) struct Engine<S, T> {
    conn: Connection,
    io: S,
    clock: Clock<T>,
    /// The read window: initialized bytes that reads fill from the front.
    /// What was read is split off and handed to the core, which keeps
    /// received payloads as slices of it.
    read_buf: BytesMut,
    /// The size of the next read window: it starts small, doubles while
    /// reads fill it, up to `read_size`.
    window: usize,
    read_size: usize,
    /// What the next read goes into.
    read_target: ReadTarget,
    /// Transmits taken from the core and not yet completely written; each
    /// keeps its own progress (it is a [`Buf`](bytes::Buf)).
    out: VecDeque<Transmit>,
    /// Bytes left to write in `out`.
    out_bytes: usize,
    needs_flush: bool,
    write_limit: usize,
    /// Sends start a batch linger, which runs from the send: the core is
    /// told the time before each one.
    timed_sends: bool,
    /// A pong or close reply was queued while taking events.
    answer_queued: bool,
    /// Whole messages for the plain message API in incremental mode.
    assembler: Assembler,
    /// Events that arrived while a body was read, for the next taker.
    side: SideQueue,
    /// Streams dropped from `side` for its budget whose end has not come:
    /// their later pieces are discarded, their end becomes a failure.
    dropped: BTreeSet<StreamId>,
    in_progress: InProgress,
    /// A read returned 0: the transport sends nothing more.
    input_ended: bool,
    /// Bytes read from the transport so far: any frame received, even one
    /// the connection answers by itself, is activity for a hub member.
    input_total: u64,
    close_timeout: std::time::Duration,
    phase: Phase,
    closed: Option<Closed>,
    /// The stream has reported its end.
    finished: bool,
    /// The transport's `poll_close` completed.
    transport_closed: bool,
    closure_announced: bool,
    /// Another party (a read half) pulls the events; a writer waiting for
    /// the close handshake leaves them to it.
    pub(crate) reader_elsewhere: bool,
}

impl<S, T> Engine<S, T> {
    pub(crate) fn connection(&self) -> &Connection {
        &self.conn
    }

    pub(crate) fn io(&self) -> &S {
        &self.io
    }

    pub(crate) fn io_mut(&mut self) -> &mut S {
        &mut self.io
    }

    pub(crate) fn closed(&self) -> Option<&Closed> {
        self.closed.as_ref()
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.finished
    }

    /// True once, when the connection is first seen closed: a half that
    /// notices wakes the other, which may be waiting on it.
    pub(crate) fn take_closure_news(&mut self) -> bool {
        let ended = !self.is_running() || self.conn.is_closed();
        let news = ended && !self.closure_announced;
        self.closure_announced |= ended;
        news
    }

    /// Outbound bytes accepted and not yet written.
    pub(crate) fn buffered(&self) -> usize {
        self.conn.queued_bytes() + self.out_bytes
    }

    /// The connection's clock: the core's `now`, and the timer-clock
    /// instant its zero stands for.
    pub(crate) fn clock(&self) -> &Clock<T> {
        &self.clock
    }

    /// Bytes read from the transport so far.
    pub(crate) fn input_total(&self) -> u64 {
        self.input_total
    }

    /// Streams the message API passed over without a message.
    pub(crate) fn undelivered_streams(&self) -> u64 {
        self.assembler.undelivered()
    }

    /// Gives back the unread rest of a piece of `target` a body took.
    pub(crate) fn unread(&mut self, target: Target, data: Bytes) {
        self.side.unread(target, data);
    }

    fn is_running(&self) -> bool {
        matches!(self.phase, Phase::Running)
    }
}

impl<S, T> Engine<S, T>
where
    S: Transport,
    T: Timer,
{
    /// Builds the engine; `make` receives the connection's `now`.
    pub(crate) fn new<E>(
        io: S,
        config: &Config,
        make: impl FnOnce(Instant) -> Result<Connection, E>,
    ) -> Result<Self, E> {
        let clock = Clock::new();
        let conn = make(clock.now())?;
        Ok(Engine::assemble(io, conn, clock, config))
    }

    /// An engine around `conn` and `io` on `clock`, with nothing read,
    /// queued or in progress.
    fn assemble(io: S, conn: Connection, clock: Clock<T>, config: &Config) -> Self {
        Engine {
            conn,
            io,
            clock,
            read_buf: BytesMut::new(),
            window: config.read_buffer_size.clamp(1, FIRST_WINDOW),
            read_size: config.read_buffer_size.max(1),
            read_target: ReadTarget::Shared,
            out: VecDeque::new(),
            out_bytes: 0,
            needs_flush: false,
            write_limit: config.write_buffer_limit,
            timed_sends: !config.protocol.batch.linger.is_zero(),
            answer_queued: false,
            assembler: Assembler::new(config.protocol.stream.max_buffered),
            side: SideQueue::new(config.protocol.stream.max_buffered),
            dropped: BTreeSet::new(),
            in_progress: InProgress::default(),
            input_ended: false,
            input_total: 0,
            close_timeout: config.protocol.close_timeout,
            phase: Phase::Running,
            closed: None,
            finished: false,
            transport_closed: false,
            closure_announced: false,
            reader_elsewhere: false,
        }
    }
}
