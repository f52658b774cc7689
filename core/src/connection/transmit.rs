//! What a connection hands the transport: [`Transmit`], a frame header
//! and its payload, readable as a [`bytes::Buf`]; how
//! [`Connection::poll_transmit`] builds it from the outbound queue; and
//! the masking of client payloads into shared blocks.

use alloc::vec::Vec;
use bytes::{Buf, Bytes, BytesMut};

use super::outbound::Next;
use super::{Connection, Event, Role};
use crate::envelope::stream::MAX_CHUNK_PREFIX;
use crate::envelope::stream::{Direction, StreamError, StreamEvent};
use crate::frame::{
    apply_mask, mask_into, EncodedHeader, FrameHeader, Rsv, ENCODED_ROOM, MAX_HEADER_LEN,
};

/// Bytes to write to the transport: a frame header and its payload.
///
/// Server payloads are the application's own [`Bytes`], unmasked and not
/// copied; write [`Transmit::header`] then [`Transmit::payload`] (vectored
/// writes fit well), or use it as a [`bytes::Buf`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    header: WireHeader,
    payload: Bytes,
    offset: usize,
}

impl Transmit {
    /// A frame: its header (with a chunk record's prefix) and payload.
    pub(super) fn frame(header: WireHeader, payload: Bytes) -> Self {
        Transmit {
            header,
            payload,
            offset: 0,
        }
    }

    /// Bytes written as they are: the handshake, or a prepared frame.
    pub(super) fn raw(payload: Bytes) -> Self {
        Transmit {
            header: WireHeader::default(),
            payload,
            offset: 0,
        }
    }

    /// The frame header (empty for handshake bytes, and for a
    /// [`PreparedMessage`](crate::PreparedMessage)'s frame, which carries
    /// its header in the payload so that it is shared whole). For a chunk record
    /// of a streamed connection it also holds the record's first bytes
    /// (tag, stream id and offset: at most 16 more, masked like the rest
    /// of a client's payload), so that the payload is the stream's own
    /// data. A client's frame whose masked payload fits beside its header
    /// (up to 26 bytes) is held here whole, and its
    /// [`Transmit::payload`] is empty: masking it allocates nothing.
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

/// A frame header and the chunk record prefix that starts its payload,
/// stored inline, so a chunk's data goes out as its own [`Bytes`].
#[derive(Clone, Copy, Default)]
pub(super) struct WireHeader {
    bytes: [u8; WIRE_ROOM],
    len: u8,
}

/// A header and a chunk prefix at most, rounded up to two 16-byte words.
const WIRE_ROOM: usize = (MAX_HEADER_LEN + MAX_CHUNK_PREFIX).next_multiple_of(16);

impl WireHeader {
    /// `header`, then `prefix` masked with `mask` from the payload's
    /// first byte.
    #[inline]
    pub(super) fn new(header: EncodedHeader, prefix: &[u8], mask: Option<[u8; 4]>) -> Self {
        let mut out = WireHeader::default();
        let (raw, split) = header.raw();
        // The header's whole storage in one store; only `len` counts.
        if let Some((head, _)) = out.bytes.split_first_chunk_mut::<ENCODED_ROOM>() {
            *head = raw;
        }
        let split = usize::from(split);
        let end = (split + prefix.len()).min(out.bytes.len());
        if let (Some(dst), Some(src)) = (out.bytes.get_mut(split..end), prefix.get(..end - split)) {
            dst.copy_from_slice(src);
            if let Some(key) = mask {
                apply_mask(dst, key, 0);
            }
        }
        out.len = end as u8;
        out
    }

    pub(super) fn as_slice(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }

    /// A client's frame without a prefix whose payload fits beside its
    /// header, whole: the first header byte `first`, the 7-bit length
    /// with the mask bit, `key`, and the payload masked with it. This is
    /// the whole cost of sending a small message, so it is built in two
    /// 128-bit registers and stored at once: bytes written one at a time
    /// and read back as words stall the loads that move the frame on.
    #[inline]
    pub(super) fn small_masked(first: u8, key: [u8; 4], payload: &[u8]) -> Option<Self> {
        let len = payload.len();
        if len > SMALL_MASKED {
            return None;
        }
        // Byte `i` of a word is bits `8 i ..` (little-endian throughout).
        let (low, high) = load_small(payload);
        let key32 = u32::from_le_bytes(key);
        let key64 = u64::from(key32) * 0x0000_0001_0000_0001;
        let key128 = u128::from(key64) * ((1 << 64) + 1);
        let (low, high) = (low ^ key128, high ^ key64);
        // Bytes past the payload hold key bytes; `as_slice` ends first.
        let head = u128::from(first) | (u128::from(0x80 | len as u8) << 8);
        let head = head | (u128::from(key32) << 16);
        let word0 = head | (low << 48);
        let word1 = (low >> 80) | (u128::from(high) << 48);
        let mut bytes = [0; WIRE_ROOM];
        let (first_word, rest) = bytes.split_first_chunk_mut::<16>()?;
        *first_word = word0.to_le_bytes();
        *rest.first_chunk_mut::<16>()? = word1.to_le_bytes();
        Some(WireHeader {
            bytes,
            len: (6 + len) as u8,
        })
    }

