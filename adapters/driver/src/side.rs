//! The events that arrive while a [`Body`](crate::Body) is read and are not
//! its own: held in order for the next `next_event` or message call,
//! within `StreamConfig::max_buffered` bytes.
//!
//! When the budget would be exceeded, a piece of another stream drops that
//! stream (its queued pieces are released, its end is reported as
//! [`StreamError::BufferLimit`](wscore::StreamError::BufferLimit)); any other
//! event is kept and stops the body instead, whose remaining pieces then
//! follow through `next_event`. Nothing but the dropped stream is lost, and
//! what is held exceeds the budget by at most one event.
//!
//! Held pieces are copied: a piece is a slice of a read window, and a few
//! small pieces would otherwise keep whole windows alive, far past the
//! budget they are counted against. Only events that wait are copied; the
//! body's own pieces and everything `next_event` takes directly are not.

use std::collections::VecDeque;

use bytes::Bytes;
use wscore::{Direction, Message, StreamEvent, StreamId};

use crate::Event;

/// What an event costs beyond its bytes, so a flood of empty events is
/// bounded by the budget as well.
const EVENT_COST: usize = 64;

/// Whose pieces a body takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// An inbound stream of the streamed envelope.
    Stream(StreamId),
    /// The plain message in progress (incremental mode).
    Message,
}

impl Target {
    /// Whether `event` is a piece or the end of this target.
    pub(crate) fn owns(self, event: &Event) -> bool {
        match (self, event) {
            (
                Target::Stream(target),
                Event::Stream(
                    StreamEvent::Data { id, .. }
                    | StreamEvent::Finished { id }
                    | StreamEvent::Failed {
                        id,
                        direction: Direction::Inbound,
                        ..
                    },
                ),
            ) => *id == target,
            (Target::Message, Event::MessageData(_) | Event::MessageEnd) => true,
            _ => false,
        }
    }

    /// A piece of this target carrying `data`.
    pub(crate) fn piece(self, data: Bytes) -> Event {
        match self {
            Target::Stream(id) => Event::Stream(StreamEvent::Data { id, data }),
            Target::Message => Event::MessageData(data),
        }
    }
}

/// What [`SideQueue::push`] did with an event.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Held {
    /// Queued within the budget.
    Kept,
    /// A piece of this stream did not fit: the piece and the stream's
    /// queued pieces are gone.
    Dropped(StreamId),
    /// Queued past the budget: the body must stop.
    Full,
}

/// The held events, in arrival order, and their cost.
#[derive(Debug)]
pub(crate) struct SideQueue {
    events: VecDeque<Event>,
    held: usize,
    budget: usize,
}

impl SideQueue {
    pub(crate) fn new(budget: usize) -> Self {
        SideQueue {
            events: VecDeque::new(),
            held: 0,
            budget,
        }
    }

    /// Whether no event is held.
    pub(crate) fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The oldest event.
    pub(crate) fn pop_front(&mut self) -> Option<Event> {
        let event = self.events.pop_front()?;
        self.held = self.held.saturating_sub(cost(&event));
        Some(event)
    }

    /// The oldest event of `target`, taken out of the queue.
    pub(crate) fn take_for(&mut self, target: Target) -> Option<Event> {
        let at = self.events.iter().position(|e| target.owns(e))?;
        let event = self.events.remove(at)?;
        self.held = self.held.saturating_sub(cost(&event));
        Some(event)
    }

    /// Puts back the unread rest of a piece of `target`, ahead of the
    /// target's queued events (its order is kept; it was read before them).
    pub(crate) fn unread(&mut self, target: Target, data: Bytes) {
        let at = self
            .events
            .iter()
            .position(|e| target.owns(e))
            .unwrap_or(self.events.len());
        let event = target.piece(data);
        self.held = self.held.saturating_add(cost(&event));
        self.events.insert(at, event);
    }

    /// Holds an event that is not the body's.
    pub(crate) fn push(&mut self, event: Event) -> Held {
        let cost = cost(&event);
        if self.held.saturating_add(cost) <= self.budget {
            self.held += cost;
            self.events.push_back(owned(event));
            return Held::Kept;
        }
        if let Event::Stream(StreamEvent::Data { id, .. }) = event {
            let mut released = 0;
            self.events.retain(|e| {
                let piece =
                    matches!(e, Event::Stream(StreamEvent::Data { id: of, .. }) if *of == id);
                if piece {
                    released += self::cost(e);
                }
                !piece
            });
            self.held = self.held.saturating_sub(released);
            return Held::Dropped(id);
        }
        self.held = self.held.saturating_add(cost);
        self.events.push_back(owned(event));
        Held::Full
    }
}

