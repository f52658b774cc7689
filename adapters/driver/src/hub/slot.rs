//! One member's outbound queue in the hub: what publishes put in, what the
//! member's socket takes out, and the slow-consumer policy that decides
//! when a publish is dropped or the member is closed.
//!
//! Pure bookkeeping under the hub's lock; no IO and no clock.

use std::collections::VecDeque;
use std::sync::Arc;
use std::task::Waker;

use bytes::Bytes;
use wscore::{CloseCode, FrameEncoding, Liveness, Message, PreparedMessage};

use super::SlowConsumer;

/// Something queued for members: one pointer per queue slot, shared by
/// every member a broadcast reaches.
#[derive(Clone, Debug)]
pub(super) struct Outgoing(Arc<Queued>);

#[derive(Debug)]
pub(super) enum Queued {
    /// A broadcast: the frame built once.
    Prepared(PreparedMessage),
    /// A message for one member.
    Message(Message),
}

impl Outgoing {
    pub(super) fn prepared(prepared: PreparedMessage) -> Self {
        Outgoing(Arc::new(Queued::Prepared(prepared)))
    }

    pub(super) fn message(message: Message) -> Self {
        Outgoing(Arc::new(Queued::Message(message)))
    }

    pub(super) fn queued(&self) -> &Queued {
        &self.0
    }

    /// Bytes it will take on the wire (about: a message's frame header is
    /// counted as its longest).
    pub(super) fn wire_len(&self) -> usize {
        match self.queued() {
            Queued::Prepared(prepared) => prepared.wire_len(),
            Queued::Message(message) => message.len() + MAX_HEADER,
        }
    }
}

/// The longest server frame header.
const MAX_HEADER: usize = 10;

/// Whether the member is being closed by the hub.
#[derive(Debug, Default)]
pub(super) enum Closing {
    #[default]
    No,
    /// A close frame waits behind the queue.
    Requested(CloseCode, String),
    /// The close frame was handed to the socket.
    Started,
    /// The close started without the hub asking (the peer's close, the
    /// connection's end, or the member's own close): nothing more is
    /// queued; what was queued before is still written if it can be.
    Ended,
}

/// What a publish did for one member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Offer {
    Queued,
    /// Dropped by the policy (or because the member is closing).
    Dropped,
    /// Dropped, and the member is now being closed for it.
    Closed,
}

/// One member's state in the hub.
#[derive(Debug)]
pub(crate) struct Slot {
    queue: VecDeque<Outgoing>,
    /// Bytes in `queue`.
    queued: usize,
    /// Bytes the member's socket held, unwritten, when it last took from
    /// the queue.
    in_socket: usize,
    encoding: FrameEncoding,
    dropped_messages: u64,
    dropped_bytes: u64,
    closing: Closing,
    /// The member's task, woken when its queue stops being empty.
    waker: Option<Waker>,
    /// What the application keeps with the member.
    attachment: Option<Bytes>,
    /// Its tags, in the order given; few, so a list beats a set.
    tags: Vec<String>,
    /// As its task last saw it.
    liveness: Liveness,
}

impl Slot {
    pub(super) fn new(encoding: FrameEncoding) -> Self {
        Slot {
            queue: VecDeque::new(),
            queued: 0,
            in_socket: 0,
            encoding,
            dropped_messages: 0,
            dropped_bytes: 0,
            closing: Closing::No,
            waker: None,
            attachment: None,
            tags: Vec::new(),
            liveness: Liveness::Parked,
        }
    }

    pub(super) fn liveness(&self) -> Liveness {
        self.liveness
    }

    pub(super) fn set_liveness(&mut self, liveness: Liveness) {
        self.liveness = liveness;
    }

    /// Whether the member's close has started, by the hub or otherwise:
    /// it is out of every listing and takes no more messages.
    pub(super) fn is_closing(&self) -> bool {
        !matches!(self.closing, Closing::No)
    }

    /// The connection is no longer open: nothing more is queued for it.
    /// Returns whether this call marked it.
    pub(super) fn mark_ended(&mut self) -> bool {
        if self.is_closing() {
            return false;
        }
        self.closing = Closing::Ended;
        true
    }

    pub(super) fn attachment(&self) -> Option<&Bytes> {
        self.attachment.as_ref()
    }

    pub(super) fn set_attachment(&mut self, value: Option<Bytes>) -> Option<Bytes> {
        core::mem::replace(&mut self.attachment, value)
    }

    pub(super) fn tags(&self) -> &[String] {
        &self.tags
    }

