//! Outbound scheduling: one queue decides what is written next.
//!
//! Order: handshake bytes first; then pending pongs and queued pings;
//! then data messages in the order they were accepted, each cut into
//! fragments of at most `fragment_size` so control frames can slip between
//! them; the close frame last, after every data message accepted before it.
//! Nothing is written after the close frame.

use alloc::collections::VecDeque;
use bytes::Bytes;

use crate::close::CloseFrame;
use crate::frame::{OpCode, Rsv};
use crate::message::MessageKind;

/// A frame ready to be given a mask (or not) and written.
pub(super) struct OutFrame {
    pub(super) fin: bool,
    pub(super) rsv: Rsv,
    pub(super) opcode: OpCode,
    pub(super) payload: Bytes,
}

pub(super) enum Next {
    /// Bytes written as they are (the handshake).
    Raw(Bytes),
    /// A frame.
    Frame(OutFrame),
}

#[derive(Debug)]
struct Pending {
    kind: MessageKind,
    payload: Bytes,
    sent: usize,
    /// Set on the first frame: an extension transformed the payload.
    rsv: Rsv,
    /// Whether the payload has been through the codec.
    encoded: bool,
}

#[derive(Debug, Default, PartialEq, Eq)]
enum CloseSlot {
    #[default]
    None,
    Queued(CloseFrame),
    Sent,
}

/// Pongs waiting to be written, at most.
const MAX_PENDING_PONGS: usize = 16;

#[derive(Debug, Default)]
pub(super) struct Outbound {
    raw: VecDeque<Bytes>,
    pongs: VecDeque<Bytes>,
    pings: VecDeque<Bytes>,
    data: VecDeque<Pending>,
    close: CloseSlot,
    queued_bytes: usize,
}

impl Outbound {
    pub(super) fn push_raw(&mut self, bytes: Bytes) {
        self.raw.push_back(bytes);
    }

    pub(super) fn push_message(&mut self, kind: MessageKind, payload: Bytes) {
        self.queued_bytes += payload.len();
        self.data.push_back(Pending {
            kind,
            payload,
            sent: 0,
            rsv: Rsv::NONE,
            encoded: false,
        });
    }

    /// Every ping is answered, in order, while fewer than
    /// [`MAX_PENDING_PONGS`] answers wait; past that the newest answer
    /// replaces the last one queued, so a ping flood costs bounded memory
    /// and the newest ping is always answered.
    pub(super) fn set_pong(&mut self, payload: Bytes) {
        if self.close == CloseSlot::None {
            if self.pongs.len() >= MAX_PENDING_PONGS {
                self.pongs.pop_back();
            }
            self.pongs.push_back(payload);
        }
    }

    pub(super) fn push_ping(&mut self, payload: Bytes) {
        if self.close == CloseSlot::None {
            self.pings.push_back(payload);
        }
    }

    pub(super) fn queue_close(&mut self, frame: CloseFrame) {
        if self.close == CloseSlot::None {
            self.close = CloseSlot::Queued(frame);
        }
    }

    pub(super) fn close_queued(&self) -> bool {
        self.close != CloseSlot::None
    }

    /// Drops everything not yet written, for a peer that is gone.
    pub(super) fn abandon(&mut self) {
        self.data.clear();
        self.pings.clear();
        self.pongs.clear();
        self.queued_bytes = 0;
    }

    /// Runs the next message about to be written through `encode` (for
    /// example compression) exactly once, just before its first frame, so
    /// the work is done lazily and in order.
    pub(super) fn encode_front(&mut self, encode: impl FnOnce(&[u8]) -> Option<(Bytes, Rsv)>) {
        let Some(front) = self.data.front_mut() else {
            return;
        };
        if front.encoded {
            return;
        }
        front.encoded = true;
        if let Some((payload, rsv)) = encode(&front.payload) {
            self.queued_bytes = self.queued_bytes - front.payload.len() + payload.len();
            front.payload = payload;
            front.rsv = rsv;
        }
    }

    pub(super) fn queued_bytes(&self) -> usize {
        self.queued_bytes
    }

    pub(super) fn is_empty(&self) -> bool {
        self.raw.is_empty()
            && self.pongs.is_empty()
            && self.pings.is_empty()
            && self.data.is_empty()
            && !matches!(self.close, CloseSlot::Queued(_))
    }

    pub(super) fn next(&mut self, fragment_size: usize) -> Option<Next> {
        if let Some(raw) = self.raw.pop_front() {
            return Some(Next::Raw(raw));
        }
        if self.close == CloseSlot::Sent {
            return None;
        }
        if let Some(payload) = self.pongs.pop_front() {
            return Some(control(OpCode::Pong, payload));
        }
        if let Some(payload) = self.pings.pop_front() {
            return Some(control(OpCode::Ping, payload));
        }
        if let Some(frame) = self.next_fragment(fragment_size) {
            return Some(Next::Frame(frame));
        }
        match core::mem::replace(&mut self.close, CloseSlot::Sent) {
            CloseSlot::Queued(frame) => Some(control(OpCode::Close, frame.encode())),
            other => {
                self.close = other;
                None
            }
        }
    }

    fn next_fragment(&mut self, fragment_size: usize) -> Option<OutFrame> {
        let front = self.data.front_mut()?;
        let start = front.sent;
        let end = front.payload.len().min(start.saturating_add(fragment_size));
        let payload = front.payload.slice(start..end);
        let (opcode, rsv) = if start == 0 {
            (front.kind.opcode(), front.rsv)
        } else {
            (OpCode::Continuation, Rsv::NONE)
        };
        front.sent = end;
        let fin = end == front.payload.len();
        self.queued_bytes -= payload.len();
        if fin {
            self.data.pop_front();
        }
        Some(OutFrame {
            fin,
            rsv,
            opcode,
            payload,
        })
    }
}

fn control(opcode: OpCode, payload: Bytes) -> Next {
    Next::Frame(OutFrame {
        fin: true,
        rsv: Rsv::NONE,
        opcode,
        payload,
    })
}
