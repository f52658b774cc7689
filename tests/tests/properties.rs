//! Properties that must hold for every input:
//!
//! - how the input is cut into reads never changes what a connection does
//!   (server side, client side and the handshake);
//! - messages and pings survive a round trip through a [`Pair`] exactly
//!   once, in order and unmodified, whatever the fragment size, read sizes
//!   and timer jumps, and the close handshake then ends both sides with the
//!   expected cause and code;
//! - incremental receive hands out every byte and holds back at most an
//!   unfinished frame header or control frame, whatever the message size;
//! - garbage never panics and ends, if at all, in one well-formed close.
//!
//! Cases are generated from a seed through [`Rng`], so a failure report (the
//! shrunk case, printed with its seed) reproduces exactly. The number of
//! cases per property keeps the file at a few seconds in a debug build.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use quickcheck::{Arbitrary, Gen, QuickCheck};
use wscore::wire::{OpCode, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN};
use wscore::{
    Accept, ClientRequest, CloseCause, CloseCode, CloseFrame, Closed, Config, Connection, Event,
    Instant, Keepalive, Message, MessageKind, ReceiveMode, Role, MAX_REASON_LEN,
};
use wscore_tests::{
    compare_messages, decode_frames, describe, drain_events, drain_transmits, encode_frame,
    random_len, random_message, rfc_close_code, text_payload, Frame, FrameSpec, LenForm, Pair, Rng,
    Side,
};

const T0: Instant = Instant::ZERO;

/// Codes a peer may put in a close frame; `None` stands for an empty close.
const CLOSE_CODES: [Option<u16>; 12] = [
    None,
    Some(1000),
    Some(1001),
    Some(1002),
    Some(1003),
    Some(1007),
    Some(1008),
    Some(1009),
    Some(1010),
    Some(1011),
    Some(3000),
    Some(4999),
];

fn quickcheck(tests: u64) -> QuickCheck {
    QuickCheck::new().tests(tests).max_tests(tests)
}

/// Runs a property body and, on failure or panic, names the case: quickcheck
/// itself only prints the arguments when a shrunk case fails too.
fn named<T: std::fmt::Debug>(
    case: &T,
    body: impl FnOnce() -> Result<(), String>,
) -> Result<(), String> {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body));
    let error = match outcome {
        Ok(Ok(())) => return Ok(()),
        Ok(Err(error)) => error,
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            format!("panicked: {message}")
        }
    };
    Err(format!("{error}\n    case: {case:?}"))
}

/// Smaller versions of a list for shrinking: each half, then the list
/// without one element.
fn shrink_list<T: Clone>(items: &[T]) -> Vec<Vec<T>> {
    let mut out = Vec::new();
    if items.len() > 1 {
        let half = items.len() / 2;
        out.push(items[..half].to_vec());
        out.push(items[half..].to_vec());
    }
    for i in 0..items.len() {
        let mut fewer = items.to_vec();
        fewer.remove(i);
        out.push(fewer);
    }
    out
}

/// Where the first difference between two event sequences is, described
/// without dumping large payloads.
fn diff_events(expected: &[Event], actual: &[Event]) -> Result<(), String> {
    if let Some(i) =
        (0..expected.len().max(actual.len())).find(|&i| expected.get(i) != actual.get(i))
    {
        let show = |e: Option<&Event>| e.map_or_else(|| "nothing".to_string(), describe);
        return Err(format!(
            "event {i}: expected {}, got {} ({} events expected, {} produced)",
            show(expected.get(i)),
            show(actual.get(i)),
            expected.len(),
            actual.len()
        ));
    }
    Ok(())
}

/// Read sizes down to one byte: a quarter are single bytes, the rest up to
/// a maximum that itself varies between cases.
fn read_sizes(rng: &mut Rng) -> impl FnMut() -> usize {
    let max = *rng.pick(&[2, 7, 64, 1_500, 20_000]);
    let mut rng = rng.fork();
    move || {
        if rng.percent(25) {
            1
        } else {
            rng.range(1..=max)
        }
    }
}

// ---------------------------------------------------------------------------
// Split invariance
// ---------------------------------------------------------------------------

/// A control frame in a script, by payload length.
#[derive(Clone, Debug)]
enum Control {
    Ping(usize),
    Pong(usize),
}

/// One message or control frame a peer sends.
#[derive(Clone, Debug)]
enum Item {
    /// A data message cut at `cuts` (sorted offsets; fragments may be
    /// empty), with control frames after some fragments: `(i, control)`
    /// follows fragment `i`, which is never the last.
    Message {
        kind: MessageKind,
        len: usize,
        cuts: Vec<usize>,
        controls: Vec<(usize, Control)>,
        form: LenForm,
    },
    Control(Control),
}

/// A frame the receiver of a script writes back: opcode and payload.
type Reply = (OpCode, Vec<u8>);

/// What a peer sends after the handshake: items, then a close frame.
#[derive(Clone, Debug)]
struct Script {
    items: Vec<Item>,
    /// The close frame's code (`None`: empty close) and reason length.
    close: (Option<u16>, usize),
    /// Seeds payload contents and masking keys.
    seed: u64,
}

