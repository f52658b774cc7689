//! The socket: a [`Connection`] driven over any `futures-io` transport
//! with any [`Timer`].
//!
//! The IO loop and nothing else; everything about frames,
//! masks, close codes and deadlines is decided by the core, which the loop
//! only feeds and drains:
//!
//! - bytes read go to [`Connection::handle_input_buf`] in read windows of
//!   up to [`Config::read_buffer_size`] bytes, which become the payloads'
//!   memory (no copy);
//! - every transmit the core has ready is written in one vectored write
//!   (header and payload slices, payloads never copied), then the
//!   transport is flushed;
//! - the timer sleeps until [`Connection::poll_timeout`] and then calls
//!   [`Connection::handle_timeout`]; nothing polls in a loop;
//! - once the connection is over, what is left is written (for at most the
//!   close timeout) and the transport is shut down.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use crate::io::Transport;
use bytes::Bytes;
use futures_core::{FusedStream, Stream};
use futures_sink::Sink;
use wscore::{
    Accept, ClientRequest, CloseCode, Closed, Connection, Message, Reject, Request, Response, Role,
    StreamId,
};

use crate::body::Body;
use crate::engine::Engine;
use crate::outgoing::{self, Drive};
use crate::side::Target;
use crate::split::{self, ReadHalf, WriteHalf};
use crate::{Config, Error, Event, Timer};

/// A seed for a client's masking keys, from the operating system.
fn seed() -> Result<[u8; 32], Error> {
    let mut seed = [0; 32];
    getrandom::fill(&mut seed).map_err(|e| Error::Io(std::io::Error::other(e)))?;
    Ok(seed)
}

/// A WebSocket over the transport `S`, with timers from `T`.
///
/// Receive with [`Socket::recv`] or as a [`Stream`] of messages; send with
/// [`Socket::send`] or as a [`Sink`]. Pings are answered by the connection
/// itself. The stream ends with `None` after a clean close handshake, or
/// with one `Err` first (a protocol violation by the peer, a deadline, a
/// transport failure).
///
/// # Delivery and dropping
///
/// A `Drop` cannot do IO, so the socket never writes on drop. What
/// [`Socket::send`] (or [`Sink::poll_flush`]) reported as sent has been
/// written to the transport; a message only queued (`Sink::start_send`,
/// `SinkExt::feed`) is written by the next flush, send or close, and lost
/// if the socket is dropped first. [`Socket::close`] writes everything
/// queued, then the close frame.
pub struct Socket<S, T> {
    // Boxed: a socket is held in the application's task, whose future
    // keeps room for every value live across an await, and the accept
    // future and the socket it returns would otherwise both be inline
    // there, for the life of the connection.
    engine: Box<Engine<S, T>>,
}

impl<S, T> std::fmt::Debug for Socket<S, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("connection", self.engine.connection())
            .finish_non_exhaustive()
    }
}

