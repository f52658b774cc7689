//! The end of the transport ([`Connection::handle_eof`]) in every state.

use alloc::vec;
use alloc::vec::Vec;

use super::*;
use crate::config::ReceiveMode;
use crate::envelope::stream::StreamConfig;
use crate::envelope::stream::StreamError;
use crate::envelope::Subprotocol;
use crate::frame::OpCode;
use crate::handshake::Accept;
use crate::test_support::{client_frame, events, transmitted, Pair};

const T0: Instant = Instant::ZERO;

fn server(config: Config) -> Connection {
    Connection::upgraded(Role::Server, config, [1; 32], T0).unwrap()
}

fn eof_closed() -> Event {
    Event::Closed(Box::new(Closed {
        code: CloseCode::ABNORMAL,
        reason: String::new(),
        cause: CloseCause::Eof,
    }))
}

#[test]
fn messages_before_the_end_are_delivered_then_closed_1006() {
    let mut conn = server(Config::default());
    let mut wire = client_frame(true, OpCode::Text, b"one");
    wire.extend(client_frame(true, OpCode::Binary, b"two"));
    // Half of a third frame: cut off by the end.
    let third = client_frame(true, OpCode::Text, b"three");
    wire.extend_from_slice(&third[..4]);
    conn.handle_input(T0, &wire);
    conn.handle_eof(T0);
    assert_eq!(
        events(&mut conn),
        vec![
            Event::Message(Message::text("one")),
            Event::Message(Message::binary(&b"two"[..])),
            eof_closed(),
        ]
    );
    // Nothing is written for the end of input, and the connection is done.
    assert!(conn.poll_transmit().is_none());
    assert!(conn.is_done());
    assert_eq!(conn.poll_timeout(), None);
}

#[test]
fn the_end_during_the_handshake_closes_at_once() {
    // Server, halfway through the request.
    let mut conn = Connection::server(Config::default(), T0).unwrap();
    conn.handle_input(T0, b"GET / HTTP/1.1\r\nHost: h\r\n");
    conn.handle_eof(T0);
    assert_eq!(events(&mut conn), vec![eof_closed()]);
    assert!(conn.is_done());
    assert_eq!(conn.poll_timeout(), None);

    // Server, the request read and the decision pending.
    let request = ClientRequest::new("example.com", "/");
    let mut client = Connection::client(Config::default(), request, [7; 32], T0).unwrap();
    let mut conn = Connection::server(Config::default(), T0).unwrap();
    conn.handle_input(T0, &transmitted(&mut client));
    conn.handle_eof(T0);
    let all = events(&mut conn);
    assert!(matches!(&all[..], [Event::Request(_), _]), "{all:?}");
    assert_eq!(all[1], eof_closed());
    assert_eq!(
        conn.accept(T0, Accept::new()),
        Err(SendError::NoPendingRequest)
    );
    assert!(conn.is_done());

    // Client, waiting for the response: the request is gone with the peer.
    client.handle_eof(T0);
    assert_eq!(events(&mut client), vec![eof_closed()]);
    assert!(client.is_done());
    assert_eq!(client.poll_timeout(), None);
}

#[test]
fn the_end_after_our_close_reports_1006() {
    let mut conn = server(Config::default());
    conn.close(T0, CloseCode::NORMAL, "bye").unwrap();
    let close = transmitted(&mut conn);
    assert_eq!(&close[..4], &[0x88, 0x05, 0x03, 0xe8]);
    conn.handle_eof(T0);
    assert_eq!(events(&mut conn), vec![eof_closed()]);
    assert!(conn.poll_transmit().is_none());
    assert!(conn.is_done());
    assert_eq!(conn.poll_timeout(), None);
}

#[test]
fn the_end_after_the_peers_close_changes_nothing() {
    let mut conn = server(Config::default());
    conn.handle_input(T0, &client_frame(true, OpCode::Text, b"last"));
    conn.handle_input(T0, &client_frame(true, OpCode::Close, &[0x03, 0xe8]));
    conn.handle_eof(T0);
    let all = events(&mut conn);
    assert_eq!(
        all,
        vec![
            Event::Message(Message::text("last")),
            Event::CloseReceived(CloseFrame::new(CloseCode::NORMAL, "")),
            Event::Closed(Box::new(Closed {
                code: CloseCode::NORMAL,
                reason: String::new(),
                cause: CloseCause::Remote,
            })),
        ]
    );
    // The answer to the peer's close is still written.
    assert_eq!(transmitted(&mut conn), [0x88, 0x02, 0x03, 0xe8]);
    assert!(conn.is_done());
}

#[test]
fn repeated_and_late_ends_are_no_ops() {
    let mut conn = server(Config::default());
    conn.handle_eof(T0);
    conn.handle_eof(T0);
    assert_eq!(events(&mut conn), vec![eof_closed()]);
    conn.handle_eof(T0);
    assert_eq!(events(&mut conn), vec![]);
    // Input after the end is not read.
    conn.handle_input(T0, &client_frame(true, OpCode::Text, b"late"));
    assert_eq!(events(&mut conn), vec![]);

    // Already closed by a violation: the end adds nothing.
    let mut conn = server(Config::default());
    conn.handle_input(T0, &[0x83, 0x80, 0, 0, 0, 0]);
    conn.handle_eof(T0);
    let all = events(&mut conn);
    assert_eq!(all.len(), 1);
    assert!(matches!(
        &all[0],
        Event::Closed(c) if c.cause == CloseCause::Protocol(ProtocolError::ReservedOpcode(3))
    ));
}

