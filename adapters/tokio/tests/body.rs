//! The body of one incoming stream or message as a `Stream` of `Bytes` and
//! an `AsyncRead`, through the tokio socket over an in-memory duplex: the
//! tokio and futures copy routes, failures that leave the socket open,
//! events that arrive meanwhile handed out afterwards, the side budget, and
//! a body dropped halfway.

use std::io;

use bytes::{Bytes, BytesMut};
use futures::{AsyncReadExt, StreamExt, TryStreamExt};
use tokio::io::DuplexStream;
use tokio_util::io::StreamReader;
use wscore::{Config as ProtocolConfig, MessageKind, ReceiveMode, StreamConfig, Subprotocol};
use wscore_tokio::{
    Accept, BodyError, ClientRequest, Config, Direction, Error, Event, Message, StreamError,
    StreamEvent, StreamId, WebSocket,
};

type Ws = WebSocket<DuplexStream>;

const STREAMED: &str = "files.v1";

fn streamed() -> ProtocolConfig {
    ProtocolConfig::default().subprotocols(vec![Subprotocol::streamed(STREAMED)])
}

fn incremental() -> Config {
    Config::from(streamed().receive_mode(ReceiveMode::Incremental))
}

/// A server (the sender) and a client (the receiver, incremental) over a
/// duplex of `capacity` bytes.
async fn pair(capacity: usize, client: Config) -> (Ws, Ws) {
    let (a, b) = tokio::io::duplex(capacity);
    let request = ClientRequest::new("localhost", "/").subprotocol(STREAMED);
    let (server, client) = tokio::join!(
        wscore_tokio::accept_with(a, Config::from(streamed()), |_| Ok(Accept::new())),
        wscore_tokio::client(b, request, client),
    );
    (server.unwrap(), client.unwrap().0)
}

/// A pair without the streamed envelope, where a large message stays a
/// message; the client receives incrementally.
async fn plain_pair(capacity: usize) -> (Ws, Ws) {
    let (a, b) = tokio::io::duplex(capacity);
    let request = ClientRequest::new("localhost", "/");
    let client = Config::from(ProtocolConfig::default().receive_mode(ReceiveMode::Incremental));
    let (server, client) = tokio::join!(
        wscore_tokio::accept(a),
        wscore_tokio::client(b, request, client),
    );
    (server.unwrap(), client.unwrap().0)
}

/// `future`, or a failure after 10 s.
async fn within<F: std::future::Future>(future: F) -> F::Output {
    tokio::time::timeout(std::time::Duration::from_secs(10), future)
        .await
        .expect("no answer within 10 s")
}

fn pattern(len: usize) -> Bytes {
    (0..len).map(|i| (i % 251) as u8).collect::<Vec<_>>().into()
}

async fn next_event(ws: &mut Ws) -> Event {
    within(ws.next_event()).await.unwrap().unwrap()
}

/// The id of the stream whose start is the next event.
async fn started(ws: &mut Ws) -> (StreamId, u64, Bytes) {
    match next_event(ws).await {
        Event::Stream(StreamEvent::Started {
            id,
            total_len,
            metadata,
        }) => (id, total_len, metadata),
        other => panic!("expected a stream to start, got {other:?}"),
    }
}

/// Events with consecutive pieces of one message or stream joined, so a
/// sequence can be compared whatever the read windows were.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Message(MessageKind, Bytes),
    Stream(StreamId, Bytes, Bytes, Result<(), StreamError>),
    Ping(Bytes),
}

