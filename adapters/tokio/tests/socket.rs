//! The tokio socket over what only tokio supplies: loopback TCP, tokio's
//! timer and its paused clock. The socket's behaviour itself (close
//! handshakes, deadlines, back-pressure, split halves, errors) is tested
//! once for every runtime in `wscore-driver`'s `tests/socket.rs`.

use std::time::Duration;

use futures::StreamExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use wscore::{Config as ProtocolConfig, Keepalive};
use wscore_tokio::{Accept, CloseCause, CloseCode, Error, Message, TimeoutKind};

fn sample_messages() -> Vec<Message> {
    vec![
        Message::text("hello"),
        Message::binary(vec![0u8, 1, 2, 255]),
        Message::text(""),
        // Larger than a fragment and than the read buffer.
        Message::binary(vec![7u8; 300_000]),
        Message::text("é".repeat(70_000)),
    ]
}

#[tokio::test]
async fn tcp_echo_round_trip() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut ws = wscore_tokio::accept(stream).await.unwrap();
        let mut echoed = 0;
        while let Some(message) = ws.next().await {
            ws.send(message.unwrap()).await.unwrap();
            echoed += 1;
        }
        (echoed, ws.closed().cloned().unwrap())
    });

    let (mut ws, response) = wscore_tokio::connect(&format!("ws://{addr}/echo"))
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

    let (echoed, closed) = server.await.unwrap();
    assert_eq!(echoed, sample_messages().len());
    assert_eq!(
        (closed.code, closed.reason.as_str()),
        (CloseCode::NORMAL, "bye")
    );
    assert_eq!(closed.cause, CloseCause::Remote);
}

#[tokio::test(start_paused = true)]
async fn the_paused_clock_moves_the_deadlines() {
    let (a, _silent) = tokio::io::duplex(4096);
    let config = ProtocolConfig::default().handshake_timeout(Duration::from_secs(3));
    let start = Instant::now();
    let result = wscore_tokio::accept_with(a, config, |_| Ok(Accept::new())).await;
    assert!(matches!(
        result,
        Err(Error::Timeout(TimeoutKind::Handshake))
    ));
    assert_eq!(start.elapsed(), Duration::from_secs(3));
}

/// Tokio's timer, armed for the handshake and moved for the keepalive
/// rounds, over a real socket and real time: only lower bounds are
/// asserted (the exact instants are the driver's tests, on its manual
/// clock).
#[tokio::test]
async fn tokio_timers_end_a_silent_tcp_peer() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = ProtocolConfig::default().keepalive(Some(Keepalive {
        interval: Duration::from_millis(100),
        timeout: Duration::from_millis(100),
    }));
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut ws = wscore_tokio::accept_with(stream, config, |_| Ok(Accept::new()))
            .await
            .unwrap();
        let start = Instant::now();
        let end = ws.next().await;
        (end, start.elapsed())
    });
    let (ws, _) = wscore_tokio::connect(&format!("ws://{addr}/"))
        .await
        .unwrap();
    // The client stays connected but is never polled: no pong comes back.
    let (end, elapsed) = server.await.unwrap();
    assert!(matches!(
        end,
        Some(Err(Error::Timeout(TimeoutKind::Keepalive)))
    ));
    assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
    drop(ws);

    // A TCP peer that never sends its request.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let _silent = TcpStream::connect(addr).await.unwrap();
    let (stream, _) = listener.accept().await.unwrap();
    let config = ProtocolConfig::default().handshake_timeout(Duration::from_millis(100));
    let start = Instant::now();
    let result = wscore_tokio::accept_with(stream, config, |_| Ok(Accept::new())).await;
    assert!(matches!(
        result,
        Err(Error::Timeout(TimeoutKind::Handshake))
    ));
    assert!(start.elapsed() >= Duration::from_millis(100));
}

/// Large frames whose bytes trickle in: most of each is read into the room
/// the core sets aside for it, across many reads that find nothing in
/// between, with small messages around them.
#[tokio::test]
async fn large_messages_arrive_whole_through_a_narrow_pipe() {
    let (a, b) = tokio::io::duplex(3_000);
    let server = tokio::spawn(async move {
        let mut ws = wscore_tokio::accept(b).await.unwrap();
        let mut received = Vec::new();
        while let Some(message) = ws.next().await {
            received.push(message.unwrap());
        }
        received
    });
    let request = wscore::ClientRequest::new("localhost", "/");
    let (mut ws, _) = wscore_tokio::client(a, request, ProtocolConfig::default())
        .await
        .unwrap();
    let messages = vec![
        Message::binary((0..300_000u32).map(|i| (i % 251) as u8).collect::<Vec<_>>()),
        Message::text("tiny"),
        Message::text("zoë · 5 € · ".repeat(20_000)),
        Message::binary(
            (0..(1 << 20) + 1)
                .map(|i: u32| (i % 241) as u8)
                .collect::<Vec<_>>(),
        ),
        Message::binary(vec![9u8; 70_000]),
    ];
    for message in &messages {
        ws.send(message.clone()).await.unwrap();
    }
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    assert!(ws.next().await.is_none());
    assert_eq!(server.await.unwrap(), messages);
}
