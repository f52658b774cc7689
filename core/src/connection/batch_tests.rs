//! The batching envelope through whole connections: negotiation, coalescing,
//! caps, linger, malformed batches, and the round trip under random policy.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use quickcheck::{quickcheck, TestResult};

use super::*;
use crate::envelope::batch::{BatchConfig, BatchError};
use crate::envelope::{Envelope, Framing, Subprotocol};
use crate::frame::FrameHeader;
use crate::frame::{apply_mask, OpCode};
use crate::handshake::Accept;
use crate::test_support::{encode_frame, events, transmitted, Pair};

const T0: Instant = Instant::ZERO;

fn batched() -> Vec<Subprotocol> {
    vec![
        Subprotocol::batched("v3.bsatn.example"),
        Subprotocol::plain("v2.bsatn.example"),
    ]
}

fn plain_only() -> Vec<Subprotocol> {
    vec![Subprotocol::plain("v2.bsatn.example")]
}

/// Payloads of the data frames in `bytes` (either direction).
pub(super) fn data_frames(mut bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Some((h, n)) = FrameHeader::decode(bytes).unwrap() {
        let end = n + h.payload_len as usize;
        let mut payload = bytes[n..end].to_vec();
        if let Some(key) = h.mask {
            apply_mask(&mut payload, key, 0);
        }
        if !h.opcode.is_control() {
            out.push(payload);
        }
        bytes = &bytes[end..];
    }
    out
}

pub(super) fn messages(conn: &mut Connection) -> Vec<Message> {
    events(conn)
        .into_iter()
        .filter_map(|e| match e {
            Event::Message(m) => Some(m),
            _ => None,
        })
        .collect()
}

fn binary(i: usize, len: usize) -> Message {
    Message::Binary(Bytes::from(vec![i as u8; len]))
}

#[test]
fn negotiation_matrix() {
    let cases = [
        (batched(), batched(), Some("v3.bsatn.example"), true),
        // A new client and a server that knows only the plain protocol.
        (batched(), plain_only(), Some("v2.bsatn.example"), false),
        // An old client and a new server.
        (plain_only(), batched(), Some("v2.bsatn.example"), false),
        (Vec::new(), batched(), None, false),
    ];
    for (client, server, chosen, is_batched) in cases {
        let (c, s) = Pair::connect(
            Config::default().subprotocols(client),
            Config::default().subprotocols(server),
        )
        .into_connections();
        for conn in [&c, &s] {
            assert_eq!(conn.subprotocol(), chosen);
            assert_eq!(
                conn.envelope(),
                if is_batched {
                    Envelope::Batched(Framing::Varint)
                } else {
                    Envelope::Plain
                }
            );
        }
    }
}

#[test]
fn the_application_choice_wins_over_the_declared_order() {
    let config = Config::default().subprotocols(batched());
    let request = ClientRequest::new("example.com", "/");
    let mut c = Connection::client(config.clone(), request, [7; 32], T0).unwrap();
    let mut s = Connection::server(config, T0).unwrap();
    s.handle_input(T0, &transmitted(&mut c));
    let _ = s.poll_event();
    s.accept(T0, Accept::new().subprotocol("v2.bsatn.example"))
        .unwrap();
    c.handle_input(T0, &transmitted(&mut s));
    assert_eq!(c.subprotocol(), Some("v2.bsatn.example"));
    assert_eq!(c.envelope(), Envelope::Plain);
    assert_eq!(s.envelope(), Envelope::Plain);
}

#[test]
fn sends_before_a_transmit_coalesce_into_one_frame() {
    let config = Config::default().subprotocols(batched());
    let (mut c, mut s) = Pair::connect(config.clone(), config).into_connections();
    let sent: Vec<Message> = (0..100).map(|i| binary(i, 64)).collect();
    for m in &sent {
        c.send(m.clone()).unwrap();
    }
    let wire = transmitted(&mut c);
    let frames = data_frames(&wire);
    assert_eq!(frames.len(), 1);
    // One byte of envelope per 64-byte message.
    assert_eq!(frames[0].len(), 100 * 65);
    s.handle_input(T0, &wire);
    assert_eq!(messages(&mut s), sent);
}

