//! Inbound streams: the reassembly of each stream the peer sends, within
//! the limits of [`StreamConfig`], and their time-to-live.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use core::time::Duration;

use bytes::Bytes;

use super::record::Record;
use super::{Direction, StreamConfig, StreamError, StreamEvent, StreamId};
use crate::Instant;

/// One inbound stream.
#[derive(Debug)]
struct InStream {
    total_len: u64,
    received: u64,
    last_seen: Instant,
    /// Reassembled mode: the bytes so far.
    buf: Option<Vec<u8>>,
}

/// One thing a record did to the inbound streams. A record's outcomes are
/// appended to a queue its caller keeps, so applying a chunk allocates
/// nothing of its own.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// A reassembled stream, delivered as one binary message.
    Message(Bytes),
    /// A stream event for the application.
    Event(StreamEvent),
    /// A stream of the peer's to refuse: it is told to stop sending it.
    /// Comes before the stream's [`StreamEvent::Failed`].
    Refuse(StreamId, StreamError),
    /// Our outbound stream the peer refused.
    Refused(StreamId, StreamError),
}

/// Where a record's outcomes go, in order.
pub(crate) type Outcomes = VecDeque<Outcome>;

/// Refused stream ids remembered, at most. A peer has few chunks in flight
/// for a refused stream, and one it refuses after this many others may see
/// a second refusal: harmless, and the memory stays bounded.
const MAX_REFUSED: usize = 64;

/// The inbound streams of one connection, with their bounds.
#[derive(Debug, Default)]
pub(crate) struct Reassembly {
    streams: BTreeMap<StreamId, InStream>,
    buffered: usize,
    /// Ids refused and not opened again since, oldest first: records still
    /// in flight for them are dropped without another refusal.
    refused: VecDeque<StreamId>,
}

impl Reassembly {
    /// Applies one stream record (not a batch) received at `now`, appending
    /// what it did to `out`.
    pub(crate) fn apply(
        &mut self,
        record: Record,
        now: Instant,
        incremental: bool,
        config: &StreamConfig,
        out: &mut Outcomes,
    ) {
        match record {
            Record::Batch(_) => {}
            Record::Open {
                id,
                total_len,
                metadata,
            } => {
                self.refused.retain(|&refused| refused != id);
                if self.streams.contains_key(&id) {
                    self.fail(id, StreamError::AlreadyOpen, out);
                    return;
                }
                let error = if self.streams.len() >= config.max_streams {
                    Some(StreamError::TooManyStreams)
                } else if total_len > config.max_stream_size || metadata.len() > config.max_metadata
                {
                    Some(StreamError::TooLarge)
                } else if !incremental
                    && total_len > config.max_buffered.saturating_sub(self.buffered) as u64
                {
                    Some(StreamError::BufferLimit)
                } else {
                    None
                };
                if let Some(error) = error {
                    self.refuse_unknown(id, error, out);
                    return;
                }
                let buf = (!incremental).then(|| {
                    // Announced lengths are trusted only within the budget.
                    Vec::with_capacity(usize::try_from(total_len).unwrap_or(0).min(1 << 20))
                });
                if !incremental {
                    self.buffered += usize::try_from(total_len).unwrap_or(usize::MAX);
                }
                self.streams.insert(
                    id,
                    InStream {
                        total_len,
                        received: 0,
                        last_seen: now,
                        buf,
                    },
                );
                if incremental {
                    out.push_back(Outcome::Event(StreamEvent::Started {
                        id,
                        total_len,
                        metadata,
                    }));
                }
            }
            Record::Chunk { id, offset, data } => {
                let Some(stream) = self.streams.get_mut(&id) else {
                    self.refuse_unknown_once(id, out);
                    return;
                };
                let len = data.len() as u64;
                let error = if offset < stream.received {
                    Some(StreamError::DuplicateChunk {
                        offset,
                        expected: stream.received,
                    })
                } else if offset > stream.received || offset.saturating_add(len) > stream.total_len
                {
                    Some(StreamError::OutOfRange { offset, len })
                } else {
                    None
                };
                if let Some(error) = error {
                    self.fail(id, error, out);
                    return;
                }
                stream.received += len;
                stream.last_seen = now;
                match stream.buf.as_mut() {
                    Some(buf) => {
                        if data.len() > buf.capacity() - buf.len() {
                            // The announced length was counted against the
                            // budget at the open: take the rest of it at
                            // once instead of doubling into it by copies.
                            let total = usize::try_from(stream.total_len).unwrap_or(usize::MAX);
                            buf.reserve_exact(total.saturating_sub(buf.len()));
                        }
                        buf.extend_from_slice(&data);
                    }
                    None if !data.is_empty() => {
                        out.push_back(Outcome::Event(StreamEvent::Data { id, data }));
                    }
                    None => {}
                }
            }
            Record::End { id } => {
                let Some(stream) = self.streams.get(&id) else {
                    self.refuse_unknown_once(id, out);
                    return;
                };
                if stream.received != stream.total_len {
                    let error = StreamError::LengthMismatch {
                        announced: stream.total_len,
                        received: stream.received,
                    };
                    self.fail(id, error, out);
                    return;
                }
                if let Some(stream) = self.remove(id) {
                    out.push_back(match stream.buf {
                        Some(buf) => Outcome::Message(Bytes::from(buf)),
                        None => Outcome::Event(StreamEvent::Finished { id }),
                    });
                }
            }
            Record::Abort { id, code, reason } => {
                if self.remove(id).is_some() {
                    out.push_back(Outcome::Event(StreamEvent::Failed {
                        id,
                        direction: Direction::Inbound,
                        error: StreamError::Aborted { code, reason },
                    }));
                }
            }
            Record::Refuse { id, code, reason } => {
                out.push_back(Outcome::Refused(id, StreamError::Aborted { code, reason }));
            }
        }
    }

