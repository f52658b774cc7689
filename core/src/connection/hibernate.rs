//! The hibernation record of a connection: the protocol state of an open
//! connection with nothing in flight, small enough to keep for every idle
//! connection of a large server, from which the connection is rebuilt when
//! its peer speaks again.
//!
//! What the record holds is exactly what a fresh connection built from the
//! same configuration would not know: the role, the subprotocol and the
//! shape of its envelope, the permessage-deflate agreement, the
//! auto-responses, the keepalive and idle deadlines, a client's masking
//! generator, and the stream ids the envelope must remember. Everything
//! else (buffers, queues, codec windows without context) is given back.
//! What cannot be given back without breaking the stream (a partial frame,
//! a queued write, a deflate window with context) keeps the connection
//! awake: [`HibernateError`] says which.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

use bytes::Bytes;

use super::{Connection, Lifecycle, Role};
use crate::config::Config;
use crate::envelope::stream::StreamId;
use crate::envelope::{Envelope, Framing};
use crate::error::SetupError;
use crate::message::{Message, MessageKind};
use crate::rng::KeyRng;
use crate::timer::Timer;
use crate::utf8::Utf8Bytes;
use crate::Instant;

/// A connection's protocol state with nothing in flight: what it takes to
/// rebuild it with [`Connection::resume`].
///
/// It holds the role, the negotiated subprotocol and the shape of its
/// [`Envelope`], the permessage-deflate agreement, the auto-responses, the
/// keepalive, pong and idle deadlines, the last time the connection was
/// given, a client's masking generator, and the stream ids a streamed
/// envelope remembers. It does not hold the [`Config`]: the connection is
/// resumed with the configuration every connection of the server uses.
/// [`Hibernated::encode`] and [`Hibernated::decode`] store it as bytes.
///
/// ```
/// use wscore::{Config, Connection, Instant, Role};
///
/// let now = Instant::ZERO;
/// let conn = Connection::upgraded(Role::Server, Config::default(), [0; 32], now)?;
/// let record = conn.hibernate().map_err(|(_, e)| e)?;
/// assert_eq!(record.role(), Role::Server);
/// assert!(core::mem::size_of_val(&record) + record.heap_size() < 512);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hibernated {
    role: Role,
    subprotocol: Option<String>,
    envelope: EnvelopeShape,
    #[cfg(feature = "deflate")]
    deflate: Option<crate::extension::deflate::DeflateParams>,
    /// The latest time the connection was given.
    now: Instant,
    keepalive_at: Option<Instant>,
    pong_at: Option<Instant>,
    idle_at: Option<Instant>,
    /// A client's masking generator; a server masks nothing.
    mask: Option<MaskState>,
    next_stream_id: StreamId,
    /// The peer's streams refused and not opened since, oldest first.
    refused_streams: Vec<StreamId>,
    /// Our finished streams a late refusal is still matched to, oldest
    /// first.
    finished_streams: Vec<StreamId>,
    /// `(request, response)`, in the order of the connection's table.
    auto_responses: Vec<(Message, Message)>,
}

/// The envelope without its framing function, which cannot be stored: a
/// resumed connection takes the function from its configuration, and the
/// shape checks that the configuration still describes the same envelope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EnvelopeShape {
    Plain,
    Batched(FramingShape),
    Streamed(FramingShape),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FramingShape {
    Varint,
    SelfDelimiting,
}

impl EnvelopeShape {
    fn of(envelope: Envelope) -> Self {
        let framing = |framing: Framing| match framing {
            Framing::Varint => FramingShape::Varint,
            Framing::SelfDelimiting(_) => FramingShape::SelfDelimiting,
        };
        match envelope {
            Envelope::Plain => EnvelopeShape::Plain,
            Envelope::Batched(f) => EnvelopeShape::Batched(framing(f)),
            Envelope::Streamed(f) => EnvelopeShape::Streamed(framing(f)),
        }
    }
}

/// Where a ChaCha8 generator is in its sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct MaskState {
    seed: [u8; 32],
    stream: u64,
    word_pos: u128,
}

