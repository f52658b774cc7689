//! The publishing side of a process: sequence numbers per room and the
//! queue to the publish link, under one lock so that numbers and queue
//! order agree.

use std::collections::BTreeMap;

use tokio::sync::mpsc;

use crate::publisher::Outgoing;

#[derive(Debug)]
pub(crate) struct Outbox<R> {
    /// The last number given in each room.
    sequences: BTreeMap<R, u64>,
    max_rooms: usize,
    pub(crate) queue: mpsc::Sender<Outgoing>,
}

impl<R: Ord + Clone> Outbox<R> {
    pub(crate) fn new(queue: mpsc::Sender<Outgoing>, max_rooms: usize) -> Self {
        Outbox {
            sequences: BTreeMap::new(),
            max_rooms: max_rooms.max(1),
            queue,
        }
    }

    /// The number of the next message to `room`, from 1.
    pub(crate) fn next_seq(&mut self, room: &R) -> u64 {
        if let Some(last) = self.sequences.get_mut(room) {
            *last += 1;
            return *last;
        }
        if self.sequences.len() >= self.max_rooms {
            // Bounds the table; that room's receivers take its next
            // number 1 as a fresh start.
            self.sequences.pop_first();
        }
        self.sequences.insert(room.clone(), 1);
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_count_per_room_from_one_and_the_table_is_bounded() {
        let (queue, _rx) = mpsc::channel(1);
        let mut outbox = Outbox::new(queue, 2);
        let (a, b, c) = ("a".to_string(), "b".to_string(), "c".to_string());
        assert_eq!(outbox.next_seq(&a), 1);
        assert_eq!(outbox.next_seq(&a), 2);
        assert_eq!(outbox.next_seq(&b), 1);
        assert_eq!(outbox.next_seq(&a), 3);
        // A third room pushes out the lowest.
        assert_eq!(outbox.next_seq(&c), 1);
        assert_eq!(outbox.next_seq(&a), 1);
        assert_eq!(outbox.sequences.len(), 2);
    }
}
