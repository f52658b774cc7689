//! The frame layer (RFC 6455 §5.2): opcodes, the frame header codec and
//! masking.
//!
//! This module knows the bit layout of a frame and the rules that hold for a
//! single header in isolation (reserved opcodes, control frames are short
//! and unfragmented, a 64-bit length has its top bit clear). Rules that
//! depend on the connection (which side masks, which RSV bits an extension
//! has claimed, size limits, fragmentation state) are checked by the
//! connection's reader.

mod mask;

pub use mask::apply_mask;
pub(crate) use mask::mask_into;

use crate::error::ProtocolError;

/// The largest payload a control frame may carry.
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// The longest possible frame header: 2 bytes, an 8-byte length, a 4-byte key.
pub const MAX_HEADER_LEN: usize = 14;

/// A frame opcode. Reserved opcodes are not representable; decoding one is a
/// [`ProtocolError::ReservedOpcode`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// 0x0: continues a fragmented message.
    Continuation,
    /// 0x1: the first frame of a text message.
    Text,
    /// 0x2: the first frame of a binary message.
    Binary,
    /// 0x8: close.
    Close,
    /// 0x9: ping.
    Ping,
    /// 0xA: pong.
    Pong,
}

impl OpCode {
    /// Decodes the low nibble of the first header byte.
    pub fn from_u8(bits: u8) -> Result<OpCode, ProtocolError> {
        Ok(match bits {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            other => return Err(ProtocolError::ReservedOpcode(other)),
        })
    }

    /// The wire value.
    pub const fn as_u8(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
        }
    }

    /// Close, ping and pong are control frames.
    pub const fn is_control(self) -> bool {
        matches!(self, OpCode::Close | OpCode::Ping | OpCode::Pong)
    }
}

/// The three reserved bits of a frame header, as they appear in the first
/// byte (RSV1 = 0x40, RSV2 = 0x20, RSV3 = 0x10).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Rsv(u8);

impl Rsv {
    /// No bit set.
    pub const NONE: Rsv = Rsv(0);
    /// RSV1, claimed by permessage-deflate.
    pub const RSV1: Rsv = Rsv(0x40);
    /// RSV2.
    pub const RSV2: Rsv = Rsv(0x20);
    /// RSV3.
    pub const RSV3: Rsv = Rsv(0x10);

    /// The bits as they sit in the first header byte.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether every bit of `self` is also set in `allowed`.
    pub const fn is_subset_of(self, allowed: Rsv) -> bool {
        self.0 & !allowed.0 == 0
    }

    /// Whether no bit is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// A decoded or to-be-encoded frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// Whether this is the final frame of its message.
    pub fin: bool,
    /// The reserved bits.
    pub rsv: Rsv,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, present on frames sent by clients.
    pub mask: Option<[u8; 4]>,
    /// The payload length.
    pub payload_len: u64,
}

/// An encoded header: up to [`MAX_HEADER_LEN`] bytes stored inline.
#[derive(Clone, Copy, Default)]
pub struct EncodedHeader {
    /// Room for one 16-byte store: the header is built in a register and
    /// written at once, so reading it back never waits on narrow stores.
    bytes: [u8; ENCODED_ROOM],
    len: u8,
}

/// The storage of an [`EncodedHeader`]: a whole `u128`.
pub(crate) const ENCODED_ROOM: usize = 16;

impl EncodedHeader {
    /// The header bytes.
    pub fn as_slice(&self) -> &[u8] {
        // `encode` never stores more than `MAX_HEADER_LEN`.
        debug_assert!(usize::from(self.len) <= MAX_HEADER_LEN);
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }

    /// The whole storage, valid up to `len`, and `len`.
    #[inline]
    pub(crate) fn raw(&self) -> ([u8; ENCODED_ROOM], u8) {
        (self.bytes, self.len)
    }
}

