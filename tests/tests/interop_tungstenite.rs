//! Interop with tungstenite (through tokio-tungstenite) in both roles: our
//! server (`wscore_tokio::accept_with`) against a tungstenite client, and
//! our client (`wscore_tokio::client`) against a tungstenite server, over
//! loopback TCP.
//!
//! Both ends run in the test, so each scenario states what one side sends
//! and what the other must observe. Tungstenite can write raw frames, which
//! is how it sends fragmented messages with a ping between the fragments.
//! It has no permessage-deflate, so with compression on our side the
//! tests check that the connection falls back to uncompressed messages.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request as TheirRequest;
use tokio_tungstenite::tungstenite::handshake::server::{
    Request as TheirServerRequest, Response as TheirServerResponse,
};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{
    CloseCode as TheirCloseCode, Data, OpCode,
};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame as TheirCloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Bytes, Message as TheirMessage};
use tokio_tungstenite::WebSocketStream;
use wscore::{Config as ProtocolConfig, DeflateConfig, Keepalive};
use wscore_tokio::{Accept, ClientRequest, CloseCause, CloseCode, Config, Message, WebSocket};

/// The longest a whole scenario may take.
const SCENARIO: Duration = Duration::from_secs(30);

type Ours = WebSocket<TcpStream>;
type Theirs = WebSocketStream<TcpStream>;

/// Which end of the connection is ours.
#[derive(Clone, Copy, Debug)]
enum Side {
    Server,
    Client,
}

/// Fails the test if `scenario` does not finish in time.
async fn within<T>(scenario: impl Future<Output = T>) -> T {
    timeout(SCENARIO, scenario)
        .await
        .expect("the scenario timed out")
}

fn their_request(port: u16) -> TheirRequest {
    format!("ws://127.0.0.1:{port}/interop")
        .into_client_request()
        .unwrap()
}

/// A connected pair over loopback TCP, our end in the `ours` role, both
/// accepting the defaults of the handshake.
async fn pair(ours: Side, config: impl Into<Config>, theirs: WebSocketConfig) -> (Ours, Theirs) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let connect = TcpStream::connect(("127.0.0.1", port));
    let (accepted, connected) = tokio::join!(listener.accept(), connect);
    let (server_tcp, client_tcp) = (accepted.unwrap().0, connected.unwrap());
    match ours {
        Side::Server => {
            let (ours, theirs) = tokio::join!(
                wscore_tokio::accept_with(server_tcp, config, |_| Ok(Accept::new())),
                tokio_tungstenite::client_async_with_config(
                    their_request(port),
                    client_tcp,
                    Some(theirs)
                ),
            );
            (ours.unwrap(), theirs.unwrap().0)
        }
        Side::Client => {
            let request = ClientRequest::new(format!("127.0.0.1:{port}"), "/interop");
            let (ours, theirs) = tokio::join!(
                wscore_tokio::client(client_tcp, request, config),
                tokio_tungstenite::accept_async_with_config(server_tcp, Some(theirs)),
            );
            (ours.unwrap().0, theirs.unwrap())
        }
    }
}

async fn recv(ours: &mut Ours) -> Message {
    match ours.recv().await {
        Some(Ok(message)) => message,
        Some(Err(e)) => panic!("our receive failed: {e}"),
        None => panic!("our connection ended"),
    }
}

async fn their_next(theirs: &mut Theirs) -> TheirMessage {
    match theirs.next().await {
        Some(Ok(message)) => message,
        Some(Err(e)) => panic!("tungstenite's receive failed: {e}"),
        None => panic!("tungstenite's connection ended"),
    }
}

/// Our message as tungstenite's.
fn to_theirs(message: &Message) -> TheirMessage {
    match message {
        Message::Text(text) => TheirMessage::text(text.as_str()),
        Message::Binary(data) => TheirMessage::Binary(data.clone()),
    }
}

