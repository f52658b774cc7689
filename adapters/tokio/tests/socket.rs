//! End-to-end behaviour of the tokio socket: over loopback TCP and over an
//! in-memory duplex, both roles, with tokio's paused clock where deadlines
//! are involved.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::net::TcpListener;
use tokio::time::Instant;
use wscore::{Config as ProtocolConfig, HandshakeError, Keepalive, ProtocolError};
use wscore_tokio::{
    Accept, ClientRequest, CloseCause, CloseCode, Config, Error, Message, Reject, TimeoutKind,
    WebSocket,
};

type Ws = WebSocket<DuplexStream>;

/// A server and a client joined by an in-memory duplex of `capacity` bytes.
async fn duplex_pair(capacity: usize, server: Config, client: Config) -> (Ws, Ws) {
    let (a, b) = tokio::io::duplex(capacity);
    let request = ClientRequest::new("localhost", "/");
    let (server, client) = tokio::join!(
        wscore_tokio::accept_with(a, server, |_| Ok(Accept::new())),
        wscore_tokio::client(b, request, client),
    );
    (server.unwrap(), client.unwrap().0)
}

fn keepalive(interval: u64, timeout: u64) -> Config {
    ProtocolConfig::default()
        .keepalive(Some(Keepalive {
            interval: Duration::from_secs(interval),
            timeout: Duration::from_secs(timeout),
        }))
        .into()
}

/// Echoes until the end; returns how many messages it echoed.
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

#[tokio::test]
async fn duplex_echo_round_trip_through_sink_and_stream() {
    // Room for every echo: the client reads only after writing them all.
    let (server, mut client) = duplex_pair(1 << 20, Config::default(), Config::default()).await;
    let server = tokio::spawn(echo(server));
    // `feed` queues without flushing; one flush writes the batch.
    for message in sample_messages() {
        client.feed(message).await.unwrap();
    }
    client.flush().await.unwrap();
    for message in sample_messages() {
        assert_eq!(client.next().await.unwrap().unwrap(), message);
    }
    // `SinkExt::close` runs the close handshake with 1000.
    SinkExt::close(&mut client).await.unwrap();
    assert_eq!(client.closed().unwrap().code, CloseCode::NORMAL);
    assert_eq!(server.await.unwrap(), sample_messages().len());
}

#[tokio::test]
async fn callback_sees_the_request_and_chooses_a_subprotocol() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let ws = wscore_tokio::accept_with(stream, Config::default(), |request| {
            assert_eq!(request.path(), "/chat");
            assert_eq!(request.query(), Some("room=1"));
            assert_eq!(request.header("x-token"), Some(&b"secret"[..]));
            assert_eq!(request.subprotocols(), ["v1", "v2"]);
            Ok(Accept::new().subprotocol("v2"))
        })
        .await
        .unwrap();
        ws.subprotocol().map(String::from)
    });
    let request = ClientRequest::from_url(&format!("ws://{addr}/chat?room=1"))
        .unwrap()
        .subprotocol("v1")
        .subprotocol("v2")
        .header("X-Token", "secret");
    let (ws, response) = wscore_tokio::connect_with(request, Config::default())
        .await
        .unwrap();
    assert_eq!(ws.subprotocol(), Some("v2"));
    assert_eq!(response.subprotocol(), Some("v2"));
    assert_eq!(server.await.unwrap().as_deref(), Some("v2"));
}

#[tokio::test]
async fn callback_rejects_with_a_status() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        wscore_tokio::accept_with(stream, Config::default(), |_| {
            Err(Reject::new(403).body("go away"))
        })
        .await
    });
    let client = wscore_tokio::connect(&format!("ws://{addr}/")).await;
    assert!(matches!(
        client,
        Err(Error::Handshake(HandshakeError::Status(403)))
    ));
    assert!(matches!(server.await.unwrap(), Err(Error::Rejected(403))));
}

#[tokio::test]
async fn an_unoffered_subprotocol_is_answered_with_500() {
    let (a, b) = tokio::io::duplex(4096);
    let (server, client) = tokio::join!(
        wscore_tokio::accept_with(a, Config::default(), |_| {
            Ok(Accept::new().subprotocol("never-offered"))
        }),
        wscore_tokio::client(b, ClientRequest::new("localhost", "/"), Config::default()),
    );
    assert!(matches!(server, Err(Error::Send(_))));
    assert!(matches!(
        client,
        Err(Error::Handshake(HandshakeError::Status(500)))
    ));
}