/// `event` with its bytes in an allocation of their own.
fn owned(event: Event) -> Event {
    let copy = |data: Bytes| Bytes::copy_from_slice(&data);
    match event {
        Event::Message(Message::Text(text)) => {
            Event::Message(Message::Text(String::from(text.as_str()).into()))
        }
        Event::Message(Message::Binary(data)) => Event::Message(Message::Binary(copy(data))),
        Event::MessageData(data) => Event::MessageData(copy(data)),
        Event::Ping(data) => Event::Ping(copy(data)),
        Event::Pong(data) => Event::Pong(copy(data)),
        Event::Stream(StreamEvent::Data { id, data }) => Event::Stream(StreamEvent::Data {
            id,
            data: copy(data),
        }),
        Event::Stream(StreamEvent::Started {
            id,
            total_len,
            metadata,
        }) => Event::Stream(StreamEvent::Started {
            id,
            total_len,
            metadata: copy(metadata),
        }),
        other => other,
    }
}

/// The bytes an event holds, plus its own cost.
fn cost(event: &Event) -> usize {
    let bytes = match event {
        Event::Message(Message::Text(text)) => text.len(),
        Event::Message(Message::Binary(data))
        | Event::MessageData(data)
        | Event::Ping(data)
        | Event::Pong(data)
        | Event::Stream(
            StreamEvent::Data { data, .. } | StreamEvent::Started { metadata: data, .. },
        ) => data.len(),
        Event::CloseReceived(frame) => frame.reason.len(),
        _ => 0,
    };
    bytes.saturating_add(EVENT_COST)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(id: StreamId, len: usize) -> Event {
        Event::Stream(StreamEvent::Data {
            id,
            data: Bytes::from(vec![0; len]),
        })
    }

    #[test]
    fn a_stream_past_the_budget_is_dropped_and_the_rest_kept() {
        let mut q = SideQueue::new(3 * EVENT_COST + 30);
        assert_eq!(q.push(data(2, 10)), Held::Kept);
        assert_eq!(q.push(Event::Ping(Bytes::from_static(b"p"))), Held::Kept);
        assert_eq!(q.push(data(2, 10)), Held::Kept);
        assert_eq!(q.push(data(2, 10)), Held::Dropped(2));
        // Only the ping is left; its cost is all that is held.
        assert_eq!(q.held, EVENT_COST + 1);
        assert_eq!(q.pop_front(), Some(Event::Ping(Bytes::from_static(b"p"))));
        assert_eq!(q.pop_front(), None);
        assert_eq!(q.held, 0);
    }

    #[test]
    fn other_events_past_the_budget_are_kept_and_reported() {
        let mut q = SideQueue::new(EVENT_COST);
        assert_eq!(q.push(Event::MessageEnd), Held::Kept);
        assert_eq!(q.push(Event::Pong(Bytes::new())), Held::Full);
        assert_eq!(q.pop_front(), Some(Event::MessageEnd));
        assert_eq!(q.pop_front(), Some(Event::Pong(Bytes::new())));
    }

    #[test]
    fn a_target_takes_its_own_events_in_order() {
        let mut q = SideQueue::new(1 << 20);
        q.push(data(1, 1));
        q.push(Event::MessageData(Bytes::from_static(b"m")));
        q.push(data(1, 2));
        q.push(Event::Stream(StreamEvent::Finished { id: 1 }));
        assert_eq!(q.take_for(Target::Stream(1)), Some(data(1, 1)));
        q.unread(Target::Stream(1), Bytes::from_static(b"r"));
        assert_eq!(
            q.take_for(Target::Stream(1)),
            Some(Target::Stream(1).piece(Bytes::from_static(b"r")))
        );
        assert_eq!(q.take_for(Target::Stream(1)), Some(data(1, 2)));
        assert_eq!(
            q.take_for(Target::Stream(1)),
            Some(Event::Stream(StreamEvent::Finished { id: 1 }))
        );
        assert_eq!(q.take_for(Target::Stream(1)), None);
        assert_eq!(
            q.take_for(Target::Message),
            Some(Event::MessageData(Bytes::from_static(b"m")))
        );
        assert_eq!(q.held, 0);
    }
}
