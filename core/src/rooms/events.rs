//! The queue of [`RoomEvent`]s, coalesced per room.
//!
//! A room's presence only alternates (absent → [`RoomEvent::Opened`] →
//! present → [`RoomEvent::Closed`] → absent), so an undrained event for a
//! room is always the opposite of the next one: the two cancel, and what
//! stays queued for a room is its net change since the caller last drained.
//! The queue therefore holds at most one event per room, however many joins
//! and leaves happened in between.

use alloc::collections::BTreeMap;

/// A room became occupied or empty; see [`Rooms::poll_event`](super::Rooms::poll_event).
///
/// Meant for a layer that keeps a subscription upstream (another process, a
/// broker) for each room with members here: subscribe on `Opened`,
/// unsubscribe on `Closed`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoomEvent<R> {
    /// The room's first member joined.
    Opened(R),
    /// The room's last member left, and the room was freed.
    Closed(R),
}

impl<R> RoomEvent<R> {
    /// The room the event is about.
    pub fn room(&self) -> &R {
        match self {
            RoomEvent::Opened(room) | RoomEvent::Closed(room) => room,
        }
    }
}

/// Pending events in the order they happened, at most one per room.
pub(super) struct EventQueue<R> {
    /// Whether events are recorded at all.
    on: bool,
    /// Pending events by sequence number, so the oldest comes out first.
    queue: BTreeMap<u64, RoomEvent<R>>,
    /// The sequence number of each room's pending event, so the event it
    /// cancels is found without a scan.
    pending: BTreeMap<R, u64>,
    /// The next sequence number. At one per event a `u64` does not run out.
    next: u64,
}

impl<R> EventQueue<R> {
    pub(super) fn is_on(&self) -> bool {
        self.on
    }

    pub(super) fn len(&self) -> usize {
        self.queue.len()
    }
}

impl<R: Ord + Clone> EventQueue<R> {
    pub(super) fn new() -> Self {
        EventQueue {
            on: true,
            queue: BTreeMap::new(),
            pending: BTreeMap::new(),
            next: 0,
        }
    }

    pub(super) fn set_on(&mut self, on: bool) {
        self.on = on;
        if !on {
            self.queue.clear();
            self.pending.clear();
        }
    }

    /// Queues `event`, or cancels it against the room's pending event.
    pub(super) fn push(&mut self, event: RoomEvent<R>) {
        if !self.on {
            return;
        }
        if let Some(seq) = self.pending.remove(event.room()) {
            let cancelled = self.queue.remove(&seq);
            debug_assert!(
                matches!(
                    (&cancelled, &event),
                    (Some(RoomEvent::Opened(_)), RoomEvent::Closed(_))
                        | (Some(RoomEvent::Closed(_)), RoomEvent::Opened(_))
                ),
                "a room's events alternate"
            );
            return;
        }
        let seq = self.next;
        self.next = self.next.wrapping_add(1);
        self.pending.insert(event.room().clone(), seq);
        self.queue.insert(seq, event);
    }

    pub(super) fn pop(&mut self) -> Option<RoomEvent<R>> {
        let (_, event) = self.queue.pop_first()?;
        self.pending.remove(event.room());
        Some(event)
    }
}
