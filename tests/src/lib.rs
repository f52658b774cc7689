//! Test harness shared by the integration tests: an in-memory client/server
//! pair over a simulated network.
//!
//! Everything here is deterministic. Randomness comes from [`Rng`], a
//! splitmix64 generator seeded by the test, and time is a simulated
//! [`Instant`] that moves only when the harness moves [`Pair::now`]; a run
//! with the same seed and the same calls produces the same bytes, events and
//! instants.
//!
//! # The simulated network
//!
//! [`Pair`] holds a client and a server [`Connection`] and one [`Link`] per
//! direction. A link is an ordered byte pipe, like a TCP stream, whose knobs
//! inject the faults a real network or peer produces:
//!
//! - random read sizes ([`Link::max_read`]): bytes arrive in chunks of
//!   random size, down to a single byte, regardless of how they were written;
//! - a slow writer ([`Link::max_write`]): only so many bytes leave a
//!   connection per step;
//! - delays ([`Link::min_delay`], [`Link::max_delay`]): each write becomes
//!   readable only after simulated time has passed, never overtaking an
//!   earlier write;
//! - a stalled reader ([`Link::stalled_until`], [`Pair::stall`]): the
//!   receiving side does not read until then, so bytes pile up;
//! - a cut link ([`Link::cut`]) and a vanished peer ([`Pair::vanish`]):
//!   bytes are dropped without any close;
//! - corruption in flight ([`Link::corrupt`]): one byte of the stream is
//!   flipped.
//!
//! Each read is fed through [`Connection::handle_input`] or, chosen at
//! random, [`Connection::handle_input_buf`]; each transmit is taken with
//! [`Transmit::write_to`](wscore::Transmit::write_to) or
//! through its [`Buf`] view in partial chunks. Either way must give the
//! same result.
//!
//! # The loop
//!
//! [`Pair::step`] moves bytes one hop in each direction: it drains each
//! side's [`Connection::poll_transmit`] into its outgoing link, then feeds
//! each side one read of what its incoming link may deliver now, and after
//! every input drains [`Connection::poll_event`] into that side's log. Draining
//! events is what an application does, so it also answers a peer's close
//! (the reply is queued when `CloseReceived` is taken). [`Pair::drive`] steps
//! until nothing moves without time passing; [`Pair::advance_to`],
//! [`Pair::run_until`], [`Pair::quiesce`], [`Pair::settle`] and
//! [`Pair::run_to_close`] move time from one wake-up (a
//! delivery or a [`Connection::poll_timeout`] deadline) to the next, calling
//! [`Connection::handle_timeout`] when a deadline is reached.
//!
//! # Checks made on every run
//!
//! The harness panics, naming the side and the instant, when a connection
//! breaks a rule of the driving loop:
//!
//! - an event is produced after [`Event::Closed`];
//! - after `handle_timeout(now)`, `poll_timeout()` still returns an instant
//!   at or before `now` (the caller would spin).
//!
//! It also records, for the tests to assert on, how late each deadline was
//! served ([`Pair::max_lateness`]; never more than [`Pair::tick`]), the
//! largest [`Connection::buffered_input`] seen after an input, and the time
//! of the last input, of the last `close` command and of `Closed`.

#![deny(missing_docs)]

use std::collections::VecDeque;
use std::fmt;
use std::ops::RangeInclusive;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use wscore::wire::{apply_mask, FrameHeader, OpCode};
use wscore::{
    Accept, ClientRequest, CloseCode, Closed, Config, Connection, Event, Instant, Message,
    MessageKind, ProtocolError, Role, SendError,
};

// ---------------------------------------------------------------------------
// Randomness
// ---------------------------------------------------------------------------

/// A tiny deterministic generator (splitmix64).
///
/// Not for cryptography; it only has to be fast, reproducible from a `u64`
/// seed and well mixed enough that nearby seeds give unrelated runs.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator whose whole output is determined by `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..n`; `n` must not be zero.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "Rng::below(0)");
        // Multiply-shift: the bias is at most n / 2^64, irrelevant here.
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A value in `range` (inclusive); the range must not be empty.
    pub fn range(&mut self, range: RangeInclusive<usize>) -> usize {
        let (lo, hi) = range.into_inner();
        assert!(lo <= hi, "Rng::range: empty range {lo}..={hi}");
        let span = (hi - lo) as u64;
        if span == u64::MAX {
            return self.next_u64() as usize;
        }
        lo + self.below(span + 1) as usize
    }

    /// True with probability `percent / 100`.
    pub fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// A duration in `range` (inclusive), with nanosecond resolution.
    pub fn duration(&mut self, range: RangeInclusive<Duration>) -> Duration {
        let (lo, hi) = range.into_inner();
        assert!(lo <= hi, "Rng::duration: empty range");
        let span = (hi - lo).as_nanos() as u64;
        lo + Duration::from_nanos(if span == u64::MAX {
            self.next_u64()
        } else {
            self.below(span + 1)
        })
    }

    /// One of `items`, which must not be empty.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            out.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        out.truncate(len);
        out
    }

    /// A 32-byte seed, for [`Connection::client`] and
    /// [`Connection::upgraded`].
    pub fn seed32(&mut self) -> [u8; 32] {
        let mut seed = [0; 32];
        seed.copy_from_slice(&self.bytes(32));
        seed
    }

    /// An independent generator, so that one consumer drawing more numbers
    /// does not shift what another consumer sees.
    pub fn fork(&mut self) -> Rng {
        Rng::new(self.next_u64())
    }
}

// ---------------------------------------------------------------------------
// Payloads
// ---------------------------------------------------------------------------

