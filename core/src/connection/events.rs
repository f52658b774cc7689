//! The queue of events waiting for
//! [`Connection::poll_event`](super::Connection::poll_event).
//!
//! A received batch enters the queue whole, as one entry, and its logical
//! messages are cut from it one by one as they are taken. A batch of
//! thousands of small messages therefore costs one queue entry instead of
//! thousands of events built ahead of time, while the order the
//! application sees is the same: every message of a batch comes after
//! what was queued before the batch and before what was queued after it.
//!
//! The batch being taken sits outside the queue, ahead of every entry, so
//! taking one of its messages is a length read and a slice of the batch:
//! no queue entry moves, and [`EventQueue::next_batched`] hands the slice
//! out before it becomes an event, which the caller builds in place.

use alloc::boxed::Box;
use alloc::collections::VecDeque;

use bytes::Bytes;

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
    /// The batch whose messages are being taken, ahead of `entries`.
    front: Option<Batch>,
    entries: VecDeque<Entry>,
    /// Events in `front` and `entries`, counting every untaken message of
    /// a batch.
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
        if batch.is_empty() {
            return;
        }
        self.len += batch.len();
        if self.front.is_none() && self.entries.is_empty() {
            self.front = Some(batch);
        } else {
            self.entries.push_back(Entry::Batch(Box::new(batch)));
        }
    }

    /// The next message of the batch at the front, if a batch is at the
    /// front: its payload, for the caller to build the event around.
    #[inline(always)]
    pub(super) fn next_batched(&mut self) -> Option<Bytes> {
        let batch = self.front.as_mut()?;
        let untaken = batch.len();
        let Some(message) = batch.next() else {
            // A batch whose splitting function changed its mind ends
            // early; its count goes with it.
            self.len = self.len.saturating_sub(untaken);
            self.front = None;
            return None;
        };
        if batch.is_empty() {
            self.front = None;
        }
        self.len = self.len.saturating_sub(1);
        Some(message)
    }

    #[inline]
    pub(super) fn pop_front(&mut self) -> Option<Event> {
        loop {
            if let Some(message) = self.next_batched() {
                return Some(Event::Message(Message::Binary(message)));
            }
            match self.entries.pop_front()? {
                Entry::Event(event) => {
                    self.len = self.len.saturating_sub(1);
                    return Some(event);
                }
                Entry::Batch(batch) => self.front = Some(*batch),
            }
        }
    }

    /// Whether the next event is the peer's close frame.
    #[inline]
    pub(super) fn front_is_close(&self) -> bool {
        self.front.is_none()
            && matches!(
                self.entries.front(),
                Some(Entry::Event(Event::CloseReceived(_)))
            )
    }

    /// Events waiting, counting each message of a batch.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn is_empty(&self) -> bool {
        self.front.is_none() && self.entries.is_empty()
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

    #[test]
    fn a_batch_being_taken_stays_ahead_of_later_entries() {
        let mut queue = EventQueue::default();
        queue.push_batch(batch(b"\x01a\x01b"));
        assert_eq!(queue.next_batched(), Some(Bytes::from_static(b"a")));
        queue.push_back(Event::Pong(Bytes::new()));
        queue.push_batch(batch(b"\x01c"));
        assert_eq!(queue.len(), 3);
        assert_eq!(queue.pop_front(), Some(binary(b"b")));
        // Only a batch at the front hands out messages directly.
        assert_eq!(queue.next_batched(), None);
        assert_eq!(queue.pop_front(), Some(Event::Pong(Bytes::new())));
        assert_eq!(queue.next_batched(), None);
        assert!(!queue.is_empty());
        assert_eq!(queue.pop_front(), Some(binary(b"c")));
        assert_eq!((queue.len(), queue.is_empty()), (0, true));
    }

    #[test]
    fn a_batch_that_ends_early_takes_its_count_with_it() {
        use core::sync::atomic::{AtomicUsize, Ordering};
        static CALLS: AtomicUsize = AtomicUsize::new(0);
        // One-byte messages while the batch is validated, then a length
        // past the end.
        fn fickle(buf: &[u8]) -> Option<usize> {
            let calls = CALLS.fetch_add(1, Ordering::Relaxed);
            Some(if calls < 3 { 1 } else { buf.len() + 1 })
        }
        let fickle = Batch::parse(
            Bytes::from_static(b"abc"),
            Framing::SelfDelimiting(fickle),
            8,
            64,
        )
        .unwrap();
        let mut queue = EventQueue::default();
        queue.push_batch(fickle);
        queue.push_back(Event::MessageEnd);
        assert_eq!(queue.len(), 4);
        assert_eq!(queue.pop_front(), Some(Event::MessageEnd));
        assert_eq!((queue.len(), queue.is_empty()), (0, true));
    }
}
