//! # wscore
//!
//! A sans-IO WebSocket protocol engine ([RFC 6455]) for both roles.
//!
//! [`Connection`] is a pure state machine: bytes read from a transport and
//! the current time go in; bytes to write, events and the next deadline come
//! out. It never reads a clock, opens a socket, spawns a task or draws
//! entropy on its own, so it runs inside any IO runtime (the `wscore-tokio`
//! and `wscore-async-std` crates are thin bindings), in simulations, in
//! fuzzers and on `no_std` targets with `alloc`.
//!
//! ## The loop
//!
//! ```
//! use wscore::{Config, Connection, Event, Instant, Message};
//!
//! // A server whose handshake happened elsewhere, fed one masked text frame.
//! let now = Instant::ZERO;
//! let mut conn = Connection::upgraded(wscore::Role::Server, Config::default(), [0; 32], now)?;
//! conn.handle_input(now, &[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
//!
//! // 1. Drain transmits and write them to the transport.
//! while let Some(transmit) = conn.poll_transmit() {
//!     let _bytes = (transmit.header(), transmit.payload());
//! }
//! // 2. Drain events.
//! while let Some(event) = conn.poll_event() {
//!     if let Event::Message(message) = event {
//!         assert_eq!(message, Message::text("Hello"));
//!         conn.send(message)?; // echo
//!     }
//! }
//! // 3. Sleep until the next deadline (if any), then call `handle_timeout`.
//! if let Some(deadline) = conn.poll_timeout() {
//!     conn.handle_timeout(deadline);
//! }
//! let echo = conn.poll_transmit().unwrap();
//! assert_eq!(echo.header(), &[0x81, 0x05]);
//! assert_eq!(echo.payload().as_ref(), b"Hello");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A read that returns no bytes is the end of the transport: call
//! [`Connection::handle_eof`] instead, and the connection ends with
//! [`Event::Closed`] (code 1006, [`CloseCause::Eof`]) after the events
//! decoded before it, unless the close handshake had already got that far.
//!
//! ## The API
//!
//! Everything an application uses is at the crate root; the modules that
//! implement it are private, so each type has one path.
//!
//! - The engine: [`Connection`] (its documentation describes the loop and
//!   the ordering guarantees around a close), [`Role`], what it hands back
//!   ([`Transmit`], [`Event`], [`Connected`], [`Closed`], [`CloseCause`],
//!   [`TimeoutKind`]) and the clock-free [`Instant`] it is driven with.
//! - Hibernation, for servers with many idle connections: an open
//!   connection with nothing in flight gives itself up for a compact
//!   [`Hibernated`] record ([`Connection::hibernate`]) and is rebuilt from
//!   it with [`Connection::resume`]; [`HibernateError`] says why a
//!   connection cannot hibernate yet, and [`RecordDecodeError`] why bytes
//!   are not a stored record.
//! - Messages: [`Message`], [`MessageKind`] and [`Utf8Bytes`], a
//!   [`Bytes`](bytes::Bytes) known to hold UTF-8.
//! - Broadcasting: [`PreparedMessage`], a message framed once and shared
//!   by every connection it is sent to with
//!   [`Connection::send_prepared`]; [`FrameEncoding`] says which of its
//!   frames a connection can take, and with permessage-deflate a
//!   [`SharedCompressor`] compresses it once per [`DeflateShare`].
//! - Closing: [`CloseCode`], [`CloseFrame`] and [`MAX_REASON_LEN`].
//! - The opening handshake (RFC 6455 §4): a client describes its request
//!   with [`ClientRequest`] and reads the server's [`Response`]; a server
//!   reads the client's [`Request`] (its [`Header`]s included) and answers
//!   with [`Accept`] or [`Reject`]. [`accept_key`] computes
//!   `Sec-WebSocket-Accept` for a server whose HTTP layer does the upgrade.
//! - Configuration: [`Config`] with its [`ReceiveMode`] and [`Keepalive`];
//!   subprotocols ([`Subprotocol`]) and the [`Envelope`] each names, with
//!   [`BatchConfig`] and [`Framing`] for batching and [`StreamConfig`] for
//!   streams; permessage-deflate through [`DeflateConfig`], whose agreement
//!   is a [`DeflateParams`].
//! - Streams on a streamed subprotocol: [`StreamId`], [`StreamEvent`],
//!   [`Direction`], [`StreamError`], [`AbortCode`], and [`StreamSource`] /
//!   [`ChunkSource`] for what [`Connection::send_stream`] sends.
//! - Errors, kept apart by who is at fault: [`ProtocolError`] (the peer
//!   broke the protocol; the connection ends with the close code of
//!   [`ProtocolError::close_code`]), with [`BatchError`] and [`RecordError`]
//!   for malformed envelopes; [`SendError`] (a command the connection cannot
//!   carry out now; the connection is unharmed); [`HandshakeError`] (the
//!   upgrade failed), with [`NegotiationError`] for permessage-deflate;
//!   [`SetupError`] and [`ConfigError`] (a connection could not be built);
//!   [`InvalidUtf8`] (bytes that are not text).
//! - Rooms, for servers that broadcast to groups of connections: [`Rooms`]
//!   keeps members by room and rooms by member, with [`MemberId`],
//!   [`RoomEvent`], [`RoomsFull`], [`UnknownMember`] and [`room_of_path`]
//!   (a connection's default room).
//!
//! One module is public: [`wire`], the frame, batch, stream-record and
//! permessage-deflate codecs on their own, for tools, fuzz targets and
//! benchmarks that write or parse bytes without a connection. It carries
//! its own stability note.
//!
//! ## Features
//!
//! - `std` (default): `std::error::Error` impls and run-time SIMD detection
//!   for UTF-8 validation. Without it the crate is `no_std` + `alloc`.
//! - `deflate` (default): permessage-deflate ([RFC 7692]), enabled per
//!   connection with [`Config::deflate`]; it adds [`DeflateConfig`],
//!   [`DeflateParams`], [`NegotiationError`] and the codec in [`wire`].
//!   Needs `std`.
//! - `test-support` (not default, for tests only): the `test_support`
//!   module, frames written by hand and a connected client/server pair,
//!   shared by this crate's unit tests and the workspace's test, benchmark
//!   and fuzz crates.
//!
//! [RFC 7692]: https://www.rfc-editor.org/rfc/rfc7692
//!
//! [RFC 6455]: https://www.rfc-editor.org/rfc/rfc6455
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(unsafe_code)]
// Peer input must never reach a panic (see the crate's rules): indexing,
// `unwrap`, `expect` and `panic!` are refused outside tests, and a path that
// cannot fail says so with a fallback and a `debug_assert!`.
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod activity;
mod close;
mod config;
mod connection;
mod envelope;
mod error;
#[cfg(feature = "deflate")]
mod extension;
mod frame;
mod handshake;
mod message;
mod prepared;
mod rng;
mod rooms;
#[cfg(any(test, feature = "test-support"))]
// Test support asserts what a test expects and panics otherwise; it is
// never built into a production binary (see the module documentation).
#[allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]
pub mod test_support;
mod time;
mod timer;
mod utf8;
pub mod wire;

