//! The batching envelope: many logical messages in one WebSocket message.
//!
//! Wire format (see `docs/batching.md`): a batch is one binary WebSocket
//! message whose payload is a sequence of logical messages. With
//! [`Framing::Varint`] each is prefixed by its length as an unsigned LEB128
//! varint (one byte below 128); with [`Framing::SelfDelimiting`] the
//! application's own format says where each message ends, and the envelope
//! adds no bytes at all.
//!
//! A batch is validated whole before any of its messages is delivered, so a
//! malformed batch is never half-delivered.

use alloc::vec::Vec;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use core::fmt;
use core::time::Duration;

/// Limits and outbound policy of the batching envelope.
///
/// ```
/// use core::time::Duration;
/// use wscore::BatchConfig;
///
/// // Hold a partial batch up to 2 ms to collect more messages.
/// let config = BatchConfig::default().linger(Duration::from_millis(2));
/// assert_eq!(config.cap, 256 * 1024);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchConfig {
    /// Outbound: a batch is closed before the message that would take it
    /// past this many bytes; a single larger message travels alone.
    /// Default 256 KiB.
    pub cap: usize,
    /// The most logical messages in one batch, sent or received.
    /// Default 16 384.
    pub max_messages: usize,
    /// Inbound: the largest batch accepted, in bytes (the message size limit
    /// applies as well). Default 64 MiB.
    pub max_bytes: usize,
    /// Outbound: how long a partial batch may wait for more messages before
    /// it is written. Zero (the default) writes it at the next transmit.
    pub linger: Duration,
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self {
            cap: 256 << 10,
            max_messages: 16 << 10,
            max_bytes: 64 << 20,
            linger: Duration::ZERO,
        }
    }
}

impl BatchConfig {
    /// Sets [`BatchConfig::cap`].
    #[must_use]
    pub fn cap(mut self, value: usize) -> Self {
        self.cap = value;
        self
    }

    /// Sets [`BatchConfig::max_messages`].
    #[must_use]
    pub fn max_messages(mut self, value: usize) -> Self {
        self.max_messages = value;
        self
    }

    /// Sets [`BatchConfig::max_bytes`].
    #[must_use]
    pub fn max_bytes(mut self, value: usize) -> Self {
        self.max_bytes = value;
        self
    }

    /// Sets [`BatchConfig::linger`].
    #[must_use]
    pub fn linger(mut self, value: Duration) -> Self {
        self.linger = value;
        self
    }
}

/// How logical messages are delimited inside a batch.
#[derive(Clone, Copy, Default)]
pub enum Framing {
    /// Each message is prefixed with its length as an unsigned LEB128 varint.
    #[default]
    Varint,
    /// The messages delimit themselves: the function returns the length of
    /// the message at the start of the slice, or `None` if the bytes do not
    /// start with a complete message. Zero overhead on the wire.
    SelfDelimiting(fn(&[u8]) -> Option<usize>),
}

impl fmt::Debug for Framing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Framing::Varint => f.write_str("Varint"),
            Framing::SelfDelimiting(_) => f.write_str("SelfDelimiting(..)"),
        }
    }
}

impl PartialEq for Framing {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Framing::Varint, Framing::Varint) => true,
            // The same function is the same framing; two copies of one
            // function may compare unequal, which only costs a comparison.
            (Framing::SelfDelimiting(a), Framing::SelfDelimiting(b)) => *a as usize == *b as usize,
            _ => false,
        }
    }
}

impl Eq for Framing {}

/// Why a batch was rejected. Every variant names the byte offset in the
/// batch payload where decoding stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchError {
    /// A length prefix runs past the end of the batch.
    TruncatedLength {
        /// Offset of the length prefix.
        offset: usize,
    },
    /// A length prefix does not fit in 64 bits (or in memory).
    LengthOverflow {
        /// Offset of the length prefix.
        offset: usize,
    },
    /// A message runs past the end of the batch.
    TruncatedMessage {
        /// Offset of the message's first byte.
        offset: usize,
    },
    /// The self-delimiting framing did not find a whole message.
    Unsplittable {
        /// Offset where the framing failed.
        offset: usize,
    },
    /// More logical messages than the configured maximum.
    TooManyMessages {
        /// Offset of the first message over the limit.
        offset: usize,
    },
    /// The batch is larger than the configured maximum.
    TooLarge {
        /// The configured maximum, the offset past which bytes were refused.
        offset: usize,
    },
}

