//! The inbound path: bytes → frames → messages.
//!
//! Frames are unmasked and text is validated as their bytes arrive, not when
//! a frame completes, so invalid UTF-8 fails the connection as soon as it is
//! certain and a large frame is never walked twice. In whole-message mode a
//! single-frame message is handed out as a slice of the input buffer without
//! a copy; fragments are joined once.

use bytes::{Buf, Bytes, BytesMut};

use crate::close::CloseFrame;
use crate::config::{Config, ReceiveMode};
use crate::error::ProtocolError;
use crate::frame::{apply_mask, FrameHeader, OpCode, Rsv};
use crate::message::{Message, MessageKind};
use crate::utf8::{Utf8Bytes, Utf8Validator};

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
    len: u64,
    utf8: Option<Utf8Validator>,
    body: Body,
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
    /// RSV bits that negotiated extensions have claimed.
    allowed_rsv: Rsv,
}

impl Inbound {
    pub(super) fn new() -> Self {
        Inbound {
            buf: BytesMut::new(),
            frame: None,
            message: None,
            allowed_rsv: Rsv::NONE,
        }
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
    }

    /// Decodes the next item from the buffered bytes, or `None` when more
    /// input is needed.
    pub(super) fn next_item(
        &mut self,
        config: &Config,
        role: Role,
    ) -> Result<Option<Item>, ProtocolError> {
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
                if !frame.header.opcode.is_control() {
                    if let Some(utf8) = self.message.as_mut().and_then(|m| m.utf8.as_mut()) {
                        utf8.feed(fresh).map_err(|_| ProtocolError::InvalidUtf8)?;
                    }
                }
                frame.processed = available;
            }

            let incremental = config.receive_mode == ReceiveMode::Incremental;
            if incremental && available > 0 && !frame.header.opcode.is_control() {
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

    /// The rules for a header that depend on the connection: who masks,
    /// which RSV bits are claimed, limits, and fragmentation state.
    fn check_header(
        &self,
        header: &FrameHeader,
        config: &Config,
        role: Role,
    ) -> Result<(), ProtocolError> {
        if !header.rsv.is_subset_of(self.allowed_rsv) {
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
        self.message = Some(PartialMessage {
            kind,
            len: header.payload_len,
            utf8: (kind == MessageKind::Text).then(Utf8Validator::default),
            body: Body::Empty,
        });
        (config.receive_mode == ReceiveMode::Incremental).then_some(Item::MessageStart(kind))
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
