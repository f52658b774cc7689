//! The streaming envelope: large payloads as chunked streams that interleave
//! with ordinary messages and with each other.
//!
//! Wire format (see `docs/streaming.md`): on a streamed connection every
//! binary WebSocket message starts with a one-byte record tag. Tag 0 carries
//! a batch of logical messages exactly as the batching envelope does; the
//! other tags open, feed, end, abort and refuse streams. Integers are
//! unsigned LEB128 varints.
//!
//! This module owns the record codec, the inbound reassembly with its
//! bounds and time-to-live, and the outbound stream that cuts a
//! payload into chunk records lazily. The connection schedules them.

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};

use super::batch::{put_varint, read_varint};
use crate::Instant;

/// A stream's number, chosen by its sender; wraps after `u32::MAX`.
pub type StreamId = u32;

/// Record tags, the first byte of every binary message on a streamed
/// connection.
pub(crate) mod tag {
    pub(crate) const BATCH: u8 = 0;
    pub(crate) const OPEN: u8 = 1;
    pub(crate) const CHUNK: u8 = 2;
    pub(crate) const END: u8 = 3;
    pub(crate) const ABORT: u8 = 4;
    pub(crate) const REFUSE: u8 = 5;
}

/// Why a stream was aborted or refused, as carried on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AbortCode(pub u32);

impl AbortCode {
    /// The sending application gave up on the stream.
    pub const CANCELLED: AbortCode = AbortCode(1);
    /// The stream broke the envelope's rules (duplicate or out-of-range
    /// chunk, wrong length, unknown stream).
    pub const INVALID: AbortCode = AbortCode(2);
    /// The stream exceeded a limit of the receiver.
    pub const LIMIT: AbortCode = AbortCode(3);
    /// The stream's chunks stopped arriving.
    pub const EXPIRED: AbortCode = AbortCode(4);
    /// The sender's data source failed.
    pub const SOURCE_FAILED: AbortCode = AbortCode(5);
}

/// Limits and policy of the streaming envelope.
///
/// ```
/// use wscore::envelope::stream::StreamConfig;
///
/// let config = StreamConfig::default().chunk_size(64 << 10).max_streams(4);
/// assert_eq!(config.send_threshold, Some(512 << 10));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamConfig {
    /// Binary messages larger than this are sent as streams; `None` sends
    /// streams only when asked with `send_stream`. Default 512 KiB.
    pub send_threshold: Option<usize>,
    /// Payload bytes per chunk record. Default 256 KiB.
    pub chunk_size: usize,
    /// Chunks a stream may send in a row before other messages, other
    /// streams and control frames get their turn. Default 64.
    pub chunks_per_turn: usize,
    /// Inbound streams open at once. Default 16.
    pub max_streams: usize,
    /// Bytes held for reassembly across all inbound streams. Default 64 MiB.
    pub max_buffered: usize,
    /// The largest inbound stream. Default 1 GiB.
    pub max_stream_size: u64,
    /// The largest metadata of an inbound stream. Default 4 KiB.
    pub max_metadata: usize,
    /// An inbound stream with no chunk for this long is evicted. Default
    /// 60 s.
    pub ttl: Duration,
}

impl Default for StreamConfig {
    fn default() -> Self {
        Self {
            send_threshold: Some(512 << 10),
            chunk_size: 256 << 10,
            chunks_per_turn: 64,
            max_streams: 16,
            max_buffered: 64 << 20,
            max_stream_size: 1 << 30,
            max_metadata: 4 << 10,
            ttl: Duration::from_secs(60),
        }
    }
}

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty;)*) => {$(
        $(#[$doc])*
        #[must_use]
        pub fn $name(mut self, value: $ty) -> Self {
            self.$name = value;
            self
        }
    )*};
}

impl StreamConfig {
    setters! {
        /// Sets [`StreamConfig::send_threshold`].
        send_threshold: Option<usize>;
        /// Sets [`StreamConfig::chunk_size`].
        chunk_size: usize;
        /// Sets [`StreamConfig::chunks_per_turn`].
        chunks_per_turn: usize;
        /// Sets [`StreamConfig::max_streams`].
        max_streams: usize;
        /// Sets [`StreamConfig::max_buffered`].
        max_buffered: usize;
        /// Sets [`StreamConfig::max_stream_size`].
        max_stream_size: u64;
        /// Sets [`StreamConfig::max_metadata`].
        max_metadata: usize;
        /// Sets [`StreamConfig::ttl`].
        ttl: Duration;
    }
}

