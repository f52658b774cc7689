//! # wscore-tokio
//!
//! WebSocket streams (RFC 6455) for tokio, on the [`wscore`] protocol
//! engine, over any `tokio::io::AsyncRead + AsyncWrite + Unpin` transport:
//! a `TcpStream`, a TLS stream, a connection upgraded by hyper or axum, an
//! in-memory `tokio::io::duplex`.
//!
//! - Servers: [`accept`] / [`accept_with`] (a callback sees the path,
//!   query, headers and offered subprotocols and accepts or rejects).
//! - Clients: [`connect`] / [`connect_with`] for `ws://` URLs (`wss://`
//!   with the `rustls` feature), [`client`] over a stream you opened.
//! - Already-upgraded connections: [`from_upgraded`].
//!
//! The resulting [`WebSocket`] is a [`Stream`](futures_core::Stream) of
//! [`Message`]s and a [`Sink`](futures_sink::Sink) of them, with inherent
//! `recv`, `send`, `ping`, `close`, and
//! [`split`](wscore_driver::Socket::split) into halves for two tasks.
//! [`next_event`](wscore_driver::Socket::next_event) adds incremental
//! pieces of messages and streams, stream failures, pings and pongs; streams
//! are sent with [`send_stream`](wscore_driver::Socket::send_stream) and
//! [`send_stream_from_reader`](wscore_driver::Socket::send_stream_from_reader).
//! [`stream_body`](wscore_driver::Socket::stream_body) hands one incoming
//! stream to code that reads bytes: wrap it in
//! `tokio_util::io::StreamReader` for `tokio::io::copy`.
//!
//! ```no_run
//! use futures::{SinkExt, StreamExt};
//! use tokio::net::TcpListener;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let listener = TcpListener::bind("127.0.0.1:9001").await?;
//! loop {
//!     let (stream, _) = listener.accept().await?;
//!     tokio::spawn(async move {
//!         let mut ws = wscore_tokio::accept(stream).await?;
//!         while let Some(message) = ws.next().await {
//!             ws.send(message?).await?;
//!         }
//!         Ok::<_, wscore_tokio::Error>(())
//!     });
//! }
//! # }
//! ```
//!
//! # Runtime
//!
//! Every socket has deadlines (at least the handshake's), kept with
//! `tokio::time`: the runtime needs its time driver, which
//! `#[tokio::main]`, `#[tokio::test]` and `Builder::enable_all` provide.
//!
//! # How it is built
//!
//! The IO loop is written once, in [`wscore_driver`], against
//! `futures-io`, and shared with `wscore-async-std`; this crate supplies
//! [`TokioTransport`] (tokio IO as the driver's transport, read through
//! tokio's `ReadBuf` into spare capacity, so large frames and busy
//! connections are read without zeroing their buffers first), [`TokioIo`]
//! (tokio IO seen as `futures-io`, for readers handed to the socket) and
//! [`TokioTimer`] (tokio's timer and clock, so paused
//! time in tests drives keepalive and close deadlines). Protocol behaviour
//! lives in the core.
//!
//! # Features
//!
//! - `deflate` (default): permessage-deflate (RFC 7692). Off by default
//!   on the wire: set [`Config::protocol`]'s `deflate` to offer (client) or
//!   accept (server) it.
//! - `rustls`: `wss://` URLs in [`connect`], trusting the webpki root
//!   certificates; `connect_with_tls` and the `tls` module for a root store
//!   or a rustls configuration of your own.
#![deny(unsafe_code)]

mod hub;
mod io;
mod net;
mod timer;

use std::future::Future;
use tokio::io::{AsyncRead, AsyncWrite};

pub use hub::{
    accept_member, accept_member_with, adopt_attachment, end_attachment, save_attachment,
    stored_keys, Adder, Member, Served,
};
pub use io::{TokioIo, TokioTransport};
#[cfg(feature = "rustls")]
pub use net::connect_with_tls;
pub use net::{connect, connect_with, MaybeTlsStream};
pub use timer::TokioTimer;

