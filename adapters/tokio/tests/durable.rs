//! Durable attachments over loopback TCP with tokio: saved and adopted on
//! the blocking pool, kept by a connection that vanishes, deleted by a
//! clean close. The hub's behaviour itself is tested in `wscore-driver`'s
//! `tests/hub_durable.rs`.

use std::net::SocketAddr;
use std::sync::Arc;

use futures::StreamExt;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use wscore_tokio::store::{AttachmentKey, AttachmentStore, FsStore};
use wscore_tokio::{CloseCode, Config, Event, Hub, HubConfig, Message, WebSocket};

type Client = WebSocket<wscore_tokio::MaybeTlsStream>;

/// A server whose members send their key, answer `save <v>` with `saved`
/// and `adopt <key>` with the adopted value, and report on `ended`
/// whether their file was deleted when they left.
async fn server(hub: Hub, ended: mpsc::UnboundedSender<bool>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let (hub, ended) = (hub.clone(), ended.clone());
            tokio::spawn(async move {
                let mut member = wscore_tokio::accept_member(&hub, stream, Config::default())
                    .await
                    .unwrap();
                let id = member.id();
                let key = hub.attachment_key(id).unwrap();
                member.send(Message::text(key.to_string())).await.unwrap();
                while let Some(Ok(event)) = member.next_event().await {
                    let Event::Message(message) = event else {
                        continue;
                    };
                    let text = message.as_text().unwrap().to_string();
                    let reply = match text.split_once(' ') {
                        Some(("save", value)) => {
                            wscore_tokio::save_attachment(&hub, id, value.to_string())
                                .await
                                .unwrap();
                            "saved".to_string()
                        }
                        Some(("adopt", prior)) => {
                            let adopted =
                                wscore_tokio::adopt_attachment(&hub, id, prior.parse().unwrap())
                                    .await
                                    .unwrap();
                            String::from_utf8(adopted.unwrap_or_default().to_vec()).unwrap()
                        }
                        _ => "?".to_string(),
                    };
                    member.send(Message::text(reply)).await.unwrap();
                }
                let deleted = wscore_tokio::end_attachment(&hub, key, member.socket().closed())
                    .await
                    .unwrap();
                ended.send(deleted).unwrap();
            });
        }
    });
    addr
}

async fn connect(addr: SocketAddr) -> (Client, AttachmentKey) {
    let mut client = wscore_tokio::connect(&format!("ws://{addr}/"))
        .await
        .unwrap()
        .0;
    let key = next_text(&mut client).await.parse().unwrap();
    (client, key)
}

async fn next_text(client: &mut Client) -> String {
    let message = client.next().await.unwrap().unwrap();
    message.as_text().unwrap().to_string()
}

async fn ask(client: &mut Client, request: String) -> String {
    client.send(Message::text(request)).await.unwrap();
    next_text(client).await
}

#[tokio::test]
async fn a_vanished_client_s_attachment_is_adopted_by_its_next_connection() {
    let dir = std::env::temp_dir().join(format!("wscore-tokio-durable-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = Arc::new(FsStore::open(&dir).unwrap());
    let hub: Hub = Hub::with_store(HubConfig::default(), store.clone());
    let (ended_tx, mut ended) = mpsc::unbounded_channel();
    let addr = server(hub.clone(), ended_tx).await;

    let (mut first, prior) = connect(addr).await;
    assert_eq!(ask(&mut first, "save count 3".into()).await, "saved");
    assert_eq!(store.load(prior).unwrap(), Some(b"count 3".to_vec()));
    // Gone without a close frame: the file stays.
    drop(first);
    assert_eq!(ended.recv().await, Some(false));
    assert_eq!(wscore_tokio::stored_keys(&hub).await.unwrap(), vec![prior]);

    let (mut second, key) = connect(addr).await;
    assert_ne!(key, prior);
    assert_eq!(ask(&mut second, format!("adopt {prior}")).await, "count 3");
    assert_eq!(store.load(prior).unwrap(), None);
    assert_eq!(store.load(key).unwrap(), Some(b"count 3".to_vec()));
    assert!(wscore_tokio::stored_keys(&hub).await.unwrap().is_empty());

    // A clean close: the file goes.
    second.close(CloseCode::NORMAL, "bye").await.unwrap();
    assert_eq!(ended.recv().await, Some(true));
    assert!(store.list().unwrap().is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}