/// One decoded record of a streamed connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// A batch of logical messages (split with the connection's framing).
    Batch(Bytes),
    /// A stream begins.
    Open {
        /// The stream.
        id: StreamId,
        /// Its length in bytes.
        total_len: u64,
        /// Application metadata, such as a content type.
        metadata: Bytes,
    },
    /// Stream data at an offset.
    Chunk {
        /// The stream.
        id: StreamId,
        /// Where `data` starts in the stream.
        offset: u64,
        /// The bytes.
        data: Bytes,
    },
    /// The stream is complete.
    End {
        /// The stream.
        id: StreamId,
    },
    /// The sender gives up on its stream.
    Abort {
        /// The stream.
        id: StreamId,
        /// Why.
        code: AbortCode,
        /// Why, for people (UTF-8, may be empty).
        reason: String,
    },
    /// The receiver refuses a stream of the peer's: stop sending it.
    Refuse {
        /// The stream.
        id: StreamId,
        /// Why.
        code: AbortCode,
        /// Why, for people (UTF-8, may be empty).
        reason: String,
    },
}

/// A record that does not decode. Fails the connection with 1007: the
/// envelope itself is broken, not one stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordError {
    /// An empty binary message: no tag.
    Empty,
    /// A tag this version does not define.
    UnknownTag(u8),
    /// A varint field runs past the end or overflows; the offset of the
    /// field in the message.
    BadField {
        /// Offset of the field.
        offset: usize,
    },
    /// A reason that is not UTF-8.
    InvalidReason,
    /// Bytes after a record that has no room for them.
    TrailingBytes {
        /// Offset of the first extra byte.
        offset: usize,
    },
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("empty envelope record"),
            Self::UnknownTag(tag) => write!(f, "unknown envelope record tag {tag}"),
            Self::BadField { offset } => write!(f, "bad varint field at byte {offset}"),
            Self::InvalidReason => f.write_str("abort reason is not UTF-8"),
            Self::TrailingBytes { offset } => write!(f, "trailing bytes at byte {offset}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for RecordError {}

/// Reads the fields of a record after its tag.
struct Fields<'a> {
    payload: &'a Bytes,
    offset: usize,
}

impl Fields<'_> {
    fn varint(&mut self) -> Result<u64, RecordError> {
        let bad = RecordError::BadField {
            offset: self.offset,
        };
        let rest = self.payload.get(self.offset..).unwrap_or_default();
        let (value, len) = read_varint(rest).map_err(|_| bad)?;
        self.offset += len;
        Ok(value)
    }

    fn id(&mut self) -> Result<StreamId, RecordError> {
        let offset = self.offset;
        StreamId::try_from(self.varint()?).map_err(|_| RecordError::BadField { offset })
    }

    fn code(&mut self) -> Result<AbortCode, RecordError> {
        let offset = self.offset;
        let code = u32::try_from(self.varint()?).map_err(|_| RecordError::BadField { offset })?;
        Ok(AbortCode(code))
    }

    fn rest(&mut self) -> Bytes {
        let start = self.offset.min(self.payload.len());
        self.offset = self.payload.len();
        self.payload.slice(start..)
    }

    fn text(&mut self) -> Result<String, RecordError> {
        let rest = self.rest();
        core::str::from_utf8(&rest)
            .map(String::from)
            .map_err(|_| RecordError::InvalidReason)
    }

    fn end(&self) -> Result<(), RecordError> {
        if self.offset < self.payload.len() {
            return Err(RecordError::TrailingBytes {
                offset: self.offset,
            });
        }
        Ok(())
    }
}

impl Record {
    /// Decodes one binary message of a streamed connection. Slices of
    /// `payload` are shared, not copied.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use wscore::envelope::stream::Record;
    ///
    /// let chunk = Record::Chunk { id: 7, offset: 300, data: Bytes::from_static(b"abc") };
    /// let wire = chunk.encode();
    /// assert_eq!(&wire[..], b"\x02\x07\xac\x02abc");
    /// assert_eq!(Record::decode(&wire), Ok(chunk));
    /// ```
    pub fn decode(payload: &Bytes) -> Result<Record, RecordError> {
        let &tag = payload.first().ok_or(RecordError::Empty)?;
        let mut fields = Fields { payload, offset: 1 };
        let record = match tag {
            tag::BATCH => Record::Batch(fields.rest()),
            tag::OPEN => Record::Open {
                id: fields.id()?,
                total_len: fields.varint()?,
                metadata: fields.rest(),
            },
            tag::CHUNK => Record::Chunk {
                id: fields.id()?,
                offset: fields.varint()?,
                data: fields.rest(),
            },
            tag::END => {
                let id = fields.id()?;
                fields.end()?;
                Record::End { id }
            }
            tag::ABORT => Record::Abort {
                id: fields.id()?,
                code: fields.code()?,
                reason: fields.text()?,
            },
            tag::REFUSE => Record::Refuse {
                id: fields.id()?,
                code: fields.code()?,
                reason: fields.text()?,
            },
            other => return Err(RecordError::UnknownTag(other)),
        };
        Ok(record)
    }