pub use wscore;
pub use wscore::{
    Accept, ClientRequest, CloseCause, CloseCode, CloseFrame, Closed, Message, Reject, Request,
    Response, Role, TimeoutKind,
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

/// A WebSocket over the tokio transport `S`: a
/// [`Stream`](futures_core::Stream) of messages and a
/// [`Sink`](futures_sink::Sink) of messages. See [`driver::Socket`] for
/// every method.
pub type WebSocket<S> = driver::Socket<TokioTransport<S>, TokioTimer>;

/// The receiving half of a split [`WebSocket`].
pub type ReadHalf<S> = driver::ReadHalf<TokioTransport<S>, TokioTimer>;

/// The sending half of a split [`WebSocket`].
pub type WriteHalf<S> = driver::WriteHalf<TokioTransport<S>, TokioTimer>;

/// The body of one incoming stream or message of a [`WebSocket`] or
/// [`ReadHalf`] (`stream_body`, `message_body`): a
/// [`Stream`](futures_core::Stream) of `io::Result<Bytes>`, which
/// `tokio_util::io::StreamReader` turns into a tokio `AsyncRead`. See
/// [`driver::Body`].
pub type Body<'a, S> = driver::Body<'a, TokioTransport<S>, TokioTimer>;

/// Server: completes the opening handshake on `stream`, accepting any
/// request, with the default [`Config`].
pub fn accept<S>(stream: S) -> impl Future<Output = Result<WebSocket<S>, Error>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    WebSocket::accept(TokioTransport::new(stream), Config::default())
}

/// Server: completes the opening handshake on `stream`, letting `callback`
/// accept (possibly with a subprotocol) or reject (with an HTTP status).
///
/// A rejection is written and returned as [`Error::Rejected`].
///
/// ```no_run
/// use wscore_tokio::{Accept, Config, Reject};
///
/// # async fn run(stream: tokio::net::TcpStream) -> Result<(), wscore_tokio::Error> {
/// let ws = wscore_tokio::accept_with(stream, Config::default(), |request| {
///     if request.path() != "/chat" {
///         return Err(Reject::new(404));
///     }
///     match request.subprotocols().iter().find(|p| *p == "chat.v2") {
///         Some(p) => Ok(Accept::new().subprotocol(p.clone())),
///         None => Ok(Accept::new()),
///     }
/// })
/// .await?;
/// # Ok(())
/// # }
/// ```
pub fn accept_with<S, F>(
    stream: S,
    config: impl Into<Config>,
    callback: F,
) -> impl Future<Output = Result<WebSocket<S>, Error>>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&Request) -> Result<Accept, Reject>,
{
    WebSocket::accept_with(TokioTransport::new(stream), config, callback)
}

/// Client: runs the opening handshake for `request` over an established
/// `stream` (TCP, TLS, a proxy tunnel, an in-memory duplex).
pub fn client<S>(
    stream: S,
    request: ClientRequest,
    config: impl Into<Config>,
) -> impl Future<Output = Result<(WebSocket<S>, Response), Error>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    WebSocket::client(TokioTransport::new(stream), request, config)
}

/// A socket over a connection whose handshake was done elsewhere, such as
/// hyper's or axum's upgraded connection. It starts open.
///
/// The `axum_upgrade` example answers the upgrade request in an axum route
/// and hands hyper's upgraded connection (through
/// `hyper_util::rt::TokioIo`) to this function, behind an extractor shaped
/// like axum's own `WebSocketUpgrade`.
pub fn from_upgraded<S>(
    stream: S,
    role: Role,
    config: impl Into<Config>,
) -> Result<WebSocket<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    WebSocket::from_upgraded(TokioTransport::new(stream), role, config)
}

/// The examples of `docs/rooms.md`, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/rooms.md")]
struct RoomsGuideExamples;

/// The examples of `docs/hibernation.md`, compiled as doctests so they
/// stay true.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/hibernation.md")]
struct HibernationGuideExamples;

/// The README's examples, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;
