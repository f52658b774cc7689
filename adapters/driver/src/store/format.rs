//! The bytes of one stored file: a fixed header, then the payload.
//!
//! ```text
//! offset  size  field
//!      0     4  magic  b"wsat"
//!      4     4  format version, u32 little-endian (1)
//!      8     8  payload length, u64 little-endian
//!     16     8  FNV-1a 64 of the payload, u64 little-endian
//!     24     n  payload
//! ```
//!
//! The rename protocol never leaves a partial file under a final name;
//! the header is there so that anything else under such a name (a file
//! damaged outside the store, a stray copy) is refused rather than handed
//! out as a value.

use std::io;

const MAGIC: [u8; 4] = *b"wsat";
const VERSION: u32 = 1;
/// The length of the header in front of every payload.
pub(super) const HEADER_LEN: usize = 24;

/// FNV-1a, 64 bits: a few lines, no dependency, and plenty to tell a
/// complete payload from a damaged one (this guards against accidents,
/// not adversaries).
fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET_BASIS, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(PRIME)
    })
}

/// The file's bytes for `payload`.
pub(super) fn encode(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    // usize is at most 64 bits on every supported target.
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&fnv1a64(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// The payload of a complete file, or `InvalidData` naming what is wrong.
pub(super) fn decode(file: &[u8]) -> io::Result<&[u8]> {
    let (header, payload) = file
        .split_at_checked(HEADER_LEN)
        .ok_or_else(|| invalid("shorter than the header"))?;
    let field = |at: usize| -> [u8; 8] {
        let mut b = [0; 8];
        b.copy_from_slice(&header[at..at + 8]);
        b
    };
    if header[..4] != MAGIC {
        return Err(invalid("not an attachment file (bad magic)"));
    }
    let mut version = [0; 4];
    version.copy_from_slice(&header[4..8]);
    if u32::from_le_bytes(version) != VERSION {
        return Err(invalid("unknown attachment format version"));
    }
    if u64::from_le_bytes(field(8)) != payload.len() as u64 {
        return Err(invalid(
            "length does not match the header (incomplete file)",
        ));
    }
    if u64::from_le_bytes(field(16)) != fnv1a64(payload) {
        return Err(invalid("checksum mismatch (damaged file)"));
    }
    Ok(payload)
}

pub(super) fn invalid(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_the_reference_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn round_trip_and_every_truncation_is_refused() {
        let file = encode(b"hello attachment");
        assert_eq!(decode(&file).ok(), Some(&b"hello attachment"[..]));
        for len in 0..file.len() {
            let err = decode(&file[..len]).err().map(|e| e.kind());
            assert_eq!(err, Some(io::ErrorKind::InvalidData), "prefix of {len}");
        }
        let mut longer = file.clone();
        longer.push(0);
        assert!(decode(&longer).is_err());
    }

    #[test]
    fn any_flipped_bit_is_refused() {
        let file = encode(b"payload");
        for i in 0..file.len() * 8 {
            let mut damaged = file.clone();
            damaged[i / 8] ^= 1 << (i % 8);
            assert!(decode(&damaged).is_err(), "bit {i}");
        }
    }
}