    fn remove(&mut self, id: StreamId) -> Option<InStream> {
        let stream = self.streams.remove(&id)?;
        if stream.buf.is_some() {
            let held = usize::try_from(stream.total_len).unwrap_or(usize::MAX);
            self.buffered = self.buffered.saturating_sub(held);
        }
        Some(stream)
    }

    /// Drops an open stream, tells the application and the peer.
    fn fail(&mut self, id: StreamId, error: StreamError, out: &mut Outcomes) {
        self.remove(id);
        self.refuse_unknown(id, error, out);
    }

    /// Refuses a record for a stream that is not open, unless the stream
    /// was refused already: then the record was in flight behind it.
    fn refuse_unknown_once(&mut self, id: StreamId, out: &mut Outcomes) {
        if !self.refused.contains(&id) {
            self.refuse_unknown(id, StreamError::UnknownStream, out);
        }
    }

    /// Tells the application and the peer about a stream we do not hold.
    fn refuse_unknown(&mut self, id: StreamId, error: StreamError, out: &mut Outcomes) {
        if self.refused.len() >= MAX_REFUSED {
            self.refused.pop_front();
        }
        self.refused.push_back(id);
        out.push_back(Outcome::Refuse(id, error.clone()));
        out.push_back(Outcome::Event(StreamEvent::Failed {
            id,
            direction: Direction::Inbound,
            error,
        }));
    }

    /// The earliest time a stream expires.
    pub(crate) fn next_expiry(&self, ttl: Duration) -> Option<Instant> {
        self.streams.values().map(|s| s.last_seen + ttl).min()
    }

    /// Evicts every stream idle for `ttl` at `now`, appending what that did
    /// to `out`.
    pub(crate) fn evict(&mut self, now: Instant, ttl: Duration, out: &mut Outcomes) {
        let expired: Vec<StreamId> = self
            .streams
            .iter()
            .filter(|(_, s)| s.last_seen + ttl <= now)
            .map(|(&id, _)| id)
            .collect();
        for id in expired {
            self.fail(id, StreamError::Expired, out);
        }
    }

    /// Bytes held for reassembly (the budget reserved by open streams).
    #[cfg(test)]
    pub(crate) fn buffered(&self) -> usize {
        self.buffered
    }

