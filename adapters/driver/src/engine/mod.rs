//! The poll loop that binds one [`Connection`] to one transport and one
//! timer: reading into a reusable buffer, writing ready transmits in
//! vectored batches, firing the core's deadlines, and the end of the
//! connection (draining, shutting the transport down).
//!
//! Every method takes the [`Context`] of whoever polls; nothing here knows
//! about tasks, halves or runtimes.

use std::collections::{BTreeSet, VecDeque};
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use futures_io::{AsyncRead, AsyncWrite};
use wscore::{
    Accept, CloseCode, Closed, Connection, Direction, Event as CoreEvent, Instant, Message, Reject,
    Request, Response, StreamError, StreamEvent, StreamId, Transmit,
};

use crate::assemble::Assembler;
use crate::side::{Held, SideQueue, Target};
use crate::{Config, Error, Event, Timer};

/// At most this many slices go into one vectored write (well under every
/// platform's `IOV_MAX`).
const MAX_SLICES: usize = 64;
/// Transmits are taken from the core until this many are waiting…
const MAX_PENDING_TRANSMITS: usize = MAX_SLICES / 2;
/// …or this many bytes, so a late pong waits behind little data.
const MAX_PENDING_BYTES: usize = 512 << 10;
/// Reads in one poll before yielding to the executor, so a peer that only
/// sends control frames cannot monopolise a worker thread.
const READ_BUDGET: usize = 32;
/// The first read window of a connection, before reads show it needs more.
const FIRST_WINDOW: usize = 4 << 10;
/// Deadlines fired in one poll: a guard against a timer that keeps
/// reporting ready before the clock reaches its deadline.
const TIMER_BUDGET: usize = 16;

/// The connection's clock: a per-connection epoch on the timer's clock,
/// and one timer object re-armed to whatever deadline the core asks for.
struct Clock<T> {
    base: std::time::Instant,
    timer: Option<T>,
    armed: Option<Instant>,
}

impl<T: Timer> Clock<T> {
    fn new() -> Self {
        Clock {
            base: T::now(),
            timer: None,
            armed: None,
        }
    }

    fn now(&self) -> Instant {
        Instant::from_elapsed(T::now().saturating_duration_since(self.base))
    }

    /// Arms the timer for `deadline` and polls it; `Ready` once it passed.
    fn poll_deadline(&mut self, deadline: Instant, cx: &mut Context<'_>) -> Poll<()> {
        if deadline <= self.now() {
            self.armed = None;
            return Poll::Ready(());
        }
        // A deadline too far to represent never comes.
        let Some(at) = self.base.checked_add(deadline.elapsed_since_epoch()) else {
            return Poll::Pending;
        };
        if self.armed != Some(deadline) {
            match &mut self.timer {
                Some(timer) => timer.reset(at),
                None => self.timer = Some(T::new(at)),
            }
            self.armed = Some(deadline);
        }
        match &mut self.timer {
            Some(timer) => match timer.poll_expired(cx) {
                Poll::Ready(()) => {
                    self.armed = None;
                    Poll::Ready(())
                }
                Poll::Pending => Poll::Pending,
            },
            None => Poll::Pending,
        }
    }

    /// Fires every deadline of `conn` that has passed and leaves the timer
    /// armed for the next one. Returns whether anything fired.
    fn poll_connection(&mut self, conn: &mut Connection, cx: &mut Context<'_>) -> bool {
        let mut fired = false;
        for _ in 0..TIMER_BUDGET {
            let Some(deadline) = conn.poll_timeout() else {
                self.armed = None;
                return fired;
            };
            match self.poll_deadline(deadline, cx) {
                Poll::Ready(()) => {
                    // The timer may round; the core compares exactly.
                    conn.handle_timeout(self.now().max(deadline));
                    fired = true;
                }
                Poll::Pending => return fired,
            }
        }
        // Still firing: come back through the executor rather than spin.
        cx.waker().wake_by_ref();
        fired
    }
}

/// Which events a caller of the event loop takes; the rest are dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Take {
    /// None: the socket is closing and nobody reads.
    Nothing,
    /// Whole messages, assembled from pieces in incremental mode.
    Messages,
    /// Every event, as it comes.
    Events,
}

/// What a body gets from one poll.
#[derive(Debug)]
pub(crate) enum BodyItem {
    /// The next piece.
    Piece(Bytes),
    /// The stream finished, or the message ended.
    End,
    /// The stream failed, or the connection ended first.
    Failed(StreamError),
    /// Other events filled the side budget: the rest goes to `next_event`.
    Interleaved,
    /// No such stream or message was handed out and is still going.
    NotInProgress,
}

