//! The connection state machine: one WebSocket connection, either role, from
//! the first handshake byte to the end of the close handshake.
//!
//! [`Connection`] owns the lifecycle (handshake, open, closing, closed), the
//! close handshake and its ordering rules, keepalive and idle timers, and
//! auto-responses, and its hibernation record (`hibernate`). It delegates the frame reader, the outbound queue and
//! the envelope (batching and streaming, a machine of its own that takes
//! each complete data message) to private submodules, and the HTTP
//! upgrade to [`crate::handshake`]. The loop that drives it and its ordering
//! guarantees are documented on [`Connection`] itself, where the crate's
//! users read them.

mod closing;
mod codec;
mod envelope;
mod event;
mod events;
mod hibernate;
mod inbound;
mod outbound;
mod transmit;
mod upgrade;

pub use event::{CloseCause, Closed, Connected, Event, TimeoutKind};
pub use hibernate::{HibernateError, Hibernated, RecordDecodeError};
pub use transmit::Transmit;

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::String;
use bytes::{Bytes, BytesMut};
use core::fmt;

use crate::close::{CloseCode, CloseFrame, MAX_REASON_LEN};
use crate::config::Config;
use crate::envelope::batch::Batch;
use crate::envelope::stream::{Direction, StreamEvent};
use crate::envelope::Envelope;
use crate::error::{ProtocolError, SendError, SetupError};
use crate::frame::MAX_CONTROL_PAYLOAD;
use crate::handshake::{self, ClientRequest, Response};
use crate::message::{Message, MessageKind};
#[cfg(feature = "deflate")]
use crate::prepared::DeflateShare;
use crate::prepared::{FrameEncoding, PreparedMessage};
use crate::rng::KeyRng;
use crate::timer::{Timer, Timers};
use crate::Instant;

use closing::PendingFailure;
use codec::Codec;
use envelope::{EnvelopeMachine, Output, Received};
use events::EventQueue;
use inbound::{Inbound, Item};
use outbound::Outbound;
use upgrade::{unconfigured_extension, HeaderScan, Pending};

/// Which end of the connection this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Sends the upgrade request and masks its frames.
    Client,
    /// Answers the upgrade request; its frames are unmasked.
    Server,
}

/// Where the connection is in its life.
#[derive(Debug)]
enum Lifecycle {
    /// Server: reading the upgrade request.
    AwaitingRequest,
    /// Server: the application must accept or reject. Boxed, like the
    /// client's state below: the handshake states are short-lived and
    /// large, and every open connection would otherwise carry their size.
    AwaitingDecision(Box<Pending>),
    /// Client: the request is queued; reading the response.
    AwaitingResponse(Box<AwaitingResponse>),
    Open,
    /// We queued a close frame and wait for the peer's.
    ClosingLocal,
    /// The peer's close arrived; ours is queued when the application has
    /// seen [`Event::CloseReceived`].
    ClosingRemote(CloseFrame),
    Closed,
}

/// A client's state while its upgrade request is answered.
#[derive(Debug)]
struct AwaitingResponse {
    request: ClientRequest,
    expected_accept: String,
}

