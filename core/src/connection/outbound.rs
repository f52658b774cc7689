//! Outbound scheduling: one queue decides what is written next.
//!
//! Order: handshake bytes first; then pending pongs and queued pings;
//! then data messages in the order they were accepted, each cut into
//! fragments of at most `fragment_size` so control frames can slip between
//! them; the close frame last, after every data message accepted before it.
//! Nothing is written after the close frame.
//!
//! On a batched connection, binary messages are appended to the open batch
//! at the back of the queue until it reaches its cap; the batch is sealed
//! when it reaches the front (or something queues behind it), so whatever
//! is sent before the next transmit is taken travels together. With a
//! linger, an open batch at the front waits until the connection seals it.
//!
//! Streams are cut into records one at a time, as the queue reaches them.
//! A record is one frame: a chunk's data is sized so the record fits a
//! fragment, and goes out as a slice of the stream's own bytes with the
//! record's tag and varints written beside the frame header.
//! Data messages go first so small messages never wait behind more than one
//! chunk; after `chunks_per_turn` data messages in a row a waiting stream
//! gets one record, and after `chunks_per_turn` chunks of one stream the
//! next stream takes its place. The close frame waits for every stream.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use bytes::{Bytes, BytesMut};

use crate::close::CloseFrame;
use crate::envelope::batch::{BatchConfig, BatchWriter};
use crate::envelope::stream::{
    tag, AbortCode, ChunkPrefix, OutBytes, OutRecord, OutStream, PushError, Record, StreamConfig,
    StreamId,
};
use crate::envelope::Framing;
use crate::frame::{OpCode, Rsv};
use crate::message::MessageKind;

/// A frame ready to be given a mask (or not) and written.
pub(super) struct OutFrame {
    pub(super) fin: bool,
    pub(super) rsv: Rsv,
    pub(super) opcode: OpCode,
    /// The first bytes of the payload, written with the frame header.
    pub(super) prefix: ChunkPrefix,
    pub(super) payload: Bytes,
}

pub(super) enum Next {
    /// Bytes written as they are: the handshake, or a frame prepared in
    /// advance and shared with other connections.
    Raw(Bytes),
    /// A frame.
    Frame(OutFrame),
}

#[derive(Debug)]
struct Pending {
    kind: MessageKind,
    /// A chunk record's tag, id and offset, written before `payload`.
    prefix: ChunkPrefix,
    payload: Bytes,
    sent: usize,
    /// Set on the first frame: an extension transformed the payload.
    rsv: Rsv,
    /// Whether the payload has been through the codec.
    encoded: bool,
    /// A batch still taking logical messages; `payload` is empty until it
    /// is sealed.
    open: Option<BatchWriter>,
    /// Chosen to go next: the scheduler leaves it alone.
    scheduled: bool,
    /// Written as one frame whatever its size.
    whole: bool,
    /// A frame prepared in advance: `payload` is the whole frame, header
    /// included, written as it is. The number is its payload's length, as
    /// counted in `queued_bytes`.
    prepared: Option<usize>,
}

impl Pending {
    /// A stream record, written as one frame: a chunk was sized to fit a
    /// fragment, and one that compression made larger still goes whole,
    /// so the receiver never joins a chunk from pieces.
    fn record(record: OutBytes) -> Self {
        let mut pending = Pending::binary(record.payload);
        pending.prefix = record.prefix;
        pending.whole = true;
        pending
    }

    /// A data message, waiting for the scheduler.
    fn message(kind: MessageKind, payload: Bytes) -> Self {
        Pending {
            kind,
            prefix: ChunkPrefix::default(),
            whole: false,
            payload,
            sent: 0,
            rsv: Rsv::NONE,
            encoded: false,
            open: None,
            scheduled: false,
            prepared: None,
        }
    }

    /// A binary payload that goes next.
    fn binary(payload: Bytes) -> Self {
        Pending {
            scheduled: true,
            ..Pending::message(MessageKind::Binary, payload)
        }
    }

    fn started(&self) -> bool {
        self.sent > 0 || self.encoded || self.scheduled
    }

