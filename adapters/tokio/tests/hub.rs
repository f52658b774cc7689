//! The hub over loopback TCP with tokio: rooms named by request paths,
//! members in a task each or all driven from one task, and a full hub
//! answering 503. The hub's behaviour itself is tested once for every
//! runtime in `wscore-driver`'s `tests/hub.rs`.

use std::net::SocketAddr;

use futures::StreamExt;
use tokio::net::{TcpListener, TcpStream};
use wscore_tokio::{
    CloseCode, Config, Error, Event, Hub, HubConfig, HubEvent, Message, Served, WebSocket,
};

type Client = WebSocket<wscore_tokio::MaybeTlsStream>;

async fn connect(addr: SocketAddr, path: &str) -> Client {
    wscore_tokio::connect(&format!("ws://{addr}{path}"))
        .await
        .unwrap()
        .0
}

async fn next_text(client: &mut Client) -> String {
    let message = client.next().await.unwrap().unwrap();
    message.as_text().unwrap().to_string()
}

/// A chat relay with a task per member: what a member says goes to the
/// others of its rooms.
async fn relay_per_task(hub: Hub) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let hub = hub.clone();
            tokio::spawn(async move {
                let Ok(mut member) =
                    wscore_tokio::accept_member(&hub, stream, Config::default()).await
                else {
                    return;
                };
                while let Some(Ok(event)) = member.next_event().await {
                    if let Event::Message(message) = event {
                        for room in member.rooms() {
                            member.publish(&room, message.clone());
                        }
                    }
                }
            });
        }
    });
    addr
}

/// The same relay with every member driven from one task, commands by id.
async fn relay_served(hub: Hub) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served: Served<TcpStream> = Served::new();
    let adder = served.adder();
    let accept_hub = hub.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let (hub, adder) = (accept_hub.clone(), adder.clone());
            tokio::spawn(async move {
                if let Ok(member) =
                    wscore_tokio::accept_member(&hub, stream, Config::default()).await
                {
                    let _ = adder.add(member);
                }
            });
        }
    });
    tokio::spawn(async move {
        let mut served = served;
        while let Some((id, event)) = served.next().await {
            if let HubEvent::Event(Event::Message(message)) = event {
                for room in hub.rooms_of(id) {
                    hub.publish_except(&room, id, message.clone());
                }
            }
        }
    });
    addr
}

async fn rooms_are_paths(addr: SocketAddr, hub: &Hub) {
    let mut ann = connect(addr, "/room/a?name=ann").await;
    let mut bob = connect(addr, "/room/a?name=bob").await;
    let mut cat = connect(addr, "/room/b").await;
    while hub.room_len(&"/room/a".to_string()) < 2 || hub.room_len(&"/room/b".to_string()) < 1 {
        tokio::task::yield_now().await;
    }
    ann.send(Message::text("hi from ann")).await.unwrap();
    cat.send(Message::text("hi from cat")).await.unwrap();
    bob.send(Message::text("hi from bob")).await.unwrap();
    assert_eq!(next_text(&mut bob).await, "hi from ann");
    assert_eq!(next_text(&mut ann).await, "hi from bob");
    // Cat is alone in its room: what it hears next is the hub's.
    hub.publish(&"/room/b".to_string(), Message::text("only b"));
    assert_eq!(next_text(&mut cat).await, "only b");
    for mut client in [ann, bob, cat] {
        client.close(CloseCode::NORMAL, "").await.unwrap();
    }
    while hub.member_count() > 0 {
        tokio::task::yield_now().await;
    }
    assert_eq!(hub.room_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_with_a_task_per_member() {
    let hub: Hub = Hub::new(HubConfig::default());
    let addr = relay_per_task(hub.clone()).await;
    rooms_are_paths(addr, &hub).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_with_every_member_on_one_task() {
    let hub: Hub = Hub::new(HubConfig::default());
    let addr = relay_served(hub.clone()).await;
    rooms_are_paths(addr, &hub).await;
}

#[tokio::test]
async fn a_full_hub_answers_503() {
    let hub: Hub = Hub::new(HubConfig::default().max_members(1));
    let addr = relay_per_task(hub.clone()).await;
    let _first = connect(addr, "/a").await;
    while hub.member_count() < 1 {
        tokio::task::yield_now().await;
    }
    match wscore_tokio::connect(&format!("ws://{addr}/a")).await {
        Err(Error::Handshake(e)) => assert!(e.to_string().contains("503"), "{e}"),
        other => panic!("expected a 503, got {other:?}"),
    }
}
