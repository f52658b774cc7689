//! Whole messages from incremental pieces, for the plain message API of a
//! socket configured with `ReceiveMode::Incremental`.
//!
//! The core bounds a message by `max_message_size` in every mode, so a
//! message assembled here is no larger than one received whole. Streams
//! are bounded by `StreamConfig::max_buffered` across all of them, the
//! budget the core's own reassembly has in whole mode; a stream that would
//! exceed it is dropped. A stream the message API cannot deliver (dropped
//! here, or failed in the core) is counted, so a reader of whole messages
//! can see that one was lost; the event API reports each as it happens.

use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};
use wscore::{Direction, Message, MessageKind, StreamEvent, StreamId, Utf8Bytes};

use crate::Event;

/// A stream being gathered: its bytes, or `None` once dropped for the
/// budget (its later pieces are ignored until it ends).
type Gathering = Option<BytesMut>;

/// The assembly state of one socket.
#[derive(Debug)]
pub(crate) struct Assembler {
    /// The message in progress: its kind and its pieces (a single piece is
    /// kept without a copy).
    message: Option<(MessageKind, Vec<Bytes>)>,
    streams: BTreeMap<StreamId, Gathering>,
    /// Bytes held across `streams`.
    held: usize,
    budget: usize,
    /// Streams, either direction, that failed or were dropped for the
    /// budget: none of them becomes a message.
    undelivered: u64,
}

impl Assembler {
    pub(crate) fn new(budget: usize) -> Self {
        Assembler {
            message: None,
            streams: BTreeMap::new(),
            held: 0,
            budget,
            undelivered: 0,
        }
    }

    /// Whether no message or stream is being gathered.
    pub(crate) fn is_idle(&self) -> bool {
        self.message.is_none() && self.streams.is_empty()
    }

    /// Streams that failed (either direction) or were dropped for the
    /// budget since the socket started.
    pub(crate) fn undelivered(&self) -> u64 {
        self.undelivered
    }

    /// Counts stream `id` as passed over (dropped elsewhere for the same
    /// budget): nothing of it becomes a message, and its end is not counted
    /// again.
    pub(crate) fn pass_over(&mut self, id: StreamId) {
        match self.streams.insert(id, None) {
            Some(None) => {}
            Some(Some(bytes)) => {
                self.held = self.held.saturating_sub(bytes.len());
                self.undelivered += 1;
            }
            None => self.undelivered += 1,
        }
    }

    /// Forgets stream `id`, which ended in sight of the application.
    pub(crate) fn forget(&mut self, id: StreamId) {
        if let Some(Some(bytes)) = self.streams.remove(&id) {
            self.held = self.held.saturating_sub(bytes.len());
        }
    }

    /// Feeds one event; returns a message once one is complete. Events
    /// other than messages and stream pieces are not messages: `None`.
    pub(crate) fn feed(&mut self, event: Event) -> Option<Message> {
        match event {
            Event::Message(message) => Some(message),
            Event::MessageStart(kind) => {
                self.message = Some((kind, Vec::new()));
                None
            }
            Event::MessageData(data) => {
                if let Some((_, pieces)) = self.message.as_mut() {
                    if !data.is_empty() {
                        pieces.push(data);
                    }
                }
                None
            }
            Event::MessageEnd => {
                let (kind, pieces) = self.message.take()?;
                let payload = join(pieces);
                match kind {
                    MessageKind::Binary => Some(Message::Binary(payload)),
                    // The core validated the text as it arrived.
                    MessageKind::Text => Utf8Bytes::try_from(payload).ok().map(Message::Text),
                }
            }
            Event::Stream(event) => self.stream(event),
            _ => None,
        }
    }

    fn stream(&mut self, event: StreamEvent) -> Option<Message> {
        match event {
            StreamEvent::Started { id, total_len, .. } => {
                if matches!(self.streams.get(&id), Some(None)) {
                    // Passed over before its start was taken.
                    return None;
                }
                let room = self.budget.saturating_sub(self.held);
                let gathering = (total_len <= room as u64).then(BytesMut::new);
                if gathering.is_none() {
                    self.undelivered += 1;
                }
                self.streams.insert(id, gathering);
                None
            }
            StreamEvent::Data { id, data } => {
                let gathering = self.streams.get_mut(&id)?;
                let bytes = gathering.as_mut()?;
                if self.held.saturating_add(data.len()) > self.budget {
                    self.held = self.held.saturating_sub(bytes.len());
                    *gathering = None;
                    self.undelivered += 1;
                    return None;
                }
                self.held += data.len();
                bytes.extend_from_slice(&data);
                None
            }
            StreamEvent::Finished { id } => {
                let bytes = self.streams.remove(&id)??;
                self.held = self.held.saturating_sub(bytes.len());
                Some(Message::Binary(bytes.freeze()))
            }
            StreamEvent::Failed {
                direction: Direction::Outbound,
                ..
            } => {
                // Ids are per direction: an inbound stream of the same id
                // is not this one.
                self.undelivered += 1;
                None
            }
            StreamEvent::Failed { id, .. } => {
                match self.streams.remove(&id) {
                    // Already counted when it was dropped.
                    Some(None) => {}
                    Some(Some(bytes)) => {
                        self.held = self.held.saturating_sub(bytes.len());
                        self.undelivered += 1;
                    }
                    // Whole mode.
                    None => self.undelivered += 1,
                }
                None
            }
            _ => None,
        }
    }
}

