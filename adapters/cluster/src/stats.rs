//! What the bridge did, counted: nothing it loses goes unreported.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// A snapshot of a [`Cluster`](crate::Cluster)'s counters, each counted
/// since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClusterStats {
    /// Messages Redis confirmed it took for publishing.
    pub published: u64,
    /// Messages given to the bridge that did not reach Redis, or whose
    /// publish Redis never confirmed: refused past
    /// [`ClusterConfig::max_pending`](crate::ClusterConfig), given while
    /// the publish link was down, or in a batch the link was lost under.
    /// The local members had them; members in other processes did not
    /// (or, for an unconfirmed batch, perhaps did).
    pub not_published: u64,
    /// Messages from other processes delivered to this process's members.
    pub received: u64,
    /// This process's own messages heard back from Redis and ignored:
    /// their local members had them when they were published.
    pub echoes: u64,
    /// Messages of other processes this process should have received and
    /// did not: the gaps in their sequence numbers, per room.
    pub may_have_missed: u64,
    /// Payloads on the rooms' channels that were not messages of this
    /// format, or repeated a sequence number already seen; never delivered.
    pub discarded: u64,
    /// Links restored after a loss (publish and subscribe links alike).
    pub reconnects: u64,
    /// Events dropped because nobody took them in time
    /// ([`ClusterConfig::max_events`](crate::ClusterConfig)).
    pub events_dropped: u64,
    /// Rooms whose channel is subscribed now.
    pub subscribed_rooms: usize,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) published: AtomicU64,
    pub(crate) not_published: AtomicU64,
    pub(crate) received: AtomicU64,
    pub(crate) echoes: AtomicU64,
    pub(crate) may_have_missed: AtomicU64,
    pub(crate) discarded: AtomicU64,
    pub(crate) reconnects: AtomicU64,
    pub(crate) events_dropped: AtomicU64,
    pub(crate) subscribed_rooms: AtomicUsize,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> ClusterStats {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        ClusterStats {
            published: get(&self.published),
            not_published: get(&self.not_published),
            received: get(&self.received),
            echoes: get(&self.echoes),
            may_have_missed: get(&self.may_have_missed),
            discarded: get(&self.discarded),
            reconnects: get(&self.reconnects),
            events_dropped: get(&self.events_dropped),
            subscribed_rooms: self.subscribed_rooms.load(Ordering::Relaxed),
        }
    }
}
