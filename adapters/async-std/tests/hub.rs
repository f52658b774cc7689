//! The hub over loopback TCP with async-std: a relay whose members are
//! driven from one task. The hub's behaviour itself is tested once for
//! every runtime in `wscore-driver`'s `tests/hub.rs`.

use async_std::net::{TcpListener, TcpStream};
use futures::StreamExt;
use wscore_async_std::{CloseCode, Config, Event, Hub, HubConfig, HubEvent, Message, Served};

#[async_std::test]
async fn a_relay_with_every_member_on_one_task() {
    let hub: Hub = Hub::new(HubConfig::default());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served: Served<TcpStream> = Served::new();
    let adder = served.adder();
    let accept_hub = hub.clone();
    async_std::task::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            if let Ok(member) =
                wscore_async_std::accept_member(&accept_hub, stream, Config::default()).await
            {
                let _ = adder.add(member);
            }
        }
    });
    let relay_hub = hub.clone();
    async_std::task::spawn(async move {
        let mut served = served;
        while let Some((id, event)) = served.next().await {
            if let HubEvent::Event(Event::Message(message)) = event {
                for room in relay_hub.rooms_of(id) {
                    relay_hub.publish_except(&room, id, message.clone());
                }
            }
        }
    });

    let url = format!("ws://{addr}/lobby");
    let (mut ann, _) = wscore_async_std::connect(&url).await.unwrap();
    let (mut bob, _) = wscore_async_std::connect(&url).await.unwrap();
    while hub.room_len(&"/lobby".to_string()) < 2 {
        async_std::task::yield_now().await;
    }
    ann.send(Message::text("hello bob")).await.unwrap();
    assert_eq!(
        bob.next().await.unwrap().unwrap(),
        Message::text("hello bob")
    );
    bob.send(Message::text("hello ann")).await.unwrap();
    assert_eq!(
        ann.next().await.unwrap().unwrap(),
        Message::text("hello ann")
    );
    ann.close(CloseCode::NORMAL, "").await.unwrap();
    bob.close(CloseCode::NORMAL, "").await.unwrap();
    while hub.member_count() > 0 {
        async_std::task::yield_now().await;
    }
    assert_eq!(hub.room_count(), 0);
}