/// Exactly `len` bytes of valid UTF-8 mixing one- to four-byte characters,
/// so that fragment and read boundaries fall inside characters.
pub fn text_payload(rng: &mut Rng, len: usize) -> String {
    let mut text = String::with_capacity(len);
    while text.len() < len {
        let room = len - text.len();
        let width = match rng.below(8) {
            0 => 4,
            1 => 3,
            2 => 2,
            _ => 1,
        }
        .min(room);
        let (lo, hi): (u32, u32) = match width {
            4 => (0x1_0000, 0x10_FFFF),
            3 => (0x800, 0xFFFF),
            2 => (0x80, 0x7FF),
            _ => (0x20, 0x7E),
        };
        // Surrogates are not characters; draw again (same width, other value).
        let c = loop {
            let code = lo + rng.below(u64::from(hi - lo) + 1) as u32;
            if let Some(c) = char::from_u32(code) {
                break c;
            }
        };
        text.push(c);
    }
    debug_assert_eq!(text.len(), len);
    text
}

/// A text or binary message of exactly `len` payload bytes.
pub fn random_message(rng: &mut Rng, kind: MessageKind, len: usize) -> Message {
    match kind {
        MessageKind::Text => Message::text(text_payload(rng, len)),
        MessageKind::Binary => Message::binary(rng.bytes(len)),
    }
}

/// A message length: mostly small, often medium (two-byte length header),
/// sometimes at least 65536 bytes (eight-byte length header) when
/// `allow_huge` is set.
pub fn random_len(rng: &mut Rng, allow_huge: bool) -> usize {
    match rng.below(100) {
        0..=44 => rng.range(0..=125),
        45..=89 => rng.range(126..=4_000),
        90..=96 => rng.range(4_001..=65_535),
        _ if allow_huge => rng.range(65_536..=70_000),
        _ => rng.range(4_001..=20_000),
    }
}

// ---------------------------------------------------------------------------
// Frames on the wire
// ---------------------------------------------------------------------------

pub use wscore::test_support::{encode_frame, FrameSpec, LenForm};

/// A decoded frame, payload unmasked.
#[derive(Clone, PartialEq, Eq)]
pub struct Frame {
    /// The FIN bit.
    pub fin: bool,
    /// The opcode.
    pub opcode: OpCode,
    /// Whether the frame was masked on the wire.
    pub masked: bool,
    /// The payload, unmasked.
    pub payload: Vec<u8>,
}

impl Frame {
    /// For a close frame: the code, or `None` for an empty close payload.
    pub fn close_code(&self) -> Option<u16> {
        match self.payload.as_slice() {
            [hi, lo, ..] if self.opcode == OpCode::Close => Some(u16::from_be_bytes([*hi, *lo])),
            _ => None,
        }
    }
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Frame({:?}{}{}, {} bytes)",
            self.opcode,
            if self.fin { "" } else { ", !fin" },
            if self.masked { ", masked" } else { "" },
            self.payload.len()
        )
    }
}

/// Decodes a byte stream that must consist of whole frames only.
pub fn decode_frames(mut bytes: &[u8]) -> Result<Vec<Frame>, String> {
    let mut frames = Vec::new();
    while !bytes.is_empty() {
        let (header, header_len) = FrameHeader::decode(bytes)
            .map_err(|e| format!("frame {}: {e}", frames.len()))?
            .ok_or_else(|| format!("frame {}: truncated header", frames.len()))?;
        if !header.rsv.is_empty() {
            return Err(format!("frame {}: RSV bits set", frames.len()));
        }
        let end = header_len + header.payload_len as usize;
        let mut payload = bytes
            .get(header_len..end)
            .ok_or_else(|| format!("frame {}: truncated payload", frames.len()))?
            .to_vec();
        if let Some(key) = header.mask {
            apply_mask(&mut payload, key, 0);
        }
        frames.push(Frame {
            fin: header.fin,
            opcode: header.opcode,
            masked: header.mask.is_some(),
            payload,
        });
        bytes = &bytes[end..];
    }
    Ok(frames)
}

/// The close code RFC 6455 §7.4.1 assigns to a protocol violation, written
/// out here rather than taken from [`ProtocolError::close_code`], so that
/// tests check the connection against the RFC and not against itself.
pub fn rfc_close_code(error: &ProtocolError) -> u16 {
    match error {
        // "data within a message that was not consistent with the type of
        // the message"
        ProtocolError::InvalidUtf8 | ProtocolError::InvalidCompressedData => 1007,
        // "a message that is too big for it to process"
        ProtocolError::FrameTooLarge { .. } | ProtocolError::MessageTooLarge { .. } => 1009,
        // "a message that violates its policy"
        ProtocolError::InputLimit | ProtocolError::RefusalLimit => 1008,
        // Everything else is a framing violation: "protocol error".
        _ => 1002,
    }
}

// ---------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------

/// Every pending event of a connection ([`wscore::test_support::events`]).
pub use wscore::test_support::events as drain_events;
/// Every pending transmit of a connection, concatenated
/// ([`wscore::test_support::transmitted`]).
pub use wscore::test_support::transmitted as drain_transmits;

/// A one-line description of an event that does not print large payloads,
/// for failure messages.
pub fn describe(event: &Event) -> String {
    match event {
        Event::Message(m) => format!("Message({:?}, {} bytes)", m.kind(), m.len()),
        Event::MessageData(piece) => format!("MessageData({} bytes)", piece.len()),
        other => format!("{other:?}"),
    }
}

