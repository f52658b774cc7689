//! Pushed streams: opened with a length, written as exact records as
//! bytes are pushed, refused past their length, aborted, cut short, and
//! random pushes arriving exact.

use super::*;

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
