//! What the engine does beyond whole messages, through the tokio socket
//! over an in-memory duplex: incremental pieces, streams in both
//! directions, stream failures that leave the socket open, sending from a
//! reader, automatic answers on a live socket.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use tokio::io::DuplexStream;
use wscore::{
    AbortCode, Config as ProtocolConfig, MessageKind, ReceiveMode, SendError, StreamConfig,
    Subprotocol,
};
use wscore_tokio::{
    Accept, ClientRequest, Config, Direction, Error, Event, Message, StreamError, StreamEvent,
    WebSocket,
};

type Ws = WebSocket<DuplexStream>;

const STREAMED: &str = "files.v1";

fn streamed() -> ProtocolConfig {
    ProtocolConfig::default().subprotocols(vec![Subprotocol::streamed(STREAMED)])
}

/// A server and a client over a duplex of `capacity` bytes; the client
/// offers the streamed subprotocol, which a streamed server config takes.
async fn pair(capacity: usize, server: Config, client: Config) -> (Ws, Ws) {
    let (a, b) = tokio::io::duplex(capacity);
    let request = ClientRequest::new("localhost", "/").subprotocol(STREAMED);
    let (server, client) = tokio::join!(
        wscore_tokio::accept_with(a, server, |_| Ok(Accept::new())),
        wscore_tokio::client(b, request, client),
    );
    (server.unwrap(), client.unwrap().0)
}

/// `future`, or a failure after 10 s: an answer that is never written
/// fails the test instead of hanging it.
async fn within<F: std::future::Future>(future: F) -> F::Output {
    tokio::time::timeout(std::time::Duration::from_secs(10), future)
        .await
        .expect("no answer within 10 s")
}

fn pattern(len: usize) -> Bytes {
    (0..len).map(|i| (i % 251) as u8).collect::<Vec<_>>().into()
}

async fn next_event(ws: &mut Ws) -> Event {
    ws.next_event().await.unwrap().unwrap()
}

/// The events of one inbound stream, from `Started` to its end: the
/// metadata, the announced length, the bytes, and the failure if any.
async fn take_stream(ws: &mut Ws) -> (Bytes, u64, BytesMut, Option<StreamError>, usize) {
    let Event::Stream(StreamEvent::Started {
        id,
        total_len,
        metadata,
    }) = next_event(ws).await
    else {
        panic!("expected a stream to start");
    };
    let mut data = BytesMut::new();
    let mut pieces = 0;
    loop {
        match next_event(ws).await {
            Event::Stream(StreamEvent::Data {
                id: of,
                data: piece,
            }) => {
                assert_eq!(of, id);
                data.extend_from_slice(&piece);
                pieces += 1;
            }
            Event::Stream(StreamEvent::Finished { id: of }) => {
                assert_eq!(of, id);
                return (metadata, total_len, data, None, pieces);
            }
            Event::Stream(StreamEvent::Failed {
                id: of,
                direction,
                error,
            }) => {
                assert_eq!((of, direction), (id, Direction::Inbound));
                return (metadata, total_len, data, Some(error), pieces);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn incremental_mode_hands_out_pieces_and_the_message_api_assembles() {
    let incremental =
        Config::from(ProtocolConfig::default().receive_mode(ReceiveMode::Incremental));
    let (mut server, mut client) = pair(64 << 10, incremental, Config::default()).await;
    let big = pattern(1 << 20);
    let text = "é".repeat(100_000);
    let sender = tokio::spawn(async move {
        client.send(Message::binary(big.clone())).await.unwrap();
        client.send(Message::text(text.clone())).await.unwrap();
        client.send(Message::binary(big)).await.unwrap();
        client
    });

    assert_eq!(
        next_event(&mut server).await,
        Event::MessageStart(MessageKind::Binary)
    );
    let mut received = BytesMut::new();
    let mut pieces = 0;
    loop {
        match next_event(&mut server).await {
            Event::MessageData(piece) => {
                received.extend_from_slice(&piece);
                pieces += 1;
            }
            Event::MessageEnd => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(received.freeze(), pattern(1 << 20));
    assert!(pieces > 1, "a 1 MiB message in {pieces} piece");
    // The message API on the same socket: whole messages.
    assert_eq!(
        server.next().await.unwrap().unwrap(),
        Message::text("é".repeat(100_000))
    );
    assert_eq!(
        server.next().await.unwrap().unwrap(),
        Message::binary(pattern(1 << 20))
    );
    drop(sender.await.unwrap());
}

#[tokio::test]
async fn streams_arrive_piece_by_piece_with_their_metadata() {
    let incremental = Config::from(streamed().receive_mode(ReceiveMode::Incremental));
    let (mut server, mut client) = pair(64 << 10, Config::from(streamed()), incremental).await;
    let payload = pattern(3 << 20);
    let sending = payload.clone();
    let sender = tokio::spawn(async move {
        let id = server.send_stream(sending, "report.csv").await.unwrap();
        server.send(Message::text("after")).await.unwrap();
        (server, id)
    });
    let (metadata, total_len, data, failure, pieces) = take_stream(&mut client).await;
    assert_eq!(failure, None);
    assert_eq!(metadata, Bytes::from_static(b"report.csv"));
    assert_eq!(total_len, 3 << 20);
    assert_eq!(data.freeze(), payload);
    assert!(pieces >= 12, "3 MiB in {pieces} pieces of at most a chunk");
    assert_eq!(
        client.next().await.unwrap().unwrap(),
        Message::text("after")
    );

    // The message API of an incremental socket gathers a stream into one
    // binary message.
    let (mut server, _) = sender.await.unwrap();
    let (sent, received) = tokio::join!(server.send_stream(pattern(1 << 20), "b"), client.next());
    sent.unwrap();
    assert_eq!(
        received.unwrap().unwrap(),
        Message::binary(pattern(1 << 20))
    );
}

#[tokio::test]
async fn a_refused_stream_is_reported_at_both_ends_and_the_socket_keeps_working() {
    let small = streamed().stream(StreamConfig::default().max_stream_size(1 << 20));
    let (server, mut client) = pair(64 << 10, Config::from(streamed()), small.into()).await;
    let (mut read, mut write) = server.split();
    let sender = tokio::spawn(async move {
        write.send_stream(pattern(2 << 20), "").await.unwrap();
        write
    });
    // The receiver sees the refusal (whole mode: no pieces, only the end).
    let Event::Stream(StreamEvent::Failed {
        direction, error, ..
    }) = next_event(&mut client).await
    else {
        panic!("expected the stream to fail");
    };
    assert_eq!(
        (direction, error),
        (Direction::Inbound, StreamError::TooLarge)
    );
    // The sender hears of it as an outbound failure.
    // The refusal is written as soon as the receiver has taken the event,
    // not when it next sends.
    let Event::Stream(refused) = within(read.next_event()).await.unwrap().unwrap() else {
        panic!("expected a stream event");
    };
    let StreamEvent::Failed {
        direction,
        error: StreamError::Aborted { code, .. },
        ..
    } = refused
    else {
        panic!("expected an outbound failure, got {refused:?}");
    };
    assert_eq!((direction, code), (Direction::Outbound, AbortCode::LIMIT));
    // Both directions still carry messages. The client reads meanwhile:
    // chunks the sender had under way when the refusal came still arrive
    // (and are dropped).
    let receiver = tokio::spawn(async move {
        let message = client.next().await.unwrap().unwrap();
        (client, message)
    });
    let mut write = sender.await.unwrap();
    write.send(Message::text("still here")).await.unwrap();
    let (mut client, message) = receiver.await.unwrap();
    assert_eq!(message, Message::text("still here"));
    client.send(Message::text("me too")).await.unwrap();
    assert_eq!(read.next().await.unwrap().unwrap(), Message::text("me too"));
}

#[tokio::test]
async fn an_aborted_stream_is_reported_and_the_socket_keeps_working() {
    let incremental = Config::from(streamed().receive_mode(ReceiveMode::Incremental));
    let (mut server, mut client) = pair(1 << 20, Config::from(streamed()), incremental).await;
    let id = server.open_stream(1 << 20, "partial").unwrap();
    server.push_stream(id, pattern(100_000)).await.unwrap();
    server.flush().await.unwrap();
    server.abort_stream(id, "changed my mind").await.unwrap();
    // Pushing to it now is refused; the socket is unharmed.
    assert!(matches!(
        server.push_stream(id, pattern(10)).await,
        Err(Error::Send(SendError::UnknownStream(_)))
    ));
    server.send(Message::text("next")).await.unwrap();

    let (metadata, total_len, data, failure, _) = take_stream(&mut client).await;
    assert_eq!((metadata.as_ref(), total_len), (&b"partial"[..], 1 << 20));
    assert_eq!(data.freeze(), pattern(100_000));
    assert_eq!(
        failure,
        Some(StreamError::Aborted {
            code: AbortCode::CANCELLED,
            reason: "changed my mind".into()
        })
    );
    assert_eq!(client.next().await.unwrap().unwrap(), Message::text("next"));
}

/// A reader of `len` pattern bytes that gives at most `step` per read and
/// fails after `fail_at` bytes, if set.
struct PatternReader {
    at: usize,
    len: usize,
    step: usize,
    fail_at: Option<usize>,
}

impl futures::io::AsyncRead for PatternReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if self.fail_at.is_some_and(|at| self.at >= at) {
            return Poll::Ready(Err(io::Error::other("disk on fire")));
        }
        let n = buf.len().min(self.step).min(self.len - self.at);
        for (i, byte) in buf[..n].iter_mut().enumerate() {
            *byte = ((self.at + i) % 251) as u8;
        }
        self.at += n;
        Poll::Ready(Ok(n))
    }
}

#[tokio::test]
async fn a_stream_sent_from_a_reader_arrives_whole_and_a_failing_reader_aborts_only_its_stream() {
    let (server, mut client) =
        pair(64 << 10, Config::from(streamed()), Config::from(streamed())).await;
    let (read, mut write) = server.split();
    let reader = PatternReader {
        at: 0,
        len: 5 << 20,
        step: 100_000,
        fail_at: None,
    };
    let sender = tokio::spawn(async move {
        let id = write
            .send_stream_from_reader(reader, 5 << 20, "from a reader")
            .await
            .unwrap();
        (write, id)
    });
    assert_eq!(
        client.next().await.unwrap().unwrap(),
        Message::binary(pattern(5 << 20))
    );
    let (mut write, _) = sender.await.unwrap();

    // The receiver reads while the sender's sources fail.
    let receiver = tokio::spawn(async move {
        let mut events = Vec::new();
        while let Some(event) = client.next_event().await {
            let event = event.unwrap();
            let last = event == Event::Message(Message::text("after"));
            events.push(event);
            if last {
                break;
            }
        }
        (client, events)
    });
    let failing = PatternReader {
        at: 0,
        len: 1 << 20,
        step: 50_000,
        fail_at: Some(300_000),
    };
    let sent = write.send_stream_from_reader(failing, 1 << 20, "").await;
    assert!(matches!(sent, Err(Error::Io(ref e)) if e.to_string() == "disk on fire"));
    // A reader that ends early fails the same way.
    let short = PatternReader {
        at: 0,
        len: 1000,
        step: 1000,
        fail_at: None,
    };
    let sent = write.send_stream_from_reader(short, 2000, "").await;
    assert!(matches!(sent, Err(Error::Io(ref e)) if e.kind() == io::ErrorKind::UnexpectedEof));
    write.send(Message::text("after")).await.unwrap();
    // The receiver sees the stream that was under way fail (the short one
    // never went out: its peer never hears of it), then the message.
    let (mut client, events) = receiver.await.unwrap();
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(
        matches!(
            &events[0],
            Event::Stream(StreamEvent::Failed {
                direction: Direction::Inbound,
                error: StreamError::Aborted { .. },
                ..
            })
        ),
        "{events:?}"
    );
    // And so does a stream of pieces.
    let pieces = futures::stream::iter((0..4).map(|_| Ok(pattern(1000))));
    write
        .send_stream_from_pieces(pieces, 4000, "pieces")
        .await
        .unwrap();
    let mut expected = BytesMut::new();
    for _ in 0..4 {
        expected.extend_from_slice(&pattern(1000));
    }
    assert_eq!(
        client.next().await.unwrap().unwrap(),
        Message::binary(expected.freeze())
    );
    drop(read);
}

#[tokio::test]
async fn automatic_answers_change_on_a_live_socket() {
    let (mut server, mut client) = pair(64 << 10, Config::default(), Config::default()).await;
    client.send(Message::text("ping?")).await.unwrap();
    assert_eq!(
        server.next().await.unwrap().unwrap(),
        Message::text("ping?")
    );

    server.set_auto_response(Message::text("ping?"), Message::text("pong!"));
    client.send(Message::text("ping?")).await.unwrap();
    client.send(Message::text("hello")).await.unwrap();
    // Answered without reaching the application.
    assert_eq!(
        server.next().await.unwrap().unwrap(),
        Message::text("hello")
    );
    // Written without the server sending anything itself.
    assert_eq!(
        within(client.next()).await.unwrap().unwrap(),
        Message::text("pong!")
    );

    // Removed again: the request reaches the application.
    server.set_auto_response(Message::text("ping?"), Message::text(""));
    client.send(Message::text("ping?")).await.unwrap();
    assert_eq!(
        server.next().await.unwrap().unwrap(),
        Message::text("ping?")
    );

    // On a split socket, either half sets it.
    let (mut read, write) = server.split();
    write.set_auto_response(Message::binary(vec![1]), Message::binary(vec![2]));
    client.send(Message::binary(vec![1])).await.unwrap();
    client.send(Message::text("done")).await.unwrap();
    assert_eq!(read.next().await.unwrap().unwrap(), Message::text("done"));
    assert_eq!(
        client.next().await.unwrap().unwrap(),
        Message::binary(vec![2])
    );
}

#[tokio::test]
async fn events_carry_pings_pongs_and_the_close_frame() {
    let (mut server, mut client) = pair(64 << 10, Config::default(), Config::default()).await;
    let client = tokio::spawn(async move {
        client.ping(&b"are you there"[..]).await.unwrap();
        client.pong(&b"heartbeat"[..]).await.unwrap();
        client
            .close(wscore_tokio::CloseCode::NORMAL, "bye")
            .await
            .unwrap();
        client
    });
    let events: Vec<_> = server.events().map(Result::unwrap).collect().await;
    assert_eq!(
        events,
        vec![
            Event::Ping(Bytes::from_static(b"are you there")),
            Event::Pong(Bytes::from_static(b"heartbeat")),
            Event::CloseReceived(wscore_tokio::CloseFrame::new(
                wscore_tokio::CloseCode::NORMAL,
                "bye"
            )),
        ]
    );
    let client = client.await.unwrap();
    assert_eq!(
        client.closed().unwrap().cause,
        wscore_tokio::CloseCause::Local
    );
}

#[tokio::test]
async fn the_end_of_input_closes_with_1006_after_what_came_before() {
    let incremental = Config::from(streamed().receive_mode(ReceiveMode::Incremental));
    let (mut server, mut client) = pair(1 << 20, incremental, Config::from(streamed())).await;
    client.send(Message::text("last words")).await.unwrap();
    let id = client.open_stream(1 << 20, "cut short").unwrap();
    client.push_stream(id, pattern(1000)).await.unwrap();
    client.flush().await.unwrap();
    // The client goes away without a close handshake.
    drop(client);

    let mut events = Vec::new();
    let end = loop {
        match server.next_event().await {
            Some(Ok(event)) => events.push(event),
            Some(Err(e)) => break e,
            None => panic!("the end must be reported"),
        }
    };
    assert_eq!(
        events,
        vec![
            Event::MessageStart(MessageKind::Text),
            Event::MessageData(Bytes::from_static(b"last words")),
            Event::MessageEnd,
            Event::Stream(StreamEvent::Started {
                id,
                total_len: 1 << 20,
                metadata: Bytes::from_static(b"cut short"),
            }),
            Event::Stream(StreamEvent::Data {
                id,
                data: pattern(1000),
            }),
            Event::Stream(StreamEvent::Failed {
                id,
                direction: Direction::Inbound,
                error: StreamError::ConnectionClosed,
            }),
        ]
    );
    assert!(matches!(end, Error::Io(ref e) if e.kind() == io::ErrorKind::UnexpectedEof));
    let closed = server.closed().unwrap();
    assert_eq!(closed.code, wscore_tokio::CloseCode::ABNORMAL);
    assert_eq!(closed.cause, wscore_tokio::CloseCause::Eof);
    assert!(server.next_event().await.is_none());
}

#[tokio::test]
async fn the_message_api_counts_the_streams_it_cannot_deliver() {
    let small = streamed().stream(StreamConfig::default().max_stream_size(1 << 20));
    let (server, mut client) = pair(64 << 10, Config::from(streamed()), small.into()).await;
    let (mut read, mut write) = server.split();
    let sender = tokio::spawn(async move {
        write.send_stream(pattern(2 << 20), "").await.unwrap();
        write.send(Message::text("after")).await.unwrap();
        write
    });
    // The refused stream is no message: the reader of messages gets the
    // next one, and the count says a stream went by.
    assert_eq!(client.undelivered_streams(), 0);
    let message = within(client.next()).await.unwrap().unwrap();
    assert_eq!(message, Message::text("after"));
    assert_eq!(client.undelivered_streams(), 1);
    // The sender, reading messages too, learns of the refusal the same way.
    client.send(Message::text("reply")).await.unwrap();
    let reply = within(read.next()).await.unwrap().unwrap();
    assert_eq!(reply, Message::text("reply"));
    assert_eq!(read.undelivered_streams(), 1);
    drop(sender.await.unwrap());
}
