//! Errors on the streaming envelope: per-stream errors (unknown streams,
//! chunks out of range, eviction of stalled streams, aborts, streams cut
//! short by the end of the connection) that leave the connection running,
//! and malformed records, which end it.

use super::*;

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