    /// Closes an open batch to further messages; returns its length.
    fn seal(&mut self) -> Option<usize> {
        let mut batch = self.open.take()?;
        self.payload = batch.take();
        Some(self.payload.len())
    }
}

/// A whole message on its own; see `Outbound::lone`.
#[derive(Debug)]
struct Lone {
    kind: MessageKind,
    payload: Bytes,
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

/// Refusals of the peer's streams waiting to be written, at most. Each
/// answers a record of the peer's, so a peer that keeps sending records
/// for streams it may not send while it does not read our answers would
/// grow the queue without end; past this many the connection fails
/// instead (see `docs/design.md`).
pub(super) const MAX_PENDING_REFUSALS: usize = 256;

#[derive(Debug, Default)]
pub(super) struct Outbound {
    raw: VecDeque<Bytes>,
    pongs: VecDeque<Bytes>,
    pings: VecDeque<Bytes>,
    /// A message queued when nothing else was, kept out of `data`: a
    /// message sent and written before the next one is the common case,
    /// and it then costs no queue entry. While it is set, `data`,
    /// `streams` and `stream_control` are empty; anything else queued
    /// first moves it to the front of `data` ([`Outbound::spill`]).
    lone: Option<Lone>,
    data: VecDeque<Pending>,
    close: CloseSlot,
    queued_bytes: usize,
    /// An open batch at the front waits for [`Outbound::seal_back`].
    linger: bool,
    /// Room a new batch starts with: the length of the last batch sealed,
    /// or half the previous hint if that is more, so a sender whose bursts
    /// alternate with stragglers keeps most of its room and a sender that
    /// turns quiet gives it back within a few batches.
    batch_hint: usize,
    /// Outbound streams; the front one sends next.
    streams: VecDeque<OutStream>,
    /// Abort and refuse records, ahead of other data; counted in
    /// `queued_bytes`.
    stream_control: VecDeque<Bytes>,
    /// Refuse records in `stream_control`.
    pending_refusals: usize,
    /// Chunks the front stream sent in its current turn.
    chunk_streak: usize,
    /// Data messages sent in a row while a stream waited.
    data_streak: usize,
    /// Streams whose source failed, for the connection to report.
    failed_streams: VecDeque<StreamId>,
    /// Streams dropped unfinished with the connection, to report.
    abandoned_streams: Vec<StreamId>,
    /// The latest streams whose end record was queued: a peer's refusal
    /// may still be on its way for one of them, and the sender must hear
    /// of it. At most [`RECENTLY_FINISHED`] are kept.
    finished_streams: VecDeque<StreamId>,
}

/// How many finished outbound streams a late refusal is still matched to.
/// A refusal crosses at most the streams sent in one round trip; 64 covers
/// them with the default limits while keeping the memory fixed.
const RECENTLY_FINISHED: usize = 64;

impl Outbound {
    pub(super) fn push_raw(&mut self, bytes: Bytes) {
        self.raw.push_back(bytes);
    }

    #[inline]
    pub(super) fn push_message(&mut self, kind: MessageKind, payload: Bytes) {
        self.queued_bytes += payload.len();
        if self.lone.is_none()
            && self.data.is_empty()
            && self.streams.is_empty()
            && self.stream_control.is_empty()
        {
            self.lone = Some(Lone { kind, payload });
            return;
        }
        self.spill();
        self.seal_back();
        self.data.push_back(Pending::message(kind, payload));
    }

    /// Queues a frame prepared in advance, in order with other messages.
    /// It is written as it is: never through the codec, never cut.
    pub(super) fn push_prepared(&mut self, kind: MessageKind, frame: Bytes, payload_len: usize) {
        self.spill();
        self.seal_back();
        self.queued_bytes += payload_len;
        self.data.push_back(Pending {
            whole: true,
            encoded: true,
            prepared: Some(payload_len),
            ..Pending::message(kind, frame)
        });
    }