impl PartialEq for EncodedHeader {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for EncodedHeader {}

impl core::fmt::Debug for EncodedHeader {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

impl FrameHeader {
    /// Decodes a header from the start of `buf`.
    ///
    /// Returns `Ok(None)` until the whole header is present, then the header
    /// and its length in bytes. Lengths that are not minimally encoded are
    /// accepted, as most peers do; RFC 6455 obliges only the sender.
    ///
    /// ```
    /// use wscore::wire::{FrameHeader, OpCode};
    ///
    /// // RFC 6455 §5.7: a single-frame masked text message "Hello".
    /// let wire = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
    /// let (header, len) = FrameHeader::decode(&wire).unwrap().unwrap();
    /// assert_eq!(len, 6);
    /// assert!(header.fin);
    /// assert_eq!(header.opcode, OpCode::Text);
    /// assert_eq!(header.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
    /// assert_eq!(header.payload_len, 5);
    /// assert_eq!(FrameHeader::decode(&wire[..1]).unwrap(), None);
    /// ```
    // Inlined: returned through memory, the header is written a field at
    // a time and read back whole, which stalls the small-frame path.
    #[inline]
    pub fn decode(buf: &[u8]) -> Result<Option<(FrameHeader, usize)>, ProtocolError> {
        let [b0, b1, rest @ ..] = buf else {
            return Ok(None);
        };
        let fin = b0 & 0x80 != 0;
        let rsv = Rsv(b0 & 0x70);
        let opcode = OpCode::from_u8(b0 & 0x0F)?;
        let masked = b1 & 0x80 != 0;
        let (payload_len, len_bytes) = match b1 & 0x7F {
            126 => match rest {
                [a, b, ..] => (u64::from(u16::from_be_bytes([*a, *b])), 2),
                _ => return Ok(None),
            },
            127 => match rest.first_chunk::<8>() {
                Some(bytes) => (u64::from_be_bytes(*bytes), 8),
                None => return Ok(None),
            },
            short => (u64::from(short), 0),
        };
        if payload_len >> 63 != 0 {
            return Err(ProtocolError::LengthTopBitSet);
        }
        if opcode.is_control() {
            if !fin {
                return Err(ProtocolError::FragmentedControlFrame);
            }
            if payload_len > MAX_CONTROL_PAYLOAD as u64 {
                return Err(ProtocolError::ControlFrameTooLong(payload_len));
            }
        }
        let mut header_len = 2 + len_bytes;
        let mask = if masked {
            let Some(key) = rest.get(len_bytes..).and_then(|r| r.first_chunk::<4>()) else {
                return Ok(None);
            };
            header_len += 4;
            Some(*key)
        } else {
            None
        };
        let header = FrameHeader {
            fin,
            rsv,
            opcode,
            mask,
            payload_len,
        };
        Ok(Some((header, header_len)))
    }

    /// Encodes the header with the shortest length form.
    ///
    /// ```
    /// use wscore::wire::{FrameHeader, OpCode, Rsv};
    ///
    /// // RFC 6455 §5.7: an unmasked ping with the body "Hello".
    /// let header = FrameHeader {
    ///     fin: true,
    ///     rsv: Rsv::NONE,
    ///     opcode: OpCode::Ping,
    ///     mask: None,
    ///     payload_len: 5,
    /// };
    /// assert_eq!(header.encode().as_slice(), &[0x89, 0x05]);
    /// ```
    #[inline]
    pub fn encode(&self) -> EncodedHeader {
        let b0 = (u8::from(self.fin) << 7) | self.rsv.bits() | self.opcode.as_u8();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        // Little-endian: byte `i` of the header is bits `8 i ..`; the
        // extended length is big-endian on the wire, so its bytes are
        // swapped into place.
        let (len7, extended, extended_len) = match self.payload_len {
            len @ 0..=125 => (len as u8, 0, 0),
            len @ 126..=0xFFFF => (126, u128::from((len as u16).swap_bytes()), 2),
            len => (127, u128::from(len.swap_bytes()), 8),
        };
        let mut word = u128::from(b0) | (u128::from(mask_bit | len7) << 8) | (extended << 16);
        let mut len = 2 + extended_len;
        if let Some(key) = self.mask {
            word |= u128::from(u32::from_le_bytes(key)) << (8 * len);
            len += 4;
        }
        EncodedHeader {
            bytes: word.to_le_bytes(),
            len,
        }
    }

