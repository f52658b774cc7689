//! Hibernation: a connection with nothing in flight gives itself up for a
//! record and is rebuilt from it, and its peer cannot tell.

use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use quickcheck::{quickcheck, TestResult};

use super::*;
use crate::config::Keepalive;
use crate::envelope::batch::BatchConfig;
use crate::envelope::stream::{StreamConfig, StreamError};
use crate::envelope::Subprotocol;
use crate::extension::deflate::DeflateConfig;
use crate::frame::{apply_mask, FrameHeader, OpCode};
use crate::test_support::{events, transmitted, Pair};

fn secs(s: u64) -> Instant {
    Instant::from_elapsed(Duration::from_secs(s))
}

fn millis(ms: u64) -> Instant {
    Instant::from_elapsed(Duration::from_millis(ms))
}

/// Hibernates `conn`, stores and reads back its record, and resumes it.
fn cycle(conn: Connection, config: &Config, now: Instant) -> Connection {
    let record = match conn.hibernate() {
        Ok(record) => record,
        Err((_, error)) => panic!("cannot hibernate: {error}"),
    };
    let decoded = Hibernated::decode(&record.encode()).unwrap();
    assert_eq!(decoded, record);
    Connection::resume(decoded, config.clone(), now).unwrap()
}

/// Which end sleeps in the middle of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sleeper {
    Nobody,
    Client,
    Server,
}

/// Everything both ends wrote and surfaced during a run.
#[derive(Debug, Default, PartialEq)]
struct Run {
    client_wire: Vec<u8>,
    server_wire: Vec<u8>,
    client_events: Vec<Event>,
    server_events: Vec<Event>,
}

impl Run {
    /// Moves bytes both ways until both ends are quiet, recording them and
    /// the events they surface.
    fn exchange(&mut self, client: &mut Connection, server: &mut Connection, now: Instant) {
        loop {
            let up = transmitted(client);
            server.handle_input(now, &up);
            let down = transmitted(server);
            client.handle_input(now, &down);
            self.client_wire.extend_from_slice(&up);
            self.server_wire.extend_from_slice(&down);
            let (c, s) = (events(client), events(server));
            let quiet = up.is_empty() && down.is_empty() && c.is_empty() && s.is_empty();
            self.client_events.extend(c);
            self.server_events.extend(s);
            if quiet {
                return;
            }
        }
    }
}

#[derive(Clone)]
struct Case {
    client: Config,
    server: Config,
    /// Messages long enough to compress before the sleep.
    long_before: bool,
    /// Large messages, sent as streams, both before and after the sleep.
    streams: bool,
}

impl Case {
    fn new(config: Config) -> Case {
        Case {
            client: config.clone(),
            server: config,
            long_before: true,
            streams: false,
        }
    }
}

fn text_of(len: usize, seed: &str) -> Message {
    let mut text = String::new();
    while text.len() < len {
        text.push_str(seed);
        text.push(' ');
    }
    Message::text(text)
}

fn big_binary(len: usize, seed: u8) -> Message {
    Message::binary((0..len).map(|i| (i as u8) ^ seed).collect::<Vec<u8>>())
}

/// A conversation with a sleep of `sleeper` in its middle: messages both
/// ways, pings, auto-responses, then a close started by the client.
fn run(case: &Case, sleeper: Sleeper) -> Run {
    let (mut client, mut server) =
        Pair::connect(case.client.clone(), case.server.clone()).into_connections();
    let mut run = Run::default();
    let mut now = Instant::ZERO;
    for conn in [&mut client, &mut server] {
        conn.set_auto_response(Message::text("heartbeat"), Message::text("alive"));
    }

    let before = if case.long_before {
        text_of(300, "before the sleep")
    } else {
        Message::text("short")
    };
    client.send(before.clone()).unwrap();
    client.send(Message::binary(&b"\x01\x02"[..])).unwrap();
    server.send(before).unwrap();
    client.ping("p1").unwrap();
    if case.streams {
        client.send(big_binary(3000, 1)).unwrap();
        server.send(big_binary(2500, 2)).unwrap();
    }
    run.exchange(&mut client, &mut server, now);

    now = secs(1);
    client.handle_timeout(now);
    server.handle_timeout(now);
    match sleeper {
        Sleeper::Nobody => {}
        Sleeper::Client => client = cycle(client, &case.client, now),
        Sleeper::Server => server = cycle(server, &case.server, now),
    }

    now = secs(2);
    client.send(Message::text("heartbeat")).unwrap();
    server.send(Message::text("heartbeat")).unwrap();
    client.ping("p2").unwrap();
    server.ping("p3").unwrap();
    client.send(text_of(500, "after the sleep")).unwrap();
    server.send(text_of(700, "and back again")).unwrap();
    server.send(Message::binary(&b"\x03"[..])).unwrap();
    if case.streams {
        client.send(big_binary(4000, 3)).unwrap();
        server.send(big_binary(1500, 4)).unwrap();
    }
    run.exchange(&mut client, &mut server, now);
    client.send(text_of(400, "after the sleep")).unwrap();
    server.send(text_of(400, "after the sleep")).unwrap();
    run.exchange(&mut client, &mut server, now);

    client.close(now, CloseCode::NORMAL, "bye").unwrap();
    run.exchange(&mut client, &mut server, now);
    assert!(client.is_done() && server.is_done());
    run
}

