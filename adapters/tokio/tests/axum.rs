//! The axum example (`examples/axum_upgrade.rs`) on loopback: its route
//! upgrades through hyper and echoes through wscore, for a wscore client and
//! for tungstenite's; requests that are not upgrades are refused.

use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite;
use wscore_tokio::{CloseCause, CloseCode, Message};

#[path = "../examples/axum_upgrade.rs"]
#[allow(dead_code)] // its `main`
mod example;

/// Serves the example's router on a loopback port; returns the address.
async fn serve() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, example::app()).await });
    addr
}

#[tokio::test]
async fn wscore_client_through_the_axum_route() {
    let addr = serve().await;
    let (mut ws, response) = wscore_tokio::connect(&format!("ws://{addr}/echo"))
        .await
        .unwrap();
    assert_eq!(response.status(), 101);
    let messages = [
        Message::text("hello"),
        Message::binary(vec![0u8, 1, 2, 255]),
        // Larger than hyper's read buffer, so it crosses the upgrade in pieces.
        Message::binary(vec![7u8; 300_000]),
    ];
    for message in messages {
        ws.send(message.clone()).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), message);
    }
    ws.close(CloseCode::NORMAL, "bye").await.unwrap();
    let closed = ws.closed().unwrap();
    assert_eq!(closed.cause, CloseCause::Local);
    // The server answered our close with its own (an echo of the code).
    assert_eq!(closed.code, CloseCode::NORMAL);
    assert!(ws.next().await.is_none());
}

#[tokio::test]
async fn tungstenite_client_through_the_axum_route() {
    use tungstenite::Message as TMessage;

    let addr = serve().await;
    let (mut ws, response) = tokio_tungstenite::connect_async(format!("ws://{addr}/echo"))
        .await
        .unwrap();
    assert_eq!(response.status(), 101);
    ws.send(TMessage::text("hello")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), TMessage::text("hello"));
    ws.send(TMessage::binary(vec![9u8; 70_000])).await.unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        TMessage::binary(vec![9u8; 70_000])
    );
    ws.close(None).await.unwrap();
    // The server's close reply, then the end of the stream.
    match ws.next().await {
        Some(Ok(TMessage::Close(_))) => {}
        other => panic!("expected the server's close frame, got {other:?}"),
    }
    assert!(ws.next().await.is_none());
}

/// Sends `request` on a new connection and returns the status line of the
/// response.
async fn status_of(addr: std::net::SocketAddr, request: &str) -> String {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut response = vec![0u8; 1024];
    let n = tcp.read(&mut response).await.unwrap();
    let response = String::from_utf8_lossy(&response[..n]).into_owned();
    response.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn requests_that_are_not_upgrades_are_refused() {
    let addr = serve().await;
    let plain = "GET /echo HTTP/1.1\r\nHost: localhost\r\n\r\n";
    assert_eq!(
        status_of(addr, plain).await,
        "HTTP/1.1 426 Upgrade Required"
    );
    let old_version = "GET /echo HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\n\
                       Upgrade: websocket\r\nSec-WebSocket-Version: 8\r\n\
                       Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    assert_eq!(
        status_of(addr, old_version).await,
        "HTTP/1.1 426 Upgrade Required"
    );
    let no_key = "GET /echo HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive, Upgrade\r\n\
                  Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n";
    assert_eq!(status_of(addr, no_key).await, "HTTP/1.1 400 Bad Request");
}
