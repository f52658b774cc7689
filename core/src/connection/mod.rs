//! The connection state machine: one WebSocket connection, either role, from
//! the first handshake byte to the end of the close handshake.
//!
//! [`Connection`] owns the lifecycle (handshake, open, closing, closed), the
//! close handshake and its ordering rules, keepalive and idle timers, and
//! auto-responses. It delegates the frame reader and the outbound queue to
//! two private submodules and the HTTP upgrade to [`crate::handshake`].
//!
//! # The loop
//!
//! A connection is driven by four families of methods:
//!
//! - getters: [`Connection::role`], [`Connection::is_open`],
//!   [`Connection::is_closed`], [`Connection::subprotocol`], …
//! - inputs: [`Connection::handle_input`] (bytes read from the transport),
//!   [`Connection::handle_eof`] (the transport will yield no more bytes) and
//!   [`Connection::handle_timeout`] (the deadline passed);
//! - commands: [`Connection::send`], [`Connection::ping`],
//!   [`Connection::close`], and for servers [`Connection::accept`] /
//!   [`Connection::reject`];
//! - outputs: [`Connection::poll_transmit`] (bytes to write),
//!   [`Connection::poll_event`] (what happened) and
//!   [`Connection::poll_timeout`] (when to call `handle_timeout`).
//!
//! After every input or command, drain `poll_transmit` until `None` and write
//! the bytes, drain `poll_event` until `None`, then read `poll_timeout`.
//! When [`Event::Closed`] has been seen, keep draining `poll_transmit` until
//! it returns `None` ([`Connection::is_done`] turns true), then shut the
//! transport down.
//!
//! # Ordering around a close
//!
//! - Every message received before the peer's close frame is surfaced before
//!   [`Event::CloseReceived`].
//! - The reply to the peer's close is queued only when the application takes
//!   `CloseReceived` out of [`Connection::poll_event`]. Whatever the
//!   application sent while handling earlier events is therefore written
//!   first: an echo server that receives a burst of messages and a close
//!   echoes every one of them before its close frame.
//! - A protocol violation is treated the same way: the events decoded
//!   before it come first, and the close frame with the RFC's code is
//!   queued once they are taken, after the application's answers.
//! - Messages accepted by [`Connection::send`] are always written before our
//!   close frame, whoever started the close.
//! - [`Event::Closed`] is always the last event.

mod codec;
mod events;
mod inbound;
mod outbound;

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use bytes::{Buf, Bytes, BytesMut};
use core::fmt;

use crate::close::{CloseCode, CloseFrame, MAX_REASON_LEN};
use crate::config::Config;
use crate::envelope::stream::{
    self, AbortCode, Delivery, Direction, OutStream, PushError, Reassembly, Record, StreamError,
    StreamEvent, StreamId, StreamSource,
};
use crate::envelope::{batch::Batch, Envelope, Framing};
use crate::error::{ProtocolError, SendError, SetupError};
use crate::frame::{mask_into, EncodedHeader, FrameHeader, Rsv, MAX_CONTROL_PAYLOAD};
use crate::handshake::{self, Accept, ClientRequest, HandshakeError, Reject, Request, Response};
use crate::message::{Message, MessageKind};
use crate::rng::KeyRng;
use crate::timer::{Timer, Timers};
use crate::Instant;

use codec::Codec;
use events::EventQueue;
use inbound::{Inbound, Item};
use outbound::{Next, Outbound};

/// Which end of the connection this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Sends the upgrade request and masks its frames.
    Client,
    /// Answers the upgrade request; its frames are unmasked.
    Server,
}

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
    /// [`Connection::accept`] or [`Connection::reject`].
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
    /// [`Connection::poll_event`] queues our reply, after anything sent
    /// before.
    CloseReceived(CloseFrame),
    /// The connection is over; no event follows. Keep draining
    /// [`Connection::poll_transmit`], then shut the transport down.
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
    /// [`Connection::handle_eof`], always with [`CloseCode::ABNORMAL`].
    Eof,
}

/// Which deadline ended a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeoutKind {
    /// The handshake did not complete within [`Config::handshake_timeout`].
    Handshake,
    /// The peer did not answer a keepalive ping.
    Keepalive,
    /// The peer did not answer our close frame within [`Config::close_timeout`].
    Close,
}

/// Bytes to write to the transport: a frame header and its payload.
///
/// Server payloads are the application's own [`Bytes`], unmasked and not
/// copied; write [`Transmit::header`] then [`Transmit::payload`] (vectored
/// writes fit well), or use it as a [`bytes::Buf`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    header: EncodedHeader,
    payload: Bytes,
    offset: usize,
}

impl Transmit {
    fn raw(payload: Bytes) -> Self {
        Transmit {
            header: EncodedHeader::default(),
            payload,
            offset: 0,
        }
    }

    /// The frame header (empty for handshake bytes).
    pub fn header(&self) -> &[u8] {
        self.header.as_slice()
    }

    /// The payload.
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }

    /// Total bytes to write.
    pub fn len(&self) -> usize {
        self.header.as_slice().len() + self.payload.len()
    }

    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends the bytes to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.header());
        out.extend_from_slice(&self.payload);
    }
}

impl Buf for Transmit {
    fn remaining(&self) -> usize {
        self.len() - self.offset
    }

    fn chunk(&self) -> &[u8] {
        // `advance` never moves past the end.
        debug_assert!(self.offset <= self.len());
        let header = self.header();
        match header.get(self.offset..) {
            Some(rest) if !rest.is_empty() => rest,
            _ => self
                .payload
                .get(self.offset.saturating_sub(header.len())..)
                .unwrap_or_default(),
        }
    }

    fn advance(&mut self, cnt: usize) {
        self.offset = (self.offset + cnt).min(self.len());
    }
}

/// Progress of the search for the end of a handshake header block.
#[derive(Debug, Default)]
struct HeaderScan {
    scanned: usize,
    terminator_seen: bool,
}

/// Where the connection is in its life.
#[derive(Debug)]
enum Lifecycle {
    /// Server: reading the upgrade request.
    AwaitingRequest,
    /// Server: the application must accept or reject.
    AwaitingDecision(Request),
    /// Client: the request is queued; reading the response.
    AwaitingResponse {
        request: ClientRequest,
        expected_accept: String,
    },
    Open,
    /// We queued a close frame and wait for the peer's.
    ClosingLocal,
    /// The peer's close arrived; ours is queued when the application has
    /// seen [`Event::CloseReceived`].
    ClosingRemote(CloseFrame),
    Closed,
}