/// The peer's view (and the sleeper's own) is the same whether or not an
/// end slept: same bytes on the wire, same events.
fn sleeping_changes_nothing(case: &Case, sleepers: &[Sleeper]) {
    let awake = run(case, Sleeper::Nobody);
    let alive = Event::Message(Message::text("alive"));
    assert!(awake.client_events.contains(&alive) && awake.server_events.contains(&alive));
    assert!(awake
        .client_events
        .contains(&Event::Pong(Bytes::from_static(b"p2"))));
    assert!(awake
        .server_events
        .contains(&Event::Pong(Bytes::from_static(b"p3"))));
    assert!(matches!(
        awake.server_events.last(),
        Some(Event::Closed(closed)) if closed.code == CloseCode::NORMAL
    ));
    for &sleeper in sleepers {
        let slept = run(case, sleeper);
        assert_eq!(slept, awake, "{sleeper:?} slept");
    }
}

const BOTH: &[Sleeper] = &[Sleeper::Client, Sleeper::Server];

#[test]
fn a_plain_connection_resumes_unnoticed() {
    sleeping_changes_nothing(&Case::new(Config::default()), BOTH);
}

#[test]
fn deflate_without_context_takeover_resumes_unnoticed() {
    let deflate = DeflateConfig::default()
        .server_no_context_takeover(true)
        .client_no_context_takeover(true);
    let case = Case::new(Config::default().deflate(Some(deflate)));
    let awake = run(&case, Sleeper::Nobody);
    // The messages before the sleep were compressed: codecs were in use.
    let plain = run(&Case::new(Config::default()), Sleeper::Nobody);
    assert!(awake.server_wire.len() < plain.server_wire.len());
    sleeping_changes_nothing(&case, BOTH);
}

#[test]
fn deflate_with_unused_context_takeover_resumes_unnoticed() {
    let mut case = Case::new(Config::default().deflate(Some(DeflateConfig::default())));
    case.long_before = false;
    sleeping_changes_nothing(&case, BOTH);
}

#[test]
fn a_batched_connection_resumes_unnoticed() {
    let config = Config::default().subprotocols(vec![Subprotocol::batched("batch.v1")]);
    sleeping_changes_nothing(&Case::new(config), BOTH);
}

#[test]
fn a_streamed_connection_without_open_streams_resumes_unnoticed() {
    let config = Config::default()
        .subprotocols(vec![Subprotocol::streamed("files.v2")])
        .stream(
            StreamConfig::default()
                .send_threshold(Some(1000))
                .chunk_size(300),
        );
    let mut case = Case::new(config);
    case.streams = true;
    let awake = run(&case, Sleeper::Nobody);
    // The large messages went as streams, reassembled on arrival.
    assert!(awake
        .server_events
        .contains(&Event::Message(big_binary(4000, 3))));
    assert!(awake
        .client_events
        .contains(&Event::Message(big_binary(2500, 2))));
    sleeping_changes_nothing(&case, BOTH);
}

