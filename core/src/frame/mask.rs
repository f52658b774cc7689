//! Payload masking (RFC 6455 §5.3).
//!
//! Masking is the hottest loop of a server: every inbound byte passes through
//! it. The work is done eight bytes at a time on a `u64` built from the
//! rotated key, which the compiler turns into wide vector XORs, and without
//! any `unsafe`.

/// XORs `buf` in place with `key`, as if `buf` started `offset` bytes into the
/// masked payload. Masking and unmasking are the same operation.
///
/// ```
/// use wscore::wire::apply_mask;
///
/// let key = [0x37, 0xfa, 0x21, 0x3d];
/// let mut data = *b"Hello";
/// apply_mask(&mut data, key, 0);
/// assert_eq!(data, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
/// // Unmasking in two pieces gives the same result as in one.
/// let (a, b) = data.split_at_mut(2);
/// apply_mask(a, key, 0);
/// apply_mask(b, key, 2);
/// assert_eq!(&data, b"Hello");
/// ```
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let key = rotate(key, offset);
    let wide = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let masked = u64::from_ne_bytes(word) ^ wide;
        chunk.copy_from_slice(&masked.to_ne_bytes());
    }
    for (byte, k) in chunks.into_remainder().iter_mut().zip(key.iter().cycle()) {
        *byte ^= k;
    }
}

/// Copies `src` into `dst` masked with `key` (starting at key offset 0): the
/// client's send path, which must copy anyway because payloads are shared.
pub(crate) fn mask_into(dst: &mut bytes::BytesMut, src: &[u8], key: [u8; 4]) {
    let start = dst.len();
    dst.extend_from_slice(src);
    if let Some(tail) = dst.get_mut(start..) {
        apply_mask(tail, key, 0);
    }
}

/// The key as it applies from `offset` on: rotated left by `offset % 4`
/// bytes, done on a `u32` because a slice rotation is a call per frame.
fn rotate(key: [u8; 4], offset: usize) -> [u8; 4] {
    let bits = 8 * (offset % 4) as u32;
    // Little-endian: byte `i` of the key is bits `8 i ..`, so a right
    // rotation of the number is a left rotation of the bytes.
    u32::from_le_bytes(key).rotate_right(bits).to_le_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use quickcheck::quickcheck;

    fn naive(buf: &mut [u8], key: [u8; 4], offset: usize) {
        for (i, b) in buf.iter_mut().enumerate() {
            *b ^= key[(i % 4 + offset % 4) % 4];
        }
    }

    quickcheck! {
        fn matches_bytewise(data: Vec<u8>, key: u32, offset: usize) -> bool {
            let key = key.to_be_bytes();
            let mut fast = data.clone();
            let mut slow = data;
            apply_mask(&mut fast, key, offset);
            naive(&mut slow, key, offset);
            fast == slow
        }

        fn any_split_gives_same_result(data: Vec<u8>, key: u32, split: usize) -> bool {
            let key = key.to_be_bytes();
            let mut whole = data.clone();
            apply_mask(&mut whole, key, 0);
            let mut parts = data;
            let at = if parts.is_empty() { 0 } else { split % parts.len() };
            let (a, b) = parts.split_at_mut(at);
            apply_mask(a, key, 0);
            apply_mask(b, key, at);
            whole == parts
        }
    }
}