/// The messages an event sequence delivers, whether they came whole or in
/// pieces (incremental mode). Fails if the pieces are out of structure (data
/// outside a message, a message inside another, an empty piece, or text
/// that is not UTF-8).
pub fn reassemble<'a>(events: impl IntoIterator<Item = &'a Event>) -> Result<Vec<Message>, String> {
    let mut messages = Vec::new();
    let mut open: Option<(MessageKind, Vec<u8>)> = None;
    for (i, event) in events.into_iter().enumerate() {
        match event {
            Event::Message(m) => {
                if open.is_some() {
                    return Err(format!(
                        "event {i}: whole message inside an incremental one"
                    ));
                }
                messages.push(m.clone());
            }
            Event::MessageStart(kind) => {
                if open.is_some() {
                    return Err(format!("event {i}: MessageStart before MessageEnd"));
                }
                open = Some((*kind, Vec::new()));
            }
            Event::MessageData(piece) => match open.as_mut() {
                None => return Err(format!("event {i}: MessageData outside a message")),
                Some(_) if piece.is_empty() => return Err(format!("event {i}: empty MessageData")),
                Some((_, body)) => body.extend_from_slice(piece),
            },
            Event::MessageEnd => {
                let Some((kind, body)) = open.take() else {
                    return Err(format!("event {i}: MessageEnd outside a message"));
                };
                messages.push(match kind {
                    MessageKind::Text => Message::text(
                        String::from_utf8(body)
                            .map_err(|_| format!("event {i}: text message is not UTF-8"))?,
                    ),
                    MessageKind::Binary => Message::binary(body),
                });
            }
            Event::Closed(_) if open.is_some() => {
                // A connection may end inside a message; the partial message
                // was never delivered as complete, so it is not counted.
                open = None;
            }
            _ => {}
        }
    }
    Ok(messages)
}