    /// Encodes the record as one binary message payload.
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::new();
        match self {
            Record::Batch(batch) => {
                out.put_u8(tag::BATCH);
                out.extend_from_slice(batch);
            }
            Record::Open {
                id,
                total_len,
                metadata,
            } => {
                out.put_u8(tag::OPEN);
                put_varint(&mut out, u64::from(*id));
                put_varint(&mut out, *total_len);
                out.extend_from_slice(metadata);
            }
            Record::Chunk { id, offset, data } => {
                out.reserve(data.len() + 16);
                out.put_u8(tag::CHUNK);
                put_varint(&mut out, u64::from(*id));
                put_varint(&mut out, *offset);
                out.extend_from_slice(data);
            }
            Record::End { id } => {
                out.put_u8(tag::END);
                put_varint(&mut out, u64::from(*id));
            }
            Record::Abort { id, code, reason } | Record::Refuse { id, code, reason } => {
                let tag = if matches!(self, Record::Abort { .. }) {
                    tag::ABORT
                } else {
                    tag::REFUSE
                };
                out.put_u8(tag);
                put_varint(&mut out, u64::from(*id));
                put_varint(&mut out, u64::from(code.0));
                out.extend_from_slice(reason.as_bytes());
            }
        }
        out.freeze()
    }
}

/// Which way a stream flows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// The peer sends it.
    Inbound,
    /// We send it.
    Outbound,
}

/// Why one stream failed. The connection stays open.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StreamError {
    /// A chunk for bytes already received.
    DuplicateChunk {
        /// The chunk's offset.
        offset: u64,
        /// The offset expected next.
        expected: u64,
    },
    /// A chunk that skips ahead or runs past the announced length.
    OutOfRange {
        /// The chunk's offset.
        offset: u64,
        /// Its length.
        len: u64,
    },
    /// The stream ended with a length other than the one announced.
    LengthMismatch {
        /// The announced length.
        announced: u64,
        /// The bytes received.
        received: u64,
    },
    /// A record for a stream that is not open.
    UnknownStream,
    /// A stream opened while one with the same id is open.
    AlreadyOpen,
    /// More inbound streams than [`StreamConfig::max_streams`].
    TooManyStreams,
    /// Reassembly would hold more than [`StreamConfig::max_buffered`].
    BufferLimit,
    /// The announced length exceeds [`StreamConfig::max_stream_size`], or
    /// the metadata [`StreamConfig::max_metadata`].
    TooLarge,
    /// No chunk arrived within [`StreamConfig::ttl`].
    Expired,
    /// The peer aborted or refused the stream.
    Aborted {
        /// The peer's code.
        code: AbortCode,
        /// The peer's reason.
        reason: String,
    },
    /// The application aborted the stream.
    Cancelled,
    /// The data source ended before the announced length.
    SourceFailed,
    /// The connection ended before the stream completed.
    ConnectionClosed,
}