/// Why a connection cannot hibernate now. The connection stays as it was
/// and keeps working; most causes pass once the caller has drained the
/// connection's outputs or the peer has finished what it started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HibernateError {
    /// The opening handshake is not done, or the connection is closing or
    /// closed.
    NotOpen,
    /// Input bytes are held that do not yet make a whole frame, or a
    /// decoded item waits.
    InputBuffered,
    /// Transmits or queued data have not been taken by
    /// [`Connection::poll_transmit`].
    OutputQueued,
    /// A fragmented message is being received, or a batch being assembled
    /// waits for its linger to end.
    MessageInProgress,
    /// Streams are open in either direction.
    StreamsOpen,
    /// Events have not been taken by [`Connection::poll_event`].
    EventsPending,
    /// permessage-deflate with context takeover, and a compressor or
    /// decompressor that has been used keeps earlier messages in its
    /// window: dropping it would break the stream.
    CompressionContext,
}

impl fmt::Display for HibernateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HibernateError::NotOpen => "the connection is not open",
            HibernateError::InputBuffered => "input is buffered",
            HibernateError::OutputQueued => "output is queued",
            HibernateError::MessageInProgress => "a message is in progress",
            HibernateError::StreamsOpen => "streams are open",
            HibernateError::EventsPending => "events are pending",
            HibernateError::CompressionContext => "a compression window holds context",
        })
    }
}

#[cfg(feature = "std")]
impl std::error::Error for HibernateError {}

/// Why bytes are not a hibernation record ([`Hibernated::decode`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordDecodeError {
    /// The bytes end before the record does.
    Truncated,
    /// The record starts with another format's tag or version.
    UnknownFormat,
    /// A field, named here, holds a value no record has.
    InvalidField(&'static str),
    /// Bytes follow the end of the record.
    TrailingBytes,
    /// The record holds a permessage-deflate agreement and this build has
    /// no `deflate` feature.
    DeflateUnsupported,
}

