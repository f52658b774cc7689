//! The queue of events waiting for
//! [`Connection::poll_event`](super::Connection::poll_event).
//!
//! A received batch enters the queue whole, as one entry, and its logical
//! messages are cut from it one by one as they are taken. A batch of
//! thousands of small messages therefore costs one queue entry instead of
//! thousands of events built ahead of time, while the order the
//! application sees is the same: every message of a batch comes after
//! what was queued before the batch and before what was queued after it.

use alloc::boxed::Box;
use alloc::collections::VecDeque;

use super::Event;
use crate::envelope::batch::Batch;
use crate::message::Message;

/// One entry: an event, or the messages of a batch not yet taken. The
/// batch is boxed so that an entry is no larger than an event and the
/// events, by far the most common entries, move in and out unchanged.
#[derive(Debug)]
enum Entry {
    Event(Event),
    Batch(Box<Batch>),
}

/// Events in the order they are delivered.
#[derive(Debug, Default)]
pub(super) struct EventQueue {
    entries: VecDeque<Entry>,
    /// Events in `entries`, counting every untaken message of a batch.
    len: usize,
}

impl EventQueue {
    #[inline]
    pub(super) fn push_back(&mut self, event: Event) {
        self.entries.push_back(Entry::Event(event));
        self.len += 1;
    }

    /// Queues every message of `batch`, as binary messages.
    pub(super) fn push_batch(&mut self, batch: Batch) {
        if !batch.is_empty() {
            self.len += batch.len();
            self.entries.push_back(Entry::Batch(Box::new(batch)));
        }
    }

    #[inline]
    pub(super) fn pop_front(&mut self) -> Option<Event> {
        loop {
            let event = match self.entries.front_mut()? {
                Entry::Batch(batch) => {
                    let Some(message) = batch.next() else {
                        // A batch whose splitting function changed its mind
                        // ends early; its count goes with it.
                        self.len = self.len.saturating_sub(batch.len());
                        self.entries.pop_front();
                        continue;
                    };
                    if batch.is_empty() {
                        self.entries.pop_front();
                    }
                    Event::Message(Message::Binary(message))
                }
                Entry::Event(_) => match self.entries.pop_front() {
                    Some(Entry::Event(event)) => event,
                    // The front entry was just seen to be an event.
                    other => {
                        debug_assert!(other.is_none(), "the front entry changed");
                        continue;
                    }
                },
            };
            self.len = self.len.saturating_sub(1);
            return Some(event);
        }
    }

    /// Events waiting, counting each message of a batch.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The queued events that are not part of a batch.
    #[cfg(all(test, feature = "deflate"))]
    pub(super) fn iter(&self) -> impl Iterator<Item = &Event> {
        self.entries.iter().filter_map(|entry| match entry {
            Entry::Event(event) => Some(event),
            Entry::Batch(_) => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::batch::Framing;
    use alloc::vec::Vec;
    use bytes::Bytes;

    fn batch(bytes: &'static [u8]) -> Batch {
        Batch::parse(Bytes::from_static(bytes), Framing::Varint, 16, 1024).unwrap()
    }

    fn binary(bytes: &'static [u8]) -> Event {
        Event::Message(Message::binary(bytes))
    }

    #[test]
    fn an_entry_is_no_larger_than_an_event() {
        assert_eq!(core::mem::size_of::<Entry>(), core::mem::size_of::<Event>());
    }

    #[test]
    fn batches_keep_their_place() {
        let mut queue = EventQueue::default();
        queue.push_back(Event::Pong(Bytes::new()));
        queue.push_batch(batch(b"\x01a\x02bc"));
        queue.push_batch(batch(b""));
        queue.push_back(Event::MessageEnd);
        queue.push_batch(batch(b"\x00"));
        assert_eq!(queue.len(), 5);
        let mut taken = Vec::new();
        while let Some(event) = queue.pop_front() {
            taken.push(event);
            assert_eq!(queue.len(), 5 - taken.len());
        }
        assert_eq!(
            taken,
            [
                Event::Pong(Bytes::new()),
                binary(b"a"),
                binary(b"bc"),
                Event::MessageEnd,
                binary(b""),
            ]
        );
        assert!(queue.is_empty());
    }
}
