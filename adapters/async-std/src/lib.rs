//! # wscore-async-std
//!
//! WebSocket streams (RFC 6455) for any `futures-io` transport — async-std,
//! smol, `async-io`, or anything else implementing
//! [`futures_io::AsyncRead`] + [`futures_io::AsyncWrite`] — on the
//! [`wscore`] protocol engine.
//!
//! - Servers: [`accept`] / [`accept_with`] (a callback sees the path,
//!   query, headers and offered subprotocols and accepts or rejects).
//! - Clients: [`connect`] / [`connect_with`] for `ws://` URLs (`wss://`
//!   with the `rustls` feature), [`client`] over a stream you opened.
//! - Already-upgraded connections: [`from_upgraded`].
//!
//! The resulting [`WebSocket`] is a [`Stream`](futures_core::Stream) of
//! [`Message`]s and a [`Sink`](futures_sink::Sink) of them, with inherent
//! `recv`, `send`, `ping`, `close`, and [`split`](wscore_driver::Socket::split)
//! into halves for two tasks.
//! [`next_event`](wscore_driver::Socket::next_event) adds incremental
//! pieces of messages and streams, stream failures, pings and pongs; streams
//! are sent with [`send_stream`](wscore_driver::Socket::send_stream) and
//! [`send_stream_from_reader`](wscore_driver::Socket::send_stream_from_reader).
//! [`stream_body`](wscore_driver::Socket::stream_body) hands one incoming
//! stream to code that reads bytes: the [`Body`](wscore_driver::Body) is
//! a `futures-io` `AsyncRead` for `futures::io::copy`.
//! Protocol behaviour (framing, masking, close handshake, keepalive and
//! deadlines) lives in the core; this crate does the IO and owns the timers.
//!
//! ```no_run
//! use futures::{SinkExt, StreamExt};
//! use wscore_async_std::{CloseCode, Message};
//!
//! # async_std::task::block_on(async {
//! let (mut ws, _) = wscore_async_std::connect("ws://127.0.0.1:9001").await?;
//! ws.send(Message::text("hello")).await?;
//! let echo = ws.next().await.transpose()?;
//! assert_eq!(echo, Some(Message::text("hello")));
//! ws.close(CloseCode::NORMAL, "").await?;
//! # Ok::<(), wscore_async_std::Error>(())
//! # });
//! ```
//!
//! # Runtimes
//!
//! The IO loop is in [`wscore_driver`], generic over the transport and a
//! small [`Timer`](wscore_driver::Timer) trait, and shared with
//! `wscore-tokio`. The default `async-io` feature supplies the timer of the
//! reactor async-std and smol share, plus TCP for [`connect`]; without it
//! the crate only re-exports the driver.
//!
//! # Features
//!
//! - `deflate` (default): permessage-deflate (RFC 7692). Off by default
//!   on the wire: set [`Config::protocol`]'s `deflate` to offer (client) or
//!   accept (server) it.
//! - `async-io` (default): timers and TCP from `async-io`.
//! - `rustls`: `wss://` URLs in [`connect`], trusting the webpki root
//!   certificates; `connect_with_tls` and the `tls` module for a root store
//!   or a rustls configuration of your own.
#![deny(unsafe_code)]

#[cfg(feature = "async-io")]
mod hub;
#[cfg(feature = "async-io")]
mod net;
#[cfg(feature = "async-io")]
mod runtime;

#[cfg(feature = "async-io")]
pub use hub::{
    accept_member, accept_member_with, adopt_attachment, end_attachment, save_attachment,
    stored_keys, Adder, Member, Served,
};
#[cfg(feature = "rustls")]
pub use net::connect_with_tls;
#[cfg(feature = "async-io")]
pub use net::{connect, connect_with, MaybeTlsStream};
#[cfg(feature = "async-io")]
pub use runtime::{
    accept, accept_with, client, from_upgraded, AsyncIoTimer, Body, ReadHalf, WebSocket, WriteHalf,
};
/// The runtime-independent socket these types are built on.
pub use wscore_driver as driver;
pub use wscore_driver::hub::{
    Admission, AttachmentError, DurableError, HibernateRefusal, Hub, HubConfig, HubEvent, Liveness,
    MemberId, MemberStats, Published, RoomEvent, SlowConsumer, TagError,
};
/// Durable attachments: the store trait and its file-system store.
pub use wscore_driver::store;
#[cfg(feature = "rustls")]
pub use wscore_driver::tls;
pub use wscore_driver::{
    BodyError, Config, Direction, Error, Event, MessageKind, StreamError, StreamEvent, StreamId,
};

pub use wscore;
pub use wscore::{
    Accept, ClientRequest, CloseCause, CloseCode, CloseFrame, Closed, Message, Reject, Request,
    Response, Role, TimeoutKind,
};

/// The README's examples, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;