/// The record keeps the stream ids: the next stream after the sleep does
/// not reuse the id of one sent before it.
#[test]
fn stream_ids_continue_after_the_sleep() {
    let config = Config::default().subprotocols(vec![Subprotocol::streamed("files.v2")]);
    let (mut client, mut server) = Pair::connect(config.clone(), config.clone()).into_connections();
    let first = server
        .send_stream(Bytes::from_static(b"one"), Bytes::new())
        .unwrap();
    let _ = transmitted(&mut server);
    let mut server = cycle(server, &config, Instant::ZERO);
    let second = server
        .send_stream(Bytes::from_static(b"two"), Bytes::new())
        .unwrap();
    assert_ne!(first, second);
    client.handle_input(Instant::ZERO, &transmitted(&mut server));
    let _ = events(&mut client);
}

/// What the envelope remembers about finished and refused streams is in
/// the record: a refusal of our stream that arrives after the sleep is
/// still reported, and chunks of a stream we refused before it are still
/// dropped without a second refusal.
#[test]
fn remembered_streams_survive_the_sleep() {
    let sender = Config::default()
        .subprotocols(vec![Subprotocol::streamed("files.v2")])
        .stream(StreamConfig::default().chunk_size(4));
    let refuser = sender
        .clone()
        .stream(StreamConfig::default().max_stream_size(8));
    let story = |sleep: bool| {
        let (mut client, mut server) =
            Pair::connect(refuser.clone(), sender.clone()).into_connections();
        // The server's stream ends before the client's refusal is back.
        let ours = server
            .send_stream(Bytes::from_static(b"0123456789"), Bytes::new())
            .unwrap();
        client.handle_input(Instant::ZERO, &transmitted(&mut server));
        let refusal = transmitted(&mut client);
        assert!(!refusal.is_empty());
        // A second pair: the server refuses a stream of the client's whose
        // chunks are still on their way.
        let (mut client2, mut server2) =
            Pair::connect(sender.clone(), refuser.clone()).into_connections();
        client2
            .send_stream(Bytes::from_static(b"0123456789abcdef"), Bytes::new())
            .unwrap();
        let wire = transmitted(&mut client2);
        let first_record = {
            let (h, n) = FrameHeader::decode(&wire).unwrap().unwrap();
            n + h.payload_len as usize
        };
        server2.handle_input(Instant::ZERO, &wire[..first_record]);
        let first_refusal = transmitted(&mut server2);
        assert!(!first_refusal.is_empty());
        assert!(matches!(
            events(&mut server2)[..],
            [Event::Stream(StreamEvent::Failed {
                direction: Direction::Inbound,
                ..
            })]
        ));
        if sleep {
            server = cycle(server, &sender, Instant::ZERO);
            server2 = cycle(server2, &refuser, Instant::ZERO);
        }
        server.handle_input(Instant::ZERO, &refusal);
        server2.handle_input(Instant::ZERO, &wire[first_record..]);
        let late = (
            events(&mut server),
            transmitted(&mut server2),
            events(&mut server2),
        );
        assert!(
            matches!(
                late.0[..],
                [Event::Stream(StreamEvent::Failed {
                    id,
                    direction: Direction::Outbound,
                    error: StreamError::Aborted { .. },
                })] if id == ours
            ),
            "{:?}",
            late.0
        );
        assert_eq!(late.1, Vec::<u8>::new(), "refused twice");
        late
    };
    assert_eq!(story(true), story(false));
}

// ---- what keeps a connection awake ----

/// `conn` refuses to hibernate with `expected` and comes back intact.
fn refuses(conn: Connection, expected: HibernateError) -> Connection {
    assert_eq!(conn.can_hibernate(), Err(expected));
    match conn.hibernate() {
        Ok(_) => panic!("hibernated with {expected:?}"),
        Err((conn, error)) => {
            assert_eq!(error, expected);
            conn
        }
    }
}

/// `from` sends `message`, `to` receives exactly it.
fn delivers(from: &mut Connection, to: &mut Connection, message: Message) {
    from.send(message.clone()).unwrap();
    to.handle_input(Instant::ZERO, &transmitted(from));
    assert_eq!(events(to), vec![Event::Message(message)]);
}

fn pair(config: &Config) -> (Connection, Connection) {
    Pair::connect(config.clone(), config.clone()).into_connections()
}