impl StreamError {
    /// The code told to the peer for this error.
    pub fn abort_code(&self) -> AbortCode {
        match self {
            StreamError::TooManyStreams | StreamError::BufferLimit | StreamError::TooLarge => {
                AbortCode::LIMIT
            }
            StreamError::Expired => AbortCode::EXPIRED,
            StreamError::Cancelled => AbortCode::CANCELLED,
            StreamError::SourceFailed => AbortCode::SOURCE_FAILED,
            StreamError::Aborted { code, .. } => *code,
            _ => AbortCode::INVALID,
        }
    }
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DuplicateChunk { offset, expected } => {
                write!(f, "duplicate chunk at {offset} (expected {expected})")
            }
            Self::OutOfRange { offset, len } => {
                write!(f, "chunk of {len} at {offset} out of range")
            }
            Self::LengthMismatch {
                announced,
                received,
            } => write!(f, "stream of {announced} bytes ended after {received}"),
            Self::UnknownStream => f.write_str("unknown stream"),
            Self::AlreadyOpen => f.write_str("stream already open"),
            Self::TooManyStreams => f.write_str("too many streams"),
            Self::BufferLimit => f.write_str("reassembly buffer limit"),
            Self::TooLarge => f.write_str("stream too large"),
            Self::Expired => f.write_str("stream expired"),
            Self::Aborted { code, reason } => write!(f, "aborted by peer ({}): {reason}", code.0),
            Self::Cancelled => f.write_str("cancelled"),
            Self::SourceFailed => f.write_str("data source ended early"),
            Self::ConnectionClosed => f.write_str("the connection ended first"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for StreamError {}

/// What the application learns about streams.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StreamEvent {
    /// Incremental mode: an inbound stream begins.
    Started {
        /// The stream.
        id: StreamId,
        /// Its announced length.
        total_len: u64,
        /// The sender's metadata.
        metadata: Bytes,
    },
    /// Incremental mode: the next bytes of an inbound stream, in order.
    Data {
        /// The stream.
        id: StreamId,
        /// The bytes.
        data: Bytes,
    },
    /// Incremental mode: an inbound stream is complete.
    Finished {
        /// The stream.
        id: StreamId,
    },
    /// A stream failed; the connection stays open. For an inbound stream
    /// the peer has been told.
    Failed {
        /// The stream.
        id: StreamId,
        /// Whose stream it was.
        direction: Direction,
        /// Why.
        error: StreamError,
    },
}

/// A pull source of stream data for payloads not held in memory.
pub trait ChunkSource: Send {
    /// The total length the stream announces.
    fn total_len(&self) -> u64;
    /// The next bytes, at most `max`; `None` when the source has nothing
    /// more. Ending before [`ChunkSource::total_len`] aborts the stream.
    fn next_chunk(&mut self, max: usize) -> Option<Bytes>;
}

/// What a stream sends: bytes in memory (sliced, never copied whole) or a
/// pull source.
pub enum StreamSource {
    /// A payload in memory.
    Bytes(Bytes),
    /// A payload produced on demand.
    Pull(Box<dyn ChunkSource>),
}

impl fmt::Debug for StreamSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamSource::Bytes(b) => f.debug_tuple("Bytes").field(&b.len()).finish(),
            StreamSource::Pull(s) => f.debug_tuple("Pull").field(&s.total_len()).finish(),
        }
    }
}

impl From<Bytes> for StreamSource {
    fn from(bytes: Bytes) -> Self {
        StreamSource::Bytes(bytes)
    }
}

impl StreamSource {
    fn total_len(&self) -> u64 {
        match self {
            StreamSource::Bytes(b) => b.len() as u64,
            StreamSource::Pull(s) => s.total_len(),
        }
    }
}

/// Where an outbound stream's data comes from.
enum Feed {
    /// A payload in memory, sliced as it is written.
    Bytes(Bytes),
    /// A pull source, asked for each chunk as it is written.
    Pull(Box<dyn ChunkSource>),
    /// Bytes the application pushes as it has them, each sliced into
    /// chunks as it is written.
    Push {
        queue: VecDeque<Bytes>,
        /// Bytes accepted so far, written or not.
        pushed: u64,
        /// Bytes in `queue`.
        waiting: usize,
    },
}

impl fmt::Debug for Feed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Feed::Bytes(b) => f.debug_tuple("Bytes").field(&b.len()).finish(),
            Feed::Pull(s) => f.debug_tuple("Pull").field(&s.total_len()).finish(),
            Feed::Push {
                pushed, waiting, ..
            } => f
                .debug_struct("Push")
                .field("pushed", pushed)
                .field("waiting", waiting)
                .finish(),
        }
    }
}

/// Why bytes could not be pushed to an outbound stream.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PushError {
    /// The stream takes its data from a payload or a pull source.
    NotPushed,
    /// The bytes would run past the announced length; the total they
    /// would make.
    PastEnd {
        /// What the stream announced.
        announced: u64,
        /// What the push would have made.
        would_be: u64,
    },
}

/// An outbound stream, cut into records as they are needed.
#[derive(Debug)]
pub(crate) struct OutStream {
    pub(crate) id: StreamId,
    feed: Feed,
    metadata: Option<Bytes>,
    total_len: u64,
    sent: u64,
}

/// The next record of an outbound stream.
pub(crate) enum OutRecord {
    /// An open or chunk record; the stream continues.
    Next(Bytes),
    /// The end record; the stream is done.
    Last(Bytes),
    /// The source failed: abort the stream.
    Failed,
    /// A pushed stream has nothing to send until more is pushed.
    Waiting,
}

impl OutStream {
    pub(crate) fn new(id: StreamId, source: StreamSource, metadata: Bytes) -> Self {
        let total_len = source.total_len();
        let feed = match source {
            StreamSource::Bytes(bytes) => Feed::Bytes(bytes),
            StreamSource::Pull(source) => Feed::Pull(source),
        };
        Self {
            id,
            feed,
            metadata: Some(metadata),
            total_len,
            sent: 0,
        }
    }

    /// A stream of `total_len` bytes the application pushes later.
    pub(crate) fn pushed(id: StreamId, total_len: u64, metadata: Bytes) -> Self {
        Self {
            id,
            feed: Feed::Push {
                queue: VecDeque::new(),
                pushed: 0,
                waiting: 0,
            },
            metadata: Some(metadata),
            total_len,
            sent: 0,
        }
    }