/// Tungstenite's data message as ours.
fn from_theirs(message: TheirMessage) -> Message {
    match message {
        TheirMessage::Text(text) => Message::text(text.as_str().to_owned()),
        TheirMessage::Binary(data) => Message::binary(data),
        other => panic!("expected a data message, got {other:?}"),
    }
}

/// Compares messages without printing megabytes when they differ.
fn assert_same(got: &Message, want: &Message) {
    assert_eq!(got.kind(), want.kind(), "message kind");
    assert_eq!(got.len(), want.len(), "message length");
    if let Some(at) = got
        .payload()
        .iter()
        .zip(want.payload().iter())
        .position(|(a, b)| a != b)
    {
        panic!("messages of {} bytes differ from byte {at}", want.len());
    }
}

/// Reads until tungstenite's stream ends, which is what makes it write its
/// answer to a close frame; returns the close frame received.
async fn their_end(theirs: &mut Theirs) -> Option<TheirCloseFrame> {
    let mut close = None;
    while let Some(message) = theirs.next().await {
        if let TheirMessage::Close(frame) = message.expect("tungstenite's receive failed") {
            close = frame;
        }
    }
    close
}

/// Tungstenite echoes data messages until the connection ends; returns the
/// close frame it received.
async fn their_echo(mut theirs: Theirs) -> Option<TheirCloseFrame> {
    while let Some(message) = theirs.next().await {
        match message.expect("tungstenite's receive failed") {
            message @ (TheirMessage::Text(_) | TheirMessage::Binary(_)) => {
                theirs.send(message).await.unwrap()
            }
            TheirMessage::Close(frame) => {
                assert!(their_end(&mut theirs).await.is_none());
                return frame;
            }
            _ => {}
        }
    }
    None
}

/// Closes with 1000 from our side, while tungstenite reads to the end.
async fn close_normally(mut ours: Ours, mut theirs: Theirs) {
    let (_, seen) = tokio::join!(
        async { ours.close(CloseCode::NORMAL, "").await.unwrap() },
        their_end(&mut theirs),
    );
    assert_eq!(seen.map(|f| u16::from(f.code)), Some(1000));
    assert_eq!(ours.closed().unwrap().cause, CloseCause::Local);
}

// ---- test data ----

/// Bytes that do not compress (a splitmix64 stream).
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// `len` bytes of one- to four-byte characters, so that cutting the text
/// into fragments splits characters.
fn mixed_text(len: usize) -> String {
    let mut text = "aé€🦀".repeat(len / 10);
    text.push_str(&"a".repeat(len % 10));
    text
}

// ---- scenarios, run with our end in each role ----

async fn text_and_binary(side: Side) {
    let (mut ours, mut theirs) = pair(side, Config::default(), WebSocketConfig::default()).await;
    let messages = [
        Message::text("hello"),
        Message::text(""),
        Message::text("héllo wörld ✓ 🦀"),
        Message::binary(vec![0u8, 1, 2, 255]),
        Message::binary(Vec::new()),
        // Above 125 and 65535 bytes: the 16- and 64-bit length forms.
        Message::text("x".repeat(126)),
        Message::binary(noise(70_000, 1)),
    ];
    // Each side sends the list and receives the other's.
    tokio::join!(
        async {
            for message in &messages {
                ours.send(message.clone()).await.unwrap();
            }
            for message in &messages {
                assert_same(&recv(&mut ours).await, message);
            }
        },
        async {
            for message in &messages {
                theirs.send(to_theirs(message)).await.unwrap();
            }
            for message in &messages {
                assert_same(&from_theirs(their_next(&mut theirs).await), message);
            }
        },
    );
    close_normally(ours, theirs).await;
}

async fn large_messages(side: Side) {
    let (mut ours, theirs) = pair(side, Config::default(), WebSocketConfig::default()).await;
    let echo = tokio::spawn(their_echo(theirs));
    // The largest frame both ends accept by default: tungstenite sends it
    // in one frame, we send it in 128 KiB fragments.
    for message in [
        Message::binary(noise(16 << 20, 2)),
        Message::text(mixed_text(16 << 20)),
    ] {
        ours.send(message.clone()).await.unwrap();
        assert_same(&recv(&mut ours).await, &message);
    }
    ours.close(CloseCode::NORMAL, "").await.unwrap();
    let seen = echo.await.unwrap();
    assert_eq!(seen.map(|f| u16::from(f.code)), Some(1000));
}