fn random_control(rng: &mut Rng) -> Control {
    let len = rng.range(0..=MAX_CONTROL_PAYLOAD);
    if rng.percent(75) {
        Control::Ping(len)
    } else {
        Control::Pong(len)
    }
}

impl Script {
    fn generate(rng: &mut Rng) -> Script {
        let items = (0..rng.range(0..=10))
            .map(|_| {
                if rng.percent(20) {
                    return Item::Control(random_control(rng));
                }
                let len = random_len(rng, true);
                let fragments = if rng.percent(50) { 1 } else { rng.range(2..=5) };
                let mut cuts: Vec<usize> = (1..fragments).map(|_| rng.range(0..=len)).collect();
                cuts.sort_unstable();
                let mut controls = Vec::new();
                for i in 0..fragments - 1 {
                    if rng.percent(50) {
                        controls.push((i, random_control(rng)));
                    }
                }
                Item::Message {
                    kind: *rng.pick(&[MessageKind::Text, MessageKind::Binary]),
                    len,
                    cuts,
                    controls,
                    form: *rng.pick(&[
                        LenForm::Minimal,
                        LenForm::Minimal,
                        LenForm::Medium,
                        LenForm::Long,
                    ]),
                }
            })
            .collect();
        let code = *rng.pick(&CLOSE_CODES);
        let reason = if code.is_some() {
            rng.range(0..=MAX_REASON_LEN)
        } else {
            0
        };
        Script {
            items,
            close: (code, reason),
            seed: rng.next_u64(),
        }
    }

    /// The bytes of the script as a peer of `receiver` writes them (masked
    /// toward a server), the events the receiver must produce, and the
    /// frames it must write back when its transmits are taken at the end:
    /// a pong for every ping while at most 16 wait (past that the newest
    /// replaces the last one queued) and the echo of the close code.
    fn render(&self, receiver: Role) -> (Vec<u8>, Vec<Event>, Vec<Reply>) {
        let mut rng = Rng::new(self.seed);
        let mut wire = Vec::new();
        let mut events = Vec::new();
        let mut pings = Vec::new();
        let mut frame = |rng: &mut Rng, fin, opcode, payload: &[u8], form| {
            let mask = (receiver == Role::Server).then(|| rng.seed32()[..4].try_into().unwrap());
            wire.extend(
                FrameSpec::new(opcode, payload)
                    .fin(fin)
                    .mask(mask)
                    .len_form(form)
                    .encode(),
            );
        };
        let mut control = |rng: &mut Rng, c: &Control, events: &mut Vec<Event>| {
            let (opcode, len) = match c {
                Control::Ping(len) => (OpCode::Ping, *len),
                Control::Pong(len) => (OpCode::Pong, *len),
            };
            let payload = Bytes::from(rng.bytes(len));
            if opcode == OpCode::Ping {
                pings.push(payload.clone());
                events.push(Event::Ping(payload.clone()));
            } else {
                events.push(Event::Pong(payload.clone()));
            }
            (opcode, payload)
        };
        for item in &self.items {
            match item {
                Item::Control(c) => {
                    let (opcode, payload) = control(&mut rng, c, &mut events);
                    frame(&mut rng, true, opcode, &payload, LenForm::Minimal);
                }
                Item::Message {
                    kind,
                    len,
                    cuts,
                    controls,
                    form,
                } => {
                    let message = random_message(&mut rng, *kind, *len);
                    let bounds: Vec<usize> = std::iter::once(0)
                        .chain(cuts.iter().copied())
                        .chain(std::iter::once(*len))
                        .collect();
                    for (i, piece) in bounds.windows(2).enumerate() {
                        let opcode = if i == 0 {
                            kind.opcode()
                        } else {
                            OpCode::Continuation
                        };
                        let fin = i == bounds.len() - 2;
                        let payload = &message.payload()[piece[0]..piece[1]];
                        frame(&mut rng, fin, opcode, payload, *form);
                        for (_, c) in controls.iter().filter(|(after, _)| *after == i) {
                            let (opcode, payload) = control(&mut rng, c, &mut events);
                            frame(&mut rng, true, opcode, &payload, LenForm::Minimal);
                        }
                    }
                    events.push(Event::Message(message));
                }
            }
        }
        let (code, reason_len) = self.close;
        let close = match code {
            Some(code) => CloseFrame::new(CloseCode(code), text_payload(&mut rng, reason_len)),
            None => CloseFrame::new(CloseCode::NO_STATUS, ""),
        };
        frame(
            &mut rng,
            true,
            OpCode::Close,
            &close.encode(),
            LenForm::Minimal,
        );
        events.push(Event::CloseReceived(close.clone()));
        events.push(Event::Closed(Box::new(Closed {
            code: close.code,
            reason: close.reason.clone(),
            cause: CloseCause::Remote,
        })));
        const MAX_PENDING_PONGS: usize = 16;
        if pings.len() > MAX_PENDING_PONGS {
            let newest = pings.pop();
            pings.truncate(MAX_PENDING_PONGS - 1);
            pings.extend(newest);
        }
        let mut replies: Vec<Reply> = pings
            .into_iter()
            .map(|p| (OpCode::Pong, p.to_vec()))
            .collect();
        replies.push((
            OpCode::Close,
            CloseFrame::new(close.code, "").encode().to_vec(),
        ));
        (wire, events, replies)
    }
}

