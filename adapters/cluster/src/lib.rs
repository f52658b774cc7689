//! Rooms across processes: several server processes share the rooms of
//! their [`Hub`]s through Redis pub/sub.
//!
//! A [`Cluster`] wraps a process's hub. It subscribes to a room's channel
//! when the room gets its first local member and unsubscribes when it
//! loses its last one, so a process receives only the rooms it serves. A
//! publish is delivered to the local members at once (framed once, as
//! with the hub alone) and goes to Redis once; the other processes
//! deliver it to their members. A process ignores its own messages when
//! Redis hands them back, so its members get each message exactly once.
//!
//! - **Order.** Every publish of a process goes through one connection,
//!   in the order given (never a pool): the messages of one publisher to
//!   one room reach every member, in every process, in publish order.
//! - **Loss.** Delivery is at most once. Each message carries its
//!   process's id and a sequence number per room; gaps are counted
//!   ([`ClusterStats::may_have_missed`]), publishes that did not reach
//!   Redis too ([`ClusterStats::not_published`]), each with an event.
//! - **Failover.** A lost link reconnects by itself with exponential
//!   backoff, and the subscribe link subscribes every served room again
//!   ([`ClusterEvent::Reconnected`]).
//!
//! ```no_run
//! use wscore_cluster::{Cluster, ClusterConfig};
//! use wscore_driver::hub::{Hub, HubConfig};
//! use wscore::Message;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let hub: Hub = Hub::new(HubConfig::default());
//! let cluster = Cluster::connect(hub.clone(), "redis://127.0.0.1:6379/", ClusterConfig::default()).await?;
//! // Members join the hub as before; a publish now reaches every process.
//! cluster.publish(&"/lobby".to_string(), Message::text("hello, everyone"));
//! # Ok(())
//! # }
//! ```
//!
//! See `docs/cluster.md` in the repository for the message path, the
//! guarantees and how to run several processes.

mod config;
mod core;
mod event;
mod origin;
mod outbox;
mod publisher;
mod room;
mod sequence;
mod stats;
mod subscriber;
mod wire;

use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;
use wscore::{Message, PreparedMessage};
use wscore_driver::hub::{Hub, MemberId, Published};

pub use config::{ClusterConfig, ConfigError};
pub use event::{ClusterEvent, ClusterEvents, Link, LinkError};
pub use origin::Origin;
pub use room::ClusterRoom;
pub use stats::ClusterStats;
pub use wire::WireError;

use crate::core::{lock, Core};
use outbox::Outbox;
use publisher::Outgoing;
use subscriber::Subscriber;

/// Why a [`Cluster`] could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClusterError {
    /// The configuration cannot work.
    Config(ConfigError),
    /// The Redis URL is not one, or Redis refused or failed a connection.
    Redis(redis::RedisError),
    /// Redis did not answer within [`ClusterConfig::timeout`].
    Timeout,
    /// The system's random source failed to give the process its id.
    Random,
}

impl std::fmt::Display for ClusterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClusterError::Config(error) => write!(f, "cluster configuration: {error}"),
            ClusterError::Redis(error) => write!(f, "redis: {error}"),
            ClusterError::Timeout => f.write_str("redis did not answer in time"),
            ClusterError::Random => f.write_str("no random source for the process id"),
        }
    }
}

impl std::error::Error for ClusterError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ClusterError::Config(error) => Some(error),
            ClusterError::Redis(error) => Some(error),
            _ => None,
        }
    }
}

impl From<LinkError> for ClusterError {
    fn from(error: LinkError) -> Self {
        match error {
            LinkError::Redis(error) => match Arc::try_unwrap(error) {
                Ok(error) => ClusterError::Redis(error),
                Err(shared) => ClusterError::Redis(redis::RedisError::from((
                    shared.kind(),
                    "redis",
                    shared.to_string(),
                ))),
            },
            LinkError::Timeout => ClusterError::Timeout,
            LinkError::Closed => ClusterError::Redis(redis::RedisError::from((
                redis::ErrorKind::IoError,
                "the connection to redis ended",
            ))),
        }
    }
}

/// A hub whose rooms are shared with other processes through Redis;
/// cheap to clone (every clone is the same bridge). The bridge stops when
/// its last clone is dropped, after publishing what was given to it.
///
/// The publish calls are the hub's, and answer the same [`Published`]
/// for the local members; everything else (accepting, joining, leaving,
/// sending to one member, closing) is done on the hub itself
/// ([`Cluster::hub`]), and the bridge follows the rooms as they open and
/// close.
pub struct Cluster<R: ClusterRoom = String> {
    hub: Hub<R>,
    core: Arc<Core<R>>,
    handle: Arc<Handle<R>>,
}

impl<R: ClusterRoom> Clone for Cluster<R> {
    fn clone(&self) -> Self {
        Cluster {
            hub: self.hub.clone(),
            core: Arc::clone(&self.core),
            handle: Arc::clone(&self.handle),
        }
    }
}

impl<R: ClusterRoom> std::fmt::Debug for Cluster<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("origin", &self.core.origin)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// What only the handles hold: when the last one goes, the publish queue
/// closes (the publish task finishes what it holds) and the subscribe
/// task stops.
struct Handle<R> {
    outbox: Mutex<Outbox<R>>,
    subscriber: AbortHandle,
}