async fn we_fragment(side: Side) {
    // Tungstenite refuses any frame over 1 KiB: only fragments get through.
    let config = ProtocolConfig::default().fragment_size(1000);
    let strict = WebSocketConfig::default().max_frame_size(Some(1024));
    let (mut ours, mut theirs) = pair(side, config, strict).await;
    let messages = [
        Message::text(mixed_text(10_500)),
        Message::binary(noise(4096, 3)),
        Message::text("short"),
    ];
    tokio::join!(
        async {
            for message in &messages {
                ours.send(message.clone()).await.unwrap();
            }
        },
        async {
            for message in &messages {
                assert_same(&from_theirs(their_next(&mut theirs).await), message);
            }
        },
    );
    close_normally(ours, theirs).await;
}

async fn they_fragment(side: Side) {
    // Frames of at most 32 bytes, messages longer than that.
    let config = ProtocolConfig::default().max_frame_size(32);
    let (mut ours, mut theirs) = pair(side, config, WebSocketConfig::default()).await;
    let text = mixed_text(100);
    let binary = noise(100, 4);
    let data = |payload: &[u8], opcode: Data, last: bool| {
        TheirMessage::Frame(Frame::message(
            Bytes::copy_from_slice(payload),
            OpCode::Data(opcode),
            last,
        ))
    };
    tokio::join!(
        async {
            assert_same(&recv(&mut ours).await, &Message::text(text.clone()));
            assert_same(&recv(&mut ours).await, &Message::binary(binary.clone()));
        },
        async {
            // Cut every 7 bytes, which splits characters, with a ping and
            // an empty fragment along the way.
            let chunks: Vec<&[u8]> = text.as_bytes().chunks(7).collect();
            theirs
                .send(data(chunks[0], Data::Text, false))
                .await
                .unwrap();
            let ping = Bytes::from_static(b"between fragments");
            theirs.send(TheirMessage::Ping(ping.clone())).await.unwrap();
            theirs.send(data(b"", Data::Continue, false)).await.unwrap();
            for (i, chunk) in chunks.iter().enumerate().skip(1) {
                let last = i == chunks.len() - 1;
                theirs
                    .send(data(chunk, Data::Continue, last))
                    .await
                    .unwrap();
            }
            let chunks: Vec<&[u8]> = binary.chunks(30).collect();
            theirs
                .send(data(chunks[0], Data::Binary, false))
                .await
                .unwrap();
            for (i, chunk) in chunks.iter().enumerate().skip(1) {
                let last = i == chunks.len() - 1;
                theirs
                    .send(data(chunk, Data::Continue, last))
                    .await
                    .unwrap();
            }
            // Answered while the message was still incomplete.
            assert_eq!(their_next(&mut theirs).await, TheirMessage::Pong(ping));
        },
    );
    close_normally(ours, theirs).await;
}

async fn ping_pong(side: Side) {
    let (mut ours, mut theirs) = pair(side, Config::default(), WebSocketConfig::default()).await;
    let their_ping = Bytes::from_static(b"ping from tungstenite");
    let our_ping = Bytes::from_static(b"ping from wscore");
    let largest = Bytes::from(vec![0xa5; 125]);
    tokio::join!(
        async {
            ours.ping(our_ping.clone()).await.unwrap();
            ours.ping(largest.clone()).await.unwrap();
            // Reading answers their pings; they say when they are done.
            assert_eq!(recv(&mut ours).await, Message::text("done"));
        },
        async {
            for payload in [their_ping.clone(), Bytes::new(), largest.clone()] {
                theirs.send(TheirMessage::Ping(payload)).await.unwrap();
            }
            let mut pongs = Vec::new();
            let mut pings = Vec::new();
            while pongs.len() < 3 || pings.len() < 2 {
                match their_next(&mut theirs).await {
                    TheirMessage::Pong(payload) => pongs.push(payload),
                    TheirMessage::Ping(payload) => pings.push(payload),
                    other => panic!("unexpected {other:?}"),
                }
            }
            assert_eq!(pongs, [their_ping.clone(), Bytes::new(), largest.clone()]);
            assert_eq!(pings, [our_ping.clone(), largest.clone()]);
            theirs.send(TheirMessage::text("done")).await.unwrap();
        },
    );
    close_normally(ours, theirs).await;
}

