//! What the socket tells the application beyond whole messages.

use bytes::Bytes;
use wscore::{CloseFrame, Event as CoreEvent, Message, MessageKind, StreamEvent};

/// Something the peer sent, as [`Socket::next_event`](crate::Socket::next_event)
/// hands it out.
///
/// In [`ReceiveMode::Whole`](wscore::ReceiveMode::Whole) (the
/// default) messages and streams arrive as [`Event::Message`]; with
/// [`ReceiveMode::Incremental`](wscore::ReceiveMode::Incremental)
/// a message arrives as [`Event::MessageStart`], any number of
/// [`Event::MessageData`] and [`Event::MessageEnd`], and a stream of the
/// streamed envelope as [`StreamEvent::Started`], [`StreamEvent::Data`]
/// and [`StreamEvent::Finished`], each piece as it is read. Failed,
/// refused and aborted streams arrive as [`StreamEvent::Failed`] in both
/// modes; the connection stays open.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A complete message, or a stream received whole.
    Message(Message),
    /// Incremental mode: a message begins.
    MessageStart(MessageKind),
    /// Incremental mode: the next piece of the current message. A text
    /// piece may end inside a multi-byte character; the whole message is
    /// valid UTF-8.
    MessageData(Bytes),
    /// Incremental mode: the current message is complete and valid.
    MessageEnd,
    /// Something happened to a stream of the streamed envelope, in either
    /// direction.
    Stream(StreamEvent),
    /// The peer sent a ping; the pong is already on its way.
    Ping(Bytes),
    /// The peer sent a pong.
    Pong(Bytes),
    /// The peer sent a close frame; the reply is on its way and the socket
    /// ends once it is written.
    CloseReceived(CloseFrame),
}

impl Event {
    /// The application-facing form of a core event; `None` for the events
    /// the socket handles itself (the handshake's, the end).
    pub(crate) fn from_core(event: CoreEvent) -> Option<Event> {
        Some(match event {
            CoreEvent::Message(message) => Event::Message(message),
            CoreEvent::MessageStart(kind) => Event::MessageStart(kind),
            CoreEvent::MessageData(data) => Event::MessageData(data),
            CoreEvent::MessageEnd => Event::MessageEnd,
            CoreEvent::Stream(event) => Event::Stream(event),
            CoreEvent::Ping(payload) => Event::Ping(payload),
            CoreEvent::Pong(payload) => Event::Pong(payload),
            CoreEvent::CloseReceived(frame) => Event::CloseReceived(frame),
            CoreEvent::Request(_) | CoreEvent::Connected(_) | CoreEvent::Closed(_) => return None,
            // Events of a newer core than this socket knows of.
            _ => return None,
        })
    }
}
