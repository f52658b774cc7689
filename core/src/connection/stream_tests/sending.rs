//! Sending streams: large messages travel as streams, small messages
//! overtake them, streams take turns, pull sources, the frames chunk
//! records go out in (plain, without a copy, compressed), and the close
//! frame waiting for them.

use super::*;

#[test]
fn large_messages_travel_as_streams_and_arrive_whole() {
    let (mut c, mut s) = Pair::connect(streamed(), streamed()).into_connections();
    assert!(matches!(c.envelope(), Envelope::Streamed(_)));
    let big = Message::Binary(payload(2000, 1));
    c.send(big.clone()).unwrap();
    let wire = transmitted(&mut c);
    let recs = records(&wire);
    // Open, seven chunks of at most 300 bytes, end.
    assert_eq!(recs.len(), 1 + 7 + 1);
    assert!(matches!(
        recs[0],
        Record::Open {
            id: 0,
            total_len: 2000,
            ..
        }
    ));
    assert!(matches!(recs[8], Record::End { id: 0 }));
    s.handle_input(T0, &wire);
    assert_eq!(messages(&mut s), vec![big]);
}

#[test]
fn small_messages_overtake_a_stream_in_flight() {
    let (mut c, mut s) = Pair::connect(streamed(), streamed()).into_connections();
    let big = Message::Binary(payload(3000, 2));
    c.send(big.clone()).unwrap();
    // Let the stream start, then queue small messages.
    let first = c.poll_transmit().unwrap();
    let mut wire = Vec::new();
    first.write_to(&mut wire);
    for i in 0..3u8 {
        c.send(Message::Binary(Bytes::from(vec![i; 8]))).unwrap();
    }
    c.send(Message::text("hi")).unwrap();
    wire.extend(transmitted(&mut c));
    s.handle_input(T0, &wire);
    let got = messages(&mut s);
    assert_eq!(got.len(), 5);
    assert_eq!(got[0], Message::Binary(Bytes::from(vec![0; 8])));
    assert_eq!(got[3], Message::text("hi"));
    assert_eq!(got[4], big);
}

#[test]
fn streams_take_turns() {
    let config = streamed().stream(
        StreamConfig::default()
            .send_threshold(None)
            .chunk_size(10)
            .chunks_per_turn(2),
    );
    let (mut c, mut s) = Pair::connect(config.clone(), config).into_connections();
    let a = c
        .send_stream(payload(60, 3), Bytes::from_static(b"a"))
        .unwrap();
    let b = c
        .send_stream(payload(60, 4), Bytes::from_static(b"b"))
        .unwrap();
    assert_eq!((a, b), (0, 1));
    let wire = transmitted(&mut c);
    let order: Vec<StreamId> = records(&wire)
        .iter()
        .map(|r| match r {
            Record::Open { id, .. } | Record::Chunk { id, .. } | Record::End { id } => *id,
            other => panic!("{other:?}"),
        })
        .collect();
    // Two records of a stream, then the other's turn.
    assert_eq!(&order[..8], &[0, 0, 1, 1, 0, 0, 1, 1]);
    s.handle_input(T0, &wire);
    assert_eq!(
        messages(&mut s),
        vec![
            Message::Binary(payload(60, 3)),
            Message::Binary(payload(60, 4))
        ]
    );
}

#[test]
fn the_close_frame_waits_for_streams() {
    let (mut c, mut s) = Pair::connect(streamed(), streamed()).into_connections();
    c.send(Message::Binary(payload(2500, 8))).unwrap();
    c.close(T0, CloseCode::NORMAL, "done").unwrap();
    pump_each(&mut c, &mut s, T0);
    let all = events(&mut s);
    assert_eq!(
        all.first(),
        Some(&Event::Message(Message::Binary(payload(2500, 8))))
    );
    assert!(matches!(all.get(1), Some(Event::CloseReceived(_))));
}

struct Counter {
    left: u64,
}

impl ChunkSource for Counter {
    fn total_len(&self) -> u64 {
        1000
    }
    fn next_chunk(&mut self, max: usize) -> Option<Bytes> {
        let n = (max as u64).min(self.left);
        self.left -= n;
        (n > 0).then(|| Bytes::from(vec![b'z'; n as usize]))
    }
}

#[test]
fn pull_sources_stream_and_a_short_one_fails() {
    let (mut c, mut s) = Pair::connect(streamed(), streamed()).into_connections();
    c.send_stream(
        StreamSource::Pull(Box::new(Counter { left: 1000 })),
        Bytes::new(),
    )
    .unwrap();
    pump_each(&mut c, &mut s, T0);
    assert_eq!(
        messages(&mut s),
        vec![Message::Binary(Bytes::from(vec![b'z'; 1000]))]
    );

    let id = c
        .send_stream(
            StreamSource::Pull(Box::new(Counter { left: 400 })),
            Bytes::new(),
        )
        .unwrap();
    pump_each(&mut c, &mut s, T0);
    let mine = events(&mut c);
    assert!(matches!(
        stream_events(&mine)[..],
        [StreamEvent::Failed { id: got, direction: Direction::Outbound, error: StreamError::SourceFailed }] if *got == id
    ));
    let theirs = events(&mut s);
    assert!(matches!(
        stream_events(&theirs)[..],
        [StreamEvent::Failed {
            error: StreamError::Aborted {
                code: AbortCode::SOURCE_FAILED,
                ..
            },
            ..
        }]
    ));
}