    /// Appends `payload` masked with `key` (already rotated to where the
    /// payload starts), if it fits in the room the header and prefix left:
    /// a client's small frame then goes out whole from here, with no
    /// allocation. Returns whether it fitted.
    #[inline]
    pub(super) fn push_masked(&mut self, payload: &[u8], key: [u8; 4]) -> bool {
        let start = usize::from(self.len);
        let end = start + payload.len();
        let Some(dst) = self.bytes.get_mut(start..end) else {
            return false;
        };
        dst.copy_from_slice(payload);
        apply_mask(dst, key, 0);
        self.len = end as u8;
        true
    }
}

/// The payload a client's frame holds beside its 6-byte header, at most.
const SMALL_MASKED: usize = 24;

/// Payload bytes 0..16 and 16..24 of at most [`SMALL_MASKED`] bytes as
/// little-endian words, zero past the end, read with a few loads that may
/// overlap (overlapping bytes are equal, so or-ing them is exact) instead
/// of a copy into a buffer.
#[inline]
fn load_small(p: &[u8]) -> (u128, u64) {
    let word = |at: usize| -> u64 {
        p.get(at..at + 8)
            .and_then(|b| b.first_chunk::<8>())
            .map_or(0, |b| u64::from_le_bytes(*b))
    };
    let half = |at: usize| -> u128 {
        p.get(at..at + 4)
            .and_then(|b| b.first_chunk::<4>())
            .map_or(0, |b| u128::from(u32::from_le_bytes(*b)))
    };
    let byte = |at: usize| -> u128 { p.get(at).map_or(0, |b| u128::from(*b)) };
    let len = p.len();
    match len {
        0 => (0, 0),
        1..=3 => {
            let mid = len / 2;
            let low = byte(0) | (byte(mid) << (8 * mid)) | (byte(len - 1) << (8 * (len - 1)));
            (low, 0)
        }
        4..=7 => (half(0) | (half(len - 4) << (8 * (len - 4))), 0),
        8..=15 => {
            let low = u128::from(word(0)) | (u128::from(word(len - 8)) << (8 * (len - 8)));
            (low, 0)
        }
        _ => {
            let low = u128::from(word(0)) | (u128::from(word(8)) << 64);
            // Bytes `len - 8 .. len`, shifted down to start at byte 16.
            let high = u128::from(word(len - 8)) >> (8 * (24 - len.min(24)));
            (low, high as u64)
        }
    }
}

impl PartialEq for WireHeader {
    /// Only the bytes written count: past `len` the storage is scratch.
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for WireHeader {}

impl core::fmt::Debug for WireHeader {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

impl Connection {
    /// The next bytes to write, if any.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.outbound
            .schedule(&self.config.stream, self.config.fragment_size);
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
            if self.mask_block.capacity() != 0 {
                self.mask_block = BytesMut::new();
            }
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
            payload_len: (frame.prefix.len() + frame.payload.len()) as u64,
        };
        let Role::Client = self.role else {
            let wire = WireHeader::new(header.encode(), frame.prefix.as_slice(), None);
            return Some(Transmit::frame(wire, frame.payload));
        };
        let key = self.rng.mask_key();
        if frame.prefix.is_empty() {
            let first = (u8::from(frame.fin) << 7) | frame.rsv.bits() | frame.opcode.as_u8();
            if let Some(wire) = WireHeader::small_masked(first, key, &frame.payload) {
                return Some(Transmit::frame(wire, Bytes::new()));
            }
        }
        header.mask = Some(key);
        let mut wire = WireHeader::new(header.encode(), frame.prefix.as_slice(), header.mask);
        // The payload continues the mask where the prefix, written with
        // the header, leaves off.
        let mut payload_key = key;
        payload_key.rotate_left(frame.prefix.len() % 4);
        if wire.push_masked(&frame.payload, payload_key) {
            return Some(Transmit::frame(wire, Bytes::new()));
        }
        let queued = self.outbound.queued_bytes();
        let payload = mask_payload(&mut self.mask_block, &frame.payload, payload_key, queued);
        Some(Transmit::frame(wire, payload))
    }
}

/// Payloads up to this size are masked into a shared block.
pub(super) const MASK_BLOCK_PAYLOAD: usize = 512;
/// The largest shared masking block.
const MASK_BLOCK: usize = 4 << 10;

/// Masks `payload` into a buffer of its own, or, when it is small, into
/// `block`, which is sized for what else is queued (at most
/// [`MASK_BLOCK`]) and cut into one slice per frame. A burst of small
/// frames then costs one allocation instead of one per frame, and the
/// block is reused in place once the frames cut from it have been
/// written and dropped.
pub(super) fn mask_payload(
    block: &mut BytesMut,
    payload: &[u8],
    key: [u8; 4],
    queued: usize,
) -> Bytes {
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

#[cfg(test)]
mod tests {
    use super::*;
    use quickcheck::quickcheck;

    #[test]
    fn a_small_masked_frame_is_header_key_and_masked_payload() {
        fn property(first: u8, key: [u8; 4], payload: Vec<u8>) -> bool {
            let payload = payload.get(..payload.len() % 30).unwrap_or_default();
            let Some(wire) = WireHeader::small_masked(first, key, payload) else {
                return payload.len() > SMALL_MASKED;
            };
            let mut expected = vec![first, 0x80 | payload.len() as u8];
            expected.extend_from_slice(&key);
            let mut masked = payload.to_vec();
            apply_mask(&mut masked, key, 0);
            expected.extend_from_slice(&masked);
            wire.as_slice() == expected.as_slice()
        }
        quickcheck(property as fn(u8, [u8; 4], Vec<u8>) -> bool);
        // Every length, whatever quickcheck draws.
        for len in 0..=SMALL_MASKED {
            let payload: Vec<u8> = (0..len as u8).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
            assert!(property(0x82, [1, 2, 3, 4], payload), "length {len}");
        }
    }
}
