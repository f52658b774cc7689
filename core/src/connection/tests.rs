use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use super::transmit::mask_payload;
use super::transmit::MASK_BLOCK_PAYLOAD;
use super::*;
use crate::config::{Keepalive, ReceiveMode};
use crate::frame::FrameHeader;
use crate::frame::{apply_mask, OpCode};
use crate::handshake::{Accept, HandshakeError, Reject};
use crate::test_support::{client_frame, encode_frame, events, transmitted};

const T0: Instant = Instant::ZERO;

fn at(ms: u64) -> Instant {
    Instant::from_elapsed(Duration::from_millis(ms))
}

fn server(config: Config) -> Connection {
    Connection::upgraded(Role::Server, config, [1; 32], T0).unwrap()
}

/// Decodes unmasked frames (what a server writes).
fn frames(mut bytes: &[u8]) -> Vec<(bool, OpCode, Vec<u8>)> {
    let mut out = Vec::new();
    while let Some((h, n)) = FrameHeader::decode(bytes).unwrap() {
        let end = n + h.payload_len as usize;
        let mut payload = bytes[n..end].to_vec();
        if let Some(key) = h.mask {
            apply_mask(&mut payload, key, 0);
        }
        out.push((h.fin, h.opcode, payload));
        bytes = &bytes[end..];
    }
    assert!(bytes.is_empty(), "trailing bytes");
    out
}

fn closed_cause(events: &[Event]) -> Option<&Closed> {
    match events.last() {
        Some(Event::Closed(closed)) => Some(closed),
        _ => None,
    }
}

fn close_sent(conn: &mut Connection) -> Option<u16> {
    frames(&transmitted(conn))
        .into_iter()
        .find(|(_, op, _)| *op == OpCode::Close)
        .map(|(_, _, p)| u16::from_be_bytes([p[0], p[1]]))
}

#[test]
fn rfc_example_masked_text_is_delivered() {
    let mut conn = server(Config::default());
    conn.handle_input(
        T0,
        &[
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ],
    );
    assert_eq!(
        events(&mut conn),
        vec![Event::Message(Message::text("Hello"))]
    );
}

#[test]
fn server_rejects_unmasked_and_client_rejects_masked() {
    let mut conn = server(Config::default());
    conn.handle_input(T0, &encode_frame(true, OpCode::Text, b"hi", None));
    let ev = events(&mut conn);
    assert_eq!(
        closed_cause(&ev).unwrap().cause,
        CloseCause::Protocol(ProtocolError::UnmaskedFrame)
    );
    assert_eq!(close_sent(&mut conn), Some(1002));

    let mut client = Connection::upgraded(Role::Client, Config::default(), [2; 32], T0).unwrap();
    client.handle_input(T0, &client_frame(true, OpCode::Text, b"hi"));
    let ev = events(&mut client);
    assert_eq!(
        closed_cause(&ev).unwrap().cause,
        CloseCause::Protocol(ProtocolError::MaskedFrame)
    );
}

#[test]
fn fragments_reassemble_with_control_frames_between() {
    let mut conn = server(Config::default());
    let mut wire = client_frame(false, OpCode::Text, b"Hel");
    wire.extend(client_frame(true, OpCode::Ping, b"p"));
    wire.extend(client_frame(false, OpCode::Continuation, b""));
    wire.extend(client_frame(true, OpCode::Continuation, b"lo"));
    conn.handle_input(T0, &wire);
    assert_eq!(
        events(&mut conn),
        vec![
            Event::Ping(Bytes::from_static(b"p")),
            Event::Message(Message::text("Hello"))
        ]
    );
    assert_eq!(
        frames(&transmitted(&mut conn)),
        vec![(true, OpCode::Pong, b"p".to_vec())]
    );
}

#[test]
fn fragmentation_violations_close_with_1002() {
    let cases: [(Vec<u8>, ProtocolError); 3] = [
        (
            client_frame(true, OpCode::Continuation, b"x"),
            ProtocolError::UnexpectedContinuation,
        ),
        (
            [
                client_frame(false, OpCode::Text, b"a"),
                client_frame(true, OpCode::Binary, b"b"),
            ]
            .concat(),
            ProtocolError::ExpectedContinuation,
        ),
        (
            vec![0x09, 0x80, 0, 0, 0, 0],
            ProtocolError::FragmentedControlFrame,
        ),
    ];
    for (wire, error) in cases {
        let mut conn = server(Config::default());
        conn.handle_input(T0, &wire);
        let ev = events(&mut conn);
        assert_eq!(
            closed_cause(&ev).unwrap().cause,
            CloseCause::Protocol(error)
        );
        assert_eq!(close_sent(&mut conn), Some(1002));
        assert!(conn.is_done());
    }
}

