//! The envelope layer of a connection (batching and streaming), as a
//! machine nested inside the connection and driven with the same
//! vocabulary.
//!
//! The connection reads plain RFC 6455 and hands every complete data
//! message to [`EnvelopeMachine::handle_message`]. The answer says what the
//! message carried: a message to deliver as it is, a batch to queue whole,
//! or a stream record that was applied. What a record produced (messages
//! and stream events for the application, refusals for the peer, an
//! outbound stream the peer refused) waits in order for
//! [`EnvelopeMachine::poll_output`]. The machine's one deadline, the
//! time-to-live of inbound streams, is read with
//! [`EnvelopeMachine::poll_timeout`] and fired with
//! [`EnvelopeMachine::handle_timeout`].
//!
//! Outbound, the machine turns the application's sends into entries of the
//! connection's queue: binary messages into batches or streams, and
//! streams into ids.

use alloc::vec::Vec;
use bytes::Bytes;

use super::outbound::Outbound;
use super::Connection;
use crate::config::{Config, ReceiveMode};
use crate::envelope::batch::{Batch, BatchConfig};
use crate::envelope::stream::{
    self, AbortCode, OutStream, Outcome, Outcomes, PushError, Reassembly, Record, StreamConfig,
    StreamError, StreamEvent, StreamId, StreamSource,
};
use crate::envelope::{Envelope, Framing};
use crate::error::{ProtocolError, SendError};
use crate::message::Message;
use crate::Instant;

/// What a received data message carried.
#[derive(Debug)]
pub(super) enum Received {
    /// A message the envelope leaves alone (text, or anything on a plain
    /// connection): deliver it as it is.
    Message(Message),
    /// A valid batch: its logical messages, in order.
    Batch(Batch),
    /// A stream record, applied: what it produced waits in
    /// [`EnvelopeMachine::poll_output`].
    Record,
}

/// Something a stream record produced, for the connection to route.
#[derive(Debug)]
pub(super) enum Output {
    /// A reassembled stream: one binary message for the application.
    Message(Bytes),
    /// A stream event for the application.
    Event(StreamEvent),
    /// A refusal for the peer, ahead of other data.
    Refusal(Record),
    /// The peer refused our outbound stream `id`: stop sending it.
    Refused(StreamId, StreamError),
}

/// The envelope the chosen subprotocol names, with the state it keeps:
/// inbound streams being reassembled and the id of our next stream.
#[derive(Debug)]
pub(super) struct EnvelopeMachine {
    kind: Envelope,
    batch: BatchConfig,
    stream: StreamConfig,
    incremental: bool,
    /// Inbound streams of a streamed envelope.
    reassembly: Reassembly,
    /// The id of our next outbound stream.
    next_stream_id: StreamId,
    /// What applied records produced, oldest first.
    outputs: Outcomes,
}

impl EnvelopeMachine {
    /// The machine for `kind`, with the limits of `config`.
    pub(super) fn new(kind: Envelope, config: &Config) -> Self {
        EnvelopeMachine {
            kind,
            batch: config.batch,
            stream: config.stream,
            incremental: config.receive_mode == ReceiveMode::Incremental,
            reassembly: Reassembly::default(),
            next_stream_id: 0,
            outputs: Outcomes::new(),
        }
    }

    /// The envelope in force.
    pub(super) fn kind(&self) -> Envelope {
        self.kind
    }

    /// Whether an inbound stream is being reassembled.
    pub(super) fn streams_open(&self) -> bool {
        !self.reassembly.is_empty()
    }

    /// Whether what applied records produced waits to be routed.
    pub(super) fn outputs_pending(&self) -> bool {
        !self.outputs.is_empty()
    }

    /// The id our next outbound stream takes.
    pub(super) fn next_stream_id(&self) -> StreamId {
        self.next_stream_id
    }

