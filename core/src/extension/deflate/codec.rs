//! The per-message codec of permessage-deflate: compressing what we send
//! and inflating what we receive, within the agreed windows and the
//! receiver's limits (RFC 7692 §7.2).

use alloc::vec::Vec;
use core::fmt;

use bytes::Bytes;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::{DeflateConfig, DeflateParams, MAX_BITS, MIN_BACKEND_BITS};
use crate::connection::Role;

/// The empty stored block every sync flush ends with: removed on the wire
/// and restored before inflating (RFC 7692 §7.2.1 and §7.2.2).
const TRAILER: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The most inflated bytes one decompression call writes: the size of the
/// zeroed scratch area it writes into.
const INFLATE_STEP: usize = 64 * 1024;
/// The smallest growth of an inflate buffer.
const MIN_GROWTH: usize = 256;

/// Why a compressed message could not be inflated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InflateError {
    /// The bytes are not a valid deflate stream (close code 1007).
    Corrupt,
}

impl fmt::Display for InflateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Corrupt => f.write_str("invalid deflate stream"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for InflateError {}

/// What one [`Deflate::inflate`] call did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Inflated {
    /// Bytes of the input consumed. The rest was not looked at: pass it
    /// again in the next call.
    pub consumed: usize,
    /// Everything the input yields (and, for the last bytes of a message,
    /// the end of the message) is in the output. `false` means the output
    /// room ran out first: call again with the unconsumed input, possibly
    /// none, and more room.
    pub complete: bool,
}

/// The per-connection codec: compresses outbound messages and inflates
/// inbound ones, honouring the agreed windows and context takeover.
///
/// Inflating is bounded by the caller: each call appends at most `room`
/// bytes and reports how much input it consumed, so a message can be
/// inflated in pieces of any size, and a decompression bomb is caught by
/// offering one byte more than the budget left.
///
/// ```
/// use wscore::{DeflateConfig, DeflateParams, Role};
/// use wscore::wire::Deflate;
///
/// let (params, config) = (DeflateParams::default(), DeflateConfig::default());
/// let mut client = Deflate::new(&params, Role::Client, &config);
/// let mut server = Deflate::new(&params, Role::Server, &config);
///
/// let json = br#"{"id":1,"name":"alpha","tags":["a","b"],"name":"alpha"}"#.repeat(20);
/// let wire = client.compress(&json).expect("compressible");
/// assert!(wire.len() < json.len() / 5);
///
/// // Inflate in pieces of at most 256 bytes.
/// let (mut message, mut input) = (Vec::new(), &wire[..]);
/// loop {
///     let mut piece = Vec::new();
///     let step = server.inflate(input, true, &mut piece, 256)?;
///     assert!(piece.len() <= 256);
///     message.extend_from_slice(&piece);
///     input = &input[step.consumed..];
///     if step.complete {
///         break;
///     }
/// }
/// assert_eq!(message, json);
/// # Ok::<(), wscore::wire::InflateError>(())
/// ```
pub struct Deflate {
    compressor: Compressor,
    compress_reset: bool,
    /// Built by the first compressed message received.
    decompress: Option<Decompress>,
    /// The decompressor's window, as a base-2 logarithm.
    receive_bits: u8,
    decompress_reset: bool,
    /// The current inbound message ended its deflate stream early.
    stream_ended: bool,
    /// Bytes of the trailer already fed for the current inbound message.
    trailer_fed: usize,
    threshold: usize,
    always_compress: bool,
}

impl fmt::Debug for Deflate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deflate")
            .field("compresses", &!matches!(self.compressor, Compressor::Off))
            .field("compress_reset", &self.compress_reset)
            .field("decompress_reset", &self.decompress_reset)
            .field("threshold", &self.threshold)
            .field("always_compress", &self.always_compress)
            .finish()
    }
}

/// The sending half of the codec. Its state is most of a compressed
/// connection's memory, so it is built by the first message worth
/// compressing: a connection that only receives, or only sends short
/// messages, never pays for it.
enum Compressor {
    /// The agreement rules compression out.
    Off,
    /// Not needed yet: the level and window it will have.
    Pending {
        level: Compression,
        bits: u8,
    },
    Ready(Compress),
}

impl Compressor {
    /// The compressor, built on first use; `None` when compression is off.
    fn get(&mut self) -> Option<&mut Compress> {
        if let Self::Pending { level, bits } = *self {
            *self = Self::Ready(Compress::new_with_window_bits(level, false, bits));
        }
        match self {
            Self::Ready(compress) => Some(compress),
            _ => None,
        }
    }
}