#[test]
fn a_connection_that_is_not_open_stays_awake() {
    let server = Connection::server(Config::default(), Instant::ZERO).unwrap();
    let server = refuses(server, HibernateError::NotOpen);
    assert!(!server.is_open());

    let (mut client, mut server) = pair(&Config::default());
    server.close(Instant::ZERO, CloseCode::NORMAL, "").unwrap();
    let mut server = refuses(server, HibernateError::NotOpen);
    // The close handshake still completes.
    client.handle_input(Instant::ZERO, &transmitted(&mut server));
    let _ = events(&mut client);
    server.handle_input(Instant::ZERO, &transmitted(&mut client));
    let _ = events(&mut server);
    assert!(
        server.is_done() && client.is_done(),
        "{server:?} {client:?}"
    );
}

#[test]
fn buffered_input_and_pending_events_keep_it_awake() {
    let config = Config::default();
    let (mut client, server) = pair(&config);
    client.send("split me").unwrap();
    let wire = transmitted(&mut client);
    let (head, tail) = wire.split_at(3);
    let mut server = server;
    server.handle_input(Instant::ZERO, head);
    let mut server = refuses(server, HibernateError::InputBuffered);
    server.handle_input(Instant::ZERO, tail);
    let mut server = refuses(server, HibernateError::EventsPending);
    assert_eq!(
        events(&mut server),
        vec![Event::Message(Message::text("split me"))]
    );
    let mut server = cycle(server, &config, Instant::ZERO);
    delivers(&mut client, &mut server, Message::text("after"));
    delivers(&mut server, &mut client, Message::text("back"));
}

#[test]
fn queued_output_keeps_it_awake() {
    let config = Config::default();
    let (mut client, mut server) = pair(&config);
    server.send("queued").unwrap();
    let mut server = refuses(server, HibernateError::OutputQueued);
    client.handle_input(Instant::ZERO, &transmitted(&mut server));
    assert_eq!(
        events(&mut client),
        vec![Event::Message(Message::text("queued"))]
    );
    server.pong("beat").unwrap();
    let mut server = refuses(server, HibernateError::OutputQueued);
    client.handle_input(Instant::ZERO, &transmitted(&mut server));
    assert_eq!(
        events(&mut client),
        vec![Event::Pong(Bytes::from_static(b"beat"))]
    );
    let mut server = cycle(server, &config, Instant::ZERO);
    delivers(&mut server, &mut client, Message::text("after"));
}

#[test]
fn a_message_in_progress_keeps_it_awake() {
    let config = Config::default();
    let (mut client, mut server) = pair(&config);
    server.handle_input(
        Instant::ZERO,
        &crate::test_support::client_frame(false, OpCode::Text, b"half"),
    );
    let mut server = refuses(server, HibernateError::MessageInProgress);
    server.handle_input(
        Instant::ZERO,
        &crate::test_support::client_frame(true, OpCode::Continuation, b" and half"),
    );
    assert_eq!(
        events(&mut server),
        vec![Event::Message(Message::text("half and half"))]
    );
    let mut server = cycle(server, &config, Instant::ZERO);
    delivers(&mut client, &mut server, Message::text("after"));

    // A batch still taking messages while it lingers.
    let batch = BatchConfig {
        linger: Duration::from_millis(10),
        ..BatchConfig::default()
    };
    let config = Config::default()
        .subprotocols(vec![Subprotocol::batched("batch.v1")])
        .batch(batch);
    let (mut client, mut server) = pair(&config);
    server.send(Message::binary(&b"one"[..])).unwrap();
    let mut server = refuses(server, HibernateError::MessageInProgress);
    server.handle_timeout(millis(10));
    let mut server = refuses(server, HibernateError::OutputQueued);
    client.handle_input(millis(10), &transmitted(&mut server));
    assert_eq!(
        events(&mut client),
        vec![Event::Message(Message::binary(&b"one"[..]))]
    );
    let mut server = cycle(server, &config, millis(10));
    server.send(Message::binary(&b"two"[..])).unwrap();
    server.handle_timeout(millis(20));
    client.handle_input(millis(20), &transmitted(&mut server));
    assert_eq!(
        events(&mut client),
        vec![Event::Message(Message::binary(&b"two"[..]))]
    );
}

