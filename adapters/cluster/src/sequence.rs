//! Gap detection: the last sequence number seen from each origin in each
//! served room. Pure bookkeeping, no clock.

use std::collections::BTreeMap;

use crate::Origin;

/// What a message's sequence number says about the ones before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Seen {
    /// The first message from this origin since the room was subscribed:
    /// what came before was not for this process.
    First,
    /// The number after the last one seen.
    Next,
    /// This many messages between the last one seen and this one never
    /// arrived.
    Gap(u64),
    /// A number at or below the last one seen (other than 1, which starts
    /// the numbers over): a replay or a forgery, never delivered (a
    /// message reaches a member at most once).
    Stale,
}

/// Last sequence numbers by room and origin.
#[derive(Debug)]
pub(crate) struct Sequences<R> {
    rooms: BTreeMap<R, BTreeMap<Origin, u64>>,
    max_origins: usize,
}

impl<R: Ord + Clone> Sequences<R> {
    /// Remembers at most `max_origins` origins per room; past it, the one
    /// with the lowest id is forgotten (its next message counts as
    /// `First`), which bounds the memory processes that come and go can
    /// take.
    pub(crate) fn new(max_origins: usize) -> Self {
        Sequences {
            rooms: BTreeMap::new(),
            max_origins: max_origins.max(1),
        }
    }

    /// Records message `seq` of `origin` in `room`.
    pub(crate) fn observe(&mut self, room: &R, origin: Origin, seq: u64) -> Seen {
        let origins = match self.rooms.get_mut(room) {
            Some(origins) => origins,
            None => self.rooms.entry(room.clone()).or_default(),
        };
        match origins.get_mut(&origin) {
            // The publisher started the room's numbers over (it forgot
            // them to bound its own memory): what it sent before is gone.
            Some(last) if seq == 1 => {
                *last = 1;
                Seen::First
            }
            Some(last) if seq <= *last => Seen::Stale,
            Some(last) => {
                let gap = seq - *last - 1;
                *last = seq;
                if gap == 0 {
                    Seen::Next
                } else {
                    Seen::Gap(gap)
                }
            }
            None => {
                if origins.len() >= self.max_origins {
                    origins.pop_first();
                }
                origins.insert(origin, seq);
                Seen::First
            }
        }
    }

    /// Forgets `room`: this process no longer serves it, and a later
    /// subscription starts afresh.
    pub(crate) fn forget(&mut self, room: &R) {
        self.rooms.remove(room);
    }

    /// Rooms with at least one origin remembered.
    #[cfg(test)]
    fn room_count(&self) -> usize {
        self.rooms.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Origin = Origin::from_raw(1);
    const B: Origin = Origin::from_raw(2);

    #[test]
    fn numbers_in_order_are_next_and_skipped_ones_are_a_gap() {
        let mut seqs = Sequences::new(16);
        let room = "r".to_string();
        assert_eq!(seqs.observe(&room, A, 5), Seen::First);
        assert_eq!(seqs.observe(&room, A, 6), Seen::Next);
        assert_eq!(seqs.observe(&room, A, 10), Seen::Gap(3));
        assert_eq!(seqs.observe(&room, A, 11), Seen::Next);
        assert_eq!(seqs.observe(&room, A, 11), Seen::Stale);
        assert_eq!(seqs.observe(&room, A, 2), Seen::Stale);
        assert_eq!(seqs.observe(&room, A, 12), Seen::Next);
    }

    #[test]
    fn a_publisher_that_starts_its_numbers_over_is_heard_afresh() {
        let mut seqs = Sequences::new(16);
        let room = "r".to_string();
        assert_eq!(seqs.observe(&room, A, 1), Seen::First);
        assert_eq!(seqs.observe(&room, A, 2), Seen::Next);
        assert_eq!(seqs.observe(&room, A, 1), Seen::First);
        assert_eq!(seqs.observe(&room, A, 2), Seen::Next);
    }

    #[test]
    fn origins_and_rooms_are_counted_apart() {
        let mut seqs = Sequences::new(16);
        let (r, s) = ("r".to_string(), "s".to_string());
        assert_eq!(seqs.observe(&r, A, 1), Seen::First);
        assert_eq!(seqs.observe(&r, B, 1), Seen::First);
        assert_eq!(seqs.observe(&s, A, 7), Seen::First);
        assert_eq!(seqs.observe(&r, A, 2), Seen::Next);
        assert_eq!(seqs.observe(&r, B, 3), Seen::Gap(1));
        assert_eq!(seqs.observe(&s, A, 8), Seen::Next);
    }

    #[test]
    fn a_forgotten_room_starts_afresh() {
        let mut seqs = Sequences::new(16);
        let room = "r".to_string();
        seqs.observe(&room, A, 1);
        seqs.forget(&room);
        assert_eq!(seqs.room_count(), 0);
        assert_eq!(seqs.observe(&room, A, 9), Seen::First);
    }

    #[test]
    fn origins_per_room_are_bounded() {
        let mut seqs = Sequences::new(2);
        let room = "r".to_string();
        for raw in 1..=100u128 {
            assert_eq!(seqs.observe(&room, Origin::from_raw(raw), 1), Seen::First);
        }
        assert_eq!(seqs.rooms.get(&room).map(BTreeMap::len), Some(2));
        // The newest origins are still remembered.
        assert_eq!(seqs.observe(&room, Origin::from_raw(100), 2), Seen::Next);
    }
}
