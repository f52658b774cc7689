//! The socket on `async-io`'s reactor: the timer, the type aliases and the
//! server and client entry points for any `futures-io` transport.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use futures_io::{AsyncRead, AsyncWrite};
use wscore::{Accept, ClientRequest, Reject, Request, Response, Role};

use wscore_driver as driver;

use crate::{Config, Error};

/// [`driver::Timer`] on `async-io`'s reactor (the one async-std and smol
/// run on; it works from any executor).
#[derive(Debug)]
pub struct AsyncIoTimer(async_io::Timer);

impl driver::Timer for AsyncIoTimer {
    fn now() -> Instant {
        // The adapter is where the connection's clock is read; the core
        // only ever sees the instants derived from it.
        #[allow(clippy::disallowed_methods)]
        Instant::now()
    }

    fn new(deadline: Instant) -> Self {
        AsyncIoTimer(async_io::Timer::at(deadline))
    }

    fn reset(&mut self, deadline: Instant) {
        self.0.set_at(deadline);
    }

    fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx).map(drop)
    }
}

/// A WebSocket over the `futures-io` transport `S`: a
/// [`Stream`](futures_core::Stream) of messages and a
/// [`Sink`](futures_sink::Sink) of messages. See [`driver::Socket`].
pub type WebSocket<S> = driver::Socket<S, AsyncIoTimer>;

/// The receiving half of a split [`WebSocket`].
pub type ReadHalf<S> = driver::ReadHalf<S, AsyncIoTimer>;

/// The sending half of a split [`WebSocket`].
pub type WriteHalf<S> = driver::WriteHalf<S, AsyncIoTimer>;

/// The body of one incoming stream or message of a [`WebSocket`] or
/// [`ReadHalf`] (`stream_body`, `message_body`): a
/// [`Stream`](futures_core::Stream) of `io::Result<Bytes>` and a
/// `futures-io` `AsyncRead`. See [`driver::Body`].
pub type Body<'a, S> = driver::Body<'a, S, AsyncIoTimer>;

/// Server: completes the opening handshake on `stream`, accepting any
/// request, with the default [`Config`].
///
/// ```no_run
/// use futures::{SinkExt, StreamExt};
///
/// # async_std::task::block_on(async {
/// let listener = async_std::net::TcpListener::bind("127.0.0.1:9001").await?;
/// let (stream, _) = listener.accept().await?;
/// let mut ws = wscore_async_std::accept(stream).await?;
/// while let Some(message) = ws.next().await {
///     ws.send(message?).await?;
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # });
/// ```
pub fn accept<S>(stream: S) -> impl Future<Output = Result<WebSocket<S>, Error>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    WebSocket::accept(stream, Config::default())
}

/// Server: completes the opening handshake on `stream`, letting `callback`
/// accept (possibly with a subprotocol) or reject (with an HTTP status).
///
/// ```no_run
/// use wscore_async_std::{Accept, Config, Reject};
///
/// # async_std::task::block_on(async {
/// # let stream: async_std::net::TcpStream = todo!();
/// let ws = wscore_async_std::accept_with(stream, Config::default(), |request| {
///     if request.path() != "/chat" {
///         return Err(Reject::new(404));
///     }
///     match request.subprotocols().iter().find(|p| *p == "chat.v2") {
///         Some(p) => Ok(Accept::new().subprotocol(p.clone())),
///         None => Ok(Accept::new()),
///     }
/// })
/// .await?;
/// # Ok::<(), wscore_async_std::Error>(())
/// # });
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
    WebSocket::accept_with(stream, config, callback)
}

/// Client: runs the opening handshake for `request` over an established
/// `stream` (TCP, TLS, a proxy tunnel, an in-memory pipe).
pub fn client<S>(
    stream: S,
    request: ClientRequest,
    config: impl Into<Config>,
) -> impl Future<Output = Result<(WebSocket<S>, Response), Error>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    WebSocket::client(stream, request, config)
}

/// A socket over a connection an HTTP server already upgraded.
pub fn from_upgraded<S>(
    stream: S,
    role: Role,
    config: impl Into<Config>,
) -> Result<WebSocket<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    WebSocket::from_upgraded(stream, role, config)
}
