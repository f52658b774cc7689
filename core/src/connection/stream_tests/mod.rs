//! The streaming envelope through whole connections: interleaving,
//! fairness, both receive modes, per-stream errors, eviction and aborts.

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use quickcheck::{quickcheck, TestResult};

use super::batch_tests::{data_frames, messages};
use super::*;
use crate::config::ReceiveMode;
use crate::envelope::stream::StreamError;
use crate::envelope::stream::{AbortCode, ChunkSource, Record, StreamConfig};
use crate::envelope::stream::{StreamId, StreamSource};
use crate::envelope::Subprotocol;
use crate::frame::FrameHeader;
use crate::frame::OpCode;
use crate::test_support::{encode_frame, events, pump_each, pump_n, transmitted, FrameSpec, Pair};

const T0: Instant = Instant::ZERO;

fn streamed() -> Config {
    Config::default()
        .subprotocols(vec![Subprotocol::streamed("files.v2")])
        .stream(
            StreamConfig::default()
                .send_threshold(Some(1000))
                .chunk_size(300),
        )
}

fn payload(len: usize, seed: u8) -> Bytes {
    Bytes::from(
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31) ^ seed)
            .collect::<Vec<u8>>(),
    )
}

/// The records in `wire`, decoded.
fn records(wire: &[u8]) -> Vec<Record> {
    data_frames(wire)
        .into_iter()
        .map(|p| Record::decode(&Bytes::from(p)).unwrap())
        .collect()
}

fn stream_events(all: &[Event]) -> Vec<&StreamEvent> {
    all.iter()
        .filter_map(|e| match e {
            Event::Stream(s) => Some(s),
            _ => None,
        })
        .collect()
}

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

fn raw(record: &Record) -> Vec<u8> {
    encode_frame(true, OpCode::Binary, &record.encode(), Some([0; 4]))
}

