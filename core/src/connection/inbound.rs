//! The inbound path: bytes → frames → messages.
//!
//! Frames are unmasked and text is validated as their bytes arrive, not when
//! a frame completes, so invalid UTF-8 fails the connection as soon as it is
//! certain and a large frame is never walked twice. In whole-message mode a
//! single-frame message is handed out as a slice of the input buffer without
//! a copy (and, when it is all there, straight onto the event queue);
//! fragments are joined once. A large frame spread over reads handed over
//! as buffers of their own is gathered into one buffer: a read that lands
//! right behind the bytes gathered so far (in the room the connection sets
//! aside for the frame's rest, see `Connection::take_read_buffer`) joins
//! them without a copy and is unmasked and validated in place; any other
//! read is copied in, unmasked and validated block by block as it is.
//!
//! Compressed messages are inflated as their bytes arrive. In incremental
//! mode each inflated piece is at most [`INFLATE_PIECE`] bytes: compressed
//! input that would inflate to more stays in the input buffer until the
//! piece before it has been taken, so a small frame never turns into a
//! large allocation.

use alloc::vec::Vec;
use bytes::{Buf, Bytes, BytesMut};

use crate::close::CloseFrame;
use crate::config::{Config, ReceiveMode};
use crate::error::ProtocolError;
use crate::frame::{apply_mask, FrameHeader, OpCode, Rsv, MAX_HEADER_LEN};
use crate::message::{Message, MessageKind};
use crate::utf8::{self, Utf8Bytes, Utf8Validator};

use super::codec::Codec;
use super::events::EventQueue;
use super::{Event, Role};

/// The largest [`Item::MessageData`] piece inflated from a compressed
/// message in incremental mode.
pub(super) const INFLATE_PIECE: usize = 64 * 1024;

/// Data frames at least this large whose payload is not all in the
/// buffer are gathered into a buffer of their own, reserved once and
/// filled as their bytes arrive. Smaller ones are completed in the input
/// buffer: a reservation of their own would cost more than the copy.
const GATHER_MIN: u64 = 4 << 10;

/// Frames at least this large that are appended to the input buffer (not
/// gathered) have the buffer reserved in one step. Smaller ones usually
/// arrive in a read or two, and a fresh reservation would cost more than
/// it saves.
const RESERVE_WHOLE: u64 = 1 << 20;

/// A gathered frame whose rest is at least this long gets room of its own
/// for that rest, which the reader is offered to read into (what came with
/// the header is copied to its front). A shorter rest likely lands right
/// behind its start in the reader's window anyway, where it joins without
/// a copy; and the extra read that stopping at the frame's end costs is
/// worth more than the copy a short rest saves.
///
/// Past a few KiB the copy costs more than the read. Besides its length,
/// where the allocator put the two buffers matters: on the machine of the
/// benchmarks, a 64 KiB copy whose destination lies 1 to 15 bytes past its
/// source, modulo 4 KiB, runs at 3.5 GB/s instead of 45. An echo of
/// 64 KiB messages, one at a time over loopback, took 36 % less time with
/// the threshold here than at 64 KiB, where the rest of every such
/// message was copied.
pub(super) const ROOM_MIN: u64 = 16 << 10;

/// Bytes unmasked and then validated in one step: small enough that the
/// block is still in the L1 cache when it is validated, large enough that
/// the per-step overhead disappears. See the design notes for how it was
/// chosen.
const BLOCK: usize = 16 << 10;

/// One step of progress on the inbound stream.
#[derive(Debug)]
pub(super) enum Item {
    Message(Message),
    MessageStart(MessageKind),
    MessageData(Bytes),
    MessageEnd,
    Ping(Bytes),
    Pong(Bytes),
    Close(CloseFrame),
}

/// The frame whose payload is being received.
#[derive(Debug)]
struct CurrentFrame {
    header: FrameHeader,
    /// Payload bytes not yet taken out of the buffer.
    remaining: u64,
    /// Payload bytes taken out already (the mask offset of the buffer's start).
    taken: u64,
    /// Bytes at the start of the buffer already unmasked and validated.
    processed: usize,
    /// A large payload that did not arrive with its header: gathered here,
    /// unmasked and validated as its bytes arrive, so that they are walked
    /// once, while they are in the cache.
    gathered: Option<BytesMut>,
}

/// The data message being received.
#[derive(Debug)]
struct PartialMessage {
    kind: MessageKind,
    /// Payload bytes on the wire so far.
    len: u64,
    utf8: Option<Utf8Validator>,
    body: Body,
    /// Whether the message is compressed (RSV1 on its first frame).
    compressed: bool,
    /// Whole mode, compressed: the inflated payload so far.
    inflated: Vec<u8>,
    /// Compressed: inflated bytes so far, for the message limit.
    inflated_len: u64,
    /// Delivered in pieces as it arrives.
    incremental: bool,
}