    /// The encoded length of this header in bytes.
    pub fn encoded_len(&self) -> usize {
        let len_bytes = match self.payload_len {
            0..=125 => 0,
            126..=0xFFFF => 2,
            _ => 8,
        };
        2 + len_bytes + if self.mask.is_some() { 4 } else { 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use quickcheck::{quickcheck, Arbitrary, Gen};

    fn header(opcode: OpCode, mask: Option<[u8; 4]>, len: u64) -> FrameHeader {
        FrameHeader {
            fin: true,
            rsv: Rsv::NONE,
            opcode,
            mask,
            payload_len: len,
        }
    }

    /// Every example of RFC 6455 §5.7, byte for byte.
    #[test]
    fn rfc_examples() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let cases: &[(&[u8], FrameHeader, &[u8])] = &[
            (&[0x81, 0x05], header(OpCode::Text, None, 5), b"Hello"),
            (
                &[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d],
                header(OpCode::Text, Some(key), 5),
                &[0x7f, 0x9f, 0x4d, 0x51, 0x58],
            ),
            (&[0x89, 0x05], header(OpCode::Ping, None, 5), b"Hello"),
            (
                &[0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d],
                header(OpCode::Pong, Some(key), 5),
                &[0x7f, 0x9f, 0x4d, 0x51, 0x58],
            ),
        ];
        for (wire, expected, payload) in cases {
            let (decoded, len) = FrameHeader::decode(wire).unwrap().unwrap();
            assert_eq!(&decoded, expected);
            assert_eq!(len, wire.len());
            assert_eq!(decoded.encode().as_slice(), *wire);
            let mut body = payload.to_vec();
            if let Some(k) = decoded.mask {
                apply_mask(&mut body, k, 0);
            }
            assert_eq!(body.get(..2), Some(&b"He"[..]));
        }
        // Fragmented unmasked text "Hel" + "lo".
        let (first, _) = FrameHeader::decode(&[0x01, 0x03]).unwrap().unwrap();
        assert!(!first.fin);
        assert_eq!(first.opcode, OpCode::Text);
        let (last, _) = FrameHeader::decode(&[0x80, 0x02]).unwrap().unwrap();
        assert!(last.fin);
        assert_eq!(last.opcode, OpCode::Continuation);
        // 256 bytes binary in one unmasked frame, and 64 KiB.
        let big = header(OpCode::Binary, None, 256);
        assert_eq!(big.encode().as_slice(), &[0x82, 0x7E, 0x01, 0x00]);
        let huge = header(OpCode::Binary, None, 65536);
        assert_eq!(
            huge.encode().as_slice(),
            &[0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0]
        );
    }

    #[test]
    fn rejects_structural_violations() {
        for op in [3u8, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
            assert_eq!(
                FrameHeader::decode(&[0x80 | op, 0]),
                Err(ProtocolError::ReservedOpcode(op))
            );
        }
        assert_eq!(
            FrameHeader::decode(&[0x09, 0x00]),
            Err(ProtocolError::FragmentedControlFrame)
        );
        assert_eq!(
            FrameHeader::decode(&[0x89, 0x7E, 0x00, 0x7E]),
            Err(ProtocolError::ControlFrameTooLong(126))
        );
        assert_eq!(
            FrameHeader::decode(&[0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0]),
            Err(ProtocolError::LengthTopBitSet)
        );
    }

    #[test]
    fn accepts_non_minimal_lengths() {
        let (h, len) = FrameHeader::decode(&[0x82, 0x7E, 0x00, 0x05])
            .unwrap()
            .unwrap();
        assert_eq!((h.payload_len, len), (5, 4));
    }

    impl Arbitrary for OpCode {
        fn arbitrary(g: &mut Gen) -> Self {
            *g.choose(&[
                OpCode::Continuation,
                OpCode::Text,
                OpCode::Binary,
                OpCode::Close,
                OpCode::Ping,
                OpCode::Pong,
            ])
            .unwrap()
        }
    }

    impl Arbitrary for FrameHeader {
        fn arbitrary(g: &mut Gen) -> Self {
            let opcode = OpCode::arbitrary(g);
            let payload_len = if opcode.is_control() {
                u64::arbitrary(g) % 126
            } else {
                // Every size class: 7-bit, 16-bit and 64-bit lengths.
                match u8::arbitrary(g) % 3 {
                    0 => u64::arbitrary(g) % 126,
                    1 => 126 + u64::arbitrary(g) % (0x1_0000 - 126),
                    _ => 0x1_0000 + u64::arbitrary(g) % ((u64::MAX >> 1) - 0x1_0000),
                }
            };
            FrameHeader {
                fin: opcode.is_control() || bool::arbitrary(g),
                rsv: Rsv(u8::arbitrary(g) & 0x70),
                opcode,
                mask: Option::<u32>::arbitrary(g).map(u32::to_be_bytes),
                payload_len,
            }
        }
    }

    quickcheck! {
        fn round_trip(h: FrameHeader) -> bool {
            let enc = h.encode();
            enc.as_slice().len() == h.encoded_len()
                && FrameHeader::decode(enc.as_slice()) == Ok(Some((h, h.encoded_len())))
        }

        fn every_strict_prefix_is_incomplete(h: FrameHeader) -> bool {
            let enc = h.encode();
            (0..enc.as_slice().len()).all(|n| FrameHeader::decode(&enc.as_slice()[..n]) == Ok(None))
        }

        fn decode_never_panics(bytes: Vec<u8>) -> bool {
            match FrameHeader::decode(&bytes) {
                Ok(Some((_, len))) => len <= bytes.len() && len <= MAX_HEADER_LEN,
                _ => true,
            }
        }
    }
}