#[test]
fn reserved_bits_and_opcodes_close_with_1002() {
    for first in [0xC1u8, 0xA1, 0x91, 0x83, 0x8B] {
        let mut conn = server(Config::default());
        conn.handle_input(T0, &[first, 0x80, 1, 2, 3, 4]);
        let ev = events(&mut conn);
        assert!(matches!(
            closed_cause(&ev).unwrap().cause,
            CloseCause::Protocol(_)
        ));
        assert_eq!(close_sent(&mut conn), Some(1002));
    }
}

#[test]
fn invalid_utf8_fails_before_the_message_ends() {
    let mut conn = server(Config::default());
    conn.handle_input(T0, &client_frame(false, OpCode::Text, "κόσμε".as_bytes()));
    assert!(events(&mut conn).is_empty());
    conn.handle_input(
        T0,
        &client_frame(false, OpCode::Continuation, b"\xf4\x90\x80\x80"),
    );
    let ev = events(&mut conn);
    assert_eq!(
        closed_cause(&ev).unwrap().cause,
        CloseCause::Protocol(ProtocolError::InvalidUtf8)
    );
    assert_eq!(close_sent(&mut conn), Some(1007));
}

#[test]
fn a_whole_text_frame_in_one_read_is_validated_at_every_size() {
    // Short frames, frames validated in one pass, and frames validated a
    // block at a time take different ways through the decoder.
    for len in [1, 63, 64, 1000, 16 << 10, (16 << 10) + 1, 40_000] {
        for bad_at in [0, len / 2, len - 1] {
            let mut text = "é".repeat(len).into_bytes();
            text.truncate(len);
            if len % 2 == 1 {
                // An odd length would cut the last "é" in half.
                text[len - 1] = b'e';
            }
            let mut conn = server(Config::default());
            conn.handle_input(T0, &client_frame(true, OpCode::Text, &text));
            assert!(
                matches!(events(&mut conn).as_slice(), [Event::Message(m)] if m.len() == len),
                "valid text of {len} bytes"
            );
            text[bad_at] = 0xff;
            let mut conn = server(Config::default());
            conn.handle_input(T0, &client_frame(true, OpCode::Text, &text));
            let ev = events(&mut conn);
            assert!(
                !ev.iter().any(|e| matches!(e, Event::Message(_))),
                "invalid text of {len} bytes (0xff at {bad_at}) was delivered"
            );
            assert_eq!(
                closed_cause(&ev).unwrap().cause,
                CloseCause::Protocol(ProtocolError::InvalidUtf8)
            );
            assert_eq!(close_sent(&mut conn), Some(1007));
        }
    }
}

#[test]
fn invalid_utf8_fails_inside_a_partially_received_frame() {
    let mut conn = server(Config::default());
    let wire = client_frame(true, OpCode::Text, b"ok\xc0\xafmore text follows");
    conn.handle_input(T0, &wire[..10]); // header (6) + "ok" + 2 bad bytes
    let ev = events(&mut conn);
    assert_eq!(
        closed_cause(&ev).unwrap().cause,
        CloseCause::Protocol(ProtocolError::InvalidUtf8)
    );
}

#[test]
fn oversized_frame_is_refused_before_its_payload() {
    let mut conn = server(Config::default().max_frame_size(100));
    // Header of a 1000-byte binary frame only.
    conn.handle_input(T0, &[0x82, 0xFE, 0x03, 0xE8, 1, 2, 3, 4]);
    let ev = events(&mut conn);
    assert_eq!(
        closed_cause(&ev).unwrap().cause,
        CloseCause::Protocol(ProtocolError::FrameTooLarge {
            len: 1000,
            max: 100
        })
    );
    assert_eq!(close_sent(&mut conn), Some(1009));
}

#[test]
fn message_limit_counts_every_fragment() {
    let mut conn = server(Config::default().max_message_size(5));
    conn.handle_input(T0, &client_frame(false, OpCode::Binary, b"abc"));
    conn.handle_input(T0, &client_frame(true, OpCode::Continuation, b"def"));
    let ev = events(&mut conn);
    assert_eq!(
        closed_cause(&ev).unwrap().cause,
        CloseCause::Protocol(ProtocolError::MessageTooLarge { len: 6, max: 5 })
    );
    assert_eq!(close_sent(&mut conn), Some(1009));
}

#[test]
fn large_outbound_messages_are_fragmented_and_pings_slip_between() {
    let mut conn = server(Config::default().fragment_size(4));
    conn.send(Message::binary(&b"0123456789"[..])).unwrap();
    let first = conn.poll_transmit().unwrap();
    assert_eq!(first.payload().as_ref(), b"0123");
    conn.ping(&b"!"[..]).unwrap();
    let rest = frames(&transmitted(&mut conn));
    assert_eq!(
        rest,
        vec![
            (true, OpCode::Ping, b"!".to_vec()),
            (false, OpCode::Continuation, b"4567".to_vec()),
            (true, OpCode::Continuation, b"89".to_vec()),
        ]
    );
}