impl Arbitrary for Script {
    fn arbitrary(g: &mut Gen) -> Script {
        Script::generate(&mut Rng::new(u64::arbitrary(g)))
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Script>> {
        let this = self.clone();
        Box::new(
            shrink_list(&self.items)
                .into_iter()
                .map(move |items| Script {
                    items,
                    ..this.clone()
                }),
        )
    }
}

/// How reads reach the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Input {
    /// `handle_input` with a borrowed slice.
    Slice,
    /// `handle_input_buf` with an owned buffer, which the connection may
    /// adopt without copying.
    Owned,
    /// `handle_input_buf` with chunks split off windows that several
    /// reads fill one after another, and off the room the connection
    /// offers for a large frame's rest, as the adapters read.
    Window,
}

/// Feeds `wire` to a fresh open connection of `role` in reads whose sizes
/// `next_read` chooses, through `input`, taking the events after every read
/// as an application would. Transmits are taken once at the end: past 16
/// queued pongs the newest replaces the last, so taking them between reads
/// would legitimately change how many are written.
fn feed(
    role: Role,
    wire: &[u8],
    input: Input,
    mut next_read: impl FnMut() -> usize,
) -> (Vec<Event>, Vec<u8>) {
    let mut conn = Connection::upgraded(role, Config::default(), [9; 32], T0).unwrap();
    let mut events = Vec::new();
    let mut rest = wire;
    let mut window = BytesMut::new();
    while !rest.is_empty() {
        let mut len = next_read().clamp(1, rest.len());
        if input == Input::Window {
            if let Some(room) = conn.take_read_buffer() {
                window = room;
            }
            if window.capacity() == 0 {
                window = BytesMut::with_capacity(len.max(64 << 10));
            }
            len = len.min(window.capacity());
        }
        let (read, tail) = rest.split_at(len);
        match input {
            Input::Slice => conn.handle_input(T0, read),
            Input::Owned => conn.handle_input_buf(T0, BytesMut::from(read)),
            Input::Window => {
                window.extend_from_slice(read);
                conn.handle_input_buf(T0, window.split());
            }
        }
        events.extend(drain_events(&mut conn));
        rest = tail;
    }
    (events, drain_transmits(&mut conn))
}

fn replies_of(out: &[u8], role: Role) -> Result<Vec<Reply>, String> {
    let frames = decode_frames(out)?;
    if frames.iter().any(|f| f.masked != (role == Role::Client)) {
        return Err(format!(
            "{role:?} wrote frames with the wrong masking: {frames:?}"
        ));
    }
    Ok(frames.into_iter().map(|f| (f.opcode, f.payload)).collect())
}

/// The receiver's events and writes depend only on the byte stream, not on
/// how it is cut into reads; and they are the ones the script implies.
fn split_invariance(receiver: Role, script: Script, split_seed: u64) -> Result<(), String> {
    let (wire, expected_events, expected_replies) = script.render(receiver);

    let (events, out) = feed(receiver, &wire, Input::Slice, || usize::MAX);
    diff_events(&expected_events, &events).map_err(|e| format!("whole input: {e}"))?;
    let replies = replies_of(&out, receiver)?;
    if replies != expected_replies {
        return Err(format!(
            "whole input: wrote {:?}, expected {:?}",
            replies.iter().map(|r| r.0).collect::<Vec<_>>(),
            expected_replies.iter().map(|r| r.0).collect::<Vec<_>>()
        ));
    }

    let mut rng = Rng::new(split_seed);
    for input in [Input::Slice, Input::Owned, Input::Window] {
        let (split_events, split_out) = feed(receiver, &wire, input, read_sizes(&mut rng));
        diff_events(&events, &split_events)
            .map_err(|e| format!("random reads ({input:?}): {e}"))?;
        if split_out != out {
            return Err(format!(
                "random reads ({input:?}): the bytes written differ"
            ));
        }
    }

    // One byte at a time, the extreme split, where the stream is short
    // enough to keep the case fast.
    if wire.len() <= 16 << 10 {
        let (byte_events, byte_out) = feed(receiver, &wire, Input::Slice, || 1);
        diff_events(&events, &byte_events).map_err(|e| format!("single bytes: {e}"))?;
        if byte_out != out {
            return Err("single bytes: the bytes written differ".into());
        }
    }
    Ok(())
}

#[test]
fn server_is_split_invariant() {
    fn prop(script: Script, split_seed: u64) -> Result<(), String> {
        named(&(&script, split_seed), || {
            split_invariance(Role::Server, script.clone(), split_seed)
        })
    }
    quickcheck(60).quickcheck(prop as fn(Script, u64) -> Result<(), String>);
}

#[test]
fn client_is_split_invariant() {
    fn prop(script: Script, split_seed: u64) -> Result<(), String> {
        named(&(&script, split_seed), || {
            split_invariance(Role::Client, script.clone(), split_seed)
        })
    }
    quickcheck(60).quickcheck(prop as fn(Script, u64) -> Result<(), String>);
}

