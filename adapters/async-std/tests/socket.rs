//! End-to-end behaviour of the futures-io socket: over loopback TCP (on
//! async-std) and over an in-memory pipe, including one run on a plain
//! `futures` executor to show that no particular runtime is needed.

mod pipe;

use std::time::{Duration, Instant};

use async_std::future::timeout;
use async_std::net::TcpListener;
use futures::{SinkExt, StreamExt};
use wscore::{Config as ProtocolConfig, HandshakeError, Keepalive};
use wscore_async_std::{
    Accept, ClientRequest, CloseCause, CloseCode, Config, Error, Message, Reject, TimeoutKind,
    WebSocket,
};

use pipe::{pipe, End};

type Ws = WebSocket<End>;

/// A server and a client joined by an in-memory pipe of `capacity` bytes.
async fn pipe_pair(capacity: usize, server: Config, client: Config) -> (Ws, Ws) {
    let (a, b) = pipe(capacity);
    let request = ClientRequest::new("localhost", "/");
    let (server, client) = futures::join!(
        wscore_async_std::accept_with(a, server, |_| Ok(Accept::new())),
        wscore_async_std::client(b, request, client),
    );
    (server.unwrap(), client.unwrap().0)
}

fn keepalive(interval_ms: u64, timeout_ms: u64) -> Config {
    ProtocolConfig::default()
        .keepalive(Some(Keepalive {
            interval: Duration::from_millis(interval_ms),
            timeout: Duration::from_millis(timeout_ms),
        }))
        .into()
}

async fn echo(mut ws: Ws) -> usize {
    let mut echoed = 0;
    while let Some(message) = ws.next().await {
        ws.send(message.unwrap()).await.unwrap();
        echoed += 1;
    }
    echoed
}

fn sample_messages() -> Vec<Message> {
    vec![
        Message::text("hello"),
        Message::binary(vec![0u8, 1, 2, 255]),
        Message::text(""),
        Message::binary(vec![7u8; 300_000]),
        Message::text("é".repeat(70_000)),
    ]
}

#[async_std::test]
async fn tcp_echo_round_trip() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = async_std::task::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut ws = wscore_async_std::accept(stream).await.unwrap();
        let mut echoed = 0;
        while let Some(message) = ws.next().await {
            ws.send(message.unwrap()).await.unwrap();
            echoed += 1;
        }
        (echoed, ws.closed().cloned().unwrap())
    });
    let (mut ws, response) = wscore_async_std::connect(&format!("ws://{addr}/echo"))
        .await
        .unwrap();
    assert_eq!(response.status(), 101);
    for message in sample_messages() {
        ws.send(message.clone()).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), message);
    }
    ws.close(CloseCode::NORMAL, "bye").await.unwrap();
    assert_eq!(ws.closed().unwrap().cause, CloseCause::Local);
    assert!(ws.next().await.is_none());
    let (echoed, closed) = server.await;
    assert_eq!(echoed, sample_messages().len());
    assert_eq!(
        (closed.code, closed.reason.as_str()),
        (CloseCode::NORMAL, "bye")
    );
}

#[async_std::test]
async fn pipe_echo_round_trip() {
    let (server, mut client) = pipe_pair(4096, Config::default(), Config::default()).await;
    let server = async_std::task::spawn(echo(server));
    for message in sample_messages() {
        client.send(message.clone()).await.unwrap();
        assert_eq!(client.next().await.unwrap().unwrap(), message);
    }
    SinkExt::close(&mut client).await.unwrap();
    assert_eq!(client.closed().unwrap().code, CloseCode::NORMAL);
    assert_eq!(server.await, sample_messages().len());
}

#[async_std::test]
async fn callback_chooses_a_subprotocol() {
    let (a, b) = pipe(4096);
    let request = ClientRequest::new("localhost", "/chat?room=1")
        .subprotocol("v1")
        .subprotocol("v2");
    let (server, client) = futures::join!(
        wscore_async_std::accept_with(a, Config::default(), |request| {
            assert_eq!((request.path(), request.query()), ("/chat", Some("room=1")));
            assert_eq!(request.subprotocols(), ["v1", "v2"]);
            Ok(Accept::new().subprotocol("v2"))
        }),
        wscore_async_std::client(b, request, Config::default()),
    );
    assert_eq!(server.unwrap().subprotocol(), Some("v2"));
    assert_eq!(client.unwrap().0.subprotocol(), Some("v2"));
}

#[async_std::test]
async fn callback_rejects_with_a_status() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = async_std::task::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        wscore_async_std::accept_with(stream, Config::default(), |_| Err(Reject::new(401))).await
    });
    let client = wscore_async_std::connect(&format!("ws://{addr}/")).await;
    assert!(matches!(
        client,
        Err(Error::Handshake(HandshakeError::Status(401)))
    ));
    assert!(matches!(server.await, Err(Error::Rejected(401))));
}