impl fmt::Display for RecordDecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordDecodeError::Truncated => f.write_str("the record is truncated"),
            RecordDecodeError::UnknownFormat => f.write_str("not a hibernation record"),
            RecordDecodeError::InvalidField(name) => write!(f, "invalid record field {name}"),
            RecordDecodeError::TrailingBytes => f.write_str("bytes follow the record"),
            RecordDecodeError::DeflateUnsupported => {
                f.write_str("the record needs the deflate feature")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for RecordDecodeError {}

impl Connection {
    /// Whether [`Connection::hibernate`] would succeed now, and if not why.
    /// Cheap, and changes nothing.
    ///
    /// ```
    /// use wscore::{Config, Connection, HibernateError, Instant, Role};
    ///
    /// let mut conn = Connection::upgraded(Role::Server, Config::default(), [0; 32], Instant::ZERO)?;
    /// assert_eq!(conn.can_hibernate(), Ok(()));
    /// conn.send("hello")?;
    /// assert_eq!(conn.can_hibernate(), Err(HibernateError::OutputQueued));
    /// while conn.poll_transmit().is_some() {}
    /// assert_eq!(conn.can_hibernate(), Ok(()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn can_hibernate(&self) -> Result<(), HibernateError> {
        if !matches!(self.lifecycle, Lifecycle::Open) || self.eof || self.failure.is_some() {
            return Err(HibernateError::NotOpen);
        }
        if !self.events.is_empty()
            || self.envelope.outputs_pending()
            || self.outbound.stream_reports_pending()
        {
            return Err(HibernateError::EventsPending);
        }
        if self.inbound.holds_input() {
            return Err(HibernateError::InputBuffered);
        }
        if self.inbound.message_in_progress() || self.outbound.batch_open() {
            return Err(HibernateError::MessageInProgress);
        }
        if self.outbound.streams_queued() || self.envelope.streams_open() {
            return Err(HibernateError::StreamsOpen);
        }
        if !self.outbound.is_empty() || self.outbound.queued_bytes() > 0 {
            return Err(HibernateError::OutputQueued);
        }
        #[cfg(feature = "deflate")]
        if self.codec.as_ref().is_some_and(|c| c.holds_context()) {
            return Err(HibernateError::CompressionContext);
        }
        Ok(())
    }

    /// Gives the connection up for its [`Hibernated`] record, freeing its
    /// buffers and codec state; [`Connection::resume`] rebuilds it. Only an
    /// open connection with nothing in flight hibernates
    /// ([`Connection::can_hibernate`]); otherwise the connection comes back
    /// unchanged with the reason.
    ///
    /// ```
    /// use wscore::{Config, Connection, Instant, Role};
    ///
    /// let config = Config::default();
    /// let conn = Connection::upgraded(Role::Server, config.clone(), [0; 32], Instant::ZERO)?;
    /// // The socket stays with the caller; the record replaces the connection.
    /// let record = conn.hibernate().map_err(|(_, e)| e)?;
    /// let bytes = record.encode();
    ///
    /// // Bytes arrive: rebuild the connection and feed them to it.
    /// let record = wscore::Hibernated::decode(&bytes)?;
    /// let mut conn = Connection::resume(record, config, Instant::ZERO)?;
    /// assert!(conn.is_open());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    // The connection comes in by value, so handing it back by value costs
    // the same move; boxing it would allocate on the path that is meant to
    // change nothing.
    #[allow(clippy::result_large_err)]
    pub fn hibernate(self) -> Result<Hibernated, (Connection, HibernateError)> {
        if let Err(error) = self.can_hibernate() {
            return Err((self, error));
        }
        let mask = (self.role == Role::Client).then(|| {
            let (seed, stream, word_pos) = self.rng.state();
            MaskState {
                seed,
                stream,
                word_pos,
            }
        });
        let auto_responses = self
            .auto_responses
            .iter()
            .map(|((kind, request), response)| (request_message(*kind, request), response.clone()))
            .collect();
        Ok(Hibernated {
            role: self.role,
            subprotocol: self.subprotocol.map(|mut s| {
                s.shrink_to_fit();
                s
            }),
            envelope: EnvelopeShape::of(self.envelope.kind()),
            #[cfg(feature = "deflate")]
            deflate: self.deflate,
            now: self.now,
            keepalive_at: self.timers.get(Timer::Keepalive),
            pong_at: self.timers.get(Timer::Pong),
            idle_at: self.timers.get(Timer::Idle),
            mask,
            next_stream_id: self.envelope.next_stream_id(),
            refused_streams: self.envelope.refused_streams().collect(),
            finished_streams: self.outbound.finished_streams().collect(),
            auto_responses,
        })
    }

    /// Rebuilds a hibernated connection with `config`, the configuration
    /// the server gives every connection (the record does not hold it), at
    /// `now`. The connection is open, has no events, and carries on where
    /// it stopped: deadlines are those of the record, so a keepalive ping
    /// due while the connection slept goes out at the next
    /// [`Connection::handle_timeout`]. A deadline whose setting
    /// `config` lacks is dropped, and one it adds is armed from `now`.
    ///
    /// Fails with [`SetupError::Config`] for an invalid configuration, and
    /// with [`SetupError::RecordMismatch`] when the record holds a
    /// permessage-deflate agreement `config` does not run, or its
    /// subprotocol names another envelope in `config`.
    ///
    /// ```
    /// use core::time::Duration;
    /// use wscore::{Config, Connection, Instant, Keepalive, Role};
    ///
    /// let config = Config::default().keepalive(Some(Keepalive {
    ///     interval: Duration::from_secs(5),
    ///     timeout: Duration::from_secs(2),
    /// }));
    /// let conn = Connection::upgraded(Role::Server, config.clone(), [0; 32], Instant::ZERO)?;
    /// let record = conn.hibernate().map_err(|(_, e)| e)?;
    /// let later = Instant::ZERO + Duration::from_secs(3);
    /// let conn = Connection::resume(record, config, later)?;
    /// assert_eq!(conn.poll_timeout(), Some(Instant::ZERO + Duration::from_secs(5)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn resume(
        record: Hibernated,
        config: Config,
        now: Instant,
    ) -> Result<Connection, SetupError> {
        let rng = match record.mask {
            Some(m) => KeyRng::from_state(m.seed, m.stream, m.word_pos),
            None => KeyRng::from_seed([0; 32]),
        };
        let mut conn = Connection::new(record.role, config, rng, Lifecycle::Open)?;
        #[cfg(feature = "deflate")]
        if let Some(params) = record.deflate {
            if conn.config.deflate.is_none() {
                return Err(SetupError::RecordMismatch);
            }
            conn.enable_deflate(Some(params));
        }
        let envelope = conn
            .config
            .subprotocols
            .iter()
            .find(|p| Some(p.name.as_str()) == record.subprotocol.as_deref())
            .map_or(Envelope::Plain, |p| p.envelope);
        if EnvelopeShape::of(envelope) != record.envelope {
            return Err(SetupError::RecordMismatch);
        }
        conn.subprotocol = record.subprotocol;
        conn.envelope = super::EnvelopeMachine::new(envelope, &conn.config);
        conn.envelope
            .restore(record.next_stream_id, &record.refused_streams);
        conn.outbound
            .restore_finished_streams(record.finished_streams);
        conn.outbound
            .set_linger(!conn.config.batch.linger.is_zero());
        conn.inbound
            .set_whole_binary(!matches!(envelope, Envelope::Plain));
        conn.now = record.now.max(now);
        if let Some(keepalive) = conn.config.keepalive {
            match (record.keepalive_at, record.pong_at) {
                (None, None) => conn.timers.set(Timer::Keepalive, now + keepalive.interval),
                (keepalive_at, pong_at) => {
                    if let Some(at) = keepalive_at {
                        conn.timers.set(Timer::Keepalive, at);
                    }
                    if let Some(at) = pong_at {
                        conn.timers.set(Timer::Pong, at);
                    }
                }
            }
        }
        if let Some(idle) = conn.config.idle_timeout {
            let at = record.idle_at.unwrap_or(now + idle);
            conn.timers.set(Timer::Idle, at);
        }
        for (request, response) in record.auto_responses {
            conn.auto_responses
                .insert((request.kind(), request.into_payload()), response);
        }
        Ok(conn)
    }
}