impl<S, T> Socket<S, T>
where
    S: Transport,
    T: Timer,
{
    /// Server: reads the opening request from `io` and accepts it.
    pub fn accept(io: S, config: impl Into<Config>) -> impl Future<Output = Result<Self, Error>> {
        Self::accept_with(io, config, |_| Ok(Accept::new()))
    }

    /// Server: reads the opening request from `io` and lets `callback`
    /// decide. The callback sees the path, query, headers and offered
    /// subprotocols, and answers with an [`Accept`] (which may choose a
    /// subprotocol) or a [`Reject`] (an HTTP status, headers and body).
    ///
    /// A rejection is written and returned as [`Error::Rejected`]; an
    /// [`Accept`] the handshake cannot honour (a subprotocol the client did
    /// not offer) is answered with `500` and returned as [`Error::Send`].
    ///
    /// The connection is set up when this is called (its handshake timeout
    /// counts from then); the future keeps only the boxed engine and the
    /// callback, so a task awaiting it stays small.
    pub fn accept_with<F>(
        io: S,
        config: impl Into<Config>,
        callback: F,
    ) -> impl Future<Output = Result<Self, Error>>
    where
        F: FnOnce(&Request) -> Result<Accept, Reject>,
    {
        let handshake =
            Self::accept_deciding(io, config, |request| callback(request).map(|a| (a, ())));
        async move { Ok(handshake.await?.0) }
    }

    /// [`Socket::accept_with`] whose callback also decides something of the
    /// caller's, handed back with the socket (`None` only if the callback
    /// was never asked, which a successful handshake rules out).
    pub(crate) fn accept_deciding<F, X>(
        io: S,
        config: impl Into<Config>,
        callback: F,
    ) -> impl Future<Output = Result<(Self, Option<X>), Error>>
    where
        F: FnOnce(&Request) -> Result<(Accept, X), Reject>,
    {
        let config = config.into();
        let engine = Engine::new(io, &config, |now| {
            Connection::server(config.core(), now).map_err(Error::Setup)
        })
        .map(Box::new);
        async move {
            let mut engine = engine?;
            let mut callback = Some(callback);
            let mut decided = None;
            let mut decide = |request: &Request| match callback.take() {
                Some(callback) => callback(request).map(|(accept, x)| {
                    decided = Some(x);
                    accept
                }),
                None => Err(Reject::new(500)),
            };
            poll_fn(|cx| engine.poll_handshake(cx, &mut decide)).await?;
            let mut socket = Socket { engine };
            socket.flush().await?;
            Ok((socket, decided))
        }
    }

    /// Client: sends the opening request over `io` and reads the response.
    /// The handshake fails with [`Error::Handshake`] if the server does not
    /// answer `101` correctly, or [`Error::Timeout`] after
    /// [`handshake_timeout`](wscore::Config::handshake_timeout).
    ///
    /// As with [`Socket::accept_with`], the connection is set up when this
    /// is called and the future keeps only the boxed engine.
    pub fn client(
        io: S,
        request: ClientRequest,
        config: impl Into<Config>,
    ) -> impl Future<Output = Result<(Self, Response), Error>> {
        let config = config.into();
        let engine = seed().and_then(|seed| {
            Engine::new(io, &config, |now| {
                Connection::client(config.core(), request, seed, now).map_err(Error::Setup)
            })
            .map(Box::new)
        });
        async move {
            let mut engine = engine?;
            let response =
                poll_fn(|cx| engine.poll_handshake(cx, &mut |_: &Request| Err(Reject::new(500))))
                    .await?;
            let response = response.ok_or(Error::Closed)?;
            Ok((Socket { engine }, response))
        }
    }

    /// A socket over a transport whose handshake was done elsewhere, for
    /// example a connection an HTTP server upgraded. It starts open.
    pub fn from_upgraded(io: S, role: Role, config: impl Into<Config>) -> Result<Self, Error> {
        let config = config.into();
        let seed = seed()?;
        let engine = Box::new(Engine::new(io, &config, |now| {
            Connection::upgraded(role, config.core(), seed, now).map_err(Error::Setup)
        })?);
        Ok(Socket { engine })
    }

    /// The next message, or `None` once the connection has ended (after an
    /// `Err` if it did not end with a clean close handshake).
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| self.engine.poll_next(cx)).await
    }

    /// The next message if it can be had without waiting: one already
    /// read, or one in what the transport has ready now. `None` when the
    /// next message would need a wait (or the connection has ended: the
    /// next [`Socket::recv`] says which).
    ///
    /// It lets a loop that answers messages write once per batch of
    /// messages read rather than once per message: queue each answer with
    /// `SinkExt::feed` while messages are ready, and
    /// flush when none is.
    ///
    /// ```no_run
    /// use futures_util::{SinkExt, StreamExt};
    /// # async fn echo<S, T>(mut ws: wscore_driver::Socket<S, T>) -> Result<(), wscore_driver::Error>
    /// # where S: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin, T: wscore_driver::Timer {
    /// while let Some(message) = ws.next().await {
    ///     ws.feed(message?).await?;
    ///     while let Some(message) = ws.recv_ready() {
    ///         ws.feed(message?).await?;
    ///     }
    ///     // One write for everything read.
    ///     ws.flush().await?;
    /// }
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// It polls the socket once with a waker that does nothing, so the
    /// task must go back to the socket (`next`, `recv`, `flush`, …) before
    /// waiting on anything else, as the loop above does, for the socket's
    /// reads and deadlines to wake it again.
    pub fn recv_ready(&mut self) -> Option<Result<Message, Error>> {
        let mut cx = Context::from_waker(Waker::noop());
        match self.engine.poll_next(&mut cx) {
            Poll::Ready(item) => item,
            Poll::Pending => None,
        }
    }

    /// The next event: messages, incremental pieces of messages and
    /// streams, stream failures, pings, pongs and the peer's close frame
    /// (see [`Event`]); `None` once the connection has ended (after an
    /// `Err` if it did not end with a clean close handshake).
    ///
    /// The transport is read only while no event waits to be taken, so an
    /// application that takes pieces slowly slows the peer down (through
    /// the transport's own flow control) instead of piling them up: what
    /// waits is at most one read window
    /// ([`Config::read_buffer_size`]) and one stream chunk.
    ///
    /// This and the message API ([`Socket::recv`], the [`Stream`]) take
    /// from the same connection; use one of them per message. Events that
    /// arrived while a [`Body`] was read come first, in order.
    pub async fn next_event(&mut self) -> Option<Result<Event, Error>> {
        poll_fn(|cx| self.engine.poll_next_event(cx)).await
    }

    /// [`Socket::next_event`] as a poll function.
    pub fn poll_next_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Event, Error>>> {
        self.engine.poll_next_event(cx)
    }

    /// The events of [`Socket::next_event`] as a [`Stream`].
    pub fn events(&mut self) -> impl FusedStream<Item = Result<Event, Error>> + '_ {
        EventStream {
            poll: move |cx: &mut Context<'_>| self.engine.poll_next_event(cx),
            done: false,
        }
    }

    /// The body of inbound stream `id`, after `next_event` handed out its
    /// [`StreamEvent::Started`](crate::StreamEvent::Started): its pieces as
    /// a [`Stream`] of `io::Result<Bytes>` or its bytes as an
    /// [`AsyncRead`](futures_io::AsyncRead), for code written against those (see [`Body`]).
    ///
    /// ```no_run
    /// # async fn save<S, T>(socket: &mut wscore_driver::Socket<S, T>) -> Result<(), Box<dyn std::error::Error>>
    /// # where S: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin, T: wscore_driver::Timer {
    /// use wscore_driver::{Event, StreamEvent};
    /// while let Some(event) = socket.next_event().await {
    ///     if let Event::Stream(StreamEvent::Started { id, .. }) = event? {
    ///         let mut file = Vec::new();
    ///         futures::io::copy(socket.stream_body(id), &mut file).await?;
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn stream_body(&mut self, id: StreamId) -> Body<'_, S, T> {
        Body::of_socket(self, Target::Stream(id))
    }

    /// The body of the incremental message whose
    /// [`Event::MessageStart`] `next_event` handed out, as
    /// [`Socket::stream_body`] gives a stream's. A text message's pieces
    /// may end inside a multi-byte character.
    pub fn message_body(&mut self) -> Body<'_, S, T> {
        Body::of_socket(self, Target::Message)
    }

    /// Sends a message: waits while more than
    /// [`Config::write_buffer_limit`] bytes are waiting, queues it, and
    /// writes until the transport has taken it.
    pub async fn send(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        poll_fn(|cx| self.engine.poll_ready(cx)).await?;
        self.engine.start_send(message.into())?;
        self.flush().await
    }

    /// Queues `messages`, in order, without writing them: the next flush,
    /// send or read writes them together (on a batched subprotocol, as one
    /// batch). It waits only while more than
    /// [`Config::write_buffer_limit`] bytes wait to be written, as a
    /// `SinkExt::feed` per message would, but costs no future per message,
    /// which for a burst of small messages is much of what sending them
    /// costs.
    ///
    /// If the connection refuses a message (it is closing), that error is
    /// returned; the messages before it stay queued and the rest are
    /// dropped.
    ///
    /// ```no_run
    /// # async fn burst<S, T>(mut ws: wscore_driver::Socket<S, T>, prices: &[(u32, u64)]) -> Result<(), wscore_driver::Error>
    /// # where S: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin, T: wscore_driver::Timer {
    /// use wscore::Message;
    /// ws.feed_all(prices.iter().map(|(id, cents)| Message::text(format!("{id}:{cents}"))))
    ///     .await?;
    /// ws.flush().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn feed_all<I>(&mut self, messages: I) -> Result<(), Error>
    where
        I: IntoIterator,
        I::Item: Into<Message>,
    {
        let mut messages = messages.into_iter();
        loop {
            // A message is taken from the iterator only once there is room
            // for it, so none is held across the wait: one that were would
            // be stored into this future a field at a time and read back
            // whole, a stall per message.
            while self.engine.has_room() {
                match messages.next() {
                    Some(message) => self.engine.start_send(message.into())?,
                    None => return Ok(()),
                }
            }
            poll_fn(|cx| self.engine.poll_ready(cx)).await?;
            // As `feed` would, the next message goes in once the wait ends.
            match messages.next() {
                Some(message) => self.engine.start_send(message.into())?,
                None => return Ok(()),
            }
        }
    }

    /// Sends `payload` as a stream of the streamed envelope, with
    /// `metadata` for the receiver (a file name, a content type), on a
    /// connection whose subprotocol names that envelope; otherwise fails
    /// with [`SendError::StreamsNotNegotiated`](wscore::SendError::StreamsNotNegotiated).
    /// The payload is cut into chunks as it is written (sliced, never
    /// copied) and interleaves with other messages; this waits, as
    /// [`Socket::send`] does, until the transport has taken it.
    ///
    /// The returned id names the stream in [`StreamEvent`](crate::StreamEvent)s and
    /// [`Socket::abort_stream`].
    pub async fn send_stream(
        &mut self,
        payload: impl Into<Bytes>,
        metadata: impl Into<Bytes>,
    ) -> Result<StreamId, Error> {
        poll_fn(|cx| self.engine.poll_ready(cx)).await?;
        let id = self.engine.start_stream(payload.into(), metadata.into())?;
        self.flush().await?;
        Ok(id)
    }

    /// Opens a stream of `total_len` bytes whose data follows with
    /// [`Socket::push_stream`] (no IO): for payloads produced as they
    /// are sent. Nothing is written before the first push; the end of the
    /// stream follows its last byte by itself. On a connection without the
    /// streamed envelope this fails with
    /// [`SendError::StreamsNotNegotiated`](wscore::SendError::StreamsNotNegotiated).
    pub fn open_stream(
        &mut self,
        total_len: u64,
        metadata: impl Into<Bytes>,
    ) -> Result<StreamId, Error> {
        self.engine.open_stream(total_len, metadata.into())
    }

    /// Queues the next bytes of stream `id` (from
    /// [`Socket::open_stream`]), after waiting while more than
    /// [`Config::write_buffer_limit`] bytes wait to be written: a producer
    /// pushing in a loop is held to the pace of the transport. The bytes
    /// are not copied. They are written by the next push, flush, send or
    /// read; flush after the last one.
    pub async fn push_stream(&mut self, id: StreamId, data: impl Into<Bytes>) -> Result<(), Error> {
        poll_fn(|cx| self.engine.poll_ready(cx)).await?;
        self.engine.push_stream(id, data.into())
    }

    /// Sends `len` bytes read from `reader` as a stream with `metadata`,
    /// reading only as fast as the transport takes them: at most
    /// [`Config::write_buffer_limit`] plus one 64 KiB piece is held, however
    /// long the stream. Returns once everything is written.
    ///
    /// A reader that fails, or ends before `len` bytes, aborts the stream
    /// (the peer sees it fail) and its error is returned; the socket
    /// stays open. A tokio reader can be passed through
    /// `wscore_tokio::TokioIo`.
    pub async fn send_stream_from_reader<R>(
        &mut self,
        reader: R,
        len: u64,
        metadata: impl Into<Bytes>,
    ) -> Result<StreamId, Error>
    where
        R: futures_io::AsyncRead + Unpin,
    {
        outgoing::from_reader(self, reader, len, metadata.into()).await
    }

    /// Sends the pieces of `pieces`, `len` bytes in all, as a stream with
    /// `metadata`, taking the next piece only when the socket has room
    /// (see [`Socket::send_stream_from_reader`]). A piece is sent as it
    /// is, without a copy.
    pub async fn send_stream_from_pieces<P>(
        &mut self,
        pieces: P,
        len: u64,
        metadata: impl Into<Bytes>,
    ) -> Result<StreamId, Error>
    where
        P: Stream<Item = std::io::Result<Bytes>> + Unpin,
    {
        outgoing::from_pieces(self, pieces, len, metadata.into()).await
    }

    /// Stops sending stream `id`; the peer is told if it has heard of it
    /// (it sees the stream fail). Chunks already written stay written.
    pub async fn abort_stream(&mut self, id: StreamId, reason: &str) -> Result<(), Error> {
        self.engine.abort_stream(id, reason)?;
        self.flush().await
    }

    /// Answers every future message equal to `request` (same kind, same
    /// bytes) with `response`, without handing the request to the
    /// application: a heartbeat answered even while the application is
    /// busy. An empty `response` removes the entry for `request`; both
    /// empty clear the table. See
    /// [`Connection::set_auto_response`].
    pub fn set_auto_response(&mut self, request: impl Into<Message>, response: impl Into<Message>) {
        self.engine
            .set_auto_response(request.into(), response.into());
    }

    /// Writes everything queued and flushes the transport.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.engine.poll_flush(cx)).await
    }

    /// Sends a ping (at most 125 bytes), ahead of queued messages. The pong
    /// is not surfaced; keepalive in [`wscore::Config::keepalive`]
    /// uses pings without any code here.
    pub async fn ping(&mut self, payload: impl Into<Bytes>) -> Result<(), Error> {
        self.engine.ping(payload.into())?;
        self.flush().await
    }

    /// Sends an unsolicited pong (at most 125 bytes): a one-way heartbeat.
    pub async fn pong(&mut self, payload: impl Into<Bytes>) -> Result<(), Error> {
        self.engine.pong(payload.into())?;
        self.flush().await
    }

    /// Closes the connection: writes everything queued, then a close frame
    /// with `code` and `reason`, waits for the peer's close frame (at most
    /// [`close_timeout`](wscore::Config::close_timeout)), and shuts
    /// the transport down. Messages that arrive in the meantime are
    /// dropped; to read them, [`split`](Socket::split) the socket and close
    /// the write half while reading.
    ///
    /// Returns `Ok` once the transport is shut down, however the handshake
    /// ended; [`Socket::closed`] tells how. Closing a closed socket is a
    /// no-op.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.engine.start_close(code, reason)?;
        poll_fn(|cx| self.engine.poll_close(cx)).await
    }

    /// The subprotocol agreed in the handshake.
    pub fn subprotocol(&self) -> Option<&str> {
        self.engine.connection().subprotocol()
    }

    /// Client or server.
    pub fn role(&self) -> Role {
        self.engine.connection().role()
    }

    /// The protocol state, for inspection.
    pub fn connection(&self) -> &Connection {
        self.engine.connection()
    }

    /// How the connection ended (close code, reason, cause), once it has.
    pub fn closed(&self) -> Option<&Closed> {
        self.engine.closed()
    }

    /// Outbound bytes accepted but not yet written to the transport.
    pub fn buffered_amount(&self) -> usize {
        self.engine.buffered()
    }

    /// Streams that the message API ([`Stream`] of
    /// [`Message`]s, `recv`) passed over without a message: inbound streams
    /// that failed (refused for a limit, aborted by the peer, cut short) or
    /// were larger than [`StreamConfig::max_buffered`](wscore::StreamConfig::max_buffered)
    /// when gathered from incremental pieces, and outbound streams the peer
    /// refused or that were cut short. The message API yields only
    /// messages, so it counts these here rather than losing them unseen;
    /// [`next_event`](Self::next_event) reports each one, with its id and
    /// error, as it happens (and does not count it).
    ///
    /// Also counted, once: streams dropped because their pieces would
    /// have held more than `max_buffered` while a [`Body`] was read
    /// (their end is then reported as
    /// [`StreamError::BufferLimit`](wscore::StreamError::BufferLimit)).
    pub fn undelivered_streams(&self) -> u64 {
        self.engine.undelivered_streams()
    }

    /// The transport. Reading or writing it directly corrupts the stream of
    /// frames; use it for addresses and socket options.
    pub fn get_ref(&self) -> &S {
        self.engine.io()
    }

    /// The transport, mutably; see [`Socket::get_ref`].
    pub fn get_mut(&mut self) -> &mut S {
        self.engine.io_mut()
    }

    /// Splits the socket into a read half and a write half that can be
    /// used from different tasks. Either half drives the transport: the
    /// read half writes pongs and close replies even when the write half is
    /// idle, and the write half's deadlines keep running while the read half
    /// waits.
    pub fn split(self) -> (ReadHalf<S, T>, WriteHalf<S, T>) {
        split::split(*self.engine)
    }
}