impl Deflate {
    /// The codec for `role` under the agreed `params`.
    pub fn new(params: &DeflateParams, role: Role, config: &DeflateConfig) -> Self {
        let (send_bits, compress_reset) = params.sending(role, config);
        let (receive_bits, decompress_reset) = params.receiving(role);
        let level = Compression::new(config.level.min(9));
        let compressor = if send_bits >= MIN_BACKEND_BITS {
            Compressor::Pending {
                level,
                bits: send_bits.min(MAX_BITS),
            }
        } else if config.always_compress {
            // Level 0 emits stored blocks only: no back-references, so the
            // peer's 256-byte window is never exceeded.
            Compressor::Pending {
                level: Compression::none(),
                bits: MIN_BACKEND_BITS,
            }
        } else {
            Compressor::Off
        };
        Self {
            compressor,
            compress_reset,
            decompress: None,
            receive_bits: receive_bits.clamp(MIN_BACKEND_BITS, MAX_BITS),
            decompress_reset,
            stream_ended: false,
            trailer_fed: 0,
            threshold: config.threshold,
            always_compress: config.always_compress,
        }
    }

    /// Whether a compressor or decompressor keeps bytes of earlier
    /// messages that later ones may refer to: state that cannot be dropped
    /// without breaking the stream. A half that resets after every message,
    /// or was never used, keeps none.
    pub(crate) fn holds_context(&self) -> bool {
        let sending = match &self.compressor {
            Compressor::Ready(compress) => !self.compress_reset && compress.total_in() > 0,
            Compressor::Off | Compressor::Pending { .. } => false,
        };
        let receiving = self
            .decompress
            .as_ref()
            .is_some_and(|d| !self.decompress_reset && d.total_in() > 0);
        sending || receiving
    }

    /// Compresses one whole message payload, without the trailing
    /// `00 00 ff ff`. `None` means "send it uncompressed": the payload is
    /// below the threshold, compression would not make it smaller, or the
    /// agreement rules compression out (the first two never apply under
    /// [`DeflateConfig::always_compress`]).
    pub fn compress(&mut self, payload: &[u8]) -> Option<Bytes> {
        if payload.len() < self.threshold && !self.always_compress {
            return None;
        }
        if payload.is_empty() {
            // A flush right after a flush produces nothing, not even the
            // trailer. The single byte 0x00 is an empty stored block once
            // the trailer is removed; the compressor is left as it was.
            let on = !matches!(self.compressor, Compressor::Off);
            return (on && self.always_compress).then(|| Bytes::from_static(&[0x00]));
        }
        let compress = self.compressor.get()?;
        let out = deflate_sync(compress, payload);
        // A reset keeps both windows consistent whatever we send: after it
        // our stream refers only to bytes the peer will also inflate.
        match out {
            Some(out) if self.always_compress || out.len() < payload.len() => {
                if self.compress_reset {
                    compress.reset();
                }
                Some(Bytes::from(out))
            }
            _ => {
                compress.reset();
                None
            }
        }
    }

    /// Inflates the next compressed bytes of a message, appending at most
    /// `room` bytes to `out`. `last` marks input that runs to the end of the
    /// message: once it is consumed, the trailer is restored and the message
    /// completed. See [`Inflated`] for what to do next.
    ///
    /// To enforce a size limit, offer one byte more than the budget left:
    /// output beyond the budget means the message is too large, and no more
    /// than that one byte was produced past it.
    pub fn inflate(
        &mut self,
        input: &[u8],
        last: bool,
        out: &mut Vec<u8>,
        room: usize,
    ) -> Result<Inflated, InflateError> {
        let end = out.len().saturating_add(room);
        let (consumed, drained) = self.run(input, out, end)?;
        if !drained || !last {
            return Ok(Inflated {
                consumed,
                complete: drained,
            });
        }
        if !self.stream_ended {
            // The inflater takes no more of the trailer than it is given.
            debug_assert!(self.trailer_fed <= TRAILER.len());
            let rest = TRAILER.get(self.trailer_fed..).unwrap_or_default();
            let (fed, drained) = self.run(rest, out, end)?;
            self.trailer_fed += fed;
            if !drained {
                return Ok(Inflated {
                    consumed,
                    complete: false,
                });
            }
        }
        if self.stream_ended || self.decompress_reset {
            if let Some(decompress) = self.decompress.as_mut() {
                decompress.reset(false);
            }
        }
        self.stream_ended = false;
        self.trailer_fed = 0;
        Ok(Inflated {
            consumed,
            complete: true,
        })
    }