/// Compares delivered messages with sent ones and describes the first
/// difference without printing whole payloads. With `prefix`, `actual` may
/// stop early (the connection ended before everything arrived).
pub fn compare_messages(
    expected: &[Message],
    actual: &[Message],
    prefix: bool,
) -> Result<(), String> {
    for (i, (e, a)) in expected.iter().zip(actual).enumerate() {
        if e.kind() != a.kind() {
            return Err(format!(
                "message {i}: kind {:?} arrived as {:?}",
                e.kind(),
                a.kind()
            ));
        }
        if e.payload() != a.payload() {
            let at = e
                .payload()
                .iter()
                .zip(a.payload().iter())
                .position(|(x, y)| x != y)
                .unwrap_or(e.len().min(a.len()));
            return Err(format!(
                "message {i}: {} bytes sent, {} arrived, first difference at byte {at}",
                e.len(),
                a.len()
            ));
        }
    }
    if actual.len() > expected.len() {
        return Err(format!(
            "{} messages arrived, only {} were sent",
            actual.len(),
            expected.len()
        ));
    }
    if !prefix && actual.len() < expected.len() {
        return Err(format!(
            "{} of {} messages arrived",
            actual.len(),
            expected.len()
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The simulated network
// ---------------------------------------------------------------------------

/// One end of a [`Pair`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The client connection.
    Client,
    /// The server connection.
    Server,
}

impl Side {
    /// Both sides, client first.
    pub const BOTH: [Side; 2] = [Side::Client, Side::Server];

    /// The other side.
    pub fn peer(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }

    /// 0 for the client, 1 for the server.
    pub fn index(self) -> usize {
        match self {
            Side::Client => 0,
            Side::Server => 1,
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Client => "client",
            Side::Server => "server",
        })
    }
}

/// One write waiting in a link.
#[derive(Debug)]
struct Segment {
    /// When the bytes become readable.
    arrival: Instant,
    bytes: Vec<u8>,
    /// How many bytes of this segment were already read.
    read: usize,
}

/// One direction of the simulated network: an ordered byte pipe and its
/// fault knobs. The knobs may be changed at any time between steps.
#[derive(Debug, Default)]
pub struct Link {
    /// The largest read. Each read takes a random size between 1 and this
    /// (a quarter of the reads at most 8 bytes, so one-byte reads are
    /// common); `None` reads everything readable at once.
    pub max_read: Option<usize>,
    /// The most bytes the writer hands to the link per step (at least one
    /// transmit); the rest waits in the connection, like data behind a full
    /// socket buffer. Commands issued meanwhile (a ping) may then overtake
    /// the rest of a long message. `None` takes every transmit at once.
    pub max_write: Option<usize>,
    /// The shortest delay between a write and the moment it is readable.
    pub min_delay: Duration,
    /// The longest such delay. Writes never overtake each other: a write
    /// with a shorter delay waits for the one before it.
    pub max_delay: Duration,
    /// The reader does not read before this instant.
    pub stalled_until: Option<Instant>,
    /// Every byte written is lost, as if the network went away.
    pub cut: bool,
    /// `(offset, xor)`: the byte at this offset of the stream (counting
    /// every byte ever written into the link) is XORed with `xor` in flight.
    pub corrupt: Option<(u64, u8)>,
    queue: VecDeque<Segment>,
    written: u64,
    delivered: u64,
    dropped: u64,
    last_arrival: Instant,
}

impl Link {
    /// Bytes written into the link so far, including dropped ones.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Bytes handed to the reader so far.
    pub fn delivered(&self) -> u64 {
        self.delivered
    }

    /// Bytes lost (cut link or vanished reader).
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Bytes written and not yet read.
    pub fn in_flight(&self) -> usize {
        self.queue.iter().map(|s| s.bytes.len() - s.read).sum()
    }

    fn write(&mut self, now: Instant, bytes: &[u8], rng: &mut Rng) {
        let offset = self.written;
        self.written += bytes.len() as u64;
        if self.cut {
            self.dropped += bytes.len() as u64;
            return;
        }
        let mut bytes = bytes.to_vec();
        if let Some((at, xor)) = self.corrupt {
            if let Some(byte) = at
                .checked_sub(offset)
                .and_then(|i| bytes.get_mut(usize::try_from(i).ok()?))
            {
                *byte ^= xor;
            }
        }
        let delay = if self.max_delay > self.min_delay {
            rng.duration(self.min_delay..=self.max_delay)
        } else {
            self.min_delay
        };
        let arrival = (now + delay).max(self.last_arrival);
        self.last_arrival = arrival;
        self.queue.push_back(Segment {
            arrival,
            bytes,
            read: 0,
        });
    }

    /// When the reader next has something to read, stalls included.
    fn next_readable(&self) -> Option<Instant> {
        let arrival = self.queue.front()?.arrival;
        Some(match self.stalled_until {
            Some(until) => arrival.max(until),
            None => arrival,
        })
    }

    /// One read of at most `max` bytes, if anything is readable at `now`.
    fn read(&mut self, now: Instant, max: usize) -> Option<Vec<u8>> {
        if self.stalled_until.is_some_and(|until| until > now) {
            return None;
        }
        let mut out = Vec::new();
        while out.len() < max {
            let Some(front) = self.queue.front_mut() else {
                break;
            };
            if front.arrival > now {
                break;
            }
            let take = (front.bytes.len() - front.read).min(max - out.len());
            out.extend_from_slice(&front.bytes[front.read..front.read + take]);
            front.read += take;
            if front.read == front.bytes.len() {
                self.queue.pop_front();
            }
        }
        self.delivered += out.len() as u64;
        (!out.is_empty()).then_some(out)
    }

    fn drop_all(&mut self) {
        self.dropped += self.in_flight() as u64;
        self.queue.clear();
    }
}

/// An event with the simulated instant at which the application saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Logged {
    /// When the event was taken out of the connection.
    pub at: Instant,
    /// The event.
    pub event: Event,
}

/// What the harness remembers about one side.
#[derive(Debug, Default)]
struct SideState {
    log: Vec<Logged>,
    sent: Vec<Message>,
    pings: Vec<Bytes>,
    /// Frame bytes written (handshake bytes excluded).
    frames_out: Vec<u8>,
    vanished: bool,
    last_input: Option<Instant>,
    close_called: Option<Instant>,
    closed_at: Option<Instant>,
    max_lateness: Duration,
    peak_buffered: usize,
}

/// A client and a server connected by a simulated network. See the
/// [crate documentation](crate) for the model.
///
/// ```
/// use wscore::{Config, Message};
/// use wscore_tests::{Pair, Side};
///
/// let mut pair = Pair::new(Config::default(), Config::default(), 7);
/// pair.to_server.max_read = Some(3); // the server reads at most 3 bytes at a time
/// pair.handshake();
/// pair.send(Side::Client, Message::text("hello")).unwrap();
/// pair.drive();
/// assert_eq!(pair.received(Side::Server), vec![Message::text("hello")]);
/// ```
#[derive(Debug)]
pub struct Pair {
    /// The client connection.
    pub client: Connection,
    /// The server connection.
    pub server: Connection,
    /// The simulated clock; only the harness moves it.
    pub now: Instant,
    /// The client-to-server direction.
    pub to_server: Link,
    /// The server-to-client direction.
    pub to_client: Link,
    /// Clock granularity. With `Some(tick)`, wake-ups (deliveries and
    /// deadlines) are rounded up to the next multiple of `tick`, like a
    /// runtime whose timers fire on a coarse wheel; deadlines are then
    /// served up to one tick late. `None` jumps to each instant exactly.
    pub tick: Option<Duration>,
    /// Call `handle_timeout` on both sides at every wake-up, not only when a
    /// deadline is due: early calls must be harmless no-ops.
    pub spurious_wakeups: bool,
    rng: Rng,
    sides: [SideState; 2],
}

impl Pair {
    /// A client and a server that have exchanged nothing yet. The client
    /// asks for `ws://wscore.test/sim`; its handshake nonce, masking keys
    /// and every random choice of the network derive from `seed`.
    pub fn new(config_client: Config, config_server: Config, seed: u64) -> Pair {
        Pair::with_request(
            config_client,
            config_server,
            ClientRequest::new("wscore.test", "/sim"),
            seed,
        )
    }

    /// Like [`Pair::new`], with the client's request given (for example to
    /// offer subprotocols).
    pub fn with_request(
        config_client: Config,
        config_server: Config,
        request: ClientRequest,
        seed: u64,
    ) -> Pair {
        let mut rng = Rng::new(seed);
        let now = Instant::ZERO;
        let client = Connection::client(config_client, request, rng.seed32(), now)
            .expect("client configuration");
        let server = Connection::server(config_server, now).expect("server configuration");
        Pair::assemble(client, server, rng)
    }

    /// A pair whose handshake happened elsewhere: both connections start
    /// open ([`Connection::upgraded`]).
    pub fn upgraded(config_client: Config, config_server: Config, seed: u64) -> Pair {
        let mut rng = Rng::new(seed);
        let now = Instant::ZERO;
        let client = Connection::upgraded(Role::Client, config_client, rng.seed32(), now)
            .expect("client configuration");
        let server = Connection::upgraded(Role::Server, config_server, rng.seed32(), now)
            .expect("server configuration");
        Pair::assemble(client, server, rng)
    }

    fn assemble(client: Connection, server: Connection, rng: Rng) -> Pair {
        Pair {
            client,
            server,
            now: Instant::ZERO,
            to_server: Link::default(),
            to_client: Link::default(),
            tick: None,
            spurious_wakeups: false,
            rng,
            sides: Default::default(),
        }
    }

    /// Drives the upgrade: the request reaches the server, the server
    /// accepts it, the response reaches the client. Panics if the handshake
    /// does not complete within the server's handshake timeout.
    pub fn handshake(&mut self) {
        self.handshake_with(Accept::new());
    }

    /// [`Pair::handshake`] with the server's answer given, for example
    /// `Accept::new().subprotocol("chat")`.
    pub fn handshake_with(&mut self, accept: Accept) {
        let limit = self.server.config().handshake_timeout;
        let requested = self.run_until(limit, |pair| {
            pair.events(Side::Server)
                .any(|e| matches!(e, Event::Request(_)))
        });
        assert!(
            requested,
            "at {:?}: the server did not receive the request; server log: {:?}",
            self.now, self.sides[1].log
        );
        self.server
            .accept(self.now, accept)
            .expect("the server accepts the request");
        self.drain_events(Side::Server);
        let connected = self.run_until(limit, |pair| {
            pair.events(Side::Client)
                .any(|e| matches!(e, Event::Connected(_)))
        });
        assert!(
            connected,
            "at {:?}: the client did not connect; client log: {:?}",
            self.now, self.sides[0].log
        );
    }

    // ---- access ----

    /// The connection of `side`.
    pub fn conn(&self, side: Side) -> &Connection {
        match side {
            Side::Client => &self.client,
            Side::Server => &self.server,
        }
    }

    /// The connection of `side`, mutably. Commands issued through it are not
    /// recorded by [`Pair::sent`]; use [`Pair::send`] for that.
    pub fn conn_mut(&mut self, side: Side) -> &mut Connection {
        match side {
            Side::Client => &mut self.client,
            Side::Server => &mut self.server,
        }
    }

    /// The link that carries bytes *to* `side`.
    pub fn link_to(&mut self, side: Side) -> &mut Link {
        match side {
            Side::Client => &mut self.to_client,
            Side::Server => &mut self.to_server,
        }
    }

    /// Every event `side` produced so far, with the instant it was seen.
    pub fn log(&self, side: Side) -> &[Logged] {
        &self.sides[side.index()].log
    }

    /// The events of `side`, without instants.
    pub fn events(&self, side: Side) -> impl Iterator<Item = &Event> {
        self.log(side).iter().map(|logged| &logged.event)
    }

    /// The messages `side` received, reassembled if they came in pieces.
    /// Panics if the pieces break the incremental structure.
    pub fn received(&self, side: Side) -> Vec<Message> {
        reassemble(self.events(side)).unwrap_or_else(|e| panic!("{side}: {e}"))
    }

    /// The messages `side` had accepted by [`Pair::send`].
    pub fn sent(&self, side: Side) -> &[Message] {
        &self.sides[side.index()].sent
    }

    /// The ping payloads `side` had accepted by [`Pair::ping`].
    pub fn pings_sent(&self, side: Side) -> &[Bytes] {
        &self.sides[side.index()].pings
    }

    /// The payloads of the pings `side` received.
    pub fn pings_received(&self, side: Side) -> Vec<Bytes> {
        self.events(side)
            .filter_map(|e| match e {
                Event::Ping(p) => Some(p.clone()),
                _ => None,
            })
            .collect()
    }

    /// The payloads of the pongs `side` received.
    pub fn pongs_received(&self, side: Side) -> Vec<Bytes> {
        self.events(side)
            .filter_map(|e| match e {
                Event::Pong(p) => Some(p.clone()),
                _ => None,
            })
            .collect()
    }

    /// How `side` ended, if it has.
    pub fn closed(&self, side: Side) -> Option<&Closed> {
        match self.log(side).last() {
            Some(Logged {
                event: Event::Closed(closed),
                ..
            }) => Some(closed),
            _ => None,
        }
    }

    /// When `side` reported [`Event::Closed`].
    pub fn closed_at(&self, side: Side) -> Option<Instant> {
        self.sides[side.index()].closed_at
    }

    /// The frames `side` wrote (handshake bytes excluded), decoded.
    pub fn frames_written(&self, side: Side) -> Result<Vec<Frame>, String> {
        decode_frames(&self.sides[side.index()].frames_out)
    }

    /// When `side` last fed a non-empty input to its connection.
    pub fn last_input(&self, side: Side) -> Option<Instant> {
        self.sides[side.index()].last_input
    }

    /// When [`Pair::close`] last succeeded on `side`.
    pub fn close_called(&self, side: Side) -> Option<Instant> {
        self.sides[side.index()].close_called
    }

    /// The most any deadline of `side` was served after it was due.
    pub fn max_lateness(&self, side: Side) -> Duration {
        self.sides[side.index()].max_lateness
    }

    /// The largest [`Connection::buffered_input`] of `side` seen right after
    /// an input.
    pub fn peak_buffered(&self, side: Side) -> usize {
        self.sides[side.index()].peak_buffered
    }

    /// Bytes written into either link and not yet read.
    pub fn in_flight(&self) -> usize {
        self.to_client.in_flight() + self.to_server.in_flight()
    }

    /// Whether `side` vanished.
    pub fn is_vanished(&self, side: Side) -> bool {
        self.sides[side.index()].vanished
    }

    // ---- commands, recorded ----

    /// Sends a message from `side`, remembering it if it was accepted.
    pub fn send(&mut self, side: Side, message: Message) -> Result<(), SendError> {
        self.conn_mut(side).send(message.clone())?;
        self.sides[side.index()].sent.push(message);
        Ok(())
    }

    /// Sends a ping from `side`, remembering its payload if accepted.
    pub fn ping(&mut self, side: Side, payload: Bytes) -> Result<(), SendError> {
        self.conn_mut(side).ping(payload.clone())?;
        self.sides[side.index()].pings.push(payload);
        Ok(())
    }

    /// Starts (or answers) the close handshake from `side`, now.
    pub fn close(&mut self, side: Side, code: CloseCode, reason: &str) -> Result<(), SendError> {
        let now = self.now;
        self.conn_mut(side).close(now, code, reason)?;
        self.sides[side.index()].close_called = Some(now);
        self.drain_events(side);
        Ok(())
    }

    // ---- faults ----

    /// `side` stops reading for `duration` from now; its timers still run
    /// and it still writes.
    pub fn stall(&mut self, side: Side, duration: Duration) {
        let until = self.now + duration;
        self.link_to(side).stalled_until = Some(until);
    }

    /// `side` disappears without a close: it is never driven again, what it
    /// had not written is lost, and bytes to and from it are dropped.
    pub fn vanish(&mut self, side: Side) {
        self.sides[side.index()].vanished = true;
        for link in [&mut self.to_client, &mut self.to_server] {
            link.cut = true;
            link.drop_all();
        }
    }

    // ---- driving ----

    /// Moves bytes one hop in each direction without moving time: each
    /// side's transmits into its outgoing link, then one read of random size
    /// from each side's incoming link into its connection. Returns whether
    /// anything moved.
    pub fn step(&mut self) -> bool {
        let mut moved = false;
        for side in Side::BOTH {
            moved |= self.flush(side);
        }
        for side in Side::BOTH {
            moved |= self.deliver(side);
        }
        moved
    }

    /// Steps until nothing moves without time passing.
    pub fn drive(&mut self) {
        let mut steps = 0u64;
        while self.step() {
            steps += 1;
            assert!(
                steps < 10_000_000,
                "at {:?}: drive() does not settle (endless traffic?)",
                self.now
            );
        }
    }

    /// The next instant at which something happens by itself: a delivery
    /// becomes possible or a deadline of a side that has not vanished falls
    /// due. Rounded up to [`Pair::tick`].
    pub fn next_wakeup(&self) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        for side in Side::BOTH {
            let state = &self.sides[side.index()];
            if state.vanished {
                continue;
            }
            let link = match side {
                Side::Client => &self.to_client,
                Side::Server => &self.to_server,
            };
            for at in [self.conn(side).poll_timeout(), link.next_readable()]
                .into_iter()
                .flatten()
            {
                next = Some(next.map_or(at, |n| n.min(at)));
            }
        }
        next.map(|at| self.round_up(at))
    }

    /// Moves time to `target`, serving every delivery and deadline on the
    /// way at its instant (or its tick).
    pub fn advance_to(&mut self, target: Instant) {
        self.drive();
        let mut wakeups = 0u64;
        while let Some(at) = self.next_wakeup() {
            if at > target {
                break;
            }
            self.wake(at);
            wakeups += 1;
            assert!(
                wakeups < 1_000_000,
                "at {:?}: time does not advance (busy loop?)",
                self.now
            );
        }
        if target > self.now {
            self.now = target;
            if self.spurious_wakeups {
                self.fire_timers();
                self.drive();
            }
        }
    }

    /// [`Pair::advance_to`] `now + duration`.
    pub fn advance(&mut self, duration: Duration) {
        let target = self.now + duration;
        self.advance_to(target);
    }

    /// Runs, step by step and moving time from wake-up to wake-up, until
    /// `done` holds (it is checked after every step, so a test can stop in
    /// the middle of a message) or `limit` has passed. Returns whether
    /// `done` held.
    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Pair) -> bool) -> bool {
        let end = self.now + limit;
        let mut rounds = 0u64;
        loop {
            if done(self) {
                return true;
            }
            if !self.step() {
                match self.next_wakeup() {
                    Some(at) if at <= end => {
                        self.now = self.now.max(at);
                        self.fire_timers();
                    }
                    _ => {
                        self.now = self.now.max(end);
                        return done(self);
                    }
                }
            }
            rounds += 1;
            assert!(
                rounds < 10_000_000,
                "at {:?}: the pair never settles (busy loop?)",
                self.now
            );
        }
    }

    /// Runs until no byte is in flight and no transmit is pending (timers
    /// may still be armed), or `limit` has passed. Returns whether that
    /// point was reached.
    pub fn quiesce(&mut self, limit: Duration) -> bool {
        let end = self.now + limit;
        loop {
            // Driving leaves no transmit pending and nothing readable now.
            self.drive();
            if self.in_flight() == 0 {
                return true;
            }
            match self.next_wakeup() {
                Some(at) if at <= end => {
                    self.now = self.now.max(at);
                    self.fire_timers();
                }
                _ => {
                    self.now = self.now.max(end);
                    return false;
                }
            }
        }
    }

    /// Runs until nothing is left to happen (no bytes in flight to a live
    /// side, no deadline) or `limit` has passed. Returns whether it went
    /// quiet.
    pub fn settle(&mut self, limit: Duration) -> bool {
        self.run_until(limit, |pair| pair.next_wakeup().is_none())
    }

    /// Runs until both sides that have not vanished report
    /// [`Event::Closed`] and wrote everything, or `limit` has passed.
    /// Returns whether they did.
    pub fn run_to_close(&mut self, limit: Duration) -> bool {
        let done = self.run_until(limit, |pair| {
            Side::BOTH
                .iter()
                .all(|&side| pair.is_vanished(side) || pair.conn(side).is_done())
        });
        // Let the last bytes land (a close reply to a side that is already
        // closed) so that the links are empty when the test looks.
        self.drive();
        done
    }

    // ---- internals ----

    fn round_up(&self, at: Instant) -> Instant {
        let Some(tick) = self.tick.filter(|t| !t.is_zero()) else {
            return at;
        };
        let nanos = at.elapsed_since_epoch().as_nanos();
        let tick_nanos = tick.as_nanos();
        let rounded = nanos.div_ceil(tick_nanos) * tick_nanos;
        Instant::from_elapsed(Duration::from_nanos(rounded as u64))
    }

    fn wake(&mut self, at: Instant) {
        self.now = self.now.max(at);
        self.fire_timers();
        self.drive();
    }

    /// Serves due deadlines (every side's, with spurious wake-ups) and
    /// checks that the connection does not ask to be woken in the past.
    fn fire_timers(&mut self) {
        let now = self.now;
        for side in Side::BOTH {
            if self.sides[side.index()].vanished {
                continue;
            }
            let deadline = self.conn(side).poll_timeout();
            let due = deadline.filter(|&d| d <= now);
            if due.is_none() && !self.spurious_wakeups {
                continue;
            }
            if let Some(due) = due {
                let state = &mut self.sides[side.index()];
                state.max_lateness = state.max_lateness.max(now - due);
            }
            self.conn_mut(side).handle_timeout(now);
            if let Some(next) = self.conn(side).poll_timeout() {
                assert!(
                    next > now,
                    "{side}: after handle_timeout({now:?}), poll_timeout() is {next:?}: \
                     the caller would spin"
                );
            }
            self.drain_events(side);
        }
    }

    fn flush(&mut self, side: Side) -> bool {
        if self.sides[side.index()].vanished {
            return false;
        }
        let now = self.now;
        let (conn, link) = match side {
            Side::Client => (&mut self.client, &mut self.to_server),
            Side::Server => (&mut self.server, &mut self.to_client),
        };
        let state = &mut self.sides[side.index()];
        let budget = link.max_write.unwrap_or(usize::MAX);
        let mut taken = 0;
        let mut moved = false;
        while taken < budget {
            let Some(transmit) = conn.poll_transmit() else {
                break;
            };
            taken += transmit.len();
            let mut bytes = Vec::with_capacity(transmit.len());
            if self.rng.percent(50) {
                transmit.write_to(&mut bytes);
            } else {
                // As an adapter making partial writes would: through the
                // `Buf` view, a random number of bytes at a time.
                let mut buf = transmit.clone();
                while buf.has_remaining() {
                    let chunk = buf.chunk();
                    assert!(
                        !chunk.is_empty(),
                        "{side}: Transmit::chunk() is empty with {} bytes remaining",
                        buf.remaining()
                    );
                    let n = self.rng.range(1..=chunk.len());
                    bytes.extend_from_slice(&chunk[..n]);
                    buf.advance(n);
                }
            }
            // Handshake bytes carry no frame header.
            if !transmit.header().is_empty() {
                state.frames_out.extend_from_slice(&bytes);
            }
            link.write(now, &bytes, &mut self.rng);
            moved = true;
        }
        moved
    }

    fn deliver(&mut self, side: Side) -> bool {
        let now = self.now;
        if self.sides[side.index()].vanished {
            self.link_to(side).drop_all();
            return false;
        }
        let (conn, link) = match side {
            Side::Client => (&mut self.client, &mut self.to_client),
            Side::Server => (&mut self.server, &mut self.to_server),
        };
        let max = match link.max_read {
            None => usize::MAX,
            Some(max) if self.rng.percent(25) => self.rng.range(1..=max.clamp(1, 8)),
            Some(max) => self.rng.range(1..=max.max(1)),
        };
        let Some(bytes) = link.read(now, max) else {
            return false;
        };
        // Both input paths must behave the same; the owned-buffer one may
        // adopt the buffer as its own when nothing is pending.
        if self.rng.percent(50) {
            conn.handle_input(now, &bytes);
        } else {
            conn.handle_input_buf(now, BytesMut::from(&bytes[..]));
        }
        let buffered = conn.buffered_input();
        let state = &mut self.sides[side.index()];
        state.last_input = Some(now);
        state.peak_buffered = state.peak_buffered.max(buffered);
        self.drain_events(side);
        true
    }

    /// Takes the events of `side` into its log, as an application would.
    fn drain_events(&mut self, side: Side) {
        let now = self.now;
        let conn = match side {
            Side::Client => &mut self.client,
            Side::Server => &mut self.server,
        };
        let state = &mut self.sides[side.index()];
        while let Some(event) = conn.poll_event() {
            if let Some(closed_at) = state.closed_at {
                panic!(
                    "{side}: event {} at {now:?} after Closed at {closed_at:?}",
                    describe(&event)
                );
            }
            if matches!(event, Event::Closed(_)) {
                state.closed_at = Some(now);
            }
            state.log.push(Logged { at: now, event });
        }
    }
}