impl BatchError {
    /// The byte offset where decoding stopped.
    pub fn offset(self) -> usize {
        match self {
            BatchError::TruncatedLength { offset }
            | BatchError::LengthOverflow { offset }
            | BatchError::TruncatedMessage { offset }
            | BatchError::Unsplittable { offset }
            | BatchError::TooManyMessages { offset }
            | BatchError::TooLarge { offset } => offset,
        }
    }
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self {
            BatchError::TruncatedLength { .. } => "truncated length prefix",
            BatchError::LengthOverflow { .. } => "length prefix overflows",
            BatchError::TruncatedMessage { .. } => "message runs past the batch",
            BatchError::Unsplittable { .. } => "no complete message",
            BatchError::TooManyMessages { .. } => "too many messages in the batch",
            BatchError::TooLarge { .. } => "batch too large",
        };
        write!(f, "malformed batch at byte {}: {what}", self.offset())
    }
}

#[cfg(feature = "std")]
impl std::error::Error for BatchError {}

/// Appends `len` as an unsigned LEB128 varint.
///
/// ```
/// use wscore::wire::{put_varint, read_varint};
///
/// let mut out = bytes::BytesMut::new();
/// put_varint(&mut out, 300);
/// assert_eq!(&out[..], &[0xAC, 0x02]);
/// assert_eq!(read_varint(&out), Ok((300, 2)));
/// ```
#[inline]
pub fn put_varint(out: &mut BytesMut, mut len: u64) {
    while len >= 0x80 {
        out.put_u8((len as u8) | 0x80);
        len >>= 7;
    }
    out.put_u8(len as u8);
}

/// The number of bytes [`put_varint`] writes for `len`.
pub const fn varint_len(len: u64) -> usize {
    if len < 0x80 {
        return 1;
    }
    let bits = 64 - len.leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Why [`read_varint`] found no varint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VarintError {
    /// `buf` ends before the varint's last byte (the one without the
    /// continuation bit). A reader of a byte stream waits for more; a
    /// reader of a whole payload has a truncated length.
    Truncated,
    /// The varint does not fit in 64 bits.
    Overflow,
}

impl fmt::Display for VarintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VarintError::Truncated => "truncated varint",
            VarintError::Overflow => "varint over 64 bits",
        })
    }
}

#[cfg(feature = "std")]
impl std::error::Error for VarintError {}

/// Reads an unsigned LEB128 varint from the start of `buf`: its value and
/// how many bytes it took.
///
/// ```
/// use wscore::wire::{read_varint, VarintError};
///
/// assert_eq!(read_varint(&[0xAC, 0x02, 0xFF]), Ok((300, 2)));
/// assert_eq!(read_varint(&[0xAC]), Err(VarintError::Truncated));
/// assert_eq!(read_varint(&[0xFF; 10]), Err(VarintError::Overflow));
/// ```
pub fn read_varint(buf: &[u8]) -> Result<(u64, usize), VarintError> {
    let mut value: u64 = 0;
    for (i, &byte) in buf.iter().enumerate() {
        let shift = 7 * i as u32;
        let bits = u64::from(byte & 0x7F);
        if shift >= 64 || (shift == 63 && bits > 1) {
            return Err(VarintError::Overflow);
        }
        value |= bits << shift;
        if byte & 0x80 == 0 {
            return Ok((value, i + 1));
        }
    }
    Err(VarintError::Truncated)
}