/// One payload from its pieces: the piece itself when there is one.
fn join(mut pieces: Vec<Bytes>) -> Bytes {
    if pieces.len() <= 1 {
        return pieces.pop().unwrap_or_default();
    }
    let len = pieces.iter().map(Bytes::len).sum();
    let mut joined = BytesMut::with_capacity(len);
    for piece in pieces {
        joined.extend_from_slice(&piece);
    }
    joined.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_become_one_message() {
        let mut a = Assembler::new(1 << 20);
        assert_eq!(a.feed(Event::MessageStart(MessageKind::Text)), None);
        assert_eq!(
            a.feed(Event::MessageData(Bytes::from_static(b"h\xc3"))),
            None
        );
        assert_eq!(
            a.feed(Event::MessageData(Bytes::from_static(b"\xa9!"))),
            None
        );
        assert_eq!(a.feed(Event::MessageEnd), Some(Message::text("hé!")));
        assert_eq!(a.feed(Event::MessageStart(MessageKind::Binary)), None);
        assert_eq!(
            a.feed(Event::MessageEnd),
            Some(Message::binary(Bytes::new()))
        );
    }

    #[test]
    fn streams_are_gathered_within_the_budget() {
        let mut a = Assembler::new(10);
        let started = |id, total_len| {
            Event::Stream(StreamEvent::Started {
                id,
                total_len,
                metadata: Bytes::new(),
            })
        };
        let data = |id, data: &'static [u8]| {
            Event::Stream(StreamEvent::Data {
                id,
                data: Bytes::from_static(data),
            })
        };
        let finished = |id| Event::Stream(StreamEvent::Finished { id });
        a.feed(started(1, 6));
        a.feed(started(2, 20));
        a.feed(data(1, b"abc"));
        a.feed(data(2, b"xyz"));
        a.feed(data(1, b"def"));
        assert_eq!(a.feed(finished(1)), Some(Message::binary(&b"abcdef"[..])));
        // Announced past the budget: dropped, never delivered.
        assert_eq!(a.feed(finished(2)), None);
        assert_eq!(a.held, 0);
        // A stream that lies about its length is cut at the budget.
        a.feed(started(3, 4));
        a.feed(data(3, b"0123456789"));
        a.feed(data(3, b"x"));
        assert_eq!(a.feed(finished(3)), None);
        assert_eq!(a.held, 0);
        // Stream 2 (announced past the budget) and stream 3 (cut at it).
        assert_eq!(a.undelivered(), 2);
    }

    #[test]
    fn an_outbound_failure_leaves_the_inbound_stream_of_the_same_id() {
        use wscore::{Direction, StreamError};
        // Each side numbers its own streams from 0: ids meet.
        let mut a = Assembler::new(10);
        a.feed(Event::Stream(StreamEvent::Started {
            id: 0,
            total_len: 2,
            metadata: Bytes::new(),
        }));
        a.feed(Event::Stream(StreamEvent::Data {
            id: 0,
            data: Bytes::from_static(b"a"),
        }));
        a.feed(Event::Stream(StreamEvent::Failed {
            id: 0,
            direction: Direction::Outbound,
            error: StreamError::ConnectionClosed,
        }));
        a.feed(Event::Stream(StreamEvent::Data {
            id: 0,
            data: Bytes::from_static(b"b"),
        }));
        assert_eq!(
            a.feed(Event::Stream(StreamEvent::Finished { id: 0 })),
            Some(Message::binary(&b"ab"[..]))
        );
        assert_eq!(a.undelivered(), 1);
        assert_eq!(a.held, 0);
    }

    #[test]
    fn failed_streams_are_counted_once() {
        use wscore::{Direction, StreamError};
        let mut a = Assembler::new(10);
        let failed = |id, direction| {
            Event::Stream(StreamEvent::Failed {
                id,
                direction,
                error: StreamError::ConnectionClosed,
            })
        };
        // Whole mode: only the failure is seen, in either direction.
        a.feed(failed(1, Direction::Inbound));
        a.feed(failed(2, Direction::Outbound));
        assert_eq!(a.undelivered(), 2);
        // Gathered, then failed: one more.
        a.feed(Event::Stream(StreamEvent::Started {
            id: 3,
            total_len: 4,
            metadata: Bytes::new(),
        }));
        a.feed(failed(3, Direction::Inbound));
        assert_eq!(a.undelivered(), 3);
        // Dropped for the budget, then failed: counted when dropped only.
        a.feed(Event::Stream(StreamEvent::Started {
            id: 4,
            total_len: 40,
            metadata: Bytes::new(),
        }));
        a.feed(failed(4, Direction::Inbound));
        assert_eq!(a.undelivered(), 4);
        assert_eq!(a.held, 0);
    }
}