/// A WebSocket connection as a pure state machine. See the
/// [module documentation](self) for the loop that drives it.
///
/// ```
/// use wscore::connection::{Connection, Event};
/// use wscore::handshake::{Accept, ClientRequest};
/// use wscore::{config::Config, message::Message, Instant};
///
/// let now = Instant::ZERO;
/// let request = ClientRequest::new("example.com", "/chat");
/// let mut client = Connection::client(Config::default(), request, [7; 32], now).unwrap();
/// let mut server = Connection::server(Config::default(), now).unwrap();
///
/// // Move the client's bytes to the server, and back, until both are quiet.
/// fn pump(from: &mut Connection, to: &mut Connection, now: Instant) {
///     while let Some(t) = from.poll_transmit() {
///         let mut bytes = Vec::new();
///         t.write_to(&mut bytes);
///         to.handle_input(now, &bytes);
///     }
/// }
/// pump(&mut client, &mut server, now);
/// let Some(Event::Request(req)) = server.poll_event() else { panic!() };
/// assert_eq!(req.path(), "/chat");
/// server.accept(now, Accept::new()).unwrap();
/// server.send(Message::text("hello")).unwrap();
/// pump(&mut server, &mut client, now);
///
/// assert!(matches!(client.poll_event(), Some(Event::Connected(_))));
/// assert_eq!(client.poll_event(), Some(Event::Message(Message::text("hello"))));
/// ```
pub struct Connection {
    role: Role,
    config: Config,
    lifecycle: Lifecycle,
    inbound: Inbound,
    outbound: Outbound,
    events: EventQueue,
    timers: Timers,
    rng: KeyRng,
    subprotocol: Option<String>,
    /// The envelope the chosen subprotocol names.
    envelope: Envelope,
    /// Inbound streams of a streamed envelope.
    reassembly: Reassembly,
    /// The id of our next outbound stream.
    next_stream_id: StreamId,
    /// The latest time the caller passed in: the start of a batch linger,
    /// as sends take no `now`.
    now: Instant,
    auto_responses: BTreeMap<(MessageKind, Bytes), Message>,
    /// The payload transform a negotiated extension applies, if any.
    codec: Option<Codec>,
    /// Client: the block small payloads are masked into and cut from.
    mask_block: BytesMut,
    #[cfg(feature = "deflate")]
    deflate: Option<crate::extension::deflate::DeflateParams>,
    /// How far the search for the end of the handshake header block got,
    /// so a byte-at-a-time peer costs linear time.
    header_scan: HeaderScan,
    /// A protocol error found behind events the application has not taken
    /// yet: the connection fails once they are taken.
    failure: Option<PendingFailure>,
    /// The transport ended ([`Connection::handle_eof`]): nothing more is
    /// read, and the connection ends once the input already buffered has
    /// been decoded.
    eof: bool,
}

/// A protocol error waiting for the events queued before it.
///
/// Failing at once would put the close frame ahead of the application's
/// answers to messages that arrived before the violation; waiting until
/// those messages are taken lets the answers out first, and nothing that
/// follows the violation is read.
#[derive(Debug)]
struct PendingFailure {
    error: ProtocolError,
    /// Events still ahead of the failure in the queue.
    events_ahead: usize,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("role", &self.role)
            .field("lifecycle", &self.lifecycle)
            .field("subprotocol", &self.subprotocol)
            .field("queued_bytes", &self.outbound.queued_bytes())
            .field("events", &self.events.len())
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// A server connection that starts by reading the upgrade request.
    ///
    /// The three constructors fail alike, with a [`SetupError`]: here only
    /// for an invalid configuration ([`SetupError::Config`]).
    pub fn server(config: Config, now: Instant) -> Result<Connection, SetupError> {
        let rng = KeyRng::from_seed([0; 32]);
        let mut conn = Connection::new(Role::Server, config, rng, Lifecycle::AwaitingRequest)?;
        conn.timers
            .set(Timer::Handshake, now + conn.config.handshake_timeout);
        Ok(conn)
    }

    /// A client connection; its upgrade request is the first transmit.
    ///
    /// `seed` feeds the generator of the handshake nonce and the masking
    /// keys: take it from the operating system's random source.
    ///
    /// The request may offer only extensions the configuration runs: an
    /// offer of permessage-deflate while [`Config::deflate`] is unset, or of
    /// any other extension, is refused with
    /// [`SetupError::UnconfiguredExtension`]. `Config::deflate` writes its
    /// own offer.
    ///
    /// ```
    /// use wscore::error::SetupError;
    /// use wscore::handshake::ClientRequest;
    /// use wscore::{Config, Connection, Instant};
    ///
    /// let request = ClientRequest::new("example.com", "/").extension("permessage-deflate");
    /// let refused = Connection::client(Config::default(), request, [0; 32], Instant::ZERO);
    /// assert_eq!(
    ///     refused.unwrap_err(),
    ///     SetupError::UnconfiguredExtension("permessage-deflate".into())
    /// );
    /// ```
    pub fn client(
        config: Config,
        request: ClientRequest,
        seed: [u8; 32],
        now: Instant,
    ) -> Result<Connection, SetupError> {
        config.validate()?;
        if let Some(name) = unconfigured_extension(&config, &request) {
            return Err(SetupError::UnconfiguredExtension(name.into()));
        }
        let mut request = request;
        for subprotocol in &config.subprotocols {
            if !request.subprotocols().contains(&subprotocol.name) {
                request = request.subprotocol(subprotocol.name.clone());
            }
        }
        #[cfg(feature = "deflate")]
        let request = match &config.deflate {
            Some(deflate) => request.extension(crate::extension::deflate::client_offer(deflate)),
            None => request,
        };
        let mut rng = KeyRng::from_seed(seed);
        let (bytes, expected_accept) = handshake::client::build_request(&request, rng.nonce())?;
        let lifecycle = Lifecycle::AwaitingResponse {
            request,
            expected_accept,
        };
        let mut conn = Connection::new(Role::Client, config, rng, lifecycle)?;
        conn.outbound.push_raw(bytes);
        conn.timers
            .set(Timer::Handshake, now + conn.config.handshake_timeout);
        Ok(conn)
    }

    /// A connection whose handshake was done elsewhere (for example by an
    /// HTTP server that handed over the upgraded stream). It starts open.
    /// Fails with [`SetupError::Config`] for an invalid configuration.
    pub fn upgraded(
        role: Role,
        config: Config,
        seed: [u8; 32],
        now: Instant,
    ) -> Result<Connection, SetupError> {
        let mut conn = Connection::new(role, config, KeyRng::from_seed(seed), Lifecycle::Open)?;
        conn.arm_open_timers(now);
        Ok(conn)
    }