async fn keepalive(side: Side) {
    let config = ProtocolConfig::default().keepalive(Some(Keepalive {
        interval: Duration::from_millis(100),
        timeout: Duration::from_millis(750),
    }));
    let (mut ours, mut theirs) = pair(side, config, WebSocketConfig::default()).await;
    tokio::join!(
        async {
            // Two seconds of silence but for pongs: our keepalive pings must
            // be answered and the answers recognised, or the connection
            // ends with a keepalive timeout.
            if let Ok(event) = timeout(Duration::from_secs(2), ours.recv()).await {
                panic!("expected silence, got {event:?}");
            }
            ours.send(Message::text("still here")).await.unwrap();
        },
        async {
            let mut pings = 0;
            loop {
                match their_next(&mut theirs).await {
                    TheirMessage::Ping(_) => pings += 1,
                    TheirMessage::Text(text) if text.as_str() == "still here" => break,
                    other => panic!("unexpected {other:?}"),
                }
            }
            assert!(pings >= 3, "tungstenite saw {pings} keepalive pings");
        },
    );
    close_normally(ours, theirs).await;
}

async fn we_close(side: Side) {
    let (mut ours, mut theirs) = pair(side, Config::default(), WebSocketConfig::default()).await;
    let (closing, seen) = tokio::join!(
        ours.close(CloseCode(4001), "closed by wscore ✓"),
        their_end(&mut theirs),
    );
    closing.unwrap();
    let frame = seen.expect("tungstenite received a close frame");
    assert_eq!(u16::from(frame.code), 4001);
    assert_eq!(frame.reason.as_str(), "closed by wscore ✓");
    let closed = ours.closed().unwrap();
    assert_eq!(closed.cause, CloseCause::Local);
    assert_eq!(closed.code, CloseCode(4001));
}

async fn they_close(side: Side) {
    let (mut ours, mut theirs) = pair(side, Config::default(), WebSocketConfig::default()).await;
    let frame = TheirCloseFrame {
        code: TheirCloseCode::from(4002),
        reason: "closed by tungstenite ✓".into(),
    };
    let (end, reply) = tokio::join!(ours.recv(), async {
        theirs.close(Some(frame)).await.unwrap();
        their_end(&mut theirs).await
    });
    assert!(end.is_none(), "our stream ends cleanly, got {end:?}");
    let closed = ours.closed().unwrap();
    assert_eq!(closed.cause, CloseCause::Remote);
    assert_eq!(closed.code, CloseCode(4002));
    assert_eq!(closed.reason, "closed by tungstenite ✓");
    // Our answer echoes the code.
    assert_eq!(reply.map(|f| u16::from(f.code)), Some(4002));
}

/// With compression offered or accepted on our side and none from
/// tungstenite, messages go uncompressed (tungstenite fails the connection
/// on a frame with RSV1 set).
async fn compression_unused(side: Side) {
    let config = ProtocolConfig::default().deflate(Some(DeflateConfig::default()));
    let (mut ours, theirs) = pair(side, config, WebSocketConfig::default()).await;
    assert!(ours.connection().deflate().is_none());
    let echo = tokio::spawn(their_echo(theirs));
    let text = Message::text("{\"compressible\":true}".repeat(1000));
    ours.send(text.clone()).await.unwrap();
    assert_same(&recv(&mut ours).await, &text);
    ours.close(CloseCode::NORMAL, "").await.unwrap();
    assert!(echo.await.unwrap().is_some());
}

