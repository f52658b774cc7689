//! The publish link: one connection, one task, messages in the order they
//! were given. A pool would let two publishes of one publisher overtake
//! each other; one connection written in order cannot.

use std::sync::Arc;

use redis::aio::MultiplexedConnection;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{sleep_until, timeout, Instant};

use crate::config::Backoff;
use crate::core::Core;
use crate::event::{ClusterEvent, Link, LinkError};
use crate::stats::Counters;

/// What the publish task takes, in order.
#[derive(Debug)]
pub(crate) enum Outgoing {
    /// A payload for a channel.
    Message { channel: String, payload: Vec<u8> },
    /// Answered once everything before it was published or counted.
    Flush(oneshot::Sender<()>),
}

/// A link that is down, and when to try it again.
#[derive(Debug)]
pub(crate) struct Down {
    pub(crate) since: Instant,
    pub(crate) attempts: u32,
    pub(crate) retry_at: Instant,
}

impl Down {
    pub(crate) fn new(backoff: &mut Backoff) -> Self {
        let now = Instant::now();
        Down {
            since: now,
            attempts: 0,
            retry_at: now + backoff.next_wait(),
        }
    }
}

/// Runs the publish link until every sender of `outgoing` is gone and
/// what they sent is handled.
pub(crate) async fn run<R>(
    core: Arc<Core<R>>,
    client: redis::Client,
    connection: MultiplexedConnection,
    mut outgoing: mpsc::Receiver<Outgoing>,
) {
    let config = &core.config;
    let mut backoff = Backoff::new(config);
    let mut connection = Some(connection);
    let mut down: Option<Down> = None;
    let mut batch = Vec::with_capacity(config.max_batch);
    let mut flushes = Vec::new();
    loop {
        if let Some(link_down) = &mut down {
            tokio::select! {
                () = sleep_until(link_down.retry_at) => {
                    link_down.attempts += 1;
                    match connect(&client, config.timeout).await {
                        Ok(restored) => {
                            connection = Some(restored);
                            backoff.reset();
                            Counters::add(&core.counters.reconnects, 1);
                            core.emitter.emit(ClusterEvent::Reconnected {
                                link: Link::Publish,
                                attempts: link_down.attempts,
                                down_for: link_down.since.elapsed(),
                                rooms: 0,
                            });
                            down = None;
                        }
                        Err(_) => link_down.retry_at = Instant::now() + backoff.next_wait(),
                    }
                    continue;
                }
                first = outgoing.recv() => {
                    let Some(first) = first else { return };
                    take_batch(first, &mut outgoing, config.max_batch, &mut batch, &mut flushes);
                    // At most once: what is given while the link is down is
                    // not kept for later, it is counted.
                    not_published(&core, batch.len());
                    batch.clear();
                    answer(&mut flushes);
                    continue;
                }
            }
        }
        let first = tokio::select! {
            first = outgoing.recv() => first,
            () = core.link_lost.notified() => {
                // Redis was lost under the subscribe link: find out now
                // whether this link was too, rather than with the next
                // publish (which would then be lost).
                if let Some(open) = &mut connection {
                    if let Err(error) = ping(open, config.timeout).await {
                        core.emitter.emit(ClusterEvent::LinkLost {
                            link: Link::Publish,
                            error,
                        });
                        connection = None;
                        down = Some(Down::new(&mut backoff));
                    }
                }
                continue;
            }
        };
        let Some(first) = first else {
            return;
        };
        take_batch(
            first,
            &mut outgoing,
            config.max_batch,
            &mut batch,
            &mut flushes,
        );
        if let Some(open) = &mut connection {
            if !batch.is_empty() {
                match publish(open, &batch, config.timeout).await {
                    Ok(()) => Counters::add(&core.counters.published, batch.len() as u64),
                    Err(error) => {
                        not_published(&core, batch.len());
                        core.emitter.emit(ClusterEvent::LinkLost {
                            link: Link::Publish,
                            error,
                        });
                        connection = None;
                        down = Some(Down::new(&mut backoff));
                    }
                }
            }
        }
        batch.clear();
        answer(&mut flushes);
    }
}

/// Takes `first` and what else is waiting, up to `max` payloads.
fn take_batch(
    first: Outgoing,
    outgoing: &mut mpsc::Receiver<Outgoing>,
    max: usize,
    batch: &mut Vec<(String, Vec<u8>)>,
    flushes: &mut Vec<oneshot::Sender<()>>,
) {
    let mut next = Some(first);
    while let Some(item) = next.take() {
        match item {
            Outgoing::Message { channel, payload } => batch.push((channel, payload)),
            // A flush ends the batch: it must be answered after what
            // precedes it and before what follows.
            Outgoing::Flush(done) => {
                flushes.push(done);
                return;
            }
        }
        if batch.len() < max {
            next = outgoing.try_recv().ok();
        }
    }
}

fn answer(flushes: &mut Vec<oneshot::Sender<()>>) {
    for done in flushes.drain(..) {
        let _ = done.send(());
    }
}

fn not_published<R>(core: &Core<R>, messages: usize) {
    if messages > 0 {
        let messages = messages as u64;
        Counters::add(&core.counters.not_published, messages);
        core.emitter.emit(ClusterEvent::NotPublished { messages });
    }
}

/// Opens the publish link.
pub(crate) async fn connect(
    client: &redis::Client,
    limit: std::time::Duration,
) -> Result<MultiplexedConnection, LinkError> {
    match timeout(limit, client.get_multiplexed_async_connection()).await {
        Ok(connection) => Ok(connection?),
        Err(_) => Err(LinkError::Timeout),
    }
}

/// Checks that the publish link still reaches Redis.
async fn ping(
    connection: &mut MultiplexedConnection,
    limit: std::time::Duration,
) -> Result<(), LinkError> {
    match timeout(limit, redis::cmd("PING").query_async::<()>(connection)).await {
        Ok(result) => Ok(result?),
        Err(_) => Err(LinkError::Timeout),
    }
}

/// Publishes `batch` in one pipeline, in order.
async fn publish(
    connection: &mut MultiplexedConnection,
    batch: &[(String, Vec<u8>)],
    limit: std::time::Duration,
) -> Result<(), LinkError> {
    let mut pipe = redis::pipe();
    for (channel, payload) in batch {
        pipe.cmd("PUBLISH")
            .arg(channel.as_str())
            .arg(payload.as_slice())
            .ignore();
    }
    match timeout(limit, pipe.query_async::<()>(connection)).await {
        Ok(result) => Ok(result?),
        Err(_) => Err(LinkError::Timeout),
    }
}