// The connection and what it hands back.
pub use connection::{
    CloseCause, Closed, Connected, Connection, Event, HibernateError, Hibernated,
    RecordDecodeError, Role, TimeoutKind, Transmit,
};
pub use message::{Message, MessageKind};
#[cfg(feature = "deflate")]
pub use prepared::{DeflateShare, SharedCompressor};
pub use prepared::{FrameEncoding, PreparedMessage};
pub use time::Instant;
pub use utf8::{InvalidUtf8, Utf8Bytes};

// How busy a connection is.
pub use activity::{Activity, Liveness};

// Closing.
pub use close::{CloseCode, CloseFrame, MAX_REASON_LEN};

// Configuration.
pub use config::{Config, Keepalive, ReceiveMode};
#[cfg(feature = "deflate")]
pub use extension::deflate::{DeflateConfig, DeflateParams};

// Envelopes: batching and streams.
pub use envelope::batch::BatchConfig;
pub use envelope::stream::{
    AbortCode, ChunkSource, Direction, StreamConfig, StreamError, StreamEvent, StreamId,
    StreamSource,
};
pub use envelope::{Envelope, Framing, Subprotocol};

// The opening handshake.
pub use handshake::{accept_key, Accept, ClientRequest, Header, Reject, Request, Response};

// Rooms: membership for broadcasting servers.
pub use rooms::{room_of_path, MemberId, RoomEvent, Rooms, RoomsFull, UnknownMember};

// Errors.
pub use config::ConfigError;
pub use envelope::batch::BatchError;
pub use envelope::stream::RecordError;
pub use error::{ProtocolError, SendError, SetupError};
#[cfg(feature = "deflate")]
pub use extension::deflate::NegotiationError;
pub use handshake::HandshakeError;