#[tokio::test(start_paused = true)]
async fn keepalive_ends_a_connection_whose_peer_stopped_answering() {
    let (mut server, _silent_client) =
        duplex_pair(1 << 16, keepalive(5, 2), Config::default()).await;
    let start = Instant::now();
    let end = server.next().await;
    assert!(matches!(
        end,
        Some(Err(Error::Timeout(TimeoutKind::Keepalive)))
    ));
    assert_eq!(start.elapsed(), Duration::from_secs(7));
    assert!(server.next().await.is_none());
}

#[tokio::test(start_paused = true)]
async fn keepalive_is_answered_by_a_peer_that_only_reads() {
    let (mut server, client) = duplex_pair(1 << 16, keepalive(5, 2), Config::default()).await;
    // The client's read half answers pings while its write half is idle.
    let (mut rx, _tx) = client.split();
    let reader = tokio::spawn(async move {
        let mut received = Vec::new();
        while let Some(message) = rx.next().await {
            received.push(message.unwrap());
        }
        received
    });
    // A minute of silence: pings every 5 s, each answered in time.
    let quiet = tokio::time::timeout(Duration::from_secs(60), server.next()).await;
    assert!(quiet.is_err(), "the connection ended: {quiet:?}");
    server.send(Message::text("still here")).await.unwrap();
    server.close(CloseCode::NORMAL, "").await.unwrap();
    assert_eq!(server.closed().unwrap().cause, CloseCause::Local);
    assert_eq!(reader.await.unwrap(), vec![Message::text("still here")]);
}