    /// Appends a logical message to the open batch, or opens a new one when
    /// there is none or the message does not fit. Returns whether a batch
    /// was opened.
    #[inline]
    pub(super) fn push_logical(
        &mut self,
        framing: Framing,
        message: &[u8],
        config: &BatchConfig,
        prefix: &[u8],
    ) -> bool {
        self.spill();
        let add = BatchWriter::encoded_len(framing, message);
        self.queued_bytes += add;
        if let Some(batch) = self.data.back_mut().and_then(|p| p.open.as_mut()) {
            if batch.count() < config.max_messages && batch.len() + add <= config.cap {
                batch.push(framing, message);
                return false;
            }
        }
        self.seal_back();
        self.queued_bytes += prefix.len();
        // Sized like the last batch: a sender that sends one message at a
        // time holds no more than that message, and one that sends in
        // bursts gets room for its next burst at once instead of growing
        // into it by copies.
        let capacity = (add + prefix.len()).max(self.batch_hint).min(config.cap);
        let mut batch = BatchWriter::with_prefix(capacity, prefix);
        batch.push(framing, message);
        self.data.push_back(Pending {
            open: Some(batch),
            ..Pending::message(MessageKind::Binary, Bytes::new())
        });
        true
    }

    /// Queues a stream; its records are cut as the queue reaches them.
    pub(super) fn push_stream(&mut self, stream: OutStream) {
        self.spill();
        self.streams.push_back(stream);
    }

    /// Queues an abort record, ahead of other data.
    pub(super) fn push_stream_control(&mut self, record: &Record) {
        if self.close == CloseSlot::None {
            self.spill();
            let record = record.encode();
            self.queued_bytes += record.len();
            self.stream_control.push_back(record);
        }
    }

    /// Queues a refusal of a peer's stream, ahead of other data, unless
    /// [`MAX_PENDING_REFUSALS`] already wait: then returns false and the
    /// peer is abusing the envelope.
    pub(super) fn push_refusal(&mut self, record: &Record) -> bool {
        if self.pending_refusals >= MAX_PENDING_REFUSALS {
            return false;
        }
        if self.close == CloseSlot::None {
            self.pending_refusals += 1;
            self.push_stream_control(record);
        }
        true
    }

    /// Queues the next bytes of pushed stream `id`; `None` when no such
    /// stream is being sent. Pushed bytes count as queued until written.
    pub(super) fn push_to_stream(
        &mut self,
        id: StreamId,
        data: Bytes,
    ) -> Option<Result<(), PushError>> {
        let stream = self.streams.iter_mut().find(|s| s.id == id)?;
        let len = data.len();
        let result = stream.push(data);
        if result.is_ok() {
            self.queued_bytes += len;
        }
        Some(result)
    }

    /// Stops sending stream `id`. Returns whether it was queued and whether
    /// the peer had heard of it.
    /// Forgets a recently finished stream; whether it was one. A refusal
    /// that arrives after the last chunk went out still means the peer
    /// did not take the stream.
    pub(super) fn forget_finished_stream(&mut self, id: StreamId) -> bool {
        match self.finished_streams.iter().position(|&s| s == id) {
            Some(index) => self.finished_streams.remove(index).is_some(),
            None => false,
        }
    }

    pub(super) fn cancel_stream(&mut self, id: StreamId) -> Option<bool> {
        let index = self.streams.iter().position(|s| s.id == id)?;
        let stream = self.streams.remove(index)?;
        if index == 0 {
            self.chunk_streak = 0;
        }
        self.queued_bytes = self.queued_bytes.saturating_sub(stream.waiting());
        Some(stream.announced())
    }

    /// Drops the pushed streams unfinished, to be reported with the others
    /// the connection's end cuts short: nothing more can be pushed.
    pub(super) fn abandon_pushed_streams(&mut self) {
        let before = self.streams.len();
        let (abandoned, queued) = (&mut self.abandoned_streams, &mut self.queued_bytes);
        self.streams.retain(|stream| {
            if !stream.is_pushed() {
                return true;
            }
            *queued = queued.saturating_sub(stream.waiting());
            abandoned.push(stream.id);
            false
        });
        if self.streams.len() != before {
            self.chunk_streak = 0;
        }
    }