/// A WebSocket connection as a pure state machine.
///
/// # The loop
///
/// A connection is driven by four families of methods:
///
/// - getters: [`Connection::role`], [`Connection::is_open`],
///   [`Connection::is_closed`], [`Connection::subprotocol`], …
/// - inputs: [`Connection::handle_input`] (bytes read from the transport),
///   [`Connection::handle_eof`] (the transport will yield no more bytes) and
///   [`Connection::handle_timeout`] (the deadline passed);
/// - commands: [`Connection::send`], [`Connection::ping`],
///   [`Connection::close`], and for servers [`Connection::accept`] /
///   [`Connection::reject`];
/// - outputs: [`Connection::poll_transmit`] (bytes to write),
///   [`Connection::poll_event`] (what happened) and
///   [`Connection::poll_timeout`] (when to call `handle_timeout`).
///
/// After every input or command, drain `poll_transmit` until `None` and write
/// the bytes, drain `poll_event` until `None`, then read `poll_timeout`.
/// When [`Event::Closed`] has been seen, keep draining `poll_transmit` until
/// it returns `None` ([`Connection::is_done`] turns true), then shut the
/// transport down.
///
/// # Ordering around a close
///
/// - Every message received before the peer's close frame is surfaced before
///   [`Event::CloseReceived`].
/// - The reply to the peer's close is queued only when the application takes
///   `CloseReceived` out of [`Connection::poll_event`]. Whatever the
///   application sent while handling earlier events is therefore written
///   first: an echo server that receives a burst of messages and a close
///   echoes every one of them before its close frame.
/// - A protocol violation is treated the same way: the events decoded
///   before it come first, and the close frame with the RFC's code is
///   queued once they are taken, after the application's answers.
/// - Messages accepted by [`Connection::send`] are always written before our
///   close frame, whoever started the close.
/// - [`Event::Closed`] is always the last event.
///
/// # Example
///
/// ```
/// use wscore::{Accept, ClientRequest, Config, Connection, Event, Instant, Message};
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
    /// Batching and streaming, as the chosen subprotocol names them.
    envelope: EnvelopeMachine,
    /// The latest time the caller passed in: the start of a batch linger,
    /// as sends take no `now`.
    now: Instant,
    auto_responses: BTreeMap<(MessageKind, Bytes), Message>,
    /// The payload transform a negotiated extension applies, if any;
    /// boxed, as most connections have none.
    codec: Option<Box<Codec>>,
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
    /// use wscore::{ClientRequest, Config, Connection, Instant, SetupError};
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
        let lifecycle = Lifecycle::AwaitingResponse(Box::new(AwaitingResponse {
            request,
            expected_accept,
        }));
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
            envelope: EnvelopeMachine::new(Envelope::Plain, &config),
            config,
            lifecycle,
            inbound: Inbound::new(),
            outbound: Outbound::default(),
            events: EventQueue::default(),
            timers: Timers::default(),
            rng,
            subprotocol: None,
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
        self.envelope.kind()
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
    /// [`Connection::poll_transmit`], with the stream records (aborts and
    /// refusals) waiting. Adapters use it for back-pressure.
    pub fn queued_bytes(&self) -> usize {
        self.outbound.queued_bytes()
    }

    /// Input bytes held while waiting for the rest of a frame.
    pub fn buffered_input(&self) -> usize {
        self.inbound.buffered()
    }

    /// Room to read the rest of a large frame into, right behind the part
    /// of it that has arrived: empty, with a capacity of exactly the bytes
    /// the frame still needs. Offered once per frame whose rest is long
    /// (16 KiB or more) and that arrived through
    /// [`Connection::handle_input_buf`].
    ///
    /// Read into it and hand each read over as a chunk split off its front,
    /// and the frame's payload is assembled where the reads land: no copy.
    /// A reader that ignores it, or fills it only in part, loses nothing
    /// but that copy. The adapters' read loops do this.
    ///
    /// ```
    /// # use wscore::{Config, Connection, Event, Instant, Role};
    /// # use bytes::{BufMut, BytesMut};
    /// let mut conn = Connection::upgraded(Role::Client, Config::default(), [0; 32], Instant::ZERO).unwrap();
    /// // The header of a 100 000-byte binary frame, and its first byte.
    /// let mut first = BytesMut::from(&[0x82, 127, 0, 0, 0, 0, 0, 1, 0x86, 0xa0, 7][..]);
    /// conn.handle_input_buf(Instant::ZERO, first);
    /// let mut room = conn.take_read_buffer().expect("a long rest");
    /// assert_eq!(room.capacity(), 99_999);
    /// room.put_bytes(7, 99_999); // what a read would put there
    /// conn.handle_input_buf(Instant::ZERO, room);
    /// let Some(Event::Message(message)) = conn.poll_event() else { panic!() };
    /// assert_eq!(message.len(), 100_000);
    /// ```
    pub fn take_read_buffer(&mut self) -> Option<BytesMut> {
        self.inbound.take_room()
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
        self.receive(now, bytes.len(), |inbound, framed| {
            if framed {
                inbound.push_slice(bytes);
            } else {
                inbound.buffer().extend_from_slice(bytes);
            }
        });
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
        self.receive(now, bytes.len(), |inbound, framed| {
            if framed {
                inbound.push_buf(bytes);
            } else if inbound.buffer().is_empty() {
                *inbound.buffer() = bytes;
            } else {
                inbound.buffer().extend_from_slice(&bytes);
            }
        });
    }

    /// Takes `len` bytes in with `append`, which is told whether frames are
    /// being decoded (rather than a handshake read from the buffer).
    fn receive(&mut self, now: Instant, len: usize, append: impl FnOnce(&mut Inbound, bool)) {
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
                    append(&mut self.inbound, false);
                }
                return;
            }
            _ => {}
        }
        let framed = matches!(self.lifecycle, Lifecycle::Open | Lifecycle::ClosingLocal);
        append(&mut self.inbound, framed);
        if len > 0 {
            self.note_activity(now);
        }
        self.process_input(now);
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
                    self.envelope.handle_timeout(now);
                    if let Err(error) = self.route_envelope_outputs() {
                        self.fail(error);
                    }
                }
            }
        }
    }

    // ---- commands ----

    /// Queues a message. It is written in order after every message sent
    /// before it, cut into fragments of [`Config::fragment_size`].
    #[inline]
    pub fn send(&mut self, message: impl Into<Message>) -> Result<(), SendError> {
        self.check_can_send()?;
        let message = message.into();
        self.envelope.check_send(&message)?;
        self.queue_message(message);
        Ok(())
    }

    /// Queues a prepared message like [`Connection::send`], in order with
    /// other messages.
    ///
    /// When the message has a ready frame for this connection's
    /// [`Connection::frame_encoding`] and its payload fits in
    /// [`Config::fragment_size`], that frame is queued as it is and goes
    /// out as one [`Transmit`] whose payload is the shared frame: no copy,
    /// no compression of its own. Otherwise the message is sent exactly as
    /// `send(message.message())` would send it.
    ///
    /// ```
    /// # use wscore::{Config, Connection, Instant, PreparedMessage, Role};
    /// let mut conn = Connection::upgraded(Role::Server, Config::default(), [0; 32], Instant::ZERO)?;
    /// let prepared = PreparedMessage::new("hello");
    /// conn.send_prepared(&prepared)?;
    /// assert_eq!(conn.queued_bytes(), 5);
    /// assert_eq!(conn.poll_transmit().unwrap().payload(), prepared.frame());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send_prepared(&mut self, message: &PreparedMessage) -> Result<(), SendError> {
        self.check_can_send()?;
        let ready = message
            .ready_frame_parts(self.frame_encoding())
            .filter(|(_, payload_len)| *payload_len <= self.config.fragment_size);
        match ready {
            Some((frame, payload_len)) => {
                self.outbound
                    .push_prepared(message.kind(), frame.clone(), payload_len);
            }
            None => {
                let message = message.message();
                self.envelope.check_send(&message)?;
                self.queue_message(message);
            }
        }
        Ok(())
    }

    /// How this connection writes a [`PreparedMessage`]: connections with
    /// equal encodings write identical bytes for it.
    pub fn frame_encoding(&self) -> FrameEncoding {
        if self.role == Role::Client || self.envelope.kind() != Envelope::Plain {
            return FrameEncoding::PerConnection;
        }
        #[cfg(feature = "deflate")]
        if let (Some(params), Some(config)) = (&self.deflate, &self.config.deflate) {
            let (window_bits, fresh) = params.sending(Role::Server, config);
            // A context carried from message to message makes every
            // connection's bytes its own.
            return if fresh {
                FrameEncoding::Deflate(DeflateShare::new(window_bits, config))
            } else {
                FrameEncoding::PerConnection
            };
        }
        match self.codec {
            Some(_) => FrameEncoding::PerConnection,
            None => FrameEncoding::Plain,
        }
    }

    /// Queues a data message through the connection's envelope.
    #[inline]
    fn queue_message(&mut self, message: Message) {
        let opened = self.envelope.queue_message(message, &mut self.outbound);
        let linger = self.config.batch.linger;
        if opened && !linger.is_zero() && !self.timers.is_set(Timer::Linger) {
            self.timers.set(Timer::Linger, self.now + linger);
        }
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
    /// # use wscore::{Config, Connection, Instant, Message, Role};
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

    /// The next event, if any.
    #[must_use]
    // Always inlined: the event is built where the caller keeps it instead
    // of being returned through memory the caller then reads back.
    #[inline(always)]
    pub fn poll_event(&mut self) -> Option<Event> {
        if self.failure.is_none() {
            // The common case of a batched connection: the next message of
            // a batch being taken, built straight into the result.
            if let Some(message) = self.events.next_batched() {
                return Some(Event::Message(Message::Binary(message)));
            }
        }
        self.poll_queued_event()
    }

    /// [`Connection::poll_event`] for every event but a batch's message.
    fn poll_queued_event(&mut self) -> Option<Event> {
        if self.failure.is_none() && !self.events.is_empty() {
            // An event queued while nothing is pending.
            return self.pop_event();
        }
        self.poll_event_pending()
    }

    /// The next event if it is a message of a received batch: its payload
    /// (a binary message), handed out without building an [`Event`]
    /// around it. `None` when the next event is anything else, or there
    /// is none: [`Connection::poll_event`] takes that. The two may be
    /// mixed freely; either takes the same next event.
    ///
    /// ```
    /// use wscore::{Accept, ClientRequest, Config, Connection, Event, Instant, Message, Subprotocol};
    ///
    /// let now = Instant::ZERO;
    /// let config = Config::default().subprotocols(vec![Subprotocol::batched("app.v1")]);
    /// let request = ClientRequest::new("example.com", "/");
    /// let mut client = Connection::client(config.clone(), request, [7; 32], now).unwrap();
    /// let mut server = Connection::server(config, now).unwrap();
    /// fn pump(from: &mut Connection, to: &mut Connection) {
    ///     while let Some(t) = from.poll_transmit() {
    ///         let mut bytes = Vec::new();
    ///         t.write_to(&mut bytes);
    ///         to.handle_input(Instant::ZERO, &bytes);
    ///     }
    /// }
    /// pump(&mut client, &mut server);
    /// assert!(matches!(server.poll_event(), Some(Event::Request(_))));
    /// server.accept(now, Accept::new()).unwrap();
    /// assert!(matches!(server.poll_event(), Some(Event::Connected(_))));
    /// pump(&mut server, &mut client);
    /// assert!(matches!(client.poll_event(), Some(Event::Connected(_))));
    ///
    /// // Two messages in one batch, then a ping.
    /// client.send(Message::binary(&b"hi"[..])).unwrap();
    /// client.send(Message::binary(&b"you"[..])).unwrap();
    /// pump(&mut client, &mut server);
    /// client.ping(&b"p"[..]).unwrap();
    /// pump(&mut client, &mut server);
    /// assert_eq!(server.poll_batched().as_deref(), Some(&b"hi"[..]));
    /// assert_eq!(server.poll_event(), Some(Event::Message(Message::binary(&b"you"[..]))));
    /// assert_eq!(server.poll_batched(), None);
    /// assert!(matches!(server.poll_event(), Some(Event::Ping(_))));
    /// ```
    #[must_use]
    #[inline(always)]
    pub fn poll_batched(&mut self) -> Option<Bytes> {
        if self.failure.is_some() {
            // Events before a violation are counted out by `poll_event`.
            return None;
        }
        self.events.next_batched()
    }

    /// [`Connection::poll_event`] when a violation waits behind the queued
    /// events or nothing is queued. Kept out of line so that the common
    /// cases stay small where they are inlined.
    #[inline(never)]
    fn poll_event_pending(&mut self) -> Option<Event> {
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
        // Looked at where it lies, so that the event moves once, straight
        // into the result: holding it while deciding was a copy through
        // the stack in pieces that the result's load then waited for.
        if self.events.front_is_close() {
            self.answer_remote_close();
        }
        self.events.pop_front()
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
            | Lifecycle::AwaitingResponse(_) => Err(SendError::NotOpen),
            Lifecycle::ClosingLocal => Err(SendError::Closing),
            Lifecycle::Closed => Err(if self.outbound.close_queued() {
                SendError::Closing
            } else {
                SendError::Closed
            }),
        }
    }

    fn open(&mut self, now: Instant, response: Option<Response>) {
        self.now = self.now.max(now);
        let envelope = self
            .config
            .subprotocols
            .iter()
            .find(|p| Some(p.name.as_str()) == self.subprotocol.as_deref())
            .map_or(Envelope::Plain, |p| p.envelope);
        self.envelope = EnvelopeMachine::new(envelope, &self.config);
        self.outbound
            .set_linger(!self.config.batch.linger.is_zero());
        self.inbound
            .set_whole_binary(!matches!(envelope, Envelope::Plain));
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
                Lifecycle::AwaitingResponse(_) => {
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

    fn read_frames(&mut self, now: Instant) {
        loop {
            if self.inbound.inflating() && !self.events.is_empty() {
                // The next inflated piece waits until the queued events are
                // taken: `poll_event` resumes.
                return;
            }
            // Whole messages of a plain connection that no auto-response
            // watches go straight into the event queue.
            let queued = self.events.len();
            let direct = (self.envelope.kind() == Envelope::Plain
                && self.auto_responses.is_empty())
            .then_some(&mut self.events);
            let next =
                self.inbound
                    .next_item(&self.config, self.role, self.codec.as_deref_mut(), direct);
            if self.events.len() != queued {
                if let Some(idle) = self.config.idle_timeout {
                    self.timers.set(Timer::Idle, now + idle);
                }
            }
            let item = match next {
                Ok(Some(item)) => item,
                Ok(None) => return,
                Err(error) => return self.fail(error),
            };
            match item {
                Item::Message(message) => {
                    if let Some(idle) = self.config.idle_timeout {
                        self.timers.set(Timer::Idle, now + idle);
                    }
                    if self.envelope.kind() == Envelope::Plain {
                        self.deliver(message);
                        continue;
                    }
                    match self.envelope.handle_message(now, message) {
                        Ok(Received::Message(message)) => self.deliver(message),
                        Ok(Received::Batch(batch)) => self.deliver_batch(batch),
                        Ok(Received::Record) => {
                            if let Err(error) = self.route_envelope_outputs() {
                                return self.fail(error);
                            }
                        }
                        Err(error) => return self.fail(error),
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

    /// Routes what the envelope machine produced: messages and events to
    /// the application, refusals to the peer, and the stream deadline to
    /// the timer table. A peer that makes us refuse more streams than may
    /// wait to be written fails the connection, and nothing after the
    /// refusal that broke the bound is delivered.
    fn route_envelope_outputs(&mut self) -> Result<(), ProtocolError> {
        while let Some(output) = self.envelope.poll_output() {
            match output {
                Output::Message(payload) => self.deliver(Message::Binary(payload)),
                Output::Event(event) => self.events.push_back(Event::Stream(event)),
                Output::Refusal(record) => {
                    if !self.outbound.push_refusal(&record) {
                        self.envelope.discard_outputs();
                        return Err(ProtocolError::RefusalLimit);
                    }
                }
                Output::Refused(id, error) => {
                    let ours = self.outbound.cancel_stream(id).is_some()
                        || self.outbound.forget_finished_stream(id);
                    if ours {
                        self.events.push_back(Event::Stream(StreamEvent::Failed {
                            id,
                            direction: Direction::Outbound,
                            error,
                        }));
                    }
                }
            }
        }
        match self.envelope.poll_timeout() {
            Some(at) => self.timers.set(Timer::StreamTtl, at),
            None => self.timers.clear(Timer::StreamTtl),
        }
        Ok(())
    }

    /// Hands the messages of a received batch to the application: queued
    /// whole and cut as they are taken, unless auto-responses must look at
    /// each as it arrives.
    #[inline]
    fn deliver_batch(&mut self, batch: Batch) {
        if self.auto_responses.is_empty() {
            self.events.push_batch(batch);
        } else {
            for message in batch {
                self.deliver(Message::Binary(message));
            }
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
mod hibernate_tests;
#[cfg(test)]
mod outbound_tests;
#[cfg(test)]
mod prepared_tests;
#[cfg(test)]
mod room_tests;
#[cfg(test)]
mod stream_tests;