    fn new(
        role: Role,
        config: Config,
        rng: KeyRng,
        lifecycle: Lifecycle,
    ) -> Result<Connection, SetupError> {
        config.validate()?;
        Ok(Connection {
            role,
            config,
            lifecycle,
            inbound: Inbound::new(),
            outbound: Outbound::default(),
            events: EventQueue::default(),
            timers: Timers::default(),
            rng,
            subprotocol: None,
            envelope: Envelope::Plain,
            reassembly: Reassembly::default(),
            next_stream_id: 0,
            now: Instant::ZERO,
            auto_responses: BTreeMap::new(),
            codec: None,
            mask_block: BytesMut::new(),
            #[cfg(feature = "deflate")]
            deflate: None,
            header_scan: HeaderScan::default(),
            failure: None,
            eof: false,
        })
    }

    // ---- getters ----

    /// Client or server.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Whether messages can be sent: the handshake is done and no close
    /// frame has been queued.
    pub fn is_open(&self) -> bool {
        matches!(
            self.lifecycle,
            Lifecycle::Open | Lifecycle::ClosingRemote(_)
        )
    }

    /// Whether [`Event::Closed`] has been queued.
    pub fn is_closed(&self) -> bool {
        matches!(self.lifecycle, Lifecycle::Closed)
    }

    /// Whether the connection is closed and every byte it had to write has
    /// been taken by [`Connection::poll_transmit`]: the transport can go.
    pub fn is_done(&self) -> bool {
        self.is_closed() && self.outbound.is_empty()
    }

    /// The envelope the chosen subprotocol names ([`Envelope::Plain`] when
    /// none was chosen or it was not declared in [`Config::subprotocols`]).
    pub fn envelope(&self) -> Envelope {
        self.envelope
    }

    /// The permessage-deflate parameters agreed in the handshake, if any.
    #[cfg(feature = "deflate")]
    pub fn deflate(&self) -> Option<&crate::extension::deflate::DeflateParams> {
        self.deflate.as_ref()
    }

    /// The negotiated subprotocol.
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// Payload bytes of data messages accepted but not yet handed to
    /// [`Connection::poll_transmit`]. Adapters use it for back-pressure.
    pub fn queued_bytes(&self) -> usize {
        self.outbound.queued_bytes()
    }

    /// Input bytes held while waiting for the rest of a frame.
    pub fn buffered_input(&self) -> usize {
        self.inbound.buffered()
    }

    // ---- inputs ----

    /// Feeds bytes read from the transport.
    ///
    /// Protocol violations are not returned: they queue the close frame with
    /// the RFC's code and end in [`Event::Closed`] with
    /// [`CloseCause::Protocol`]. Events decoded before the violation come
    /// first, and the close frame is queued only once they are taken, so
    /// answers to them go out ahead of it; nothing after the violation is
    /// read.
    pub fn handle_input(&mut self, now: Instant, bytes: &[u8]) {
        self.receive(now, bytes.len(), |buf| buf.extend_from_slice(bytes));
    }

    /// Feeds bytes read from the transport, taking the buffer they were read
    /// into. When no partial frame is pending the buffer itself becomes the
    /// input buffer, and received payloads are slices of it: no copy.
    ///
    /// ```
    /// # use wscore::{Config, Connection, Event, Instant, Message, Role};
    /// let mut conn = Connection::upgraded(Role::Client, Config::default(), [0; 32], Instant::ZERO).unwrap();
    /// let read = bytes::BytesMut::from(&b"\x82\x03abc"[..]);
    /// conn.handle_input_buf(Instant::ZERO, read);
    /// assert_eq!(conn.poll_event(), Some(Event::Message(Message::binary(&b"abc"[..]))));
    /// ```
    pub fn handle_input_buf(&mut self, now: Instant, bytes: BytesMut) {
        self.receive(now, bytes.len(), |buf| {
            if buf.is_empty() {
                *buf = bytes;
            } else {
                buf.extend_from_slice(&bytes);
            }
        });
    }

    fn receive(&mut self, now: Instant, len: usize, append: impl FnOnce(&mut BytesMut)) {
        self.now = self.now.max(now);
        if self.failure.is_some() || self.eof {
            // Nothing after a violation, or after the end, is read.
            return;
        }
        match self.lifecycle {
            Lifecycle::ClosingRemote(_) | Lifecycle::Closed => return,
            Lifecycle::AwaitingDecision(_) => {
                // Frames may follow the request before the application has
                // decided; hold them, within reason.
                let limit = self.config.max_handshake_bytes as u64 + self.config.max_frame_size;
                if (self.inbound.buffered() + len) as u64 > limit {
                    self.fail(ProtocolError::InputLimit);
                } else {
                    append(self.inbound.buffer());
                }
                return;
            }
            _ => {}
        }
        append(self.inbound.buffer());
        if len > 0 {
            self.note_activity(now);
        }
        self.process_input(now);
    }

    /// Tells the connection that the transport ended: a read returned no
    /// bytes (a TCP FIN, a TLS `close_notify`, a closed pipe). Nothing is
    /// read after it; later calls, and calls once the connection is closed,
    /// are no-ops.
    ///
    /// - During the opening handshake the connection ends at once with
    ///   [`Event::Closed`], code [`CloseCode::ABNORMAL`] and
    ///   [`CloseCause::Eof`]. A server's [`Event::Request`] already queued
    ///   stays ahead of it, and a later [`Connection::accept`] or
    ///   [`Connection::reject`] returns [`SendError::NoPendingRequest`].
    /// - While open, or after our close frame was queued, the peer's close
    ///   can no longer arrive: every event decoded before the end is
    ///   delivered first (the rest of a compressed message received whole
    ///   included), then every stream cut short is reported with
    ///   [`StreamError::ConnectionClosed`], then [`Event::Closed`] with
    ///   [`CloseCode::ABNORMAL`] (RFC 6455 §7.1.5) and [`CloseCause::Eof`].
    ///   A partial frame or message is dropped: in incremental mode its
    ///   [`Event::MessageStart`] is not followed by [`Event::MessageEnd`].
    ///   A protocol error already found behind queued events still ends the
    ///   connection with its own cause.
    /// - After the peer's close frame arrived, the end of the transport is
    ///   expected (RFC 6455 §7.1.1: the server closes the TCP connection
    ///   first) and changes nothing: the connection finishes as usual when
    ///   [`Event::CloseReceived`] is taken, and our answer is still queued.
    ///
    /// No frame is queued by the end of input. A peer that ends its
    /// transport before the close handshake has abandoned the connection:
    /// a close frame could reach at most a half-closed socket whose reader
    /// has stopped, so the end of input drops what was queued and not yet
    /// taken by [`Connection::poll_transmit`] (as a timeout does) and
    /// reports the outbound streams it cuts short. A close frame that was
    /// already queued stays queued; writing it may fail, which the caller
    /// can ignore once [`Event::Closed`] has been seen.
    pub fn handle_eof(&mut self, now: Instant) {
        self.now = self.now.max(now);
        if self.eof {
            return;
        }
        self.eof = true;
        match self.lifecycle {
            Lifecycle::AwaitingRequest
            | Lifecycle::AwaitingDecision(_)
            | Lifecycle::AwaitingResponse { .. } => {
                self.outbound.abandon();
                self.finish(CloseCode::ABNORMAL, String::new(), CloseCause::Eof);
            }
            Lifecycle::Open | Lifecycle::ClosingLocal => self.end_of_input(),
            Lifecycle::ClosingRemote(_) | Lifecycle::Closed => {}
        }
    }