    /// Streams dropped unfinished because the connection ended.
    pub(super) fn take_abandoned_streams(&mut self) -> Vec<StreamId> {
        core::mem::take(&mut self.abandoned_streams)
    }

    /// A stream whose source ended early, to report.
    pub(super) fn take_failed_stream(&mut self) -> Option<StreamId> {
        self.failed_streams.pop_front()
    }

    /// Chooses what goes next when nothing is under way: abort and refuse
    /// records first, then data, with streams interleaved (see the module
    /// documentation).
    #[inline]
    pub(super) fn schedule(&mut self, config: &StreamConfig, fragment_size: usize) {
        // Nothing to choose between: the common case, decided inline.
        let idle = self.data.is_empty() && self.streams.is_empty();
        if self.lone.is_some() || (idle && self.stream_control.is_empty()) {
            return;
        }
        self.schedule_among(config, fragment_size);
    }

    fn schedule_among(&mut self, config: &StreamConfig, fragment_size: usize) {
        if self.data.front().is_some_and(Pending::started) || self.close == CloseSlot::Sent {
            return;
        }
        if let Some(record) = self.stream_control.pop_front() {
            // Counted when queued.
            if record.first() == Some(&tag::REFUSE) {
                self.pending_refusals = self.pending_refusals.saturating_sub(1);
            }
            self.data.push_front(Pending::binary(record));
            return;
        }
        let data_ready = self
            .data
            .front()
            .is_some_and(|p| p.open.is_none() || !self.linger);
        if self.streams.is_empty() || (data_ready && self.data_streak < config.chunks_per_turn) {
            if data_ready {
                if let Some(front) = self.data.front_mut() {
                    front.scheduled = true;
                }
                if !self.streams.is_empty() {
                    self.data_streak += 1;
                }
            }
            return;
        }
        self.data_streak = 0;
        // Streams waiting for pushed bytes step aside, each once per call.
        let mut waiting = 0;
        while let Some(stream) = self.streams.front_mut() {
            let before = stream.waiting();
            let next = stream.next_record(config.chunk_size, fragment_size);
            // Pushed bytes were counted when pushed; only the record's
            // own bytes are new.
            let counted = before.saturating_sub(stream.waiting());
            let record = match next {
                OutRecord::Waiting => {
                    self.chunk_streak = 0;
                    waiting += 1;
                    if waiting >= self.streams.len() {
                        if data_ready {
                            if let Some(front) = self.data.front_mut() {
                                front.scheduled = true;
                            }
                        }
                        return;
                    }
                    self.streams.rotate_left(1);
                    continue;
                }
                OutRecord::Next(record) => {
                    self.chunk_streak += 1;
                    if self.chunk_streak >= config.chunks_per_turn {
                        self.chunk_streak = 0;
                        self.streams.rotate_left(1);
                    }
                    record
                }
                OutRecord::Last(record) => {
                    self.chunk_streak = 0;
                    if let Some(stream) = self.streams.pop_front() {
                        if self.finished_streams.len() >= RECENTLY_FINISHED {
                            self.finished_streams.pop_front();
                        }
                        self.finished_streams.push_back(stream.id);
                    }
                    OutBytes::whole(record)
                }
                OutRecord::Failed => {
                    self.chunk_streak = 0;
                    let Some(stream) = self.streams.pop_front() else {
                        break;
                    };
                    if stream.announced() {
                        let abort = Record::Abort {
                            id: stream.id,
                            code: AbortCode::SOURCE_FAILED,
                            reason: "data source ended early".into(),
                        };
                        let record = abort.encode();
                        self.queued_bytes += record.len();
                        self.data.push_front(Pending::binary(record));
                    }
                    self.failed_streams.push_back(stream.id);
                    if stream.announced() {
                        return;
                    }
                    continue;
                }
            };
            self.queued_bytes += record.len().saturating_sub(counted);
            self.data.push_front(Pending::record(record));
            return;
        }
    }

