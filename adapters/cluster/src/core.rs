//! What the bridge's handles and tasks share.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

use crate::event::Emitter;
use crate::room::Channels;
use crate::stats::Counters;
use crate::{ClusterConfig, ClusterEvents, ClusterRoom, Origin};

pub(crate) struct Core<R> {
    pub(crate) origin: Origin,
    pub(crate) config: ClusterConfig,
    pub(crate) channels: Channels,
    pub(crate) counters: Arc<Counters>,
    pub(crate) emitter: Emitter<R>,
    /// Rooms whose subscription Redis confirmed on the current link.
    subscribed: Mutex<BTreeSet<R>>,
    /// The events' receiving end, until taken.
    pub(crate) events: Mutex<Option<ClusterEvents<R>>>,
    /// The subscribe link lost Redis: the publish link checks its own
    /// connection before a publish finds it broken.
    pub(crate) link_lost: Notify,
}

/// Locks `mutex`; what it guards is changed in full under the lock, so a
/// panic elsewhere leaves it consistent.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<R: ClusterRoom> Core<R> {
    pub(crate) fn new(origin: Origin, config: ClusterConfig) -> Self {
        let counters = Arc::new(Counters::default());
        let (emitter, events) = Emitter::new(config.max_events, Arc::clone(&counters));
        Core {
            origin,
            channels: Channels::new(&config.channel_prefix),
            config,
            counters,
            emitter,
            subscribed: Mutex::new(BTreeSet::new()),
            events: Mutex::new(Some(events)),
            link_lost: Notify::new(),
        }
    }

    pub(crate) fn subscribed(&self, room: R) {
        let mut subscribed = lock(&self.subscribed);
        subscribed.insert(room);
        self.count_subscribed(subscribed.len());
    }

    pub(crate) fn unsubscribed(&self, room: &R) {
        let mut subscribed = lock(&self.subscribed);
        subscribed.remove(room);
        self.count_subscribed(subscribed.len());
    }

    pub(crate) fn set_subscribed(&self, rooms: BTreeSet<R>) {
        let mut subscribed = lock(&self.subscribed);
        *subscribed = rooms;
        self.count_subscribed(subscribed.len());
    }

    pub(crate) fn is_subscribed(&self, room: &R) -> bool {
        lock(&self.subscribed).contains(room)
    }

    fn count_subscribed(&self, rooms: usize) {
        self.counters
            .subscribed_rooms
            .store(rooms, Ordering::Relaxed);
    }
}
