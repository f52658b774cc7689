//! Receiving streams: pieces handed out as they arrive in incremental
//! mode, and random interleavings of streams and small messages arriving
//! exact in both receive modes.

use super::*;

#[test]
fn incremental_mode_streams_pieces_without_holding_them() {
    let receiver = streamed().receive_mode(ReceiveMode::Incremental);
    let (mut c, mut s) = Pair::connect(streamed(), receiver).into_connections();
    let id = c
        .send_stream(
            payload(1000, 5),
            Bytes::from_static(b"application/octet-stream"),
        )
        .unwrap();
    s.handle_input(T0, &transmitted(&mut c));
    let all = events(&mut s);
    let evs = stream_events(&all);
    assert_eq!(
        evs[0],
        &StreamEvent::Started {
            id,
            total_len: 1000,
            metadata: Bytes::from_static(b"application/octet-stream")
        }
    );
    let mut data = Vec::new();
    for e in &evs[1..evs.len() - 1] {
        let StreamEvent::Data {
            id: got,
            data: piece,
        } = e
        else {
            panic!("{e:?}")
        };
        assert_eq!(*got, id);
        assert!(piece.len() <= 300);
        data.extend_from_slice(piece);
    }
    assert_eq!(data, payload(1000, 5));
    assert_eq!(evs.last(), Some(&&StreamEvent::Finished { id }));
    // Ordinary messages still arrive whole in incremental mode's envelope.
    c.send(Message::Binary(Bytes::from_static(b"small")))
        .unwrap();
    s.handle_input(T0, &transmitted(&mut c));
    assert_eq!(
        messages(&mut s),
        vec![Message::Binary(Bytes::from_static(b"small"))]
    );
}

#[derive(Clone, Debug)]
enum Op {
    Small(u8),
    Large(u16),
    Flush(u16),
}

impl quickcheck::Arbitrary for Op {
    fn arbitrary(g: &mut quickcheck::Gen) -> Self {
        match u8::arbitrary(g) % 6 {
            0 => Op::Large(u16::arbitrary(g)),
            1 => Op::Flush(u16::arbitrary(g)),
            _ => Op::Small(u8::arbitrary(g)),
        }
    }
}

quickcheck! {
    /// Concurrent streams and small messages, random chunk sizes and read
    /// boundaries: every payload arrives exact, small messages in order.
    fn streams_round_trip(ops: Vec<Op>, chunk: u16, per_turn: u8, incremental: bool) -> TestResult {
        let stream_config = StreamConfig::default()
            .send_threshold(Some(700))
            .chunk_size(usize::from(chunk % 2000).max(1))
            .chunks_per_turn(usize::from(per_turn % 8).max(1));
        let config = streamed().stream(stream_config);
        let receiver = if incremental { config.clone().receive_mode(ReceiveMode::Incremental) } else { config.clone() };
        let (mut c, mut s) = Pair::connect(config, receiver).into_connections();
        let mut small_sent = Vec::new();
        let mut large_sent = Vec::new();
        let mut got_small = Vec::new();
        let mut assembled: BTreeMap<StreamId, Vec<u8>> = BTreeMap::new();
        let mut got_large = Vec::new();
        let mut drain = |c: &mut Connection, s: &mut Connection, cut: usize,
                         got_small: &mut Vec<Message>, got_large: &mut Vec<Bytes>| {
            let wire = transmitted(c);
            for piece in wire.chunks(cut.max(1)) {
                s.handle_input(T0, piece);
            }
            for event in events(s) {
                match event {
                    Event::Message(m) if m.payload().len() > 700 => got_large.push(m.into_payload()),
                    Event::Message(m) => got_small.push(m),
                    Event::Stream(StreamEvent::Started { id, .. }) => { assembled.insert(id, Vec::new()); }
                    Event::Stream(StreamEvent::Data { id, data }) => {
                        assembled.entry(id).or_default().extend_from_slice(&data);
                    }
                    Event::Stream(StreamEvent::Finished { id }) => {
                        got_large.push(Bytes::from(assembled.remove(&id).unwrap_or_default()));
                    }
                    _ => {}
                }
            }
        };
        for (i, op) in ops.iter().enumerate() {
            match *op {
                Op::Small(len) => {
                    let m = Message::Binary(payload(usize::from(len), i as u8));
                    c.send(m.clone()).unwrap();
                    small_sent.push(m);
                }
                Op::Large(len) => {
                    let p = payload(701 + usize::from(len % 6000), i as u8);
                    c.send(Message::Binary(p.clone())).unwrap();
                    large_sent.push(p);
                }
                Op::Flush(cut) => drain(&mut c, &mut s, usize::from(cut), &mut got_small, &mut got_large),
            }
        }
        drain(&mut c, &mut s, 4096, &mut got_small, &mut got_large);
        if got_small != small_sent {
            return TestResult::error("small messages differ");
        }
        let mut want = large_sent;
        let mut got = got_large;
        want.sort();
        got.sort();
        if want != got {
            return TestResult::error(alloc::format!("{} streams sent, {} received", want.len(), got.len()));
        }
        TestResult::passed()
    }
}
