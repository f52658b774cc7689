//! Outbound streams: where their data comes from (bytes in memory, a pull
//! source, or bytes the application pushes) and how they are cut into
//! records one at a time, as the connection's queue reaches them.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use core::fmt;

use bytes::Bytes;

use super::record::{ChunkPrefix, Record};
use super::StreamId;

/// A pull source of stream data for payloads not held in memory.
pub trait ChunkSource: Send {
    /// The total length the stream announces.
    fn total_len(&self) -> u64;
    /// The next bytes, at most `max`; `None` when the source has nothing
    /// more. Ending before [`ChunkSource::total_len`] aborts the stream.
    fn next_chunk(&mut self, max: usize) -> Option<Bytes>;
}

/// What a stream sends: bytes in memory (sliced, never copied whole) or a
/// pull source.
pub enum StreamSource {
    /// A payload in memory.
    Bytes(Bytes),
    /// A payload produced on demand.
    Pull(Box<dyn ChunkSource>),
}

impl fmt::Debug for StreamSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamSource::Bytes(b) => f.debug_tuple("Bytes").field(&b.len()).finish(),
            StreamSource::Pull(s) => f.debug_tuple("Pull").field(&s.total_len()).finish(),
        }
    }
}

impl From<Bytes> for StreamSource {
    fn from(bytes: Bytes) -> Self {
        StreamSource::Bytes(bytes)
    }
}

impl StreamSource {
    pub(crate) fn total_len(&self) -> u64 {
        match self {
            StreamSource::Bytes(b) => b.len() as u64,
            StreamSource::Pull(s) => s.total_len(),
        }
    }
}

/// Where an outbound stream's data comes from.
enum Feed {
    /// A payload in memory, sliced as it is written.
    Bytes(Bytes),
    /// A pull source, asked for each chunk as it is written.
    Pull(Box<dyn ChunkSource>),
    /// Bytes the application pushes as it has them, each sliced into
    /// chunks as it is written.
    Push {
        queue: VecDeque<Bytes>,
        /// Bytes accepted so far, written or not.
        pushed: u64,
        /// Bytes in `queue`.
        waiting: usize,
    },
}

impl fmt::Debug for Feed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Feed::Bytes(b) => f.debug_tuple("Bytes").field(&b.len()).finish(),
            Feed::Pull(s) => f.debug_tuple("Pull").field(&s.total_len()).finish(),
            Feed::Push {
                pushed, waiting, ..
            } => f
                .debug_struct("Push")
                .field("pushed", pushed)
                .field("waiting", waiting)
                .finish(),
        }
    }
}

/// Why bytes could not be pushed to an outbound stream.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PushError {
    /// The stream takes its data from a payload or a pull source.
    NotPushed,
    /// The bytes would run past the announced length; the total they
    /// would make.
    PastEnd {
        /// What the stream announced.
        announced: u64,
        /// What the push would have made.
        would_be: u64,
    },
}

/// An encoded record as it is written: `prefix` then `payload`. Only chunk
/// records have a prefix; their payload is a slice of the stream's data.
#[derive(Debug)]
pub(crate) struct OutBytes {
    pub(crate) prefix: ChunkPrefix,
    pub(crate) payload: Bytes,
}

impl OutBytes {
    /// A record with no separate prefix.
    pub(crate) fn whole(payload: Bytes) -> Self {
        OutBytes {
            prefix: ChunkPrefix::default(),
            payload,
        }
    }

    /// The record's length on the wire.
    pub(crate) fn len(&self) -> usize {
        self.prefix.len() + self.payload.len()
    }
}

/// An outbound stream, cut into records as they are needed.
#[derive(Debug)]
pub(crate) struct OutStream {
    pub(crate) id: StreamId,
    feed: Feed,
    metadata: Option<Bytes>,
    total_len: u64,
    sent: u64,
}

/// The next record of an outbound stream.
pub(crate) enum OutRecord {
    /// An open or chunk record; the stream continues.
    Next(OutBytes),
    /// The end record; the stream is done.
    Last(Bytes),
    /// The source failed: abort the stream.
    Failed,
    /// A pushed stream has nothing to send until more is pushed.
    Waiting,
}

impl OutStream {
    pub(crate) fn new(id: StreamId, source: StreamSource, metadata: Bytes) -> Self {
        let total_len = source.total_len();
        let feed = match source {
            StreamSource::Bytes(bytes) => Feed::Bytes(bytes),
            StreamSource::Pull(source) => Feed::Pull(source),
        };
        Self {
            id,
            feed,
            metadata: Some(metadata),
            total_len,
            sent: 0,
        }
    }

    /// A stream of `total_len` bytes the application pushes later.
    pub(crate) fn pushed(id: StreamId, total_len: u64, metadata: Bytes) -> Self {
        Self {
            id,
            feed: Feed::Push {
                queue: VecDeque::new(),
                pushed: 0,
                waiting: 0,
            },
            metadata: Some(metadata),
            total_len,
            sent: 0,
        }
    }

    /// Whether the open record has gone out (the peer knows the stream).
    pub(crate) fn announced(&self) -> bool {
        self.metadata.is_none()
    }

    /// Queues the next pushed bytes. Empty bytes are accepted and change
    /// nothing.
    pub(crate) fn push(&mut self, data: Bytes) -> Result<(), PushError> {
        let Feed::Push {
            queue,
            pushed,
            waiting,
        } = &mut self.feed
        else {
            return Err(PushError::NotPushed);
        };
        let would_be = pushed.saturating_add(data.len() as u64);
        if would_be > self.total_len {
            return Err(PushError::PastEnd {
                announced: self.total_len,
                would_be,
            });
        }
        if !data.is_empty() {
            *pushed = would_be;
            *waiting += data.len();
            queue.push_back(data);
        }
        Ok(())
    }