    /// Feeds `input` to the decompressor, appending to `out` until it is
    /// `end` bytes long. Returns the input consumed and whether the
    /// decompressor is drained: all of `input` consumed with output room to
    /// spare, so that no output is pending inside it.
    fn run(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        end: usize,
    ) -> Result<(usize, bool), InflateError> {
        let mut rest = input;
        loop {
            if self.stream_ended {
                // Nothing may follow a final block within its message.
                return if rest.is_empty() {
                    Ok((input.len(), true))
                } else {
                    Err(InflateError::Corrupt)
                };
            }
            let len = out.len();
            let step = make_room(out, end, input.len());
            if step == 0 {
                return Ok((input.len() - rest.len(), false));
            }
            out.resize(len + step, 0);
            let bits = self.receive_bits;
            let decompress = self
                .decompress
                .get_or_insert_with(|| Decompress::new_with_window_bits(false, bits));
            let (before_in, before_out) = (decompress.total_in(), decompress.total_out());
            let status = decompress.decompress(
                rest,
                out.get_mut(len..).unwrap_or_default(),
                FlushDecompress::Sync,
            );
            let consumed = (decompress.total_in() - before_in) as usize;
            let produced = (decompress.total_out() - before_out) as usize;
            out.truncate(len + produced);
            // zlib consumes at most what it was given; a fallback here would
            // drop compressed input silently.
            debug_assert!(consumed <= rest.len() && produced <= step);
            rest = rest.get(consumed..).unwrap_or_default();
            match status {
                Err(_) => return Err(InflateError::Corrupt),
                // A final block (BFINAL) ends the stream: the message ends
                // with it, and the next one starts a new stream.
                Ok(Status::StreamEnd) => self.stream_ended = true,
                Ok(_) => {
                    if produced < step && rest.is_empty() {
                        return Ok((input.len(), true));
                    }
                    if produced == 0 && consumed == 0 {
                        // Room to write and nothing written: the stream is
                        // stuck.
                        return Err(InflateError::Corrupt);
                    }
                }
            }
        }
    }
}

/// Makes room after `out`'s length for the next decompression step and
/// returns its size: growing geometrically (from a guess based on the
/// compressed size) but never past `end` bytes, and at most
/// [`INFLATE_STEP`] at a time so that the zeroed scratch area stays small
/// when a large buffer receives a little at a time.
fn make_room(out: &mut Vec<u8>, end: usize, compressed: usize) -> usize {
    let len = out.len();
    let left = end.saturating_sub(len);
    if left == 0 {
        return 0;
    }
    if out.capacity() == len {
        let guess = compressed.saturating_mul(4).max(MIN_GROWTH);
        out.reserve_exact(len.max(guess).min(left));
    }
    (out.capacity() - len).min(left).min(INFLATE_STEP)
}

