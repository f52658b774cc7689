//! The outbound queue under any mix of sends, pings, streams and partial
//! writes: a message sent while nothing else waits takes a shorter way
//! than one sent behind others, and both must reach the peer in order,
//! before the close frame, whatever comes between them.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use quickcheck::{quickcheck, Arbitrary, Gen};

use super::*;
use crate::envelope::Subprotocol;
use crate::prepared::PreparedMessage;
use crate::test_support::{events, Pair};

/// What the server does next.
#[derive(Clone, Debug)]
enum Op {
    Send {
        text: bool,
        len: usize,
    },
    SendPrepared {
        len: usize,
    },
    Ping,
    Stream {
        len: usize,
    },
    /// Moves up to this many transmits to the client, one input each.
    Write(u8),
}

impl Arbitrary for Op {
    fn arbitrary(g: &mut Gen) -> Self {
        let len = match u8::arbitrary(g) % 4 {
            0 => 0,
            1 => usize::arbitrary(g) % 30,
            2 => usize::arbitrary(g) % 300,
            _ => 1000 + usize::arbitrary(g) % 3000,
        };
        match u8::arbitrary(g) % 8 {
            0 | 1 => Op::Send { text: true, len },
            2 | 3 => Op::Send { text: false, len },
            4 => Op::SendPrepared { len },
            5 => Op::Ping,
            6 => Op::Stream { len },
            _ => Op::Write(u8::arbitrary(g) % 4),
        }
    }
}

#[derive(Clone, Debug)]
struct Script {
    setup: u8,
    client: bool,
    ops: Vec<Op>,
}

impl Arbitrary for Script {
    fn arbitrary(g: &mut Gen) -> Self {
        Script {
            setup: u8::arbitrary(g),
            client: bool::arbitrary(g),
            ops: Vec::arbitrary(g),
        }
    }
}

fn config(setup: u8) -> Config {
    let plain = Config::default();
    match setup % 5 {
        0 => plain,
        1 => plain.fragment_size(100),
        2 => plain.subprotocols(vec![Subprotocol::batched("b")]),
        3 => plain.subprotocols(vec![Subprotocol::streamed("s")]),
        #[cfg(feature = "deflate")]
        _ => plain.deflate(Some(Default::default())),
        #[cfg(not(feature = "deflate"))]
        _ => plain.fragment_size(7),
    }
}

fn message(text: bool, len: usize, seq: usize) -> Message {
    let body: String = (0..len)
        .map(|i| char::from(b'a' + ((i + seq) % 26) as u8))
        .collect();
    if text {
        Message::text(body)
    } else {
        Message::binary(body.into_bytes())
    }
}

const STREAM_MARK: u8 = 0xff;

/// What one run sent and what its peer received.
struct Outcome {
    /// The messages sent, in order.
    sent: Vec<Message>,
    /// The streams sent, in order.
    streams: Vec<Bytes>,
    /// Every message received (a stream arrives as one), in order.
    received: Vec<Message>,
    /// Every other event received, in order.
    others: Vec<Event>,
}