    /// The ids of the peer's streams refused and not opened since.
    pub(super) fn refused_streams(&self) -> impl Iterator<Item = StreamId> + '_ {
        self.reassembly.refused()
    }

    /// Continues a hibernated machine: its next stream id and the peer's
    /// refused streams.
    pub(super) fn restore(&mut self, next_stream_id: StreamId, refused: &[StreamId]) {
        self.next_stream_id = next_stream_id;
        self.reassembly = Reassembly::with_refused(refused.iter().copied());
    }

    // ---- inputs ----

    /// Takes a complete data message received at `now`. A record the
    /// envelope cannot decode, or a batch that does not split, is a
    /// protocol error.
    #[inline]
    pub(super) fn handle_message(
        &mut self,
        now: Instant,
        message: Message,
    ) -> Result<Received, ProtocolError> {
        // Matched by reference: moving the message into a tuple would cost
        // a copy of it per message.
        let (framing, batch) = match (self.kind, &message) {
            (Envelope::Batched(framing), Message::Binary(_)) => (framing, message.into_payload()),
            (Envelope::Streamed(framing), Message::Binary(_)) => {
                match Record::decode(message.payload()) {
                    Ok(Record::Batch(batch)) => (framing, batch),
                    Ok(record) => {
                        self.apply_record(now, record);
                        return Ok(Received::Record);
                    }
                    Err(error) => return Err(ProtocolError::InvalidStreamRecord(error)),
                }
            }
            _ => return Ok(Received::Message(message)),
        };
        let limits = &self.batch;
        Batch::parse(batch, framing, limits.max_messages, limits.max_bytes)
            .map(Received::Batch)
            .map_err(ProtocolError::InvalidBatch)
    }

    /// Evicts the inbound streams whose time-to-live ran out at `now`.
    pub(super) fn handle_timeout(&mut self, now: Instant) {
        if self.poll_timeout().is_some_and(|at| at <= now) {
            self.reassembly
                .evict(now, self.stream.ttl, &mut self.outputs);
        }
    }

    /// Drops the outputs not yet taken: the peer broke the protocol before
    /// them.
    pub(super) fn discard_outputs(&mut self) {
        self.outputs.clear();
    }

    /// Drops every inbound stream with the connection; returns their ids.
    pub(super) fn end(&mut self) -> Vec<StreamId> {
        self.outputs.clear();
        self.reassembly.clear()
    }

    /// Applies an inbound stream record.
    fn apply_record(&mut self, now: Instant, record: Record) {
        // A stream past its time-to-live is gone at `now` even if the timer
        // has not run yet, so it holds no slot or budget the record needs.
        self.handle_timeout(now);
        self.reassembly.apply(
            record,
            now,
            self.incremental,
            &self.stream,
            &mut self.outputs,
        );
    }

    // ---- outputs ----

    /// The next thing an applied record produced, in order.
    #[inline]
    pub(super) fn poll_output(&mut self) -> Option<Output> {
        Some(match self.outputs.pop_front()? {
            Outcome::Message(payload) => Output::Message(payload),
            Outcome::Event(event) => Output::Event(event),
            Outcome::Refuse(id, error) => Output::Refusal(Record::Refuse {
                id,
                code: error.abort_code(),
                reason: alloc::format!("{error}"),
            }),
            Outcome::Refused(id, error) => Output::Refused(id, error),
        })
    }

    /// When the oldest inbound stream expires, if any is open.
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        self.reassembly.next_expiry(self.stream.ttl)
    }

    // ---- sending ----

    /// Refuses, before anything is queued, a binary message that would go
    /// out as a stream longer than [`StreamConfig::max_send_size`].
    #[inline]
    pub(super) fn check_send(&self, message: &Message) -> Result<(), SendError> {
        if let (Envelope::Streamed(_), Message::Binary(payload)) = (self.kind, message) {
            if self.goes_as_stream(payload.len()) {
                self.check_stream_size(payload.len() as u64)?;
            }
        }
        Ok(())
    }

    /// Queues a data message through the envelope. Returns whether a new
    /// batch was opened (and so a linger starts).
    #[inline]
    pub(super) fn queue_message(&mut self, message: Message, outbound: &mut Outbound) -> bool {
        let (framing, prefix): (Framing, &[u8]) = match (self.kind, &message) {
            (Envelope::Batched(framing), Message::Binary(_)) => (framing, &[]),
            (Envelope::Streamed(framing), Message::Binary(payload)) => {
                if self.goes_as_stream(payload.len()) {
                    let payload = message.into_payload();
                    self.queue_stream(StreamSource::Bytes(payload), Bytes::new(), outbound);
                    return false;
                }
                (framing, &[stream::tag::BATCH])
            }
            _ => {
                outbound.push_message(message.kind(), message.into_payload());
                return false;
            }
        };
        outbound.push_logical(framing, message.payload(), &self.batch, prefix)
    }

    /// Queues `source` as a stream; see [`Connection::send_stream`].
    pub(super) fn send_stream(
        &mut self,
        source: StreamSource,
        metadata: Bytes,
        outbound: &mut Outbound,
    ) -> Result<StreamId, SendError> {
        self.check_streamed()?;
        self.check_stream_size(source.total_len())?;
        Ok(self.queue_stream(source, metadata, outbound))
    }

    /// Opens a pushed stream; see [`Connection::open_stream`].
    pub(super) fn open_stream(
        &mut self,
        total_len: u64,
        metadata: Bytes,
        outbound: &mut Outbound,
    ) -> Result<StreamId, SendError> {
        self.check_streamed()?;
        self.check_stream_size(total_len)?;
        let id = self.take_stream_id();
        outbound.push_stream(OutStream::pushed(id, total_len, metadata));
        Ok(id)
    }

    /// Queues the next bytes of pushed stream `id`; `None` when no such
    /// stream is being sent.
    pub(super) fn push_stream(
        outbound: &mut Outbound,
        id: StreamId,
        data: Bytes,
    ) -> Option<Result<(), SendError>> {
        let result = outbound.push_to_stream(id, data)?;
        Some(result.map_err(|error| match error {
            PushError::NotPushed => SendError::NotPushed(id),
            PushError::PastEnd {
                announced,
                would_be,
            } => SendError::PushPastEnd {
                id,
                announced,
                would_be,
            },
        }))
    }

    /// Stops sending stream `id`, telling the peer if it has heard of it.
    pub(super) fn abort_stream(
        outbound: &mut Outbound,
        id: StreamId,
        reason: &str,
    ) -> Result<(), SendError> {
        let announced = outbound
            .cancel_stream(id)
            .ok_or(SendError::UnknownStream(id))?;
        if announced {
            outbound.push_stream_control(&Record::Abort {
                id,
                code: AbortCode::CANCELLED,
                reason: reason.into(),
            });
        }
        Ok(())
    }

    #[inline]
    fn goes_as_stream(&self, len: usize) -> bool {
        self.stream
            .send_threshold
            .is_some_and(|threshold| len > threshold)
    }

    fn check_streamed(&self) -> Result<(), SendError> {
        match self.kind {
            Envelope::Streamed(_) => Ok(()),
            _ => Err(SendError::StreamsNotNegotiated),
        }
    }

    /// Refuses a stream over [`StreamConfig::max_send_size`] before
    /// anything of it is queued.
    #[inline]
    fn check_stream_size(&self, len: u64) -> Result<(), SendError> {
        let max = self.stream.max_send_size;
        if len > max {
            return Err(SendError::StreamTooLarge { len, max });
        }
        Ok(())
    }

    fn queue_stream(
        &mut self,
        source: StreamSource,
        metadata: Bytes,
        outbound: &mut Outbound,
    ) -> StreamId {
        let id = self.take_stream_id();
        outbound.push_stream(OutStream::new(id, source, metadata));
        id
    }

    fn take_stream_id(&mut self) -> StreamId {
        let id = self.next_stream_id;
        self.next_stream_id = id.wrapping_add(1);
        id
    }
}

