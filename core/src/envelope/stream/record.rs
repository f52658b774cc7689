//! The records of the streamed envelope: their tags, their encoding and
//! decoding, and the prefix of a chunk record kept apart from its data.

use alloc::string::String;
use core::fmt;

use bytes::{BufMut, Bytes, BytesMut};

use super::{AbortCode, StreamId};
use crate::envelope::batch::{put_varint, read_varint};

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
    /// use wscore::wire::Record;
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

/// The longest chunk record prefix: the tag, a 32-bit id and a 64-bit
/// offset as varints.
pub(crate) const MAX_CHUNK_PREFIX: usize = 1 + 5 + 10;

/// The bytes of a chunk record before its data (tag, id, offset), kept
/// apart so the data can go out as the caller's own [`Bytes`].
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ChunkPrefix {
    bytes: [u8; MAX_CHUNK_PREFIX],
    len: u8,
}

impl ChunkPrefix {
    pub(super) fn new(id: StreamId, offset: u64) -> Self {
        let mut prefix = ChunkPrefix::default();
        prefix.put(tag::CHUNK);
        prefix.put_varint(u64::from(id));
        prefix.put_varint(offset);
        prefix
    }

    fn put(&mut self, byte: u8) {
        if let Some(slot) = self.bytes.get_mut(usize::from(self.len)) {
            *slot = byte;
            self.len += 1;
        }
    }

    fn put_varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.put((value as u8) | 0x80);
            value >>= 7;
        }
        self.put(value as u8);
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }

    pub(crate) fn len(&self) -> usize {
        usize::from(self.len)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Debug for ChunkPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use quickcheck::quickcheck;

    fn chunk(id: StreamId, offset: u64, data: &'static [u8]) -> Record {
        Record::Chunk {
            id,
            offset,
            data: Bytes::from_static(data),
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

    quickcheck! {
        fn decode_never_panics(bytes: Vec<u8>) -> bool {
            let payload = Bytes::from(bytes);
            match Record::decode(&payload) {
                Ok(record) => record.encode().len() <= payload.len() + 20,
                Err(_) => true,
            }
        }

    }
}