impl Hibernated {
    /// Client or server.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The negotiated subprotocol.
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// Heap bytes the record holds, for a memory budget: add
    /// `size_of::<Hibernated>()` for the whole. A plain server connection
    /// without auto-responses holds none. Payloads of auto-responses are
    /// counted in full, even when shared with other connections.
    pub fn heap_size(&self) -> usize {
        let ids = (self.refused_streams.capacity() + self.finished_streams.capacity())
            * core::mem::size_of::<StreamId>();
        let subprotocol = self.subprotocol.as_ref().map_or(0, String::capacity);
        let responses = self.auto_responses.capacity() * core::mem::size_of::<(Message, Message)>()
            + self
                .auto_responses
                .iter()
                .map(|(request, response)| request.len() + response.len())
                .sum::<usize>();
        ids + subprotocol + responses
    }

    /// The record as bytes, for storing it; [`Hibernated::decode`] reads
    /// them back. The format is versioned and compact (a plain server
    /// connection takes a few dozen bytes).
    ///
    /// ```
    /// use wscore::{Config, Connection, Hibernated, Instant, Role};
    ///
    /// let conn = Connection::upgraded(Role::Client, Config::default(), [3; 32], Instant::ZERO)?;
    /// let record = conn.hibernate().map_err(|(_, e)| e)?;
    /// assert_eq!(Hibernated::decode(&record.encode())?, record);
    /// assert!(Hibernated::decode(b"not a record").is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(&MAGIC);
        out.push(match self.role {
            Role::Client => 0,
            Role::Server => 1,
        });
        match &self.subprotocol {
            None => out.push(0),
            Some(name) => {
                out.push(1);
                put_bytes(&mut out, name.as_bytes());
            }
        }
        out.push(match self.envelope {
            EnvelopeShape::Plain => 0,
            EnvelopeShape::Batched(FramingShape::Varint) => 1,
            EnvelopeShape::Batched(FramingShape::SelfDelimiting) => 2,
            EnvelopeShape::Streamed(FramingShape::Varint) => 3,
            EnvelopeShape::Streamed(FramingShape::SelfDelimiting) => 4,
        });
        #[cfg(feature = "deflate")]
        match &self.deflate {
            None => out.push(0),
            Some(params) => {
                out.push(1);
                let flags = u8::from(params.server_no_context_takeover)
                    | u8::from(params.client_no_context_takeover) << 1;
                out.push(flags);
                out.push(params.server_max_window_bits.unwrap_or(0));
                out.push(params.client_max_window_bits.unwrap_or(0));
            }
        }
        #[cfg(not(feature = "deflate"))]
        out.push(0);
        put_instant(&mut out, self.now);
        for deadline in [self.keepalive_at, self.pong_at, self.idle_at] {
            match deadline {
                None => out.push(0),
                Some(at) => {
                    out.push(1);
                    put_instant(&mut out, at);
                }
            }
        }
        match &self.mask {
            None => out.push(0),
            Some(mask) => {
                out.push(1);
                out.extend_from_slice(&mask.seed);
                out.extend_from_slice(&mask.stream.to_le_bytes());
                out.extend_from_slice(&mask.word_pos.to_le_bytes());
            }
        }
        put_varint(&mut out, u64::from(self.next_stream_id));
        for ids in [&self.refused_streams, &self.finished_streams] {
            put_varint(&mut out, ids.len() as u64);
            for &id in ids {
                put_varint(&mut out, u64::from(id));
            }
        }
        put_varint(&mut out, self.auto_responses.len() as u64);
        for (request, response) in &self.auto_responses {
            put_message(&mut out, request);
            put_message(&mut out, response);
        }
        out
    }

    /// Reads a record written by [`Hibernated::encode`]. Any bytes may be
    /// given: what is not a record is a [`RecordDecodeError`].
    pub fn decode(bytes: &[u8]) -> Result<Hibernated, RecordDecodeError> {
        let mut r = Reader(bytes);
        if r.take(MAGIC.len())? != MAGIC {
            return Err(RecordDecodeError::UnknownFormat);
        }
        let role = match r.byte()? {
            0 => Role::Client,
            1 => Role::Server,
            _ => return Err(RecordDecodeError::InvalidField("role")),
        };
        let subprotocol = match r.flag("subprotocol")? {
            false => None,
            true => {
                let bytes = r.bytes()?;
                let name = core::str::from_utf8(bytes)
                    .map_err(|_| RecordDecodeError::InvalidField("subprotocol"))?;
                Some(String::from(name))
            }
        };
        let envelope = match r.byte()? {
            0 => EnvelopeShape::Plain,
            1 => EnvelopeShape::Batched(FramingShape::Varint),
            2 => EnvelopeShape::Batched(FramingShape::SelfDelimiting),
            3 => EnvelopeShape::Streamed(FramingShape::Varint),
            4 => EnvelopeShape::Streamed(FramingShape::SelfDelimiting),
            _ => return Err(RecordDecodeError::InvalidField("envelope")),
        };
        #[cfg(feature = "deflate")]
        let deflate = match r.flag("deflate")? {
            false => None,
            true => Some(r.deflate_params()?),
        };
        #[cfg(not(feature = "deflate"))]
        if r.flag("deflate")? {
            return Err(RecordDecodeError::DeflateUnsupported);
        }
        let now = r.instant()?;
        let mut deadlines = [None; 3];
        for deadline in &mut deadlines {
            if r.flag("deadline")? {
                *deadline = Some(r.instant()?);
            }
        }
        let [keepalive_at, pong_at, idle_at] = deadlines;
        let mask = match r.flag("mask")? {
            false => None,
            true => {
                let seed = r.array::<32>()?;
                let stream = u64::from_le_bytes(r.array::<8>()?);
                let word_pos = u128::from_le_bytes(r.array::<16>()?);
                // The generator counts 64-bit blocks of 16 words: a larger
                // position is not one it can be at.
                if word_pos >> 68 != 0 {
                    return Err(RecordDecodeError::InvalidField("mask"));
                }
                Some(MaskState {
                    seed,
                    stream,
                    word_pos,
                })
            }
        };
        let next_stream_id = r.stream_id()?;
        let refused_streams = r.stream_ids()?;
        let finished_streams = r.stream_ids()?;
        let count = r.count()?;
        let mut auto_responses = Vec::with_capacity(count);
        for _ in 0..count {
            let request = r.message()?;
            let response = r.message()?;
            auto_responses.push((request, response));
        }
        if !r.0.is_empty() {
            return Err(RecordDecodeError::TrailingBytes);
        }
        Ok(Hibernated {
            role,
            subprotocol,
            envelope,
            #[cfg(feature = "deflate")]
            deflate,
            now,
            keepalive_at,
            pong_at,
            idle_at,
            mask,
            next_stream_id,
            refused_streams,
            finished_streams,
            auto_responses,
        })
    }
}

