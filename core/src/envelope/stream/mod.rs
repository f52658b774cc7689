//! The streaming envelope: large payloads as chunked streams that interleave
//! with ordinary messages and with each other.
//!
//! Wire format (see `docs/streaming.md`): on a streamed connection every
//! binary WebSocket message starts with a one-byte record tag. Tag 0 carries
//! a batch of logical messages exactly as the batching envelope does; the
//! other tags open, feed, end, abort and refuse streams. Integers are
//! unsigned LEB128 varints.
//!
//! This module owns the stream's vocabulary (ids, limits, errors, events);
//! `record` the record codec, `reassembly` the inbound streams with
//! their bounds and time-to-live, and `outbound` the outbound stream that
//! cuts a payload into chunk records lazily. The connection schedules them.

use alloc::string::String;
use core::fmt;
use core::time::Duration;

use bytes::Bytes;

mod outbound;
mod reassembly;
mod record;

pub use outbound::{ChunkSource, StreamSource};
pub(crate) use outbound::{OutBytes, OutRecord, OutStream, PushError};
pub(crate) use reassembly::{Outcome, Outcomes, Reassembly};
pub(crate) use record::{tag, ChunkPrefix, MAX_CHUNK_PREFIX};
pub use record::{Record, RecordError};

/// A stream's number, chosen by its sender; wraps after `u32::MAX`.
pub type StreamId = u32;

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
/// use wscore::StreamConfig;
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
    /// Data bytes per chunk record, at most; fewer when the whole record
    /// must fit one frame of [`Config::fragment_size`](crate::Config).
    /// Default 256 KiB.
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
    /// The largest outbound stream: a longer one is refused when it is
    /// sent, before anything is written. Default 1 GiB, the receiving
    /// default.
    pub max_send_size: u64,
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
            max_send_size: 1 << 30,
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
        /// Sets [`StreamConfig::max_send_size`].
        max_send_size: u64;
        /// Sets [`StreamConfig::max_metadata`].
        max_metadata: usize;
        /// Sets [`StreamConfig::ttl`].
        ttl: Duration;
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