    /// Ends an open connection whose transport ended, once the input
    /// buffered before the end has been decoded: a compressed message
    /// received in incremental mode is inflated one piece per taken event,
    /// and the frames behind it wait for it.
    fn end_of_input(&mut self) {
        let decoding = self.inbound.inflating() && !self.events.is_empty();
        if !self.eof
            || decoding
            || self.failure.is_some()
            || !matches!(self.lifecycle, Lifecycle::Open | Lifecycle::ClosingLocal)
        {
            return;
        }
        self.outbound.abandon();
        self.finish(CloseCode::ABNORMAL, String::new(), CloseCause::Eof);
    }

    /// Fires every deadline that has passed at `now`. Calls before the
    /// deadline are harmless no-ops.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = self.now.max(now);
        while let Some(timer) = self.timers.take_expired(now) {
            match timer {
                Timer::Handshake => self.time_out(TimeoutKind::Handshake),
                Timer::Close => self.time_out(TimeoutKind::Close),
                Timer::Pong => {
                    self.outbound.abandon();
                    self.outbound.queue_close(CloseFrame::new(
                        CloseCode::INTERNAL_ERROR,
                        "keepalive timeout",
                    ));
                    self.finish(
                        CloseCode::ABNORMAL,
                        String::new(),
                        CloseCause::Timeout(TimeoutKind::Keepalive),
                    );
                }
                Timer::Keepalive => {
                    if let Some(keepalive) = self.config.keepalive {
                        self.outbound.push_ping(Bytes::new());
                        self.timers.set(Timer::Pong, now + keepalive.timeout);
                    }
                }
                Timer::Idle => {
                    let _ = self
                        .start_close(now, CloseFrame::new(CloseCode::GOING_AWAY, "idle timeout"));
                }
                Timer::Linger => self.outbound.seal_back(),
                Timer::StreamTtl => {
                    let outcome = self.reassembly.evict(now, self.config.stream.ttl);
                    self.apply_stream_outcome(outcome);
                }
            }
        }
    }

    // ---- commands ----

    /// Server: accepts the pending upgrade request.
    pub fn accept(&mut self, now: Instant, accept: Accept) -> Result<(), SendError> {
        let Lifecycle::AwaitingDecision(request) = &self.lifecycle else {
            return Err(SendError::NoPendingRequest);
        };
        let mut accept = accept;
        if accept.chosen_subprotocol().is_none() {
            let offered = request.subprotocols();
            if let Some(p) = self
                .config
                .subprotocols
                .iter()
                .find(|p| offered.contains(&p.name))
            {
                accept = accept.subprotocol(p.name.clone());
            }
        }
        #[cfg(feature = "deflate")]
        let deflate = self.config.deflate.as_ref().and_then(|config| {
            let params = crate::extension::deflate::negotiate_server(request.extensions(), config)?;
            accept.set_extensions(params.to_header_value());
            Some(params)
        });
        let response =
            handshake::server::accept_response(request, &accept).map_err(SendError::Handshake)?;
        self.outbound.push_raw(response);
        #[cfg(feature = "deflate")]
        self.enable_deflate(deflate);
        self.subprotocol = accept.chosen_subprotocol().map(String::from);
        self.open(now, None);
        self.process_input(now);
        Ok(())
    }

    /// Server: rejects the pending upgrade request with an HTTP response.
    pub fn reject(&mut self, reject: Reject) -> Result<(), SendError> {
        if !matches!(self.lifecycle, Lifecycle::AwaitingDecision(_)) {
            return Err(SendError::NoPendingRequest);
        }
        let response = handshake::server::reject_response(&reject).map_err(SendError::Handshake)?;
        self.outbound.push_raw(response);
        self.finish(
            CloseCode::ABNORMAL,
            String::new(),
            CloseCause::Rejected(reject.status()),
        );
        Ok(())
    }

    /// Queues a message. It is written in order after every message sent
    /// before it, cut into fragments of [`Config::fragment_size`].
    #[inline]
    pub fn send(&mut self, message: impl Into<Message>) -> Result<(), SendError> {
        self.check_can_send()?;
        self.queue_message(message.into());
        Ok(())
    }

    /// Queues a data message through the connection's envelope.
    #[inline]
    fn queue_message(&mut self, message: Message) {
        let (framing, prefix): (Framing, &[u8]) = match (self.envelope, &message) {
            (Envelope::Batched(framing), Message::Binary(_)) => (framing, &[]),
            (Envelope::Streamed(framing), Message::Binary(payload)) => {
                if self
                    .config
                    .stream
                    .send_threshold
                    .is_some_and(|threshold| payload.len() > threshold)
                {
                    let payload = message.into_payload();
                    self.queue_stream(StreamSource::Bytes(payload), Bytes::new());
                    return;
                }
                (framing, &[stream::tag::BATCH])
            }
            _ => {
                self.outbound
                    .push_message(message.kind(), message.into_payload());
                return;
            }
        };
        let batch = &self.config.batch;
        let opened = self
            .outbound
            .push_logical(framing, message.payload(), batch, prefix);
        if opened && !batch.linger.is_zero() && !self.timers.is_set(Timer::Linger) {
            self.timers.set(Timer::Linger, self.now + batch.linger);
        }
    }

    fn queue_stream(&mut self, source: StreamSource, metadata: Bytes) -> StreamId {
        let id = self.take_stream_id();
        self.outbound
            .push_stream(OutStream::new(id, source, metadata));
        id
    }

    fn take_stream_id(&mut self) -> StreamId {
        let id = self.next_stream_id;
        self.next_stream_id = id.wrapping_add(1);
        id
    }

    /// Sends `source` as a stream with `metadata` (for example a content
    /// type) for the receiver, on a connection whose subprotocol names the
    /// streamed envelope. The payload is cut into chunks as it is written,
    /// interleaved with other messages; the returned id names it in
    /// [`StreamEvent`]s and [`Connection::abort_stream`].
    ///
    /// ```
    /// use bytes::Bytes;
    /// use wscore::envelope::Subprotocol;
    /// use wscore::{Config, Connection, Instant, Role};
    ///
    /// let config = Config::default().subprotocols(vec![Subprotocol::streamed("files.v2")]);
    /// let mut conn = Connection::upgraded(Role::Server, config, [0; 32], Instant::ZERO)?;
    /// // Upgraded elsewhere, so no subprotocol was chosen here: plain.
    /// assert!(conn.send_stream(Bytes::from(vec![0; 10]), Bytes::new()).is_err());
    /// # Ok::<(), wscore::error::SetupError>(())
    /// ```
    pub fn send_stream(
        &mut self,
        source: impl Into<StreamSource>,
        metadata: Bytes,
    ) -> Result<StreamId, SendError> {
        self.check_can_send()?;
        if !matches!(self.envelope, Envelope::Streamed(_)) {
            return Err(SendError::StreamsNotNegotiated);
        }
        Ok(self.queue_stream(source.into(), metadata))
    }

    /// Opens a stream of `total_len` bytes whose data the application
    /// pushes later with [`Connection::push_stream`], on a connection whose
    /// subprotocol names the streamed envelope. Nothing is written until
    /// the first bytes are pushed (the open record goes with them), and
    /// the stream waits without holding up other messages while it has
    /// nothing pushed. The end record follows the last of the `total_len`
    /// bytes by itself.
    ///
    /// The close frame follows the stream, so bytes may still be pushed
    /// after [`Connection::close`]; the connection's end drops the stream
    /// unfinished and reports it in a [`StreamEvent::Failed`].
    pub fn open_stream(&mut self, total_len: u64, metadata: Bytes) -> Result<StreamId, SendError> {
        self.check_can_send()?;
        if !matches!(self.envelope, Envelope::Streamed(_)) {
            return Err(SendError::StreamsNotNegotiated);
        }
        let id = self.take_stream_id();
        self.outbound
            .push_stream(OutStream::pushed(id, total_len, metadata));
        Ok(id)
    }

    /// Queues the next bytes of stream `id`, opened with
    /// [`Connection::open_stream`]. They are not copied: each is cut into
    /// chunk records as it is written. They count in
    /// [`Connection::queued_bytes`] until written, so an adapter applies
    /// back-pressure by pushing only while that is under its limit.
    /// Bytes past the announced length are refused whole.
    pub fn push_stream(&mut self, id: StreamId, data: Bytes) -> Result<(), SendError> {
        match self.outbound.push_to_stream(id, data) {
            Some(Ok(())) => Ok(()),
            Some(Err(PushError::NotPushed)) => Err(SendError::NotPushed(id)),
            Some(Err(PushError::PastEnd {
                announced,
                would_be,
            })) => Err(SendError::PushPastEnd {
                id,
                announced,
                would_be,
            }),
            None => Err(self
                .check_can_send()
                .err()
                .unwrap_or(SendError::UnknownStream(id))),
        }
    }

    /// Stops sending stream `id`; the peer is told if it has heard of it.
    /// Chunks already written stay written.
    pub fn abort_stream(&mut self, id: StreamId, reason: &str) -> Result<(), SendError> {
        let announced = self
            .outbound
            .cancel_stream(id)
            .ok_or(SendError::UnknownStream(id))?;
        if announced {
            self.outbound.push_stream_control(&Record::Abort {
                id,
                code: AbortCode::CANCELLED,
                reason: reason.into(),
            });
        }
        Ok(())
    }

    /// Queues a ping. Pings go ahead of queued data.
    pub fn ping(&mut self, payload: impl Into<Bytes>) -> Result<(), SendError> {
        let payload = control_payload(payload.into())?;
        self.check_can_send()?;
        self.outbound.push_ping(payload);
        Ok(())
    }

    /// Queues an unsolicited pong (a unidirectional heartbeat), after the
    /// pongs already waiting (at most 16 wait; past that it replaces the
    /// last one).
    pub fn pong(&mut self, payload: impl Into<Bytes>) -> Result<(), SendError> {
        let payload = control_payload(payload.into())?;
        self.check_can_send()?;
        self.outbound.set_pong(payload);
        Ok(())
    }

    /// Starts the close handshake, or answers the peer's close if it has
    /// arrived. The close frame is written after every message already
    /// queued; no data may be sent after it. Use [`CloseCode::NO_STATUS`]
    /// with an empty reason for a close frame without a code.
    ///
    /// A code that may not be sent ([`CloseCode::is_sendable`]), including
    /// [`CloseCode::NO_STATUS`] with a reason, is refused with
    /// [`SendError::InvalidCloseCode`] before the reason's length is looked
    /// at; a reason over [`MAX_REASON_LEN`] bytes with
    /// [`SendError::ControlPayloadTooLong`].
    pub fn close(&mut self, now: Instant, code: CloseCode, reason: &str) -> Result<(), SendError> {
        let empty_frame = code == CloseCode::NO_STATUS && reason.is_empty();
        if !empty_frame && !code.is_sendable() {
            return Err(SendError::InvalidCloseCode(code.0));
        }
        if reason.len() > MAX_REASON_LEN {
            return Err(SendError::ControlPayloadTooLong(reason.len() + 2));
        }
        self.start_close(now, CloseFrame::new(code, reason))
    }

    /// Answers every future message equal to `request` (same kind, same
    /// bytes) with `response`, without surfacing it as an event. An empty
    /// `response` removes the entry for `request`; both empty clear the
    /// table. Applies to messages received whole, and to each logical
    /// message of a batch (the answer is batched like any other send).
    ///
    /// ```
    /// # use wscore::{config::Config, connection::{Connection, Role}, message::Message, Instant};
    /// let mut conn = Connection::upgraded(Role::Server, Config::default(), [0; 32], Instant::ZERO).unwrap();
    /// conn.set_auto_response(Message::text("heartbeat"), Message::text("alive"));
    /// conn.handle_input(Instant::ZERO, &[0x81, 0x89, 0, 0, 0, 0, b'h', b'e', b'a', b'r', b't', b'b', b'e', b'a', b't']);
    /// assert_eq!(conn.poll_event(), None); // answered, not surfaced
    /// assert_eq!(conn.poll_transmit().unwrap().payload().as_ref(), b"alive");
    /// ```
    pub fn set_auto_response(&mut self, request: Message, response: Message) {
        match (request.is_empty(), response.is_empty()) {
            (true, true) => self.auto_responses.clear(),
            (_, true) => {
                self.auto_responses
                    .remove(&(request.kind(), request.into_payload()));
            }
            _ => {
                self.auto_responses
                    .insert((request.kind(), request.into_payload()), response);
            }
        }
    }

    // ---- outputs ----

    /// The next bytes to write, if any.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.outbound.schedule(&self.config.stream);
        while let Some(id) = self.outbound.take_failed_stream() {
            self.events.push_back(Event::Stream(StreamEvent::Failed {
                id,
                direction: Direction::Outbound,
                error: StreamError::SourceFailed,
            }));
        }
        if let Some(codec) = self.codec.as_mut() {
            self.outbound
                .encode_front(|payload| Some((codec.compress(payload)?, Rsv::RSV1)));
        }
        let Some(next) = self.outbound.next(self.config.fragment_size) else {
            // Frames cut from the block keep it alive until written; a
            // connection with nothing to send holds none.
            self.mask_block = BytesMut::new();
            return None;
        };
        let frame = match next {
            Next::Raw(bytes) => return Some(Transmit::raw(bytes)),
            Next::Frame(frame) => frame,
        };
        let mut header = FrameHeader {
            fin: frame.fin,
            rsv: frame.rsv,
            opcode: frame.opcode,
            mask: None,
            payload_len: frame.payload.len() as u64,
        };
        let payload = match self.role {
            Role::Server => frame.payload,
            Role::Client => {
                let key = self.rng.mask_key();
                header.mask = Some(key);
                let queued = self.outbound.queued_bytes();
                mask_payload(&mut self.mask_block, &frame.payload, key, queued)
            }
        };
        Some(Transmit {
            header: header.encode(),
            payload,
            offset: 0,
        })
    }

    /// The next event, if any.
    #[must_use]
    #[inline]
    pub fn poll_event(&mut self) -> Option<Event> {
        if self.failure.is_none() && !self.events.is_empty() {
            // The common case: events are queued and nothing is pending.
            return self.pop_event();
        }
        if let Some(failure) = self.failure.take_if(|f| f.events_ahead == 0) {
            // The events before the violation were taken, and the
            // application has had its chance to answer them.
            self.fail_now(failure.error);
        }
        if let Some(failure) = self.failure.as_mut() {
            failure.events_ahead = failure.events_ahead.saturating_sub(1);
        } else if self.events.is_empty() && self.inbound.inflating() {
            // The next piece of a compressed message is inflated only once
            // the queued ones were taken: its input waits compressed.
            self.process_input(self.now);
            self.end_of_input();
        }
        self.pop_event()
    }

    #[inline]
    fn pop_event(&mut self) -> Option<Event> {
        let event = self.events.pop_front()?;
        if let Event::CloseReceived(_) = &event {
            self.answer_remote_close();
        }
        Some(event)
    }

    /// When [`Connection::handle_timeout`] should next be called, if ever.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    // ---- internals ----

    #[inline]
    fn check_can_send(&self) -> Result<(), SendError> {
        match self.lifecycle {
            Lifecycle::Open | Lifecycle::ClosingRemote(_) => Ok(()),
            Lifecycle::AwaitingRequest
            | Lifecycle::AwaitingDecision(_)
            | Lifecycle::AwaitingResponse { .. } => Err(SendError::NotOpen),
            Lifecycle::ClosingLocal => Err(SendError::Closing),
            Lifecycle::Closed => Err(if self.outbound.close_queued() {
                SendError::Closing
            } else {
                SendError::Closed
            }),
        }
    }

    #[cfg(feature = "deflate")]
    fn enable_deflate(&mut self, params: Option<crate::extension::deflate::DeflateParams>) {
        let (Some(params), Some(config)) = (params, self.config.deflate.as_ref()) else {
            return;
        };
        self.codec = Some(Codec::new(&params, self.role, config));
        self.inbound.allow_rsv(Rsv::RSV1);
        self.deflate = Some(params);
    }

    fn open(&mut self, now: Instant, response: Option<Response>) {
        self.now = self.now.max(now);
        self.envelope = self
            .config
            .subprotocols
            .iter()
            .find(|p| Some(p.name.as_str()) == self.subprotocol.as_deref())
            .map_or(Envelope::Plain, |p| p.envelope);
        self.outbound
            .set_linger(!self.config.batch.linger.is_zero());
        self.inbound
            .set_whole_binary(!matches!(self.envelope, Envelope::Plain));
        self.lifecycle = Lifecycle::Open;
        self.timers.clear(Timer::Handshake);
        self.arm_open_timers(now);
        self.events.push_back(Event::Connected(Box::new(Connected {
            subprotocol: self.subprotocol.clone(),
            response,
        })));
    }

    fn arm_open_timers(&mut self, now: Instant) {
        if let Some(keepalive) = self.config.keepalive {
            self.timers.set(Timer::Keepalive, now + keepalive.interval);
        }
        if let Some(idle) = self.config.idle_timeout {
            self.timers.set(Timer::Idle, now + idle);
        }
    }

    /// Anything from the peer proves it alive.
    fn note_activity(&mut self, now: Instant) {
        if let Some(keepalive) = self.config.keepalive {
            if self.timers.is_set(Timer::Keepalive) || self.timers.is_set(Timer::Pong) {
                self.timers.clear(Timer::Pong);
                self.timers.set(Timer::Keepalive, now + keepalive.interval);
            }
        }
    }

    fn process_input(&mut self, now: Instant) {
        loop {
            match self.lifecycle {
                Lifecycle::AwaitingRequest => {
                    if !self.read_request() {
                        return;
                    }
                }
                Lifecycle::AwaitingResponse { .. } => {
                    if !self.read_response(now) {
                        return;
                    }
                }
                Lifecycle::Open | Lifecycle::ClosingLocal => return self.read_frames(now),
                Lifecycle::AwaitingDecision(_)
                | Lifecycle::ClosingRemote(_)
                | Lifecycle::Closed => return,
            }
        }
    }

    /// Whether the header block may be complete: worth running the parser.
    /// Only bytes not scanned before are searched. Once a terminator has
    /// been seen the parser runs on every input, because it may still want
    /// more (blank lines before a request line are allowed), and the outcome
    /// must not depend on how the bytes were split.
    fn header_block_complete(&mut self) -> bool {
        let buf = self.inbound.buffer();
        if !self.header_scan.terminator_seen {
            let start = self.header_scan.scanned.saturating_sub(3);
            self.header_scan.terminator_seen = buf
                .get(start..)
                .unwrap_or_default()
                .windows(4)
                .any(|w| w == b"\r\n\r\n");
            self.header_scan.scanned = buf.len();
        }
        self.header_scan.terminator_seen || buf.len() > self.config.max_handshake_bytes
    }

    /// Returns whether the lifecycle moved on.
    fn read_request(&mut self) -> bool {
        if !self.header_block_complete() {
            return false;
        }
        let parsed = handshake::server::parse_request(
            self.inbound.buffer(),
            self.config.max_handshake_bytes,
            self.config.max_headers,
        );
        match parsed {
            Ok(None) => false,
            Ok(Some((request, consumed))) => {
                self.inbound.buffer().advance(consumed);
                self.events
                    .push_back(Event::Request(Box::new(request.clone())));
                self.lifecycle = Lifecycle::AwaitingDecision(request);
                true
            }
            Err(error) => {
                self.outbound
                    .push_raw(handshake::server::error_response(&error));
                self.finish(
                    CloseCode::ABNORMAL,
                    String::new(),
                    CloseCause::Handshake(error),
                );
                true
            }
        }
    }

    fn read_response(&mut self, now: Instant) -> bool {
        if !self.header_block_complete() {
            return false;
        }
        let Lifecycle::AwaitingResponse {
            request,
            expected_accept,
        } = &self.lifecycle
        else {
            return false;
        };
        let parsed = handshake::client::parse_response(
            self.inbound.buffer(),
            expected_accept,
            request,
            self.config.max_handshake_bytes,
            self.config.max_headers,
        );
        match parsed {
            Ok(None) => false,
            Ok(Some((response, consumed))) => {
                self.inbound.buffer().advance(consumed);
                #[cfg(feature = "deflate")]
                if let Some(config) = &self.config.deflate {
                    match crate::extension::deflate::negotiate_client(response.extensions(), config)
                    {
                        Ok(params) => self.enable_deflate(params),
                        Err(error) => {
                            let cause = CloseCause::Handshake(HandshakeError::Extension(error));
                            self.finish(CloseCode::ABNORMAL, String::new(), cause);
                            return true;
                        }
                    }
                }
                self.subprotocol = response.subprotocol().map(String::from);
                self.open(now, Some(response));
                true
            }
            Err(error) => {
                self.finish(
                    CloseCode::ABNORMAL,
                    String::new(),
                    CloseCause::Handshake(error),
                );
                true
            }
        }
    }

    fn read_frames(&mut self, now: Instant) {
        loop {
            if self.inbound.inflating() && !self.events.is_empty() {
                // The next inflated piece waits until the queued events are
                // taken: `poll_event` resumes.
                return;
            }
            let item = match self
                .inbound
                .next_item(&self.config, self.role, self.codec.as_mut())
            {
                Ok(Some(item)) => item,
                Ok(None) => return,
                Err(error) => return self.fail(error),
            };
            match item {
                Item::Message(message) => {
                    if let Some(idle) = self.config.idle_timeout {
                        self.timers.set(Timer::Idle, now + idle);
                    }
                    // Matched by reference: moving the message into a tuple
                    // would cost a copy of it per message.
                    let (framing, batch) = match (self.envelope, &message) {
                        (Envelope::Batched(framing), Message::Binary(_)) => {
                            (framing, message.into_payload())
                        }
                        (Envelope::Streamed(framing), Message::Binary(_)) => {
                            match Record::decode(message.payload()) {
                                Ok(Record::Batch(batch)) => (framing, batch),
                                Ok(record) => {
                                    self.stream_record(now, record);
                                    continue;
                                }
                                Err(error) => {
                                    return self.fail(ProtocolError::InvalidStreamRecord(error))
                                }
                            }
                        }
                        _ => {
                            self.deliver(message);
                            continue;
                        }
                    };
                    let limits = &self.config.batch;
                    match Batch::parse(batch, framing, limits.max_messages, limits.max_bytes) {
                        // Auto-responses look at every message as it
                        // arrives; otherwise the batch is cut as it is taken.
                        Ok(batch) if self.auto_responses.is_empty() => {
                            self.events.push_batch(batch);
                        }
                        Ok(batch) => {
                            for message in batch {
                                self.deliver(Message::Binary(message));
                            }
                        }
                        Err(error) => return self.fail(ProtocolError::InvalidBatch(error)),
                    }
                }
                Item::MessageStart(kind) => {
                    if let Some(idle) = self.config.idle_timeout {
                        self.timers.set(Timer::Idle, now + idle);
                    }
                    self.events.push_back(Event::MessageStart(kind));
                }
                Item::MessageData(piece) => self.events.push_back(Event::MessageData(piece)),
                Item::MessageEnd => self.events.push_back(Event::MessageEnd),
                Item::Ping(payload) => {
                    self.outbound.set_pong(payload.clone());
                    self.events.push_back(Event::Ping(payload));
                }
                Item::Pong(payload) => self.events.push_back(Event::Pong(payload)),
                Item::Close(frame) => return self.close_received(frame),
            }
        }
    }

    /// Applies an inbound stream record.
    fn stream_record(&mut self, now: Instant, record: Record) {
        let incremental = self.config.receive_mode == crate::config::ReceiveMode::Incremental;
        let outcome = self
            .reassembly
            .apply(record, now, incremental, &self.config.stream);
        self.apply_stream_outcome(outcome);
    }

    fn apply_stream_outcome(&mut self, outcome: stream::Outcome) {
        for delivery in outcome.events {
            match delivery {
                Delivery::Message(payload) => self.deliver(Message::Binary(payload)),
                Delivery::Event(event) => self.events.push_back(Event::Stream(event)),
            }
        }
        for (id, error) in outcome.refuse {
            self.outbound.push_stream_control(&Record::Refuse {
                id,
                code: error.abort_code(),
                reason: alloc::format!("{error}"),
            });
        }
        if let Some((id, error)) = outcome.refused {
            if self.outbound.cancel_stream(id).is_some() {
                self.events.push_back(Event::Stream(StreamEvent::Failed {
                    id,
                    direction: Direction::Outbound,
                    error,
                }));
            }
        }
        match self.reassembly.next_expiry(self.config.stream.ttl) {
            Some(at) => self.timers.set(Timer::StreamTtl, at),
            None => self.timers.clear(Timer::StreamTtl),
        }
    }

    /// Hands a received (logical) message to the auto-responses or the
    /// application.
    #[inline]
    fn deliver(&mut self, message: Message) {
        if self.auto_responses.is_empty() || !self.auto_respond(&message) {
            self.events.push_back(Event::Message(message));
        }
    }

    fn auto_respond(&mut self, message: &Message) -> bool {
        if self.auto_responses.is_empty() || !matches!(self.lifecycle, Lifecycle::Open) {
            return false;
        }
        let key = (message.kind(), message.payload().clone());
        let Some(response) = self.auto_responses.get(&key) else {
            return false;
        };
        self.queue_message(response.clone());
        true
    }

    fn close_received(&mut self, frame: CloseFrame) {
        self.inbound.clear();
        self.events.push_back(Event::CloseReceived(frame.clone()));
        match self.lifecycle {
            Lifecycle::ClosingLocal => {
                self.finish(frame.code, frame.reason, CloseCause::Local);
            }
            _ => {
                self.timers.clear_all();
                self.lifecycle = Lifecycle::ClosingRemote(frame);
            }
        }
    }

    /// Called when the application takes [`Event::CloseReceived`].
    fn answer_remote_close(&mut self) {
        let Lifecycle::ClosingRemote(frame) = &self.lifecycle else {
            return;
        };
        let frame = frame.clone();
        // Echo the code alone; an empty close is answered with an empty one.
        self.outbound.queue_close(CloseFrame::new(frame.code, ""));
        self.finish(frame.code, frame.reason, CloseCause::Remote);
    }

    fn start_close(&mut self, now: Instant, frame: CloseFrame) -> Result<(), SendError> {
        match &self.lifecycle {
            Lifecycle::Open => {
                self.outbound.queue_close(frame);
                self.timers.clear_all();
                self.timers
                    .set(Timer::Close, now + self.config.close_timeout);
                self.lifecycle = Lifecycle::ClosingLocal;
                Ok(())
            }
            Lifecycle::ClosingRemote(received) => {
                let received = received.clone();
                self.outbound.queue_close(frame);
                self.finish(received.code, received.reason, CloseCause::Remote);
                Ok(())
            }
            Lifecycle::AwaitingRequest
            | Lifecycle::AwaitingDecision(_)
            | Lifecycle::AwaitingResponse { .. } => Err(SendError::NotOpen),
            Lifecycle::ClosingLocal => Err(SendError::Closing),
            Lifecycle::Closed => Err(SendError::Closed),
        }
    }

    /// The peer broke the protocol: send the matching close and stop, once
    /// the events queued before the violation are taken.
    fn fail(&mut self, error: ProtocolError) {
        let open = matches!(self.lifecycle, Lifecycle::Open | Lifecycle::ClosingLocal);
        if open && !self.events.is_empty() && self.failure.is_none() {
            self.inbound.clear();
            self.failure = Some(PendingFailure {
                error,
                events_ahead: self.events.len(),
            });
            return;
        }
        self.fail_now(error);
    }

    /// Sends the close for a protocol error and stops.
    fn fail_now(&mut self, error: ProtocolError) {
        let code = error.close_code();
        if matches!(self.lifecycle, Lifecycle::Open | Lifecycle::ClosingLocal) {
            // The reason tells the peer what was wrong, where it can (a
            // batch error names its byte offset).
            let mut reason = alloc::format!("{error}");
            let mut end = reason.len().min(MAX_REASON_LEN);
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            reason.truncate(end);
            self.outbound.queue_close(CloseFrame::new(code, reason));
        }
        self.finish(code, String::new(), CloseCause::Protocol(error));
    }

    fn time_out(&mut self, kind: TimeoutKind) {
        self.outbound.abandon();
        self.finish(
            CloseCode::ABNORMAL,
            String::new(),
            CloseCause::Timeout(kind),
        );
    }

    /// Enters the terminal state and queues the last event.
    fn finish(&mut self, code: CloseCode, reason: String, cause: CloseCause) {
        if matches!(self.lifecycle, Lifecycle::Closed) {
            return;
        }
        self.lifecycle = Lifecycle::Closed;
        self.timers.clear_all();
        self.inbound.clear();
        // Streams cut short are reported, so no partial payload goes unnoticed.
        self.outbound.abandon_pushed_streams();
        let inbound = self
            .reassembly
            .clear()
            .into_iter()
            .map(|id| (id, Direction::Inbound));
        let outbound = self
            .outbound
            .take_abandoned_streams()
            .into_iter()
            .map(|id| (id, Direction::Outbound));
        for (id, direction) in inbound.chain(outbound) {
            self.events.push_back(Event::Stream(StreamEvent::Failed {
                id,
                direction,
                error: StreamError::ConnectionClosed,
            }));
        }
        self.events.push_back(Event::Closed(Box::new(Closed {
            code,
            reason,
            cause,
        })));
    }
}

