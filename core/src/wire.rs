//! The low-level codecs under [`Connection`](crate::Connection), for tools,
//! fuzzing and benchmarks.
//!
//! An application never needs this module: the connection runs every codec
//! here for it. What it holds are the pieces a tool writes bytes with or a
//! fuzz target drives in isolation:
//!
//! - the frame layer (RFC 6455 §5.2): [`FrameHeader`] decodes and encodes a
//!   header, [`OpCode`] and [`Rsv`] are its fields, [`apply_mask`] masks and
//!   unmasks a payload;
//! - batching: [`Batch`] and [`split`] parse a batch payload,
//!   [`BatchWriter`] writes one, and [`put_varint`], [`read_varint`] and
//!   [`varint_len`] are the LEB128 length prefixes they use;
//! - streams: [`Record`] decodes and encodes one record of the streaming
//!   envelope;
//! - permessage-deflate (feature `deflate`): [`client_offer`],
//!   [`negotiate_server`] and [`negotiate_client`] are the handshake
//!   negotiation, [`Deflate`] the per-message codec.
//!
//! A test tool writing a masked client frame by hand, for a server
//! connection to read:
//!
//! ```
//! use wscore::wire::{apply_mask, FrameHeader, OpCode, Rsv};
//! use wscore::{Config, Connection, Event, Instant, Message, Role};
//!
//! let key = [1, 2, 3, 4];
//! let mut payload = *b"hi";
//! apply_mask(&mut payload, key, 0);
//! let header = FrameHeader {
//!     fin: true,
//!     rsv: Rsv::NONE,
//!     opcode: OpCode::Binary,
//!     mask: Some(key),
//!     payload_len: payload.len() as u64,
//! };
//! let mut frame = header.encode().as_slice().to_vec();
//! frame.extend_from_slice(&payload);
//!
//! let now = Instant::ZERO;
//! let mut server = Connection::upgraded(Role::Server, Config::default(), [0; 32], now)?;
//! server.handle_input(now, &frame);
//! assert_eq!(server.poll_event(), Some(Event::Message(Message::binary(&b"hi"[..]))));
//! # Ok::<(), wscore::SetupError>(())
//! ```
//!
//! The errors these codecs return that a connection also reports
//! ([`BatchError`](crate::BatchError), [`RecordError`](crate::RecordError),
//! [`ProtocolError`](crate::ProtocolError),
//! [`NegotiationError`](crate::NegotiationError)) live at the crate root.
//!
//! # Stability
//!
//! This surface follows the wire formats and the engine's internals more
//! closely than the rest of the crate: names, signatures and buffer types
//! here may change in any minor release, while the items at the crate root
//! follow semantic versioning. Pin an exact version when depending on it.

pub use crate::envelope::batch::{
    put_varint, read_varint, split, varint_len, Batch, BatchWriter, VarintError,
};
pub use crate::envelope::stream::Record;
#[cfg(feature = "deflate")]
pub use crate::extension::deflate::{
    client_offer, negotiate_client, negotiate_server, Deflate, InflateError, Inflated,
};
pub use crate::frame::{
    apply_mask, EncodedHeader, FrameHeader, OpCode, Rsv, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN,
};