/// Runs `script` with the sender on the side it names.
fn run(script: &Script) -> Outcome {
    let config = config(script.setup);
    let mut pair = Pair::connect(config.clone(), config);
    let now = pair.now;
    let (sender, receiver) = if script.client {
        (&mut pair.client, &mut pair.server)
    } else {
        (&mut pair.server, &mut pair.client)
    };
    let streamed = matches!(sender.subprotocol(), Some(name) if name == "s");
    let mut sent = Vec::new();
    let mut streams = Vec::new();
    let mut received = Vec::new();
    let mut others = Vec::new();
    let mut take = |receiver: &mut Connection| {
        for event in events(receiver) {
            match event {
                Event::Message(m) => received.push(m),
                other => others.push(other),
            }
        }
    };
    for (seq, op) in script.ops.iter().enumerate() {
        match *op {
            Op::Send { text, len } => {
                let m = message(text, len, seq);
                sender.send(m.clone()).unwrap();
                sent.push(m);
            }
            Op::SendPrepared { len } => {
                let m = message(false, len, seq);
                sender
                    .send_prepared(&PreparedMessage::new(m.clone()))
                    .unwrap();
                sent.push(m);
            }
            Op::Ping => sender.ping(Bytes::from_static(b"p")).unwrap(),
            Op::Stream { len } if streamed => {
                // Streams interleave with messages, so they are told
                // apart by a first byte no message starts with.
                let mut data = vec![STREAM_MARK];
                data.extend_from_slice(message(false, len, seq).payload());
                let data = Bytes::from(data);
                sender.send_stream(data.clone(), Bytes::new()).unwrap();
                streams.push(data);
            }
            Op::Stream { .. } => {}
            Op::Write(n) => {
                for _ in 0..n {
                    let Some(transmit) = sender.poll_transmit() else {
                        break;
                    };
                    let mut wire = Vec::new();
                    transmit.write_to(&mut wire);
                    receiver.handle_input(now, &wire);
                    // Pongs and stream refusals travel back.
                    while let Some(answer) = receiver.poll_transmit() {
                        let mut wire = Vec::new();
                        answer.write_to(&mut wire);
                        sender.handle_input(now, &wire);
                    }
                }
                take(receiver);
            }
        }
    }
    sender.close(now, CloseCode::NORMAL, "").unwrap();
    pair.drive();
    let receiver = if script.client {
        &mut pair.server
    } else {
        &mut pair.client
    };
    take(receiver);
    Outcome {
        sent,
        streams,
        received,
        others,
    }
}

#[test]
fn every_message_arrives_in_order_before_the_close() {
    fn property(script: Script) -> bool {
        let outcome = run(&script);
        let (mut streams, messages): (Vec<Message>, Vec<Message>) = outcome
            .received
            .into_iter()
            .partition(|m| m.payload().first() == Some(&STREAM_MARK));
        let mut sent_streams = outcome.streams;
        // Streams share the connection turn by turn, so they may end in
        // any order; each arrives whole.
        streams.sort_by(|a, b| a.payload().cmp(b.payload()));
        sent_streams.sort();
        let closed_cleanly = matches!(
            outcome.others.last(),
            Some(Event::Closed(closed)) if closed.cause == CloseCause::Remote
        );
        messages == outcome.sent
            && streams.iter().map(Message::payload).eq(sent_streams.iter())
            && closed_cleanly
    }
    quickcheck(property as fn(Script) -> bool);
}

#[test]
fn a_message_sent_alone_is_written_whole_and_leaves_nothing_queued() {
    let mut pair = Pair::connect(Config::default(), Config::default());
    for len in [0, 5, 24, 25, 125, 126, 1000] {
        let m = message(false, len, len);
        pair.server.send(m.clone()).unwrap();
        assert_eq!(pair.server.queued_bytes(), len);
        let transmit = pair.server.poll_transmit().unwrap();
        assert_eq!(pair.server.queued_bytes(), 0);
        assert!(pair.server.poll_transmit().is_none());
        let mut wire = Vec::new();
        transmit.write_to(&mut wire);
        pair.client.handle_input(pair.now, &wire);
        assert_eq!(events(&mut pair.client), vec![Event::Message(m)]);
    }
}

#[test]
fn a_message_sent_alone_then_a_ping_lets_the_ping_go_first() {
    let mut pair = Pair::connect(Config::default(), Config::default());
    pair.server.send(Message::text("first")).unwrap();
    pair.server.ping(Bytes::from_static(b"p")).unwrap();
    let first = pair.server.poll_transmit().unwrap();
    assert_eq!(first.header().first(), Some(&0x89), "the ping");
    let second = pair.server.poll_transmit().unwrap();
    assert_eq!(second.header().first(), Some(&0x81), "then the text");
}

#[cfg(feature = "deflate")]
#[test]
fn a_message_sent_alone_still_goes_through_the_codec() {
    let config = Config::default().deflate(Some(Default::default()));
    let mut pair = Pair::connect(config.clone(), config);
    let m = Message::text("a".repeat(1000));
    pair.server.send(m.clone()).unwrap();
    let transmit = pair.server.poll_transmit().unwrap();
    assert_eq!(transmit.header().first(), Some(&0xc1), "FIN, RSV1, text");
    assert!(transmit.len() < 100);
    let mut wire = Vec::new();
    transmit.write_to(&mut wire);
    pair.client.handle_input(pair.now, &wire);
    assert_eq!(events(&mut pair.client), vec![Event::Message(m)]);
}