#[tokio::test(start_paused = true)]
async fn handshake_deadline() {
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

#[tokio::test(start_paused = true)]
async fn close_deadline_when_the_peer_never_answers() {
    let client_config = ProtocolConfig::default().close_timeout(Duration::from_secs(2));
    let (_silent_server, mut client) =
        duplex_pair(1 << 16, Config::default(), client_config.into()).await;
    let start = Instant::now();
    client.close(CloseCode::NORMAL, "").await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    assert_eq!(
        client.closed().unwrap().cause,
        CloseCause::Timeout(TimeoutKind::Close)
    );
    // The error is reported once by the stream, then it ends.
    assert!(matches!(
        client.next().await,
        Some(Err(Error::Timeout(TimeoutKind::Close)))
    ));
    assert!(client.next().await.is_none());
}

#[tokio::test]
async fn send_waits_for_a_slow_reader_and_memory_stays_bounded() {
    const LIMIT: usize = 64 << 10;
    const SIZE: usize = 4096;
    let server_config = Config::default().write_buffer_limit(LIMIT);
    let (mut server, mut client) = duplex_pair(16 << 10, server_config, Config::default()).await;
    let message = Message::binary(vec![1u8; SIZE]);
    let mut sent = 0;
    // The client does not read: queuing stops once the limit is reached.
    while tokio::time::timeout(Duration::from_millis(100), server.feed(message.clone()))
        .await
        .is_ok()
    {
        sent += 1;
        assert!(server.buffered_amount() <= LIMIT + 2 * SIZE);
        assert!(sent < 1000, "send never waited");
    }
    assert!(sent >= LIMIT / SIZE, "waited too early: {sent}");
    let reader = tokio::spawn(async move {
        let mut received = 0;
        while let Some(message) = client.next().await {
            assert_eq!(message.unwrap().len(), SIZE);
            received += 1;
        }
        received
    });
    // Everything queued goes out before the close frame.
    server.close(CloseCode::NORMAL, "").await.unwrap();
    assert_eq!(reader.await.unwrap(), sent);
}

#[tokio::test]
async fn split_halves_work_from_two_tasks() {
    let (server, client) = duplex_pair(4096, Config::default(), Config::default()).await;
    let server = tokio::spawn(echo(server));
    let (mut rx, mut tx) = client.split();
    const N: usize = 200;
    let writer = tokio::spawn(async move {
        for i in 0..N {
            tx.send(Message::text(i.to_string())).await.unwrap();
        }
        tx
    });
    let reader = tokio::spawn(async move {
        for i in 0..N {
            assert_eq!(
                rx.next().await.unwrap().unwrap(),
                Message::text(i.to_string())
            );
        }
        rx
    });
    let mut tx = writer.await.unwrap();
    let mut rx = reader.await.unwrap();
    let (closed, end) = tokio::join!(tx.close(CloseCode::NORMAL, ""), rx.next());
    closed.unwrap();
    assert!(end.is_none());
    assert_eq!(rx.closed().unwrap().cause, CloseCause::Local);
    assert_eq!(server.await.unwrap(), N);
}

#[tokio::test]
async fn read_half_receives_what_arrives_while_the_write_half_closes() {
    let (mut server, client) = duplex_pair(1 << 16, Config::default(), Config::default()).await;
    let (mut rx, mut tx) = client.split();
    let server = tokio::spawn(async move {
        // Wait for the client's close, sending meanwhile.
        for i in 0..3 {
            server
                .send(Message::text(format!("late {i}")))
                .await
                .unwrap();
        }
        assert!(server.next().await.is_none());
    });
    let collect = async {
        let mut received = Vec::new();
        while let Some(message) = rx.next().await {
            received.push(message.unwrap());
        }
        received
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    let (closed, received) = tokio::join!(tx.close(CloseCode::NORMAL, ""), collect);
    closed.unwrap();
    let expected: Vec<_> = (0..3).map(|i| Message::text(format!("late {i}"))).collect();
    assert_eq!(received, expected);
    server.await.unwrap();
}

#[tokio::test]
async fn a_message_sent_before_drop_is_delivered() {
    let (mut server, mut client) = duplex_pair(1 << 16, Config::default(), Config::default()).await;
    client.send(Message::text("last words")).await.unwrap();
    drop(client);
    assert_eq!(
        server.next().await.unwrap().unwrap(),
        Message::text("last words")
    );
    // No close handshake: the end is an error.
    match server.next().await {
        Some(Err(Error::Io(e))) => assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof),
        other => panic!("expected an unexpected EOF, got {other:?}"),
    }
    assert!(server.next().await.is_none());
}

#[tokio::test]
async fn protocol_error_sends_the_close_code_and_ends_the_stream() {
    let (a, mut raw) = tokio::io::duplex(4096);
    let server = tokio::spawn(async move {
        let mut ws = wscore_tokio::accept(a).await.unwrap();
        ws.next().await
    });
    raw.write_all(
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    // An unmasked text frame: clients must mask.
    raw.write_all(b"\x81\x02hi").await.unwrap();
    let end = server.await.unwrap();
    assert!(matches!(
        end,
        Some(Err(Error::Protocol(ProtocolError::UnmaskedFrame)))
    ));
    let mut reply = Vec::new();
    raw.read_to_end(&mut reply).await.unwrap();
    let frame_at = reply.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(reply.starts_with(b"HTTP/1.1 101"));
    // Close frame, code 1002 with a reason naming the error, and then the
    // transport was shut down.
    let reason = b"unmasked frame from a client";
    let mut close = vec![0x88, 2 + reason.len() as u8, 0x03, 0xea];
    close.extend_from_slice(reason);
    assert_eq!(&reply[frame_at..], &close[..]);
}

#[tokio::test]
async fn pings_are_answered_and_commands_after_close_fail() {
    let (mut server, mut client) = duplex_pair(1 << 16, Config::default(), Config::default()).await;
    client.ping("are you there").await.unwrap();
    client.pong("unsolicited").await.unwrap();
    client.send(Message::text("after the ping")).await.unwrap();
    let echo = tokio::spawn(async move {
        let first = server.next().await.unwrap().unwrap();
        server.send(first).await.unwrap();
        assert!(server.next().await.is_none());
    });
    assert_eq!(
        client.next().await.unwrap().unwrap(),
        Message::text("after the ping")
    );
    assert!(matches!(
        client.ping(vec![0u8; 126]).await,
        Err(Error::Send(_))
    ));
    client.close(CloseCode::NORMAL, "").await.unwrap();
    echo.await.unwrap();
    assert!(matches!(
        client.send(Message::text("too late")).await,
        Err(Error::Closed)
    ));
    // Closing twice is harmless.
    client.close(CloseCode::NORMAL, "").await.unwrap();
}

#[tokio::test]
async fn from_upgraded_speaks_frames_at_once() {
    let (a, b) = tokio::io::duplex(4096);
    let mut server =
        wscore_tokio::from_upgraded(a, wscore_tokio::Role::Server, Config::default()).unwrap();
    let mut client =
        wscore_tokio::from_upgraded(b, wscore_tokio::Role::Client, Config::default()).unwrap();
    client.send(Message::text("no handshake")).await.unwrap();
    assert_eq!(
        server.next().await.unwrap().unwrap(),
        Message::text("no handshake")
    );
}