#[async_std::test]
async fn keepalive_ends_a_connection_whose_peer_stopped_answering() {
    let (mut server, _silent) = pipe_pair(1 << 16, keepalive(200, 200), Config::default()).await;
    // The deadline is real time here: the test reads the clock itself.
    #[allow(clippy::disallowed_methods)]
    let start = Instant::now();
    assert!(matches!(
        server.next().await,
        Some(Err(Error::Timeout(TimeoutKind::Keepalive)))
    ));
    let elapsed = start.elapsed();
    assert!(elapsed >= Duration::from_millis(400), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

#[async_std::test]
async fn keepalive_is_answered_by_a_peer_that_only_reads() {
    let (mut server, client) = pipe_pair(1 << 16, keepalive(50, 200), Config::default()).await;
    let (mut rx, _tx) = client.split();
    let reader = async_std::task::spawn(async move {
        let mut received = Vec::new();
        while let Some(message) = rx.next().await {
            received.push(message.unwrap());
        }
        received
    });
    // Several keepalive rounds pass without the connection ending.
    assert!(timeout(Duration::from_millis(800), server.next())
        .await
        .is_err());
    server.send(Message::text("still here")).await.unwrap();
    server.close(CloseCode::NORMAL, "").await.unwrap();
    assert_eq!(reader.await, vec![Message::text("still here")]);
}

#[async_std::test]
async fn send_waits_for_a_slow_reader_and_memory_stays_bounded() {
    const LIMIT: usize = 64 << 10;
    const SIZE: usize = 4096;
    let config = Config::default().write_buffer_limit(LIMIT);
    let (mut server, mut client) = pipe_pair(16 << 10, config, Config::default()).await;
    let message = Message::binary(vec![1u8; SIZE]);
    let mut sent = 0;
    while timeout(Duration::from_millis(100), server.feed(message.clone()))
        .await
        .is_ok()
    {
        sent += 1;
        assert!(server.buffered_amount() <= LIMIT + 2 * SIZE);
        assert!(sent < 1000, "send never waited");
    }
    assert!(sent >= LIMIT / SIZE, "waited too early: {sent}");
    let reader = async_std::task::spawn(async move {
        let mut received = 0;
        while let Some(message) = client.next().await {
            assert_eq!(message.unwrap().len(), SIZE);
            received += 1;
        }
        received
    });
    server.close(CloseCode::NORMAL, "").await.unwrap();
    assert_eq!(reader.await, sent);
}

#[async_std::test]
async fn split_halves_work_from_two_tasks() {
    let (server, client) = pipe_pair(4096, Config::default(), Config::default()).await;
    let server = async_std::task::spawn(echo(server));
    let (mut rx, mut tx) = client.split();
    const N: usize = 200;
    let writer = async_std::task::spawn(async move {
        for i in 0..N {
            tx.send(Message::text(i.to_string())).await.unwrap();
        }
        tx
    });
    let reader = async_std::task::spawn(async move {
        for i in 0..N {
            assert_eq!(
                rx.next().await.unwrap().unwrap(),
                Message::text(i.to_string())
            );
        }
        rx
    });
    let mut tx = writer.await;
    let mut rx = reader.await;
    let (closed, end) = futures::join!(tx.close(CloseCode::NORMAL, ""), rx.next());
    closed.unwrap();
    assert!(end.is_none());
    assert_eq!(server.await, N);
}

#[async_std::test]
async fn a_message_sent_before_drop_is_delivered() {
    let (mut server, mut client) = pipe_pair(1 << 16, Config::default(), Config::default()).await;
    client.send(Message::text("last words")).await.unwrap();
    drop(client);
    assert_eq!(
        server.next().await.unwrap().unwrap(),
        Message::text("last words")
    );
    assert!(matches!(server.next().await, Some(Err(Error::Io(_)))));
    assert!(server.next().await.is_none());
}

/// No async-std runtime here: `async-io`'s timer drives the deadlines
/// under any executor.
#[test]
fn runs_on_a_plain_futures_executor() {
    futures::executor::block_on(async {
        let config = ProtocolConfig::default().close_timeout(Duration::from_millis(100));
        let (_silent, mut client) = pipe_pair(1 << 16, Config::default(), config.into()).await;
        client.send(Message::text("hi")).await.unwrap();
        client.close(CloseCode::NORMAL, "").await.unwrap();
        assert_eq!(
            client.closed().unwrap().cause,
            CloseCause::Timeout(TimeoutKind::Close)
        );
    });
}