#[test]
fn batches_respect_the_cap_and_one_goes_per_transmit() {
    let config = Config::default()
        .subprotocols(batched())
        .batch(BatchConfig::default().cap(1000));
    let (mut c, mut s) = Pair::connect(config.clone(), config).into_connections();
    let mut sent: Vec<Message> = (0..100).map(|i| binary(i, 64)).collect();
    // A message over the cap travels alone, in order.
    sent.insert(50, binary(200, 5000));
    for m in &sent {
        c.send(m.clone()).unwrap();
    }
    let mut transmits = 0;
    let mut wire = Vec::new();
    while let Some(t) = c.poll_transmit() {
        let mut one = Vec::new();
        t.write_to(&mut one);
        let frames = data_frames(&one);
        assert_eq!(frames.len(), 1, "one batch per transmit");
        assert!(frames[0].len() <= 1000 || frames[0].len() == 5002);
        transmits += 1;
        wire.extend(one);
    }
    // 15 messages of 65 bytes fit under 1000.
    assert_eq!(transmits, 4 + 1 + 4);
    s.handle_input(T0, &wire);
    assert_eq!(messages(&mut s), sent);
}

#[test]
fn batches_respect_max_messages() {
    let config = Config::default()
        .subprotocols(batched())
        .batch(BatchConfig::default().max_messages(10));
    let (mut c, mut s) = Pair::connect(config.clone(), config).into_connections();
    for i in 0..25 {
        c.send(binary(i, 1)).unwrap();
    }
    let wire = transmitted(&mut c);
    assert_eq!(data_frames(&wire).len(), 3);
    s.handle_input(T0, &wire);
    assert_eq!(messages(&mut s).len(), 25);
}

#[test]
fn text_and_binary_keep_their_order() {
    let config = Config::default().subprotocols(batched());
    let (mut c, mut s) = Pair::connect(config.clone(), config).into_connections();
    let sent = vec![
        binary(1, 3),
        binary(2, 3),
        Message::text("between"),
        binary(3, 3),
    ];
    for m in &sent {
        c.send(m.clone()).unwrap();
    }
    let wire = transmitted(&mut c);
    assert_eq!(data_frames(&wire).len(), 3);
    s.handle_input(T0, &wire);
    assert_eq!(messages(&mut s), sent);
}

#[test]
fn malformed_batches_close_with_1007_and_deliver_nothing() {
    let config = Config::default().subprotocols(batched());
    let (_, mut s) = Pair::connect(config.clone(), config).into_connections();
    // A whole message in front, then a truncated batch.
    let mut wire = Vec::new();
    for payload in [&b"\x02ok"[..], b"\x02ok\x05abc"] {
        wire.extend(encode_frame(true, OpCode::Binary, payload, Some([0; 4])));
    }
    s.handle_input(T0, &wire);
    let ev = events(&mut s);
    assert_eq!(ev.len(), 2, "{ev:?}");
    assert_eq!(
        ev[0],
        Event::Message(Message::Binary(Bytes::from_static(b"ok")))
    );
    let Event::Closed(closed) = &ev[1] else {
        panic!("{ev:?}")
    };
    assert_eq!(closed.code, CloseCode::INVALID_PAYLOAD);
    assert_eq!(
        closed.cause,
        CloseCause::Protocol(ProtocolError::InvalidBatch(BatchError::TruncatedMessage {
            offset: 4
        }))
    );
    let close = transmitted(&mut s);
    assert_eq!(&close[..1], &[0x88]);
    assert_eq!(&close[2..4], &[0x03, 0xef]);
    // The reason names the offset.
    let reason = core::str::from_utf8(&close[4..]).unwrap();
    assert_eq!(
        reason,
        "malformed batch at byte 4: message runs past the batch"
    );
}