#[test]
fn open_streams_keep_it_awake() {
    let config = Config::default().subprotocols(vec![Subprotocol::streamed("files.v2")]);
    let (mut client, mut server) = pair(&config);

    // Outbound: opened, half sent.
    let id = server.open_stream(6, Bytes::new()).unwrap();
    server.push_stream(id, Bytes::from_static(b"abc")).unwrap();
    client.handle_input(Instant::ZERO, &transmitted(&mut server));
    let mut server = refuses(server, HibernateError::StreamsOpen);
    // Inbound, on the other end (reassembled whole: no event yet).
    assert_eq!(events(&mut client), vec![]);
    let mut client = refuses(client, HibernateError::StreamsOpen);

    server.push_stream(id, Bytes::from_static(b"def")).unwrap();
    client.handle_input(Instant::ZERO, &transmitted(&mut server));
    let done = events(&mut client);
    assert_eq!(done, vec![Event::Message(Message::binary(&b"abcdef"[..]))]);
    let mut server = cycle(server, &config, Instant::ZERO);
    let mut client = cycle(client, &config, Instant::ZERO);
    delivers(&mut client, &mut server, Message::binary(&b"after"[..]));
}

#[test]
fn a_compression_window_with_context_keeps_it_awake() {
    let config = Config::default().deflate(Some(DeflateConfig::default()));
    let (mut client, mut server) = pair(&config);
    let (client_, server_) = (
        cycle(client, &config, Instant::ZERO),
        cycle(server, &config, Instant::ZERO),
    );
    (client, server) = (client_, server_);

    let long = text_of(300, "context");
    server.send(long.clone()).unwrap();
    let wire = transmitted(&mut server);
    assert_eq!(wire.first().map(|b| b & 0x40), Some(0x40), "compressed");
    client.handle_input(Instant::ZERO, &wire);
    assert_eq!(events(&mut client), vec![Event::Message(long.clone())]);
    let mut server = refuses(server, HibernateError::CompressionContext);
    let mut client = refuses(client, HibernateError::CompressionContext);
    // Both windows keep working.
    delivers(&mut server, &mut client, long.clone());
    delivers(&mut client, &mut server, long);
    refuses(server, HibernateError::CompressionContext);
}

// ---- timers and masking ----

fn keepalive_config() -> Config {
    Config::default().keepalive(Some(Keepalive {
        interval: Duration::from_secs(5),
        timeout: Duration::from_secs(2),
    }))
}

fn is_ping(wire: &[u8]) -> bool {
    matches!(FrameHeader::decode(wire), Ok(Some((h, _))) if h.opcode == OpCode::Ping)
}

/// The server last heard from its peer at 1s and slept until 6s: its
/// keepalive ping is due at 6s, as it would have been awake.
#[test]
fn a_keepalive_deadline_survives_the_sleep() {
    let config = keepalive_config();
    for resume_at in [secs(3), secs(6), secs(7)] {
        let (mut client, mut server) = pair(&config);
        client.send("still here").unwrap();
        server.handle_input(secs(1), &transmitted(&mut client));
        let _ = events(&mut server);
        let record = server.hibernate().unwrap();
        let mut server = Connection::resume(record, config.clone(), resume_at).unwrap();

        assert_eq!(server.poll_timeout(), Some(secs(6)));
        server.handle_timeout(millis(5_999).max(resume_at));
        let early = transmitted(&mut server);
        if resume_at < secs(6) {
            assert!(early.is_empty());
            server.handle_timeout(secs(6));
        }
        let ping = [early, transmitted(&mut server)].concat();
        assert!(is_ping(&ping), "no ping after resuming at {resume_at:?}");
        // No answer: the keepalive timeout runs from the ping.
        let now = secs(6).max(resume_at);
        assert_eq!(server.poll_timeout(), Some(now + Duration::from_secs(2)));
        client.handle_input(now, &ping);
        server.handle_input(now, &transmitted(&mut client));
        assert_eq!(server.poll_timeout(), Some(now + Duration::from_secs(5)));
    }
}

/// The idle deadline runs from the last message, not from the resume.
#[test]
fn an_idle_deadline_survives_the_sleep() {
    let config = Config::default().idle_timeout(Some(Duration::from_secs(10)));
    let (mut client, mut server) = pair(&config);
    client.send("still here").unwrap();
    server.handle_input(secs(1), &transmitted(&mut client));
    let _ = events(&mut server);
    let mut server = cycle(server, &config, secs(5));
    assert_eq!(server.poll_timeout(), Some(secs(11)));
    server.handle_timeout(secs(11));
    client.handle_input(secs(11), &transmitted(&mut server));
    let closing = events(&mut client);
    assert!(
        matches!(
            closing.first(),
            Some(Event::CloseReceived(frame)) if frame.code == CloseCode::GOING_AWAY
        ),
        "{closing:?}"
    );
}

