//! A dormant member of `Served` hibernates: it keeps its transport, its
//! place in the hub and the core's record, and wakes on bytes, on a
//! deadline of its connection and on what the hub queues for it.

use std::cell::RefCell;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use wscore::{Config as ProtocolConfig, DeflateConfig, HibernateError, Keepalive};
use wscore_driver::hub::{
    HibernateRefusal, Hub, HubConfig, HubEvent, Liveness, Member, MemberId, Served,
};
use wscore_driver::testing::{block_on, pipe, sleep, ManualTimer, PipeEnd};
use wscore_driver::{ClientRequest, CloseCode, Config, Event, Message, Role, Socket};

#[path = "support/drive.rs"]
mod drive;
use drive::{settle, while_driven};

type Ws = Socket<PipeEnd, ManualTimer>;
type Hubbed = Member<PipeEnd, ManualTimer>;
type Stream = RefCell<Served<PipeEnd, ManualTimer>>;

const THRESHOLD: Duration = Duration::from_secs(10);
const TICK: Duration = Duration::from_nanos(1);

fn hibernating_hub() -> Hub {
    Hub::new(
        HubConfig::default()
            .dormant_after(Some(THRESHOLD))
            .hibernate(true),
    )
}

fn member(hub: &Hub, config: &Config) -> (Hubbed, Ws) {
    member_with(hub, config, |_| {})
}

fn member_with(hub: &Hub, config: &Config, setup: impl FnOnce(&mut Ws)) -> (Hubbed, Ws) {
    let (server_io, client_io) = pipe(1 << 16);
    let mut server = Ws::from_upgraded(server_io, Role::Server, config.clone()).unwrap();
    setup(&mut server);
    let client = Ws::from_upgraded(client_io, Role::Client, Config::default()).unwrap();
    let member = hub.attach(server, ["/a".to_string()]).unwrap();
    (member, client)
}

/// What the stream reported, without the time.
type Seen = RefCell<Vec<String>>;

fn note(event: &HubEvent) -> String {
    match event {
        HubEvent::Dormant => "dormant".to_string(),
        HubEvent::Event(Event::Message(message)) => {
            format!("message {:?}", message.as_text().unwrap_or_default())
        }
        other => format!("{other:?}"),
    }
}

/// Runs `body` while the stream drives its members; the stream is
/// borrowed only while it is polled, so `body` may look at it.
async fn while_served<F: Future>(served: &Stream, seen: &Seen, body: F) -> F::Output {
    let next = |cx: &mut std::task::Context<'_>| served.borrow_mut().poll_next_unpin(cx);
    let record = |_, event: HubEvent| seen.borrow_mut().push(note(&event));
    while_driven(next, record, body).await
}

/// One member on a hibernating stream, and its client.
fn served_member(config: Config) -> (Hub, Stream, MemberId, Ws) {
    served_member_with(config, |_| {})
}

fn served_member_with(config: Config, setup: impl FnOnce(&mut Ws)) -> (Hub, Stream, MemberId, Ws) {
    let hub = hibernating_hub();
    let config = Arc::new(config);
    let mut served = Served::with_config(Arc::clone(&config));
    let (ann, client) = member_with(&hub, &config, setup);
    let id = ann.id();
    served.add(ann);
    (hub, RefCell::new(served), id, client)
}

async fn fall_asleep(served: &Stream) {
    sleep(THRESHOLD + TICK).await;
    settle().await;
    assert_eq!(served.borrow().dormant_count(), 1);
}