/// A client's upgrade request, varied in the parts a parser must find.
#[derive(Clone, Debug)]
struct HandshakeCase {
    path: String,
    subprotocols: Vec<String>,
    headers: Vec<(String, String)>,
    seed: u64,
}

impl Arbitrary for HandshakeCase {
    fn arbitrary(g: &mut Gen) -> HandshakeCase {
        let mut rng = Rng::new(u64::arbitrary(g));
        let token = |rng: &mut Rng, len: usize| -> String {
            (0..len)
                .map(|_| char::from(*rng.pick(b"abcdefghijklmnopqrstuvwxyz0123456789-_")))
                .collect()
        };
        let mut path = String::new();
        for _ in 0..rng.range(0..=3) {
            path.push('/');
            let len = rng.range(1..=12);
            path.push_str(&token(&mut rng, len));
        }
        if rng.percent(50) {
            let len = rng.range(1..=20);
            path = format!("{path}?q={}", token(&mut rng, len));
        }
        let subprotocols = ["chat", "superchat", "v2.json", "mqtt"]
            .iter()
            .filter(|_| rng.percent(40))
            .map(|s| s.to_string())
            .collect();
        let headers = (0..rng.range(0..=4))
            .map(|i| {
                // Header values may hold spaces and punctuation, not CR/LF.
                let len = rng.range(0..=60);
                let value: String = (0..len)
                    .map(|_| char::from(rng.range(0x20..=0x7E) as u8))
                    .collect();
                (format!("X-Case-{i}"), value.trim().to_string())
            })
            .collect();
        HandshakeCase {
            path,
            subprotocols,
            headers,
            seed: rng.next_u64(),
        }
    }
}

/// A server that read a request: its events, the bytes it wrote after
/// accepting, and the events that followed.
fn serve(
    bytes: &[u8],
    mut next_read: impl FnMut() -> usize,
) -> Result<(Vec<Event>, Vec<u8>), String> {
    let mut server = Connection::server(Config::default(), T0).unwrap();
    let mut events = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let (read, tail) = rest.split_at(next_read().clamp(1, rest.len()));
        server.handle_input(T0, read);
        for event in drain_events(&mut server) {
            if let Event::Request(request) = &event {
                let accept = match request.subprotocols().first() {
                    Some(first) => Accept::new().subprotocol(first.clone()),
                    None => Accept::new(),
                };
                server.accept(T0, accept).map_err(|e| e.to_string())?;
                // Sent at once, so the response and a frame share reads.
                server
                    .send(Message::text("welcome"))
                    .map_err(|e| e.to_string())?;
            }
            events.push(event);
        }
        events.extend(drain_events(&mut server));
        rest = tail;
    }
    Ok((events, drain_transmits(&mut server)))
}

/// The handshake is split invariant on both ends: the request read whole or
/// in pieces gives the same `Request` (and the same response and following
/// frames), and so does the response on the client.
#[test]
fn handshake_is_split_invariant() {
    fn prop(case: HandshakeCase, split_seed: u64) -> Result<(), String> {
        named(&(&case, split_seed), || {
            let mut rng = Rng::new(case.seed);
            let mut request = ClientRequest::new("example.test:8080", case.path.clone());
            for name in &case.subprotocols {
                request = request.subprotocol(name.clone());
            }
            for (name, value) in &case.headers {
                request = request.header(name.clone(), value.clone());
            }
            let seed = rng.seed32();
            let new_client = || Connection::client(Config::default(), request.clone(), seed, T0);
            let mut client = new_client().map_err(|e| e.to_string())?;
            let mut bytes = drain_transmits(&mut client);
            // A client may write its first frames right behind the request.
            let key = rng.seed32()[..4].try_into().unwrap();
            bytes.extend(encode_frame(true, OpCode::Text, b"right behind", Some(key)));

            let (events, out) = serve(&bytes, || usize::MAX)?;
            let Some(Event::Request(req)) = events.first() else {
                return Err(format!("no request: {events:?}"));
            };
            let target = match req.query() {
                Some(query) => format!("{}?{query}", req.path()),
                None => req.path().to_string(),
            };
            if target != request.path() || req.subprotocols() != case.subprotocols.as_slice() {
                return Err(format!("request parsed as {req:?}"));
            }
            for (name, value) in &case.headers {
                if req.header(name) != Some(value.as_bytes()) {
                    return Err(format!("header {name} parsed as {:?}", req.header(name)));
                }
            }
            if events.get(2) != Some(&Event::Message(Message::text("right behind"))) {
                return Err(format!("the frame behind the request: {:?}", events.get(2)));
            }

            let mut rng = Rng::new(split_seed);
            for (name, reads) in [
                (
                    "random reads",
                    Box::new(read_sizes(&mut rng)) as Box<dyn FnMut() -> usize>,
                ),
                ("single bytes", Box::new(|| 1)),
            ] {
                let (split_events, split_out) = serve(&bytes, reads)?;
                diff_events(&events, &split_events).map_err(|e| format!("{name}: {e}"))?;
                if split_out != out {
                    return Err(format!("{name}: the response differs"));
                }
            }

            // The client reads the response whole or byte by byte alike.
            let mut whole = new_client().map_err(|e| e.to_string())?;
            let _ = drain_transmits(&mut whole);
            whole.handle_input(T0, &out);
            let whole_events = drain_events(&mut whole);
            let mut bytewise = new_client().map_err(|e| e.to_string())?;
            let _ = drain_transmits(&mut bytewise);
            let mut byte_events = Vec::new();
            for byte in &out {
                bytewise.handle_input(T0, std::slice::from_ref(byte));
                byte_events.extend(drain_events(&mut bytewise));
            }
            match whole_events.first() {
                Some(Event::Connected(c))
                    if c.subprotocol.as_ref() == case.subprotocols.first() => {}
                other => return Err(format!("client: {other:?}")),
            }
            if whole_events.get(1) != Some(&Event::Message(Message::text("welcome"))) {
                return Err(format!(
                    "client, after the response: {:?}",
                    whole_events.get(1)
                ));
            }
            diff_events(&whole_events, &byte_events).map_err(|e| format!("client: {e}"))
        })
    }
    quickcheck(150).quickcheck(prop as fn(HandshakeCase, u64) -> Result<(), String>);
}