/// A ping sent before the sleep and unanswered: the pong deadline holds.
#[test]
fn a_pong_deadline_survives_the_sleep() {
    let config = keepalive_config();
    let (_client, mut server) = pair(&config);
    server.handle_timeout(secs(5));
    assert!(is_ping(&transmitted(&mut server)));
    let mut server = cycle(server, &config, secs(6));
    server.handle_timeout(secs(7));
    let closed = events(&mut server);
    assert!(matches!(
        closed.last(),
        Some(Event::Closed(c)) if c.cause == CloseCause::Timeout(TimeoutKind::Keepalive)
    ));
}

/// The masking keys of the frames a client writes, in order.
fn mask_keys(mut wire: &[u8]) -> Vec<[u8; 4]> {
    let mut keys = Vec::new();
    while let Ok(Some((h, n))) = FrameHeader::decode(wire) {
        keys.extend(h.mask);
        wire = &wire[n + h.payload_len as usize..];
    }
    keys
}

#[test]
fn a_client_keeps_its_masking_sequence() {
    let config = Config::default();
    let sent = |sleep: bool| {
        let (mut client, mut server) = pair(&config);
        let mut wire = Vec::new();
        for i in 0..3u8 {
            client.send(Message::binary(vec![i; 3])).unwrap();
            wire.extend(transmitted(&mut client));
        }
        if sleep {
            client = cycle(client, &config, Instant::ZERO);
        }
        let before = wire.len();
        for i in 0..3u8 {
            client.send(Message::binary(vec![i; 3])).unwrap();
            wire.extend(transmitted(&mut client));
        }
        server.handle_input(Instant::ZERO, &wire);
        assert_eq!(events(&mut server).len(), 6);
        (wire, before)
    };
    let (awake, _) = sent(false);
    let (slept, before) = sent(true);
    assert_eq!(slept, awake);
    let (old, new) = (mask_keys(&slept[..before]), mask_keys(&slept[before..]));
    assert_eq!((old.len(), new.len()), (3, 3));
    assert!(new.iter().all(|key| !old.contains(key)));
    // Unmasked with its own key, the first frame after the sleep is what
    // was sent.
    let (h, n) = FrameHeader::decode(&slept[before..]).unwrap().unwrap();
    let mut payload = slept[before + n..before + n + 3].to_vec();
    apply_mask(&mut payload, h.mask.unwrap(), 0);
    assert_eq!(payload, [0; 3]);
}

// ---- the record ----

#[test]
fn auto_responses_are_in_the_record() {
    let config = Config::default();
    let (mut client, mut server) = pair(&config);
    server.set_auto_response(Message::binary(&b"\x00"[..]), Message::binary(&b"\x01"[..]));
    server.set_auto_response(Message::text("heartbeat"), Message::text("alive"));
    let record = server.hibernate().unwrap();
    assert!(record.heap_size() >= "heartbeatalive".len() + 2);
    let mut server = Connection::resume(record, config, Instant::ZERO).unwrap();
    client.send("heartbeat").unwrap();
    client.send(Message::binary(&b"\x00"[..])).unwrap();
    server.handle_input(Instant::ZERO, &transmitted(&mut client));
    assert_eq!(events(&mut server), vec![]);
    client.handle_input(Instant::ZERO, &transmitted(&mut server));
    assert_eq!(
        events(&mut client),
        vec![
            Event::Message(Message::text("alive")),
            Event::Message(Message::binary(&b"\x01"[..]))
        ]
    );
}

/// Measured on x86_64: 256 bytes inline, no heap, 17 bytes encoded.
#[test]
fn a_plain_server_record_is_small() {
    let (_, server) = pair(&Config::default());
    let record = server.hibernate().unwrap();
    assert_eq!(record.heap_size(), 0);
    let size = core::mem::size_of::<Hibernated>() + record.heap_size();
    std::println!(
        "record: {size} bytes, encoded {} bytes",
        record.encode().len()
    );
    assert!(size <= 256, "{size} bytes");
    assert!(record.encode().len() <= 24);
}

