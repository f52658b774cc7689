//! The hub over the in-memory pipe: rooms, broadcast, slow consumers,
//! members that vanish, and both ways of running members (a task each,
//! or all from one `Served` stream).

use std::cell::RefCell;
use std::future::Future;

use futures::StreamExt;
use wscore_driver::hub::{Hub, HubConfig, HubEvent, Member, RoomEvent, Served, SlowConsumer};
use wscore_driver::testing::{block_on, pipe, ManualTimer, PipeEnd};
use wscore_driver::{
    Accept, ClientRequest, CloseCode, Config, Error, Event, Message, Reject, Role, Socket,
};

#[path = "support/drive.rs"]
mod drive;
use drive::{while_driven, yield_now};

type Ws = Socket<PipeEnd, ManualTimer>;
type Hubbed = Member<PipeEnd, ManualTimer>;
type Events = RefCell<Vec<(u64, String)>>;

/// A member of `hub` in `rooms` and the client at the other end of its
/// pipe (of `capacity` bytes each way).
fn member(hub: &Hub, rooms: &[&str], capacity: usize) -> (Hubbed, Ws) {
    let (server_io, client_io) = pipe(capacity);
    let server = Ws::from_upgraded(server_io, Role::Server, Config::default()).unwrap();
    let client = Ws::from_upgraded(client_io, Role::Client, Config::default()).unwrap();
    let member = hub
        .attach(server, rooms.iter().map(|r| r.to_string()))
        .unwrap();
    (member, client)
}

fn room(name: &str) -> String {
    name.to_string()
}

/// Runs `body` while `served` drives its members, recording what it
/// reports; returns `body`'s output.
async fn while_served<F: Future>(
    served: &mut Served<PipeEnd, ManualTimer>,
    seen: &Events,
    body: F,
) -> F::Output {
    let next = |cx: &mut std::task::Context<'_>| served.poll_next_unpin(cx);
    let note = |id: wscore_driver::hub::MemberId, event| {
        let note = match event {
            HubEvent::Event(Event::Message(m)) => {
                format!("message {:?}", m.as_text().unwrap_or(""))
            }
            HubEvent::Event(other) => format!("event {other:?}"),
            HubEvent::Ended(None) => "ended".to_string(),
            HubEvent::Ended(Some(e)) => format!("ended with {e}"),
            other => format!("{other:?}"),
        };
        seen.borrow_mut().push((id.get(), note));
    };
    while_driven(next, note, body).await
}

async fn texts(client: &mut Ws, count: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..count {
        let message = client.recv().await.unwrap().unwrap();
        out.push(message.as_text().unwrap().to_string());
    }
    out
}

#[test]
fn a_publish_reaches_its_room_but_not_the_sender_or_other_rooms() {
    let hub: Hub = Hub::new(HubConfig::default());
    let mut served = Served::new();
    let (ann, mut ann_client) = member(&hub, &["/a"], 1 << 16);
    let (bob, mut bob_client) = member(&hub, &["/a"], 1 << 16);
    let (cat, mut cat_client) = member(&hub, &["/b"], 1 << 16);
    let (ann_id, bob_id) = (ann.id(), bob.id());
    for m in [ann, bob, cat] {
        served.add(m);
    }
    let seen = Events::default();
    block_on(while_served(&mut served, &seen, async {
        let published = hub.publish_except(&room("/a"), ann_id, Message::text("from ann"));
        assert_eq!(
            (published.recipients, published.queued, published.dropped),
            (1, 1, 0)
        );
        assert_eq!(
            hub.publish(&room("/a"), Message::text("to all of a"))
                .queued,
            2
        );
        assert_eq!(hub.publish(&room("/b"), Message::text("to b")).queued, 1);
        assert_eq!(texts(&mut bob_client, 2).await, ["from ann", "to all of a"]);
        assert_eq!(texts(&mut ann_client, 1).await, ["to all of a"]);
        // Cat's first message is the one for its room: nothing of a's came.
        assert_eq!(texts(&mut cat_client, 1).await, ["to b"]);
        assert_eq!(hub.members(&room("/a")), vec![ann_id, bob_id]);
    }));
}