    pub(super) fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|held| held == tag)
    }

    pub(super) fn add_tag(&mut self, tag: String) {
        self.tags.push(tag);
    }

    /// Whether the member had `tag`.
    pub(super) fn remove_tag(&mut self, tag: &str) -> bool {
        let before = self.tags.len();
        self.tags.retain(|held| held != tag);
        self.tags.len() != before
    }

    pub(super) fn encoding(&self) -> FrameEncoding {
        self.encoding
    }

    /// Queues `item` unless the member's bound would be passed; then the
    /// policy drops it, or drops it and closes the member. Either way the
    /// drop is counted.
    pub(super) fn offer(&mut self, item: Outgoing, limit: usize, policy: SlowConsumer) -> Offer {
        let len = item.wire_len();
        if !matches!(self.closing, Closing::No) {
            self.count_drop(len);
            return Offer::Dropped;
        }
        // The bound covers the queue and what the socket still holds: a
        // member whose socket is stuck stops taking from the queue, so the
        // queue alone would let the total grow by the socket's buffer. A
        // member holding nothing takes any message, however large.
        let held = self.queued + self.in_socket;
        if held + len > limit && held > 0 {
            self.count_drop(len);
            return match policy {
                SlowConsumer::DropNewest => Offer::Dropped,
                SlowConsumer::Close => {
                    self.request_close(CloseCode::POLICY, "slow consumer");
                    Offer::Closed
                }
            };
        }
        self.queued += len;
        self.queue.push_back(item);
        if self.queue.len() == 1 {
            self.wake();
        }
        Offer::Queued
    }

    fn count_drop(&mut self, len: usize) {
        self.dropped_messages += 1;
        self.dropped_bytes += len as u64;
    }

    /// Asks for the member to be closed once what is queued is written
    /// (control frames are never dropped). Returns whether this call asked.
    pub(super) fn request_close(&mut self, code: CloseCode, reason: &str) -> bool {
        if !matches!(self.closing, Closing::No) {
            return false;
        }
        self.closing = Closing::Requested(code, reason.into());
        self.wake();
        true
    }

    /// The next item for the socket.
    pub(super) fn pop(&mut self) -> Option<Outgoing> {
        let item = self.queue.pop_front()?;
        self.queued = self.queued.saturating_sub(item.wire_len());
        Some(item)
    }

    /// The close to start, once the queue is empty.
    pub(super) fn take_close(&mut self) -> Option<(CloseCode, String)> {
        if !self.queue.is_empty() {
            return None;
        }
        match core::mem::replace(&mut self.closing, Closing::Started) {
            Closing::Requested(code, reason) => Some((code, reason)),
            other => {
                self.closing = other;
                None
            }
        }
    }

    /// Drops what is left (the socket can send no more), counting it.
    pub(super) fn discard(&mut self) {
        while let Some(item) = self.pop() {
            self.count_drop(item.wire_len());
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    pub(super) fn set_in_socket(&mut self, bytes: usize) {
        self.in_socket = bytes;
    }

    pub(super) fn register(&mut self, waker: &Waker) {
        match &self.waker {
            Some(current) if current.will_wake(waker) => {}
            _ => self.waker = Some(waker.clone()),
        }
    }

    fn wake(&mut self) {
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }

    pub(super) fn stats(&self) -> super::MemberStats {
        super::MemberStats {
            queued_bytes: self.queued + self.in_socket,
            queued_messages: self.queue.len(),
            dropped_messages: self.dropped_messages,
            dropped_bytes: self.dropped_bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prepared(len: usize) -> Outgoing {
        Outgoing::prepared(PreparedMessage::new(Message::binary(vec![7u8; len])))
    }

    #[test]
    fn a_queue_slot_is_one_pointer() {
        assert_eq!(
            std::mem::size_of::<Outgoing>(),
            std::mem::size_of::<usize>()
        );
    }

    #[test]
    fn drop_newest_counts_every_drop_and_keeps_the_queue() {
        let mut slot = Slot::new(FrameEncoding::Plain);
        // 1000-byte payloads take 1004 bytes on the wire.
        let offers: Vec<Offer> = (0..3)
            .map(|_| slot.offer(prepared(1000), 2500, SlowConsumer::DropNewest))
            .collect();
        assert_eq!(offers, [Offer::Queued, Offer::Queued, Offer::Dropped]);
        let stats = slot.stats();
        assert_eq!(stats.queued_messages, 2);
        assert_eq!(stats.dropped_messages, 1);
        assert_eq!(stats.dropped_bytes, 1004);
        assert!(slot.take_close().is_none());
    }

    #[test]
    fn a_message_larger_than_the_bound_goes_to_an_empty_queue() {
        let mut slot = Slot::new(FrameEncoding::Plain);
        assert_eq!(
            slot.offer(prepared(4000), 1000, SlowConsumer::Close),
            Offer::Queued
        );
        assert_eq!(
            slot.offer(prepared(10), 1000, SlowConsumer::Close),
            Offer::Closed
        );
        // The close waits behind what was queued, and later offers drop.
        assert!(slot.take_close().is_none());
        assert_eq!(
            slot.offer(prepared(10), 1000, SlowConsumer::Close),
            Offer::Dropped
        );
        assert!(slot.pop().is_some());
        assert_eq!(
            slot.take_close(),
            Some((CloseCode::POLICY, "slow consumer".into()))
        );
        assert_eq!(slot.stats().dropped_messages, 2);
    }

    #[test]
    fn the_socket_backlog_counts_toward_the_bound() {
        let mut slot = Slot::new(FrameEncoding::Plain);
        assert_eq!(
            slot.offer(prepared(100), 1000, SlowConsumer::DropNewest),
            Offer::Queued
        );
        slot.set_in_socket(900);
        assert_eq!(
            slot.offer(prepared(100), 1000, SlowConsumer::DropNewest),
            Offer::Dropped
        );
        slot.set_in_socket(0);
        assert_eq!(
            slot.offer(prepared(100), 1000, SlowConsumer::DropNewest),
            Offer::Queued
        );
    }

    #[test]
    fn discarding_counts_what_was_left() {
        let mut slot = Slot::new(FrameEncoding::Plain);
        slot.offer(prepared(10), 1000, SlowConsumer::DropNewest);
        slot.offer(
            Outgoing::message(Message::text("hi")),
            1000,
            SlowConsumer::DropNewest,
        );
        slot.discard();
        assert!(slot.is_empty());
        assert_eq!(slot.stats().dropped_messages, 2);
        assert_eq!(slot.stats().queued_bytes, 0);
    }
}