impl PartialMessage {
    /// Inflates the next compressed bytes of the message, validating text
    /// as it appears and bounding the output by the message limit `max`.
    /// A whole message grows in place; an incremental one yields a piece of
    /// at most [`INFLATE_PIECE`] bytes (`resume`: the previous step filled
    /// one, so this one likely will too).
    fn inflate(
        &mut self,
        input: &[u8],
        last: bool,
        max: u64,
        codec: &mut Codec,
        resume: bool,
    ) -> Result<InflateStep, ProtocolError> {
        // One byte past the budget tells "exactly full" from "too large".
        let budget = max.saturating_sub(self.inflated_len).saturating_add(1);
        let room = usize::try_from(budget).unwrap_or(usize::MAX);
        let mut piece = Vec::new();
        let (out, room) = if self.incremental {
            let room = room.min(INFLATE_PIECE);
            if resume {
                piece.reserve_exact(room);
            }
            (&mut piece, room)
        } else {
            (&mut self.inflated, room)
        };
        let start = out.len();
        let step = codec
            .inflate(input, last, out, room)
            .map_err(|_| ProtocolError::InvalidCompressedData)?;
        // The codec appends; it never shortens what it was given.
        debug_assert!(out.len() >= start);
        let fresh = out.get(start..).unwrap_or_default();
        self.inflated_len += fresh.len() as u64;
        if self.inflated_len > max {
            return Err(ProtocolError::MessageTooLarge {
                len: self.inflated_len,
                max,
            });
        }
        if let Some(utf8) = self.utf8.as_mut() {
            utf8.feed(fresh).map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        Ok(InflateStep {
            consumed: step.consumed,
            complete: step.complete,
            piece: (!piece.is_empty()).then(|| Bytes::from(piece)),
        })
    }
}

/// Fragments received so far, joined lazily: one fragment needs no copy.
#[derive(Debug, Default)]
enum Body {
    #[default]
    Empty,
    One(Bytes),
    Many(BytesMut),
}

impl Body {
    fn push(&mut self, payload: Bytes) {
        *self = match core::mem::take(self) {
            Body::Empty => Body::One(payload),
            Body::One(first) => {
                let mut joined = BytesMut::with_capacity(first.len() + payload.len());
                joined.extend_from_slice(&first);
                joined.extend_from_slice(&payload);
                Body::Many(joined)
            }
            Body::Many(mut joined) => {
                joined.extend_from_slice(&payload);
                Body::Many(joined)
            }
        };
    }

    fn into_bytes(self) -> Bytes {
        match self {
            Body::Empty => Bytes::new(),
            Body::One(bytes) => bytes,
            Body::Many(joined) => joined.freeze(),
        }
    }
}

#[derive(Debug)]
pub(super) struct Inbound {
    buf: BytesMut,
    /// Input that arrived while `buf` still held the start of a frame.
    /// Only what completes that frame is copied from here into `buf`; the
    /// rest becomes `buf` without a copy once `buf` is empty, so a read
    /// that does not start on a frame boundary costs a copy of a frame's
    /// tail, not of the whole read.
    more: BytesMut,
    /// A violation found while input was being taken in, reported by the
    /// next decoding step.
    failed: Option<ProtocolError>,
    /// Input arrives in buffers of its own, so a large frame that spans
    /// them is gathered. Input copied in from borrowed slices is appended
    /// to `buf` instead, where a frame is completed without a second copy.
    gathers: bool,
    frame: Option<CurrentFrame>,
    message: Option<PartialMessage>,
    /// RSV bits that negotiated extensions have claimed, valid on the first
    /// frame of a data message only.
    allowed_rsv: Rsv,
    /// An item decoded together with the one just returned.
    queued: Option<Item>,
    /// Binary messages are envelopes and arrive whole whatever the
    /// receive mode.
    whole_binary: bool,
    /// The last inflate step of a compressed message stopped at the piece
    /// size: more output is due without more input.
    piece_full: bool,
    /// The room behind the frame being gathered, until the reader takes it
    /// to read the frame's rest into.
    room: Option<BytesMut>,
}

/// The outcome of one inflate step of a compressed message.
struct InflateStep {
    consumed: usize,
    complete: bool,
    piece: Option<Bytes>,
}

impl Inbound {
    pub(super) fn new() -> Self {
        Inbound {
            buf: BytesMut::new(),
            more: BytesMut::new(),
            failed: None,
            gathers: false,
            frame: None,
            message: None,
            allowed_rsv: Rsv::NONE,
            queued: None,
            whole_binary: false,
            piece_full: false,
            room: None,
        }
    }

    /// The room set aside for the rest of the frame being gathered, once.
    pub(super) fn take_room(&mut self) -> Option<BytesMut> {
        self.room.take()
    }

    /// Whether a compressed message is being received in pieces. The
    /// connection decodes no further while one of its pieces waits to be
    /// taken, so that compressed input waits compressed.
    pub(super) fn inflating(&self) -> bool {
        self.message
            .as_ref()
            .is_some_and(|m| m.compressed && m.incremental)
    }

    /// Makes binary messages arrive whole (an envelope parses them).
    pub(super) fn set_whole_binary(&mut self, whole: bool) {
        self.whole_binary = whole;
    }