#[test]
fn a_publish_to_several_rooms_reaches_each_member_once() {
    let hub: Hub = Hub::new(HubConfig::default());
    let mut served = Served::new();
    let (ann, mut ann_client) = member(&hub, &["/a", "/b"], 1 << 16);
    let (bob, mut bob_client) = member(&hub, &["/b"], 1 << 16);
    let (cat, mut cat_client) = member(&hub, &["/c"], 1 << 16);
    let bob_id = bob.id();
    for m in [ann, bob, cat] {
        served.add(m);
    }
    let seen = Events::default();
    block_on(while_served(&mut served, &seen, async {
        let rooms = [room("/a"), room("/b"), room("/nowhere")];
        let published = hub.publish_to(&rooms, None, Message::text("a or b"));
        assert_eq!((published.recipients, published.queued), (2, 2));
        let published = hub.publish_to(&rooms, Some(bob_id), Message::text("not bob"));
        assert_eq!(published.recipients, 1);
        hub.publish(&room("/c"), Message::text("c"));
        hub.publish(&room("/b"), Message::text("b"));
        assert_eq!(texts(&mut ann_client, 3).await, ["a or b", "not bob", "b"]);
        assert_eq!(texts(&mut bob_client, 2).await, ["a or b", "b"]);
        assert_eq!(texts(&mut cat_client, 1).await, ["c"]);
    }));
}

#[test]
fn a_publish_to_a_room_that_does_not_exist_reaches_nobody_and_creates_nothing() {
    let hub: Hub = Hub::new(HubConfig::default());
    let (_ann, _client) = member(&hub, &["/a"], 1 << 16);
    let published = hub.publish(&room("/nowhere"), Message::text("lost?"));
    assert_eq!(published.recipients, 0);
    assert_eq!(hub.room_count(), 1);
    assert_eq!(hub.room_len(&room("/nowhere")), 0);
}

#[test]
fn a_member_that_never_reads_is_dropped_from_and_counted_while_others_get_everything() {
    let hub: Hub = Hub::new(HubConfig::default().max_queued_bytes(64 << 10));
    let mut served = Served::new();
    // A small pipe: the stuck member's socket fills quickly.
    let (slow, slow_client) = member(&hub, &["/feed"], 4096);
    let (fast, mut fast_client) = member(&hub, &["/feed"], 4096);
    let slow_id = slow.id();
    slow_client.get_ref().stop_reading();
    served.add(slow);
    served.add(fast);
    let seen = Events::default();
    let payload = "x".repeat(1000);
    block_on(while_served(&mut served, &seen, async {
        let mut dropped = 0;
        for i in 0..400 {
            let published = hub.publish(&room("/feed"), Message::text(format!("{i} {payload}")));
            dropped += published.dropped;
            // The fast member reads as it goes.
            let got = texts(&mut fast_client, 1).await;
            assert!(got[0].starts_with(&format!("{i} ")));
        }
        let stats = hub.stats(slow_id).unwrap();
        assert!(dropped > 0, "the stuck member's bound was reached");
        assert_eq!(stats.dropped_messages, dropped as u64);
        // Bounded: the queue and the socket's backlog stay under the
        // bound plus one message.
        assert!(stats.queued_bytes <= (64 << 10) + 1010, "{stats:?}");
        assert_eq!(
            hub.stats(fast_client_id(&hub, slow_id))
                .unwrap()
                .dropped_messages,
            0
        );
    }));
}

/// The id of the member of "/feed" that is not `slow`.
fn fast_client_id(hub: &Hub, slow: wscore_driver::hub::MemberId) -> wscore_driver::hub::MemberId {
    hub.members(&room("/feed"))
        .into_iter()
        .find(|id| *id != slow)
        .unwrap()
}

#[test]
fn the_close_policy_closes_a_slow_member_with_1008_after_its_backlog() {
    let hub: Hub = Hub::new(
        HubConfig::default()
            .max_queued_bytes(16 << 10)
            .slow_consumer(SlowConsumer::Close),
    );
    let mut served = Served::new();
    let (slow, mut slow_client) = member(&hub, &["/feed"], 4096);
    let (other, mut other_client) = member(&hub, &["/feed"], 1 << 20);
    let (slow_id, other_id) = (slow.id(), other.id());
    slow_client.get_ref().stop_reading();
    served.add(slow);
    served.add(other);
    let seen = Events::default();
    block_on(while_served(&mut served, &seen, async {
        let mut sent = 0;
        let mut closed = 0;
        while closed == 0 {
            let published = hub.publish(&room("/feed"), Message::text(format!("m{sent}")));
            closed = published.closed;
            sent += 1;
            // The members' sockets take their queues meanwhile.
            yield_now().await;
            assert!(sent < 100_000, "the bound is never reached");
        }
        // Out of the room at once; still in the hub until its socket ends.
        assert_eq!(hub.members(&room("/feed")), vec![other_id]);
        assert!(hub.stats(slow_id).is_some());
        // The other member got every message.
        let got = texts(&mut other_client, sent).await;
        assert_eq!(got.last().unwrap(), &format!("m{}", sent - 1));
        // The slow client, reading at last, gets its backlog in order and
        // then the close frame.
        slow_client.get_ref().resume_reading();
        let mut received = 0;
        let mut last = None;
        while let Some(message) = slow_client.recv().await {
            let message = message.unwrap();
            assert_eq!(message.as_text().unwrap(), format!("m{received}"));
            received += 1;
            last = Some(message);
        }
        assert!(last.is_some() && received < sent);
        let closed = slow_client.closed().unwrap();
        assert_eq!(closed.code, CloseCode::POLICY);
        assert_eq!(closed.reason, "slow consumer");
        // Its socket ends in turn, and it leaves the hub.
        while hub.stats(slow_id).is_some() {
            yield_now().await;
        }
    }));
    assert!(seen
        .borrow()
        .iter()
        .any(|(id, note)| *id == slow_id.get() && note == "ended"));
}