/// The record format's tag and version.
const MAGIC: [u8; 3] = *b"WH\x01";

/// An auto-response's request as it was set: the table keys it by its kind
/// and bytes.
fn request_message(kind: MessageKind, payload: &Bytes) -> Message {
    match kind {
        MessageKind::Binary => Message::Binary(payload.clone()),
        MessageKind::Text => match Utf8Bytes::try_from(payload.clone()) {
            Ok(text) => Message::Text(text),
            // The key of a text request was text when it was set.
            Err(_) => Message::Binary(payload.clone()),
        },
    }
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn put_instant(out: &mut Vec<u8>, at: Instant) {
    let elapsed = at.elapsed_since_epoch();
    put_varint(out, elapsed.as_secs());
    put_varint(out, u64::from(elapsed.subsec_nanos()));
}

fn put_message(out: &mut Vec<u8>, message: &Message) {
    out.push(match message {
        Message::Text(_) => 0,
        Message::Binary(_) => 1,
    });
    put_bytes(out, message.payload());
}

/// The unread rest of an encoded record.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], RecordDecodeError> {
        if self.0.len() < n {
            return Err(RecordDecodeError::Truncated);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8, RecordDecodeError> {
        let (&first, rest) = self.0.split_first().ok_or(RecordDecodeError::Truncated)?;
        self.0 = rest;
        Ok(first)
    }

    fn flag(&mut self, field: &'static str) -> Result<bool, RecordDecodeError> {
        match self.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(RecordDecodeError::InvalidField(field)),
        }
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], RecordDecodeError> {
        let mut array = [0; N];
        array.copy_from_slice(self.take(N)?);
        Ok(array)
    }

    fn varint(&mut self) -> Result<u64, RecordDecodeError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            let bits = u64::from(byte & 0x7f);
            if shift == 63 && bits > 1 {
                return Err(RecordDecodeError::InvalidField("varint"));
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(RecordDecodeError::InvalidField("varint"))
    }

    /// A count of items that take at least a byte each: never more than
    /// the bytes left, so a forged count allocates nothing large.
    fn count(&mut self) -> Result<usize, RecordDecodeError> {
        let count = self.varint()?;
        if count > self.0.len() as u64 {
            return Err(RecordDecodeError::Truncated);
        }
        Ok(count as usize)
    }

    fn bytes(&mut self) -> Result<&'a [u8], RecordDecodeError> {
        let len = self.count()?;
        self.take(len)
    }

    fn instant(&mut self) -> Result<Instant, RecordDecodeError> {
        let secs = self.varint()?;
        let nanos = u32::try_from(self.varint()?)
            .ok()
            .filter(|&n| n < 1_000_000_000)
            .ok_or(RecordDecodeError::InvalidField("instant"))?;
        Ok(Instant::from_elapsed(Duration::new(secs, nanos)))
    }

    fn stream_id(&mut self) -> Result<StreamId, RecordDecodeError> {
        StreamId::try_from(self.varint()?).map_err(|_| RecordDecodeError::InvalidField("stream id"))
    }

    fn stream_ids(&mut self) -> Result<Vec<StreamId>, RecordDecodeError> {
        let count = self.count()?;
        (0..count).map(|_| self.stream_id()).collect()
    }

    fn message(&mut self) -> Result<Message, RecordDecodeError> {
        let kind = self.byte()?;
        let payload = Bytes::copy_from_slice(self.bytes()?);
        match kind {
            0 => Utf8Bytes::try_from(payload)
                .map(Message::Text)
                .map_err(|_| RecordDecodeError::InvalidField("auto-response")),
            1 => Ok(Message::Binary(payload)),
            _ => Err(RecordDecodeError::InvalidField("auto-response")),
        }
    }

    #[cfg(feature = "deflate")]
    fn deflate_params(
        &mut self,
    ) -> Result<crate::extension::deflate::DeflateParams, RecordDecodeError> {
        let flags = self.byte()?;
        if flags & !0b11 != 0 {
            return Err(RecordDecodeError::InvalidField("deflate"));
        }
        let mut window = || match self.byte()? {
            0 => Ok(None),
            bits @ 8..=15 => Ok(Some(bits)),
            _ => Err(RecordDecodeError::InvalidField("deflate")),
        };
        let server_max_window_bits = window()?;
        let client_max_window_bits = window()?;
        Ok(crate::extension::deflate::DeflateParams {
            server_no_context_takeover: flags & 1 != 0,
            client_no_context_takeover: flags & 2 != 0,
            server_max_window_bits,
            client_max_window_bits,
        })
    }
}
