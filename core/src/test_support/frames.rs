//! Frames written byte by byte, as a peer (well-behaved or not) sends them.

use alloc::vec::Vec;

use crate::frame::{apply_mask, FrameHeader, OpCode, Rsv};

/// A masking key for client frames built by hand.
pub const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// How a frame's payload length is written. RFC 6455 asks senders for the
/// shortest form; receivers may accept the longer ones, and a reader must
/// handle each of them arriving in pieces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LenForm {
    /// The shortest form for the length.
    Minimal,
    /// The 16-bit form (if the length fits; longer payloads take the
    /// 64-bit form).
    Medium,
    /// The 64-bit form.
    Long,
}

/// One frame to put on the wire, field by field: final, no RSV bit,
/// unmasked (a server's frame) and with the shortest length unless told
/// otherwise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameSpec {
    /// The FIN bit.
    pub fin: bool,
    /// The RSV bits.
    pub rsv: Rsv,
    /// The opcode.
    pub opcode: OpCode,
    /// The client's masking key; `None` for a server frame.
    pub mask: Option<[u8; 4]>,
    /// How the length is written.
    pub len_form: LenForm,
    /// The payload, unmasked.
    pub payload: Vec<u8>,
}

impl FrameSpec {
    /// A final, unmasked frame with `opcode` and `payload`.
    pub fn new(opcode: OpCode, payload: impl AsRef<[u8]>) -> FrameSpec {
        FrameSpec {
            fin: true,
            rsv: Rsv::NONE,
            opcode,
            mask: None,
            len_form: LenForm::Minimal,
            payload: payload.as_ref().to_vec(),
        }
    }

    /// A text frame.
    pub fn text(payload: impl AsRef<[u8]>) -> FrameSpec {
        FrameSpec::new(OpCode::Text, payload)
    }

    /// A binary frame.
    pub fn binary(payload: impl AsRef<[u8]>) -> FrameSpec {
        FrameSpec::new(OpCode::Binary, payload)
    }

    /// A continuation frame.
    pub fn continuation(payload: impl AsRef<[u8]>) -> FrameSpec {
        FrameSpec::new(OpCode::Continuation, payload)
    }

    /// A ping.
    pub fn ping(payload: impl AsRef<[u8]>) -> FrameSpec {
        FrameSpec::new(OpCode::Ping, payload)
    }

    /// A pong.
    pub fn pong(payload: impl AsRef<[u8]>) -> FrameSpec {
        FrameSpec::new(OpCode::Pong, payload)
    }

    /// A close frame carrying `code` and `reason` (any code, valid or
    /// not; any length).
    pub fn close(code: u16, reason: &str) -> FrameSpec {
        let mut payload = code.to_be_bytes().to_vec();
        payload.extend_from_slice(reason.as_bytes());
        FrameSpec::new(OpCode::Close, payload)
    }

    /// A close frame with no payload (no code).
    pub fn close_empty() -> FrameSpec {
        FrameSpec::new(OpCode::Close, [])
    }

    /// Sets the FIN bit.
    #[must_use]
    pub fn fin(mut self, fin: bool) -> FrameSpec {
        self.fin = fin;
        self
    }

    /// Sets the RSV bits.
    #[must_use]
    pub fn rsv(mut self, rsv: Rsv) -> FrameSpec {
        self.rsv = rsv;
        self
    }

    /// Masks the frame with `key`, as a client does.
    #[must_use]
    pub fn masked(self, key: [u8; 4]) -> FrameSpec {
        self.mask(Some(key))
    }

    /// Masks the frame with `key`, or leaves it unmasked with `None`.
    #[must_use]
    pub fn mask(mut self, key: Option<[u8; 4]>) -> FrameSpec {
        self.mask = key;
        self
    }

    /// Writes the length in `form`.
    #[must_use]
    pub fn len_form(mut self, form: LenForm) -> FrameSpec {
        self.len_form = form;
        self
    }

    /// The frame's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Appends the frame's bytes to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let len = self.payload.len() as u64;
        let form = match self.len_form {
            LenForm::Medium if len > 0xFFFF => LenForm::Long,
            other => other,
        };
        if form == LenForm::Minimal {
            let header = FrameHeader {
                fin: self.fin,
                rsv: self.rsv,
                opcode: self.opcode,
                mask: self.mask,
                payload_len: len,
            };
            out.extend_from_slice(header.encode().as_slice());
        } else {
            let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
            out.push((u8::from(self.fin) << 7) | self.rsv.bits() | self.opcode.as_u8());
            if form == LenForm::Medium {
                out.push(mask_bit | 126);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            } else {
                out.push(mask_bit | 127);
                out.extend_from_slice(&len.to_be_bytes());
            }
            if let Some(key) = self.mask {
                out.extend_from_slice(&key);
            }
        }
        let start = out.len();
        out.extend_from_slice(&self.payload);
        if let (Some(key), Some(body)) = (self.mask, out.get_mut(start..)) {
            apply_mask(body, key, 0);
        }
    }
}

/// One frame's bytes: `mask` is the client's masking key, `None` for a
/// server frame.
pub fn encode_frame(fin: bool, opcode: OpCode, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    FrameSpec::new(opcode, payload).fin(fin).mask(mask).encode()
}

/// A message of `opcode` cut into frames of at most `size` bytes (at
/// least 1): the first carries `opcode`, the others are continuations,
/// the last is final. An empty payload is one final frame.
pub fn fragmented(opcode: OpCode, payload: &[u8], size: usize, mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut pieces = payload.chunks(size.max(1)).peekable();
    let mut opcode = opcode;
    if pieces.peek().is_none() {
        FrameSpec::new(opcode, []).mask(mask).encode_into(&mut out);
    }
    while let Some(piece) = pieces.next() {
        FrameSpec::new(opcode, piece)
            .fin(pieces.peek().is_none())
            .mask(mask)
            .encode_into(&mut out);
        opcode = OpCode::Continuation;
    }
    out
}

/// A frame as a client writes it: masked with [`KEY`].
pub fn client_frame(fin: bool, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    encode_frame(fin, opcode, payload, Some(KEY))
}