#[test]
fn streams_need_the_streamed_envelope() {
    let plain = Config::default().subprotocols(vec![Subprotocol::batched("b")]);
    let (mut c, _) = Pair::connect(plain.clone(), plain).into_connections();
    assert_eq!(
        c.send_stream(Bytes::from_static(b"x"), Bytes::new()),
        Err(SendError::StreamsNotNegotiated)
    );
}

/// Each transmit of `conn` decoded: its frame header, and the record its
/// payload carries (unmasked).
fn transmits(conn: &mut Connection) -> Vec<(FrameHeader, Transmit)> {
    core::iter::from_fn(|| conn.poll_transmit())
        .map(|t| {
            let mut wire = Vec::new();
            t.write_to(&mut wire);
            let (header, _) = FrameHeader::decode(&wire).unwrap().unwrap();
            (header, t)
        })
        .collect()
}

#[test]
fn with_the_default_sizes_a_chunk_record_is_one_frame() {
    let config = Config::default()
        .subprotocols(vec![Subprotocol::streamed("files.v2")])
        .stream(StreamConfig::default().send_threshold(None));
    let (mut c, mut s) = Pair::connect(config.clone(), config).into_connections();
    let fragment = Config::default().fragment_size;
    let data = payload(600 << 10, 9);
    for sender in [&mut s, &mut c] {
        sender.send_stream(data.clone(), Bytes::new()).unwrap();
        let sent = transmits(sender);
        for (header, _) in &sent {
            assert!(header.fin, "a record split into fragments");
            assert_eq!(header.opcode, OpCode::Binary);
            assert!(header.payload_len as usize <= fragment);
        }
        // Open, three chunks, end.
        assert_eq!(sent.len(), 5);
    }
    s.send_stream(data.clone(), Bytes::new()).unwrap();
    pump_each(&mut s, &mut c, T0);
    assert_eq!(messages(&mut c), vec![Message::Binary(data.clone())]);
    c.send_stream(data.clone(), Bytes::new()).unwrap();
    pump_each(&mut c, &mut s, T0);
    assert_eq!(messages(&mut s), vec![Message::Binary(data)]);
}

#[test]
fn a_server_writes_chunks_from_the_callers_bytes_without_a_copy() {
    let (mut c, mut s) = Pair::connect(streamed(), streamed()).into_connections();
    let data = payload(700, 10);
    s.send_stream(data.clone(), Bytes::new()).unwrap();
    let pushed = payload(500, 11);
    let id = s.open_stream(500, Bytes::new()).unwrap();
    s.push_stream(id, pushed.clone()).unwrap();
    let mut wire = Vec::new();
    let mut shared = 0;
    for (header, t) in transmits(&mut s) {
        t.write_to(&mut wire);
        // The record's own bytes travel after the frame header.
        let record_len = header.payload_len as usize;
        let prefix_len = record_len.saturating_sub(t.payload().len());
        let prefix = &t.header()[t.header().len() - prefix_len..];
        let record = Bytes::from([prefix, &t.payload()[..]].concat());
        let Ok(Record::Chunk {
            id: got, offset, ..
        }) = Record::decode(&record)
        else {
            continue;
        };
        let source = if got == id { &pushed } else { &data };
        assert_eq!(
            t.payload().as_ptr(),
            source[offset as usize..].as_ptr(),
            "the chunk is a slice of the caller's bytes"
        );
        shared += 1;
    }
    assert_eq!(shared, 3 + 2);
    c.handle_input(T0, &wire);
    assert_eq!(
        messages(&mut c),
        vec![Message::Binary(data), Message::Binary(pushed)]
    );
}

#[cfg(feature = "deflate")]
#[test]
fn compressed_chunk_records_are_whole_frames_both_ways() {
    // Chunks fill their fragment; data that does not compress, compressed
    // all the same, makes each record a little larger than that.
    let deflate = crate::extension::deflate::DeflateConfig::default().always_compress(true);
    let config = streamed().fragment_size(300).deflate(Some(deflate));
    let (mut c, mut s) = Pair::connect(config.clone(), config).into_connections();
    assert!(c.deflate().is_some());
    let mut x = 0x2545_f491_4f6c_dd1d_u64;
    let noise = Bytes::from(
        (0..5000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect::<Vec<u8>>(),
    );
    let id = s.open_stream(5000, Bytes::new()).unwrap();
    s.push_stream(id, noise.clone()).unwrap();
    let sent = transmits(&mut s);
    assert!(sent.iter().any(|(h, _)| h.payload_len > 300));
    assert!(sent.iter().all(|(h, _)| h.fin), "no record in pieces");
    let mut wire = Vec::new();
    for (_, t) in sent {
        t.write_to(&mut wire);
    }
    c.handle_input(T0, &wire);
    assert_eq!(messages(&mut c), vec![Message::Binary(noise.clone())]);
    c.send_stream(noise.clone(), Bytes::new()).unwrap();
    pump_each(&mut c, &mut s, T0);
    assert_eq!(messages(&mut s), vec![Message::Binary(noise)]);
}
