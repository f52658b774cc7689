//! What the bridge reports as it happens.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use tokio::sync::mpsc;

use crate::stats::Counters;
use crate::{Origin, WireError};

/// One of the bridge's two connections to Redis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Link {
    /// The connection every publish of this process goes through, in order.
    Publish,
    /// The connection subscribed to the channels of the rooms this
    /// process serves.
    Subscribe,
}

/// Why a link was lost.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum LinkError {
    /// Redis, or the connection to it, failed.
    Redis(Arc<redis::RedisError>),
    /// Redis did not answer within
    /// [`ClusterConfig::timeout`](crate::ClusterConfig).
    Timeout,
    /// The connection ended.
    Closed,
}

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkError::Redis(error) => write!(f, "redis: {error}"),
            LinkError::Timeout => f.write_str("redis did not answer in time"),
            LinkError::Closed => f.write_str("the connection to redis ended"),
        }
    }
}

impl std::error::Error for LinkError {}

impl From<redis::RedisError> for LinkError {
    fn from(error: redis::RedisError) -> Self {
        LinkError::Redis(Arc::new(error))
    }
}

/// Something the application should know about the bridge; the same
/// facts are counted in [`ClusterStats`](crate::ClusterStats), exactly,
/// even when events are dropped.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum ClusterEvent<R> {
    /// A link to Redis failed; the bridge reconnects by itself.
    LinkLost {
        /// Which link.
        link: Link,
        /// What failed.
        error: LinkError,
    },
    /// A lost link is back. For the subscribe link, every served room is
    /// subscribed again; messages published meanwhile were not received,
    /// and show up in `MayHaveMissed` once a later message of the same
    /// publisher arrives.
    Reconnected {
        /// Which link.
        link: Link,
        /// Attempts it took, the successful one included.
        attempts: u32,
        /// From the loss to the restored link.
        down_for: Duration,
        /// Rooms subscribed again (0 for the publish link).
        rooms: usize,
    },
    /// Messages that reached this process's members but not Redis (see
    /// [`ClusterStats::not_published`](crate::ClusterStats)).
    NotPublished {
        /// How many, in this report.
        messages: u64,
    },
    /// A publisher's sequence numbers in a room skipped: messages it
    /// published there never reached this process.
    MayHaveMissed {
        /// The room.
        room: R,
        /// The publishing process.
        origin: Origin,
        /// How many messages are missing.
        messages: u64,
    },
    /// A payload on a room's channel was not a message of this format.
    Discarded {
        /// The channel it came on.
        channel: String,
        /// What was wrong with it.
        error: WireError,
    },
}

/// The sending side of the events, shared by the bridge's tasks.
#[derive(Clone, Debug)]
pub(crate) struct Emitter<R> {
    sender: mpsc::Sender<ClusterEvent<R>>,
    counters: Arc<Counters>,
}

impl<R> Emitter<R> {
    pub(crate) fn new(capacity: usize, counters: Arc<Counters>) -> (Self, ClusterEvents<R>) {
        let (sender, receiver) = mpsc::channel(capacity);
        (Emitter { sender, counters }, ClusterEvents { receiver })
    }

    /// Queues `event`, or counts it dropped when the queue is full or
    /// nobody will take it.
    pub(crate) fn emit(&self, event: ClusterEvent<R>) {
        if self.sender.try_send(event).is_err() {
            Counters::add(&self.counters.events_dropped, 1);
        }
    }
}

/// The stream of [`Cluster::events`](crate::Cluster::events); it ends
/// when the bridge stops.
#[derive(Debug)]
pub struct ClusterEvents<R> {
    receiver: mpsc::Receiver<ClusterEvent<R>>,
}

impl<R> Stream for ClusterEvents<R> {
    type Item = ClusterEvent<R>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.receiver.poll_recv(cx)
    }
}