#[test]
fn a_record_resumes_only_with_a_fitting_config() {
    let deflate = Config::default().deflate(Some(DeflateConfig::default()));
    let (_, server) = pair(&deflate);
    let record = server.hibernate().unwrap();
    assert_eq!(
        Connection::resume(record.clone(), Config::default(), Instant::ZERO).unwrap_err(),
        SetupError::RecordMismatch
    );
    assert!(Connection::resume(record, deflate, Instant::ZERO).is_ok());

    let batched = Config::default().subprotocols(vec![Subprotocol::batched("v1")]);
    let (_, server) = pair(&batched);
    let record = server.hibernate().unwrap();
    assert_eq!(record.subprotocol(), Some("v1"));
    let streamed = Config::default().subprotocols(vec![Subprotocol::streamed("v1")]);
    assert_eq!(
        Connection::resume(record, streamed, Instant::ZERO).unwrap_err(),
        SetupError::RecordMismatch
    );
}

/// A connection after a random history, on one of the configurations
/// above, with some of its state set: whichever end can hibernate gives
/// its record.
fn record_after(history: &[u8], setup: u8) -> Option<Hibernated> {
    let configs = [
        Config::default(),
        keepalive_config().idle_timeout(Some(Duration::from_secs(30))),
        Config::default().deflate(Some(
            DeflateConfig::default()
                .server_no_context_takeover(true)
                .client_no_context_takeover(true)
                .client_max_window_bits(9),
        )),
        Config::default().subprotocols(vec![Subprotocol::batched("b")]),
        Config::default()
            .subprotocols(vec![Subprotocol::streamed("s")])
            .stream(StreamConfig::default().send_threshold(Some(64))),
    ];
    let config = &configs[usize::from(setup) % configs.len()];
    let (mut client, mut server) = pair(config);
    let mut now = Instant::ZERO;
    for &step in history {
        let conn = if step & 1 == 0 {
            &mut client
        } else {
            &mut server
        };
        match step >> 1 & 7 {
            0 => drop(conn.send(text_of(usize::from(step), "x"))),
            1 => drop(conn.send(big_binary(usize::from(step), step))),
            2 => drop(conn.ping(vec![step])),
            3 => conn.set_auto_response(Message::binary(vec![step]), Message::text("r")),
            4 => now += Duration::from_millis(u64::from(step) * 100),
            _ => drop(conn.send(Message::binary(vec![step; 3]))),
        }
        let mut run = Run::default();
        client.handle_timeout(now);
        server.handle_timeout(now);
        run.exchange(&mut client, &mut server, now);
    }
    let conn = if setup & 0x80 == 0 { client } else { server };
    conn.hibernate().ok()
}

quickcheck! {
    fn records_survive_encoding(history: Vec<u8>, setup: u8) -> TestResult {
        match record_after(&history, setup) {
            None => TestResult::discard(),
            Some(record) => {
                TestResult::from_bool(Hibernated::decode(&record.encode()) == Ok(record))
            }
        }
    }

    fn decoding_any_bytes_never_panics(bytes: Vec<u8>) -> bool {
        let _ = Hibernated::decode(&bytes);
        true
    }

    fn decoding_damaged_records_never_panics(history: Vec<u8>, setup: u8, at: usize, byte: u8) -> bool {
        let Some(record) = record_after(&history, setup) else {
            return true;
        };
        let mut bytes = record.encode();
        let at = at % bytes.len();
        bytes[at] = byte;
        let _ = Hibernated::decode(&bytes);
        let _ = Hibernated::decode(&bytes[..at]);
        true
    }
}

#[test]
fn decoding_refuses_what_is_not_a_record() {
    let (_, server) = pair(&Config::default());
    let bytes = server.hibernate().unwrap().encode();
    assert_eq!(Hibernated::decode(b""), Err(RecordDecodeError::Truncated));
    assert_eq!(
        Hibernated::decode(b"XX\x01"),
        Err(RecordDecodeError::UnknownFormat)
    );
    assert_eq!(
        Hibernated::decode(&[&bytes[..], &[0]].concat()),
        Err(RecordDecodeError::TrailingBytes)
    );
    for cut in 0..bytes.len() {
        assert_eq!(
            Hibernated::decode(&bytes[..cut]),
            Err(RecordDecodeError::Truncated)
        );
    }
    let mut bad_role = bytes.clone();
    bad_role[3] = 7;
    assert_eq!(
        Hibernated::decode(&bad_role),
        Err(RecordDecodeError::InvalidField("role"))
    );
}