    /// Whether the open record has gone out (the peer knows the stream).
    pub(crate) fn announced(&self) -> bool {
        self.metadata.is_none()
    }

    /// Queues the next pushed bytes. Empty bytes are accepted and change
    /// nothing.
    pub(crate) fn push(&mut self, data: Bytes) -> Result<(), PushError> {
        let Feed::Push {
            queue,
            pushed,
            waiting,
        } = &mut self.feed
        else {
            return Err(PushError::NotPushed);
        };
        let would_be = pushed.saturating_add(data.len() as u64);
        if would_be > self.total_len {
            return Err(PushError::PastEnd {
                announced: self.total_len,
                would_be,
            });
        }
        if !data.is_empty() {
            *pushed = would_be;
            *waiting += data.len();
            queue.push_back(data);
        }
        Ok(())
    }

    /// Pushed bytes not yet cut into a record.
    pub(crate) fn waiting(&self) -> usize {
        match &self.feed {
            Feed::Push { waiting, .. } => *waiting,
            _ => 0,
        }
    }

    /// Whether the stream takes pushed bytes.
    pub(crate) fn is_pushed(&self) -> bool {
        matches!(self.feed, Feed::Push { .. })
    }

    pub(crate) fn next_record(&mut self, chunk_size: usize) -> OutRecord {
        if self.metadata.is_some() && self.total_len > 0 && self.waiting() == 0 && self.is_pushed()
        {
            // A pushed stream is announced with its first bytes, so the
            // receiver's time-to-live does not run while the application
            // has nothing yet.
            return OutRecord::Waiting;
        }
        if let Some(metadata) = self.metadata.take() {
            let open = Record::Open {
                id: self.id,
                total_len: self.total_len,
                metadata,
            };
            return OutRecord::Next(open.encode());
        }
        if self.sent >= self.total_len {
            return OutRecord::Last(Record::End { id: self.id }.encode());
        }
        let left = usize::try_from(self.total_len - self.sent).unwrap_or(usize::MAX);
        let max = chunk_size.min(left);
        let data = match &mut self.feed {
            Feed::Bytes(bytes) => {
                let start = usize::try_from(self.sent).unwrap_or(usize::MAX);
                bytes
                    .get(start..start.saturating_add(max))
                    .map(|_| bytes.slice(start..start + max))
            }
            Feed::Pull(source) => source.next_chunk(max).map(|mut b| {
                b.truncate(max);
                b
            }),
            Feed::Push { queue, waiting, .. } => {
                let Some(front) = queue.front_mut() else {
                    return OutRecord::Waiting;
                };
                let data = front.split_to(max.min(front.len()));
                if front.is_empty() {
                    queue.pop_front();
                }
                *waiting = waiting.saturating_sub(data.len());
                Some(data)
            }
        };
        let Some(data) = data.filter(|d| !d.is_empty()) else {
            return OutRecord::Failed;
        };
        let chunk = Record::Chunk {
            id: self.id,
            offset: self.sent,
            data,
        };
        if let Record::Chunk { data, .. } = &chunk {
            self.sent += data.len() as u64;
        }
        OutRecord::Next(chunk.encode())
    }
}

/// One inbound stream.
#[derive(Debug)]
struct InStream {
    total_len: u64,
    received: u64,
    last_seen: Instant,
    /// Reassembled mode: the bytes so far.
    buf: Option<Vec<u8>>,
}

/// What a record did to the inbound streams.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// For the application, in order.
    pub(crate) events: Vec<Delivery>,
    /// Streams to refuse: the peer is told to stop sending them.
    pub(crate) refuse: Vec<(StreamId, StreamError)>,
    /// Our outbound stream the peer refused.
    pub(crate) refused: Option<(StreamId, StreamError)>,
}

/// An item for the application.
#[derive(Debug)]
pub(crate) enum Delivery {
    /// A reassembled stream, delivered as one binary message.
    Message(Bytes),
    /// Anything else.
    Event(StreamEvent),
}

/// The inbound streams of one connection, with their bounds.
#[derive(Debug, Default)]
pub(crate) struct Reassembly {
    streams: BTreeMap<StreamId, InStream>,
    buffered: usize,
}