#[test]
fn client_frames_are_masked_with_fresh_keys() {
    let mut client = Connection::upgraded(Role::Client, Config::default(), [3; 32], T0).unwrap();
    client.send(Message::text("same")).unwrap();
    client.send(Message::text("same")).unwrap();
    let a = client.poll_transmit().unwrap();
    let b = client.poll_transmit().unwrap();
    assert_ne!(a.header(), b.header(), "keys must differ");
    let wire = [a.header(), a.payload(), b.header(), b.payload()].concat();
    assert_eq!(
        frames(&wire),
        vec![
            (true, OpCode::Text, b"same".to_vec()),
            (true, OpCode::Text, b"same".to_vec())
        ]
    );
}

#[test]
fn peer_close_is_answered_after_replies_to_earlier_messages() {
    let mut conn = server(Config::default());
    let mut wire = Vec::new();
    for text in ["a", "b", "c"] {
        wire.extend(client_frame(true, OpCode::Text, text.as_bytes()));
    }
    wire.extend(client_frame(true, OpCode::Close, b"\x03\xe8bye"));
    wire.extend(client_frame(true, OpCode::Text, b"after close is ignored"));
    conn.handle_input(T0, &wire);
    // An echo server: echo every message as it is seen.
    let mut seen = Vec::new();
    while let Some(event) = conn.poll_event() {
        if let Event::Message(m) = &event {
            conn.send(m.clone()).unwrap();
        }
        seen.push(event);
    }
    assert_eq!(seen.len(), 5);
    assert_eq!(
        seen[3],
        Event::CloseReceived(CloseFrame::new(CloseCode::NORMAL, "bye"))
    );
    assert_eq!(
        seen[4],
        Event::Closed(Box::new(Closed {
            code: CloseCode::NORMAL,
            reason: "bye".into(),
            cause: CloseCause::Remote
        }))
    );
    let out = frames(&transmitted(&mut conn));
    let ops: Vec<_> = out.iter().map(|(_, op, p)| (*op, p.clone())).collect();
    assert_eq!(
        ops,
        vec![
            (OpCode::Text, b"a".to_vec()),
            (OpCode::Text, b"b".to_vec()),
            (OpCode::Text, b"c".to_vec()),
            (OpCode::Close, b"\x03\xe8".to_vec()),
        ]
    );
    assert!(conn.is_done());
    assert_eq!(conn.send(Message::text("late")), Err(SendError::Closing));
}