    /// Whether no inbound stream is open.
    pub(crate) fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }

    /// The ids refused and not opened again since, oldest first: a
    /// hibernation record keeps them so records in flight behind a refusal
    /// stay dropped after the connection resumes.
    pub(crate) fn refused(&self) -> impl Iterator<Item = StreamId> + '_ {
        self.refused.iter().copied()
    }

    /// An empty reassembly that remembers `refused` (oldest first), within
    /// the usual bound.
    pub(crate) fn with_refused(refused: impl IntoIterator<Item = StreamId>) -> Self {
        let mut reassembly = Reassembly::default();
        for id in refused {
            if reassembly.refused.len() >= MAX_REFUSED {
                reassembly.refused.pop_front();
            }
            reassembly.refused.push_back(id);
        }
        reassembly
    }

    /// Drops every stream, returning their ids.
    pub(crate) fn clear(&mut self) -> Vec<StreamId> {
        self.buffered = 0;
        self.refused = VecDeque::new();
        core::mem::take(&mut self.streams).into_keys().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::stream::AbortCode;
    use alloc::string::String;
    use alloc::vec;
    use quickcheck::quickcheck;

    /// What one record did, sorted the way the tests look at it.
    #[derive(Debug, Default)]
    struct Seen {
        /// Everything but the refusals, in order.
        events: Vec<Outcome>,
        refuse: Vec<(StreamId, StreamError)>,
    }

    fn seen(out: Outcomes) -> Seen {
        let mut seen = Seen::default();
        for outcome in out {
            match outcome {
                Outcome::Refuse(id, error) => seen.refuse.push((id, error)),
                other => seen.events.push(other),
            }
        }
        seen
    }

    fn apply(
        r: &mut Reassembly,
        record: Record,
        now: Instant,
        incremental: bool,
        config: &StreamConfig,
    ) -> Seen {
        let mut out = Outcomes::new();
        r.apply(record, now, incremental, config, &mut out);
        seen(out)
    }

    fn evict(r: &mut Reassembly, now: Instant, ttl: Duration) -> Seen {
        let mut out = Outcomes::new();
        r.evict(now, ttl, &mut out);
        seen(out)
    }

    fn at(secs: u64) -> Instant {
        Instant::from_elapsed(Duration::from_secs(secs))
    }

    fn chunk(id: StreamId, offset: u64, data: &'static [u8]) -> Record {
        Record::Chunk {
            id,
            offset,
            data: Bytes::from_static(data),
        }
    }

    fn open(id: StreamId, total_len: u64) -> Record {
        Record::Open {
            id,
            total_len,
            metadata: Bytes::new(),
        }
    }

    #[test]
    fn reassembles_in_order_and_counts_the_budget() {
        let config = StreamConfig::default();
        let mut r = Reassembly::default();
        assert!(apply(&mut r, open(1, 6), at(0), false, &config)
            .events
            .is_empty());
        assert_eq!(r.buffered(), 6);
        apply(&mut r, chunk(1, 0, b"abc"), at(1), false, &config);
        apply(&mut r, chunk(1, 3, b"def"), at(2), false, &config);
        let out = apply(&mut r, Record::End { id: 1 }, at(2), false, &config);
        assert!(matches!(&out.events[..], [Outcome::Message(m)] if &m[..] == b"abcdef"));
        assert_eq!(r.buffered(), 0);
    }

    #[test]
    fn a_large_stream_grows_its_buffer_once() {
        const MIB: usize = 1 << 20;
        let config = StreamConfig::default();
        let mut r = Reassembly::default();
        let total = 3 * MIB + MIB / 2;
        apply(&mut r, open(1, total as u64), at(0), false, &config);
        let capacity = |r: &Reassembly| r.streams[&1].buf.as_ref().map(Vec::capacity);
        assert_eq!(
            capacity(&r),
            Some(MIB),
            "announced lengths are trusted in part"
        );
        let half = Bytes::from(vec![1; MIB / 2]);
        let first = Record::Chunk {
            id: 1,
            offset: 0,
            data: half.clone(),
        };
        apply(&mut r, first, at(0), false, &config);
        assert_eq!(capacity(&r), Some(MIB), "within the first allocation");
        let mut offset = MIB / 2;
        while offset < total {
            let chunk = Record::Chunk {
                id: 1,
                offset: offset as u64,
                data: half.clone(),
            };
            apply(&mut r, chunk, at(0), false, &config);
            offset += half.len();
            // Past the first allocation the rest is taken at once.
            let want = if offset <= MIB { MIB } else { total };
            assert_eq!(capacity(&r), Some(want), "at {offset}");
        }
        let out = apply(&mut r, Record::End { id: 1 }, at(0), false, &config);
        assert!(matches!(&out.events[..], [Outcome::Message(m)] if m.len() == total));
    }

    #[test]
    fn per_stream_errors_refuse_the_stream_only() {
        let config = StreamConfig::default();
        let mut r = Reassembly::default();
        apply(&mut r, open(1, 6), at(0), false, &config);
        apply(&mut r, open(2, 6), at(0), false, &config);
        apply(&mut r, chunk(1, 0, b"abc"), at(0), false, &config);
        let cases = [
            (
                chunk(1, 0, b"abc"),
                StreamError::DuplicateChunk {
                    offset: 0,
                    expected: 3,
                },
            ),
            (
                chunk(2, 1, b"x"),
                StreamError::OutOfRange { offset: 1, len: 1 },
            ),
            (chunk(5, 0, b"x"), StreamError::UnknownStream),
        ];
        for (record, error) in cases {
            let out = apply(&mut r, record, at(0), false, &config);
            assert_eq!(out.refuse.len(), 1);
            assert_eq!(out.refuse[0].1, error);
        }
        assert_eq!(r.buffered(), 0, "failed streams release their budget");
        // Past the end, and an early end.
        apply(&mut r, open(3, 2), at(0), false, &config);
        let out = apply(&mut r, chunk(3, 0, b"abc"), at(0), false, &config);
        assert_eq!(
            out.refuse[0].1,
            StreamError::OutOfRange { offset: 0, len: 3 }
        );
        apply(&mut r, open(4, 2), at(0), false, &config);
        let out = apply(&mut r, Record::End { id: 4 }, at(0), false, &config);
        assert_eq!(
            out.refuse[0].1,
            StreamError::LengthMismatch {
                announced: 2,
                received: 0
            }
        );
    }

    #[test]
    fn limits_refuse_new_streams() {
        let config = StreamConfig::default()
            .max_streams(1)
            .max_buffered(10)
            .max_stream_size(100);
        let mut r = Reassembly::default();
        let refused = |out: Seen| out.refuse.into_iter().map(|(_, e)| e).collect::<Vec<_>>();
        assert_eq!(
            refused(apply(&mut r, open(1, 11), at(0), false, &config)),
            [StreamError::BufferLimit]
        );
        // Incremental mode holds nothing, so only the size limit applies.
        assert!(refused(apply(&mut r, open(1, 50), at(0), true, &config)).is_empty());
        assert_eq!(
            refused(apply(&mut r, open(2, 1), at(0), true, &config)),
            [StreamError::TooManyStreams]
        );
        assert_eq!(
            refused(apply(&mut r, open(1, 1), at(0), true, &config)),
            [StreamError::AlreadyOpen]
        );
        assert_eq!(
            refused(apply(&mut r, open(3, 101), at(0), true, &config)),
            [StreamError::TooLarge]
        );
    }

    #[test]
    fn refused_ids_are_remembered_within_a_bound() {
        let config = StreamConfig::default();
        let mut r = Reassembly::default();
        for id in 0..=MAX_REFUSED as StreamId {
            let out = apply(&mut r, chunk(id, 0, b"x"), at(0), false, &config);
            assert_eq!(out.refuse.len(), 1);
        }
        assert_eq!(r.refused.len(), MAX_REFUSED);
        let newest = MAX_REFUSED as StreamId;
        let out = apply(&mut r, Record::End { id: newest }, at(0), false, &config);
        assert!(out.refuse.is_empty() && out.events.is_empty());
        // The oldest was forgotten: a late record is refused again.
        let out = apply(&mut r, chunk(0, 1, b"x"), at(0), false, &config);
        assert_eq!(out.refuse.len(), 1);
    }

    #[test]
    fn idle_streams_expire_from_their_last_chunk() {
        let config = StreamConfig::default().ttl(Duration::from_secs(60));
        let mut r = Reassembly::default();
        apply(&mut r, open(1, 10), at(0), true, &config);
        apply(&mut r, open(2, 10), at(10), true, &config);
        apply(&mut r, chunk(1, 0, b"a"), at(30), true, &config);
        assert_eq!(r.next_expiry(config.ttl), Some(at(70)));
        let out = evict(&mut r, at(70), config.ttl);
        assert_eq!(out.refuse, vec![(2, StreamError::Expired)]);
        assert_eq!(r.next_expiry(config.ttl), Some(at(90)));
    }

    quickcheck! {
        fn reassembly_never_panics_and_stays_in_budget(ops: Vec<(u8, u8, u16, u16)>) -> bool {
            let config = StreamConfig::default().max_buffered(4096).max_streams(3);
            let mut r = Reassembly::default();
            for (i, (kind, id, a, b)) in ops.into_iter().enumerate() {
                let id = StreamId::from(id % 4);
                let record = match kind % 5 {
                    0 => open(id, u64::from(a)),
                    1 => Record::Chunk { id, offset: u64::from(a), data: Bytes::from(vec![0; usize::from(b % 600)]) },
                    2 => Record::End { id },
                    3 => Record::Abort { id, code: AbortCode(1), reason: String::new() },
                    _ => {
                        evict(&mut r, at(i as u64), Duration::from_secs(u64::from(b % 5)));
                        continue;
                    }
                };
                apply(&mut r, record, at(i as u64), kind % 2 == 0, &config);
                if r.buffered() > config.max_buffered {
                    return false;
                }
            }
            true
        }
    }
}
