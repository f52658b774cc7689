//! The payload of a message on a room's Redis channel: a fixed header
//! (format, kind, origin, sequence number) and the message's bytes.
//!
//! ```text
//! byte 0       format, 1
//! byte 1       kind: 1 text, 2 binary
//! bytes 2..18  origin, 128 bits big-endian
//! bytes 18..26 sequence number of the origin in this room, 64 bits big-endian
//! bytes 26..   the message
//! ```

use bytes::Bytes;
use wscore::{Message, MessageKind, Utf8Bytes};

use crate::Origin;

const FORMAT: u8 = 1;
const TEXT: u8 = 1;
const BINARY: u8 = 2;
/// Bytes before the message.
pub(crate) const HEADER_LEN: usize = 26;

/// Why a payload read from Redis is not a message of this format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WireError {
    /// Shorter than the header.
    Truncated,
    /// A format this version does not read.
    UnknownFormat(u8),
    /// A kind other than text or binary.
    UnknownKind(u8),
    /// A text message whose bytes are not UTF-8.
    InvalidUtf8,
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WireError::Truncated => f.write_str("payload shorter than its header"),
            WireError::UnknownFormat(format) => write!(f, "unknown payload format {format}"),
            WireError::UnknownKind(kind) => write!(f, "unknown message kind {kind}"),
            WireError::InvalidUtf8 => f.write_str("text message is not UTF-8"),
        }
    }
}

impl std::error::Error for WireError {}

/// A message read from a room's channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Envelope {
    pub(crate) origin: Origin,
    pub(crate) seq: u64,
    pub(crate) message: Message,
}

/// The payload for `message`, published by `origin` as its `seq`-th
/// message to a room.
pub(crate) fn encode(origin: Origin, seq: u64, kind: MessageKind, message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + message.len());
    out.push(FORMAT);
    out.push(match kind {
        MessageKind::Text => TEXT,
        MessageKind::Binary => BINARY,
    });
    out.extend_from_slice(&origin.get().to_be_bytes());
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(message);
    out
}

/// Puts `seq` in a payload made by [`encode`].
pub(crate) fn set_seq(payload: &mut [u8], seq: u64) {
    if let Some(field) = payload.get_mut(18..HEADER_LEN) {
        field.copy_from_slice(&seq.to_be_bytes());
    }
}

/// Reads a payload; a text message's bytes are checked to be UTF-8, since
/// any client of the Redis server can publish on the channel.
pub(crate) fn decode(payload: &[u8]) -> Result<Envelope, WireError> {
    let (header, body) = payload
        .split_at_checked(HEADER_LEN)
        .ok_or(WireError::Truncated)?;
    let (&[format, kind], rest) = header.split_at(2) else {
        return Err(WireError::Truncated);
    };
    if format != FORMAT {
        return Err(WireError::UnknownFormat(format));
    }
    let (origin, seq) = rest.split_at(16);
    let origin = u128::from_be_bytes(origin.try_into().map_err(|_| WireError::Truncated)?);
    let seq = u64::from_be_bytes(seq.try_into().map_err(|_| WireError::Truncated)?);
    let body = Bytes::copy_from_slice(body);
    let message = match kind {
        TEXT => Message::text(Utf8Bytes::try_from(body).map_err(|_| WireError::InvalidUtf8)?),
        BINARY => Message::binary(body),
        other => return Err(WireError::UnknownKind(other)),
    };
    Ok(Envelope {
        origin: Origin::from_raw(origin),
        seq,
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_is_laid_out_as_documented() {
        let origin = Origin::from_raw(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10);
        let payload = encode(origin, 0x1122_3344_5566_7788, MessageKind::Text, b"hi");
        let mut expected = vec![1, 1];
        expected.extend(1..=16u8);
        expected.extend([0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]);
        expected.extend(b"hi");
        assert_eq!(payload, expected);
        assert_eq!(payload.len(), HEADER_LEN + 2);
    }

    #[test]
    fn text_and_binary_round_trip() {
        let origin = Origin::from_raw(7);
        for (kind, body, message) in [
            (MessageKind::Text, &b"h\xc3\xa9"[..], Message::text("hé")),
            (
                MessageKind::Binary,
                &[0, 255][..],
                Message::binary(vec![0, 255]),
            ),
            (MessageKind::Text, &b""[..], Message::text("")),
        ] {
            let envelope = decode(&encode(origin, 42, kind, body)).unwrap();
            assert_eq!(
                envelope,
                Envelope {
                    origin,
                    seq: 42,
                    message
                }
            );
        }
    }

    #[test]
    fn malformed_payloads_are_typed_errors() {
        let good = encode(Origin::from_raw(1), 1, MessageKind::Text, b"x");
        for len in 0..HEADER_LEN {
            assert_eq!(decode(&good[..len]), Err(WireError::Truncated), "{len}");
        }
        let mut bad = good.clone();
        bad[0] = 2;
        assert_eq!(decode(&bad), Err(WireError::UnknownFormat(2)));
        let mut bad = good.clone();
        bad[1] = 3;
        assert_eq!(decode(&bad), Err(WireError::UnknownKind(3)));
        let invalid = encode(Origin::from_raw(1), 1, MessageKind::Text, b"\xff");
        assert_eq!(decode(&invalid), Err(WireError::InvalidUtf8));
        // The same bytes are a fine binary message.
        let binary = encode(Origin::from_raw(1), 1, MessageKind::Binary, b"\xff");
        assert!(decode(&binary).is_ok());
    }
}