/// A received batch, validated whole, that yields its logical messages in
/// order as slices of the payload (no copy).
///
/// Validation reads every length once; iterating reads them again rather
/// than storing them, so a batch of many small messages costs no memory
/// beyond its payload. With [`Framing::SelfDelimiting`] the splitting
/// function therefore runs twice per message and must give the same answer
/// both times (a pure function of the bytes); if it does not, iteration
/// stops at the first disagreement.
///
/// ```
/// use bytes::Bytes;
/// use wscore::{BatchError, Framing};
/// use wscore::wire::Batch;
///
/// let batch = Batch::parse(Bytes::from_static(b"\x02hi\x03you"), Framing::Varint, 16, 1024).unwrap();
/// assert_eq!(batch.len(), 2);
/// assert_eq!(batch.collect::<Vec<_>>(), [Bytes::from_static(b"hi"), Bytes::from_static(b"you")]);
///
/// let truncated = Bytes::from_static(b"\x02hi\x05you");
/// assert_eq!(
///     Batch::parse(truncated, Framing::Varint, 16, 1024).err(),
///     Some(BatchError::TruncatedMessage { offset: 4 })
/// );
/// ```
#[derive(Clone, Debug)]
pub struct Batch {
    payload: Bytes,
    /// Where the next message's length (or, self-delimiting, the message)
    /// starts in `payload`. A cursor rather than cutting `payload` down:
    /// a message is then one slice of the payload, with no second write
    /// to the payload per message.
    offset: usize,
    framing: Framing,
    /// Messages not yet yielded.
    remaining: usize,
}

impl Batch {
    /// Validates `payload` as a batch of at most `max_messages` messages
    /// and `max_bytes` bytes. Fails, naming the offset, if any part of it
    /// is malformed.
    pub fn parse(
        payload: Bytes,
        framing: Framing,
        max_messages: usize,
        max_bytes: usize,
    ) -> Result<Batch, BatchError> {
        if payload.len() > max_bytes {
            return Err(BatchError::TooLarge { offset: max_bytes });
        }
        let mut count = 0;
        let mut offset = 0;
        while offset < payload.len() {
            if count == max_messages {
                return Err(BatchError::TooManyMessages { offset });
            }
            let rest = payload.get(offset..).unwrap_or_default();
            let (start, len) = match (framing, rest.first()) {
                // The one-byte length of a message under 128 bytes, the
                // common case, read in place.
                (Framing::Varint, Some(&len)) if len < 0x80 => (offset + 1, usize::from(len)),
                _ => measure(rest, framing, offset)?,
            };
            offset = start
                .checked_add(len)
                .filter(|&end| end <= payload.len())
                .ok_or(BatchError::TruncatedMessage { offset: start })?;
            count += 1;
        }
        Ok(Batch {
            payload,
            offset: 0,
            framing,
            remaining: count,
        })
    }

    /// Logical messages not yet yielded.
    pub fn len(&self) -> usize {
        self.remaining
    }

    /// Whether every message has been yielded.
    pub fn is_empty(&self) -> bool {
        self.remaining == 0
    }
}

impl Iterator for Batch {
    type Item = Bytes;

    // Always inlined: the message is handed on by value, and a call
    // returns it through memory that its caller reads back.
    #[inline(always)]
    fn next(&mut self) -> Option<Bytes> {
        if self.remaining == 0 {
            return None;
        }
        let rest = self.payload.get(self.offset..).unwrap_or_default();
        let measured = match (self.framing, rest.first()) {
            // Messages under 128 bytes, the common case, have a one-byte
            // length.
            (Framing::Varint, Some(&len)) if len < 0x80 => Some((1, usize::from(len))),
            _ => measure(rest, self.framing, 0).ok(),
        };
        let message = measured.and_then(|(prefix, len)| {
            let start = self.offset.checked_add(prefix)?;
            let end = start.checked_add(len)?;
            (end <= self.payload.len()).then_some((start, end))
        });
        let Some((start, end)) = message else {
            // Only a splitting function that changed its mind gets here.
            self.remaining = 0;
            return None;
        };
        self.remaining -= 1;
        self.offset = end;
        if self.remaining == 0 {
            // The last message takes the payload itself: no new reference.
            let mut last = core::mem::take(&mut self.payload);
            last.truncate(end);
            last.advance(start);
            return Some(last);
        }
        Some(self.payload.slice(start..end))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.remaining))
    }
}

/// Where the message at the start of `rest` begins and how long it is;
/// `offset` is where `rest` starts in the batch, for errors.
fn measure(rest: &[u8], framing: Framing, offset: usize) -> Result<(usize, usize), BatchError> {
    match framing {
        Framing::Varint => match read_varint(rest) {
            Err(VarintError::Truncated) => Err(BatchError::TruncatedLength { offset }),
            Err(VarintError::Overflow) => Err(BatchError::LengthOverflow { offset }),
            Ok((len, prefix)) => {
                let len =
                    usize::try_from(len).map_err(|_| BatchError::LengthOverflow { offset })?;
                Ok((offset + prefix, len))
            }
        },
        Framing::SelfDelimiting(measure) => match measure(rest) {
            Some(len) if len > 0 && len <= rest.len() => Ok((offset, len)),
            _ => Err(BatchError::Unsplittable { offset }),
        },
    }
}