/// Deflates `payload` with a sync flush and strips the trailer.
fn deflate_sync(compress: &mut Compress, payload: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(payload.len() / 2 + 64);
    let start = compress.total_in();
    loop {
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(256));
        }
        let consumed = usize::try_from(compress.total_in() - start).ok()?;
        let rest = payload.get(consumed..)?;
        compress
            .compress_vec(rest, &mut out, FlushCompress::Sync)
            .ok()?;
        let consumed = usize::try_from(compress.total_in() - start).ok()?;
        // Spare room left after a flush means the flush is complete.
        if consumed == payload.len() && out.len() < out.capacity() {
            break;
        }
    }
    let body = out.len().checked_sub(TRAILER.len())?;
    if out.get(body..) != Some(&TRAILER[..]) {
        return None;
    }
    out.truncate(body);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::super::MIN_BITS;
    use super::*;
    use alloc::vec;
    use quickcheck::{quickcheck, TestResult};

    fn pair(params: &DeflateParams, config: &DeflateConfig) -> (Deflate, Deflate) {
        (
            Deflate::new(params, Role::Client, config),
            Deflate::new(params, Role::Server, config),
        )
    }

    /// Why [`inflate_all`] gave up.
    #[derive(Debug, PartialEq, Eq)]
    enum Fail {
        Corrupt,
        TooLarge,
    }

    /// Inflates a whole message in one call, the way a caller enforces a
    /// size limit: one byte of room past it.
    fn inflate_all(codec: &mut Deflate, wire: &[u8], limit: usize) -> Result<Vec<u8>, Fail> {
        let mut out = Vec::new();
        let step = codec
            .inflate(wire, true, &mut out, limit.saturating_add(1))
            .map_err(|InflateError::Corrupt| Fail::Corrupt)?;
        if out.len() > limit {
            return Err(Fail::TooLarge);
        }
        assert_eq!(
            step,
            Inflated {
                consumed: wire.len(),
                complete: true
            }
        );
        Ok(out)
    }

    /// Inflates `input` in pieces of at most `room` bytes, appending them
    /// to `out`, resuming with the unconsumed input after each piece.
    fn inflate_pieces(
        codec: &mut Deflate,
        mut input: &[u8],
        last: bool,
        room: usize,
        out: &mut Vec<u8>,
    ) -> Result<usize, InflateError> {
        let mut calls = 0;
        loop {
            let mut piece = Vec::new();
            let step = codec.inflate(input, last, &mut piece, room)?;
            calls += 1;
            assert!(piece.len() <= room, "{} > {room}", piece.len());
            assert!(step.complete || piece.len() == room, "stopped early");
            out.extend_from_slice(&piece);
            input = &input[step.consumed..];
            if step.complete {
                assert!(input.is_empty());
                return Ok(calls);
            }
        }
    }

    #[test]
    fn every_window_and_takeover_mode_round_trips() {
        let text: Vec<u8> = (0..4000u32)
            .flat_map(|i| {
                alloc::format!("{{\"seq\":{},\"v\":\"{}\"}}", i % 97, i % 13).into_bytes()
            })
            .collect();
        for bits in MIN_BITS..=MAX_BITS {
            for no_takeover in [false, true] {
                let params = DeflateParams {
                    server_no_context_takeover: no_takeover,
                    client_no_context_takeover: no_takeover,
                    server_max_window_bits: Some(bits),
                    client_max_window_bits: Some(bits),
                };
                let config = DeflateConfig::default().threshold(0);
                let (mut client, mut server) = pair(&params, &config);
                for message in [&text[..], &text[..1000], b"", &text[5..7]] {
                    match client.compress(message) {
                        Some(wire) => {
                            assert_ne!(bits, 8);
                            assert_eq!(
                                inflate_all(&mut server, &wire, usize::MAX),
                                Ok(message.to_vec())
                            );
                        }
                        None => {
                            assert!(bits == 8 || message.len() < 16, "{bits} {}", message.len())
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn context_takeover_shrinks_repeated_messages() {
        let (params, config) = (DeflateParams::default(), DeflateConfig::default());
        let message = br#"{"type":"quote","symbol":"ACME","bid":101.25,"ask":101.5}"#;
        let (mut client, mut server) = pair(&params, &config);
        let first = client.compress(message).unwrap();
        let second = client.compress(message).unwrap();
        assert!(
            second.len() < first.len() / 3,
            "{} vs {}",
            second.len(),
            first.len()
        );
        assert_eq!(inflate_all(&mut server, &first, 1 << 20).unwrap(), message);
        assert_eq!(inflate_all(&mut server, &second, 1 << 20).unwrap(), message);

        let no_takeover = DeflateParams {
            client_no_context_takeover: true,
            ..params
        };
        let (mut client, _) = pair(&no_takeover, &config);
        assert_eq!(client.compress(message), client.compress(message));
    }

    #[test]
    fn threshold_and_incompressible_payloads_go_out_plain() {
        let config = DeflateConfig::default().threshold(10);
        let (mut client, mut server) = pair(&DeflateParams::default(), &config);
        assert_eq!(client.compress(b"short"), None);
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let noise: Vec<u8> = (0..512)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 32) as u8
            })
            .collect();
        assert_eq!(client.compress(&noise), None);
        // The reset after the refusal keeps later messages decodable.
        let text = b"hello hello hello hello hello hello";
        let wire = client.compress(text).unwrap();
        assert_eq!(inflate_all(&mut server, &wire, 100).unwrap(), text);
    }

    #[test]
    fn bombs_stop_at_the_limit() {
        let (mut client, mut server) = pair(
            &DeflateParams::default(),
            &DeflateConfig::default().level(9),
        );
        let zeros = vec![0u8; 10 << 20];
        let wire = client.compress(&zeros).unwrap();
        assert!(wire.len() < 20 << 10);
        let mut out = Vec::new();
        let step = server.inflate(&wire, true, &mut out, (1 << 20) + 1);
        // The output stops at the room given, and its buffer never grew
        // past it either.
        assert_eq!(step.map(|s| s.complete), Ok(false));
        assert_eq!(out.len(), (1 << 20) + 1);
        assert!(out.capacity() <= (1 << 20) + 1, "{}", out.capacity());
        // Exactly at the limit is fine.
        let (mut client, mut server) = pair(&DeflateParams::default(), &DeflateConfig::default());
        let wire = client.compress(&zeros[..4096]).unwrap();
        assert_eq!(inflate_all(&mut server, &wire, 4096).unwrap().len(), 4096);
        let wire = client.compress(&zeros[..4097]).unwrap();
        assert_eq!(inflate_all(&mut server, &wire, 4096), Err(Fail::TooLarge));
    }

    #[test]
    fn pieces_resume_with_the_unconsumed_input() {
        let (mut client, mut server) = pair(
            &DeflateParams::default(),
            &DeflateConfig::default().level(9),
        );
        let zeros = vec![0u8; 1 << 20];
        let wire = client.compress(&zeros).unwrap();
        // A bomb: the first 4 KiB piece leaves most of the input unread.
        let mut piece = Vec::new();
        let step = server.inflate(&wire, true, &mut piece, 4096).unwrap();
        assert_eq!(piece.len(), 4096);
        assert!(!step.complete);
        assert!(
            step.consumed < wire.len() / 2,
            "{} of {}",
            step.consumed,
            wire.len()
        );
        let mut out = piece;
        let rest = &wire[step.consumed..];
        let calls = inflate_pieces(&mut server, rest, true, 4096, &mut out).unwrap();
        assert_eq!(calls, 256);
        assert_eq!(out, zeros);
        // The codec is ready for the next message, context kept.
        let text = br#"{"a":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]}"#;
        let wire = client.compress(text).unwrap();
        assert_eq!(inflate_all(&mut server, &wire, 1 << 10).unwrap(), text);
    }

    #[test]
    fn always_compress_sends_every_message_compressed() {
        let config = DeflateConfig::default().always_compress(true);
        let (mut client, mut server) = pair(&DeflateParams::default(), &config);
        let noise: Vec<u8> = (0..512u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        // An empty message right after another one too: the compressor has
        // nothing to flush then.
        for message in [&b""[..], b"hi", &noise, b"", b"", b"hi"] {
            let wire = client.compress(message).expect("compressed");
            assert_eq!(inflate_all(&mut server, &wire, 1 << 10).unwrap(), message);
        }
    }

    /// Whether `wire` is a run of stored deflate blocks (each starts on a
    /// byte boundary, as stored blocks leave it): what a peer with a
    /// 256-byte window can always inflate.
    fn stored_only(mut wire: &[u8]) -> bool {
        while let [header, a, b, c, d, rest @ ..] = wire {
            let (len, nlen) = (u16::from_le_bytes([*a, *b]), u16::from_le_bytes([*c, *d]));
            if *header > 1 || len != !nlen || rest.len() < usize::from(len) {
                return false;
            }
            wire = &rest[usize::from(len)..];
        }
        wire.is_empty()
    }

    #[test]
    fn always_compress_stores_under_an_8_bit_window() {
        let params = DeflateParams {
            client_max_window_bits: Some(8),
            ..DeflateParams::default()
        };
        let text = b"abcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabc".repeat(40);
        let (mut client, _) = pair(&params, &DeflateConfig::default());
        assert_eq!(client.compress(&text), None);
        let config = DeflateConfig::default().always_compress(true);
        let (mut client, mut server) = pair(&params, &config);
        for message in [&text[..], b"", &text[..100], &text] {
            let wire = client.compress(message).expect("compressed");
            // The trailer is stripped: restore it to parse the blocks.
            let whole = [&wire[..], &TRAILER[..]].concat();
            assert!(stored_only(&whole), "{wire:02x?}");
            assert_eq!(inflate_all(&mut server, &wire, 1 << 12).unwrap(), message);
        }
        // The parser sees through a compressed stream.
        let (mut client, _) = pair(&DeflateParams::default(), &config);
        assert!(!stored_only(
            &[&client.compress(&text).unwrap()[..], &TRAILER[..]].concat()
        ));
    }

    #[test]
    fn data_after_a_final_block_is_corrupt() {
        let mut compress = Compress::new_with_window_bits(Compression::default(), false, 15);
        let mut wire = Vec::with_capacity(128);
        compress
            .compress_vec(b"final block", &mut wire, FlushCompress::Finish)
            .unwrap();
        wire.push(0x00);
        let (_, mut server) = pair(&DeflateParams::default(), &DeflateConfig::default());
        assert_eq!(inflate_all(&mut server, &wire, 100), Err(Fail::Corrupt));
    }

    #[test]
    fn corrupt_streams_are_errors() {
        let (_, mut server) = pair(&DeflateParams::default(), &DeflateConfig::default());
        // BTYPE 11 is reserved.
        assert_eq!(
            inflate_all(&mut server, &[0xff, 0xff, 0xff], 1 << 20),
            Err(Fail::Corrupt)
        );
    }

    #[test]
    fn final_blocks_are_accepted() {
        // A peer may end a message with BFINAL set instead of a sync flush.
        let mut compress = Compress::new_with_window_bits(Compression::default(), false, 15);
        let mut wire = Vec::with_capacity(128);
        compress
            .compress_vec(b"final block", &mut wire, FlushCompress::Finish)
            .unwrap();
        let (_, mut server) = pair(&DeflateParams::default(), &DeflateConfig::default());
        assert_eq!(
            inflate_all(&mut server, &wire, 100).unwrap(),
            b"final block"
        );
        let (mut client, _) = pair(
            &DeflateParams::default(),
            &DeflateConfig::default().threshold(0),
        );
        let next = client
            .compress(b"next, next, next, next, next, next")
            .unwrap();
        assert_eq!(
            inflate_all(&mut server, &next, 100).unwrap(),
            b"next, next, next, next, next, next"
        );
    }

    quickcheck! {

        fn split_inflate_matches_whole(messages: Vec<Vec<u8>>, cuts: Vec<usize>) -> TestResult {
            let config = DeflateConfig::default().threshold(0);
            let (mut client, mut whole) = pair(&DeflateParams::default(), &config);
            let (_, mut split) = pair(&DeflateParams::default(), &config);
            for (i, message) in messages.iter().enumerate() {
                let Some(wire) = client.compress(message) else { continue };
                let expected = inflate_all(&mut whole, &wire, usize::MAX);
                let mut out = Vec::new();
                let cut = cuts.get(i).map_or(0, |c| c % (wire.len() + 1));
                let (a, b) = wire.split_at(cut);
                let got = split
                    .inflate(a, false, &mut out, usize::MAX)
                    .and_then(|_| split.inflate(b, true, &mut out, usize::MAX))
                    .map(|_| out);
                if got.as_ref().ok() != expected.as_ref().ok() || got.as_deref() != Ok(&message[..]) {
                    return TestResult::failed();
                }
            }
            TestResult::passed()
        }

        fn pieces_match_whole(messages: Vec<Vec<u8>>, cuts: Vec<usize>, room: u8) -> bool {
            let room = usize::from(room) + 1;
            let config = DeflateConfig::default().threshold(0);
            let (mut client, mut server) = pair(&DeflateParams::default(), &config);
            for (i, message) in messages.iter().enumerate() {
                // Repetition makes pieces stop mid-match and mid-trailer.
                let message = message.repeat(3);
                let Some(wire) = client.compress(&message) else { continue };
                let cut = cuts.get(i).map_or(0, |c| c % (wire.len() + 1));
                let (a, b) = wire.split_at(cut);
                let mut out = Vec::new();
                let done = inflate_pieces(&mut server, a, false, room, &mut out)
                    .and_then(|_| inflate_pieces(&mut server, b, true, room, &mut out));
                if done.is_err() || out != message {
                    return false;
                }
            }
            true
        }

        fn garbage_never_panics(chunks: Vec<Vec<u8>>) -> bool {
            let (_, mut server) = pair(&DeflateParams::default(), &DeflateConfig::default());
            let mut out = Vec::new();
            for chunk in &chunks {
                if server.inflate(chunk, true, &mut out, 1 << 16).is_err() {
                    server = pair(&DeflateParams::default(), &DeflateConfig::default()).1;
                }
                if out.len() > 1 << 16 {
                    return false;
                }
                out.clear();
            }
            true
        }
    }
}
