//! The subscribe link: one connection subscribed to the channel of every
//! room with a local member, following the hub's room events, and the
//! delivery of what arrives on it to the local members.

use std::collections::BTreeSet;
use std::sync::Arc;

use futures_util::StreamExt;
use redis::aio::{PubSubSink, PubSubStream};
use tokio::time::{sleep_until, timeout, Instant};
use wscore::PreparedMessage;
use wscore_driver::hub::{Hub, RoomEvent, RoomEvents};

use crate::config::Backoff;
use crate::core::Core;
use crate::event::{ClusterEvent, Link, LinkError};
use crate::publisher::Down;
use crate::sequence::{Seen, Sequences};
use crate::stats::Counters;
use crate::{wire, ClusterRoom};

/// An open subscribe link.
pub(crate) struct Subscription {
    sink: PubSubSink,
    stream: PubSubStream,
}

/// The subscribe task's state.
pub(crate) struct Subscriber<R> {
    core: Arc<Core<R>>,
    hub: Hub<R>,
    client: redis::Client,
    /// Rooms with a local member: the channels to be subscribed.
    served: BTreeSet<R>,
    sequences: Sequences<R>,
    backoff: Backoff,
}

impl<R: ClusterRoom> Subscriber<R> {
    pub(crate) fn new(core: Arc<Core<R>>, hub: Hub<R>, client: redis::Client) -> Self {
        let backoff = Backoff::new(&core.config);
        let sequences = Sequences::new(core.config.max_origins);
        Subscriber {
            core,
            hub,
            client,
            served: BTreeSet::new(),
            sequences,
            backoff,
        }
    }

    /// Opens the link and subscribes every room of `rooms`.
    pub(crate) async fn open(&mut self, rooms: Vec<R>) -> Result<Subscription, LinkError> {
        let limit = self.core.config.timeout;
        let pubsub = match timeout(limit, self.client.get_async_pubsub()).await {
            Ok(pubsub) => pubsub?,
            Err(_) => return Err(LinkError::Timeout),
        };
        let (sink, stream) = pubsub.split();
        let mut subscription = Subscription { sink, stream };
        self.served.extend(rooms);
        let served: Vec<R> = self.served.iter().cloned().collect();
        for room in served {
            self.subscribe(&mut subscription, room).await?;
        }
        Ok(subscription)
    }

    /// Runs the link: follows room events, delivers messages, reconnects.
    pub(crate) async fn run(mut self, mut events: RoomEvents<R>, first: Subscription) {
        let mut link = Some(first);
        let mut down: Option<Down> = None;
        loop {
            if let Some(subscription) = &mut link {
                let lost = tokio::select! {
                    event = events.next() => {
                        let Some(event) = event else { return };
                        self.follow(Some(subscription), event).await.err()
                    }
                    message = subscription.stream.next() => match message {
                        Some(message) => {
                            self.deliver(&message);
                            None
                        }
                        None => Some(LinkError::Closed),
                    },
                };
                if let Some(error) = lost {
                    self.core.link_lost.notify_one();
                    self.core.emitter.emit(ClusterEvent::LinkLost {
                        link: Link::Subscribe,
                        error,
                    });
                    link = None;
                    self.core.set_subscribed(BTreeSet::new());
                    down = Some(Down::new(&mut self.backoff));
                }
            } else if let Some(link_down) = &mut down {
                tokio::select! {
                    event = events.next() => {
                        let Some(event) = event else { return };
                        // Only the list changes; the next connection
                        // subscribes what it holds then.
                        let _ = self.follow(None, event).await;
                    }
                    () = sleep_until(link_down.retry_at) => {
                        link_down.attempts += 1;
                        let (attempts, since) = (link_down.attempts, link_down.since);
                        match self.open(Vec::new()).await {
                            Ok(subscription) => {
                                link = Some(subscription);
                                self.backoff.reset();
                                down = None;
                                Counters::add(&self.core.counters.reconnects, 1);
                                self.core.emitter.emit(ClusterEvent::Reconnected {
                                    link: Link::Subscribe,
                                    attempts,
                                    down_for: since.elapsed(),
                                    rooms: self.served.len(),
                                });
                            }
                            Err(_) => {
                                self.core.set_subscribed(BTreeSet::new());
                                if let Some(link_down) = &mut down {
                                    link_down.retry_at = Instant::now() + self.backoff.next_wait();
                                }
                            }
                        }
                    }
                }
            } else {
                return;
            }
        }
    }

    /// Subscribes a room's channel when the room gets its first local
    /// member, and unsubscribes it when the room loses its last one.
    async fn follow(
        &mut self,
        subscription: Option<&mut Subscription>,
        event: RoomEvent<R>,
    ) -> Result<(), LinkError> {
        match event {
            RoomEvent::Opened(room) => {
                self.served.insert(room.clone());
                if let Some(subscription) = subscription {
                    self.subscribe(subscription, room).await?;
                }
            }
            RoomEvent::Closed(room) => {
                self.served.remove(&room);
                self.sequences.forget(&room);
                self.core.unsubscribed(&room);
                if let Some(subscription) = subscription {
                    let channel = self.core.channels.name(&room);
                    let limit = self.core.config.timeout;
                    match timeout(limit, subscription.sink.unsubscribe(channel)).await {
                        Ok(result) => result?,
                        Err(_) => return Err(LinkError::Timeout),
                    }
                }
            }
        }
        Ok(())
    }

    async fn subscribe(&self, subscription: &mut Subscription, room: R) -> Result<(), LinkError> {
        let channel = self.core.channels.name(&room);
        let limit = self.core.config.timeout;
        match timeout(limit, subscription.sink.subscribe(channel)).await {
            Ok(result) => result?,
            Err(_) => return Err(LinkError::Timeout),
        }
        self.core.subscribed(room);
        Ok(())
    }

    /// Hands a message from another process to the local members of its
    /// room, counting what its sequence number says was missed.
    fn deliver(&mut self, message: &redis::Msg) {
        let core = &*self.core;
        let channel = message.get_channel_name();
        let Some(room) = core.channels.room::<R>(channel) else {
            Counters::add(&core.counters.discarded, 1);
            return;
        };
        if !self.served.contains(&room) {
            // Sent before the unsubscription took effect: nobody here
            // is in the room any more.
            return;
        }
        let envelope = match wire::decode(message.get_payload_bytes()) {
            Ok(envelope) => envelope,
            Err(error) => {
                Counters::add(&core.counters.discarded, 1);
                core.emitter.emit(ClusterEvent::Discarded {
                    channel: channel.to_owned(),
                    error,
                });
                return;
            }
        };
        if envelope.origin == core.origin {
            // Its local members had it when it was published.
            Counters::add(&core.counters.echoes, 1);
            return;
        }
        match self.sequences.observe(&room, envelope.origin, envelope.seq) {
            Seen::First | Seen::Next => {}
            Seen::Gap(messages) => {
                Counters::add(&core.counters.may_have_missed, messages);
                core.emitter.emit(ClusterEvent::MayHaveMissed {
                    room: room.clone(),
                    origin: envelope.origin,
                    messages,
                });
            }
            Seen::Stale => {
                Counters::add(&core.counters.discarded, 1);
                return;
            }
        }
        self.hub
            .publish_prepared(&room, None, PreparedMessage::new(envelope.message));
        Counters::add(&core.counters.received, 1);
    }
}