/// Payloads up to this size are masked into a shared block.
const MASK_BLOCK_PAYLOAD: usize = 512;
/// The largest shared masking block.
const MASK_BLOCK: usize = 4 << 10;

/// Masks `payload` into a buffer of its own, or, when it is small, into
/// `block`, which is sized for what else is queued (at most
/// [`MASK_BLOCK`]) and cut into one slice per frame. A burst of small
/// frames then costs one allocation instead of one per frame, and the
/// block is reused in place once the frames cut from it have been
/// written and dropped.
fn mask_payload(block: &mut BytesMut, payload: &[u8], key: [u8; 4], queued: usize) -> Bytes {
    let room = block.capacity() - block.len();
    if payload.len() > MASK_BLOCK_PAYLOAD || (queued == 0 && room < payload.len()) {
        // Large, or alone: a buffer of its own is one allocation, where a
        // new block would cost two (the block, and the state it is shared
        // by).
        let mut masked = BytesMut::with_capacity(payload.len());
        mask_into(&mut masked, payload, key);
        return masked.freeze();
    }
    if room < payload.len() {
        let want = queued.saturating_add(payload.len()).min(MASK_BLOCK);
        block.reserve(payload.len().max(want));
    }
    mask_into(block, payload, key);
    block.split().freeze()
}

/// The name of the first extension `request` offers that `config` does not
/// run. The engine runs permessage-deflate, when it is configured, and
/// nothing else.
fn unconfigured_extension<'r>(config: &Config, request: &'r ClientRequest) -> Option<&'r str> {
    request
        .extensions()
        .iter()
        .flat_map(|offers| offers.split(','))
        .map(handshake::extension_name)
        .filter(|name| !name.is_empty())
        .find(|name| !runs_extension(config, name))
}

#[cfg(feature = "deflate")]
fn runs_extension(config: &Config, name: &str) -> bool {
    config.deflate.is_some() && name.eq_ignore_ascii_case(crate::extension::deflate::EXTENSION_NAME)
}

#[cfg(not(feature = "deflate"))]
fn runs_extension(_config: &Config, _name: &str) -> bool {
    false
}

fn control_payload(payload: Bytes) -> Result<Bytes, SendError> {
    if payload.len() > MAX_CONTROL_PAYLOAD {
        return Err(SendError::ControlPayloadTooLong(payload.len()));
    }
    Ok(payload)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod batch_tests;
#[cfg(test)]
mod eof_tests;
#[cfg(test)]
mod stream_tests;