#[test]
fn a_dormant_member_hibernates_and_a_message_wakes_it_for_the_application() {
    let (hub, served, id, mut client) = served_member(Config::default());
    let seen = Seen::default();
    block_on(while_served(&served, &seen, async {
        settle().await;
        assert_eq!(served.borrow().dormant_count(), 0);
        sleep(THRESHOLD).await;
        settle().await;
        assert_eq!(served.borrow().dormant_count(), 0);
        sleep(TICK).await;
        settle().await;
        assert_eq!(*seen.borrow(), ["dormant"]);
        assert_eq!(served.borrow().dormant_count(), 1);
        assert_eq!(served.borrow().len(), 1);
        assert_eq!(hub.liveness(id), Some(Liveness::Dormant));
        // Still a member: its slot stays registered.
        assert_eq!(hub.room_len(&"/a".to_string()), 1);

        client.send(Message::text("hello")).await.unwrap();
        settle().await;
        assert_eq!(*seen.borrow(), ["dormant", "message \"hello\""]);
        assert_eq!(served.borrow().dormant_count(), 0);
        // Handed out; the stream waits for its next event again.
        assert_eq!(hub.liveness(id), Some(Liveness::Parked));

        hub.send(id, Message::text("welcome back")).unwrap();
        let reply = client.next_event().await.unwrap().unwrap();
        assert_eq!(reply, Event::Message(Message::text("welcome back")));
        // Parked again, and dormant again past the threshold.
        fall_asleep(&served).await;
        assert_eq!(*seen.borrow(), ["dormant", "message \"hello\"", "dormant"]);
    }));
}

#[test]
fn an_auto_response_while_hibernated_is_answered_without_the_application() {
    let (hub, served, id, mut client) = served_member_with(Config::default(), |ws| {
        ws.set_auto_response(Message::text("ping?"), Message::text("pong!"));
    });
    let seen = Seen::default();
    block_on(while_served(&served, &seen, async {
        fall_asleep(&served).await;
        client.send(Message::text("ping?")).await.unwrap();
        let answer = client.next_event().await.unwrap().unwrap();
        assert_eq!(answer, Event::Message(Message::text("pong!")));
        settle().await;
        // The application heard nothing, and the member sleeps on; the
        // frame was activity all the same.
        assert_eq!(*seen.borrow(), ["dormant"]);
        assert_eq!(served.borrow().dormant_count(), 1);
        assert_eq!(hub.liveness(id), Some(Liveness::Parked));
        // Idle again for the threshold: dormant again, reported again,
        // without waking.
        sleep(THRESHOLD).await;
        settle().await;
        assert_eq!(*seen.borrow(), ["dormant"]);
        sleep(TICK).await;
        settle().await;
        assert_eq!(*seen.borrow(), ["dormant", "dormant"]);
        assert_eq!(hub.liveness(id), Some(Liveness::Dormant));
        assert_eq!(served.borrow().dormant_count(), 1);
    }));
}

#[test]
fn a_ping_while_hibernated_is_answered_without_the_application() {
    let (hub, served, id, mut client) = served_member(Config::default());
    let seen = Seen::default();
    block_on(while_served(&served, &seen, async {
        fall_asleep(&served).await;
        client.ping(&b"there?"[..]).await.unwrap();
        let answer = client.next_event().await.unwrap().unwrap();
        assert_eq!(answer, Event::Pong(Bytes::from_static(b"there?")));
        settle().await;
        assert_eq!(*seen.borrow(), ["dormant"]);
        assert_eq!(served.borrow().dormant_count(), 1);
        assert_eq!(hub.liveness(id), Some(Liveness::Parked));
        sleep(THRESHOLD + TICK).await;
        settle().await;
        assert_eq!(*seen.borrow(), ["dormant", "dormant"]);
        assert_eq!(hub.liveness(id), Some(Liveness::Dormant));
    }));
}

#[test]
fn a_message_to_a_parked_sleeper_wakes_the_application() {
    let (hub, served, id, mut client) = served_member(Config::default());
    let seen = Seen::default();
    block_on(while_served(&served, &seen, async {
        fall_asleep(&served).await;
        client.ping(&b"there?"[..]).await.unwrap();
        let _pong = client.next_event().await.unwrap().unwrap();
        settle().await;
        assert_eq!(hub.liveness(id), Some(Liveness::Parked));
        sleep(THRESHOLD / 2).await;
        client.send(Message::text("hello")).await.unwrap();
        settle().await;
        assert_eq!(*seen.borrow(), ["dormant", "message \"hello\""]);
        assert_eq!(served.borrow().dormant_count(), 0);
        // The idle time counts from the message, not from the ping.
        sleep(THRESHOLD).await;
        settle().await;
        assert_eq!(*seen.borrow(), ["dormant", "message \"hello\""]);
        sleep(TICK).await;
        settle().await;
        assert_eq!(*seen.borrow(), ["dormant", "message \"hello\"", "dormant"]);
    }));
}