impl<S, T> Socket<S, T> {
    /// Gives back the unread rest of a body's piece (no IO).
    pub(crate) fn unread_piece(&mut self, target: Target, data: Bytes) {
        self.engine.unread(target, data);
    }
}

impl<S, T> Socket<S, T> {
    /// The engine, for taking it apart.
    pub(crate) fn into_engine(self) -> Engine<S, T> {
        *self.engine
    }

    /// The engine, for what the hub reads of it.
    pub(crate) fn engine(&self) -> &Engine<S, T> {
        &self.engine
    }

    /// A socket around an engine put back together.
    pub(crate) fn from_engine(engine: Engine<S, T>) -> Self {
        Socket {
            engine: Box::new(engine),
        }
    }
}

impl<S, T> Drive<S, T> for Socket<S, T> {
    fn poll_engine<R>(
        &mut self,
        cx: &mut Context<'_>,
        f: impl FnOnce(&mut Engine<S, T>, &mut Context<'_>) -> Poll<R>,
    ) -> Poll<R> {
        f(&mut self.engine, cx)
    }

    fn command<R>(&mut self, f: impl FnOnce(&mut Engine<S, T>) -> R) -> R {
        f(&mut self.engine)
    }
}

impl<S, T> Stream for Socket<S, T>
where
    S: Transport,
    T: Timer,
{
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().engine.poll_next(cx)
    }
}

