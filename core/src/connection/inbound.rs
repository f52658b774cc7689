//! The inbound path: bytes → frames → messages.
//!
//! Frames are unmasked and text is validated as their bytes arrive, not when
//! a frame completes, so invalid UTF-8 fails the connection as soon as it is
//! certain and a large frame is never walked twice. In whole-message mode a
//! single-frame message is handed out as a slice of the input buffer without
//! a copy; fragments are joined once.

use alloc::vec::Vec;
use bytes::{Buf, Bytes, BytesMut};

use crate::close::CloseFrame;
use crate::config::{Config, ReceiveMode};
use crate::error::ProtocolError;
use crate::frame::{apply_mask, FrameHeader, OpCode, Rsv};
use crate::message::{Message, MessageKind};
use crate::utf8::{Utf8Bytes, Utf8Validator};

use super::codec::{Codec, InflateError};
use super::Role;

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
}

impl Inbound {
    pub(super) fn new() -> Self {
        Inbound {
            buf: BytesMut::new(),
            frame: None,
            message: None,
            allowed_rsv: Rsv::NONE,
            queued: None,
            whole_binary: false,
        }
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

    pub(super) fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Frees everything; used once the connection stops reading.
    pub(super) fn clear(&mut self) {
        self.buf = BytesMut::new();
        self.frame = None;
        self.message = None;
        self.queued = None;
    }

    /// Decodes the next item from the buffered bytes, or `None` when more
    /// input is needed.
    pub(super) fn next_item(
        &mut self,
        config: &Config,
        role: Role,
        mut codec: Option<&mut Codec>,
    ) -> Result<Option<Item>, ProtocolError> {
        if let Some(item) = self.queued.take() {
            return Ok(Some(item));
        }
        loop {
            let Some(frame) = self.frame.as_mut() else {
                let Some((header, len)) = FrameHeader::decode(&self.buf)? else {
                    return Ok(None);
                };
                self.check_header(&header, config, role)?;
                self.buf.advance(len);
                if let Some(item) = self.begin_frame(header, config) {
                    return Ok(Some(item));
                }
                continue;
            };
            let is_data = !frame.header.opcode.is_control();
            let compressed = is_data && self.message.as_ref().is_some_and(|m| m.compressed);

            let available = usize::try_from(frame.remaining)
                .unwrap_or(usize::MAX)
                .min(self.buf.len());
            if available > frame.processed {
                let fresh = self
                    .buf
                    .get_mut(frame.processed..available)
                    .unwrap_or_default();
                if let Some(key) = frame.header.mask {
                    let offset = frame.taken as usize + frame.processed;
                    apply_mask(fresh, key, offset);
                }
                // Compressed text is validated after inflating.
                if is_data && !compressed {
                    if let Some(utf8) = self.message.as_mut().and_then(|m| m.utf8.as_mut()) {
                        utf8.feed(fresh).map_err(|_| ProtocolError::InvalidUtf8)?;
                    }
                }
                frame.processed = available;
            }

            let incremental = self.message.as_ref().is_some_and(|m| m.incremental);
            if compressed {
                // Compressed bytes are consumed as they arrive: only the
                // inflated output is kept, and it is bounded as it grows.
                let raw = self.buf.split_to(available);
                frame.remaining -= available as u64;
                frame.taken += available as u64;
                frame.processed = 0;
                let frame_done = frame.remaining == 0;
                let last = frame_done && frame.header.fin;
                if frame_done {
                    self.frame = None;
                }
                let codec = codec.as_deref_mut().ok_or(ProtocolError::ReservedBits)?;
                if let Some(item) = self.inflate(&raw, last, config, codec)? {
                    return Ok(Some(item));
                }
                if !frame_done {
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

    /// Inflates the next compressed bytes of the current message, validating
    /// text as it appears and bounding the output by the message limit.
    fn inflate(
        &mut self,
        raw: &[u8],
        last: bool,
        config: &Config,
        codec: &mut Codec,
    ) -> Result<Option<Item>, ProtocolError> {
        let Some(message) = self.message.as_mut() else {
            return Ok(None);
        };
        let incremental = message.incremental;
        let max = config.max_message_size;
        let limit = usize::try_from(max.saturating_sub(message.inflated_len)).unwrap_or(usize::MAX);
        let mut piece = Vec::new();
        let out = if incremental {
            &mut piece
        } else {
            &mut message.inflated
        };
        let start = out.len();
        let limit = if incremental {
            limit
        } else {
            start.saturating_add(limit)
        };
        codec.inflate(raw, last, out, limit).map_err(|e| match e {
            InflateError::TooLarge => ProtocolError::MessageTooLarge {
                len: max.saturating_add(1),
                max,
            },
            InflateError::Corrupt => ProtocolError::InvalidCompressedData,
        })?;
        let fresh = out.get(start..).unwrap_or_default();
        message.inflated_len += fresh.len() as u64;
        if let Some(utf8) = message.utf8.as_mut() {
            utf8.feed(fresh).map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        let piece = (!piece.is_empty()).then(|| Item::MessageData(Bytes::from(piece)));
        if !last {
            return Ok(piece);
        }
        let Some(mut message) = self.message.take() else {
            return Ok(piece);
        };
        if let Some(utf8) = message.utf8.as_mut() {
            utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        if incremental {
            return Ok(match piece {
                Some(piece) => {
                    self.queued = Some(Item::MessageEnd);
                    Some(piece)
                }
                None => Some(Item::MessageEnd),
            });
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

    fn begin_frame(&mut self, header: FrameHeader, config: &Config) -> Option<Item> {
        self.frame = Some(CurrentFrame {
            header,
            remaining: header.payload_len,
            taken: 0,
            processed: 0,
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
        incremental.then_some(Item::MessageStart(kind))
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
        if !payload.is_empty() {
            message.body.push(payload);
        }
        if !header.fin {
            return Ok(None);
        }
        let Some(mut message) = self.message.take() else {
            return Ok(None);
        };
        if let Some(utf8) = message.utf8.as_mut() {
            utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        if incremental {
            return Ok(Some(Item::MessageEnd));
        }
        let body = message.body.into_bytes();
        Ok(Some(Item::Message(match message.kind {
            MessageKind::Text => Message::Text(Utf8Bytes::from_validated(body)),
            MessageKind::Binary => Message::Binary(body),
        })))
    }
}