#[test]
fn a_publish_wakes_a_hibernated_member_and_reaches_its_peer() {
    let (hub, served, _id, mut client) = served_member(Config::default());
    let seen = Seen::default();
    block_on(while_served(&served, &seen, async {
        fall_asleep(&served).await;
        let published = hub.publish(&"/a".to_string(), Message::text("news"));
        assert_eq!(published.dropped, 0);
        let got = client.next_event().await.unwrap().unwrap();
        assert_eq!(got, Event::Message(Message::text("news")));
        settle().await;
        // Written, and asleep again without a word to the application.
        assert_eq!(*seen.borrow(), ["dormant"]);
        assert_eq!(served.borrow().dormant_count(), 1);
    }));
}

#[test]
fn a_keepalive_deadline_while_hibernated_sends_the_ping() {
    let interval = Duration::from_secs(30);
    let protocol = ProtocolConfig::default().keepalive(Some(Keepalive {
        interval,
        timeout: Duration::from_secs(20),
    }));
    let (hub, served, id, mut client) = served_member(Config::from(protocol));
    let seen = Seen::default();
    block_on(while_served(&served, &seen, async {
        fall_asleep(&served).await;
        sleep(interval - THRESHOLD - TICK).await;
        let ping = client.next_event().await.unwrap().unwrap();
        assert!(matches!(ping, Event::Ping(_)), "{ping:?}");
        // The client's pong goes back; the member sleeps on, parked by
        // the frame.
        settle().await;
        assert_eq!(*seen.borrow(), ["dormant"]);
        assert_eq!(served.borrow().dormant_count(), 1);
        assert_eq!(hub.liveness(id), Some(Liveness::Parked));
        // The pong counted: no timeout closes it, and the member is
        // dormant again past the threshold.
        sleep(Duration::from_secs(25)).await;
        settle().await;
        assert_eq!(hub.liveness(id), Some(Liveness::Dormant));
        assert_eq!(*seen.borrow(), ["dormant", "dormant"]);
    }));
}

#[test]
fn the_peer_closing_a_hibernated_member_ends_it_cleanly() {
    let (hub, served, id, mut client) = served_member(Config::default());
    let seen = Seen::default();
    block_on(while_served(&served, &seen, async {
        fall_asleep(&served).await;
        client.close(CloseCode::NORMAL, "bye").await.unwrap();
        settle().await;
        assert_eq!(
            seen.borrow().last().map(String::as_str),
            Some("Ended(None)")
        );
        assert!(
            !seen
                .borrow()
                .iter()
                .any(|s| s.starts_with("HibernateRefused")),
            "{seen:?}"
        );
        assert_eq!(served.borrow().len(), 0);
        assert_eq!(hub.liveness(id), None);
        assert_eq!(hub.member_count(), 0);
    }));
}

