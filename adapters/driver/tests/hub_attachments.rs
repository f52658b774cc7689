//! What a hub keeps with its members, attachments and tags, and what its
//! listings show: never a member whose close has started.

use bytes::Bytes;
use wscore_driver::hub::{Admission, AttachmentError, Hub, HubConfig, Member, TagError};
use wscore_driver::testing::{block_on, pipe, ManualTimer, PipeEnd};
use wscore_driver::{
    Accept, ClientRequest, CloseCode, Config, Error, Event, Message, Reject, Role, Socket,
};

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
