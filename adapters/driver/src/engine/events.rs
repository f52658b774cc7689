//! The event loop: taking the core's events (the socket acts on some
//! itself), the side queue that holds events while a body is read, the
//! inbound streams and message in progress, and the drive that reads,
//! writes and fires deadlines until its caller has what it wants.

use std::collections::BTreeSet;
use std::task::{ready, Context, Poll};

use crate::io::Transport;
use bytes::Bytes;
use wscore::{Direction, Event as CoreEvent, Message, StreamError, StreamEvent, StreamId};

use super::Engine;
use crate::side::{Held, Target};
use crate::{Error, Event, Timer};

/// Reads in one poll before yielding to the executor, so a peer that only
/// sends control frames cannot monopolise a worker thread.
const READ_BUDGET: usize = 32;

/// Which events a caller of the event loop takes; the rest are dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Take {
    /// None: the socket is closing and nobody reads.
    Nothing,
    /// Whole messages, assembled from pieces in incremental mode.
    Messages,
    /// Every event, as it comes.
    Events,
}

/// What the socket makes of one event of the core.
enum Admitted {
    /// An event for the application.
    Event(Event),
    /// Nothing for the application (one the socket acted on, or a piece of
    /// a dropped stream).
    Skipped,
    /// The connection ended.
    Ended,
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
pub(super) struct InProgress {
    message: bool,
    streams: BTreeSet<StreamId>,
}

impl InProgress {
    /// Whether no body is being read.
    pub(super) fn is_idle(&self) -> bool {
        !self.message && self.streams.is_empty()
    }

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

impl<S, T> Engine<S, T>
where
    S: Transport,
    T: Timer,
{
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
            match self.admit_core_event(event) {
                Admitted::Event(event) => return Some(event),
                Admitted::Skipped => {}
                Admitted::Ended => return None,
            }
        }
    }

    /// What the socket makes of one event of the core (see
    /// [`Engine::take_core_event`]).
    fn admit_core_event(&mut self, event: CoreEvent) -> Admitted {
        if let CoreEvent::Closed(closed) = event {
            self.on_closed(*closed);
            return Admitted::Ended;
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
            return Admitted::Skipped;
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
                    return Admitted::Skipped;
                }
                self.dropped.remove(&id);
                return Admitted::Event(Event::Stream(StreamEvent::Failed {
                    id,
                    direction: Direction::Inbound,
                    error: StreamError::BufferLimit,
                }));
            }
        }
        Admitted::Event(event)
    }

    /// Takes events (those held in the side queue first) until one `take`
    /// wants or nothing is left.
    fn next_event(&mut self, take: Take) -> Option<Event> {
        // The message API's common case, a whole message from the core with
        // nothing held aside, goes straight out: the general path below
        // would hand it on unchanged, through every step.
        if take == Take::Messages && self.side.is_empty() {
            let queued = self.conn.queued_bytes();
            let event = self.conn.poll_event()?;
            self.answer_queued |= self.conn.queued_bytes() > queued;
            let first = match event {
                CoreEvent::Message(message) => return Some(Event::Message(message)),
                other => match self.admit_core_event(other) {
                    Admitted::Event(event) => event,
                    Admitted::Skipped => return self.next_event_slow(take),
                    Admitted::Ended => return None,
                },
            };
            self.in_progress.note(&first);
            if let Some(message) = self.assembler.feed(first) {
                return Some(Event::Message(message));
            }
        }
        self.next_event_slow(take)
    }

    /// [`Engine::next_event`] for every case.
    fn next_event_slow(&mut self, take: Take) -> Option<Event> {
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
    pub(super) fn poll_events(&mut self, cx: &mut Context<'_>, take: Take) -> Poll<Option<Event>> {
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
        // The common case of a batched connection: the next message of a
        // batch already read goes straight out, with no drive step and no
        // event built and taken apart around it.
        if !self.answer_queued && self.side.is_empty() {
            if let Some(payload) = self.conn.poll_batched() {
                return Poll::Ready(Some(Ok(Message::Binary(payload))));
            }
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
}