/// The inbound streams and the message the application has seen begin
/// and not yet end: what a body may be asked for.
#[derive(Debug, Default)]
struct InProgress {
    message: bool,
    streams: BTreeSet<StreamId>,
}

impl InProgress {
    /// Follows an event handed out to the application.
    fn note(&mut self, event: &Event) {
        match event {
            Event::MessageStart(_) => self.message = true,
            Event::MessageEnd => self.message = false,
            Event::Stream(StreamEvent::Started { id, .. }) => {
                self.streams.insert(*id);
            }
            Event::Stream(
                StreamEvent::Finished { id }
                | StreamEvent::Failed {
                    id,
                    direction: Direction::Inbound,
                    ..
                },
            ) => {
                self.streams.remove(id);
            }
            _ => {}
        }
    }

    fn contains(&self, target: Target) -> bool {
        match target {
            Target::Message => self.message,
            Target::Stream(id) => self.streams.contains(&id),
        }
    }

    fn end(&mut self, target: Target) {
        match target {
            Target::Message => self.message = false,
            Target::Stream(id) => {
                self.streams.remove(&id);
            }
        }
    }
}

/// Where the socket is in its life, as far as IO is concerned.
#[derive(Debug)]
enum Phase {
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
    /// Transmits taken from the core and not yet completely written; each
    /// keeps its own progress (it is a [`Buf`]).
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
    S: AsyncRead + AsyncWrite + Unpin,
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
        Ok(Engine {
            conn,
            io,
            clock,
            read_buf: BytesMut::new(),
            window: config.read_buffer_size.clamp(1, FIRST_WINDOW),
            read_size: config.read_buffer_size.max(1),
            out: VecDeque::with_capacity(MAX_PENDING_TRANSMITS),
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
            close_timeout: config.protocol.close_timeout,
            phase: Phase::Running,
            closed: None,
            finished: false,
            transport_closed: false,
            closure_announced: false,
            reader_elsewhere: false,
        })
    }

    /// Fires the core's deadlines while the connection runs; after the
    /// end the timer belongs to the drain deadline.
    fn poll_timers(&mut self, cx: &mut Context<'_>) -> bool {
        self.is_running() && self.clock.poll_connection(&mut self.conn, cx)
    }

    // ---- the end of the connection ----

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
    fn end(&mut self, error: Option<Error>, writable: bool) {
        if self.is_running() {
            self.phase = Phase::Ending {
                error,
                writable,
                drain_deadline: self.clock.now() + self.close_timeout,
            };
        }
    }

    fn fail_io(&mut self, error: io::Error) {
        self.end(Some(Error::Io(error)), false);
    }

    fn on_closed(&mut self, closed: Closed) {
        let error = Error::from_cause(&closed.cause);
        self.closed = Some(closed);
        self.end(error, true);
    }

    /// Writes what is left (bounded by the close timeout), then shuts the
    /// transport down. Errors are dropped: the connection is already over.
    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<()> {
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
    fn poll_end<R>(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<R, Error>>> {
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

    // ---- writing ----

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
    fn poll_write(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            self.refill();
            if self.out.is_empty() {
                if self.needs_flush {
                    ready!(Pin::new(&mut self.io).poll_flush(cx))?;
                    self.needs_flush = false;
                }
                return Poll::Ready(Ok(()));
            }
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let count = gather(&self.out, &mut slices);
            let written = match Pin::new(&mut self.io)
                .poll_write_vectored(cx, slices.get(..count).unwrap_or_default())
            {
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

    // ---- reading ----

    /// One read from the transport, fed to the core.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
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
    fn on_eof(&mut self) {
        self.input_ended = true;
        self.conn.handle_eof(self.clock.now());
    }

    // ---- the event loop ----

    /// The core's next event for the application; `None` when it has none
    /// now or the connection just ended. The socket acts on some itself:
    /// pongs and close replies are queued by the core as the events are
    /// taken, and `Closed` ends the connection. Streams dropped from the
    /// side queue are finished here: their pieces vanish and their end is
    /// a failure.
    fn take_core_event(&mut self) -> Option<Event> {
        loop {
            let queued = self.conn.queued_bytes();
            let event = self.conn.poll_event()?;
            // Taking a batch's messages may queue automatic answers.
            self.answer_queued |= self.conn.queued_bytes() > queued;
            if let CoreEvent::Closed(closed) = event {
                self.on_closed(*closed);
                return None;
            }
            if matches!(
                event,
                CoreEvent::Ping(_)
                    | CoreEvent::CloseReceived(_)
                    | CoreEvent::Stream(StreamEvent::Failed {
                        direction: Direction::Inbound,
                        ..
                    })
            ) {
                // A pong, a close reply or a stream's refusal is queued:
                // the peer may be waiting for it.
                self.answer_queued = true;
            }
            let Some(event) = Event::from_core(event) else {
                continue;
            };
            if let Event::Stream(
                StreamEvent::Data { id, .. }
                | StreamEvent::Finished { id }
                | StreamEvent::Failed {
                    id,
                    direction: Direction::Inbound,
                    ..
                },
            ) = &event
            {
                if self.dropped.contains(id) {
                    let id = *id;
                    if matches!(event, Event::Stream(StreamEvent::Data { .. })) {
                        continue;
                    }
                    self.dropped.remove(&id);
                    return Some(Event::Stream(StreamEvent::Failed {
                        id,
                        direction: Direction::Inbound,
                        error: StreamError::BufferLimit,
                    }));
                }
            }
            return Some(event);
        }
    }

    /// Takes events (those held in the side queue first) until one `take`
    /// wants or nothing is left.
    fn next_event(&mut self, take: Take) -> Option<Event> {
        loop {
            let event = match self.side.pop_front() {
                Some(event) => event,
                None => self.take_core_event()?,
            };
            if take != Take::Nothing {
                self.in_progress.note(&event);
            }
            match take {
                Take::Nothing => {}
                Take::Events => {
                    if let Event::Stream(
                        StreamEvent::Finished { id }
                        | StreamEvent::Failed {
                            id,
                            direction: Direction::Inbound,
                            ..
                        },
                    ) = &event
                    {
                        // Ended in sight of the application: the message
                        // API has nothing more to gather for it.
                        self.assembler.forget(*id);
                    }
                    return Some(event);
                }
                Take::Messages => {
                    if let Some(message) = self.assembler.feed(event) {
                        return Some(Event::Message(message));
                    }
                }
            }
        }
    }

    /// The next piece of `target` for a body: from the side queue, or from
    /// the core, holding every other event in the side queue meanwhile.
    fn next_body_item(&mut self, target: Target) -> Option<BodyItem> {
        if let Some(event) = self.side.take_for(target) {
            return Some(self.body_item(target, event));
        }
        loop {
            let event = self.take_core_event()?;
            if target.owns(&event) {
                return Some(self.body_item(target, event));
            }
            match self.side.push(event) {
                Held::Kept => {}
                Held::Dropped(id) => {
                    self.dropped.insert(id);
                    self.assembler.pass_over(id);
                }
                Held::Full => return Some(BodyItem::Interleaved),
            }
        }
    }

    fn body_item(&mut self, target: Target, event: Event) -> BodyItem {
        match event {
            Event::MessageData(data) | Event::Stream(StreamEvent::Data { data, .. }) => {
                BodyItem::Piece(data)
            }
            Event::Stream(StreamEvent::Failed { error, .. }) => {
                self.end_target(target);
                BodyItem::Failed(error)
            }
            _ => {
                self.end_target(target);
                BodyItem::End
            }
        }
    }

    /// Drives the connection until an event `take` wants arrives or the
    /// connection ends (`Ready(None)`).
    fn poll_events(&mut self, cx: &mut Context<'_>, take: Take) -> Poll<Option<Event>> {
        self.poll_drive(cx, |engine| engine.next_event(take))
    }

    /// Drives the connection until `pick` finds what its caller wants or
    /// the connection ends (`Ready(None)`).
    fn poll_drive<R>(
        &mut self,
        cx: &mut Context<'_>,
        mut pick: impl FnMut(&mut Self) -> Option<R>,
    ) -> Poll<Option<R>> {
        let mut budget = READ_BUDGET;
        loop {
            // Events already taken from a read are handed out before the
            // transport is read again: an application that stops taking
            // them stops the reading, and what waits is at most one read
            // window.
            if let Some(event) = pick(self) {
                // A pong or close reply queued by the same read goes out
                // now rather than at the reader's next poll, which may be
                // far off. Only then: a write attempt per message would
                // cost more than the message.
                if self.answer_queued && self.is_running() {
                    self.answer_queued = false;
                    if let Poll::Ready(Err(e)) = self.poll_write(cx) {
                        self.fail_io(e);
                    }
                }
                return Poll::Ready(Some(event));
            }
            if !self.is_running() {
                return Poll::Ready(None);
            }
            if self.poll_timers(cx) {
                continue;
            }
            // Pongs and close replies go out even when nobody sends; a
            // blocked write does not stop reading.
            if let Poll::Ready(Err(e)) = self.poll_write(cx) {
                self.fail_io(e);
                continue;
            }
            if budget == 0 {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            budget -= 1;
            match ready!(self.poll_read(cx)) {
                Ok(0) => self.on_eof(),
                Ok(_) => {}
                Err(e) => self.fail_io(e),
            }
        }
    }

    /// The next message; `None` after the end has been reported.
    pub(crate) fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Message, Error>>> {
        if self.finished {
            return Poll::Ready(None);
        }
        match ready!(self.poll_events(cx, Take::Messages)) {
            Some(Event::Message(message)) => Poll::Ready(Some(Ok(message))),
            // Only messages come out of the assembler.
            Some(_) => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            None => self.poll_end(cx),
        }
    }

    /// The next piece of `target` for a body.
    pub(crate) fn poll_body(&mut self, cx: &mut Context<'_>, target: Target) -> Poll<BodyItem> {
        if !self.in_progress.contains(target) {
            return Poll::Ready(BodyItem::NotInProgress);
        }
        match ready!(self.poll_drive(cx, |engine| engine.next_body_item(target))) {
            Some(item) => Poll::Ready(item),
            None => {
                // The connection ended before the target did; its end (and
                // every event held meanwhile) is for `next_event`.
                self.in_progress.end(target);
                Poll::Ready(BodyItem::Failed(StreamError::ConnectionClosed))
            }
        }
    }

    /// A body saw the end of `target`.
    fn end_target(&mut self, target: Target) {
        self.in_progress.end(target);
        if let Target::Stream(id) = target {
            self.assembler.forget(id);
        }
    }

    /// The next event; `None` after the end has been reported.
    pub(crate) fn poll_next_event(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Event, Error>>> {
        if self.finished {
            return Poll::Ready(None);
        }
        match ready!(self.poll_events(cx, Take::Events)) {
            Some(event) => Poll::Ready(Some(Ok(event))),
            None => self.poll_end(cx),
        }
    }

    // ---- sending ----

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

    /// Ends the connection on a write error and returns the error for the
    /// caller; the reader is told as well.
    fn report_io(&mut self, e: io::Error) -> Error {
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

    // ---- the opening handshake ----

    /// Drives the handshake until the connection is open; a server asks
    /// `decide` about the request. Returns the response (clients).
    pub(crate) fn poll_handshake(
        &mut self,
        cx: &mut Context<'_>,
        decide: &mut impl FnMut(&Request) -> Result<Accept, Reject>,
    ) -> Poll<Result<Option<Response>, Error>> {
        loop {
            if self.is_running() {
                match self.conn.poll_event() {
                    Some(CoreEvent::Request(request)) => {
                        self.decide(&request, decide);
                        continue;
                    }
                    Some(CoreEvent::Connected(connected)) => {
                        return Poll::Ready(Ok(connected.response));
                    }
                    Some(CoreEvent::Closed(closed)) => {
                        self.on_closed(*closed);
                        continue;
                    }
                    Some(_) => continue,
                    None => {}
                }
            } else {
                ready!(self.poll_shutdown(cx));
                let error = match &mut self.phase {
                    Phase::Done { error } => error.take(),
                    _ => None,
                };
                self.finished = true;
                return Poll::Ready(Err(error.unwrap_or(Error::Closed)));
            }
            if self.poll_timers(cx) {
                continue;
            }
            if let Poll::Ready(Err(e)) = self.poll_write(cx) {
                self.fail_io(e);
                continue;
            }
            match ready!(self.poll_read(cx)) {
                Ok(0) => self.on_eof(),
                Ok(_) => {}
                Err(e) => self.fail_io(e),
            }
        }
    }

    /// Applies the application's decision; an answer the core cannot write
    /// (an unoffered subprotocol, a bad status) becomes a `500`.
    fn decide(
        &mut self,
        request: &Request,
        decide: &mut impl FnMut(&Request) -> Result<Accept, Reject>,
    ) {
        let now = self.clock.now();
        let answered = match decide(request) {
            Ok(accept) => self.conn.accept(now, accept),
            Err(reject) => self.conn.reject(reject),
        };
        if let Err(e) = answered {
            let _ = self.conn.reject(Reject::new(500));
            // Report what was wrong with the answer, not the 500.
            self.end(Some(Error::Send(e)), true);
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

#[cfg(test)]
mod tests {
    use super::*;
    use wscore::{Config as ProtocolConfig, Role};

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
    fn gather_stops_when_slices_run_out() {
        let out = transmits();
        let mut slices = [IoSlice::new(&[]); 3];
        assert_eq!(gather(&out, &mut slices), 3);
        let bytes: Vec<u8> = slices.iter().flat_map(|s| s.iter().copied()).collect();
        assert_eq!(bytes, b"\x82\x05hello\x81\x06");
    }
}