/// Takes events from `events` until `count` things have been seen.
async fn seen(
    mut next: impl FnMut() -> futures::future::BoxFuture<'static, Event>,
    count: usize,
) -> Vec<Seen> {
    let mut out = Vec::new();
    let mut message: Option<(MessageKind, BytesMut)> = None;
    let mut streams: Vec<(StreamId, Bytes, BytesMut)> = Vec::new();
    while out.len() < count {
        match next().await {
            Event::MessageStart(kind) => message = Some((kind, BytesMut::new())),
            Event::MessageData(data) => message.as_mut().unwrap().1.extend_from_slice(&data),
            Event::MessageEnd => {
                let (kind, data) = message.take().unwrap();
                out.push(Seen::Message(kind, data.freeze()));
            }
            Event::Ping(payload) => out.push(Seen::Ping(payload)),
            Event::Stream(StreamEvent::Started { id, metadata, .. }) => {
                streams.push((id, metadata, BytesMut::new()));
            }
            Event::Stream(StreamEvent::Data { id, data }) => {
                let at = streams.iter().position(|s| s.0 == id).unwrap();
                streams[at].2.extend_from_slice(&data);
            }
            Event::Stream(StreamEvent::Finished { id }) => {
                let at = streams.iter().position(|s| s.0 == id).unwrap();
                let (id, metadata, data) = streams.remove(at);
                out.push(Seen::Stream(id, metadata, data.freeze(), Ok(())));
            }
            Event::Stream(StreamEvent::Failed {
                id,
                direction: Direction::Inbound,
                error,
            }) => {
                let at = streams.iter().position(|s| s.0 == id).unwrap();
                let (id, metadata, data) = streams.remove(at);
                out.push(Seen::Stream(id, metadata, data.freeze(), Err(error)));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    out
}

#[tokio::test]
async fn a_stream_body_is_copied_with_tokio_io() {
    let (mut server, mut client) = pair(64 << 10, incremental()).await;
    let payload = pattern(3 << 20);
    let sent = payload.clone();
    let sending = tokio::spawn(async move {
        server.send_stream(sent, "a.bin").await.unwrap();
        server.send(Message::text("after")).await.unwrap();
        server
    });
    let (id, total_len, metadata) = started(&mut client).await;
    assert_eq!((total_len, metadata.as_ref()), (3 << 20, &b"a.bin"[..]));

    let path = std::env::temp_dir().join(format!("wscore-body-{}.bin", std::process::id()));
    let mut file = tokio::fs::File::create(&path).await.unwrap();
    let mut body = StreamReader::new(client.stream_body(id));
    let copied = within(tokio::io::copy(&mut body, &mut file)).await.unwrap();
    drop(body);
    drop(file);
    assert_eq!(copied, 3 << 20);
    let written = tokio::fs::read(&path).await.unwrap();
    let _ = tokio::fs::remove_file(&path).await;
    assert!(written == payload, "the file differs from the stream");

    // The socket goes on with what follows the stream.
    assert_eq!(
        within(client.recv()).await.unwrap().unwrap(),
        Message::text("after")
    );
    drop(sending.await.unwrap());
}

#[tokio::test]
async fn a_large_incremental_message_through_message_body() {
    let (mut server, mut client) = plain_pair(64 << 10).await;
    let first = pattern(2 << 20);
    let second = pattern(1 << 20).slice(7..);
    let (a, b) = (first.clone(), second.clone());
    let sending = tokio::spawn(async move {
        server.send(Message::binary(a)).await.unwrap();
        server.send(Message::binary(b)).await.unwrap();
        server
    });

    // As a stream of pieces: more than one, in order.
    assert_eq!(
        next_event(&mut client).await,
        Event::MessageStart(MessageKind::Binary)
    );
    let pieces: Vec<Bytes> = within(client.message_body().try_collect()).await.unwrap();
    assert!(pieces.len() > 1, "one piece: not incremental");
    assert!(pieces.concat() == first, "the first message differs");

    // As a futures `AsyncRead`, through `into_async_read`.
    assert_eq!(
        next_event(&mut client).await,
        Event::MessageStart(MessageKind::Binary)
    );
    let mut out = Vec::new();
    let mut reader = client.message_body().into_async_read();
    within(reader.read_to_end(&mut out)).await.unwrap();
    drop(reader);
    assert!(out == second, "the second message differs");

    drop(sending.await.unwrap());
}

#[tokio::test]
async fn a_failed_body_yields_the_stream_error_and_the_socket_goes_on() {
    let (mut server, mut client) = pair(1 << 20, incremental()).await;
    let id = server.open_stream(1 << 20, "partial").unwrap();
    server.push_stream(id, pattern(100_000)).await.unwrap();
    server.flush().await.unwrap();
    server.abort_stream(id, "changed my mind").await.unwrap();
    server.send(Message::text("still here")).await.unwrap();

    let (id, _, _) = started(&mut client).await;
    let mut body = client.stream_body(id);
    let mut received = 0;
    let error = loop {
        match within(body.next()).await {
            Some(Ok(piece)) => received += piece.len(),
            Some(Err(error)) => break error,
            None => panic!("the body ended without its failure"),
        }
    };
    assert_eq!(received, 100_000);
    assert_eq!(error.kind(), io::ErrorKind::ConnectionAborted);
    let inner = error
        .get_ref()
        .and_then(|e| e.downcast_ref::<StreamError>());
    assert!(
        matches!(inner, Some(StreamError::Aborted { reason, .. }) if reason == "changed my mind"),
        "{error:?}"
    );
    // One error, then the end.
    assert!(body.next().await.is_none());
    drop(body);

    assert_eq!(
        within(client.recv()).await.unwrap().unwrap(),
        Message::text("still here")
    );
}

#[tokio::test]
async fn a_body_cut_short_by_the_connection_fails_and_the_end_follows() {
    let (mut server, mut client) = pair(1 << 20, incremental()).await;
    let id = server.open_stream(1 << 20, "cut").unwrap();
    server.push_stream(id, pattern(1000)).await.unwrap();
    server.flush().await.unwrap();
    drop(server);

    let (id, _, _) = started(&mut client).await;
    let pieces: Vec<io::Result<Bytes>> = within(client.stream_body(id).collect()).await;
    let (last, data) = pieces.split_last().unwrap();
    assert_eq!(
        data.iter()
            .map(|p| p.as_ref().unwrap().len())
            .sum::<usize>(),
        1000
    );
    let error = last.as_ref().unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
    assert_eq!(
        error
            .get_ref()
            .and_then(|e| e.downcast_ref::<StreamError>()),
        Some(&StreamError::ConnectionClosed)
    );
    // The connection's own end is still reported.
    assert!(matches!(
        within(client.next_event()).await,
        Some(Err(Error::Io(e))) if e.kind() == io::ErrorKind::UnexpectedEof
    ));
}

#[tokio::test]
async fn events_arriving_while_a_body_is_read_follow_in_order() {
    let (mut server, client) = pair(64 << 10, incremental()).await;
    let a = pattern(300_000);
    let b = pattern(50_000).slice(3..);
    let (sent_a, sent_b) = (a.clone(), b.clone());
    let sending = tokio::spawn(async move {
        let id = server.open_stream(300_000, "a").unwrap();
        server
            .push_stream(id, sent_a.slice(..100_000))
            .await
            .unwrap();
        server.flush().await.unwrap();
        server.send(Message::text("between")).await.unwrap();
        server.ping("p").await.unwrap();
        let b = server.send_stream(sent_b, "b").await.unwrap();
        server
            .push_stream(id, sent_a.slice(100_000..))
            .await
            .unwrap();
        server.flush().await.unwrap();
        server.send(Message::text("last")).await.unwrap();
        (server, b)
    });

    // Through a read half, which shares the socket's queue.
    let (mut reader, _writer) = client.split();
    let Some(Ok(Event::Stream(StreamEvent::Started { id, .. }))) =
        within(reader.next_event()).await
    else {
        panic!("expected stream a to start");
    };
    let body: Vec<Bytes> = within(reader.stream_body(id).try_collect()).await.unwrap();
    assert!(body.concat() == a, "stream a differs");
    let (_server, b_id) = sending.await.unwrap();

    let reader = std::sync::Arc::new(tokio::sync::Mutex::new(reader));
    let next = || {
        let reader = reader.clone();
        let event: futures::future::BoxFuture<'static, Event> = Box::pin(async move {
            within(reader.lock().await.next_event())
                .await
                .unwrap()
                .unwrap()
        });
        event
    };
    assert_eq!(
        seen(next, 4).await,
        vec![
            Seen::Message(MessageKind::Text, Bytes::from_static(b"between")),
            Seen::Ping(Bytes::from_static(b"p")),
            Seen::Stream(b_id, Bytes::from_static(b"b"), b, Ok(())),
            Seen::Message(MessageKind::Text, Bytes::from_static(b"last")),
        ]
    );
    assert_eq!(reader.lock().await.undelivered_streams(), 0);
}

/// Stream a read through a body while stream b, larger than the side
/// budget, arrives; then a message. Returns the sender, the receiver after
/// stream a, and the id of b.
async fn past_the_side_budget() -> (Ws, Ws, StreamId) {
    let budget = 64 << 10;
    let config = Config::from(
        streamed()
            .receive_mode(ReceiveMode::Incremental)
            .stream(StreamConfig::default().max_buffered(budget)),
    );
    let (mut server, mut client) = pair(64 << 10, config).await;
    let a = pattern(200_000);
    let sent_a = a.clone();
    let sending = tokio::spawn(async move {
        let id = server.open_stream(200_000, "a").unwrap();
        server
            .push_stream(id, sent_a.slice(..50_000))
            .await
            .unwrap();
        server.flush().await.unwrap();
        let b = server.send_stream(pattern(500_000), "b").await.unwrap();
        server
            .push_stream(id, sent_a.slice(50_000..))
            .await
            .unwrap();
        server.flush().await.unwrap();
        server.send(Message::text("end")).await.unwrap();
        (server, b)
    });

    let (id, _, _) = started(&mut client).await;
    let body: Vec<Bytes> = within(client.stream_body(id).try_collect()).await.unwrap();
    assert!(body.concat() == a, "stream a differs");
    let (server, b) = sending.await.unwrap();
    (server, client, b)
}

#[tokio::test]
async fn a_stream_past_the_side_budget_is_dropped_and_reported() {
    let (_server, mut client, b_id) = past_the_side_budget().await;
    // Stream b started while a was read and was dropped once its pieces
    // outgrew the budget: its start, then its failure, nothing between.
    let (id, _, metadata) = started(&mut client).await;
    assert_eq!((id, metadata.as_ref()), (b_id, &b"b"[..]));
    assert_eq!(
        next_event(&mut client).await,
        Event::Stream(StreamEvent::Failed {
            id: b_id,
            direction: Direction::Inbound,
            error: StreamError::BufferLimit,
        })
    );
    assert_eq!(client.undelivered_streams(), 1);
    assert_eq!(
        within(client.recv()).await.unwrap().unwrap(),
        Message::text("end")
    );
}

#[tokio::test]
async fn a_stream_dropped_from_the_side_queue_is_counted_once_by_the_message_api() {
    let (_server, mut client, _) = past_the_side_budget().await;
    // The message API passes over stream b's start and end.
    assert_eq!(
        within(client.recv()).await.unwrap().unwrap(),
        Message::text("end")
    );
    assert_eq!(client.undelivered_streams(), 1);
}

#[tokio::test]
async fn messages_past_the_side_budget_stop_the_body_and_lose_nothing() {
    let config = Config::from(
        streamed()
            .receive_mode(ReceiveMode::Incremental)
            .stream(StreamConfig::default().max_buffered(4 << 10)),
    );
    let (mut server, mut client) = pair(64 << 10, config).await;
    let a = pattern(100_000);
    let sent_a = a.clone();
    let sending = tokio::spawn(async move {
        let id = server.open_stream(100_000, "a").unwrap();
        server
            .push_stream(id, sent_a.slice(..10_000))
            .await
            .unwrap();
        server.flush().await.unwrap();
        for i in 0..10 {
            let text = format!("{i}").repeat(1000);
            server.send(Message::text(text)).await.unwrap();
        }
        server
            .push_stream(id, sent_a.slice(10_000..))
            .await
            .unwrap();
        server.flush().await.unwrap();
        server
    });

    let (id, _, _) = started(&mut client).await;
    let mut head = BytesMut::new();
    let error = {
        let mut body = client.stream_body(id);
        loop {
            match within(body.next()).await {
                Some(Ok(piece)) => head.extend_from_slice(&piece),
                Some(Err(error)) => break error,
                None => panic!("the body ended although the messages filled the budget"),
            }
        }
    };
    assert_eq!(error.kind(), io::ErrorKind::Other);
    assert_eq!(
        error.get_ref().and_then(|e| e.downcast_ref::<BodyError>()),
        Some(&BodyError::Interleaved)
    );

    // Every message, in order, then the rest of stream a.
    let mut texts = Vec::new();
    let mut rest = BytesMut::new();
    let mut text = BytesMut::new();
    loop {
        match next_event(&mut client).await {
            Event::MessageStart(MessageKind::Text) => text.clear(),
            Event::MessageData(data) => text.extend_from_slice(&data),
            Event::MessageEnd => texts.push(String::from_utf8(text.to_vec()).unwrap()),
            Event::Stream(StreamEvent::Data { id: of, data }) if of == id => {
                rest.extend_from_slice(&data)
            }
            Event::Stream(StreamEvent::Finished { id: of }) if of == id => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    let expected: Vec<String> = (0..10).map(|i| format!("{i}").repeat(1000)).collect();
    assert_eq!(texts, expected);
    assert!([&head[..], &rest[..]].concat() == a, "stream a differs");
    drop(within(sending).await.unwrap());
}

#[tokio::test]
async fn a_body_dropped_halfway_leaves_the_rest_to_next_event() {
    let (mut server, mut client) = pair(1 << 20, incremental()).await;
    let payload = pattern(300_000);
    server.send_stream(payload.clone(), "half").await.unwrap();

    let (id, _, _) = started(&mut client).await;
    let mut head = vec![0; 1000];
    {
        // Read part of the first piece, then drop the body.
        let mut body = client.stream_body(id);
        within(body.read_exact(&mut head)).await.unwrap();
    }
    let mut rest = BytesMut::new();
    loop {
        match next_event(&mut client).await {
            Event::Stream(StreamEvent::Data { id: of, data }) => {
                assert_eq!(of, id);
                rest.extend_from_slice(&data);
            }
            Event::Stream(StreamEvent::Finished { id: of }) => {
                assert_eq!(of, id);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(head.len() + rest.len(), payload.len());
    assert!([&head[..], &rest[..]].concat() == payload, "bytes lost");
}

#[tokio::test]
async fn a_body_of_nothing_in_progress_fails_at_once() {
    let (_server, mut client) = pair(1 << 10, incremental()).await;
    let message = client.message_body().next().await;
    let stream = client.stream_body(7).next().await;
    for error in [message, stream] {
        let error = error.unwrap().unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(
            error.get_ref().and_then(|e| e.downcast_ref::<BodyError>()),
            Some(&BodyError::NotInProgress)
        );
    }
}
