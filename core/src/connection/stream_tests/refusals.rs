//! Refused streams: the sender stops, a refusal goes out once however
//! many chunks follow, streams over the sending limit, and the bound on
//! refusals a peer does not read.

use super::*;

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