impl<R> Drop for Handle<R> {
    fn drop(&mut self) {
        self.subscriber.abort();
    }
}

impl<R: ClusterRoom> Cluster<R> {
    /// Connects `hub` to the Redis server at `redis_url`
    /// (`redis://[user:password@]host:port[/db]`): opens the publish and
    /// subscribe links, subscribes the rooms the hub has now, and follows
    /// its room events from then on. Needs a tokio runtime; fails if
    /// Redis cannot be reached now (later losses are recovered from).
    ///
    /// Take the hub's room events from here only: the bridge takes them.
    pub async fn connect(
        hub: Hub<R>,
        redis_url: &str,
        config: ClusterConfig,
    ) -> Result<Cluster<R>, ClusterError> {
        config.validate().map_err(ClusterError::Config)?;
        let client = redis::Client::open(redis_url).map_err(ClusterError::Redis)?;
        let origin = Origin::random().ok_or(ClusterError::Random)?;
        let core = Arc::new(Core::new(origin, config));
        let publish_link = publisher::connect(&client, core.config.timeout).await?;
        // Events first, then the rooms: a room opened in between is in
        // both, and subscribing twice is harmless.
        let room_events = hub.room_events();
        let mut subscriber = Subscriber::new(Arc::clone(&core), hub.clone(), client.clone());
        let subscription = subscriber.open(hub.rooms()).await?;

        let (queue, outgoing) = mpsc::channel(core.config.max_pending);
        tokio::spawn(publisher::run(
            Arc::clone(&core),
            client,
            publish_link,
            outgoing,
        ));
        let subscriber = tokio::spawn(subscriber.run(room_events, subscription)).abort_handle();
        let outbox = Outbox::new(queue, core.config.max_rooms);
        Ok(Cluster {
            hub,
            core,
            handle: Arc::new(Handle {
                outbox: Mutex::new(outbox),
                subscriber,
            }),
        })
    }

    /// The hub: accept members, join and leave rooms, send to one member
    /// on it as before.
    pub fn hub(&self) -> &Hub<R> {
        &self.hub
    }

    /// This process's id on the wire.
    pub fn origin(&self) -> Origin {
        self.core.origin
    }

    /// The configuration.
    pub fn config(&self) -> &ClusterConfig {
        &self.core.config
    }

    /// Sends `message` to every member of `room`, in every process.
    pub fn publish(&self, room: &R, message: impl Into<Message>) -> Published {
        self.publish_prepared(room, None, PreparedMessage::new(message))
    }

    /// Sends `message` to every member of `room` in every process but
    /// `except`, a local member (typically the one it came from).
    pub fn publish_except(
        &self,
        room: &R,
        except: MemberId,
        message: impl Into<Message>,
    ) -> Published {
        self.publish_prepared(room, Some(except), PreparedMessage::new(message))
    }

    /// Sends a message framed beforehand to every member of `room` in
    /// every process but `except`. The local members get it now; the
    /// answer counts only them. If it cannot be queued for Redis it is
    /// counted in [`ClusterStats::not_published`].
    pub fn publish_prepared(
        &self,
        room: &R,
        except: Option<MemberId>,
        prepared: PreparedMessage,
    ) -> Published {
        let channel = self.core.channels.name(room);
        // The number goes in once it is known, under the lock.
        let mut payload = wire::encode(self.core.origin, 0, prepared.kind(), prepared.payload());
        // One lock around the number, the local fan-out and the queue:
        // every process sees this process's publishes in one order.
        let mut outbox = lock(&self.handle.outbox);
        let seq = outbox.next_seq(room);
        wire::set_seq(&mut payload, seq);
        let published = self.hub.publish_prepared(room, except, prepared);
        if outbox
            .queue
            .try_send(Outgoing::Message { channel, payload })
            .is_err()
        {
            stats::Counters::add(&self.core.counters.not_published, 1);
            self.core
                .emitter
                .emit(ClusterEvent::NotPublished { messages: 1 });
        }
        published
    }

    /// Waits until every message given before the call was published to
    /// Redis or counted as not published. Each batch of publishes takes at
    /// most [`ClusterConfig::timeout`], so the wait ends; `false` if the
    /// publish task is gone.
    pub async fn flush(&self) -> bool {
        let (done, answered) = oneshot::channel();
        let queue = lock(&self.handle.outbox).queue.clone();
        if queue.send(Outgoing::Flush(done)).await.is_err() {
            return false;
        }
        answered.await.is_ok()
    }

    /// Whether `room`'s channel is subscribed now: messages other
    /// processes publish to it from now on reach its local members.
    pub fn is_subscribed(&self, room: &R) -> bool {
        self.core.is_subscribed(room)
    }

    /// The counters.
    pub fn stats(&self) -> ClusterStats {
        self.core.counters.snapshot()
    }

    /// The bridge's events (links lost and restored, messages not
    /// published or missed), kept from the start up to
    /// [`ClusterConfig::max_events`]; the first call takes them, later
    /// calls answer `None`.
    pub fn events(&self) -> Option<ClusterEvents<R>> {
        lock(&self.core.events).take()
    }
}

/// The README's example, compiled as a doctest so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;

/// The examples of `docs/cluster.md`, compiled as doctests so they stay
/// true.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/cluster.md")]
struct ClusterGuideExamples;