    /// Lets the first frame of a data message carry `rsv` (a negotiated
    /// extension's bits).
    #[cfg_attr(not(feature = "deflate"), allow(dead_code))]
    pub(super) fn allow_rsv(&mut self, rsv: Rsv) {
        self.allowed_rsv = rsv;
    }

    pub(super) fn buffer(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Input bytes held: buffered, waiting behind the buffer, and gathered
    /// for a frame that is not complete yet.
    pub(super) fn buffered(&self) -> usize {
        let gathered = self
            .frame
            .as_ref()
            .and_then(|f| f.gathered.as_ref())
            .map_or(0, BytesMut::len);
        self.buf.len() + self.more.len() + gathered
    }

    /// Takes input read into a buffer of its own while frames are being
    /// decoded. When nothing is buffered the buffer itself becomes the input
    /// buffer, or, while a large frame is being gathered, the frame's part
    /// of it is gathered at once; otherwise it waits behind the buffered
    /// bytes.
    pub(super) fn push_buf(&mut self, mut bytes: BytesMut) {
        if !self.more.is_empty() {
            self.more.extend_from_slice(&bytes);
        } else if !self.buf.is_empty() {
            self.more = bytes;
        } else {
            self.gathers = true;
            self.gather_input(&mut bytes);
            // A buffer taken in whole is dropped here, so that the reader
            // can reuse it for its next read.
            if !bytes.is_empty() {
                self.buf = bytes;
            }
        }
    }

    /// Takes input read into a borrowed slice while frames are being
    /// decoded: copied once, into the frame being gathered or the buffer.
    pub(super) fn push_slice(&mut self, bytes: &[u8]) {
        if !self.more.is_empty() {
            self.more.extend_from_slice(bytes);
            return;
        }
        self.gathers = false;
        let taken = if self.buf.is_empty() {
            self.gather_slice(bytes)
        } else {
            0
        };
        self.buf
            .extend_from_slice(bytes.get(taken..).unwrap_or_default());
    }

    /// Gathers the start of `input` into the frame being gathered, if one
    /// is (and nothing is buffered ahead of it), splitting off what it
    /// takes. A violation is kept for the next decoding step; the bytes
    /// after it are never looked at.
    fn gather_input(&mut self, input: &mut BytesMut) {
        let n = self.gatherable(input.len());
        if n > 0 {
            self.gather_piece(Piece::Owned(input.split_to(n)));
        }
        if self.failed.is_some() {
            input.clear();
        }
    }

    /// [`Inbound::gather_input`] for a borrowed slice: the bytes taken are
    /// copied in. Returns how many it took.
    fn gather_slice(&mut self, input: &[u8]) -> usize {
        let n = self.gatherable(input.len());
        if n > 0 {
            self.gather_piece(Piece::Borrowed(input.get(..n).unwrap_or_default()));
        }
        if self.failed.is_some() {
            input.len()
        } else {
            n
        }
    }

    /// How many of `len` new input bytes belong to the frame being
    /// gathered: none when no frame is, or a violation is pending.
    fn gatherable(&self, len: usize) -> usize {
        match &self.frame {
            Some(frame) if frame.gathered.is_some() && self.failed.is_none() => {
                usize::try_from(frame.remaining)
                    .unwrap_or(usize::MAX)
                    .min(len)
            }
            _ => 0,
        }
    }

    /// Adds `piece`, the next bytes of the frame being gathered, to it; a
    /// violation is kept for the next decoding step.
    fn gather_piece(&mut self, piece: Piece<'_>) {
        let Some(frame) = self.frame.as_mut() else {
            return;
        };
        let Some(gathered) = frame.gathered.as_mut() else {
            return;
        };
        let n = piece.len() as u64;
        let rest = frame.remaining.saturating_sub(n);
        let utf8 = self.message.as_mut().and_then(|m| m.utf8.as_mut());
        let mask = frame.header.mask;
        match append_piece(gathered, piece, rest, mask, utf8, &mut self.room) {
            Ok(()) => {
                frame.remaining = rest;
                frame.taken += n;
            }
            Err(error) => self.failed = Some(error),
        }
    }

    /// Moves waiting input into the buffer: all of it when the buffer is
    /// empty (no copy), otherwise only what completes the header or frame
    /// at the front of the buffer. Returns whether anything moved.
    fn refill(&mut self) -> bool {
        if self.more.is_empty() {
            return false;
        }
        if self.buf.is_empty() {
            let mut more = core::mem::take(&mut self.more);
            self.gather_input(&mut more);
            if !more.is_empty() {
                self.buf = more;
            }
            return true;
        }
        let missing = match &self.frame {
            Some(frame) => usize::try_from(frame.remaining)
                .unwrap_or(usize::MAX)
                .saturating_sub(self.buf.len()),
            None => MAX_HEADER_LEN.saturating_sub(self.buf.len()),
        };
        let n = missing.max(1).min(self.more.len());
        self.buf
            .extend_from_slice(self.more.get(..n).unwrap_or_default());
        self.more.advance(n);
        true
    }

    /// Whether a frame is partly read or a decoded item waits: input the
    /// connection has taken but not finished with.
    pub(super) fn holds_input(&self) -> bool {
        !self.buf.is_empty()
            || !self.more.is_empty()
            || self.frame.is_some()
            || self.queued.is_some()
    }

    /// Whether a data message is partly received (a fragment or more).
    pub(super) fn message_in_progress(&self) -> bool {
        self.message.is_some()
    }

    /// Frees everything; used once the connection stops reading.
    pub(super) fn clear(&mut self) {
        self.buf = BytesMut::new();
        self.more = BytesMut::new();
        self.failed = None;
        self.frame = None;
        self.message = None;
        self.queued = None;
        self.piece_full = false;
        self.room = None;
    }

    /// Decodes the next item from the buffered bytes, or `None` when more
    /// input is needed. Messages of one frame that arrive whole are pushed
    /// onto `direct`, when given, and decoding goes on: the queue is where
    /// they would end up, and each layer they are not moved through is a
    /// copy saved.
    pub(super) fn next_item(
        &mut self,
        config: &Config,
        role: Role,
        mut codec: Option<&mut Codec>,
        mut direct: Option<&mut EventQueue>,
    ) -> Result<Option<Item>, ProtocolError> {
        if let Some(item) = self.queued.take() {
            return Ok(Some(item));
        }
        loop {
            if let Some(error) = self.failed.take() {
                return Err(error);
            }
            let Some(frame) = self.frame.as_mut() else {
                let Some((header, len)) = FrameHeader::decode(&self.buf)? else {
                    if self.refill() {
                        continue;
                    }
                    return Ok(None);
                };
                self.check_header(&header, config, role)?;
                if let Some(message) = self.whole_message(&header, len, config)? {
                    let Some(events) = direct.as_deref_mut() else {
                        return Ok(Some(Item::Message(message)));
                    };
                    events.push_back(Event::Message(message));
                    continue;
                }
                self.buf.advance(len);
                if let Some(item) = self.begin_frame(header, config) {
                    return Ok(Some(item));
                }
                continue;
            };
            let is_data = !frame.header.opcode.is_control();
            let compressed = is_data && self.message.as_ref().is_some_and(|m| m.compressed);
            let incremental = self.message.as_ref().is_some_and(|m| m.incremental);

            let available = usize::try_from(frame.remaining)
                .unwrap_or(usize::MAX)
                .min(self.buf.len());
            if frame.gathered.is_none()
                && self.gathers
                && is_data
                && !compressed
                && !incremental
                && frame.processed == 0
                && frame.remaining >= GATHER_MIN
                && (available as u64) < frame.remaining
            {
                let rest = frame.remaining - available as u64;
                let mut gathered = BytesMut::new();
                if rest >= ROOM_MIN {
                    // Room for the whole payload, what is here copied to its
                    // front and the rest offered to the reader: its reads
                    // then join the payload where they land.
                    let len = usize::try_from(frame.remaining).unwrap_or(0);
                    gathered.reserve(len);
                    let utf8 = self.message.as_mut().and_then(|m| m.utf8.as_mut());
                    let src = self.buf.get(..available).unwrap_or_default();
                    gather(&mut gathered, src, frame.header.mask, utf8)?;
                    self.buf.advance(available);
                    frame.remaining = rest;
                    frame.taken += available as u64;
                    self.room = Some(gathered.split_off(available));
                }
                frame.gathered = Some(gathered);
            }
            if let Some(gathered) = frame.gathered.as_mut() {
                let n = usize::try_from(frame.remaining)
                    .unwrap_or(usize::MAX)
                    .min(self.buf.len());
                if n > 0 {
                    let piece = self.buf.split_to(n);
                    let rest = frame.remaining - n as u64;
                    let utf8 = self.message.as_mut().and_then(|m| m.utf8.as_mut());
                    let mask = frame.header.mask;
                    let piece = Piece::Owned(piece);
                    append_piece(gathered, piece, rest, mask, utf8, &mut self.room)?;
                    frame.remaining = rest;
                    frame.taken += n as u64;
                }
                if frame.remaining > 0 {
                    if self.refill() {
                        continue;
                    }
                    return Ok(None);
                }
                let payload = core::mem::take(gathered).freeze();
                let header = frame.header;
                self.frame = None;
                self.room = None;
                if let Some(item) = self.finish_frame(header, payload, incremental)? {
                    return Ok(Some(item));
                }
                continue;
            }
            if available > frame.processed {
                let fresh = self
                    .buf
                    .get_mut(frame.processed..available)
                    .unwrap_or_default();
                // Compressed text is validated after inflating.
                let utf8 = if is_data && !compressed {
                    self.message.as_mut().and_then(|m| m.utf8.as_mut())
                } else {
                    None
                };
                let offset = frame.taken as usize + frame.processed;
                unmask_and_validate(fresh, frame.header.mask, offset, utf8)?;
                frame.processed = available;
            }

            if compressed {
                // Compressed bytes are consumed as they are inflated: only
                // the inflated output is kept, bounded as it grows, and
                // input left over when a piece is full waits in the buffer.
                let last = frame.header.fin && available as u64 == frame.remaining;
                let codec = codec.as_deref_mut().ok_or(ProtocolError::ReservedBits)?;
                let message = self
                    .message
                    .as_mut()
                    .ok_or(ProtocolError::UnexpectedContinuation)?;
                let input = self.buf.get(..available).unwrap_or_default();
                let step = message.inflate(
                    input,
                    last,
                    config.max_message_size,
                    codec,
                    self.piece_full,
                )?;
                self.buf.advance(step.consumed);
                frame.remaining -= step.consumed as u64;
                frame.taken += step.consumed as u64;
                frame.processed -= step.consumed;
                self.piece_full = !step.complete;
                let frame_done = step.complete && frame.remaining == 0;
                if frame_done {
                    self.frame = None;
                }
                let piece = step.piece.map(Item::MessageData);
                if step.complete && last {
                    let end = self.finish_compressed()?;
                    return Ok(match piece {
                        Some(piece) => {
                            self.queued = end;
                            Some(piece)
                        }
                        None => end,
                    });
                }
                if piece.is_some() {
                    return Ok(piece);
                }
                if !frame_done {
                    // All that was buffered was inflated: the frame needs
                    // more input.
                    if step.complete && self.refill() {
                        continue;
                    }
                    return Ok(None);
                }
                continue;
            }
            if incremental && available > 0 && is_data {
                let piece = self.buf.split_to(available).freeze();
                frame.remaining -= available as u64;
                frame.taken += available as u64;
                frame.processed = 0;
                return Ok(Some(Item::MessageData(piece)));
            }
            if (available as u64) < frame.remaining {
                if self.refill() {
                    continue;
                }
                return Ok(None);
            }
            let payload = self.buf.split_to(available).freeze();
            let header = frame.header;
            self.frame = None;
            if let Some(item) = self.finish_frame(header, payload, incremental)? {
                return Ok(Some(item));
            }
        }
    }

    /// Completes the compressed message whose last bytes were just
    /// inflated: the whole message, or the end of its pieces.
    fn finish_compressed(&mut self) -> Result<Option<Item>, ProtocolError> {
        let Some(mut message) = self.message.take() else {
            return Ok(None);
        };
        if let Some(utf8) = message.utf8.as_mut() {
            utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        if message.incremental {
            return Ok(Some(Item::MessageEnd));
        }
        let body = Bytes::from(message.inflated);
        Ok(Some(Item::Message(match message.kind {
            MessageKind::Text => Message::Text(Utf8Bytes::from_validated(body)),
            MessageKind::Binary => Message::Binary(body),
        })))
    }

    /// The rules for a header that depend on the connection: who masks,
    /// which RSV bits are claimed, limits, and fragmentation state.
    fn check_header(
        &self,
        header: &FrameHeader,
        config: &Config,
        role: Role,
    ) -> Result<(), ProtocolError> {
        let allowed = match header.opcode {
            OpCode::Text | OpCode::Binary => self.allowed_rsv,
            _ => Rsv::NONE,
        };
        if !header.rsv.is_subset_of(allowed) {
            return Err(ProtocolError::ReservedBits);
        }
        match (role, header.mask.is_some()) {
            (Role::Server, false) => return Err(ProtocolError::UnmaskedFrame),
            (Role::Client, true) => return Err(ProtocolError::MaskedFrame),
            _ => {}
        }
        if header.opcode.is_control() {
            return Ok(());
        }
        if header.payload_len > config.max_frame_size {
            return Err(ProtocolError::FrameTooLarge {
                len: header.payload_len,
                max: config.max_frame_size,
            });
        }
        let so_far = match (header.opcode, &self.message) {
            (OpCode::Continuation, None) => return Err(ProtocolError::UnexpectedContinuation),
            (OpCode::Continuation, Some(message)) => message.len,
            (_, Some(_)) => return Err(ProtocolError::ExpectedContinuation),
            (_, None) => 0,
        };
        let total = so_far.saturating_add(header.payload_len);
        if total > config.max_message_size {
            return Err(ProtocolError::MessageTooLarge {
                len: total,
                max: config.max_message_size,
            });
        }
        Ok(())
    }

    /// The common case, taken straight through: a message of one
    /// uncompressed frame, received whole, that is all in the buffer (its
    /// header of `header_len` bytes included). No frame or message state
    /// is set up for it; the header was checked.
    #[inline]
    fn whole_message(
        &mut self,
        header: &FrameHeader,
        header_len: usize,
        config: &Config,
    ) -> Result<Option<Message>, ProtocolError> {
        let text = match header.opcode {
            OpCode::Text => true,
            OpCode::Binary => false,
            _ => return Ok(None),
        };
        let incremental =
            config.receive_mode == ReceiveMode::Incremental && (text || !self.whole_binary);
        let in_buffer = self.buf.len().saturating_sub(header_len) as u64 >= header.payload_len;
        if !header.fin || !header.rsv.is_empty() || incremental || !in_buffer {
            return Ok(None);
        }
        let len = header.payload_len as usize;
        let payload = self
            .buf
            .get_mut(header_len..header_len + len)
            .unwrap_or_default();
        if text && len <= BLOCK {
            // Small enough to stay in the cache between the two passes.
            if let Some(key) = header.mask {
                apply_mask(payload, key, 0);
            }
            utf8::validate(payload).map_err(|_| ProtocolError::InvalidUtf8)?;
        } else if text {
            let mut utf8 = Utf8Validator::default();
            unmask_and_validate(payload, header.mask, 0, Some(&mut utf8))?;
            utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
        } else if let Some(key) = header.mask {
            apply_mask(payload, key, 0);
        }
        self.buf.advance(header_len);
        let payload = self.buf.split_to(len).freeze();
        Ok(Some(if text {
            Message::Text(Utf8Bytes::from_validated(payload))
        } else {
            Message::Binary(payload)
        }))
    }

    fn begin_frame(&mut self, header: FrameHeader, config: &Config) -> Option<Item> {
        self.frame = Some(CurrentFrame {
            header,
            remaining: header.payload_len,
            taken: 0,
            processed: 0,
            gathered: None,
        });
        let kind = match header.opcode {
            OpCode::Text => MessageKind::Text,
            OpCode::Binary => MessageKind::Binary,
            OpCode::Continuation => {
                if let Some(message) = self.message.as_mut() {
                    message.len += header.payload_len;
                }
                return None;
            }
            OpCode::Close | OpCode::Ping | OpCode::Pong => return None,
        };
        let incremental = config.receive_mode == ReceiveMode::Incremental
            && !(kind == MessageKind::Binary && self.whole_binary);
        self.message = Some(PartialMessage {
            kind,
            len: header.payload_len,
            utf8: (kind == MessageKind::Text).then(Utf8Validator::default),
            body: Body::Empty,
            compressed: header.rsv == Rsv::RSV1,
            inflated: Vec::new(),
            inflated_len: 0,
            incremental,
        });
        if !self.gathers && !incremental && header.rsv != Rsv::RSV1 {
            self.reserve_frame(header.payload_len);
        }
        incremental.then_some(Item::MessageStart(kind))
    }

    /// Grows the buffer once to hold a large frame that is received
    /// whole, rather than doubling (and copying what it holds) as the
    /// frame's bytes arrive. The length was checked against the frame
    /// limit; the pages of a large reservation only become resident as
    /// bytes land.
    fn reserve_frame(&mut self, payload_len: u64) {
        if payload_len < RESERVE_WHOLE {
            return;
        }
        let need = usize::try_from(payload_len).unwrap_or(0);
        if let Some(more) = need.checked_sub(self.buf.len()) {
            self.buf.reserve(more);
        }
    }

    fn finish_frame(
        &mut self,
        header: FrameHeader,
        payload: Bytes,
        incremental: bool,
    ) -> Result<Option<Item>, ProtocolError> {
        match header.opcode {
            OpCode::Ping => return Ok(Some(Item::Ping(payload))),
            OpCode::Pong => return Ok(Some(Item::Pong(payload))),
            OpCode::Close => return CloseFrame::parse(&payload).map(|f| Some(Item::Close(f))),
            OpCode::Text | OpCode::Binary | OpCode::Continuation => {}
        }
        let Some(message) = self.message.as_mut() else {
            return Err(ProtocolError::UnexpectedContinuation);
        };
        if !header.fin {
            if !payload.is_empty() {
                message.body.push(payload);
            }
            return Ok(None);
        }
        // Taken apart in place, and a message of one frame never enters
        // `body`: moving these values around would cost more than a small
        // message.
        if let Some(utf8) = message.utf8.as_mut() {
            utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        let kind = message.kind;
        let body = if matches!(message.body, Body::Empty) {
            payload
        } else {
            let mut body = core::mem::take(&mut message.body);
            if !payload.is_empty() {
                body.push(payload);
            }
            body.into_bytes()
        };
        self.message = None;
        if incremental {
            return Ok(Some(Item::MessageEnd));
        }
        Ok(Some(Item::Message(match kind {
            MessageKind::Text => Message::Text(Utf8Bytes::from_validated(body)),
            MessageKind::Binary => Message::Binary(body),
        })))
    }
}

/// Unmasks `buf` (which starts `offset` bytes into the payload) and
/// validates it as text when `utf8` is given, one [`BLOCK`] at a time, so
/// that each block is validated while it is still in the cache.
fn unmask_and_validate(
    buf: &mut [u8],
    mask: Option<[u8; 4]>,
    offset: usize,
    utf8: Option<&mut Utf8Validator>,
) -> Result<(), ProtocolError> {
    match (mask, utf8) {
        (None, None) => {}
        (Some(key), None) => apply_mask(buf, key, offset),
        (None, Some(utf8)) => utf8.feed(buf).map_err(|_| ProtocolError::InvalidUtf8)?,
        (Some(key), Some(utf8)) => {
            let mut offset = offset;
            for block in buf.chunks_mut(BLOCK) {
                apply_mask(block, key, offset);
                utf8.feed(block).map_err(|_| ProtocolError::InvalidUtf8)?;
                offset += block.len();
            }
        }
    }
    Ok(())
}

/// The next bytes of a gathered frame, as they arrived.
enum Piece<'a> {
    /// Read into a buffer of their own, which may join the payload where
    /// it lies.
    Owned(BytesMut),
    /// Lent by the caller: copied in.
    Borrowed(&'a [u8]),
}

impl Piece<'_> {
    fn len(&self) -> usize {
        match self {
            Piece::Owned(bytes) => bytes.len(),
            Piece::Borrowed(bytes) => bytes.len(),
        }
    }
}

/// Appends `piece`, the next bytes of a masked payload with `rest` more to
/// come, to `dst`, which holds the payload so far. A piece read right
/// behind `dst` (into the room split off it) joins it without a copy and is
/// unmasked and validated in place, while it is still in the cache; any
/// other is copied in by [`gather`], with `room`, if the reader left it,
/// joined back first and room made once for the rest.
fn append_piece(
    dst: &mut BytesMut,
    piece: Piece<'_>,
    rest: u64,
    mask: Option<[u8; 4]>,
    utf8: Option<&mut Utf8Validator>,
    room: &mut Option<BytesMut>,
) -> Result<(), ProtocolError> {
    let start = dst.len();
    let piece = match piece {
        Piece::Owned(owned) if dst.is_empty() || adjacent(dst, &owned) => {
            // `unsplit` joins two adjacent parts of one allocation in place
            // (and copies only if they merely happen to be adjacent).
            dst.unsplit(owned);
            let fresh = dst.get_mut(start..).unwrap_or_default();
            return unmask_and_validate(fresh, mask, start, utf8);
        }
        other => other,
    };
    if let Some(room) = room.take_if(|room| adjacent(dst, room)) {
        dst.unsplit(room);
    }
    let src = match &piece {
        Piece::Owned(bytes) => bytes.as_ref(),
        Piece::Borrowed(bytes) => bytes,
    };
    let need = usize::try_from(rest)
        .unwrap_or(usize::MAX)
        .saturating_add(src.len());
    if dst.capacity() - start < need {
        dst.reserve(need);
    }
    gather(dst, src, mask, utf8)
}

/// Whether `next` starts where `dst` ends.
fn adjacent(dst: &BytesMut, next: &BytesMut) -> bool {
    core::ptr::eq(dst.as_ptr().wrapping_add(dst.len()), next.as_ptr())
}

/// Appends `src`, the next bytes of a masked payload, to `dst`, which holds
/// the payload so far, unmasking and validating each [`BLOCK`] right after
/// it is copied: the bytes are read from memory once, and the second and
/// third passes find them in the cache.
fn gather(
    dst: &mut BytesMut,
    src: &[u8],
    mask: Option<[u8; 4]>,
    mut utf8: Option<&mut Utf8Validator>,
) -> Result<(), ProtocolError> {
    for block in src.chunks(BLOCK) {
        let start = dst.len();
        dst.extend_from_slice(block);
        let copied = dst.get_mut(start..).unwrap_or_default();
        unmask_and_validate(copied, mask, start, utf8.as_deref_mut())?;
    }
    Ok(())
}

#[cfg(all(test, feature = "deflate"))]
mod tests {
    use alloc::vec::Vec;

    use super::INFLATE_PIECE;
    use crate::config::{Config, ReceiveMode};
    use crate::connection::{Connection, Event};
    use crate::extension::deflate::DeflateConfig;
    use crate::frame::{OpCode, Rsv};
    use crate::handshake::{Accept, ClientRequest};
    use crate::message::{Message, MessageKind};
    use crate::test_support::{pump_each, FrameSpec, KEY};
    use crate::Instant;

    /// A server connection that accepted permessage-deflate.
    fn deflate_server(config: Config) -> Connection {
        let now = Instant::ZERO;
        let deflate = Config::default().deflate(Some(DeflateConfig::default()));
        let mut client =
            Connection::client(deflate, ClientRequest::new("h", "/"), [2; 32], now).unwrap();
        let mut server = Connection::server(config, now).unwrap();
        pump_each(&mut client, &mut server, now);
        assert!(matches!(server.poll_event(), Some(Event::Request(_))));
        server.accept(now, Accept::new()).unwrap();
        assert!(matches!(server.poll_event(), Some(Event::Connected(_))));
        assert!(server.deflate().is_some());
        while server.poll_transmit().is_some() {}
        server
    }

    /// A masked frame as a client sends it.
    fn frame(fin: bool, rsv: Rsv, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
        FrameSpec::new(opcode, payload)
            .fin(fin)
            .rsv(rsv)
            .masked(KEY)
            .encode()
    }

    /// Writes deflate bit fields, least significant bit first.
    #[derive(Default)]
    struct Bits {
        out: Vec<u8>,
        acc: u32,
        len: u32,
    }

    impl Bits {
        fn put(&mut self, value: u32, len: u32) {
            self.acc |= value << self.len;
            self.len += len;
            while self.len >= 8 {
                self.out.push(self.acc as u8);
                self.acc >>= 8;
                self.len -= 8;
            }
        }

        /// Huffman codes go most significant bit first.
        fn code(&mut self, code: u32, len: u32) {
            self.put(code.reverse_bits() >> (32 - len), len);
        }
    }

    /// `len` zero bytes as a message payload on the wire: one fixed-Huffman
    /// block of a literal and matches of 258 at distance 1, ended as a sync
    /// flush ends with its `00 00 ff ff` removed. Built by hand because
    /// compressing 64 MiB takes seconds in a debug build.
    fn compressed_zeros(len: usize) -> Vec<u8> {
        const LITERAL_ZERO: u32 = 0b0011_0000;
        const LENGTH_258: u32 = 0b1100_0101;
        let mut bits = Bits::default();
        bits.put(0, 1); // not final
        bits.put(1, 2); // fixed Huffman codes
        bits.code(LITERAL_ZERO, 8);
        let mut left = len - 1;
        while left >= 258 {
            bits.code(LENGTH_258, 8);
            bits.code(0, 5); // distance 1
            left -= 258;
        }
        for _ in 0..left {
            bits.code(LITERAL_ZERO, 8);
        }
        bits.code(0, 7); // end of block
        bits.put(0, 3); // the empty stored block's header, then padding
        if bits.len > 0 {
            bits.put(0, 8 - bits.len);
        }
        bits.out
    }

    /// Bytes of inflated pieces queued in the connection.
    fn queued_piece_bytes(conn: &Connection) -> usize {
        conn.events
            .iter()
            .map(|event| match event {
                Event::MessageData(piece) => piece.len(),
                _ => 0,
            })
            .sum()
    }

    #[test]
    fn incremental_compressed_pieces_stay_bounded() {
        const TOTAL: usize = 64 << 20;
        let config = Config::default()
            .receive_mode(ReceiveMode::Incremental)
            .deflate(Some(DeflateConfig::default()));
        let mut server = deflate_server(config);
        let wire = compressed_zeros(TOTAL);
        assert!(wire.len() < TOTAL / 100, "{}", wire.len());
        // 64 KiB of compressed input per frame, a text message after.
        let chunks: Vec<&[u8]> = wire.chunks(64 << 10).collect();
        let mut input = Vec::new();
        for (i, chunk) in chunks.iter().enumerate() {
            let (rsv, opcode) = match i {
                0 => (Rsv::RSV1, OpCode::Binary),
                _ => (Rsv::NONE, OpCode::Continuation),
            };
            input.extend(frame(i + 1 == chunks.len(), rsv, opcode, chunk));
        }
        input.extend(frame(true, Rsv::NONE, OpCode::Text, b"after"));

        let (mut total, mut pieces, mut largest_held) = (0, 0, 0);
        let (mut kind, mut others, mut text) = (None, Vec::new(), Vec::new());
        for read in input.chunks(16 << 10) {
            server.handle_input(Instant::ZERO, read);
            loop {
                largest_held = largest_held.max(queued_piece_bytes(&server));
                let Some(event) = server.poll_event() else {
                    break;
                };
                match event {
                    Event::MessageData(piece) if kind == Some(MessageKind::Binary) => {
                        assert!(piece.len() <= INFLATE_PIECE, "{}", piece.len());
                        assert!(piece.iter().all(|&b| b == 0));
                        total += piece.len();
                        pieces += 1;
                    }
                    Event::MessageData(piece) => text.extend_from_slice(&piece),
                    Event::MessageStart(start) => {
                        kind = Some(start);
                        others.push(event);
                    }
                    other => others.push(other),
                }
            }
            // Compressed input is all that waits, never inflated output.
            assert!(server.buffered_input() <= wire.len());
        }
        assert_eq!(total, TOTAL);
        // Full pieces, except where a read ran out of compressed input.
        let reads = input.len().div_ceil(16 << 10);
        assert!(pieces <= TOTAL / INFLATE_PIECE + reads, "{pieces}");
        assert!(largest_held <= INFLATE_PIECE, "{largest_held}");
        assert_eq!(
            others,
            [
                Event::MessageStart(MessageKind::Binary),
                Event::MessageEnd,
                Event::MessageStart(MessageKind::Text),
                Event::MessageEnd,
            ]
        );
        assert_eq!(text, b"after");
    }

    #[test]
    fn whole_mode_inflates_the_same_stream() {
        let config = Config::default()
            .max_message_size(1 << 20)
            .deflate(Some(DeflateConfig::default()));
        let mut server = deflate_server(config.clone());
        let wire = compressed_zeros(1 << 20);
        server.handle_input(
            Instant::ZERO,
            &frame(true, Rsv::RSV1, OpCode::Binary, &wire),
        );
        assert_eq!(
            server.poll_event(),
            Some(Event::Message(Message::Binary(
                alloc::vec![0; 1 << 20].into()
            )))
        );
        // One byte more is refused with 1009.
        let mut server = deflate_server(config);
        let wire = compressed_zeros((1 << 20) + 1);
        server.handle_input(
            Instant::ZERO,
            &frame(true, Rsv::RSV1, OpCode::Binary, &wire),
        );
        let Some(Event::Closed(closed)) = server.poll_event() else {
            panic!("not closed");
        };
        assert_eq!(closed.code, crate::close::CloseCode::TOO_BIG);
    }
}
