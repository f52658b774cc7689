//! # wscore-driver
//!
//! The runtime-independent WebSocket socket of [`wscore`]: one
//! [`Connection`](wscore::Connection) driven over any
//! `futures-io` transport with any [`Timer`]. Everything about frames,
//! masks, close codes and deadlines is decided by the core; this crate owns
//! the IO loop (read windows, vectored writes, back-pressure, the timer,
//! the end of the connection) and the [`Stream`](futures_core::Stream) /
//! [`Sink`](futures_sink::Sink) surface of [`Socket`].
//!
//! Beyond whole messages, [`Socket::next_event`] hands out [`Event`]s:
//! incremental pieces of messages and streams (with
//! [`ReceiveMode::Incremental`](wscore::ReceiveMode::Incremental)),
//! stream failures, pings, pongs and the peer's close frame, reading the
//! transport only as fast as they are taken. [`Socket::stream_body`] and
//! [`Socket::message_body`] hand the rest of one incoming stream or
//! message to code written against a [`Stream`](futures_core::Stream) of
//! [`Bytes`](bytes::Bytes) or an `AsyncRead` (see [`Body`]). Streams are sent from
//! [`Bytes`](bytes::Bytes), from an `AsyncRead`
//! ([`Socket::send_stream_from_reader`]) or from pushed pieces
//! ([`Socket::open_stream`], [`Socket::push_stream`]), at the pace of the
//! transport.
//!
//! Applications use it through a runtime crate, which supplies a
//! [`Timer`], TCP and TLS and the entry functions (`accept`, `connect`, …)
//! and re-exports [`Config`], [`Error`] and its own aliases of [`Socket`]:
//!
//! - `wscore-tokio`: tokio's timer and transports;
//! - `wscore-async-std`: `async-io`'s timer and `futures-io` transports
//!   (async-std, smol).
//!
//! Another runtime needs only a [`Timer`] and a transport implementing
//! [`futures_io::AsyncRead`] + [`futures_io::AsyncWrite`], which makes it
//! an [`io::Transport`]. A transport that can read into a buffer's spare
//! capacity implements [`io::Transport`] itself instead, and the socket
//! then never zeroes a read buffer (`wscore-tokio`'s `TokioTransport`).
//!
//! # Rooms and broadcast
//!
//! The [`hub`] module groups server sockets into rooms and broadcasts to
//! them: each broadcast is framed (and, where members can share it,
//! compressed) once, every member drains its own bounded queue with
//! back-pressure, and a slow consumer is dropped from or closed, never
//! silently. Members run in a task each ([`hub::Member`]) or all from one
//! task ([`hub::Served`]).
//!
//! # Durable attachments
//!
//! The [`store`] module keeps a small value per connection (an
//! attachment) across crashes and restarts: the [`store::AttachmentStore`]
//! trait and [`store::FsStore`], one file per connection written with
//! temporary file, `fsync`, `rename` and directory `fsync`. It is
//! synchronous: run it on a blocking thread.
//!
//! # Features
//!
//! - `deflate` (default): permessage-deflate (RFC 7692), offered or
//!   accepted when [`Config::protocol`] asks for it.
//! - `rustls`: the `tls` module, the rustls client configuration the
//!   runtime crates use for `wss://` URLs.
//! - `test-util`: the `testing` module, an in-memory transport with knobs
//!   for misbehaving peers and a manual clock, for deterministic tests of
//!   code built on [`Socket`] (a dev-dependency feature).
#![deny(unsafe_code)]

mod assemble;
mod body;
mod config;
mod engine;
mod error;
mod event;
pub mod hub;
pub mod io;
mod outgoing;
mod side;
mod socket;
mod split;
pub mod store;
#[cfg(feature = "test-util")]
pub mod testing;
mod timer;
#[cfg(feature = "rustls")]
pub mod tls;

pub use body::{Body, BodyError};
pub use config::Config;
pub use error::Error;
pub use event::Event;
pub use socket::Socket;
pub use split::{ReadHalf, WriteHalf};
pub use timer::Timer;

pub use wscore;
pub use wscore::{
    Accept, ClientRequest, CloseCause, CloseCode, CloseFrame, Closed, Direction, Message,
    MessageKind, Reject, Request, Response, Role, StreamError, StreamEvent, StreamId, TimeoutKind,
};