#[test]
fn batched_messages_keep_their_place_among_other_events() {
    let config = Config::default().subprotocols(batched());
    let (_, mut s) = Pair::connect(config.clone(), config).into_connections();
    let wire = [
        encode_frame(true, OpCode::Binary, b"\x01a\x01b\x01c", Some([0; 4])),
        encode_frame(true, OpCode::Ping, b"p", Some([0; 4])),
        encode_frame(true, OpCode::Binary, b"\x02de", Some([0; 4])),
        // A violation: everything before it is delivered, then the close.
        encode_frame(true, OpCode::Binary, b"\x01f\x05g", Some([0; 4])),
        encode_frame(true, OpCode::Binary, b"\x01h", Some([0; 4])),
    ]
    .concat();
    s.handle_input(T0, &wire);
    let bin = |b: &'static [u8]| Event::Message(Message::Binary(Bytes::from_static(b)));
    // Take the first message alone: the pong must already be queued
    // behind nothing but the batch, and no close yet.
    assert_eq!(s.poll_event(), Some(bin(b"a")));
    assert!(!s.is_closed());
    let rest = events(&mut s);
    let (closed, before) = rest.split_last().unwrap();
    assert_eq!(
        before,
        [
            bin(b"b"),
            bin(b"c"),
            Event::Ping(Bytes::from_static(b"p")),
            bin(b"de")
        ]
    );
    let Event::Closed(closed) = closed else {
        panic!("{rest:?}")
    };
    assert_eq!(closed.code, CloseCode::INVALID_PAYLOAD);
    // The pong goes out before the close frame.
    let out = transmitted(&mut s);
    assert_eq!(out[0], 0x8A);
    assert_eq!(out[3], 0x88);
}

#[test]
fn a_batch_being_taken_stays_ahead_of_what_arrives_later() {
    let config = Config::default().subprotocols(batched());
    let (_, mut s) = Pair::connect(config.clone(), config).into_connections();
    let bin = |b: &'static [u8]| Event::Message(Message::Binary(Bytes::from_static(b)));
    s.handle_input(
        T0,
        &encode_frame(true, OpCode::Binary, b"\x01a\x01b\x01c", Some([0; 4])),
    );
    assert_eq!(s.poll_event(), Some(bin(b"a")));
    // Undelivered messages of a batch keep the connection from sleeping.
    assert_eq!(s.can_hibernate(), Err(HibernateError::EventsPending));
    let wire = [
        encode_frame(true, OpCode::Ping, b"p", Some([0; 4])),
        encode_frame(true, OpCode::Binary, b"\x01d", Some([0; 4])),
        encode_frame(true, OpCode::Close, &[0x03, 0xe8], Some([0; 4])),
    ]
    .concat();
    s.handle_input(T0, &wire);
    assert_eq!(s.poll_event(), Some(bin(b"b")));
    assert_eq!(s.poll_event(), Some(bin(b"c")));
    assert_eq!(s.poll_event(), Some(Event::Ping(Bytes::from_static(b"p"))));
    assert_eq!(s.poll_event(), Some(bin(b"d")));
    // The close is answered only once the application has seen it.
    let pong = transmitted(&mut s);
    assert_eq!(pong[0], 0x8A);
    assert_eq!(pong.len(), 3, "{pong:?}");
    let Some(Event::CloseReceived(frame)) = s.poll_event() else {
        panic!("close expected")
    };
    assert_eq!(frame.code, CloseCode::NORMAL);
    assert_eq!(transmitted(&mut s)[0], 0x88);
}

#[test]
fn poll_batched_leaves_the_messages_before_a_violation_to_poll_event() {
    let config = Config::default().subprotocols(batched());
    let (_, mut s) = Pair::connect(config.clone(), config).into_connections();
    let wire = [
        encode_frame(true, OpCode::Binary, b"\x01a\x01b", Some([0; 4])),
        encode_frame(true, OpCode::Binary, b"\x05a", Some([0; 4])),
    ]
    .concat();
    s.handle_input(T0, &wire);
    // `poll_event` counts them out before the close.
    assert_eq!(s.poll_batched(), None);
    let ev = events(&mut s);
    assert_eq!(ev.len(), 3, "{ev:?}");
    assert_eq!(ev[1], Event::Message(Message::binary(&b"b"[..])));
    assert!(matches!(&ev[2], Event::Closed(_)), "{ev:?}");
}