    /// Pushed bytes not yet cut into a record.
    pub(crate) fn waiting(&self) -> usize {
        match &self.feed {
            Feed::Push { waiting, .. } => *waiting,
            _ => 0,
        }
    }

    /// Whether the stream takes pushed bytes.
    pub(crate) fn is_pushed(&self) -> bool {
        matches!(self.feed, Feed::Push { .. })
    }

    /// The next record. A chunk carries at most `chunk_size` bytes of data,
    /// and fewer when that is needed for the whole record to fit
    /// `max_record` bytes, so it goes out as one frame.
    pub(crate) fn next_record(&mut self, chunk_size: usize, max_record: usize) -> OutRecord {
        if self.metadata.is_some() && self.total_len > 0 && self.waiting() == 0 && self.is_pushed()
        {
            // A pushed stream is announced with its first bytes, so the
            // receiver's time-to-live does not run while the application
            // has nothing yet.
            return OutRecord::Waiting;
        }
        if let Some(metadata) = self.metadata.take() {
            let open = Record::Open {
                id: self.id,
                total_len: self.total_len,
                metadata,
            };
            return OutRecord::Next(OutBytes::whole(open.encode()));
        }
        if self.sent >= self.total_len {
            return OutRecord::Last(Record::End { id: self.id }.encode());
        }
        let prefix = ChunkPrefix::new(self.id, self.sent);
        let left = usize::try_from(self.total_len - self.sent).unwrap_or(usize::MAX);
        let room = max_record.saturating_sub(prefix.len()).max(1);
        let max = chunk_size.min(room).min(left);
        let data = match &mut self.feed {
            Feed::Bytes(bytes) => {
                let start = usize::try_from(self.sent).unwrap_or(usize::MAX);
                bytes
                    .get(start..start.saturating_add(max))
                    .map(|_| bytes.slice(start..start + max))
            }
            Feed::Pull(source) => source.next_chunk(max).map(|mut b| {
                b.truncate(max);
                b
            }),
            Feed::Push { queue, waiting, .. } => {
                let Some(front) = queue.front_mut() else {
                    return OutRecord::Waiting;
                };
                let data = front.split_to(max.min(front.len()));
                if front.is_empty() {
                    queue.pop_front();
                }
                *waiting = waiting.saturating_sub(data.len());
                Some(data)
            }
        };
        let Some(data) = data.filter(|d| !d.is_empty()) else {
            return OutRecord::Failed;
        };
        self.sent += data.len() as u64;
        OutRecord::Next(OutBytes {
            prefix,
            payload: data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    #[test]
    fn out_streams_slice_lazily() {
        let payload = Bytes::from(vec![7u8; 1000]);
        let mut s = OutStream::new(4, StreamSource::Bytes(payload.clone()), Bytes::new());
        let mut records = Vec::new();
        loop {
            match s.next_record(300, usize::MAX) {
                OutRecord::Next(r) => records.push(Record::decode(&joined(&r)).unwrap()),
                OutRecord::Last(r) => {
                    records.push(Record::decode(&r).unwrap());
                    break;
                }
                OutRecord::Failed | OutRecord::Waiting => panic!("bytes never fail or wait"),
            }
        }
        assert_eq!(records.len(), 1 + 4 + 1);
        let offsets: Vec<u64> = records
            .iter()
            .filter_map(|r| match r {
                Record::Chunk { offset, .. } => Some(*offset),
                _ => None,
            })
            .collect();
        assert_eq!(offsets, [0, 300, 600, 900]);
    }

    fn joined(record: &OutBytes) -> Bytes {
        Bytes::from([record.prefix.as_slice(), &record.payload[..]].concat())
    }

    #[test]
    fn chunk_records_fit_the_record_limit_with_their_prefix() {
        let payload = Bytes::from(vec![7u8; 1000]);
        let mut s = OutStream::new(300, StreamSource::Bytes(payload.clone()), Bytes::new());
        let mut sent = 0;
        while let OutRecord::Next(r) = s.next_record(300, 100) {
            let Ok(Record::Chunk { id, offset, data }) = Record::decode(&joined(&r)) else {
                continue;
            };
            assert!(r.len() <= 100, "{} bytes", r.len());
            assert_eq!((id, offset), (300, sent));
            // The prefix is the record's own encoding, byte for byte.
            let encoded = Record::Chunk {
                id,
                offset,
                data: data.clone(),
            }
            .encode();
            assert_eq!(r.prefix.as_slice(), &encoded[..r.prefix.len()]);
            assert_eq!(
                data,
                payload.slice(sent as usize..sent as usize + data.len())
            );
            sent += data.len() as u64;
        }
        assert_eq!(sent, 1000);
    }

    struct Short(u64);

    impl ChunkSource for Short {
        fn total_len(&self) -> u64 {
            self.0 * 2
        }
        fn next_chunk(&mut self, max: usize) -> Option<Bytes> {
            if self.0 == 0 {
                return None;
            }
            let n = (self.0 as usize).min(max);
            self.0 -= n as u64;
            Some(Bytes::from(vec![1; n]))
        }
    }

    #[test]
    fn a_short_source_fails_the_stream() {
        let mut s = OutStream::new(1, StreamSource::Pull(Box::new(Short(10))), Bytes::new());
        assert!(matches!(s.next_record(4, usize::MAX), OutRecord::Next(_)));
        for _ in 0..3 {
            assert!(matches!(s.next_record(4, usize::MAX), OutRecord::Next(_)));
        }
        assert!(matches!(s.next_record(4, usize::MAX), OutRecord::Failed));
    }
}