impl Reassembly {
    /// Applies one stream record (not a batch) received at `now`.
    pub(crate) fn apply(
        &mut self,
        record: Record,
        now: Instant,
        incremental: bool,
        config: &StreamConfig,
    ) -> Outcome {
        let mut out = Outcome::default();
        match record {
            Record::Batch(_) => {}
            Record::Open {
                id,
                total_len,
                metadata,
            } => {
                if self.streams.contains_key(&id) {
                    self.fail(id, StreamError::AlreadyOpen, &mut out);
                    return out;
                }
                let error = if self.streams.len() >= config.max_streams {
                    Some(StreamError::TooManyStreams)
                } else if total_len > config.max_stream_size || metadata.len() > config.max_metadata
                {
                    Some(StreamError::TooLarge)
                } else if !incremental
                    && total_len > config.max_buffered.saturating_sub(self.buffered) as u64
                {
                    Some(StreamError::BufferLimit)
                } else {
                    None
                };
                if let Some(error) = error {
                    self.refuse_unknown(id, error, &mut out);
                    return out;
                }
                let buf = (!incremental).then(|| {
                    // Announced lengths are trusted only within the budget.
                    Vec::with_capacity(usize::try_from(total_len).unwrap_or(0).min(1 << 20))
                });
                if !incremental {
                    self.buffered += usize::try_from(total_len).unwrap_or(usize::MAX);
                }
                self.streams.insert(
                    id,
                    InStream {
                        total_len,
                        received: 0,
                        last_seen: now,
                        buf,
                    },
                );
                if incremental {
                    out.events.push(Delivery::Event(StreamEvent::Started {
                        id,
                        total_len,
                        metadata,
                    }));
                }
            }
            Record::Chunk { id, offset, data } => {
                let Some(stream) = self.streams.get_mut(&id) else {
                    self.refuse_unknown(id, StreamError::UnknownStream, &mut out);
                    return out;
                };
                let len = data.len() as u64;
                let error = if offset < stream.received {
                    Some(StreamError::DuplicateChunk {
                        offset,
                        expected: stream.received,
                    })
                } else if offset > stream.received || offset.saturating_add(len) > stream.total_len
                {
                    Some(StreamError::OutOfRange { offset, len })
                } else {
                    None
                };
                if let Some(error) = error {
                    self.fail(id, error, &mut out);
                    return out;
                }
                stream.received += len;
                stream.last_seen = now;
                match stream.buf.as_mut() {
                    Some(buf) => buf.extend_from_slice(&data),
                    None if !data.is_empty() => {
                        out.events
                            .push(Delivery::Event(StreamEvent::Data { id, data }));
                    }
                    None => {}
                }
            }
            Record::End { id } => {
                let Some(stream) = self.streams.get(&id) else {
                    self.refuse_unknown(id, StreamError::UnknownStream, &mut out);
                    return out;
                };
                if stream.received != stream.total_len {
                    let error = StreamError::LengthMismatch {
                        announced: stream.total_len,
                        received: stream.received,
                    };
                    self.fail(id, error, &mut out);
                    return out;
                }
                if let Some(stream) = self.remove(id) {
                    out.events.push(match stream.buf {
                        Some(buf) => Delivery::Message(Bytes::from(buf)),
                        None => Delivery::Event(StreamEvent::Finished { id }),
                    });
                }
            }
            Record::Abort { id, code, reason } => {
                if self.remove(id).is_some() {
                    out.events.push(Delivery::Event(StreamEvent::Failed {
                        id,
                        direction: Direction::Inbound,
                        error: StreamError::Aborted { code, reason },
                    }));
                }
            }
            Record::Refuse { id, code, reason } => {
                out.refused = Some((id, StreamError::Aborted { code, reason }));
            }
        }
        out
    }

    fn remove(&mut self, id: StreamId) -> Option<InStream> {
        let stream = self.streams.remove(&id)?;
        if stream.buf.is_some() {
            let held = usize::try_from(stream.total_len).unwrap_or(usize::MAX);
            self.buffered = self.buffered.saturating_sub(held);
        }
        Some(stream)
    }

    /// Drops an open stream, tells the application and the peer.
    fn fail(&mut self, id: StreamId, error: StreamError, out: &mut Outcome) {
        self.remove(id);
        self.refuse_unknown(id, error, out);
    }

    /// Tells the application and the peer about a stream we do not hold.
    fn refuse_unknown(&mut self, id: StreamId, error: StreamError, out: &mut Outcome) {
        out.refuse.push((id, error.clone()));
        out.events.push(Delivery::Event(StreamEvent::Failed {
            id,
            direction: Direction::Inbound,
            error,
        }));
    }

    /// The earliest time a stream expires.
    pub(crate) fn next_expiry(&self, ttl: Duration) -> Option<Instant> {
        self.streams.values().map(|s| s.last_seen + ttl).min()
    }

    /// Evicts every stream idle for `ttl` at `now`.
    pub(crate) fn evict(&mut self, now: Instant, ttl: Duration) -> Outcome {
        let mut out = Outcome::default();
        let expired: Vec<StreamId> = self
            .streams
            .iter()
            .filter(|(_, s)| s.last_seen + ttl <= now)
            .map(|(&id, _)| id)
            .collect();
        for id in expired {
            self.fail(id, StreamError::Expired, &mut out);
        }
        out
    }

