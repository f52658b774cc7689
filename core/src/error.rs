//! Error types, kept apart by who is at fault.
//!
//! - [`ProtocolError`]: the peer broke RFC 6455. Never returned from
//!   `handle_input`; it ends the connection with the close code from
//!   [`ProtocolError::close_code`] and is reported in the terminal event.
//! - [`SendError`]: the caller asked for something the connection cannot do
//!   in its current state (send after close, an oversized control frame).
//!   Returned from the command that was misused; the connection is unharmed.
//! - [`HandshakeError`](crate::handshake::HandshakeError): the upgrade failed.
//! - [`SetupError`]: a connection could not be created, because a
//!   [`ConfigError`](crate::config::ConfigError) says a configuration value
//!   is out of range, or the client's request cannot be sent.

use core::fmt;

use crate::close::CloseCode;
use crate::envelope::batch::BatchError;
use crate::envelope::stream::{RecordError, StreamId};

/// A violation of RFC 6455 by the peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// An opcode reserved for future use (3–7, 11–15).
    ReservedOpcode(u8),
    /// An RSV bit set that no negotiated extension defines.
    ReservedBits,
    /// A client frame without a mask (servers must reject these).
    UnmaskedFrame,
    /// A server frame with a mask (clients must reject these).
    MaskedFrame,
    /// A control frame without FIN.
    FragmentedControlFrame,
    /// A control frame whose payload is over 125 bytes.
    ControlFrameTooLong(u64),
    /// A 64-bit payload length with its most significant bit set.
    LengthTopBitSet,
    /// A frame whose payload is over the configured maximum.
    FrameTooLarge {
        /// The announced payload length.
        len: u64,
        /// The configured maximum.
        max: u64,
    },
    /// A message whose total size would exceed the configured maximum.
    MessageTooLarge {
        /// The size the message would reach.
        len: u64,
        /// The configured maximum.
        max: u64,
    },
    /// A continuation frame with no fragmented message to continue.
    UnexpectedContinuation,
    /// A new text or binary frame while a fragmented message is unfinished.
    ExpectedContinuation,
    /// A text message or close reason that is not valid UTF-8.
    InvalidUtf8,
    /// A close frame with a code that may not be sent.
    InvalidCloseCode(u16),
    /// A close frame whose payload is a single byte.
    InvalidClosePayload,
    /// More input arrived than the connection may buffer in its state.
    InputLimit,
    /// A compressed message that does not inflate.
    InvalidCompressedData,
    /// A batch of the batching envelope that does not split, or breaks its
    /// limits; nothing of it was delivered.
    InvalidBatch(BatchError),
    /// A record of the streamed envelope that does not decode.
    InvalidStreamRecord(RecordError),
    /// The peer made the connection refuse more of its streams than may
    /// wait to be written: it keeps sending records for streams it may not
    /// send while it does not read the refusals.
    RefusalLimit,
}