#[test]
fn batch_limits_close_with_their_codes() {
    let tight = Config::default()
        .subprotocols(batched())
        .batch(BatchConfig::default().max_messages(2).max_bytes(64));
    for (messages, code) in [
        (vec![binary(0, 1); 3], CloseCode::POLICY),
        (vec![binary(0, 100)], CloseCode::TOO_BIG),
    ] {
        let (mut c, mut s) =
            Pair::connect(Config::default().subprotocols(batched()), tight.clone())
                .into_connections();
        for m in messages {
            c.send(m).unwrap();
        }
        s.handle_input(T0, &transmitted(&mut c));
        let ev = events(&mut s);
        assert!(
            matches!(&ev[..], [Event::Closed(closed)] if closed.code == code),
            "{ev:?}"
        );
    }
}

#[test]
fn linger_holds_a_partial_batch_until_its_deadline() {
    let linger = Duration::from_millis(5);
    let config = Config::default()
        .subprotocols(batched())
        .batch(BatchConfig::default().linger(linger));
    let (mut c, mut s) = Pair::connect(config.clone(), config).into_connections();
    let now = T0 + Duration::from_millis(100);
    c.handle_timeout(now);
    c.send(binary(1, 10)).unwrap();
    // Pings still go out while the batch waits.
    c.ping(Bytes::from_static(b"p")).unwrap();
    let first = transmitted(&mut c);
    assert!(data_frames(&first).is_empty());
    assert_eq!(first.len(), 2 + 4 + 1);
    assert_eq!(c.poll_timeout(), Some(now + linger));
    c.send(binary(2, 10)).unwrap();
    c.handle_timeout(now + linger);
    let wire = transmitted(&mut c);
    assert_eq!(data_frames(&wire).len(), 1);
    s.handle_input(now, &first);
    s.handle_input(now, &wire);
    assert_eq!(messages(&mut s), vec![binary(1, 10), binary(2, 10)]);

    // Closing writes a waiting batch before the close frame.
    c.send(binary(3, 10)).unwrap();
    c.close(now + linger, CloseCode::NORMAL, "").unwrap();
    let wire = transmitted(&mut c);
    s.handle_input(now, &wire);
    let ev = events(&mut s);
    assert_eq!(ev.first(), Some(&Event::Message(binary(3, 10))));
    assert!(matches!(ev.get(1), Some(Event::CloseReceived(_))));
}

#[test]
fn auto_responses_apply_per_logical_message_and_batch_their_answers() {
    let config = Config::default().subprotocols(batched());
    let (mut c, mut s) = Pair::connect(config.clone(), config).into_connections();
    let ping = Message::Binary(Bytes::from_static(b"heartbeat"));
    let pong = Message::Binary(Bytes::from_static(b"alive"));
    s.set_auto_response(ping.clone(), pong.clone());
    for m in [ping.clone(), binary(9, 2), ping] {
        c.send(m).unwrap();
    }
    s.handle_input(T0, &transmitted(&mut c));
    assert_eq!(messages(&mut s), vec![binary(9, 2)]);
    let answer = transmitted(&mut s);
    assert_eq!(data_frames(&answer), vec![b"\x05alive\x05alive".to_vec()]);
    c.handle_input(T0, &answer);
    assert_eq!(messages(&mut c), vec![pong.clone(), pong]);
}

#[cfg(feature = "deflate")]
#[test]
fn one_compression_per_batch() {
    let config = Config::default()
        .subprotocols(batched())
        .deflate(Some(Default::default()));
    let (mut c, mut s) = Pair::connect(config.clone(), config).into_connections();
    assert!(c.deflate().is_some());
    let sent: Vec<Message> = (0..200)
        .map(|i| {
            Message::Binary(Bytes::from(alloc::format!(
                "{{\"id\":{i},\"op\":\"insert\"}}"
            )))
        })
        .collect();
    for m in &sent {
        c.send(m.clone()).unwrap();
    }
    let wire = transmitted(&mut c);
    let frames = data_frames(&wire);
    assert_eq!(frames.len(), 1);
    // RSV1 on the one frame: the batch was compressed as a whole.
    assert_eq!(wire[0] & 0x40, 0x40);
    let plain: usize = sent.iter().map(|m| m.payload().len() + 1).sum();
    assert!(
        frames[0].len() < plain / 3,
        "{} vs {plain}",
        frames[0].len()
    );
    s.handle_input(T0, &wire);
    assert_eq!(messages(&mut s), sent);
}