// ---------------------------------------------------------------------------
// Round trip through a pair
// ---------------------------------------------------------------------------

/// One thing the application does during a round trip.
#[derive(Clone, Debug)]
enum Op {
    Send {
        from: Side,
        kind: MessageKind,
        len: usize,
    },
    Ping {
        from: Side,
    },
    /// Let simulated time pass, serving deliveries and deadlines on the way.
    Wait(Duration),
    /// Move bytes until quiet without time passing.
    Drive,
}

/// A random round trip: both sides' settings, what the applications do,
/// and who closes with what. Per-side arrays are indexed client, server.
#[derive(Clone, Debug)]
struct RoundTrip {
    fragment_size: [usize; 2],
    incremental: [bool; 2],
    keepalive: Option<Keepalive>,
    max_read: [Option<usize>; 2],
    max_delay: Duration,
    ops: Vec<Op>,
    closer: Side,
    close: (Option<u16>, usize),
    seed: u64,
}

impl Arbitrary for RoundTrip {
    fn arbitrary(g: &mut Gen) -> RoundTrip {
        let mut rng = Rng::new(u64::arbitrary(g));
        let side = |rng: &mut Rng| *rng.pick(&Side::BOTH);
        let keepalive = rng.percent(50).then(|| Keepalive {
            interval: rng.duration(Duration::from_millis(500)..=Duration::from_secs(10)),
            timeout: rng.duration(Duration::from_millis(400)..=Duration::from_secs(5)),
        });
        // Latency stays well under the keepalive timeout, so a peer that
        // answers always answers in time.
        let max_delay = match keepalive {
            Some(k) if rng.percent(50) => k.timeout / 5,
            _ if rng.percent(30) => Duration::from_millis(50),
            _ => Duration::ZERO,
        };
        let longest_wait = keepalive.map_or(Duration::from_secs(120), |k| k.interval * 3);
        let ops = (0..rng.range(0..=24))
            .map(|_| match rng.below(10) {
                0..=5 => Op::Send {
                    from: side(&mut rng),
                    kind: *rng.pick(&[MessageKind::Text, MessageKind::Binary]),
                    len: random_len(&mut rng, false),
                },
                6 => Op::Ping {
                    from: side(&mut rng),
                },
                7 | 8 => Op::Wait(rng.duration(Duration::ZERO..=longest_wait)),
                _ => Op::Drive,
            })
            .collect();
        let fragment_size =
            |rng: &mut Rng| *rng.pick(&[1, 3, 100, 125, 126, 1_000, 65_536, 1 << 20]);
        let max_read = |rng: &mut Rng| rng.percent(70).then(|| rng.range(1..=5_000));
        let code = *rng.pick(&CLOSE_CODES);
        RoundTrip {
            fragment_size: [fragment_size(&mut rng), fragment_size(&mut rng)],
            incremental: [rng.percent(30), rng.percent(30)],
            keepalive,
            max_read: [max_read(&mut rng), max_read(&mut rng)],
            max_delay,
            ops,
            closer: side(&mut rng),
            close: (
                code,
                if code.is_some() {
                    rng.range(0..=MAX_REASON_LEN)
                } else {
                    0
                },
            ),
            seed: rng.next_u64(),
        }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = RoundTrip>> {
        let this = self.clone();
        Box::new(
            shrink_list(&self.ops)
                .into_iter()
                .map(move |ops| RoundTrip {
                    ops,
                    ..this.clone()
                }),
        )
    }
}

/// Checks what one side wrote: masked exactly when it is the client, data
/// frames no larger than its fragment size and well nested, and the close
/// frame last.
fn check_written(frames: &[Frame], side: Side, fragment_size: usize) -> Result<(), String> {
    let mut in_message = false;
    for (i, frame) in frames.iter().enumerate() {
        if frame.masked != (side == Side::Client) {
            return Err(format!("{side} frame {i}: masking is wrong"));
        }
        match frame.opcode {
            OpCode::Text | OpCode::Binary | OpCode::Continuation => {
                if frame.payload.len() > fragment_size {
                    return Err(format!(
                        "{side} frame {i}: {frame:?} exceeds {fragment_size}"
                    ));
                }
                if in_message != (frame.opcode == OpCode::Continuation) {
                    return Err(format!("{side} frame {i}: {frame:?} breaks fragmentation"));
                }
                in_message = !frame.fin;
            }
            OpCode::Close if i + 1 != frames.len() => {
                return Err(format!(
                    "{side} wrote {} frames after its close",
                    frames.len() - i - 1
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Whether `sub` appears in `all` in order (not necessarily adjacent).
fn is_subsequence(sub: &[Bytes], all: &[Bytes]) -> bool {
    let mut all = all.iter();
    sub.iter().all(|s| all.any(|a| a == s))
}

#[test]
fn round_trip_delivers_everything_once_in_order() {
    fn prop(case: RoundTrip) -> Result<(), String> {
        named(&case, || {
            let config = |i: usize| {
                Config::default()
                    .fragment_size(case.fragment_size[i])
                    .keepalive(case.keepalive)
                    .receive_mode(if case.incremental[i] {
                        ReceiveMode::Incremental
                    } else {
                        ReceiveMode::Whole
                    })
            };
            let mut pair = Pair::new(config(0), config(1), case.seed);
            for side in Side::BOTH {
                let link = pair.link_to(side);
                link.max_read = case.max_read[side.index()];
                link.max_delay = case.max_delay;
            }
            pair.handshake();
            let mut rng = Rng::new(case.seed);
            for (i, op) in case.ops.iter().enumerate() {
                match *op {
                    Op::Send { from, kind, len } => {
                        let message = random_message(&mut rng, kind, len);
                        pair.send(from, message)
                            .map_err(|e| format!("op {i}: {e}"))?;
                    }
                    Op::Ping { from } => {
                        // Explicit pings carry a payload; keepalive pings do not.
                        let payload = Bytes::from(format!("ping {i}"));
                        pair.ping(from, payload)
                            .map_err(|e| format!("op {i}: {e}"))?;
                    }
                    Op::Wait(duration) => pair.advance(duration),
                    Op::Drive => pair.drive(),
                }
            }
            // Let everything land before closing: a side that has sent its
            // close no longer answers pings, so a ping still in flight when the
            // close starts would rightly go unanswered.
            let quiet = pair.quiesce(Duration::from_secs(60));
            if !quiet {
                return Err(format!(
                    "{} bytes still in flight after a minute",
                    pair.in_flight()
                ));
            }

            let (code, reason_len) = case.close;
            let (code, reason) = match code {
                Some(code) => (CloseCode(code), text_payload(&mut rng, reason_len)),
                None => (CloseCode::NO_STATUS, String::new()),
            };
            pair.close(case.closer, code, &reason)
                .map_err(|e| e.to_string())?;
            if !pair.run_to_close(Duration::from_secs(60)) {
                return Err(format!(
                    "the close did not complete: {:?} / {:?}",
                    pair.closed(Side::Client),
                    pair.closed(Side::Server)
                ));
            }

            for side in Side::BOTH {
                let peer = side.peer();
                compare_messages(pair.sent(side), &pair.received(peer), false)
                    .map_err(|e| format!("{side} to {peer}: {e}"))?;
                let pings: Vec<Bytes> = pair
                    .pings_received(peer)
                    .into_iter()
                    .filter(|p| !p.is_empty())
                    .collect();
                if pings != pair.pings_sent(side) {
                    return Err(format!(
                        "{side} pinged {:?}, {peer} received {pings:?}",
                        pair.pings_sent(side)
                    ));
                }
                // Pongs answer pings; an unanswered ping's pong may be replaced
                // by a newer one, but never reordered or invented.
                let pongs: Vec<Bytes> = pair
                    .pongs_received(side)
                    .into_iter()
                    .filter(|p| !p.is_empty())
                    .collect();
                if !is_subsequence(&pongs, pair.pings_sent(side)) {
                    return Err(format!(
                        "{side} pinged {:?}, got pongs {pongs:?}",
                        pair.pings_sent(side)
                    ));
                }
                // Without keepalive pings in between, the newest pong survives.
                if case.keepalive.is_none() && pongs.last() != pair.pings_sent(side).last() {
                    return Err(format!("{side}: the last ping was not answered: {pongs:?}"));
                }
                let frames = pair.frames_written(side)?;
                check_written(&frames, side, case.fragment_size[side.index()])?;
                if pair.max_lateness(side) != Duration::ZERO {
                    return Err(format!("{side}: a deadline was served late"));
                }
            }

            let expect = |cause, reason: &str| Closed {
                code,
                reason: reason.to_string(),
                cause,
            };
            // The closer hears back the code alone; the other side gets both.
            let closer = pair.closed(case.closer).cloned();
            let other = pair.closed(case.closer.peer()).cloned();
            if closer != Some(expect(CloseCause::Local, ""))
                || other != Some(expect(CloseCause::Remote, &reason))
            {
                return Err(format!(
                    "{} closed: {closer:?}; peer: {other:?}",
                    case.closer
                ));
            }
            Ok(())
        })
    }
    quickcheck(100).quickcheck(prop as fn(RoundTrip) -> Result<(), String>);
}

// ---------------------------------------------------------------------------
// Incremental receive
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum IncrementalOp {
    Send {
        kind: MessageKind,
        len: usize,
    },
    Ping {
        len: usize,
    },
    /// A few hops of traffic, so that later pings land between fragments.
    Steps(usize),
}

#[derive(Clone, Debug)]
struct IncrementalCase {
    receiver: Side,
    fragment_size: usize,
    max_read: usize,
    /// Bytes the sender may write per step: a small socket buffer keeps a
    /// long message partly unwritten, so pings overtake its fragments.
    max_write: usize,
    ops: Vec<IncrementalOp>,
    seed: u64,
}

impl Arbitrary for IncrementalCase {
    fn arbitrary(g: &mut Gen) -> IncrementalCase {
        let mut rng = Rng::new(u64::arbitrary(g));
        let max_read = *rng.pick(&[1, 5, 200, 3_000, 100_000]);
        // Messages of 64 KiB and more only with reads that are not tiny,
        // to keep each case fast; small reads still cross every header.
        let allow_huge = max_read >= 200;
        let ops = (0..rng.range(1..=12))
            .map(|_| match rng.below(6) {
                0..=2 => IncrementalOp::Send {
                    kind: *rng.pick(&[MessageKind::Text, MessageKind::Binary]),
                    len: random_len(&mut rng, allow_huge),
                },
                3 => IncrementalOp::Ping {
                    len: rng.range(0..=MAX_CONTROL_PAYLOAD),
                },
                _ => IncrementalOp::Steps(rng.range(1..=4)),
            })
            .collect();
        IncrementalCase {
            receiver: *rng.pick(&Side::BOTH),
            fragment_size: *rng.pick(&[64, 125, 1_000, 4_096, 1 << 20]),
            max_read,
            max_write: rng.range(1..=5_000),
            ops,
            seed: rng.next_u64(),
        }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = IncrementalCase>> {
        let this = self.clone();
        Box::new(
            shrink_list(&self.ops)
                .into_iter()
                .map(move |ops| IncrementalCase {
                    ops,
                    ..this.clone()
                }),
        )
    }
}

/// In incremental mode the pieces of each message concatenate to it, and
/// what the connection holds between reads is at most an unfinished frame
/// header or an unfinished control frame, however large the messages.
#[test]
fn incremental_pieces_rebuild_messages_in_bounded_memory() {
    fn prop(case: IncrementalCase) -> Result<(), String> {
        named(&case, || {
            let sender = case.receiver.peer();
            let receiver_config = Config::default().receive_mode(ReceiveMode::Incremental);
            let sender_config = Config::default().fragment_size(case.fragment_size);
            let (client, server) = match case.receiver {
                Side::Client => (receiver_config, sender_config),
                Side::Server => (sender_config, receiver_config),
            };
            let mut pair = Pair::new(client, server, case.seed);
            pair.handshake();
            pair.link_to(case.receiver).max_read = Some(case.max_read);
            pair.link_to(sender).max_write = Some(case.max_write);
            let mut rng = Rng::new(case.seed);
            let mut largest_control = None;
            for op in &case.ops {
                match *op {
                    IncrementalOp::Send { kind, len } => {
                        let message = random_message(&mut rng, kind, len);
                        pair.send(sender, message).map_err(|e| e.to_string())?;
                    }
                    IncrementalOp::Ping { len } => {
                        largest_control = largest_control.max(Some(len));
                        pair.ping(sender, rng.bytes(len).into())
                            .map_err(|e| e.to_string())?;
                    }
                    IncrementalOp::Steps(n) => {
                        for _ in 0..n {
                            pair.step();
                        }
                    }
                }
            }
            pair.drive();
            compare_messages(pair.sent(sender), &pair.received(case.receiver), false)?;
            let peak = pair.peak_buffered(case.receiver);
            let bound = match largest_control {
                // A control frame is only handed out whole.
                Some(len) => MAX_HEADER_LEN + len,
                // Otherwise only a header can be unfinished.
                None => MAX_HEADER_LEN - 1,
            };
            if peak > bound {
                return Err(format!("{peak} bytes buffered, bound {bound}"));
            }
            Ok(())
        })
    }
    quickcheck(80).quickcheck(prop as fn(IncrementalCase) -> Result<(), String>);
}

// ---------------------------------------------------------------------------
// Garbage
// ---------------------------------------------------------------------------

/// Bytes a client might send after the handshake: mostly frame-shaped (so
/// the reader gets past the first header) with broken fields, some raw
/// noise, some valid frames with a byte flipped.
#[derive(Clone, Debug)]
struct Garbage {
    bytes: Vec<u8>,
    split_seed: u64,
}

fn garbage_piece(rng: &mut Rng) -> Vec<u8> {
    let mask = Some(rng.seed32()[..4].try_into().unwrap());
    let opcode = *rng.pick(&[
        OpCode::Continuation,
        OpCode::Text,
        OpCode::Binary,
        OpCode::Close,
        OpCode::Ping,
        OpCode::Pong,
    ]);
    let len = if rng.percent(80) {
        rng.range(0..=130)
    } else {
        rng.range(0..=6_000)
    };
    let payload = match rng.below(4) {
        0 => text_payload(rng, len).into_bytes(),
        1 if len >= 2 => {
            let mut close = rng
                .pick(&[1000u16, 1001, 1005, 1006, 1015, 999, 3000, 5000])
                .to_be_bytes()
                .to_vec();
            close.extend(text_payload(rng, len - 2).into_bytes());
            close
        }
        _ => rng.bytes(len),
    };
    let form = *rng.pick(&[LenForm::Minimal, LenForm::Medium, LenForm::Long]);
    let mut frame = FrameSpec::new(opcode, &payload)
        .fin(rng.percent(70))
        .mask(mask)
        .len_form(form)
        .encode();
    match rng.below(8) {
        // Raw noise.
        0 => {
            let len = rng.range(1..=40);
            rng.bytes(len)
        }
        // A flipped byte anywhere, header included.
        1 | 2 => {
            let at = rng.range(0..=frame.len() - 1);
            frame[at] ^= 1 << rng.below(8);
            frame
        }
        // RSV bits, an unmasked frame, or a reserved opcode.
        3 => {
            frame[0] ^= *rng.pick(&[0x40, 0x20, 0x10, 0x03, 0x04, 0x0B]);
            frame
        }
        4 => {
            frame[1] &= 0x7F;
            frame
        }
        // Cut short.
        5 => {
            frame.truncate(rng.range(0..=frame.len()));
            frame
        }
        _ => frame,
    }
}

impl Arbitrary for Garbage {
    fn arbitrary(g: &mut Gen) -> Garbage {
        let mut rng = Rng::new(u64::arbitrary(g));
        let bytes = (0..rng.range(1..=8))
            .flat_map(|_| garbage_piece(&mut rng))
            .collect();
        Garbage {
            bytes,
            split_seed: rng.next_u64(),
        }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Garbage>> {
        let this = self.clone();
        let len = self.bytes.len();
        // Shorter prefixes and suffixes keep the structure of what remains.
        let cuts: Vec<(usize, usize)> = [len / 2, len - len / 4, len.saturating_sub(1)]
            .into_iter()
            .filter(|&n| n < len)
            .flat_map(|n| [(0, n), (len - n, len)])
            .collect();
        Box::new(cuts.into_iter().map(move |(a, b)| Garbage {
            bytes: this.bytes[a..b].to_vec(),
            ..this.clone()
        }))
    }
}

#[test]
fn garbage_never_panics_and_ends_in_one_well_formed_close() {
    fn prop(garbage: Garbage) -> Result<(), String> {
        named(&garbage, || {
            // Small limits so that oversized frames are among the outcomes.
            let config = Config::default()
                .max_frame_size(4_096)
                .max_message_size(8_192);
            let mut server = Connection::server(config, T0).unwrap();
            let mut client =
                Connection::client(Config::default(), ClientRequest::new("h", "/"), [3; 32], T0)
                    .unwrap();
            server.handle_input(T0, &drain_transmits(&mut client));
            let _request = drain_events(&mut server);
            server
                .accept(T0, Accept::new())
                .map_err(|e| e.to_string())?;
            let _connected = drain_events(&mut server);
            let _response = drain_transmits(&mut server);

            let mut rng = Rng::new(garbage.split_seed);
            let mut next_read = read_sizes(&mut rng);
            let mut events = Vec::new();
            let mut rest = garbage.bytes.as_slice();
            while !rest.is_empty() {
                let (read, tail) = rest.split_at(next_read().clamp(1, rest.len()));
                server.handle_input(T0, read);
                events.extend(drain_events(&mut server));
                rest = tail;
            }
            let frames = decode_frames(&drain_transmits(&mut server))?;
            let closes: Vec<&Frame> = frames
                .iter()
                .filter(|f| f.opcode == OpCode::Close)
                .collect();
            if frames.iter().any(|f| f.masked) {
                return Err("the server masked a frame".into());
            }
            if let Some(i) = events.iter().position(|e| matches!(e, Event::Closed(_))) {
                if i + 1 != events.len() {
                    return Err(format!("{} events after Closed", events.len() - i - 1));
                }
            }
            let Some(Event::Closed(closed)) = events.last() else {
                if !closes.is_empty() || !server.is_open() {
                    return Err(format!("no Closed event, yet {closes:?} written"));
                }
                return Ok(());
            };
            if closes.len() != 1 || frames.last().map(|f| f.opcode) != Some(OpCode::Close) {
                return Err(format!("ended with {closed:?} but wrote {frames:?}"));
            }
            let written = closes[0].close_code();
            match &closed.cause {
                CloseCause::Protocol(error) => {
                    let code = rfc_close_code(error);
                    if written != Some(code) {
                        return Err(format!("{error:?} answered with close code {written:?}"));
                    }
                    if closed.code.0 != code {
                        return Err(format!("{error:?} reported as {closed:?}"));
                    }
                }
                // The garbage held a valid close frame: its code is echoed.
                CloseCause::Remote => {
                    let expected = (closed.code != CloseCode::NO_STATUS).then_some(closed.code.0);
                    if written != expected {
                        return Err(format!("{closed:?} echoed as {written:?}"));
                    }
                }
                other => return Err(format!("unexpected cause {other:?}")),
            }
            Ok(())
        })
    }
    quickcheck(400).quickcheck(prop as fn(Garbage) -> Result<(), String>);
}