    /// Moves the lone message, if any, to `data`, where every other kind
    /// of entry waits: it is the front, since `data` was empty.
    #[inline]
    fn spill(&mut self) {
        if self.lone.is_some() {
            self.spill_lone();
        }
    }

    fn spill_lone(&mut self) {
        if let Some(Lone { kind, payload }) = self.lone.take() {
            self.data.push_back(Pending::message(kind, payload));
        }
    }

    /// Closes the batch at the back to further messages, so it is written.
    pub(super) fn seal_back(&mut self) {
        if let Some(len) = self.data.back_mut().and_then(Pending::seal) {
            self.batch_hint = len.max(self.batch_hint / 2);
        }
    }

    /// Whether an open batch waits for [`Outbound::seal_back`] instead of
    /// going out at the next transmit.
    pub(super) fn set_linger(&mut self, linger: bool) {
        self.linger = linger;
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
        // The close frame follows everything accepted before it.
        self.seal_back();
        if self.close == CloseSlot::None {
            self.close = CloseSlot::Queued(frame);
        }
    }

    pub(super) fn close_queued(&self) -> bool {
        self.close != CloseSlot::None
    }

    /// Drops everything not yet written, for a peer that is gone.
    pub(super) fn abandon(&mut self) {
        self.lone = None;
        self.data.clear();
        let lost = self.streams.drain(..).map(|s| s.id);
        self.abandoned_streams.extend(lost);
        self.stream_control.clear();
        self.pending_refusals = 0;
        self.pings.clear();
        self.pongs.clear();
        self.queued_bytes = 0;
    }

    /// Runs the next message about to be written through `encode` (for
    /// example compression) exactly once, just before its first frame, so
    /// the work is done lazily and in order.
    pub(super) fn encode_front(&mut self, encode: impl FnOnce(&[u8]) -> Option<(Bytes, Rsv)>) {
        self.spill();
        let Some(front) = self.ready_front() else {
            return;
        };
        if front.encoded {
            return;
        }
        front.encoded = true;
        if !front.prefix.is_empty() {
            // The extension transforms the whole record, so it is joined.
            let prefix = core::mem::take(&mut front.prefix);
            let mut joined = BytesMut::with_capacity(prefix.len() + front.payload.len());
            joined.extend_from_slice(prefix.as_slice());
            joined.extend_from_slice(&front.payload);
            front.payload = joined.freeze();
        }
        let Some((payload, rsv)) = encode(&front.payload) else {
            return;
        };
        let before = core::mem::replace(&mut front.payload, payload);
        front.rsv = rsv;
        let after = front.payload.len();
        self.queued_bytes = self.queued_bytes.saturating_sub(before.len()) + after;
    }

    pub(super) fn queued_bytes(&self) -> usize {
        self.queued_bytes
    }

    /// Whether the newest data entry is a batch still taking messages.
    pub(super) fn batch_open(&self) -> bool {
        self.data
            .back()
            .is_some_and(|pending| pending.open.is_some())
    }

    /// Whether an outbound stream is queued, or a stream record (an abort
    /// or a refusal) waits to be written.
    pub(super) fn streams_queued(&self) -> bool {
        !self.streams.is_empty() || !self.stream_control.is_empty()
    }

    /// Whether streams that failed or were dropped wait to be reported.
    pub(super) fn stream_reports_pending(&self) -> bool {
        !self.failed_streams.is_empty() || !self.abandoned_streams.is_empty()
    }

    /// The latest finished streams a late refusal is still matched to,
    /// oldest first.
    pub(super) fn finished_streams(&self) -> impl Iterator<Item = StreamId> + '_ {
        self.finished_streams.iter().copied()
    }