impl<S, T> FusedStream for Socket<S, T>
where
    S: Transport,
    T: Timer,
{
    fn is_terminated(&self) -> bool {
        self.engine.is_finished()
    }
}

/// `poll_ready` applies back-pressure ([`Config::write_buffer_limit`]),
/// `start_send` queues, `poll_flush` writes everything, and `poll_close`
/// runs the close handshake with code 1000 and shuts the transport down.
impl<S, T> Sink<Message> for Socket<S, T>
where
    S: Transport,
    T: Timer,
{
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().engine.poll_ready(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
        self.get_mut().engine.start_send(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().engine.poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let engine = &mut self.get_mut().engine;
        engine.start_close(CloseCode::NORMAL, "")?;
        engine.poll_close(cx)
    }
}

/// A [`Stream`] made of a poll function, ended (and fused) by its first
/// `None`.
pub(crate) struct EventStream<F> {
    pub(crate) poll: F,
    pub(crate) done: bool,
}

impl<F, R> Stream for EventStream<F>
where
    F: FnMut(&mut Context<'_>) -> Poll<Option<R>> + Unpin,
{
    type Item = R;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<R>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        let item = std::task::ready!((this.poll)(cx));
        this.done = item.is_none();
        Poll::Ready(item)
    }
}

impl<F, R> FusedStream for EventStream<F>
where
    F: FnMut(&mut Context<'_>) -> Poll<Option<R>> + Unpin,
{
    fn is_terminated(&self) -> bool {
        self.done
    }
}
