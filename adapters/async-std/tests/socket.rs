//! The futures-io socket over what only `async-io` supplies: loopback TCP
//! (on async-std) and `async-io`'s timer, including a run on a plain
//! `futures` executor to show that no particular runtime is needed. The
//! socket's behaviour itself (close handshakes, deadlines, back-pressure,
//! split halves, errors) is tested once for every runtime in
//! `wscore-driver`'s `tests/socket.rs`.

use std::time::{Duration, Instant};

use async_std::net::{TcpListener, TcpStream};
use futures::StreamExt;
use wscore::{Config as ProtocolConfig, Keepalive};
use wscore_async_std::{Accept, CloseCause, CloseCode, Error, Message, TimeoutKind};

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

/// `async-io`'s timer, armed for the handshake and moved for the
/// keepalive rounds, over a real socket and real time: only lower bounds
/// are asserted (the exact instants are the driver's tests, on its manual
/// clock).
#[async_std::test]
async fn async_io_timers_end_a_silent_tcp_peer() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = ProtocolConfig::default().keepalive(Some(Keepalive {
        interval: Duration::from_millis(100),
        timeout: Duration::from_millis(100),
    }));
    let server = async_std::task::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut ws = wscore_async_std::accept_with(stream, config, |_| Ok(Accept::new()))
            .await
            .unwrap();
        // Real time here: the test reads the clock itself.
        #[allow(clippy::disallowed_methods)]
        let start = Instant::now();
        let end = ws.next().await;
        (end, start.elapsed())
    });
    let (ws, _) = wscore_async_std::connect(&format!("ws://{addr}/"))
        .await
        .unwrap();
    // The client stays connected but is never polled: no pong comes back.
    let (end, elapsed) = server.await;
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
    #[allow(clippy::disallowed_methods)]
    let start = Instant::now();
    let result = wscore_async_std::accept_with(stream, config, |_| Ok(Accept::new())).await;
    assert!(matches!(
        result,
        Err(Error::Timeout(TimeoutKind::Handshake))
    ));
    assert!(start.elapsed() >= Duration::from_millis(100));
}

/// No async-std runtime here: `async-io`'s timer and reactor drive the
/// sockets and the deadlines under any executor.
#[test]
fn runs_on_a_plain_futures_executor() {
    futures::executor::block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = async {
            let (stream, _) = listener.accept().await.unwrap();
            wscore_async_std::accept(stream).await.unwrap()
        };
        let client = async {
            let stream = TcpStream::connect(addr).await.unwrap();
            let config = ProtocolConfig::default().close_timeout(Duration::from_millis(100));
            let request = wscore_async_std::ClientRequest::new("localhost", "/");
            wscore_async_std::client(stream, request, config)
                .await
                .unwrap()
                .0
        };
        // The server is never polled again: it answers no close frame.
        let (_silent, mut client) = futures::join!(server, client);
        client.send(Message::text("hi")).await.unwrap();
        client.close(CloseCode::NORMAL, "").await.unwrap();
        assert_eq!(
            client.closed().unwrap().cause,
            CloseCause::Timeout(TimeoutKind::Close)
        );
    });
}