#[test]
fn input_after_the_end_is_ignored_before_the_events_are_taken() {
    let mut conn = server(Config::default());
    conn.handle_input(T0, &client_frame(true, OpCode::Text, b"a"));
    conn.handle_eof(T0);
    conn.handle_input(T0, &client_frame(true, OpCode::Text, b"b"));
    assert_eq!(
        events(&mut conn),
        vec![Event::Message(Message::text("a")), eof_closed()]
    );
}

#[test]
fn a_violation_found_before_the_end_keeps_its_cause() {
    let mut conn = server(Config::default());
    let mut wire = client_frame(true, OpCode::Text, b"fine");
    wire.extend_from_slice(&[0x83, 0x80, 0, 0, 0, 0]);
    conn.handle_input(T0, &wire);
    conn.handle_eof(T0);
    let all = events(&mut conn);
    assert_eq!(all[0], Event::Message(Message::text("fine")));
    assert!(matches!(
        &all[1..],
        [Event::Closed(c)] if c.cause == CloseCause::Protocol(ProtocolError::ReservedOpcode(3))
    ));
}

#[test]
fn a_partial_message_in_incremental_mode_is_not_completed() {
    let mut conn = server(Config::default().receive_mode(ReceiveMode::Incremental));
    conn.handle_input(T0, &client_frame(false, OpCode::Binary, b"first half"));
    conn.handle_eof(T0);
    assert_eq!(
        events(&mut conn),
        vec![
            Event::MessageStart(MessageKind::Binary),
            Event::MessageData(Bytes::from_static(b"first half")),
            eof_closed(),
        ]
    );
}

#[test]
fn queued_sends_are_dropped_and_streams_cut_short_are_reported() {
    let streamed = Config::default()
        .subprotocols(vec![Subprotocol::streamed("files.v2")])
        .stream(
            StreamConfig::default()
                .send_threshold(Some(1000))
                .chunk_size(300),
        );
    let (mut c, mut s) = Pair::connect(streamed.clone(), streamed).into_connections();
    // An inbound stream, open and two chunks in, on the server…
    c.send(Message::Binary(Bytes::from(vec![1; 3000]))).unwrap();
    for _ in 0..3 {
        let mut bytes = Vec::new();
        c.poll_transmit().unwrap().write_to(&mut bytes);
        s.handle_input(T0, &bytes);
    }
    // …and an outbound one, announced, with a message queued behind it.
    s.send(Message::Binary(Bytes::from(vec![2; 3000]))).unwrap();
    s.send(Message::text("queued")).unwrap();
    assert!(s.poll_transmit().is_some());
    s.handle_eof(T0);
    assert!(s.poll_transmit().is_none());
    assert_eq!(s.queued_bytes(), 0);
    let failed = |id, direction| {
        Event::Stream(StreamEvent::Failed {
            id,
            direction,
            error: StreamError::ConnectionClosed,
        })
    };
    assert_eq!(
        events(&mut s),
        vec![
            failed(0, Direction::Inbound),
            failed(0, Direction::Outbound),
            eof_closed(),
        ]
    );

    // The client's outbound stream, cut short too.
    c.handle_eof(T0);
    assert_eq!(
        events(&mut c),
        vec![failed(0, Direction::Outbound), eof_closed()]
    );
}

/// A compressed message received whole is inflated one piece per taken
/// event in incremental mode; the end of input waits for every piece, and
/// for the frames behind it.
#[cfg(feature = "deflate")]
#[test]
fn a_compressed_message_received_whole_is_delivered_before_the_end() {
    let config = Config::default().deflate(Some(Default::default()));
    let (mut c, mut s) = Pair::connect(
        config.clone(),
        config.receive_mode(ReceiveMode::Incremental),
    )
    .into_connections();
    assert!(s.deflate().is_some());
    let payload = vec![b'z'; 300_000];
    c.send(Message::Binary(Bytes::from(payload.clone())))
        .unwrap();
    c.send(Message::text("after")).unwrap();
    s.handle_input(T0, &transmitted(&mut c));
    s.handle_eof(T0);
    let all = events(&mut s);
    let mut received = Vec::new();
    let mut rest = Vec::new();
    for event in all {
        match event {
            Event::MessageData(piece) => received.extend_from_slice(&piece),
            other => rest.push(other),
        }
    }
    let mut expected = payload;
    expected.extend_from_slice(b"after");
    assert_eq!(received, expected);
    assert_eq!(
        rest,
        vec![
            Event::MessageStart(MessageKind::Binary),
            Event::MessageEnd,
            Event::MessageStart(MessageKind::Text),
            Event::MessageEnd,
            eof_closed(),
        ]
    );
}