/// A self-delimiting test format: a length byte, then that many bytes.
fn tlv(buf: &[u8]) -> Option<usize> {
    buf.first().map(|&n| 1 + usize::from(n))
}

#[test]
fn self_delimiting_framing_costs_nothing() {
    let protocol = vec![Subprotocol::batched_with(
        "tlv",
        Framing::SelfDelimiting(tlv),
    )];
    let config = Config::default().subprotocols(protocol);
    let (mut c, mut s) = Pair::connect(config.clone(), config).into_connections();
    let sent: Vec<Message> = (0..10u8)
        .map(|i| Message::Binary(Bytes::from(vec![3, i, i, i])))
        .collect();
    for m in &sent {
        c.send(m.clone()).unwrap();
    }
    let wire = transmitted(&mut c);
    assert_eq!(
        data_frames(&wire),
        vec![sent
            .iter()
            .flat_map(|m| m.payload().to_vec())
            .collect::<Vec<u8>>()]
    );
    s.handle_input(T0, &wire);
    assert_eq!(messages(&mut s), sent);
}

/// One step of a random exchange: send a message of this length, or take
/// the transmits so far (and deliver them in chunks of this size).
#[derive(Clone, Debug)]
enum Step {
    Send(u16),
    Text(u8),
    Flush(u8),
}

impl quickcheck::Arbitrary for Step {
    fn arbitrary(g: &mut quickcheck::Gen) -> Self {
        match u8::arbitrary(g) % 8 {
            0 => Step::Flush(u8::arbitrary(g)),
            1 => Step::Text(u8::arbitrary(g)),
            _ => Step::Send(u16::arbitrary(g) % 3000),
        }
    }
}

quickcheck! {
    fn random_sequences_round_trip_at_random_caps(steps: Vec<Step>, cap: u16, max: u8) -> TestResult {
        let limits = BatchConfig::default()
            .cap(usize::from(cap).max(1))
            .max_messages(usize::from(max).max(1));
        let config = Config::default().subprotocols(batched()).batch(limits);
        let (mut c, mut s) = Pair::connect(config.clone(), config).into_connections();
        let mut sent = Vec::new();
        let mut received = Vec::new();
        let deliver = |c: &mut Connection, s: &mut Connection, chunk: usize| {
            let wire = transmitted(c);
            for piece in wire.chunks(chunk.max(1)) {
                s.handle_input(T0, piece);
            }
            messages(s)
        };
        for (i, step) in steps.iter().enumerate() {
            let message = match *step {
                Step::Send(len) => binary(i, usize::from(len)),
                Step::Text(len) => Message::text(String::from("t").repeat(usize::from(len))),
                Step::Flush(chunk) => {
                    received.extend(deliver(&mut c, &mut s, usize::from(chunk)));
                    continue;
                }
            };
            c.send(message.clone()).unwrap();
            sent.push(message);
        }
        received.extend(deliver(&mut c, &mut s, 7));
        if received != sent {
            return TestResult::error(alloc::format!("sent {} received {}", sent.len(), received.len()));
        }
        TestResult::passed()
    }

    fn split_invariance(lens: Vec<u16>, cuts: Vec<u16>) -> bool {
        let config = Config::default().subprotocols(batched());
        let (mut c, mut whole) = Pair::connect(config.clone(), config.clone()).into_connections();
        let (_, mut split) = Pair::connect(config.clone(), config).into_connections();
        for (i, len) in lens.iter().enumerate() {
            c.send(binary(i, usize::from(*len % 500))).unwrap();
        }
        let wire = transmitted(&mut c);
        whole.handle_input(T0, &wire);
        let mut rest = &wire[..];
        for cut in cuts {
            let n = usize::from(cut).min(rest.len());
            split.handle_input(T0, &rest[..n]);
            rest = &rest[n..];
        }
        split.handle_input(T0, rest);
        events(&mut whole) == events(&mut split)
    }
}