/// Splits a received batch into its logical messages, as slices of
/// `payload` (no copy): [`Batch::parse`], collected. Fails without
/// yielding anything if any part of the batch is malformed.
///
/// ```
/// use bytes::Bytes;
/// use wscore::{BatchError, Framing};
/// use wscore::wire::split;
///
/// let batch = Bytes::from_static(b"\x02hi\x03you");
/// let messages = split(&batch, Framing::Varint, 16, 1024).unwrap();
/// assert_eq!(messages, [Bytes::from_static(b"hi"), Bytes::from_static(b"you")]);
///
/// let truncated = Bytes::from_static(b"\x02hi\x05you");
/// assert_eq!(
///     split(&truncated, Framing::Varint, 16, 1024),
///     Err(BatchError::TruncatedMessage { offset: 4 })
/// );
/// ```
pub fn split(
    payload: &Bytes,
    framing: Framing,
    max_messages: usize,
    max_bytes: usize,
) -> Result<Vec<Bytes>, BatchError> {
    Batch::parse(payload.clone(), framing, max_messages, max_bytes).map(Iterator::collect)
}

/// Collects outbound logical messages into one batch payload.
#[derive(Debug, Default)]
pub struct BatchWriter {
    buf: BytesMut,
    count: usize,
}

impl BatchWriter {
    /// An empty writer with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            buf: BytesMut::with_capacity(capacity),
            count: 0,
        }
    }

    /// A writer whose batch follows `prefix` (a record tag); the prefix
    /// counts towards [`BatchWriter::len`].
    pub fn with_prefix(capacity: usize, prefix: &[u8]) -> Self {
        let mut writer = Self::with_capacity(capacity.max(prefix.len()));
        writer.buf.extend_from_slice(prefix);
        writer
    }

    /// The bytes `message` adds to a batch with `framing`.
    pub fn encoded_len(framing: Framing, message: &[u8]) -> usize {
        match framing {
            Framing::Varint => varint_len(message.len() as u64) + message.len(),
            Framing::SelfDelimiting(_) => message.len(),
        }
    }

    /// Appends one logical message.
    #[inline]
    pub fn push(&mut self, framing: Framing, message: &[u8]) {
        if matches!(framing, Framing::Varint) {
            put_varint(&mut self.buf, message.len() as u64);
        }
        self.buf.extend_from_slice(message);
        self.count += 1;
    }

    /// Bytes in the batch so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether no message has been pushed.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Logical messages in the batch so far.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Takes the finished batch, leaving the writer empty.
    pub fn take(&mut self) -> Bytes {
        self.count = 0;
        self.buf.split().freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use quickcheck::quickcheck;

    fn encode(messages: &[Vec<u8>], framing: Framing) -> Bytes {
        let mut writer = BatchWriter::default();
        for m in messages {
            writer.push(framing, m);
        }
        writer.take()
    }

    /// A self-delimiting format for tests: one length byte, then the body.
    fn tlv(buf: &[u8]) -> Option<usize> {
        buf.first().map(|&n| 1 + usize::from(n))
    }

    quickcheck! {
        fn varint_round_trip(value: u64) -> bool {
            let mut out = BytesMut::new();
            put_varint(&mut out, value);
            out.len() == varint_len(value) && read_varint(&out) == Ok((value, out.len()))
        }

        fn varint_never_panics(bytes: Vec<u8>) -> bool {
            match read_varint(&bytes) {
                Ok((_, n)) => n <= bytes.len() && n <= 10,
                Err(VarintError::Truncated) => bytes.iter().all(|b| b & 0x80 != 0),
                Err(VarintError::Overflow) => bytes.len() >= 10,
            }
        }

        fn batch_round_trip(messages: Vec<Vec<u8>>) -> bool {
            let batch = encode(&messages, Framing::Varint);
            let split = split(&batch, Framing::Varint, usize::MAX, usize::MAX).unwrap();
            split.iter().map(|b| b.to_vec()).collect::<Vec<_>>() == messages
        }

        fn self_delimited_round_trip(bodies: Vec<Vec<u8>>) -> bool {
            let messages: Vec<Vec<u8>> = bodies
                .into_iter()
                .map(|mut b| {
                    b.truncate(255);
                    let mut m = vec![b.len() as u8];
                    m.extend(b);
                    m
                })
                .collect();
            let batch = encode(&messages, Framing::SelfDelimiting(tlv));
            assert_eq!(batch.len(), messages.iter().map(Vec::len).sum::<usize>(), "zero overhead");
            let split = split(&batch, Framing::SelfDelimiting(tlv), usize::MAX, usize::MAX).unwrap();
            split.iter().map(|b| b.to_vec()).collect::<Vec<_>>() == messages
        }

        fn split_never_panics_and_never_overruns(bytes: Vec<u8>) -> bool {
            let payload = Bytes::from(bytes);
            match split(&payload, Framing::Varint, 64, 1 << 20) {
                Ok(parts) => parts.iter().map(Bytes::len).sum::<usize>() <= payload.len(),
                Err(e) => e.offset() <= payload.len().max(1 << 20),
            }
        }
    }

    #[test]
    fn small_messages_cost_one_byte() {
        assert_eq!(BatchWriter::encoded_len(Framing::Varint, &[0; 64]), 65);
        assert_eq!(BatchWriter::encoded_len(Framing::Varint, &[0; 127]), 128);
        assert_eq!(BatchWriter::encoded_len(Framing::Varint, &[0; 128]), 130);
    }

    #[test]
    fn malformed_batches_name_the_offset() {
        let cases: [(&[u8], BatchError); 4] = [
            (b"\x01a\x80", BatchError::TruncatedLength { offset: 2 }),
            (b"\x03abc\x05ab", BatchError::TruncatedMessage { offset: 5 }),
            (
                b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f",
                BatchError::LengthOverflow { offset: 0 },
            ),
            (
                b"\x01a\x01b\x01c",
                BatchError::TooManyMessages { offset: 4 },
            ),
        ];
        for (batch, error) in cases {
            assert_eq!(
                split(&Bytes::from_static(batch), Framing::Varint, 2, 1024),
                Err(error)
            );
        }
        assert_eq!(
            split(&Bytes::from_static(&[0; 10]), Framing::Varint, 100, 8),
            Err(BatchError::TooLarge { offset: 8 })
        );
    }

    #[test]
    fn a_splitter_that_changes_its_mind_ends_the_batch() {
        use core::sync::atomic::{AtomicUsize, Ordering};
        static CALLS: AtomicUsize = AtomicUsize::new(0);
        // Whole messages of one byte while validating, then a length past
        // the end.
        fn fickle(buf: &[u8]) -> Option<usize> {
            let calls = CALLS.fetch_add(1, Ordering::Relaxed);
            Some(if calls < 3 { 1 } else { buf.len() + 1 })
        }
        let mut batch = Batch::parse(
            Bytes::from_static(b"abc"),
            Framing::SelfDelimiting(fickle),
            8,
            64,
        )
        .unwrap();
        assert_eq!(batch.len(), 3);
        assert_eq!(batch.next(), None);
        assert!(batch.is_empty());
    }

    #[test]
    fn iterating_yields_what_split_validated() {
        let batch = Batch::parse(
            Bytes::from_static(b"\x01a\x00\x81\x01"),
            Framing::Varint,
            8,
            1024,
        );
        // 0x81 0x01 is 129: past the end.
        assert_eq!(
            batch.err(),
            Some(BatchError::TruncatedMessage { offset: 5 })
        );
        let long = [&[0x80, 0x01][..], &[7; 128]].concat();
        let mut batch = Batch::parse(Bytes::from(long), Framing::Varint, 8, 1024).unwrap();
        assert_eq!(batch.len(), 1);
        assert_eq!(batch.next().map(|m| m.len()), Some(128));
        assert_eq!((batch.len(), batch.next()), (0, None));
    }

    #[test]
    fn empty_messages_survive() {
        let batch = encode(&[Vec::new(), b"x".to_vec(), Vec::new()], Framing::Varint);
        assert_eq!(&batch[..], b"\x00\x01x\x00");
        assert_eq!(split(&batch, Framing::Varint, 8, 64).unwrap().len(), 3);
    }
}
