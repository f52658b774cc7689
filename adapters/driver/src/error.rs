//! The one error type of the socket, sorted by where a failure came from:
//! the transport, the peer, the handshake, a deadline, or the caller.

use std::fmt;
use std::io;

use wscore::{CloseCause, HandshakeError, ProtocolError, SendError, SetupError, TimeoutKind};

/// Why a WebSocket operation failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The transport failed, or closed without a close handshake
    /// ([`io::ErrorKind::UnexpectedEof`]).
    Io(io::Error),
    /// The peer broke RFC 6455; the matching close frame was sent.
    Protocol(ProtocolError),
    /// The opening handshake failed (bad request or response, a non-`101`
    /// status for a client).
    Handshake(HandshakeError),
    /// Server: the callback rejected the request with this HTTP status,
    /// which was sent.
    Rejected(u16),
    /// A deadline passed: handshake, keepalive or close.
    Timeout(TimeoutKind),
    /// The connection refused a command (send after close, an oversized
    /// control payload, an invalid close code).
    Send(SendError),
    /// The socket could not be set up (invalid configuration or request).
    Setup(SetupError),
    /// The connection is closed: nothing more can be sent.
    Closed,
}

impl Error {
    /// The error a terminal [`CloseCause`] reports, or `None` for a clean
    /// close handshake.
    pub(crate) fn from_cause(cause: &CloseCause) -> Option<Error> {
        match cause {
            CloseCause::Remote | CloseCause::Local => None,
            CloseCause::Protocol(e) => Some(Error::Protocol(*e)),
            CloseCause::Handshake(e) => Some(Error::Handshake(e.clone())),
            CloseCause::Rejected(status) => Some(Error::Rejected(*status)),
            CloseCause::Timeout(kind) => Some(Error::Timeout(*kind)),
            CloseCause::Eof => Some(Error::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the peer closed the transport without a close handshake",
            ))),
            _ => Some(Error::Closed),
        }
    }

    /// A copy to hand to a second caller (an [`io::Error`] cannot be
    /// cloned: its kind and message are kept).
    pub(crate) fn duplicate(&self) -> Error {
        match self {
            Error::Io(e) => Error::Io(io::Error::new(e.kind(), e.to_string())),
            Error::Protocol(e) => Error::Protocol(*e),
            Error::Handshake(e) => Error::Handshake(e.clone()),
            Error::Rejected(s) => Error::Rejected(*s),
            Error::Timeout(k) => Error::Timeout(*k),
            Error::Send(e) => Error::Send(e.clone()),
            Error::Setup(e) => Error::Setup(e.clone()),
            Error::Closed => Error::Closed,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "transport error: {e}"),
            Error::Protocol(e) => write!(f, "protocol error: {e}"),
            Error::Handshake(e) => write!(f, "handshake failed: {e}"),
            Error::Rejected(status) => write!(f, "handshake rejected with status {status}"),
            Error::Timeout(TimeoutKind::Handshake) => f.write_str("handshake timed out"),
            Error::Timeout(TimeoutKind::Keepalive) => {
                f.write_str("the peer did not answer a keepalive ping")
            }
            Error::Timeout(TimeoutKind::Close) => {
                f.write_str("the peer did not answer the close frame in time")
            }
            Error::Timeout(kind) => write!(f, "timed out: {kind:?}"),
            Error::Send(e) => write!(f, "cannot send: {e}"),
            Error::Setup(e) => write!(f, "{e}"),
            Error::Closed => f.write_str("the connection is closed"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            Error::Protocol(e) => Some(e),
            Error::Handshake(e) => Some(e),
            Error::Send(e) => Some(e),
            Error::Setup(e) => Some(e),
            Error::Rejected(_) | Error::Timeout(_) | Error::Closed => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

impl From<SendError> for Error {
    fn from(e: SendError) -> Self {
        Error::Send(e)
    }
}

impl From<SetupError> for Error {
    fn from(e: SetupError) -> Self {
        Error::Setup(e)
    }
}

impl From<HandshakeError> for Error {
    fn from(e: HandshakeError) -> Self {
        Error::Handshake(e)
    }
}

impl From<Error> for io::Error {
    /// For code that speaks `io::Error` (a transport failure is passed
    /// through unchanged).
    fn from(e: Error) -> Self {
        match e {
            Error::Io(e) => e,
            Error::Timeout(_) => io::Error::new(io::ErrorKind::TimedOut, e),
            Error::Closed => io::Error::new(io::ErrorKind::NotConnected, e),
            other => io::Error::new(io::ErrorKind::InvalidData, other),
        }
    }
}