#[test]
fn a_deflate_window_with_context_keeps_the_member_awake_and_says_why() {
    let hub = hibernating_hub();
    let config: Config = ProtocolConfig::default()
        .deflate(Some(DeflateConfig::default()))
        .into();
    let shared = Arc::new(config.clone());
    let served = RefCell::new(Served::with_config(Arc::clone(&shared)));
    let (member, mut client) = block_on(async {
        let (a, b) = pipe(1 << 16);
        let request = ClientRequest::new("localhost", "/a");
        let (member, client) = futures::join!(
            hub.accept::<_, ManualTimer>(a, config.clone()),
            Ws::client(b, request, config.clone()),
        );
        (member.unwrap(), client.unwrap().0)
    });
    assert!(client.connection().deflate().is_some());
    let id = member.id();
    served.borrow_mut().add(member);
    let seen = Seen::default();
    block_on(while_served(&served, &seen, async {
        // A compressed message leaves context in the member's window.
        client
            .send(Message::text("compress me ".repeat(20)))
            .await
            .unwrap();
        settle().await;
        sleep(THRESHOLD + TICK).await;
        settle().await;
        let refused = format!(
            "{:?}",
            HubEvent::HibernateRefused(HibernateRefusal::Connection(
                HibernateError::CompressionContext
            ))
        );
        assert_eq!(seen.borrow()[1..], ["dormant".to_string(), refused]);
        assert_eq!(served.borrow().dormant_count(), 0);
        // Awake and working.
        client.send(Message::text("still there")).await.unwrap();
        settle().await;
        assert_eq!(seen.borrow().last().unwrap(), "message \"still there\"");
        hub.send(id, Message::text("yes")).unwrap();
        let reply = client.next_event().await.unwrap().unwrap();
        assert_eq!(reply, Event::Message(Message::text("yes")));
    }));
}

#[test]
fn a_member_of_a_stream_without_a_configuration_says_it_stays_awake() {
    let hub = hibernating_hub();
    let served = RefCell::new(Served::new());
    let (ann, _client) = member(&hub, &Config::default());
    served.borrow_mut().add(ann);
    let seen = Seen::default();
    block_on(while_served(&served, &seen, async {
        sleep(THRESHOLD + TICK).await;
        settle().await;
        let refused = format!(
            "{:?}",
            HubEvent::HibernateRefused(HibernateRefusal::NoConfig)
        );
        assert_eq!(*seen.borrow(), ["dormant".to_string(), refused]);
        assert_eq!(served.borrow().dormant_count(), 0);
    }));
}

#[test]
fn a_hibernated_member_holds_far_less_than_an_awake_one() {
    let (_hub, served, _id, _client) = served_member(Config::default());
    let seen = Seen::default();
    block_on(while_served(&served, &seen, async {
        fall_asleep(&served).await;
    }));
    let dormant = served.borrow().dormant_bytes();
    // The member, and the connection its socket keeps on the heap; the
    // socket's buffers come on top.
    let awake = std::mem::size_of::<Hubbed>() + std::mem::size_of::<wscore::Connection>();
    println!(
        "dormant: {dormant} bytes (record {} inline, transport {}, timer {}); \
         awake member: {awake} bytes with its connection, before its buffers",
        std::mem::size_of::<wscore::Hibernated>(),
        std::mem::size_of::<PipeEnd>(),
        std::mem::size_of::<ManualTimer>(),
    );
    assert!(dormant > 0);
    assert!(dormant < 1024, "{dormant}");
    assert!(dormant * 2 < awake, "{dormant} vs {awake}");
}

#[test]
fn a_close_by_the_hub_wakes_a_hibernated_member_and_ends_it() {
    let (hub, served, id, mut client) = served_member(Config::default());
    let seen = Seen::default();
    block_on(while_served(&served, &seen, async {
        fall_asleep(&served).await;
        hub.send(id, Message::text("last words")).unwrap();
        assert!(hub.close(id, CloseCode::NORMAL, "done"));
        // What was queued before the close comes first.
        let got = client.next_event().await.unwrap().unwrap();
        assert_eq!(got, Event::Message(Message::text("last words")));
        let close = client.next_event().await.unwrap().unwrap();
        assert!(matches!(close, Event::CloseReceived(_)), "{close:?}");
        assert!(client.next_event().await.is_none());
        settle().await;
        // Awake for its end, which the application hears as usual.
        assert_eq!(seen.borrow()[0], "dormant");
        assert_eq!(seen.borrow().last().unwrap(), "Ended(None)");
        assert!(
            !seen
                .borrow()
                .iter()
                .any(|s| s.starts_with("HibernateRefused")),
            "{seen:?}"
        );
        assert_eq!(hub.member_count(), 0);
    }));
}
