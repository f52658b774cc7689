//! The bridge in one test process: several bridges, each on a hub of its
//! own, stand for several server processes on one real Redis server.
//!
//! These need `redis-server`; they are ignored by a plain `cargo test`
//! and run by `scripts/cluster.sh` (`cargo test -p wscore-cluster --
//! --ignored`).

mod common;

use std::time::Duration;

use futures::StreamExt;
use wscore_cluster::{ClusterConfig, ClusterEvent, Link};
use wscore_tokio::Message;

use common::{eventually, member, process, process_with, recv_text, silent_for, Redis};

const NEEDS_REDIS: &str = "needs redis-server: run scripts/cluster.sh";

fn room(name: &str) -> String {
    name.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server: run scripts/cluster.sh"]
async fn a_publish_reaches_every_process_once_and_in_order() {
    let _ = NEEDS_REDIS;
    let Some(redis) = Redis::start() else { return };
    let a = process(&redis).await;
    let b = process(&redis).await;
    let (_, mut ann) = member(a.hub(), "/r");
    let (_, mut bob) = member(b.hub(), "/r");
    let (_, mut bea) = member(b.hub(), "/r");
    eventually("both processes subscribed", || {
        a.is_subscribed(&room("/r")) && b.is_subscribed(&room("/r"))
    })
    .await;

    const N: usize = 500;
    for i in 0..N {
        let published = a.publish(&room("/r"), Message::text(format!("{i}")));
        // The answer counts the local members, as the hub's does.
        assert_eq!(published.queued, 1);
    }
    for client in [&mut ann, &mut bob, &mut bea] {
        for i in 0..N {
            assert_eq!(recv_text(client).await, i.to_string());
        }
    }
    // b's message comes after a's in every process: had a's messages come
    // back to ann through Redis, a second copy would be before it.
    b.publish(&room("/r"), Message::text("from b"));
    for client in [&mut ann, &mut bob, &mut bea] {
        assert_eq!(recv_text(client).await, "from b");
    }
    assert!(a.flush().await);
    assert!(b.flush().await);
    eventually("each heard its own messages back and ignored them", || {
        a.stats().echoes == N as u64 && b.stats().echoes == 1
    })
    .await;
    let (sa, sb) = (a.stats(), b.stats());
    assert_eq!(
        (sa.published, sa.not_published, sa.received),
        (N as u64, 0, 1)
    );
    assert_eq!((sb.published, sb.received, sb.echoes), (1, N as u64, 1));
    assert_eq!(sa.may_have_missed + sb.may_have_missed, 0);
    assert!(silent_for(&mut ann, Duration::from_millis(200)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server: run scripts/cluster.sh"]
async fn publish_except_leaves_out_the_sender_only() {
    let Some(redis) = Redis::start() else { return };
    let a = process(&redis).await;
    let b = process(&redis).await;
    let (ann_id, mut ann) = member(a.hub(), "/r");
    let (_, mut amy) = member(a.hub(), "/r");
    let (_, mut bob) = member(b.hub(), "/r");
    eventually("subscribed", || b.is_subscribed(&room("/r"))).await;
    a.publish_except(&room("/r"), ann_id, Message::text("not to ann"));
    a.publish(&room("/r"), Message::text("to all"));
    assert_eq!(recv_text(&mut amy).await, "not to ann");
    assert_eq!(recv_text(&mut bob).await, "not to ann");
    assert_eq!(recv_text(&mut ann).await, "to all");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server: run scripts/cluster.sh"]
async fn a_process_subscribes_only_to_the_rooms_it_serves() {
    let Some(redis) = Redis::start() else { return };
    let prefix = ClusterConfig::default().channel_prefix;
    let a = process(&redis).await;
    let b = process(&redis).await;
    let (ann_id, mut ann) = member(a.hub(), "/a");
    let (_, mut bob) = member(b.hub(), "/b");
    eventually("each room subscribed by its own process", || {
        a.is_subscribed(&room("/a")) && b.is_subscribed(&room("/b"))
    })
    .await;
    assert_eq!(redis.subscribers(&format!("{prefix}/a")), 1);
    assert_eq!(redis.subscribers(&format!("{prefix}/b")), 1);
    assert!(!a.is_subscribed(&room("/b")));

    // b's messages to its own room never reach a's process.
    for i in 0..50 {
        b.publish(&room("/b"), Message::text(format!("{i}")));
    }
    for i in 0..50 {
        assert_eq!(recv_text(&mut bob).await, i.to_string());
    }
    assert!(b.flush().await);
    b.publish(&room("/a"), Message::text("to a"));
    assert_eq!(recv_text(&mut ann).await, "to a");
    let sa = a.stats();
    assert_eq!((sa.received, sa.echoes, sa.discarded), (1, 0, 0));

    // A room's last member leaving unsubscribes it.
    assert!(a.hub().leave(ann_id, &room("/a")));
    eventually("/a unsubscribed", || !a.is_subscribed(&room("/a"))).await;
    eventually("Redis forgot a's subscription", || {
        redis.subscribers(&format!("{prefix}/a")) == 0
    })
    .await;
    assert_eq!(a.stats().subscribed_rooms, 0);
    // And a new first member subscribes it again.
    let (_, mut amy) = member(a.hub(), "/a");
    eventually("/a subscribed again", || a.is_subscribed(&room("/a"))).await;
    b.publish(&room("/a"), Message::text("welcome back"));
    assert_eq!(recv_text(&mut amy).await, "welcome back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server: run scripts/cluster.sh"]
async fn rooms_the_hub_had_before_the_bridge_are_subscribed() {
    let Some(redis) = Redis::start() else { return };
    let hub = wscore_tokio::Hub::new(wscore_tokio::HubConfig::default());
    let (_, mut ann) = member(&hub, "/early");
    let config = ClusterConfig::default();
    let a = wscore_cluster::Cluster::connect(hub, &redis.url(), config)
        .await
        .expect("connect");
    assert!(a.is_subscribed(&room("/early")));
    let b = process(&redis).await;
    b.publish(&room("/early"), Message::text("hi"));
    assert_eq!(recv_text(&mut ann).await, "hi");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server: run scripts/cluster.sh"]
async fn payloads_not_of_the_format_are_discarded_and_reported() {
    let Some(redis) = Redis::start() else { return };
    let prefix = ClusterConfig::default().channel_prefix;
    let a = process(&redis).await;
    let mut events = a.events().expect("the first call takes the events");
    assert!(a.events().is_none());
    let (_, mut ann) = member(a.hub(), "/r");
    eventually("subscribed", || a.is_subscribed(&room("/r"))).await;
    let channel = format!("{prefix}/r");
    redis.publish_raw(&channel, b"");
    redis.publish_raw(&channel, b"not a message of ours at all, but long enough");
    // A text message whose bytes are not UTF-8.
    let mut invalid = vec![1, 1];
    invalid.extend([9; 24]);
    invalid.push(0xff);
    redis.publish_raw(&channel, &invalid);
    let b = process(&redis).await;
    b.publish(&room("/r"), Message::text("fine"));
    assert_eq!(recv_text(&mut ann).await, "fine");
    assert_eq!(a.stats().discarded, 3);
    assert_eq!(a.stats().received, 1);
    let mut discarded = 0;
    while discarded < 3 {
        match tokio::time::timeout(common::PATIENCE, events.next()).await {
            Ok(Some(ClusterEvent::Discarded { channel: on, .. })) => {
                assert_eq!(on, channel);
                discarded += 1;
            }
            Ok(Some(_)) => {}
            other => panic!("expected a Discarded event, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "needs redis-server: run scripts/cluster.sh"]
async fn publishes_past_the_pending_bound_are_counted_not_published() {
    let Some(redis) = Redis::start() else { return };
    let a = process_with(&redis, ClusterConfig::default().max_pending(10)).await;
    let (_, mut ann) = member(a.hub(), "/r");
    // On one thread the publish task cannot run between these calls: ten
    // fit the queue, the rest are refused, and every one reaches ann.
    for i in 0..100 {
        assert_eq!(
            a.publish(&room("/r"), Message::text(format!("{i}"))).queued,
            1
        );
    }
    assert_eq!(a.stats().not_published, 90);
    for i in 0..100 {
        assert_eq!(recv_text(&mut ann).await, i.to_string());
    }
    assert!(a.flush().await);
    let stats = a.stats();
    assert_eq!((stats.published, stats.not_published), (10, 90));
    let mut events = a.events().expect("events");
    let mut reported = 0;
    while reported < 90 {
        if let Some(ClusterEvent::NotPublished { messages }) = events.next().await {
            reported += messages;
        }
    }
}

/// Redis killed mid-run and started again: both links come back by
/// themselves, every room is subscribed again, no member gets a message
/// twice or out of order, and the counters account for every message the
/// members did not get.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server: run scripts/cluster.sh"]
async fn a_redis_restart_is_recovered_from_and_every_loss_is_counted() {
    let Some(mut redis) = Redis::start() else {
        return;
    };
    let a = process(&redis).await;
    let b = process(&redis).await;
    let mut a_events = a.events().expect("events");
    let mut b_events = b.events().expect("events");
    let (_, mut ann) = member(a.hub(), "/r");
    let (_, mut bob) = member(b.hub(), "/r");
    eventually("subscribed", || b.is_subscribed(&room("/r"))).await;

    // Before: everything arrives.
    let mut sent = 0u64;
    for _ in 0..100 {
        sent += 1;
        a.publish(&room("/r"), Message::text(sent.to_string()));
    }
    assert!(a.flush().await);

    redis.kill();
    // During: a's members still get a's messages; Redis gets none.
    for _ in 0..50 {
        sent += 1;
        a.publish(&room("/r"), Message::text(sent.to_string()));
    }
    assert!(a.flush().await);
    redis.restart();

    // After: publish until b hears a again, then some more.
    let mut heard = Vec::new();
    let bob_hears_again = async {
        loop {
            let text = recv_text(&mut bob).await;
            let seq: u64 = text.parse().expect("a number");
            heard.push(seq);
            if seq > 150 {
                return;
            }
        }
    };
    let keep_publishing = async {
        loop {
            sent += 1;
            a.publish(&room("/r"), Message::text(sent.to_string()));
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::select! {
        () = bob_hears_again => {}
        () = keep_publishing => {}
        () = tokio::time::sleep(common::PATIENCE) => panic!("b never heard a again"),
    }
    for _ in 0..100 {
        sent += 1;
        a.publish(&room("/r"), Message::text(sent.to_string()));
    }
    assert!(a.flush().await);
    loop {
        let seq: u64 = recv_text(&mut bob).await.parse().expect("a number");
        heard.push(seq);
        if seq == sent {
            break;
        }
    }

    // ann, local to the publisher, got every message once, in order.
    for i in 1..=sent {
        assert_eq!(recv_text(&mut ann).await, i.to_string());
    }
    // bob got a strictly increasing subset: none twice, none reordered.
    assert!(heard.windows(2).all(|w| w[0] < w[1]), "{heard:?}");
    assert_eq!(heard.first(), Some(&1));
    let missed = sent - heard.len() as u64;
    assert!(
        missed >= 50,
        "the 50 published while Redis was down are missed"
    );
    let (sa, sb) = (a.stats(), b.stats());
    // Every message a was given is either confirmed by Redis or counted.
    assert_eq!(sa.published + sa.not_published, sent);
    assert!(sa.not_published >= 50);
    // Every message bob did not get is counted by b.
    assert_eq!(sb.received, heard.len() as u64);
    assert_eq!(sb.may_have_missed, missed);
    assert_eq!(sb.subscribed_rooms, 1);
    assert!(sa.reconnects >= 1 && sb.reconnects >= 1, "{sa:?} {sb:?}");
    eventually("a's subscribe link is back too", || {
        a.stats().reconnects >= 2
    })
    .await;

    // And the events said so.
    let mut seen = (false, false);
    while let Ok(Some(event)) =
        tokio::time::timeout(Duration::from_millis(100), a_events.next()).await
    {
        match event {
            ClusterEvent::LinkLost {
                link: Link::Publish,
                ..
            } => seen.0 = true,
            ClusterEvent::Reconnected {
                link: Link::Publish,
                ..
            } => seen.1 = true,
            _ => {}
        }
    }
    assert_eq!(seen, (true, true), "a's publish link lost and restored");
    let (mut lost, mut rooms, mut reported) = (false, None, 0);
    while let Ok(Some(event)) =
        tokio::time::timeout(Duration::from_millis(100), b_events.next()).await
    {
        match event {
            ClusterEvent::LinkLost {
                link: Link::Subscribe,
                ..
            } => lost = true,
            ClusterEvent::Reconnected {
                link: Link::Subscribe,
                rooms: n,
                ..
            } => rooms = Some(n),
            ClusterEvent::MayHaveMissed {
                room: r,
                origin,
                messages,
            } => {
                assert_eq!((r.as_str(), origin), ("/r", a.origin()));
                reported += messages;
            }
            _ => {}
        }
    }
    assert!(lost);
    assert_eq!(rooms, Some(1), "b subscribed its one room again");
    assert_eq!(reported, missed);
}

/// A Redis that stops answering without closing its connections: the
/// publish link gives up after the timeout, counts what it could not
/// publish, and comes back once Redis answers again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server: run scripts/cluster.sh"]
async fn a_redis_that_stops_answering_is_a_lost_link_after_the_timeout() {
    let Some(redis) = Redis::start() else { return };
    let config = ClusterConfig::default()
        .timeout(Duration::from_millis(300))
        .backoff(Duration::from_millis(20), Duration::from_millis(100));
    let a = process_with(&redis, config).await;
    let mut events = a.events().expect("events");
    let (_, mut ann) = member(a.hub(), "/r");
    eventually("subscribed", || a.is_subscribed(&room("/r"))).await;

    redis.signal("-STOP");
    a.publish(&room("/r"), Message::text("into the void"));
    // The local member has it regardless.
    assert_eq!(recv_text(&mut ann).await, "into the void");
    assert!(a.flush().await, "answered once the batch timed out");
    assert_eq!(a.stats().not_published, 1);
    match tokio::time::timeout(common::PATIENCE, events.next()).await {
        Ok(Some(ClusterEvent::NotPublished { messages: 1 })) => {}
        other => panic!("expected NotPublished, got {other:?}"),
    }
    match tokio::time::timeout(common::PATIENCE, events.next()).await {
        Ok(Some(ClusterEvent::LinkLost {
            link: Link::Publish,
            error: wscore_cluster::LinkError::Timeout,
        })) => {}
        other => panic!("expected the publish link lost to a timeout, got {other:?}"),
    }

    redis.signal("-CONT");
    loop {
        match tokio::time::timeout(common::PATIENCE, events.next()).await {
            Ok(Some(ClusterEvent::Reconnected {
                link: Link::Publish,
                ..
            })) => break,
            Ok(Some(_)) => {}
            other => panic!("expected the publish link back, got {other:?}"),
        }
    }
    let b = process(&redis).await;
    let (_, mut bob) = member(b.hub(), "/r");
    eventually("b subscribed", || b.is_subscribed(&room("/r"))).await;
    a.publish(&room("/r"), Message::text("heard again"));
    assert_eq!(recv_text(&mut bob).await, "heard again");
    assert!(a.flush().await);
    assert_eq!(a.stats().published, 1);
}

/// The bridge stops with its last handle: its subscriptions end, and what
/// was given to it before is still published.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server: run scripts/cluster.sh"]
async fn dropping_the_last_handle_publishes_what_it_holds_and_unsubscribes() {
    let Some(redis) = Redis::start() else { return };
    let prefix = ClusterConfig::default().channel_prefix;
    let a = process(&redis).await;
    let b = process(&redis).await;
    let (_, _ann) = member(a.hub(), "/r");
    let (_, mut bob) = member(b.hub(), "/r");
    eventually("both subscribed", || {
        redis.subscribers(&format!("{prefix}/r")) == 2
    })
    .await;
    let hub = a.hub().clone();
    let clone = a.clone();
    for i in 0..100 {
        clone.publish(&room("/r"), Message::text(format!("{i}")));
    }
    drop(a);
    drop(clone);
    for i in 0..100 {
        assert_eq!(recv_text(&mut bob).await, i.to_string());
    }
    eventually("a's subscription ended", || {
        redis.subscribers(&format!("{prefix}/r")) == 1
    })
    .await;
    // The hub goes on alone.
    assert_eq!(hub.room_len(&room("/r")), 1);
}

/// Publishes from several tasks of one process reach every member, in
/// every process, in one and the same order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server: run scripts/cluster.sh"]
async fn one_process_publishes_reach_every_process_in_one_order() {
    let Some(redis) = Redis::start() else { return };
    let a = process(&redis).await;
    let b = process(&redis).await;
    let (_, mut ann) = member(a.hub(), "/r");
    let (_, mut bob) = member(b.hub(), "/r");
    eventually("subscribed", || b.is_subscribed(&room("/r"))).await;
    const EACH: usize = 300;
    let tasks: Vec<_> = (0..3)
        .map(|task| {
            let a = a.clone();
            tokio::spawn(async move {
                for i in 0..EACH {
                    a.publish(&room("/r"), Message::text(format!("t{task} {i}")));
                    if i % 7 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a publishing task");
    }
    let mut seen_by_ann = Vec::new();
    let mut seen_by_bob = Vec::new();
    for _ in 0..3 * EACH {
        seen_by_ann.push(recv_text(&mut ann).await);
        seen_by_bob.push(recv_text(&mut bob).await);
    }
    assert_eq!(seen_by_ann, seen_by_bob);
}

/// Redis restarted while nobody published: the publish link is restored
/// before the next publish needs it, so that publish is not lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server: run scripts/cluster.sh"]
async fn a_restart_during_a_quiet_spell_loses_no_publish() {
    let Some(mut redis) = Redis::start() else {
        return;
    };
    let a = process(&redis).await;
    let b = process(&redis).await;
    let mut a_events = a.events().expect("events");
    let (_, mut bob) = member(b.hub(), "/r");
    eventually("subscribed", || b.is_subscribed(&room("/r"))).await;
    a.publish(&room("/r"), Message::text("before"));
    assert_eq!(recv_text(&mut bob).await, "before");

    redis.kill();
    redis.restart();
    loop {
        match tokio::time::timeout(common::PATIENCE, a_events.next()).await {
            Ok(Some(ClusterEvent::Reconnected {
                link: Link::Publish,
                ..
            })) => break,
            Ok(Some(_)) => {}
            other => panic!("the publish link was never restored: {other:?}"),
        }
    }
    eventually("b subscribed again", || b.is_subscribed(&room("/r"))).await;
    a.publish(&room("/r"), Message::text("after"));
    assert_eq!(recv_text(&mut bob).await, "after");
    assert!(a.flush().await);
    let stats = a.stats();
    assert_eq!((stats.published, stats.not_published), (2, 0));
}