#[test]
fn a_member_that_vanishes_mid_broadcast_leaves_without_costing_the_others() {
    let hub: Hub = Hub::new(HubConfig::default());
    let mut served = Served::new();
    let (gone, gone_client) = member(&hub, &["/r"], 4096);
    let (stay, mut stay_client) = member(&hub, &["/r"], 1 << 20);
    let gone_id = gone.id();
    served.add(gone);
    served.add(stay);
    let seen = Events::default();
    block_on(while_served(&mut served, &seen, async {
        for i in 0..50 {
            if i == 20 {
                gone_client.get_ref().hang_up();
            }
            hub.publish(&room("/r"), Message::text(format!("{i}")));
        }
        let got = texts(&mut stay_client, 50).await;
        assert_eq!(got, (0..50).map(|i| i.to_string()).collect::<Vec<_>>());
        // The vanished member has left the hub and its room.
        while hub.stats(gone_id).is_some() {
            yield_now().await;
        }
        assert_eq!(hub.room_len(&room("/r")), 1);
    }));
    assert!(seen
        .borrow()
        .iter()
        .any(|(id, note)| *id == gone_id.get() && note.starts_with("ended")));
    drop(gone_client);
}

#[test]
fn joining_after_the_end_is_refused_and_rooms_are_freed_with_their_last_member() {
    let hub: Hub = Hub::new(HubConfig::default());
    let mut events = hub.room_events();
    let (ann, _client) = member(&hub, &["/a"], 4096);
    let id = ann.id();
    assert!(ann.join(room("/b")));
    assert!(!ann.join(room("/b")));
    assert_eq!(hub.rooms_of(id), vec![room("/a"), room("/b")]);
    block_on(async {
        let opened = [events.next().await, events.next().await];
        assert_eq!(
            opened,
            [
                Some(RoomEvent::Opened(room("/a"))),
                Some(RoomEvent::Opened(room("/b")))
            ]
        );
    });
    drop(ann);
    assert_eq!(
        hub.join(id, room("/c")),
        Err(wscore_driver::hub::UnknownMember)
    );
    assert!(hub.send(id, Message::text("late")).is_err());
    assert!(!hub.close(id, CloseCode::NORMAL, ""));
    assert_eq!(hub.room_count(), 0);
    assert_eq!(hub.member_count(), 0);
    block_on(async {
        let closed = [events.next().await, events.next().await];
        assert_eq!(
            closed,
            [
                Some(RoomEvent::Closed(room("/a"))),
                Some(RoomEvent::Closed(room("/b")))
            ]
        );
    });
}

#[test]
fn ten_thousand_joins_and_leaves_in_a_burst_leave_no_room_behind() {
    let hub: Hub = Hub::new(HubConfig::default());
    let members: Vec<_> = (0..100).map(|_| member(&hub, &[], 4096)).collect();
    for (m, _) in &members {
        for r in 0..100 {
            assert!(m.join(format!("/room/{r}")));
        }
    }
    assert_eq!(hub.room_count(), 100);
    assert_eq!(hub.room_len(&room("/room/7")), 100);
    for (m, _) in &members {
        for r in 0..100 {
            assert!(m.leave(&format!("/room/{r}")));
        }
    }
    assert_eq!(hub.room_count(), 0);
    assert_eq!(hub.member_count(), 100);
    drop(members);
    assert_eq!(hub.member_count(), 0);
}