/// The stream commands of a connection whose subprotocol names the
/// streamed envelope.
impl Connection {
    /// Sends `source` as a stream with `metadata` (for example a content
    /// type) for the receiver, on a connection whose subprotocol names the
    /// streamed envelope. The payload is cut into chunks as it is written,
    /// interleaved with other messages; the returned id names it in
    /// [`StreamEvent`]s and [`Connection::abort_stream`]. A stream longer
    /// than [`StreamConfig::max_send_size`] is refused with
    /// [`SendError::StreamTooLarge`] and nothing of it is written.
    ///
    /// [`StreamConfig::max_send_size`]: crate::envelope::stream::StreamConfig::max_send_size
    ///
    /// ```
    /// use bytes::Bytes;
    /// use wscore::{Config, Connection, Instant, Role, Subprotocol};
    ///
    /// let config = Config::default().subprotocols(vec![Subprotocol::streamed("files.v2")]);
    /// let mut conn = Connection::upgraded(Role::Server, config, [0; 32], Instant::ZERO)?;
    /// // Upgraded elsewhere, so no subprotocol was chosen here: plain.
    /// assert!(conn.send_stream(Bytes::from(vec![0; 10]), Bytes::new()).is_err());
    /// # Ok::<(), wscore::SetupError>(())
    /// ```
    pub fn send_stream(
        &mut self,
        source: impl Into<StreamSource>,
        metadata: Bytes,
    ) -> Result<StreamId, SendError> {
        self.check_can_send()?;
        self.envelope
            .send_stream(source.into(), metadata, &mut self.outbound)
    }