    /// Bytes held for reassembly (the budget reserved by open streams).
    #[cfg(test)]
    pub(crate) fn buffered(&self) -> usize {
        self.buffered
    }

    /// Drops every stream, returning their ids.
    pub(crate) fn clear(&mut self) -> Vec<StreamId> {
        self.buffered = 0;
        core::mem::take(&mut self.streams).into_keys().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use quickcheck::quickcheck;

    fn at(secs: u64) -> Instant {
        Instant::from_elapsed(Duration::from_secs(secs))
    }

    fn chunk(id: StreamId, offset: u64, data: &'static [u8]) -> Record {
        Record::Chunk {
            id,
            offset,
            data: Bytes::from_static(data),
        }
    }

    fn open(id: StreamId, total_len: u64) -> Record {
        Record::Open {
            id,
            total_len,
            metadata: Bytes::new(),
        }
    }

    #[test]
    fn records_round_trip_and_malformed_ones_fail() {
        let records = [
            Record::Batch(Bytes::from_static(b"\x01a")),
            Record::Open {
                id: u32::MAX,
                total_len: 1 << 40,
                metadata: Bytes::from_static(b"video/mp4"),
            },
            chunk(3, 0, b""),
            Record::End { id: 0 },
            Record::Abort {
                id: 9,
                code: AbortCode::CANCELLED,
                reason: "stop".into(),
            },
            Record::Refuse {
                id: 9,
                code: AbortCode(77),
                reason: String::new(),
            },
        ];
        for record in records {
            assert_eq!(Record::decode(&record.encode()), Ok(record));
        }
        let bad: [(&[u8], RecordError); 6] = [
            (b"", RecordError::Empty),
            (b"\x09", RecordError::UnknownTag(9)),
            (b"\x02\x80", RecordError::BadField { offset: 1 }),
            (
                b"\x01\x80\x80\x80\x80\x10\x00",
                RecordError::BadField { offset: 1 },
            ),
            (b"\x03\x01x", RecordError::TrailingBytes { offset: 2 }),
            (b"\x04\x01\x01\xff", RecordError::InvalidReason),
        ];
        for (wire, error) in bad {
            assert_eq!(
                Record::decode(&Bytes::from_static(wire)),
                Err(error),
                "{wire:?}"
            );
        }
    }

    #[test]
    fn reassembles_in_order_and_counts_the_budget() {
        let config = StreamConfig::default();
        let mut r = Reassembly::default();
        assert!(r.apply(open(1, 6), at(0), false, &config).events.is_empty());
        assert_eq!(r.buffered(), 6);
        r.apply(chunk(1, 0, b"abc"), at(1), false, &config);
        r.apply(chunk(1, 3, b"def"), at(2), false, &config);
        let out = r.apply(Record::End { id: 1 }, at(2), false, &config);
        assert!(matches!(&out.events[..], [Delivery::Message(m)] if &m[..] == b"abcdef"));
        assert_eq!(r.buffered(), 0);
    }

    #[test]
    fn per_stream_errors_refuse_the_stream_only() {
        let config = StreamConfig::default();
        let mut r = Reassembly::default();
        r.apply(open(1, 6), at(0), false, &config);
        r.apply(open(2, 6), at(0), false, &config);
        r.apply(chunk(1, 0, b"abc"), at(0), false, &config);
        let cases = [
            (
                chunk(1, 0, b"abc"),
                StreamError::DuplicateChunk {
                    offset: 0,
                    expected: 3,
                },
            ),
            (
                chunk(2, 1, b"x"),
                StreamError::OutOfRange { offset: 1, len: 1 },
            ),
            (chunk(5, 0, b"x"), StreamError::UnknownStream),
        ];
        for (record, error) in cases {
            let out = r.apply(record, at(0), false, &config);
            assert_eq!(out.refuse.len(), 1);
            assert_eq!(out.refuse[0].1, error);
        }
        assert_eq!(r.buffered(), 0, "failed streams release their budget");
        // Past the end, and an early end.
        r.apply(open(3, 2), at(0), false, &config);
        let out = r.apply(chunk(3, 0, b"abc"), at(0), false, &config);
        assert_eq!(
            out.refuse[0].1,
            StreamError::OutOfRange { offset: 0, len: 3 }
        );
        r.apply(open(4, 2), at(0), false, &config);
        let out = r.apply(Record::End { id: 4 }, at(0), false, &config);
        assert_eq!(
            out.refuse[0].1,
            StreamError::LengthMismatch {
                announced: 2,
                received: 0
            }
        );
    }

    #[test]
    fn limits_refuse_new_streams() {
        let config = StreamConfig::default()
            .max_streams(1)
            .max_buffered(10)
            .max_stream_size(100);
        let mut r = Reassembly::default();
        let refused = |out: Outcome| out.refuse.into_iter().map(|(_, e)| e).collect::<Vec<_>>();
        assert_eq!(
            refused(r.apply(open(1, 11), at(0), false, &config)),
            [StreamError::BufferLimit]
        );
        // Incremental mode holds nothing, so only the size limit applies.
        assert!(refused(r.apply(open(1, 50), at(0), true, &config)).is_empty());
        assert_eq!(
            refused(r.apply(open(2, 1), at(0), true, &config)),
            [StreamError::TooManyStreams]
        );
        assert_eq!(
            refused(r.apply(open(1, 1), at(0), true, &config)),
            [StreamError::AlreadyOpen]
        );
        assert_eq!(
            refused(r.apply(open(3, 101), at(0), true, &config)),
            [StreamError::TooLarge]
        );
    }

    #[test]
    fn idle_streams_expire_from_their_last_chunk() {
        let config = StreamConfig::default().ttl(Duration::from_secs(60));
        let mut r = Reassembly::default();
        r.apply(open(1, 10), at(0), true, &config);
        r.apply(open(2, 10), at(10), true, &config);
        r.apply(chunk(1, 0, b"a"), at(30), true, &config);
        assert_eq!(r.next_expiry(config.ttl), Some(at(70)));
        let out = r.evict(at(70), config.ttl);
        assert_eq!(out.refuse, vec![(2, StreamError::Expired)]);
        assert_eq!(r.next_expiry(config.ttl), Some(at(90)));
    }

    #[test]
    fn out_streams_slice_lazily() {
        let payload = Bytes::from(vec![7u8; 1000]);
        let mut s = OutStream::new(4, StreamSource::Bytes(payload.clone()), Bytes::new());
        let mut records = Vec::new();
        loop {
            match s.next_record(300) {
                OutRecord::Next(r) => records.push(Record::decode(&r).unwrap()),
                OutRecord::Last(r) => {
                    records.push(Record::decode(&r).unwrap());
                    break;
                }
                OutRecord::Failed | OutRecord::Waiting => panic!("bytes never fail or wait"),
            }
        }
        assert_eq!(records.len(), 1 + 4 + 1);
        let offsets: Vec<u64> = records
            .iter()
            .filter_map(|r| match r {
                Record::Chunk { offset, .. } => Some(*offset),
                _ => None,
            })
            .collect();
        assert_eq!(offsets, [0, 300, 600, 900]);
    }

    struct Short(u64);

    impl ChunkSource for Short {
        fn total_len(&self) -> u64 {
            self.0 * 2
        }
        fn next_chunk(&mut self, max: usize) -> Option<Bytes> {
            if self.0 == 0 {
                return None;
            }
            let n = (self.0 as usize).min(max);
            self.0 -= n as u64;
            Some(Bytes::from(vec![1; n]))
        }
    }

    #[test]
    fn a_short_source_fails_the_stream() {
        let mut s = OutStream::new(1, StreamSource::Pull(Box::new(Short(10))), Bytes::new());
        assert!(matches!(s.next_record(4), OutRecord::Next(_)));
        for _ in 0..3 {
            assert!(matches!(s.next_record(4), OutRecord::Next(_)));
        }
        assert!(matches!(s.next_record(4), OutRecord::Failed));
    }

    quickcheck! {
        fn decode_never_panics(bytes: Vec<u8>) -> bool {
            let payload = Bytes::from(bytes);
            match Record::decode(&payload) {
                Ok(record) => record.encode().len() <= payload.len() + 20,
                Err(_) => true,
            }
        }

        fn reassembly_never_panics_and_stays_in_budget(ops: Vec<(u8, u8, u16, u16)>) -> bool {
            let config = StreamConfig::default().max_buffered(4096).max_streams(3);
            let mut r = Reassembly::default();
            for (i, (kind, id, a, b)) in ops.into_iter().enumerate() {
                let id = StreamId::from(id % 4);
                let record = match kind % 5 {
                    0 => open(id, u64::from(a)),
                    1 => Record::Chunk { id, offset: u64::from(a), data: Bytes::from(vec![0; usize::from(b % 600)]) },
                    2 => Record::End { id },
                    3 => Record::Abort { id, code: AbortCode(1), reason: String::new() },
                    _ => {
                        r.evict(at(i as u64), Duration::from_secs(u64::from(b % 5)));
                        continue;
                    }
                };
                r.apply(record, at(i as u64), kind % 2 == 0, &config);
                if r.buffered() > config.max_buffered {
                    return false;
                }
            }
            true
        }
    }
}