/// The harness's own knobs must do what they claim; otherwise a simulation
/// that passes could be exercising nothing.
#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn at(ms: u64) -> Instant {
        Instant::from_elapsed(Duration::from_millis(ms))
    }

    #[test]
    fn rng_is_reproducible_and_stays_in_range() {
        let draw = |seed| {
            let mut rng = Rng::new(seed);
            (0..100).map(|_| rng.range(3..=9)).collect::<Vec<_>>()
        };
        assert_eq!(draw(1), draw(1));
        assert_ne!(draw(1), draw(2));
        assert!(draw(1).iter().all(|v| (3..=9).contains(v)));
        // Every value of a small range shows up.
        let seen: std::collections::BTreeSet<_> = draw(3).into_iter().collect();
        assert_eq!(seen.len(), 7);
    }

    #[test]
    fn text_payload_has_the_exact_length_and_wide_characters() {
        let mut rng = Rng::new(5);
        for len in [0, 1, 2, 3, 4, 5, 127, 1000] {
            let text = text_payload(&mut rng, len);
            assert_eq!(text.len(), len);
        }
        let text = text_payload(&mut rng, 1000);
        assert!(text.chars().any(|c| c.len_utf8() == 4));
        assert!(text.chars().any(|c| c.len_utf8() == 2));
    }

    #[test]
    fn frames_encode_in_every_length_form_and_decode_back() {
        let payload = b"hello".to_vec();
        for form in [LenForm::Minimal, LenForm::Medium, LenForm::Long] {
            let wire = FrameSpec::text(&payload)
                .masked([1, 2, 3, 4])
                .len_form(form)
                .encode();
            let header_len = match form {
                LenForm::Minimal => 6,
                LenForm::Medium => 8,
                LenForm::Long => 14,
            };
            assert_eq!(wire.len(), header_len + payload.len());
            let frames = decode_frames(&wire).unwrap();
            assert_eq!(frames.len(), 1);
            assert!(frames[0].masked);
            assert_eq!(frames[0].payload, payload);
        }
        assert!(decode_frames(&[0x81, 0x05, b'h']).is_err());
    }

    #[test]
    fn reassemble_rebuilds_pieces_and_rejects_broken_structure() {
        let pieces = [
            Event::MessageStart(MessageKind::Text),
            Event::MessageData(Bytes::from_static(b"he")),
            Event::MessageData(Bytes::from_static(b"llo")),
            Event::MessageEnd,
            Event::Message(Message::binary(vec![1])),
        ];
        assert_eq!(
            reassemble(&pieces).unwrap(),
            vec![Message::text("hello"), Message::binary(vec![1])]
        );
        assert!(reassemble(&[Event::MessageEnd]).is_err());
        assert!(reassemble(&[Event::MessageData(Bytes::from_static(b"x"))]).is_err());
    }

    #[test]
    fn delays_hold_bytes_back_and_keep_them_in_order() {
        let mut pair = Pair::upgraded(Config::default(), Config::default(), 1);
        pair.to_server.min_delay = 30 * MS;
        pair.to_server.max_delay = 80 * MS;
        for i in 0..20u8 {
            pair.send(Side::Client, Message::binary(vec![i])).unwrap();
            pair.drive();
            pair.advance(MS);
        }
        assert!(pair.received(Side::Server).is_empty(), "nothing is due yet");
        assert_eq!(pair.next_wakeup(), Some(pair.to_server.queue[0].arrival));
        pair.advance(100 * MS);
        assert_eq!(pair.received(Side::Server), pair.sent(Side::Client));
    }

    #[test]
    fn a_read_never_exceeds_max_read() {
        let mut pair = Pair::upgraded(Config::default(), Config::default(), 2);
        pair.to_server.max_read = Some(3);
        pair.send(Side::Client, Message::binary(vec![0; 100]))
            .unwrap();
        pair.step();
        assert!(pair.to_server.delivered() <= 3);
        assert!(pair.to_server.delivered() >= 1);
        pair.drive();
        assert_eq!(pair.received(Side::Server).len(), 1);
    }

    #[test]
    fn max_write_leaves_the_rest_in_the_connection() {
        let mut pair = Pair::upgraded(Config::default().fragment_size(10), Config::default(), 3);
        pair.to_server.max_write = Some(1);
        pair.send(Side::Client, Message::binary(vec![0; 100]))
            .unwrap();
        pair.step();
        // One fragment of 10 bytes plus a 6-byte masked header.
        assert_eq!(pair.to_server.written(), 16);
        pair.drive();
        assert_eq!(pair.received(Side::Server).len(), 1);
    }

    #[test]
    fn a_stalled_reader_reads_when_the_stall_ends() {
        let mut pair = Pair::upgraded(Config::default(), Config::default(), 4);
        pair.stall(Side::Server, 500 * MS);
        pair.send(Side::Client, Message::text("later")).unwrap();
        pair.drive();
        assert!(pair.received(Side::Server).is_empty());
        assert_eq!(pair.next_wakeup(), Some(at(500)));
        pair.advance(499 * MS);
        assert!(pair.received(Side::Server).is_empty());
        pair.advance(MS);
        assert_eq!(pair.received(Side::Server), vec![Message::text("later")]);
        assert_eq!(pair.last_input(Side::Server), Some(at(500)));
    }

    #[test]
    fn a_vanished_side_is_frozen_and_its_bytes_are_lost() {
        let mut pair = Pair::upgraded(Config::default(), Config::default(), 5);
        pair.send(Side::Client, Message::text("lost")).unwrap();
        pair.to_server.min_delay = 10 * MS;
        pair.to_server.max_delay = 10 * MS;
        pair.drive();
        pair.vanish(Side::Server);
        pair.send(Side::Client, Message::text("also lost")).unwrap();
        assert!(pair.settle(Duration::from_secs(1)));
        assert!(pair.received(Side::Server).is_empty());
        assert!(pair.to_server.dropped() > 0);
        assert_eq!(pair.log(Side::Server), &[]);
    }

    #[test]
    fn corruption_flips_exactly_the_chosen_byte() {
        let mut pair = Pair::upgraded(Config::default(), Config::default(), 6);
        // Client frame: 2-byte header, 4-byte key, then the payload; flip
        // the third payload byte's low bit.
        pair.to_server.corrupt = Some((6 + 2, 0x01));
        pair.send(Side::Client, Message::binary(vec![0u8; 8]))
            .unwrap();
        pair.drive();
        let received = pair.received(Side::Server);
        assert_eq!(
            received,
            vec![Message::binary(vec![0, 0, 1, 0, 0, 0, 0, 0])]
        );
    }

    #[test]
    fn a_coarse_clock_serves_deadlines_on_its_ticks() {
        let close_timeout = Duration::from_millis(1_234);
        let config = Config::default().close_timeout(close_timeout);
        let mut pair = Pair::upgraded(config, Config::default(), 7);
        pair.tick = Some(100 * MS);
        // The server never reads, so the close is never answered.
        pair.stall(Side::Server, Duration::from_secs(60));
        pair.close(Side::Client, CloseCode::NORMAL, "").unwrap();
        assert!(pair.run_until(Duration::from_secs(10), |p| p
            .closed(Side::Client)
            .is_some()));
        assert_eq!(pair.closed_at(Side::Client), Some(at(1_300)));
        assert_eq!(pair.max_lateness(Side::Client), 66 * MS);
    }

    #[test]
    fn the_handshake_completes_over_a_hostile_network() {
        let mut pair = Pair::with_request(
            Config::default(),
            Config::default(),
            ClientRequest::new("wscore.test", "/").subprotocol("chat"),
            8,
        );
        for side in Side::BOTH {
            let link = pair.link_to(side);
            link.max_read = Some(2);
            link.max_write = Some(1);
            link.max_delay = 20 * MS;
        }
        pair.handshake_with(Accept::new().subprotocol("chat"));
        assert_eq!(pair.client.subprotocol(), Some("chat"));
        assert_eq!(pair.server.subprotocol(), Some("chat"));
        assert!(pair.client.is_open() && pair.server.is_open());
    }
}

/// The workspace README's examples, compiled as doctests so they stay true
/// (each published crate compiles its own README the same way).
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct WorkspaceReadmeExamples;
