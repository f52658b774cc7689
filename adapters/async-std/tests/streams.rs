//! Streams and events through the futures-io socket over an in-memory
//! pipe: a stream sent from a reader and received piece by piece, a
//! stream's body read as a futures `AsyncRead`, and the end of input.

use std::io;

use bytes::BytesMut;
use futures::io::Cursor;
use wscore::{Config as ProtocolConfig, ReceiveMode, Subprotocol};
use wscore_async_std::{
    Accept, ClientRequest, CloseCause, CloseCode, Config, Error, Event, Message, StreamEvent,
    WebSocket,
};

use wscore_driver::testing::{pipe, PipeEnd};

type Ws = WebSocket<PipeEnd>;

async fn pair(server: Config, client: Config) -> (Ws, Ws) {
    let (a, b) = pipe(64 << 10);
    let request = ClientRequest::new("localhost", "/").subprotocol("files.v1");
    let (server, client) = futures::join!(
        wscore_async_std::accept_with(a, server, |_| Ok(Accept::new())),
        wscore_async_std::client(b, request, client),
    );
    (server.unwrap(), client.unwrap().0)
}

fn streamed() -> ProtocolConfig {
    ProtocolConfig::default().subprotocols(vec![Subprotocol::streamed("files.v1")])
}

#[async_std::test]
async fn a_stream_from_a_reader_arrives_piece_by_piece() {
    let incremental = Config::from(streamed().receive_mode(ReceiveMode::Incremental));
    let (mut server, mut client) = pair(streamed().into(), incremental).await;
    let payload: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let reader = Cursor::new(payload.clone());
    let sender = async_std::task::spawn(async move {
        server
            .send_stream_from_reader(reader, 3_000_000, "data.bin")
            .await
            .unwrap();
        server
    });
    let mut received = BytesMut::new();
    let mut pieces = 0;
    loop {
        match client.next_event().await.unwrap().unwrap() {
            Event::Stream(StreamEvent::Started { metadata, .. }) => {
                assert_eq!(metadata.as_ref(), b"data.bin");
            }
            Event::Stream(StreamEvent::Data { data, .. }) => {
                received.extend_from_slice(&data);
                pieces += 1;
            }
            Event::Stream(StreamEvent::Finished { .. }) => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(received.as_ref(), payload.as_slice());
    assert!(pieces > 1);
    let mut server = sender.await;
    // The end of input without a close handshake: 1006, `Eof`.
    drop(client);
    assert!(matches!(
        server.next_event().await,
        Some(Err(Error::Io(e))) if e.kind() == io::ErrorKind::UnexpectedEof
    ));
    let closed = server.closed().unwrap();
    assert_eq!(
        (closed.code, &closed.cause),
        (CloseCode::ABNORMAL, &CloseCause::Eof)
    );
    assert!(server.next_event().await.is_none());
}

#[async_std::test]
async fn a_stream_body_is_a_futures_async_read() {
    let incremental = Config::from(streamed().receive_mode(ReceiveMode::Incremental));
    let (mut server, mut client) = pair(streamed().into(), incremental).await;
    let payload: Vec<u8> = (0..2_000_000u32).map(|i| (i % 251) as u8).collect();
    let sent = payload.clone();
    let sender = async_std::task::spawn(async move {
        server.send_stream(sent, "data.bin").await.unwrap();
        server.send(Message::text("after")).await.unwrap();
        server
    });
    let Some(Ok(Event::Stream(StreamEvent::Started { id, .. }))) = client.next_event().await else {
        panic!("expected the stream to start");
    };
    // The body itself, read through a small buffer: pieces are split
    // across reads and nothing is lost.
    let mut received = Vec::new();
    let mut body = futures::io::BufReader::with_capacity(1000, client.stream_body(id));
    let copied = futures::io::copy_buf(&mut body, &mut received)
        .await
        .unwrap();
    drop(body);
    assert_eq!(copied, 2_000_000);
    assert!(received == payload, "the stream differs");
    assert_eq!(
        client.recv().await.unwrap().unwrap(),
        Message::text("after")
    );
    drop(sender.await);
}