// ---- the tests ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_server_text_and_binary() {
    within(text_and_binary(Side::Server)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_text_and_binary() {
    within(text_and_binary(Side::Client)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_server_large_messages() {
    within(large_messages(Side::Server)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_large_messages() {
    within(large_messages(Side::Client)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_server_fragments() {
    within(we_fragment(Side::Server)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_fragments() {
    within(we_fragment(Side::Client)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_server_reassembles_fragments() {
    within(they_fragment(Side::Server)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_reassembles_fragments() {
    within(they_fragment(Side::Client)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_server_ping_pong() {
    within(ping_pong(Side::Server)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_ping_pong() {
    within(ping_pong(Side::Client)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_server_keepalive() {
    within(keepalive(Side::Server)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_keepalive() {
    within(keepalive(Side::Client)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_server_closes() {
    within(we_close(Side::Server)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_closes() {
    within(we_close(Side::Client)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tungstenite_server_closes() {
    within(they_close(Side::Client)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tungstenite_client_closes() {
    within(they_close(Side::Server)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_server_without_compression_for_a_tungstenite_client() {
    within(compression_unused(Side::Server)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_without_compression_from_a_tungstenite_server() {
    within(compression_unused(Side::Client)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_server_picks_a_subprotocol() {
    within(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut request = their_request(port);
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static("chat.v1, chat.v2, chat.v3"),
        );
        let offered = Arc::new(Mutex::new(Vec::new()));
        let seen = offered.clone();
        let server = async {
            let (tcp, _) = listener.accept().await.unwrap();
            wscore_tokio::accept_with(tcp, Config::default(), move |request| {
                *seen.lock().unwrap() = request.subprotocols().to_vec();
                Ok(Accept::new().subprotocol("chat.v2"))
            })
            .await
            .unwrap()
        };
        let client = async {
            let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
            tokio_tungstenite::client_async(request, tcp).await.unwrap()
        };
        let (ours, (theirs, response)) = tokio::join!(server, client);
        assert_eq!(*offered.lock().unwrap(), ["chat.v1", "chat.v2", "chat.v3"]);
        assert_eq!(ours.subprotocol(), Some("chat.v2"));
        assert_eq!(
            response.headers().get("Sec-WebSocket-Protocol").unwrap(),
            "chat.v2"
        );
        close_normally(ours, theirs).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_offers_subprotocols() {
    within(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let offered = Arc::new(Mutex::new(None));
        let seen = offered.clone();
        let server = async {
            let (tcp, _) = listener.accept().await.unwrap();
            // The error type is tungstenite's, returned by value.
            #[allow(clippy::result_large_err)]
            let callback = move |request: &TheirServerRequest,
                                 mut response: TheirServerResponse| {
                let offer = request.headers().get("Sec-WebSocket-Protocol").cloned();
                *seen.lock().unwrap() = offer;
                response.headers_mut().insert(
                    "Sec-WebSocket-Protocol",
                    HeaderValue::from_static("chat.v1"),
                );
                Ok(response)
            };
            tokio_tungstenite::accept_hdr_async(tcp, callback)
                .await
                .unwrap()
        };
        let client = async {
            let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
            let request = ClientRequest::new(format!("127.0.0.1:{port}"), "/interop")
                .subprotocol("chat.v3")
                .subprotocol("chat.v1")
                .subprotocol("chat.v2");
            wscore_tokio::client(tcp, request, Config::default())
                .await
                .unwrap()
        };
        let (theirs, (ours, response)) = tokio::join!(server, client);
        let offer = offered.lock().unwrap().clone().expect("an offer");
        assert_eq!(offer, "chat.v3, chat.v1, chat.v2");
        assert_eq!(response.subprotocol(), Some("chat.v1"));
        assert_eq!(ours.subprotocol(), Some("chat.v1"));
        close_normally(ours, theirs).await;
    })
    .await;
}
