//! What a connection hands the transport: [`Transmit`], a frame header
//! and its payload, readable as a [`bytes::Buf`]; how
//! [`Connection::poll_transmit`] builds it from the outbound queue; and
//! the masking of client payloads into shared blocks.

use alloc::vec::Vec;
use bytes::{Buf, Bytes, BytesMut};

use super::outbound::{Next, WireHeader};
use super::{Connection, Event, Role};
use crate::envelope::stream::{Direction, StreamError, StreamEvent};
use crate::frame::{mask_into, FrameHeader, Rsv};

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
    /// (up to 24 bytes) is held here whole, and its
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
            payload_len: (frame.prefix.len() + frame.payload.len()) as u64,
        };
        let Role::Client = self.role else {
            let wire = WireHeader::new(header.encode().as_slice(), frame.prefix.as_slice(), None);
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
        let mut wire = WireHeader::new(
            header.encode().as_slice(),
            frame.prefix.as_slice(),
            header.mask,
        );
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