#[test]
fn per_stream_errors_keep_the_connection() {
    let (_, mut s) = Pair::connect(streamed(), streamed()).into_connections();
    let bad = [
        Record::Chunk {
            id: 9,
            offset: 0,
            data: Bytes::from_static(b"x"),
        },
        Record::Open {
            id: 1,
            total_len: 4,
            metadata: Bytes::new(),
        },
        Record::Chunk {
            id: 1,
            offset: 2,
            data: Bytes::from_static(b"x"),
        },
    ];
    for record in &bad {
        s.handle_input(T0, &raw(record));
    }
    let all = events(&mut s);
    let failures: Vec<_> = stream_events(&all)
        .into_iter()
        .map(|e| match e {
            StreamEvent::Failed { id, error, .. } => (*id, error.clone()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        failures,
        vec![
            (9, StreamError::UnknownStream),
            (1, StreamError::OutOfRange { offset: 2, len: 1 })
        ]
    );
    let refusals = records(&transmitted(&mut s));
    assert!(matches!(
        refusals[..],
        [
            Record::Refuse { id: 9, .. },
            Record::Refuse {
                id: 1,
                code: AbortCode::INVALID,
                ..
            }
        ]
    ));
    assert!(s.is_open());
    // The connection still carries messages.
    s.handle_input(T0, &raw(&Record::Batch(Bytes::from_static(b"\x02ok"))));
    assert_eq!(
        messages(&mut s),
        vec![Message::Binary(Bytes::from_static(b"ok"))]
    );
}

#[test]
fn stalled_streams_are_evicted_after_the_ttl() {
    let config = streamed().stream(StreamConfig::default().ttl(Duration::from_secs(60)));
    let (_, mut s) = Pair::connect(streamed(), config).into_connections();
    let open = Record::Open {
        id: 4,
        total_len: 10,
        metadata: Bytes::new(),
    };
    s.handle_input(T0, &raw(&open));
    let later = T0 + Duration::from_secs(20);
    s.handle_input(
        later,
        &raw(&Record::Chunk {
            id: 4,
            offset: 0,
            data: Bytes::from_static(b"abc"),
        }),
    );
    assert_eq!(s.poll_timeout(), Some(later + Duration::from_secs(60)));
    s.handle_timeout(later + Duration::from_secs(59));
    assert!(stream_events(&events(&mut s)).is_empty());
    s.handle_timeout(later + Duration::from_secs(60));
    let all = events(&mut s);
    assert!(matches!(
        stream_events(&all)[..],
        [StreamEvent::Failed {
            id: 4,
            error: StreamError::Expired,
            ..
        }]
    ));
    assert!(matches!(
        records(&transmitted(&mut s))[..],
        [Record::Refuse {
            id: 4,
            code: AbortCode::EXPIRED,
            ..
        }]
    ));
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn aborting_a_stream_tells_the_receiver() {
    let (mut c, mut s) = Pair::connect(streamed(), streamed()).into_connections();
    let id = c.send_stream(payload(3000, 6), Bytes::new()).unwrap();
    pump_n(&mut c, &mut s, T0, 3);
    c.abort_stream(id, "changed my mind").unwrap();
    assert_eq!(c.abort_stream(id, ""), Err(SendError::UnknownStream(id)));
    pump_each(&mut c, &mut s, T0);
    let all = events(&mut s);
    assert!(matches!(
        stream_events(&all)[..],
        [StreamEvent::Failed {
            direction: Direction::Inbound,
            error: StreamError::Aborted {
                code: AbortCode::CANCELLED,
                ..
            },
            ..
        }]
    ));
    assert!(messages(&mut s).is_empty());
}

#[test]
fn a_refused_stream_stops_sending() {
    let small = streamed().stream(StreamConfig::default().max_stream_size(100));
    let (mut c, mut s) = Pair::connect(streamed(), small).into_connections();
    c.send(Message::Binary(payload(5000, 7))).unwrap();
    pump_n(&mut c, &mut s, T0, 1); // the open record
    pump_each(&mut s, &mut c, T0); // the refusal
    let all = events(&mut c);
    assert!(matches!(
        stream_events(&all)[..],
        [StreamEvent::Failed {
            id: 0,
            direction: Direction::Outbound,
            error: StreamError::Aborted {
                code: AbortCode::LIMIT,
                ..
            }
        }]
    ));
    assert!(c.poll_transmit().is_none(), "no chunk after the refusal");
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

#[test]
fn malformed_records_fail_the_connection() {
    let (_, mut s) = Pair::connect(streamed(), streamed()).into_connections();
    s.handle_input(T0, &raw(&Record::Batch(Bytes::new()))[..]);
    let mut bad = raw(&Record::End { id: 1 });
    // Rewrite the tag to an unknown one (the mask is zero).
    let tag_at = bad.len() - 2;
    bad[tag_at] = 0x7f;
    s.handle_input(T0, &bad);
    let all = events(&mut s);
    let Some(Event::Closed(closed)) = all.last() else {
        panic!("the connection did not close: {all:?}");
    };
    assert!(matches!(
        **closed,
        Closed {
            code: CloseCode::INVALID_PAYLOAD,
            cause: CloseCause::Protocol(ProtocolError::InvalidStreamRecord(_)),
            ..
        }
    ));
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

#[test]
fn streams_cut_short_by_the_end_of_the_connection_are_reported() {
    let (mut c, mut s) = Pair::connect(streamed(), streamed()).into_connections();
    c.send(Message::Binary(payload(3000, 9))).unwrap();
    pump_n(&mut c, &mut s, T0, 3);
    // The receiver fails the connection mid-stream (a bad close code).
    s.handle_input(T0, &raw_close(999));
    let all = events(&mut s);
    assert!(matches!(
        &all[..],
        [
            Event::Stream(StreamEvent::Failed {
                id: 0,
                direction: Direction::Inbound,
                error: StreamError::ConnectionClosed
            }),
            Event::Closed(_)
        ]
    ));

    // The sender's close deadline passes with the stream unfinished: the
    // stream is abandoned and reported before Closed.
    c.close(T0, CloseCode::NORMAL, "").unwrap();
    c.handle_timeout(T0 + Duration::from_secs(60));
    let all = events(&mut c);
    assert!(
        matches!(
            &all[..],
            [
                Event::Stream(StreamEvent::Failed {
                    id: 0,
                    direction: Direction::Outbound,
                    error: StreamError::ConnectionClosed
                }),
                Event::Closed(_)
            ]
        ),
        "{all:?}"
    );
}

fn raw_close(code: u16) -> Vec<u8> {
    FrameSpec::close(code, "").masked([0; 4]).encode()
}

fn chunk(id: StreamId, offset: u64, data: Bytes) -> Record {
    Record::Chunk { id, offset, data }
}

#[test]
fn a_pushed_stream_writes_nothing_until_bytes_are_pushed() {
    let (mut c, mut s) = Pair::connect(streamed(), streamed()).into_connections();
    let id = c.open_stream(500, Bytes::from_static(b"m")).unwrap();
    assert!(c.poll_transmit().is_none(), "nothing before the first push");
    assert_eq!(c.queued_bytes(), 0);
    assert_eq!(c.poll_timeout(), None, "no timer spins for the stream");
    // Other streams and messages go past it meanwhile.
    c.send_stream(payload(700, 1), Bytes::new()).unwrap();
    c.send(Message::text("hi")).unwrap();
    let wire = transmitted(&mut c);
    s.handle_input(T0, &wire);
    assert_eq!(
        messages(&mut s),
        vec![Message::text("hi"), Message::Binary(payload(700, 1))]
    );
    assert!(
        c.poll_transmit().is_none(),
        "still nothing of the pushed stream"
    );
    c.push_stream(id, payload(500, 2)).unwrap();
    pump_each(&mut c, &mut s, T0);
    assert_eq!(messages(&mut s), vec![Message::Binary(payload(500, 2))]);
}

#[test]
fn pushed_bytes_go_out_as_exact_records_interleaved_with_messages() {
    // The server's frames are not masked, so the records are read as sent.
    let (mut c, mut s) = Pair::connect(streamed(), streamed()).into_connections();
    let id = s.open_stream(700, Bytes::from_static(b"type")).unwrap();
    let data = payload(700, 3);
    s.push_stream(id, data.slice(..400)).unwrap();
    assert_eq!(s.queued_bytes(), 400);
    // Open, then a chunk of `chunk_size`; the message goes between the
    // stream's records; the rest of the first push is cut at its end.
    let head = bytes_of_n(&mut s, 2);
    let first = records(&head);
    s.send(Message::text("between")).unwrap();
    let mut wire = transmitted(&mut s);
    assert_eq!(s.queued_bytes(), 0);
    s.push_stream(id, data.slice(400..)).unwrap();
    assert_eq!(s.queued_bytes(), 300);
    wire.extend(transmitted(&mut s));
    assert_eq!(
        first,
        vec![
            Record::Open {
                id,
                total_len: 700,
                metadata: Bytes::from_static(b"type"),
            },
            chunk(id, 0, data.slice(..300)),
        ]
    );
    let frames = data_frames(&wire);
    assert_eq!(&frames[0][..], b"between");
    let rest: Vec<Record> = frames[1..]
        .iter()
        .map(|f| Record::decode(&Bytes::from(f.clone())).unwrap())
        .collect();
    assert_eq!(
        rest,
        vec![
            chunk(id, 300, data.slice(300..400)),
            chunk(id, 400, data.slice(400..700)),
            Record::End { id },
        ]
    );
    // A chunk record byte for byte: tag 2, id 0, offset 400 (varint
    // `90 03`), then the data.
    assert_eq!(&frames[2][..4], &[2, 0, 0x90, 0x03]);
    c.handle_input(T0, &head);
    c.handle_input(T0, &wire);
    assert_eq!(
        messages(&mut c),
        vec![Message::text("between"), Message::Binary(data)]
    );
}

/// The first `n` transmits of `conn`, written out.
fn bytes_of_n(conn: &mut Connection, n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..n {
        conn.poll_transmit().unwrap().write_to(&mut out);
    }
    out
}

#[test]
fn pushing_past_the_announced_length_is_refused_whole() {
    let (_, mut s) = Pair::connect(streamed(), streamed()).into_connections();
    let id = s.open_stream(10, Bytes::new()).unwrap();
    s.push_stream(id, payload(6, 4)).unwrap();
    assert_eq!(
        s.push_stream(id, payload(5, 5)),
        Err(SendError::PushPastEnd {
            id,
            announced: 10,
            would_be: 11
        })
    );
    assert_eq!(s.queued_bytes(), 6, "nothing of the refused push is queued");
    s.push_stream(id, payload(4, 5)).unwrap();
    let sent: Vec<Bytes> = records(&transmitted(&mut s))
        .into_iter()
        .filter_map(|r| match r {
            Record::Chunk { data, .. } => Some(data),
            _ => None,
        })
        .collect();
    assert_eq!(sent, vec![payload(6, 4), payload(4, 5)]);
    // The stream is complete and gone; others never took pushes.
    assert_eq!(
        s.push_stream(id, Bytes::from_static(b"x")),
        Err(SendError::UnknownStream(id))
    );
    let whole = s.send_stream(payload(5, 1), Bytes::new()).unwrap();
    assert_eq!(
        s.push_stream(whole, Bytes::from_static(b"x")),
        Err(SendError::NotPushed(whole))
    );
}

#[test]
fn a_pushed_stream_can_be_aborted() {
    let (mut c, mut s) = Pair::connect(streamed(), streamed()).into_connections();
    // Aborted before anything was pushed: the peer never hears of it.
    let quiet = c.open_stream(100, Bytes::new()).unwrap();
    c.abort_stream(quiet, "").unwrap();
    assert!(c.poll_transmit().is_none());

    let id = c.open_stream(1000, Bytes::new()).unwrap();
    c.push_stream(id, payload(900, 6)).unwrap();
    pump_n(&mut c, &mut s, T0, 2); // the open record and one chunk
    c.abort_stream(id, "gone").unwrap();
    let abort = Record::Abort {
        id,
        code: AbortCode::CANCELLED,
        reason: "gone".into(),
    };
    assert_eq!(
        c.queued_bytes(),
        abort.encode().len(),
        "the unwritten pushed bytes are dropped; the abort record counts"
    );
    assert_eq!(
        c.push_stream(id, payload(10, 6)),
        Err(SendError::UnknownStream(id))
    );
    let tail = records(&transmitted(&mut c));
    assert!(
        matches!(
            &tail[..],
            [Record::Abort { id: got, code: AbortCode::CANCELLED, .. }] if *got == id
        ),
        "{tail:?}"
    );
}

#[test]
fn a_pushed_stream_cut_short_by_the_end_of_the_connection_is_reported() {
    let (mut c, mut s) = Pair::connect(streamed(), streamed()).into_connections();
    let id = c.open_stream(1000, Bytes::new()).unwrap();
    c.push_stream(id, payload(400, 7)).unwrap();
    pump_each(&mut c, &mut s, T0);
    // The close frame waits for the stream, which waits for bytes that
    // never come; the close deadline ends the connection.
    c.close(T0, CloseCode::NORMAL, "").unwrap();
    assert!(c.poll_transmit().is_none());
    c.handle_timeout(T0 + Duration::from_secs(60));
    let all = events(&mut c);
    assert!(
        matches!(
            &all[..],
            [
                Event::Stream(StreamEvent::Failed {
                    id: got,
                    direction: Direction::Outbound,
                    error: StreamError::ConnectionClosed
                }),
                Event::Closed(_)
            ] if *got == id
        ),
        "{all:?}"
    );
    assert!(matches!(
        c.push_stream(id, payload(10, 7)),
        Err(SendError::Closing | SendError::Closed)
    ));

    // The peer failing the connection reports it too, and the close frame
    // does not wait for it.
    let (mut c, mut s) = Pair::connect(streamed(), streamed()).into_connections();
    let id = s.open_stream(1000, Bytes::new()).unwrap();
    s.push_stream(id, payload(10, 7)).unwrap();
    c.handle_input(T0, &transmitted(&mut s));
    s.handle_input(T0, &raw_close(999));
    let all = events(&mut s);
    assert!(
        all.iter().any(|e| matches!(
            e,
            Event::Stream(StreamEvent::Failed {
                direction: Direction::Outbound,
                error: StreamError::ConnectionClosed,
                ..
            })
        )),
        "{all:?}"
    );
    let wire = transmitted(&mut s);
    assert!(s.is_done(), "the close frame went out");
    c.handle_input(T0, &wire);
    assert!(events(&mut c)
        .iter()
        .any(|e| matches!(e, Event::CloseReceived(_) | Event::Closed(_))));
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

#[test]
fn an_expired_stream_holds_no_slot_for_input_that_arrives_before_the_timer() {
    let config = streamed().stream(
        StreamConfig::default()
            .max_streams(1)
            .ttl(Duration::from_secs(60)),
    );
    let (_, mut s) = Pair::connect(streamed(), config).into_connections();
    let open = |id| Record::Open {
        id,
        total_len: 10,
        metadata: Bytes::new(),
    };
    s.handle_input(T0, &raw(&open(1)));
    // The deadline passed but the timer has not run: the input comes first.
    let late = T0 + Duration::from_secs(61);
    s.handle_input(late, &raw(&open(2)));
    s.handle_input(
        late,
        &raw(&Record::Chunk {
            id: 2,
            offset: 0,
            data: Bytes::from_static(b"0123456789"),
        }),
    );
    s.handle_input(late, &raw(&Record::End { id: 2 }));
    let all = events(&mut s);
    assert!(
        matches!(
            stream_events(&all)[..],
            [StreamEvent::Failed {
                id: 1,
                error: StreamError::Expired,
                ..
            }]
        ),
        "{all:?}"
    );
    assert!(
        all.contains(&Event::Message(Message::Binary(Bytes::from_static(
            b"0123456789"
        ))))
    );
    assert!(matches!(
        records(&transmitted(&mut s))[..],
        [Record::Refuse {
            id: 1,
            code: AbortCode::EXPIRED,
            ..
        }]
    ));
}

#[test]
fn a_refused_stream_is_refused_once_however_many_chunks_follow() {
    let config = streamed().stream(StreamConfig::default().max_stream_size(100));
    let (_, mut s) = Pair::connect(streamed(), config).into_connections();
    let chunk = |id, offset| Record::Chunk {
        id,
        offset,
        data: Bytes::from_static(b"0123456789"),
    };
    let open = |id, total_len| Record::Open {
        id,
        total_len,
        metadata: Bytes::new(),
    };
    // Too large at open; a chunk out of range; chunks of a stream never
    // opened: each with chunks still in flight behind it.
    let mut wire = raw(&open(1, 1000));
    wire.extend(raw(&open(2, 20)));
    wire.extend(raw(&chunk(2, 5)));
    for offset in [0, 10, 20] {
        for id in [1, 2, 3] {
            wire.extend(raw(&chunk(id, offset)));
        }
    }
    for id in [1, 2, 3] {
        wire.extend(raw(&Record::End { id }));
    }
    s.handle_input(T0, &wire);
    let all = events(&mut s);
    let failed: Vec<(StreamId, StreamError)> = stream_events(&all)
        .into_iter()
        .map(|e| match e {
            StreamEvent::Failed { id, error, .. } => (*id, error.clone()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        failed,
        vec![
            (1, StreamError::TooLarge),
            (2, StreamError::OutOfRange { offset: 5, len: 10 }),
            (3, StreamError::UnknownStream),
        ]
    );
    let refused: Vec<StreamId> = records(&transmitted(&mut s))
        .into_iter()
        .map(|r| match r {
            Record::Refuse { id, .. } => id,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(refused, vec![1, 2, 3]);
    // A new open of a refused id is a new stream.
    let mut wire = raw(&open(1, 10));
    wire.extend(raw(&chunk(1, 0)));
    wire.extend(raw(&Record::End { id: 1 }));
    s.handle_input(T0, &wire);
    assert_eq!(
        messages(&mut s),
        vec![Message::Binary(Bytes::from_static(b"0123456789"))]
    );
}

/// A pull source that claims a length and never runs dry.
struct Endless(u64);

impl ChunkSource for Endless {
    fn total_len(&self) -> u64 {
        self.0
    }
    fn next_chunk(&mut self, max: usize) -> Option<Bytes> {
        Some(Bytes::from(vec![0; max]))
    }
}

#[test]
fn a_stream_over_the_sending_limit_is_refused_before_anything_is_written() {
    let (mut c, _) = Pair::connect(streamed(), streamed()).into_connections();
    assert_eq!(StreamConfig::default().max_send_size, 1 << 30);
    let huge = 2u64 << 30;
    assert_eq!(
        c.send_stream(StreamSource::Pull(Box::new(Endless(huge))), Bytes::new()),
        Err(SendError::StreamTooLarge {
            len: huge,
            max: 1 << 30
        })
    );
    assert_eq!(
        c.open_stream(huge, Bytes::new()),
        Err(SendError::StreamTooLarge {
            len: huge,
            max: 1 << 30
        })
    );
    assert!(c.poll_transmit().is_none(), "nothing was written");
    // At the limit is fine.
    assert_eq!(c.open_stream(1 << 30, Bytes::new()), Ok(0));

    // Binary messages sent as streams meet the same limit.
    let config = streamed().stream(
        StreamConfig::default()
            .send_threshold(Some(1000))
            .max_send_size(1500),
    );
    let (mut c, mut s) = Pair::connect(config.clone(), config).into_connections();
    assert_eq!(
        c.send(Message::Binary(payload(1501, 1))),
        Err(SendError::StreamTooLarge {
            len: 1501,
            max: 1500
        })
    );
    assert!(c.poll_transmit().is_none());
    c.send(Message::Binary(payload(1500, 1))).unwrap();
    pump_each(&mut c, &mut s, T0);
    assert_eq!(messages(&mut s), vec![Message::Binary(payload(1500, 1))]);
}

quickcheck! {
    /// Pushed streams fed in random pieces, with messages and transmits
    /// taken at random points, in either direction: every payload arrives
    /// exact, and what is queued is exactly what was pushed or sent and
    /// not yet written.
    fn pushed_streams_round_trip(pieces: Vec<(u16, bool)>, chunk: u16, from_server: bool) -> TestResult {
        let stream_config = StreamConfig::default()
            .send_threshold(None)
            .chunk_size(usize::from(chunk % 700).max(1));
        let config = streamed().stream(stream_config).fragment_size(512);
        let (mut c, mut s) = Pair::connect(config.clone(), config).into_connections();
        let (from, to) = if from_server { (&mut s, &mut c) } else { (&mut c, &mut s) };
        let total: usize = pieces.iter().map(|(len, _)| usize::from(len % 3000)).sum();
        let data = payload(total, 5);
        let id = from.open_stream(total as u64, Bytes::from_static(b"m")).unwrap();
        let mut at = 0;
        let mut sent_small = 0u8;
        for (len, flush) in pieces {
            let len = usize::from(len % 3000);
            if len > 0 {
                from.push_stream(id, data.slice(at..at + len)).unwrap();
                at += len;
            }
            if flush {
                from.send(Message::Binary(Bytes::from(vec![sent_small; 1]))).unwrap();
                sent_small += 1;
                pump_each(from, to, T0);
                if from.queued_bytes() != 0 {
                    return TestResult::error("bytes left queued after a drain");
                }
            }
        }
        pump_each(from, to, T0);
        let got = messages(to);
        let (small, large): (Vec<Message>, Vec<Message>) =
            got.into_iter().partition(|m| m.payload().len() == 1);
        let want_small: Vec<Message> =
            (0..sent_small).map(|i| Message::Binary(Bytes::from(vec![i; 1]))).collect();
        if total == 1 {
            return TestResult::discard();
        }
        if small != want_small {
            return TestResult::error("small messages differ");
        }
        if large != vec![Message::Binary(data)] {
            return TestResult::error("the pushed stream differs");
        }
        TestResult::passed()
    }
}

#[test]
fn refusals_a_peer_does_not_read_are_bounded_and_counted() {
    use super::outbound::MAX_PENDING_REFUSALS;
    let (_, mut s) = Pair::connect(streamed(), streamed()).into_connections();
    let mut held = 0;
    let mut refused = 0;
    // Chunks for ever new streams, while nothing we write is taken.
    for id in 0..(MAX_PENDING_REFUSALS as StreamId) * 4 {
        s.handle_input(T0, &raw(&chunk(id, 0, Bytes::from_static(b"x"))));
        let all = events(&mut s);
        refused += stream_events(&all).len();
        if s.is_closed() {
            let Some(Event::Closed(closed)) = all.last() else {
                panic!("{all:?}");
            };
            assert_eq!(closed.code, CloseCode::POLICY);
            assert_eq!(
                closed.cause,
                CloseCause::Protocol(ProtocolError::RefusalLimit)
            );
            break;
        }
        assert!(s.queued_bytes() > held, "each refusal counts as queued");
        held = s.queued_bytes();
    }
    assert!(s.is_closed(), "refusals grew without a bound");
    assert_eq!(refused, MAX_PENDING_REFUSALS);
    // The refusals that fit are written, then the close frame.
    let wire = transmitted(&mut s);
    let frames = data_frames(&wire);
    assert_eq!(frames.len(), MAX_PENDING_REFUSALS);
    let close = wire
        .windows(4)
        .rev()
        .find(|w| w[0] == 0x88)
        .expect("a close frame");
    assert_eq!(u16::from_be_bytes([close[2], close[3]]), 1008);
}

#[test]
fn refusals_a_peer_reads_never_reach_the_bound() {
    use super::outbound::MAX_PENDING_REFUSALS;
    let (_, mut s) = Pair::connect(streamed(), streamed()).into_connections();
    for id in 0..(MAX_PENDING_REFUSALS as StreamId) * 4 {
        s.handle_input(T0, &raw(&chunk(id, 0, Bytes::from_static(b"x"))));
        let _ = events(&mut s);
        let refusals = records(&transmitted(&mut s));
        assert!(matches!(refusals[..], [Record::Refuse { .. }]));
        assert_eq!(s.queued_bytes(), 0);
    }
    assert!(s.is_open());
}

#[test]
fn a_refusal_that_arrives_after_the_last_chunk_still_reaches_the_sender() {
    let small = streamed().stream(StreamConfig::default().max_stream_size(100));
    let (mut c, mut s) = Pair::connect(streamed(), small).into_connections();
    c.send(Message::Binary(payload(5000, 9))).unwrap();
    // The whole stream is written before the refusal comes back.
    pump_each(&mut c, &mut s, T0);
    pump_each(&mut s, &mut c, T0);
    let all = events(&mut c);
    assert!(
        matches!(
            stream_events(&all)[..],
            [StreamEvent::Failed {
                id: 0,
                direction: Direction::Outbound,
                error: StreamError::Aborted {
                    code: AbortCode::LIMIT,
                    ..
                }
            }]
        ),
        "{all:?}"
    );
    // A refusal for a stream never sent, or one already reported, is no
    // news.
    for id in [0, 7] {
        let refusal = Record::Refuse {
            id,
            code: AbortCode::LIMIT,
            reason: "again".into(),
        };
        c.handle_input(T0, &FrameSpec::binary(refusal.encode()).encode());
    }
    let after = events(&mut c);
    assert!(stream_events(&after).is_empty(), "{after:?}");
    assert!(c.is_open());
}