    /// Opens a stream of `total_len` bytes whose data the application
    /// pushes later with [`Connection::push_stream`], on a connection whose
    /// subprotocol names the streamed envelope. Nothing is written until
    /// the first bytes are pushed (the open record goes with them), and
    /// the stream waits without holding up other messages while it has
    /// nothing pushed. The end record follows the last of the `total_len`
    /// bytes by itself. A `total_len` over
    /// [`StreamConfig::max_send_size`](crate::envelope::stream::StreamConfig::max_send_size)
    /// is refused with [`SendError::StreamTooLarge`].
    ///
    /// The close frame follows the stream, so bytes may still be pushed
    /// after [`Connection::close`]; the connection's end drops the stream
    /// unfinished and reports it in a [`StreamEvent::Failed`].
    pub fn open_stream(&mut self, total_len: u64, metadata: Bytes) -> Result<StreamId, SendError> {
        self.check_can_send()?;
        self.envelope
            .open_stream(total_len, metadata, &mut self.outbound)
    }

    /// Queues the next bytes of stream `id`, opened with
    /// [`Connection::open_stream`]. They are not copied: each is cut into
    /// chunk records as it is written. They count in
    /// [`Connection::queued_bytes`] until written, so an adapter applies
    /// back-pressure by pushing only while that is under its limit.
    /// Bytes past the announced length are refused whole; once the last
    /// record is written the stream is gone and a push names an unknown
    /// stream.
    pub fn push_stream(&mut self, id: StreamId, data: Bytes) -> Result<(), SendError> {
        EnvelopeMachine::push_stream(&mut self.outbound, id, data).unwrap_or_else(|| {
            Err(self
                .check_can_send()
                .err()
                .unwrap_or(SendError::UnknownStream(id)))
        })
    }

    /// Stops sending stream `id`; the peer is told if it has heard of it.
    /// Chunks already written stay written.
    pub fn abort_stream(&mut self, id: StreamId, reason: &str) -> Result<(), SendError> {
        EnvelopeMachine::abort_stream(&mut self.outbound, id, reason)
    }
}