#[test]
fn protocol_error_is_sent_after_replies_to_earlier_messages() {
    let mut conn = server(Config::default());
    let mut wire = Vec::new();
    for text in ["a", "b"] {
        wire.extend(client_frame(true, OpCode::Text, text.as_bytes()));
    }
    // A reserved opcode, then bytes that are never read.
    wire.extend(client_frame(true, OpCode::Text, b"x"));
    let bad = wire.len() - 7;
    wire[bad] = 0x83;
    wire.extend(client_frame(true, OpCode::Text, b"after the violation"));
    conn.handle_input(T0, &wire);
    // Nothing goes out while the messages before the violation wait.
    assert!(transmitted(&mut conn).is_empty());
    let mut seen = Vec::new();
    while let Some(event) = conn.poll_event() {
        if let Event::Message(m) = &event {
            conn.send(m.clone()).unwrap();
        }
        seen.push(event);
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(seen[1], Event::Message(Message::text("b")));
    let closed = closed_cause(&seen).expect("closed");
    assert_eq!(closed.code, CloseCode::PROTOCOL_ERROR);
    assert!(matches!(closed.cause, CloseCause::Protocol(_)));
    let out = frames(&transmitted(&mut conn));
    let ops: Vec<_> = out.iter().map(|(_, op, _)| *op).collect();
    assert_eq!(ops, [OpCode::Text, OpCode::Text, OpCode::Close]);
    assert_eq!(out[2].2[..2], 1002u16.to_be_bytes());
    // Later input is ignored.
    conn.handle_input(T0, &client_frame(true, OpCode::Text, b"late"));
    assert_eq!(conn.poll_event(), None);
}

#[test]
fn local_close_follows_queued_messages_and_refuses_later_sends() {
    let mut conn = server(Config::default());
    conn.send(Message::text("first")).unwrap();
    conn.close(T0, CloseCode::NORMAL, "done").unwrap();
    assert_eq!(conn.send(Message::text("late")), Err(SendError::Closing));
    assert_eq!(
        conn.close(T0, CloseCode::NORMAL, ""),
        Err(SendError::Closing)
    );
    let out = frames(&transmitted(&mut conn));
    assert_eq!(out[0], (true, OpCode::Text, b"first".to_vec()));
    assert_eq!(out[1], (true, OpCode::Close, b"\x03\xe8done".to_vec()));
    // Data the peer sent before answering is still delivered.
    conn.handle_input(at(1), &client_frame(true, OpCode::Text, b"late reply"));
    conn.handle_input(at(1), &client_frame(true, OpCode::Close, b"\x03\xe8"));
    let ev = events(&mut conn);
    assert_eq!(ev[0], Event::Message(Message::text("late reply")));
    assert_eq!(closed_cause(&ev).unwrap().cause, CloseCause::Local);
    assert!(conn.is_done());
    assert_eq!(conn.poll_timeout(), None);
}

#[test]
fn close_deadline_reports_1006() {
    let mut conn = server(Config::default().close_timeout(Duration::from_secs(2)));
    conn.close(T0, CloseCode::GOING_AWAY, "").unwrap();
    let _ = transmitted(&mut conn);
    assert_eq!(conn.poll_timeout(), Some(at(2000)));
    conn.handle_timeout(at(1999));
    assert!(events(&mut conn).is_empty(), "spurious timeouts are no-ops");
    conn.handle_timeout(at(2000));
    let ev = events(&mut conn);
    assert_eq!(
        closed_cause(&ev),
        Some(&Closed {
            code: CloseCode::ABNORMAL,
            reason: String::new(),
            cause: CloseCause::Timeout(TimeoutKind::Close)
        })
    );
    assert_eq!(conn.poll_timeout(), None);
}

#[test]
fn close_codes_are_validated_both_ways() {
    // 1005 stands for "no code": an empty close frame.
    assert_eq!(
        server(Config::default()).close(T0, CloseCode::NO_STATUS, ""),
        Ok(())
    );
    assert_eq!(
        server(Config::default()).close(T0, CloseCode(1006), ""),
        Err(SendError::InvalidCloseCode(1006))
    );
    // Registered for service restarts and overload (Node's `ws` sends
    // them): sent, and a peer's is answered rather than failed.
    for code in [1012, 1013, 1014] {
        let mut conn = server(Config::default());
        assert_eq!(conn.close(T0, CloseCode(code), "later"), Ok(()));
        assert_eq!(close_sent(&mut conn), Some(code));

        let mut conn = server(Config::default());
        let payload = [&code.to_be_bytes()[..], b"try again later"].concat();
        conn.handle_input(T0, &client_frame(true, OpCode::Close, &payload));
        let ev = events(&mut conn);
        assert_eq!(
            ev[0],
            Event::CloseReceived(CloseFrame::new(CloseCode(code), "try again later"))
        );
        assert_eq!(closed_cause(&ev).unwrap().cause, CloseCause::Remote);
        assert_eq!(closed_cause(&ev).unwrap().code, CloseCode(code));
        assert_eq!(close_sent(&mut conn), Some(code));
    }
    // A code that may not be sent is named, whatever the reason's length:
    // 1005 with a reason is not an empty close frame.
    for (code, reason) in [
        (1005, "why"),
        (1005, "x".repeat(200).as_str()),
        (1006, "x".repeat(200).as_str()),
        (999, ""),
    ] {
        assert_eq!(
            server(Config::default()).close(T0, CloseCode(code), reason),
            Err(SendError::InvalidCloseCode(code)),
            "{code}"
        );
    }
    let long = "x".repeat(124);
    assert!(matches!(
        server(Config::default()).close(T0, CloseCode::NORMAL, &long),
        Err(SendError::ControlPayloadTooLong(_))
    ));
    for (payload, error) in [
        (&b"\x03"[..], ProtocolError::InvalidClosePayload),
        (&b"\x03\xed"[..], ProtocolError::InvalidCloseCode(1005)),
        (&b"\x03\xe8\xff"[..], ProtocolError::InvalidUtf8),
    ] {
        let mut conn = server(Config::default());
        conn.handle_input(T0, &client_frame(true, OpCode::Close, payload));
        let ev = events(&mut conn);
        assert_eq!(
            closed_cause(&ev).unwrap().cause,
            CloseCause::Protocol(error)
        );
        assert_eq!(close_sent(&mut conn), Some(error.close_code().0));
    }
}

#[test]
fn empty_close_is_answered_with_empty_close() {
    let mut conn = server(Config::default());
    conn.handle_input(T0, &client_frame(true, OpCode::Close, b""));
    let ev = events(&mut conn);
    assert_eq!(
        ev[0],
        Event::CloseReceived(CloseFrame::new(CloseCode::NO_STATUS, ""))
    );
    assert_eq!(
        frames(&transmitted(&mut conn)),
        vec![(true, OpCode::Close, Vec::new())]
    );
}

#[test]
fn ping_flood_answers_in_order_with_bounded_pongs_and_the_newest_last() {
    let mut conn = server(Config::default());
    let mut wire = Vec::new();
    for i in 0..1000u16 {
        wire.extend(client_frame(true, OpCode::Ping, &i.to_be_bytes()));
    }
    conn.handle_input(T0, &wire);
    assert_eq!(events(&mut conn).len(), 1000);
    let expected: Vec<_> = (0..15u16)
        .chain([999])
        .map(|i| (true, OpCode::Pong, i.to_be_bytes().to_vec()))
        .collect();
    assert_eq!(frames(&transmitted(&mut conn)), expected);

    // Pongs already written do not count against the bound.
    conn.handle_input(T0, &client_frame(true, OpCode::Ping, b"a"));
    conn.handle_input(T0, &client_frame(true, OpCode::Ping, b"b"));
    assert_eq!(
        frames(&transmitted(&mut conn)),
        vec![
            (true, OpCode::Pong, b"a".to_vec()),
            (true, OpCode::Pong, b"b".to_vec())
        ]
    );
}

#[test]
fn keepalive_pings_and_gives_up() {
    let keepalive = Keepalive {
        interval: Duration::from_secs(10),
        timeout: Duration::from_secs(5),
    };
    let mut conn = server(Config::default().keepalive(Some(keepalive)));
    assert_eq!(conn.poll_timeout(), Some(at(10_000)));
    // Inbound traffic pushes the ping back.
    conn.handle_input(at(4000), &client_frame(true, OpCode::Pong, b""));
    assert_eq!(conn.poll_timeout(), Some(at(14_000)));
    conn.handle_timeout(at(14_000));
    assert_eq!(
        frames(&transmitted(&mut conn)),
        vec![(true, OpCode::Ping, Vec::new())]
    );
    assert_eq!(conn.poll_timeout(), Some(at(19_000)));
    conn.handle_timeout(at(19_000));
    let ev = events(&mut conn);
    assert_eq!(
        closed_cause(&ev).unwrap().cause,
        CloseCause::Timeout(TimeoutKind::Keepalive)
    );
    assert_eq!(close_sent(&mut conn), Some(1011));
    assert!(conn.is_done());
}

#[test]
fn idle_timeout_starts_a_close() {
    let mut conn = server(Config::default().idle_timeout(Some(Duration::from_secs(30))));
    conn.handle_input(at(10_000), &client_frame(true, OpCode::Text, b"x"));
    assert_eq!(conn.poll_timeout(), Some(at(40_000)));
    conn.handle_timeout(at(40_000));
    assert_eq!(close_sent(&mut conn), Some(1001));
    assert!(!conn.is_open());
}

#[test]
fn auto_responses_answer_without_events() {
    let mut conn = server(Config::default());
    conn.set_auto_response(Message::text("heartbeat"), Message::text("alive"));
    conn.handle_input(T0, &client_frame(true, OpCode::Text, b"heartbeat"));
    conn.handle_input(T0, &client_frame(true, OpCode::Binary, b"heartbeat"));
    conn.handle_input(T0, &client_frame(true, OpCode::Text, b"other"));
    assert_eq!(
        events(&mut conn),
        vec![
            Event::Message(Message::binary(&b"heartbeat"[..])),
            Event::Message(Message::text("other"))
        ]
    );
    assert_eq!(
        frames(&transmitted(&mut conn)),
        vec![(true, OpCode::Text, b"alive".to_vec())]
    );
    // An empty response removes the pair.
    conn.set_auto_response(Message::text("heartbeat"), Message::text(""));
    conn.handle_input(T0, &client_frame(true, OpCode::Text, b"heartbeat"));
    assert_eq!(
        events(&mut conn),
        vec![Event::Message(Message::text("heartbeat"))]
    );
}

#[test]
fn incremental_mode_delivers_pieces_with_bounded_buffering() {
    let mut conn = server(Config::default().receive_mode(ReceiveMode::Incremental));
    let payload: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
    let wire = [
        client_frame(false, OpCode::Binary, &payload[..60_000]),
        client_frame(true, OpCode::Continuation, &payload[60_000..]),
    ]
    .concat();
    let mut received = Vec::new();
    let mut seen = Vec::new();
    for chunk in wire.chunks(4096) {
        conn.handle_input(T0, chunk);
        assert!(conn.buffered_input() <= 4096);
        for event in events(&mut conn) {
            match event {
                Event::MessageData(piece) => received.extend_from_slice(&piece),
                other => seen.push(other),
            }
        }
    }
    assert_eq!(received, payload);
    assert_eq!(
        seen,
        vec![Event::MessageStart(MessageKind::Binary), Event::MessageEnd]
    );
}

#[test]
fn handshake_then_frames_in_the_same_read() {
    let mut server = Connection::server(Config::default(), T0).unwrap();
    let mut client = Connection::client(
        Config::default(),
        ClientRequest::new("h", "/p?q=1").subprotocol("chat"),
        [4; 32],
        T0,
    )
    .unwrap();
    client.handle_input(T0, b""); // nothing happens before the response
    let mut request_bytes = transmitted(&mut client);
    assert!(client.send(Message::text("early")).is_err());
    request_bytes.extend(client_frame(true, OpCode::Text, b"right after"));
    server.handle_input(T0, &request_bytes);
    let ev = events(&mut server);
    let [Event::Request(request)] = &ev[..] else {
        panic!("{ev:?}")
    };
    assert_eq!((request.path(), request.query()), ("/p", Some("q=1")));
    assert_eq!(request.subprotocols(), ["chat"]);
    server
        .accept(T0, Accept::new().subprotocol("chat"))
        .unwrap();
    assert_eq!(server.subprotocol(), Some("chat"));
    let ev = events(&mut server);
    assert!(matches!(&ev[0], Event::Connected(c) if c.subprotocol.as_deref() == Some("chat")));
    assert_eq!(ev[1], Event::Message(Message::text("right after")));
    client.handle_input(T0, &transmitted(&mut server));
    let ev = events(&mut client);
    assert!(matches!(&ev[0], Event::Connected(c) if c.subprotocol.as_deref() == Some("chat")));
}

#[test]
fn bad_requests_are_answered_with_http_errors() {
    let cases: [(&[u8], &str); 3] = [
        (b"GET / HTTP/1.1\r\nHost: h\r\n\r\n", "HTTP/1.1 400"),
        (
            b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
            "HTTP/1.1 426",
        ),
        (b"\x00\x01garbage\r\n\r\n", "HTTP/1.1 400"),
    ];
    for (request, status) in cases {
        let mut conn = Connection::server(Config::default(), T0).unwrap();
        conn.handle_input(T0, request);
        let ev = events(&mut conn);
        assert!(
            matches!(closed_cause(&ev).unwrap().cause, CloseCause::Handshake(_)),
            "{ev:?}"
        );
        let out = transmitted(&mut conn);
        assert!(
            out.starts_with(status.as_bytes()),
            "{}",
            String::from_utf8_lossy(&out)
        );
        if status.ends_with("426") {
            assert!(String::from_utf8_lossy(&out).contains("Sec-WebSocket-Version: 13"));
        }
    }
}

#[test]
fn slow_handshake_is_cut_off_at_the_deadline() {
    let mut conn = Connection::server(
        Config::default().handshake_timeout(Duration::from_secs(3)),
        T0,
    )
    .unwrap();
    for (i, byte) in b"GET / HTTP/1.1\r\nHost: x\r\n".iter().enumerate() {
        conn.handle_input(at(i as u64 * 100), &[*byte]);
    }
    assert_eq!(conn.poll_timeout(), Some(at(3000)));
    conn.handle_timeout(at(3000));
    let ev = events(&mut conn);
    assert_eq!(
        closed_cause(&ev).unwrap().cause,
        CloseCause::Timeout(TimeoutKind::Handshake)
    );
    assert!(conn.is_done());
}

#[test]
fn oversized_handshake_is_refused() {
    let mut conn = Connection::server(Config::default().max_handshake_bytes(1024), T0).unwrap();
    conn.handle_input(T0, b"GET / HTTP/1.1\r\n");
    for _ in 0..100 {
        conn.handle_input(T0, b"X-Filler: aaaaaaaaaaaaaaaaaaaa\r\n");
    }
    let ev = events(&mut conn);
    assert!(matches!(
        closed_cause(&ev).unwrap().cause,
        CloseCause::Handshake(_)
    ));
    assert!(transmitted(&mut conn).starts_with(b"HTTP/1.1 431"));
}

#[test]
fn reject_answers_with_the_given_status() {
    let mut server = Connection::server(Config::default(), T0).unwrap();
    let mut client =
        Connection::client(Config::default(), ClientRequest::new("h", "/"), [5; 32], T0).unwrap();
    server.handle_input(T0, &transmitted(&mut client));
    let _ = events(&mut server);
    server.reject(Reject::new(403).body("nope")).unwrap();
    let ev = events(&mut server);
    assert_eq!(closed_cause(&ev).unwrap().cause, CloseCause::Rejected(403));
    client.handle_input(T0, &transmitted(&mut server));
    let ev = events(&mut client);
    assert!(matches!(
        closed_cause(&ev).unwrap().cause,
        CloseCause::Handshake(HandshakeError::Status(403))
    ));
}

#[test]
fn handshake_outcome_does_not_depend_on_read_boundaries() {
    // Blank lines may precede a request line, so a terminator at the very
    // start does not end the header block.
    let data = b"\r\n\r\n\na``\n\x0b/\x07\n\x01";
    let run = |chunks: &[&[u8]]| {
        let mut conn = Connection::server(Config::default(), T0).unwrap();
        for chunk in chunks {
            conn.handle_input(T0, chunk);
        }
        events(&mut conn)
    };
    let whole = run(&[data]);
    assert!(matches!(
        closed_cause(&whole).unwrap().cause,
        CloseCause::Handshake(_)
    ));
    for at in 0..data.len() {
        let (a, b) = data.split_at(at);
        assert_eq!(run(&[a, b]), whole, "split at {at}");
    }
}

#[test]
fn events_stay_as_small_as_a_stream_event() {
    // Message events are moved through the queue and out of `poll_event`
    // one by one; the rare large variants are boxed to keep that cheap.
    let words = core::mem::size_of::<Event>() / core::mem::size_of::<usize>();
    assert!(words <= 6, "Event is {words} words");
}

#[test]
fn an_open_connection_carries_no_handshake_codec_or_generator_state() {
    // Every idle connection holds a `Connection`: the handshake states,
    // the compression codec and a server's unused key generator are
    // boxed or started on demand, so they cost nothing inline.
    let bytes = core::mem::size_of::<Connection>();
    assert!(bytes <= 1728, "Connection is {bytes} bytes");
}

#[test]
fn small_payloads_are_masked_into_one_block() {
    let key = [1, 2, 3, 4];
    let masked = |payload: &[u8]| {
        let mut out = payload.to_vec();
        crate::frame::apply_mask(&mut out, key, 0);
        out
    };
    let mut block = BytesMut::new();
    let a = mask_payload(&mut block, b"hello", key, 100);
    let b = mask_payload(&mut block, b"world!", key, 94);
    assert_eq!(
        (&a[..], &b[..]),
        (&masked(b"hello")[..], &masked(b"world!")[..])
    );
    // The second frame was cut from the same allocation, right after the first.
    assert_eq!(b.as_ptr(), a.as_ptr().wrapping_add(a.len()));
    // A large payload gets a buffer of its own.
    let big = [7u8; MASK_BLOCK_PAYLOAD + 1];
    let c = mask_payload(&mut block, &big, key, 0);
    assert_eq!(&c[..], &masked(&big)[..]);
    assert_ne!(c.as_ptr(), b.as_ptr().wrapping_add(b.len()));
}

/// Offering permessage-deflate by hand while `Config::deflate` is unset
/// used to pass: a server that accepted the offer then sent compressed
/// frames the client failed with 1002.
#[test]
fn an_extension_offer_the_config_does_not_run_is_refused() {
    let request = ClientRequest::new("example.com", "/").extension("permessage-deflate");
    let refused = Connection::client(Config::default(), request, [7; 32], T0);
    assert_eq!(
        refused.unwrap_err(),
        SetupError::UnconfiguredExtension("permessage-deflate".into())
    );
    // An extension the engine does not implement, among others in one offer.
    let request =
        ClientRequest::new("h", "/").extension("permessage-deflate; client_max_window_bits, x-foo");
    let config = Config::default();
    #[cfg(feature = "deflate")]
    let config = config.deflate(Some(Default::default()));
    let expected = if cfg!(feature = "deflate") {
        "x-foo"
    } else {
        "permessage-deflate"
    };
    assert_eq!(
        Connection::client(config, request, [7; 32], T0).unwrap_err(),
        SetupError::UnconfiguredExtension(expected.into())
    );
}

/// With `Config::deflate` set, a hand-written permessage-deflate offer is
/// one the connection runs.
#[cfg(feature = "deflate")]
#[test]
fn a_configured_extension_may_also_be_offered_by_hand() {
    let config = Config::default().deflate(Some(Default::default()));
    let request = ClientRequest::new("h", "/").extension("permessage-deflate");
    assert!(Connection::client(config, request, [7; 32], T0).is_ok());
}

#[test]
fn every_constructor_fails_with_a_setup_error() {
    let bad = || Config::default().fragment_size(0);
    let expected = SetupError::Config(crate::config::ConfigError::Zero("fragment_size"));
    let server: Result<Connection, SetupError> = Connection::server(bad(), T0);
    assert_eq!(server.unwrap_err(), expected);
    let upgraded: Result<Connection, SetupError> =
        Connection::upgraded(Role::Client, bad(), [0; 32], T0);
    assert_eq!(upgraded.unwrap_err(), expected);
    let request = ClientRequest::new("h", "/");
    let client: Result<Connection, SetupError> = Connection::client(bad(), request, [0; 32], T0);
    assert_eq!(client.unwrap_err(), expected);
}

/// A masked text frame of `len` bytes of 'a', with `bad` (if any) turned
/// into a byte that is never valid UTF-8.
fn text_frame(len: usize, bad: Option<usize>) -> Vec<u8> {
    let mut payload = vec![b'a'; len];
    if let Some(at) = bad {
        payload[at] = 0xFF;
    }
    client_frame(true, OpCode::Text, &payload)
}

#[test]
fn a_large_frame_over_owned_reads_fails_at_the_read_with_invalid_utf8() {
    let mut conn = server(Config::default());
    let wire = text_frame(100_000, Some(70_000));
    let mut closed_at = None;
    for (i, read) in wire.chunks(10_000).enumerate() {
        conn.handle_input_buf(T0, BytesMut::from(read));
        if let Some(closed) = closed_cause(&events(&mut conn)) {
            assert_eq!(
                closed.cause,
                CloseCause::Protocol(ProtocolError::InvalidUtf8)
            );
            closed_at = Some(i);
            break;
        }
    }
    // Byte 70 000 of the payload is in the eighth read (the header is 14
    // bytes), and nothing fails before it.
    assert_eq!(closed_at, Some(7));
}

#[test]
fn a_large_frame_over_owned_reads_is_counted_as_buffered_and_delivered_whole() {
    let mut conn = server(Config::default());
    let wire = text_frame(100_000, None);
    let (first, rest) = wire.split_at(30_000);
    conn.handle_input_buf(T0, BytesMut::from(first));
    assert_eq!(events(&mut conn), vec![]);
    // The header (a 64-bit length and the key) is 14 bytes.
    assert_eq!(conn.buffered_input(), 30_000 - 14);
    conn.handle_input_buf(T0, BytesMut::from(rest));
    assert_eq!(
        events(&mut conn),
        vec![Event::Message(Message::text(
            String::from_utf8(vec![b'a'; 100_000]).unwrap()
        ))]
    );
    assert_eq!(conn.buffered_input(), 0);
}

#[test]
fn a_read_taken_whole_by_a_large_frame_is_released_to_the_reader() {
    let mut conn = server(Config::default());
    let wire = text_frame(100_000, None);
    let (first, rest) = wire.split_at(30_000);
    conn.handle_input_buf(T0, BytesMut::from(first));
    // The reader's window: read into, split off and handed over, then
    // made ready for the next read.
    let mut window = BytesMut::with_capacity(16 << 10);
    window.extend_from_slice(&rest[..16 << 10]);
    let start = window.as_ptr();
    conn.handle_input_buf(T0, window.split());
    window.reserve(16 << 10);
    assert_eq!(window.as_ptr(), start, "the window was not reused");
}

#[test]
fn a_read_that_starts_inside_a_frame_is_not_copied_past_that_frame() {
    let mut conn = server(Config::default());
    let wire = [
        client_frame(true, OpCode::Binary, &[1; 1000]),
        client_frame(true, OpCode::Binary, &[2; 1000]),
    ]
    .concat();
    let (first, second) = wire.split_at(500);
    conn.handle_input_buf(T0, BytesMut::from(first));
    let second = BytesMut::from(second);
    let range = second.as_ptr_range();
    conn.handle_input_buf(T0, second);
    let received = events(&mut conn);
    let [Event::Message(a), Event::Message(b)] = &received[..] else {
        panic!("{received:?}");
    };
    assert_eq!(a.payload()[..], [1; 1000]);
    assert_eq!(b.payload()[..], [2; 1000]);
    // The second frame is a slice of the read it arrived in.
    assert!(range.contains(&b.payload().as_ptr()));
}

#[test]
fn a_client_frame_that_fits_beside_its_header_is_written_from_it() {
    let mut client = Connection::upgraded(Role::Client, Config::default(), [5; 32], T0).unwrap();
    for len in [0, 1, 24, 25, 26, 27] {
        let payload: Vec<u8> = (0..len as u8).collect();
        client.send(Message::binary(payload.clone())).unwrap();
        let transmit = client.poll_transmit().unwrap();
        assert!(client.poll_transmit().is_none());
        // Six bytes of header: the short length form and the key.
        let inline = len <= 26;
        assert_eq!(transmit.payload().is_empty(), inline || len == 0, "{len}");
        let expected_header = if inline { 6 + len } else { 6 };
        assert_eq!(transmit.header().len(), expected_header, "{len}");
        let mut wire = Vec::new();
        transmit.write_to(&mut wire);
        assert_eq!(frames(&wire), vec![(true, OpCode::Binary, payload)]);
    }
}

#[test]
fn whole_messages_before_a_violation_in_the_same_read_come_first() {
    let mut conn = server(Config::default().idle_timeout(Some(Duration::from_secs(30))));
    let wire = [
        client_frame(true, OpCode::Text, b"one"),
        client_frame(true, OpCode::Binary, b"two"),
        client_frame(true, OpCode::Text, b"\xff"),
        client_frame(true, OpCode::Text, b"never"),
    ]
    .concat();
    conn.handle_input(at(5_000), &wire);
    // The messages delivered straight to the queue re-armed the idle timer.
    assert_eq!(conn.poll_timeout(), Some(at(35_000)));
    let received = events(&mut conn);
    assert_eq!(
        received[..2],
        [
            Event::Message(Message::text("one")),
            Event::Message(Message::binary(&b"two"[..])),
        ]
    );
    assert_eq!(
        closed_cause(&received).map(|c| &c.cause),
        Some(&CloseCause::Protocol(ProtocolError::InvalidUtf8))
    );
    assert_eq!(received.len(), 3);
}
