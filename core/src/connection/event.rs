//! What a connection tells the application: [`Event`], and how a
//! connection ended ([`Closed`], [`CloseCause`], [`TimeoutKind`]).

use alloc::boxed::Box;
use alloc::string::String;
use bytes::Bytes;

use crate::close::{CloseCode, CloseFrame};
use crate::envelope::stream::StreamEvent;
use crate::error::ProtocolError;
use crate::handshake::{HandshakeError, Request, Response};
use crate::message::{Message, MessageKind};

/// Something the application should know about.
///
/// The variants that happen once per connection are boxed, so that an
/// event is no larger than a message and the many that carry messages are
/// cheap to move.
///
/// New kinds of events may be added: a `match` needs a `_` arm, which
/// can ignore them.
///
/// ```compile_fail,E0004
/// # use wscore::Event;
/// fn name(event: &Event) -> &'static str {
///     match event {
///         Event::Request(_) => "request",
///         Event::Connected(_) => "connected",
///         Event::Message(_) => "message",
///         Event::MessageStart(_) => "start",
///         Event::MessageData(_) => "data",
///         Event::MessageEnd => "end",
///         Event::Ping(_) => "ping",
///         Event::Pong(_) => "pong",
///         Event::CloseReceived(_) => "close received",
///         Event::Closed(_) => "closed",
///         Event::Stream(_) => "stream",
///     }
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Server only: a client asks to upgrade. Answer with
    /// [`Connection::accept`](super::Connection::accept) or [`Connection::reject`](super::Connection::reject).
    Request(Box<Request>),
    /// The handshake completed; messages may flow.
    Connected(Box<Connected>),
    /// A complete message ([`ReceiveMode::Whole`](crate::config::ReceiveMode::Whole)).
    Message(Message),
    /// The start of a message ([`ReceiveMode::Incremental`](crate::config::ReceiveMode::Incremental)).
    MessageStart(MessageKind),
    /// The next piece of the current message (incremental mode). For text,
    /// a piece may end inside a multi-byte character; the whole message is
    /// valid UTF-8. A piece inflated from a compressed message is at most
    /// 64 KiB, and the next one is inflated only once this one has been
    /// taken.
    MessageData(Bytes),
    /// The current message is complete and valid (incremental mode).
    MessageEnd,
    /// The peer sent a ping; the pong is already queued.
    Ping(Bytes),
    /// The peer sent a pong.
    Pong(Bytes),
    /// The peer sent a close frame. Taking this event out of
    /// [`Connection::poll_event`](super::Connection::poll_event) queues our reply, after anything sent
    /// before.
    CloseReceived(CloseFrame),
    /// The connection is over; no event follows. Keep draining
    /// [`Connection::poll_transmit`](super::Connection::poll_transmit), then shut the transport down.
    Closed(Box<Closed>),
    /// Something happened to a stream of the streamed envelope. A stream
    /// received whole arrives as [`Event::Message`] instead.
    Stream(StreamEvent),
}

/// The outcome of a completed handshake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connected {
    /// The subprotocol both sides agreed on, if any.
    pub subprotocol: Option<String>,
    /// Client only: the server's response, for its headers.
    pub response: Option<Response>,
}

/// How a connection ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Closed {
    /// The code the close handshake settled on, or an observed-only code
    /// (1006 when the peer never completed it).
    pub code: CloseCode,
    /// The reason that came with the code.
    pub reason: String,
    /// Why the connection ended.
    pub cause: CloseCause,
}

/// Why a connection ended.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseCause {
    /// The peer started the close handshake and we answered.
    Remote,
    /// We started the close handshake and the peer answered.
    Local,
    /// The peer broke the protocol; we sent the matching close code.
    Protocol(ProtocolError),
    /// The handshake failed.
    Handshake(HandshakeError),
    /// The application rejected the handshake with this HTTP status.
    Rejected(u16),
    /// A deadline passed.
    Timeout(TimeoutKind),
    /// The transport ended without a completed close handshake: the peer
    /// went away (or half-closed) before its close frame, or before the
    /// opening handshake completed. Reported by
    /// [`Connection::handle_eof`](super::Connection::handle_eof), always with [`CloseCode::ABNORMAL`].
    Eof,
}

/// Which deadline ended a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeoutKind {
    /// The handshake did not complete within [`Config::handshake_timeout`](crate::Config::handshake_timeout).
    Handshake,
    /// The peer did not answer a keepalive ping.
    Keepalive,
    /// The peer did not answer our close frame within [`Config::close_timeout`](crate::Config::close_timeout).
    Close,
}