impl ProtocolError {
    /// The close code the connection sends for this violation.
    ///
    /// ```
    /// use wscore::{CloseCode, ProtocolError};
    ///
    /// assert_eq!(ProtocolError::InvalidUtf8.close_code(), CloseCode::INVALID_PAYLOAD);
    /// assert_eq!(
    ///     ProtocolError::MessageTooLarge { len: 2, max: 1 }.close_code(),
    ///     CloseCode::TOO_BIG
    /// );
    /// ```
    pub fn close_code(self) -> CloseCode {
        match self {
            ProtocolError::InvalidUtf8 | ProtocolError::InvalidCompressedData => {
                CloseCode::INVALID_PAYLOAD
            }
            ProtocolError::FrameTooLarge { .. } | ProtocolError::MessageTooLarge { .. } => {
                CloseCode::TOO_BIG
            }
            ProtocolError::InputLimit | ProtocolError::RefusalLimit => CloseCode::POLICY,
            ProtocolError::InvalidStreamRecord(_) => CloseCode::INVALID_PAYLOAD,
            ProtocolError::InvalidBatch(error) => match error {
                BatchError::TooLarge { .. } => CloseCode::TOO_BIG,
                BatchError::TooManyMessages { .. } => CloseCode::POLICY,
                _ => CloseCode::INVALID_PAYLOAD,
            },
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::ReservedOpcode(op) => write!(f, "reserved opcode {op:#x}"),
            ProtocolError::ReservedBits => f.write_str("reserved bits set without an extension"),
            ProtocolError::UnmaskedFrame => f.write_str("unmasked frame from a client"),
            ProtocolError::MaskedFrame => f.write_str("masked frame from a server"),
            ProtocolError::FragmentedControlFrame => f.write_str("fragmented control frame"),
            ProtocolError::ControlFrameTooLong(len) => {
                write!(f, "control frame payload of {len} bytes (max 125)")
            }
            ProtocolError::LengthTopBitSet => f.write_str("64-bit length with the top bit set"),
            ProtocolError::FrameTooLarge { len, max } => {
                write!(f, "frame of {len} bytes exceeds the limit of {max}")
            }
            ProtocolError::MessageTooLarge { len, max } => {
                write!(f, "message of {len} bytes exceeds the limit of {max}")
            }
            ProtocolError::UnexpectedContinuation => f.write_str("continuation without a message"),
            ProtocolError::ExpectedContinuation => {
                f.write_str("new data frame inside a fragmented message")
            }
            ProtocolError::InvalidUtf8 => f.write_str("invalid UTF-8"),
            ProtocolError::InvalidCloseCode(code) => write!(f, "invalid close code {code}"),
            ProtocolError::InvalidClosePayload => f.write_str("close payload of one byte"),
            ProtocolError::InputLimit => f.write_str("input exceeds the buffer limit"),
            ProtocolError::InvalidCompressedData => f.write_str("compressed data does not inflate"),
            ProtocolError::InvalidBatch(error) => error.fmt(f),
            ProtocolError::InvalidStreamRecord(error) => error.fmt(f),
            ProtocolError::RefusalLimit => {
                f.write_str("streams refused faster than the refusals are read")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ProtocolError {}

/// A command the connection refused; the connection itself is unaffected.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// The handshake has not completed yet.
    NotOpen,
    /// A close frame was already sent or queued; no more data may follow.
    Closing,
    /// The connection is closed.
    Closed,
    /// A ping, pong or close payload over 125 bytes.
    ControlPayloadTooLong(usize),
    /// A close code that may not be sent (see [`CloseCode::is_sendable`]).
    InvalidCloseCode(u16),
    /// The connection is not waiting for an accept or reject decision.
    NoPendingRequest,
    /// The handshake answer could not be built.
    Handshake(crate::handshake::HandshakeError),
    /// Streams need a subprotocol that names the streamed envelope.
    StreamsNotNegotiated,
    /// No outbound stream with this id is being sent.
    UnknownStream(StreamId),
    /// Bytes pushed to a stream that was not opened with
    /// `Connection::open_stream`.
    NotPushed(StreamId),
    /// Bytes pushed past a stream's announced length; nothing was queued.
    PushPastEnd {
        /// The stream.
        id: StreamId,
        /// The length it announced.
        announced: u64,
        /// The length the push would have made.
        would_be: u64,
    },
    /// A stream longer than `StreamConfig::max_send_size`; nothing was
    /// queued.
    StreamTooLarge {
        /// The stream's length.
        len: u64,
        /// The limit.
        max: u64,
    },
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::NotOpen => f.write_str("the handshake has not completed"),
            SendError::Closing => f.write_str("the connection is closing"),
            SendError::Closed => f.write_str("the connection is closed"),
            SendError::ControlPayloadTooLong(len) => {
                write!(f, "control payload of {len} bytes (max 125)")
            }
            SendError::InvalidCloseCode(code) => write!(f, "close code {code} may not be sent"),
            SendError::NoPendingRequest => f.write_str("no handshake request awaits an answer"),
            SendError::Handshake(e) => write!(f, "handshake answer: {e}"),
            SendError::StreamsNotNegotiated => {
                f.write_str("no streamed subprotocol was negotiated")
            }
            SendError::UnknownStream(id) => write!(f, "no outbound stream {id}"),
            SendError::NotPushed(id) => write!(f, "stream {id} does not take pushed bytes"),
            SendError::PushPastEnd {
                id,
                announced,
                would_be,
            } => write!(
                f,
                "stream {id} announced {announced} bytes; the push would make {would_be}"
            ),
            SendError::StreamTooLarge { len, max } => {
                write!(f, "stream of {len} bytes over the sending limit of {max}")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for SendError {}

/// A connection could not be created: the error of
/// [`Connection::server`](crate::Connection::server),
/// [`Connection::client`](crate::Connection::client) and
/// [`Connection::upgraded`](crate::Connection::upgraded).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SetupError {
    /// The configuration is invalid.
    Config(crate::config::ConfigError),
    /// The client's upgrade request cannot be written (for example a header
    /// value with a line break).
    Request(crate::handshake::HandshakeError),
    /// The client's request offers an extension, named here, that the
    /// configuration does not run: permessage-deflate without
    /// [`Config::deflate`](crate::config::Config::deflate), or one the
    /// engine does not implement. A server that accepted it would send
    /// frames the connection fails with 1002. Configure permessage-deflate
    /// with `Config::deflate` (which writes the offer itself) instead.
    UnconfiguredExtension(alloc::string::String),
    /// A hibernation record does not fit the configuration it is resumed
    /// with: it holds a permessage-deflate agreement while
    /// [`Config::deflate`](crate::config::Config::deflate) is unset, or its
    /// subprotocol runs another envelope than the configuration declares
    /// for it. See [`Connection::resume`](crate::Connection::resume).
    RecordMismatch,
}

impl From<crate::config::ConfigError> for SetupError {
    fn from(e: crate::config::ConfigError) -> Self {
        SetupError::Config(e)
    }
}

impl From<crate::handshake::HandshakeError> for SetupError {
    fn from(e: crate::handshake::HandshakeError) -> Self {
        SetupError::Request(e)
    }
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetupError::Config(e) => write!(f, "invalid configuration: {e}"),
            SetupError::Request(e) => write!(f, "invalid upgrade request: {e}"),
            SetupError::UnconfiguredExtension(name) => {
                write!(f, "extension {name} is offered but not configured")
            }
            SetupError::RecordMismatch => {
                f.write_str("the hibernation record does not fit the configuration")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for SetupError {}