    /// Remembers `ids` (oldest first) as recently finished streams, within
    /// the usual bound.
    pub(super) fn restore_finished_streams(&mut self, ids: impl IntoIterator<Item = StreamId>) {
        for id in ids {
            if self.finished_streams.len() >= RECENTLY_FINISHED {
                self.finished_streams.pop_front();
            }
            self.finished_streams.push_back(id);
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.raw.is_empty()
            && self.pongs.is_empty()
            && self.pings.is_empty()
            && self.lone.is_none()
            && self.data.is_empty()
            && self.streams.is_empty()
            && self.stream_control.is_empty()
            && !matches!(self.close, CloseSlot::Queued(_))
    }

    #[inline]
    pub(super) fn next(&mut self, fragment_size: usize) -> Option<Next> {
        if let Some(raw) = self.raw.pop_front() {
            if self.raw.is_empty() {
                // Raw bytes are the handshake: its room is not needed again.
                self.raw = VecDeque::new();
            }
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
        if let Some(next) = self.next_fragment(fragment_size) {
            return Some(next);
        }
        if !self.streams.is_empty() || !self.stream_control.is_empty() {
            // The close frame follows every stream; `schedule` feeds them.
            return None;
        }
        match core::mem::replace(&mut self.close, CloseSlot::Sent) {
            CloseSlot::Queued(frame) => Some(control(OpCode::Close, frame.encode())),
            other => {
                self.close = other;
                None
            }
        }
    }

    /// The message to write next, sealing a batch that reaches the front
    /// unless it lingers.
    fn ready_front(&mut self) -> Option<&mut Pending> {
        let linger = self.linger;
        let front = self.data.front_mut()?;
        if front.open.is_some() {
            if linger {
                return None;
            }
            if let Some(len) = front.seal() {
                self.batch_hint = len.max(self.batch_hint / 2);
            }
        }
        Some(front)
    }

    #[inline]
    fn next_fragment(&mut self, fragment_size: usize) -> Option<Next> {
        if let Some(lone) = self.lone.take() {
            if lone.payload.len() <= fragment_size {
                self.queued_bytes = self.queued_bytes.saturating_sub(lone.payload.len());
                return Some(Next::Frame(OutFrame {
                    fin: true,
                    rsv: Rsv::NONE,
                    opcode: lone.kind.opcode(),
                    prefix: ChunkPrefix::default(),
                    payload: lone.payload,
                }));
            }
            self.lone = Some(lone);
            self.spill();
        }
        let front = self.ready_front()?;
        if let Some(payload_len) = front.prepared {
            let frame = core::mem::take(&mut front.payload);
            self.queued_bytes = self.queued_bytes.saturating_sub(payload_len);
            self.pop_data();
            return Some(Next::Raw(frame));
        }
        let start = front.sent;
        let limit = if front.whole {
            usize::MAX
        } else {
            fragment_size
        };
        let len = front.payload.len();
        let end = len.min(start.saturating_add(limit));
        let fin = end == len;
        let payload = if start == 0 && fin {
            // Sent whole: moved out rather than sliced, which would count
            // one more reference only for the entry to drop it.
            core::mem::take(&mut front.payload)
        } else {
            front.payload.slice(start..end)
        };
        let (opcode, rsv, prefix) = if start == 0 {
            (front.kind.opcode(), front.rsv, front.prefix)
        } else {
            (OpCode::Continuation, Rsv::NONE, ChunkPrefix::default())
        };
        front.sent = end;
        self.queued_bytes = self
            .queued_bytes
            .saturating_sub(prefix.len() + payload.len());
        if fin {
            self.pop_data();
        }
        Some(Next::Frame(OutFrame {
            fin,
            rsv,
            opcode,
            prefix,
            payload,
        }))
    }

    /// Drops the front entry, and a burst's room with the burst's last
    /// entry: a connection that once queued thousands of messages would
    /// otherwise keep room for them (120 bytes each) while idle.
    #[inline]
    fn pop_data(&mut self) {
        self.data.pop_front();
        if self.data.is_empty() && self.data.capacity() > RESTING_ENTRIES {
            self.data = VecDeque::new();
        }
    }
}

/// Queue entries a connection keeps room for once its queue is empty.
const RESTING_ENTRIES: usize = 8;

fn control(opcode: OpCode, payload: Bytes) -> Next {
    Next::Frame(OutFrame {
        fin: true,
        rsv: Rsv::NONE,
        opcode,
        prefix: ChunkPrefix::default(),
        payload,
    })
}