#[test]
fn a_member_in_its_own_task_writes_the_hub_queue_and_its_own_sends_in_order() {
    let hub: Hub = Hub::new(HubConfig::default());
    let (mut ann, mut client) = member(&hub, &["/a"], 1 << 16);
    block_on(async {
        hub.publish(&room("/a"), Message::text("one"));
        hub.publish(&room("/a"), Message::text("two"));
        let server = async {
            ann.send(Message::text("three")).await.unwrap();
            let echoed = ann.recv().await.unwrap().unwrap();
            ann.publish(&room("/a"), echoed.clone());
            hub.publish(&room("/a"), Message::text("four"));
            // The member's own task writes what the hub queued while it
            // waits for the close.
            assert!(ann.recv().await.is_none());
        };
        let peer = async {
            assert_eq!(texts(&mut client, 3).await, ["one", "two", "three"]);
            client.send(Message::text("hello")).await.unwrap();
            // `publish` from a member skips it: "four" comes next.
            assert_eq!(texts(&mut client, 1).await, ["four"]);
            client.close(CloseCode::NORMAL, "bye").await.unwrap();
        };
        futures::join!(server, peer);
    });
    assert_eq!(hub.member_count(), 0);
}

#[test]
fn close_by_id_goes_out_after_what_was_queued() {
    let hub: Hub = Hub::new(HubConfig::default());
    let mut served = Served::new();
    let (ann, mut client) = member(&hub, &["/a"], 1 << 16);
    let id = ann.id();
    served.add(ann);
    let seen = Events::default();
    block_on(while_served(&mut served, &seen, async {
        hub.publish(&room("/a"), Message::text("last words"));
        assert!(hub.close(id, CloseCode::GOING_AWAY, "shutting down"));
        assert!(!hub.close(id, CloseCode::GOING_AWAY, "again"));
        assert!(hub.members(&room("/a")).is_empty());
        assert_eq!(texts(&mut client, 1).await, ["last words"]);
        assert!(client.recv().await.is_none());
        let closed = client.closed().unwrap();
        assert_eq!(
            (closed.code, closed.reason.as_str()),
            (CloseCode::GOING_AWAY, "shutting down")
        );
    }));
}

#[test]
fn a_full_hub_answers_the_handshake_with_503_and_paths_name_rooms() {
    let hub: Hub = Hub::new(HubConfig::default().max_members(1));
    block_on(async {
        let (a, b) = pipe(4096);
        let request = ClientRequest::new("localhost", "/chat/lobby?name=ann");
        let (member, client) = futures::join!(
            hub.accept::<_, ManualTimer>(a, Config::default()),
            Ws::client(b, request, Config::default()),
        );
        let member = member.unwrap();
        let _client = client.unwrap();
        assert_eq!(hub.rooms_of(member.id()), vec![room("/chat/lobby")]);

        let (a, b) = pipe(4096);
        let request = ClientRequest::new("localhost", "/chat/lobby");
        let (refused, client) = futures::join!(
            hub.accept::<_, ManualTimer>(a, Config::default()),
            Ws::client(b, request, Config::default()),
        );
        assert!(matches!(refused, Err(Error::Rejected(503))));
        assert!(client.is_err());
        assert_eq!(hub.member_count(), 1);

        // The application may choose the rooms, or refuse.
        drop(member);
        let (a, b) = pipe(4096);
        let request = ClientRequest::new("localhost", "/x");
        let (member, client) = futures::join!(
            hub.accept_with::<_, ManualTimer, _>(a, Config::default(), |request| {
                if request.path() == "/x" {
                    Ok((Accept::new(), vec![room("red"), room("blue")]))
                } else {
                    Err(Reject::new(404))
                }
            }),
            Ws::client(b, request, Config::default()),
        );
        let member = member.unwrap();
        let _client = client.unwrap();
        assert_eq!(hub.rooms_of(member.id()), vec![room("blue"), room("red")]);
    });
}

#[test]
fn members_added_from_elsewhere_are_driven_and_the_stream_ends_with_its_adders() {
    let hub: Hub = Hub::new(HubConfig::default());
    let mut served: Served<PipeEnd, ManualTimer> = Served::new();
    let adder = served.adder();
    let (ann, mut client) = member(&hub, &["/a"], 1 << 16);
    let id = ann.id();
    block_on(async {
        let accept = async {
            adder.add(ann).unwrap();
            drop(adder);
        };
        let app = async {
            let mut ended = false;
            // Echo through the hub, by id, until the member ends.
            while let Some((from, event)) = served.next().await {
                assert_eq!(from, id);
                match event {
                    HubEvent::Event(Event::Message(message)) => {
                        hub.send(from, message).unwrap();
                    }
                    HubEvent::Ended(error) => {
                        assert!(error.is_none(), "{error:?}");
                        ended = true;
                    }
                    _ => {}
                }
            }
            assert!(ended);
        };
        let peer = async {
            client.send(Message::text("echo me")).await.unwrap();
            assert_eq!(texts(&mut client, 1).await, ["echo me"]);
            client.close(CloseCode::NORMAL, "").await.unwrap();
        };
        futures::join!(accept, app, peer);
    });
    assert!(served.is_empty());
    assert_eq!(hub.member_count(), 0);
}
