//! What a hub keeps with its members, attachments and tags, what its
//! listings show (never a member whose close has started), and when a
//! member is live, parked or dormant.

use std::cell::RefCell;
use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use wscore_driver::hub::{
    Admission, AttachmentError, Hub, HubConfig, HubEvent, Liveness, Member, Served, TagError,
};
use wscore_driver::testing::{self, block_on, pipe, sleep, ManualTimer, PipeEnd};
use wscore_driver::{
    Accept, ClientRequest, CloseCode, Config, Error, Event, Message, Reject, Role, Socket,
};

#[path = "support/drive.rs"]
mod drive;
use drive::{settle, while_driven};

type Ws = Socket<PipeEnd, ManualTimer>;
type Hubbed = Member<PipeEnd, ManualTimer>;

fn member(hub: &Hub, rooms: &[&str]) -> (Hubbed, Ws) {
    let (server_io, client_io) = pipe(1 << 16);
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

#[test]
fn the_defaults_follow_the_hibernation_limits() {
    let config = HubConfig::default();
    assert_eq!(
        (
            config.max_attachment_len,
            config.max_tags,
            config.max_tag_len
        ),
        (16 << 10, 10, 256)
    );
}

#[test]
fn an_attachment_up_to_the_bound_is_kept_and_one_past_it_is_refused() {
    let hub: Hub = Hub::new(HubConfig::default().max_attachment_len(8));
    let (ann, _client) = member(&hub, &["/a"]);
    let id = ann.id();
    assert_eq!(hub.attachment(id), None);
    assert_eq!(hub.set_attachment(id, vec![1u8; 8]), Ok(()));
    assert_eq!(
        hub.set_attachment(id, vec![2u8; 9]),
        Err(AttachmentError::TooLarge { len: 9, max: 8 })
    );
    // The refused one did not replace the one kept.
    assert_eq!(hub.attachment(id), Some(Bytes::from(vec![1u8; 8])));
    assert_eq!(ann.set_attachment(&b"ann"[..]), Ok(()));
    assert_eq!(ann.attachment(), Some(Bytes::from_static(b"ann")));
    assert!(ann.clear_attachment());
    assert!(!hub.clear_attachment(id));
    assert_eq!(ann.attachment(), None);
    drop(ann);
    assert_eq!(
        hub.set_attachment(id, &b"late"[..]),
        Err(AttachmentError::UnknownMember)
    );
    assert_eq!(hub.attachment(id), None);
}

#[test]
fn tags_are_bounded_in_number_and_length() {
    let hub: Hub = Hub::new(HubConfig::default().max_tags(2).max_tag_len(4));
    let (ann, _client) = member(&hub, &["/a"]);
    let id = ann.id();
    assert_eq!(hub.add_tag(id, "blue"), Ok(true));
    assert_eq!(
        hub.add_tag(id, "green"),
        Err(TagError::TooLong { len: 5, max: 4 })
    );
    assert_eq!(ann.add_tag("red"), Ok(true));
    // A tag held already is no new tag, even at the bound.
    assert_eq!(hub.add_tag(id, "blue"), Ok(false));
    assert_eq!(hub.add_tag(id, "pink"), Err(TagError::TooMany { max: 2 }));
    assert_eq!(hub.tags_of(id), ["blue", "red"]);
    // Taking one off makes room for another.
    assert!(ann.remove_tag("blue"));
    assert!(!ann.remove_tag("blue"));
    assert_eq!(hub.add_tag(id, "pink"), Ok(true));
    assert_eq!(ann.tags(), ["red", "pink"]);
    drop(ann);
    assert_eq!(hub.add_tag(id, "late"), Err(TagError::UnknownMember));
    assert!(hub.tags_of(id).is_empty());
}

#[test]
fn the_tag_index_lists_carriers_and_frees_a_tag_with_its_last_member() {
    let hub: Hub = Hub::new(HubConfig::default());
    let (ann, _ann_client) = member(&hub, &["/a"]);
    let (bob, _bob_client) = member(&hub, &["/a"]);
    let (ann_id, bob_id) = (ann.id(), bob.id());
    ann.add_tag("user:ann").unwrap();
    ann.add_tag("admin").unwrap();
    bob.add_tag("admin").unwrap();
    assert_eq!(hub.members_with_tag("admin"), [ann_id, bob_id]);
    assert_eq!(hub.members_with_tag("user:ann"), [ann_id]);
    assert!(hub.members_with_tag("nobody").is_empty());
    assert_eq!(hub.tag_count(), 2);

    // Removing a tag from its last carrier frees it.
    assert!(hub.remove_tag(ann_id, "user:ann"));
    assert_eq!(hub.tag_count(), 1);
    // Leaving the hub takes the member out of the index.
    drop(ann);
    assert_eq!(hub.members_with_tag("admin"), [bob_id]);
    drop(bob);
    assert_eq!(hub.tag_count(), 0);
    assert!(hub.members_with_tag("admin").is_empty());
}

#[test]
fn a_member_the_hub_closes_leaves_the_listings_at_once_and_keeps_its_tags() {
    let hub: Hub = Hub::new(HubConfig::default());
    let (ann, _client) = member(&hub, &["/a"]);
    let id = ann.id();
    ann.add_tag("blue").unwrap();
    assert!(hub.close(id, CloseCode::GOING_AWAY, "bye"));
    assert!(hub.members(&room("/a")).is_empty());
    assert!(hub.members_with_tag("blue").is_empty());
    assert_eq!(hub.tag_count(), 0);
    // Still registered, with what it carries, until its connection ends.
    assert_eq!(hub.member_count(), 1);
    assert_eq!(hub.tags_of(id), ["blue"]);
    // A closing member is listed nowhere again.
    assert_eq!(hub.join(id, room("/b")), Ok(false));
    assert_eq!(hub.add_tag(id, "red"), Ok(true));
    assert!(hub.members_with_tag("red").is_empty());
    assert_eq!(hub.room_count(), 0);
}

#[test]
fn a_member_whose_peer_closed_is_not_listed_before_its_close_finishes() {
    let hub: Hub = Hub::new(HubConfig::default());
    let (mut ann, mut ann_client) = member(&hub, &["/a"]);
    let (bob, _bob_client) = member(&hub, &["/a"]);
    let (ann_id, bob_id) = (ann.id(), bob.id());
    ann.add_tag("blue").unwrap();
    bob.add_tag("blue").unwrap();
    block_on(async {
        let server = async {
            let event = ann.next_event().await.unwrap().unwrap();
            assert!(matches!(event, Event::CloseReceived(_)), "{event:?}");
            // The close handshake is not over: the member is still in the
            // hub, but no listing names it and no publish reaches it.
            assert_eq!(hub.member_count(), 2);
            assert!(hub.stats(ann_id).is_some());
            assert_eq!(hub.members(&room("/a")), [bob_id]);
            assert_eq!(hub.members_with_tag("blue"), [bob_id]);
            assert_eq!(hub.tags_of(ann_id), ["blue"]);
            let published = hub.publish(&room("/a"), Message::text("after"));
            assert_eq!(published.recipients, 1);
            assert!(!ann.join(room("/b")));
            while ann.next_event().await.is_some() {}
        };
        let client = async {
            ann_client.close(CloseCode::NORMAL, "done").await.unwrap();
        };
        futures::join!(server, client);
    });
    assert_eq!(hub.member_count(), 1);
    assert_eq!(hub.members_with_tag("blue"), [bob_id]);
}

#[test]
fn a_member_whose_connection_drops_is_not_listed_before_it_ends() {
    let hub: Hub = Hub::new(HubConfig::default());
    let (mut ann, ann_client) = member(&hub, &["/a"]);
    let id = ann.id();
    ann.add_tag("blue").unwrap();
    // The peer vanishes without a close frame.
    drop(ann_client);
    block_on(async {
        let first = ann.next_event().await;
        // However the socket reports the loss, by then no listing names
        // the member.
        assert!(hub.members(&room("/a")).is_empty(), "{first:?}");
        assert!(hub.members_with_tag("blue").is_empty());
        while ann.next_event().await.is_some() {}
    });
    assert_eq!(hub.member_count(), 0);
    assert_eq!(hub.tags_of(id), Vec::<String>::new());
    assert_eq!(hub.tag_count(), 0);
}

#[test]
fn an_admission_gives_rooms_tags_and_an_attachment_at_accept() {
    let hub: Hub = Hub::new(HubConfig::default().max_tags(2));
    block_on(async {
        let (a, b) = pipe(4096);
        let request = ClientRequest::new("localhost", "/chat?user=ann");
        let (member, client) = futures::join!(
            hub.accept_with_admission::<_, ManualTimer, _>(a, Config::default(), |request| {
                if request.path().starts_with("/chat") {
                    Ok(Admission::new(Accept::new())
                        .room(room("/chat"))
                        .tag("user:ann")
                        .tag("user:ann")
                        .tag("reader")
                        .attachment(&b"ann's state"[..]))
                } else {
                    Err(Reject::new(404))
                }
            }),
            Ws::client(b, request, Config::default()),
        );
        let member = member.unwrap();
        let _client = client.unwrap();
        assert_eq!(hub.rooms_of(member.id()), [room("/chat")]);
        assert_eq!(member.tags(), ["user:ann", "reader"]);
        assert_eq!(hub.members_with_tag("reader"), [member.id()]);
        assert_eq!(
            member.attachment(),
            Some(Bytes::from_static(b"ann's state"))
        );

        // An admission past the hub's limits is the server's mistake: the
        // handshake is answered 500 and nothing joins.
        let (a, b) = pipe(4096);
        let request = ClientRequest::new("localhost", "/chat");
        let (refused, client) = futures::join!(
            hub.accept_with_admission::<_, ManualTimer, _>(a, Config::default(), |_| {
                Ok(Admission::new(Accept::new())
                    .room(room("/chat"))
                    .tag("a")
                    .tag("b")
                    .tag("c"))
            }),
            Ws::client(b, request, Config::default()),
        );
        assert!(matches!(refused, Err(Error::Rejected(500))), "{refused:?}");
        assert!(client.is_err());
        assert_eq!(hub.member_count(), 1);
        assert_eq!(hub.room_len(&room("/chat")), 1);
    });
}

/// What `Served` reported, with the manual clock's time since the start.
type Seen = RefCell<Vec<(Duration, String)>>;

/// Runs `body` while `served` drives its members, recording what it
/// reports; returns `body`'s output.
async fn while_served<F: Future>(
    served: &mut Served<PipeEnd, ManualTimer>,
    start: std::time::Instant,
    seen: &Seen,
    body: F,
) -> F::Output {
    let next = |cx: &mut std::task::Context<'_>| served.poll_next_unpin(cx);
    let note = |_, event| {
        let note = match event {
            HubEvent::Dormant => "dormant".to_string(),
            HubEvent::Event(Event::Ping(_)) => "ping".to_string(),
            other => format!("{other:?}"),
        };
        seen.borrow_mut().push((testing::now() - start, note));
    };
    while_driven(next, note, body).await
}

const THRESHOLD: Duration = Duration::from_secs(10);
const TICK: Duration = Duration::from_nanos(1);

fn dormant_hub() -> Hub {
    Hub::new(HubConfig::default().dormant_after(Some(THRESHOLD)))
}

#[test]
fn a_waiting_member_is_dormant_one_tick_past_the_threshold_and_reported_once() {
    let hub = dormant_hub();
    let mut served = Served::new();
    let (ann, _client) = member(&hub, &["/a"]);
    let id = ann.id();
    served.add(ann);
    let seen = Seen::default();
    let start = testing::now();
    block_on(while_served(&mut served, start, &seen, async {
        settle().await;
        assert_eq!(hub.liveness(id), Some(Liveness::Parked));
        // Exactly the threshold is not enough.
        sleep(THRESHOLD).await;
        settle().await;
        assert!(seen.borrow().is_empty(), "{seen:?}");
        assert_eq!(hub.liveness(id), Some(Liveness::Parked));
        sleep(TICK).await;
        settle().await;
        assert_eq!(*seen.borrow(), [(THRESHOLD + TICK, "dormant".to_string())]);
        assert_eq!(hub.liveness(id), Some(Liveness::Dormant));
        // Once: a dormant member stays dormant, unreported, while nothing
        // comes.
        sleep(THRESHOLD * 6).await;
        settle().await;
        assert_eq!(seen.borrow().len(), 1);
        assert_eq!(hub.liveness(id), Some(Liveness::Dormant));
    }));
}

#[test]
fn a_ping_answered_by_itself_restarts_the_idle_time_and_wakes_a_dormant_member() {
    let hub = dormant_hub();
    let mut served = Served::new();
    let (ann, mut client) = member(&hub, &["/a"]);
    let id = ann.id();
    served.add(ann);
    let seen = Seen::default();
    let start = testing::now();
    let six = Duration::from_secs(6);
    block_on(while_served(&mut served, start, &seen, async {
        sleep(six).await;
        client.ping(&b"still here"[..]).await.unwrap();
        settle().await;
        assert_eq!(*seen.borrow(), [(six, "ping".to_string())]);
        // The pong went out without the application.
        assert_eq!(
            client.next_event().await.unwrap().unwrap(),
            Event::Pong(Bytes::from_static(b"still here"))
        );
        // Ten seconds from the start are not ten from the ping.
        sleep(THRESHOLD - six + TICK).await;
        settle().await;
        assert_eq!(seen.borrow().len(), 1, "{seen:?}");
        assert_eq!(hub.liveness(id), Some(Liveness::Parked));
        sleep(six - TICK).await;
        settle().await;
        assert_eq!(seen.borrow().len(), 1, "{seen:?}");
        sleep(TICK).await;
        settle().await;
        assert_eq!(
            seen.borrow()[1],
            (six + THRESHOLD + TICK, "dormant".to_string())
        );
        // A frame wakes a dormant member; it may become dormant again.
        client.ping(&b"back"[..]).await.unwrap();
        settle().await;
        assert_eq!(hub.liveness(id), Some(Liveness::Parked));
        let woke = testing::now() - start;
        sleep(THRESHOLD + TICK).await;
        settle().await;
        let seen = seen.borrow();
        assert_eq!(seen.len(), 4, "{seen:?}");
        assert_eq!(seen[2].1, "ping");
        assert_eq!(seen[3], (woke + THRESHOLD + TICK, "dormant".to_string()));
    }));
}

#[test]
fn a_frame_answered_by_an_auto_response_is_activity_though_the_application_never_sees_it() {
    let hub = dormant_hub();
    let mut served = Served::new();
    let (mut ann, mut client) = member(&hub, &["/a"]);
    ann.set_auto_response(Message::text("ping?"), Message::text("pong!"));
    let id = ann.id();
    served.add(ann);
    let seen = Seen::default();
    let start = testing::now();
    let six = Duration::from_secs(6);
    block_on(while_served(&mut served, start, &seen, async {
        // Every six seconds, a frame only the connection answers.
        for _ in 0..3 {
            sleep(six).await;
            client.send(Message::text("ping?")).await.unwrap();
            assert_eq!(
                client.recv().await.unwrap().unwrap(),
                Message::text("pong!")
            );
            settle().await;
        }
        // 18 s have passed, never 10 without a frame: not dormant, and the
        // application heard of nothing.
        assert!(seen.borrow().is_empty(), "{seen:?}");
        assert_eq!(hub.liveness(id), Some(Liveness::Parked));
        sleep(THRESHOLD + TICK).await;
        settle().await;
        assert_eq!(
            *seen.borrow(),
            [(six * 3 + THRESHOLD + TICK, "dormant".to_string())]
        );
    }));
}

#[test]
fn a_member_handling_an_event_is_live_and_never_made_dormant() {
    let hub = dormant_hub();
    let (mut ann, mut client) = member(&hub, &["/a"]);
    let id = ann.id();
    block_on(async {
        client.send(Message::text("work")).await.unwrap();
        let event = ann.next_event().await.unwrap().unwrap();
        assert_eq!(event, Event::Message(Message::text("work")));
        assert_eq!(hub.liveness(id), Some(Liveness::Live));
        assert_eq!(ann.liveness(), Liveness::Live);
        // The application works on it far past the threshold.
        sleep(THRESHOLD * 3).await;
        assert_eq!(hub.liveness(id), Some(Liveness::Live));
        // Waiting again parks it, idle from now.
        let waited = testing::timeout(THRESHOLD, ann.next_event()).await;
        assert!(waited.is_err());
        assert_eq!(hub.liveness(id), Some(Liveness::Parked));
    });
    drop(ann);
    assert_eq!(hub.liveness(id), None);
}

#[test]
fn without_a_threshold_nobody_is_ever_dormant() {
    let hub: Hub = Hub::new(HubConfig::default());
    assert_eq!(hub.config().dormant_after, None);
    let mut served = Served::new();
    let (ann, _client) = member(&hub, &["/a"]);
    let id = ann.id();
    served.add(ann);
    let seen = Seen::default();
    let start = testing::now();
    block_on(while_served(&mut served, start, &seen, async {
        sleep(Duration::from_secs(3600)).await;
        settle().await;
        assert!(seen.borrow().is_empty());
        assert_eq!(hub.liveness(id), Some(Liveness::Parked));
    }));
}
