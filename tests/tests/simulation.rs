//! A deterministic network simulation over many seeds.
//!
//! Every seed builds a client/server [`Pair`] over a random network (read
//! sizes down to one byte, delays, a slow writer, a coarse clock, spurious
//! wake-ups), plays one scenario with random application traffic and checks
//! what both applications observed:
//!
//! - every message accepted by `send` before a close is delivered exactly
//!   once and in order, or, where the scenario loses the peer, what arrived
//!   is an unmodified prefix and the sender's connection ends by a timeout;
//! - both sides reach `Closed` with the cause and code the scenario implies;
//! - timeouts fire at the instant the configuration implies, late by no more
//!   than the simulated clock step, and `poll_timeout` never asks to be
//!   woken in the past after `handle_timeout` (checked by the harness on
//!   every wake-up, as is "no event after `Closed`").
//!
//! A scenario is a pure function of its seed. Failing seeds are listed in
//! the failure message; `SIM_SEED=<n>` runs only that seed.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use bytes::Bytes;
use wscore::wire::OpCode;
use wscore::{
    CloseCause, CloseCode, Closed, Config, Event, Instant, Keepalive, MessageKind, ReceiveMode,
    StreamConfig, Subprotocol, TimeoutKind, MAX_REASON_LEN,
};
use wscore_tests::{
    compare_messages, random_len, random_message, rfc_close_code, text_payload, Pair, Rng, Side,
};

const MS: Duration = Duration::from_millis(1);
const SECOND: Duration = Duration::from_secs(1);

/// Runs `scenario` for every seed in `seeds` (or only `SIM_SEED`) and fails
/// with the list of seeds that broke a property.
fn run_seeds(name: &str, seeds: std::ops::Range<u64>, scenario: fn(u64) -> Result<(), String>) {
    let only: Option<u64> = std::env::var("SIM_SEED").ok().and_then(|s| s.parse().ok());
    let mut failures = Vec::new();
    let mut ran = 0;
    for seed in seeds.filter(|s| only.is_none_or(|o| o == *s)) {
        ran += 1;
        let error = match catch_unwind(AssertUnwindSafe(|| scenario(seed))) {
            Ok(Ok(())) => continue,
            Ok(Err(error)) => error,
            Err(panic) => format!(
                "panicked: {}",
                panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default()
            ),
        };
        failures.push(format!("seed {seed}: {error}"));
    }
    assert!(
        failures.is_empty(),
        "{name}: {} of {ran} seeds failed (rerun one with SIM_SEED=<seed>):\n{}",
        failures.len(),
        failures
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

// ---------------------------------------------------------------------------
// Building blocks
// ---------------------------------------------------------------------------

/// What the random network of a seed looks like, for the checks.
#[derive(Debug)]
struct Network {
    max_delay: Duration,
    /// Whether some reader takes at most a few bytes at a time (messages
    /// are kept small then, so that the seed stays fast).
    tiny_reads: bool,
}

fn random_network(pair: &mut Pair, rng: &mut Rng) -> Network {
    let max_delay = *rng.pick(&[Duration::ZERO, MS, 20 * MS, 100 * MS]);
    let mut tiny_reads = false;
    for side in Side::BOTH {
        let max_read = match rng.below(4) {
            0 => None,
            1 => Some(rng.range(1..=16)),
            _ => Some(rng.range(17..=4_096)),
        };
        tiny_reads |= max_read.is_some_and(|m| m <= 16);
        let link = pair.link_to(side);
        link.max_read = max_read;
        link.max_write = rng.percent(30).then(|| rng.range(1..=2_048));
        link.min_delay = if rng.percent(50) {
            max_delay / 4
        } else {
            Duration::ZERO
        };
        link.max_delay = max_delay;
    }
    pair.tick = rng.percent(50).then(|| *rng.pick(&[MS, 10 * MS, 50 * MS]));
    pair.spurious_wakeups = rng.percent(25);
    Network {
        max_delay,
        tiny_reads,
    }
}

fn random_keepalive(rng: &mut Rng) -> Keepalive {
    Keepalive {
        interval: rng.duration(SECOND..=10 * SECOND),
        timeout: rng.duration(2 * SECOND..=5 * SECOND),
    }
}

/// A configuration with random fragment size and receive mode.
fn random_config(rng: &mut Rng) -> Config {
    Config::default()
        .fragment_size(*rng.pick(&[16, 125, 1_000, 4_096, 1 << 17]))
        .receive_mode(if rng.percent(30) {
            ReceiveMode::Incremental
        } else {
            ReceiveMode::Whole
        })
}

fn message_len(rng: &mut Rng, network: &Network) -> usize {
    if network.tiny_reads {
        rng.range(0..=1_000)
    } else {
        random_len(rng, false)
    }
}

/// Application activity for `duration` of simulated time: at random gaps,
/// a message or a ping from one of `senders` (recorded when accepted; a
/// refusal is fine once the connection is closing), or a stall of a reader
/// of at most `max_stall`, one stall at a time.
fn traffic(
    pair: &mut Pair,
    rng: &mut Rng,
    network: &Network,
    duration: Duration,
    senders: &[Side],
    max_stall: Option<Duration>,
) {
    let end = pair.now + duration;
    let mut n = 0;
    loop {
        let gap = rng.duration(Duration::ZERO..=SECOND);
        if pair.now + gap > end {
            pair.advance_to(end);
            return;
        }
        pair.advance(gap);
        let side = *rng.pick(senders);
        match rng.below(20) {
            0..=13 => {
                let kind = *rng.pick(&[MessageKind::Text, MessageKind::Binary]);
                let len = message_len(rng, network);
                let _ = pair.send(side, random_message(rng, kind, len));
            }
            14 | 15 => {
                n += 1;
                let _ = pair.ping(side, Bytes::from(format!("ping {n}")));
            }
            16 => {
                let now = pair.now;
                let nobody_stalled = Side::BOTH
                    .iter()
                    .all(|&s| pair.link_to(s).stalled_until.is_none_or(|t| t <= now));
                if let (Some(max), true) = (max_stall, nobody_stalled) {
                    let reader = *rng.pick(&Side::BOTH);
                    let duration = rng.duration(Duration::ZERO..=max);
                    pair.stall(reader, duration);
                }
            }
            _ => {}
        }
    }
}

fn random_close(rng: &mut Rng) -> (CloseCode, String) {
    let code = *rng.pick(&[1000, 1001, 1003, 1008, 1011, 3000, 4000, 1005]);
    if code == 1005 {
        return (CloseCode::NO_STATUS, String::new());
    }
    let len = rng.range(0..=MAX_REASON_LEN);
    (CloseCode(code), text_payload(rng, len))
}

/// Checks that hold in every scenario: deadlines served within one clock
/// step, and well-formed output (right masking, fragments nested, nothing
/// after the close frame).
fn check_common(pair: &Pair) -> Result<(), String> {
    let step = pair.tick.unwrap_or(Duration::ZERO);
    for side in Side::BOTH {
        let late = pair.max_lateness(side);
        if late > step {
            return Err(format!(
                "{side}: a deadline was served {late:?} late (step {step:?})"
            ));
        }
        let frames = pair.frames_written(side)?;
        let mut in_message = false;
        for (i, frame) in frames.iter().enumerate() {
            if frame.masked != (side == Side::Client) {
                return Err(format!("{side} frame {i}: wrong masking"));
            }
            match frame.opcode {
                OpCode::Text | OpCode::Binary | OpCode::Continuation => {
                    if in_message != (frame.opcode == OpCode::Continuation) {
                        return Err(format!("{side} frame {i}: fragments out of order"));
                    }
                    in_message = !frame.fin;
                }
                OpCode::Close if i + 1 != frames.len() => {
                    return Err(format!("{side} wrote frames after its close frame"));
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Both directions: everything accepted arrived, or (`prefix`) an
/// unmodified prefix of it.
fn check_delivery(pair: &Pair, prefix: bool) -> Result<(), String> {
    for side in Side::BOTH {
        let peer = side.peer();
        compare_messages(pair.sent(side), &pair.received(peer), prefix)
            .map_err(|e| format!("{side} to {peer}: {e}"))?;
    }
    Ok(())
}

fn check_closed(pair: &Pair, side: Side, expected: &Closed) -> Result<(), String> {
    match pair.closed(side) {
        Some(closed) if closed == expected => Ok(()),
        other => Err(format!(
            "{side} ended with {other:?}, expected {expected:?}"
        )),
    }
}

/// `at` lies in `[earliest, earliest + slack]`.
fn check_time(
    what: &str,
    at: Option<Instant>,
    earliest: Instant,
    slack: Duration,
) -> Result<(), String> {
    match at {
        Some(at) if at >= earliest && at <= earliest + slack => Ok(()),
        other => Err(format!(
            "{what} at {other:?}, expected between {earliest:?} and {:?}",
            earliest + slack
        )),
    }
}

fn closed(code: CloseCode, reason: &str, cause: CloseCause) -> Closed {
    Closed {
        code,
        reason: reason.to_string(),
        cause,
    }
}

fn close_code_written(pair: &Pair, side: Side) -> Result<Option<u16>, String> {
    let frames = pair.frames_written(side)?;
    Ok(frames
        .last()
        .filter(|f| f.opcode == OpCode::Close)
        .and_then(|f| f.close_code()))
}

// ---------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------

/// Traffic both ways, short stalls, then a close from a random side while
/// messages may still be in flight, and both sides keep sending for a
/// while. Everything accepted arrives; the closer ends `Local`, the other
/// `Remote`, with the closer's code.
fn clean_close(seed: u64) -> Result<(), String> {
    let mut rng = Rng::new(seed);
    let keepalive = rng.percent(60).then(|| random_keepalive(&mut rng));
    let mut config = || {
        random_config(&mut rng)
            .keepalive(keepalive)
            // Long enough for any stall and backlog: no close times out.
            .close_timeout(60 * SECOND)
    };
    let (client, server) = (config(), config());
    let mut pair = Pair::new(client, server, rng.next_u64());
    let network = random_network(&mut pair, &mut rng);
    pair.handshake();

    // A stall shorter than half the keepalive timeout delays pongs but can
    // never make them late (delays and clock steps are far smaller).
    let max_stall = keepalive.map_or(3 * SECOND, |k| k.timeout / 2);
    let duration = rng.duration(Duration::ZERO..=20 * SECOND);
    traffic(
        &mut pair,
        &mut rng,
        &network,
        duration,
        &Side::BOTH,
        Some(max_stall),
    );

    let closer = *rng.pick(&Side::BOTH);
    // Messages sent right before the close are still queued when it is
    // called; they must be written ahead of the close frame.
    for _ in 0..rng.range(0..=3) {
        let kind = *rng.pick(&[MessageKind::Text, MessageKind::Binary]);
        let len = message_len(&mut rng, &network);
        pair.send(closer, random_message(&mut rng, kind, len))
            .map_err(|e| format!("{closer} could not send before closing: {e}"))?;
    }
    let (code, reason) = random_close(&mut rng);
    pair.close(closer, code, &reason)
        .map_err(|e| format!("{closer} could not close: {e}"))?;
    let duration = rng.duration(Duration::ZERO..=2 * SECOND);
    traffic(
        &mut pair,
        &mut rng,
        &network,
        duration,
        &Side::BOTH,
        Some(max_stall),
    );
    if !pair.run_to_close(600 * SECOND) {
        return Err(format!(
            "not closed after ten minutes: {:?} / {:?}",
            pair.closed(Side::Client),
            pair.closed(Side::Server)
        ));
    }

    check_delivery(&pair, false)?;
    check_closed(&pair, closer, &closed(code, "", CloseCause::Local))?;
    check_closed(
        &pair,
        closer.peer(),
        &closed(code, &reason, CloseCause::Remote),
    )?;
    check_common(&pair)
}

/// A peer vanishes without a close, possibly with messages in flight. The
/// survivor ends through its keepalive (no answer to its ping) or, if it
/// started a close, through its close timeout, at the instant the
/// configuration implies.
fn vanished_peer(seed: u64) -> Result<(), String> {
    let mut rng = Rng::new(seed);
    let survivor = *rng.pick(&Side::BOTH);
    let keepalive = rng.percent(70).then(|| random_keepalive(&mut rng));
    let close_timeout = rng.duration(SECOND..=10 * SECOND);
    let survivor_config = random_config(&mut rng)
        .keepalive(keepalive)
        .close_timeout(close_timeout);
    let other_config = random_config(&mut rng).keepalive(keepalive);
    let (client, server) = match survivor {
        Side::Client => (survivor_config, other_config),
        Side::Server => (other_config, survivor_config),
    };
    let mut pair = Pair::new(client, server, rng.next_u64());
    let network = random_network(&mut pair, &mut rng);
    pair.handshake();
    let max_stall = keepalive.map(|k| k.timeout / 2);
    let duration = rng.duration(Duration::ZERO..=10 * SECOND);
    traffic(
        &mut pair,
        &mut rng,
        &network,
        duration,
        &Side::BOTH,
        max_stall,
    );

    pair.vanish(survivor.peer());
    // The survivor does not know yet and keeps sending.
    let duration = rng.duration(Duration::ZERO..=5 * SECOND);
    traffic(&mut pair, &mut rng, &network, duration, &[survivor], None);
    if keepalive.is_none() || rng.percent(40) {
        let wait = keepalive.map_or(2 * SECOND, |k| k.interval + k.timeout);
        pair.advance(rng.duration(Duration::ZERO..=wait));
        // Refused if the keepalive already ended the connection.
        let _ = pair.close(survivor, CloseCode::GOING_AWAY, "bye");
    }
    let ended = pair.run_until(600 * SECOND, |p| p.closed(survivor).is_some());
    if !ended {
        return Err(format!("{survivor} never noticed that its peer vanished"));
    }
    // Write out what the last event queued (the close frame).
    pair.drive();

    let step = pair.tick.unwrap_or(Duration::ZERO);
    let kind = match (pair.close_called(survivor), keepalive) {
        (Some(at), _) => {
            check_time(
                "close timeout",
                pair.closed_at(survivor),
                at + close_timeout,
                step,
            )?;
            TimeoutKind::Close
        }
        (None, Some(k)) => {
            // The ping goes out `interval` after the last input, and the
            // connection gives up `timeout` after the ping; each deadline
            // is served within one clock step.
            let last = pair.last_input(survivor).unwrap_or(Instant::ZERO);
            let at = pair.closed_at(survivor);
            check_time(
                "keepalive timeout",
                at,
                last + k.interval + k.timeout,
                2 * step,
            )?;
            let code = close_code_written(&pair, survivor)?;
            if code != Some(1011) {
                return Err(format!(
                    "keepalive timeout wrote close code {code:?}, not 1011"
                ));
            }
            TimeoutKind::Keepalive
        }
        (None, None) => return Err("ended without keepalive or close".into()),
    };
    let expected = closed(CloseCode::ABNORMAL, "", CloseCause::Timeout(kind));
    check_closed(&pair, survivor, &expected)?;
    check_delivery(&pair, true)?;
    check_common(&pair)
}

/// One side sends a long fragmented message; half-way through its arrival
/// one of the two sides closes. The message still arrives whole before the
/// close completes, and the close frame follows its last fragment.
fn close_mid_fragment(seed: u64) -> Result<(), String> {
    close_mid_message(seed, false)
}

/// The same close, half-way through a payload that travels as a stream of
/// the streamed envelope: the close waits for the stream, which arrives
/// whole and exactly once.
fn close_mid_stream(seed: u64) -> Result<(), String> {
    close_mid_message(seed, true)
}

fn streamed(config: Config) -> Config {
    config
        .subprotocols(vec![Subprotocol::streamed("sim.v2")])
        .stream(
            StreamConfig::default()
                .send_threshold(Some(20_000))
                .chunk_size(4_096),
        )
        .receive_mode(ReceiveMode::Whole)
}

fn close_mid_message(seed: u64, stream: bool) -> Result<(), String> {
    let mut rng = Rng::new(seed);
    let sender = *rng.pick(&Side::BOTH);
    let receiver = sender.peer();
    let keepalive = rng.percent(50).then(|| random_keepalive(&mut rng));
    let sender_config = random_config(&mut rng)
        .fragment_size(*rng.pick(&[256, 1_000, 4_096]))
        .keepalive(keepalive)
        .close_timeout(60 * SECOND);
    let receiver_config = random_config(&mut rng)
        .keepalive(keepalive)
        .close_timeout(60 * SECOND);
    let (sender_config, receiver_config) = if stream {
        (streamed(sender_config), streamed(receiver_config))
    } else {
        (sender_config, receiver_config)
    };
    let (client, server) = match sender {
        Side::Client => (sender_config, receiver_config),
        Side::Server => (receiver_config, sender_config),
    };
    let mut pair = Pair::new(client, server, rng.next_u64());
    let mut network = random_network(&mut pair, &mut rng);
    // The receiver reads in bounded chunks, so the message takes many reads.
    pair.link_to(receiver).max_read = Some(rng.range(1_000..=4_096));
    network.tiny_reads = false;
    pair.handshake();
    let duration = rng.duration(Duration::ZERO..=3 * SECOND);
    traffic(&mut pair, &mut rng, &network, duration, &Side::BOTH, None);
    pair.drive();

    let len = rng.range(50_000..=150_000);
    let kind = if stream {
        MessageKind::Binary
    } else {
        *rng.pick(&[MessageKind::Text, MessageKind::Binary])
    };
    let start = pair.link_to(receiver).written();
    pair.send(sender, random_message(&mut rng, kind, len))
        .map_err(|e| e.to_string())?;
    // Stop somewhere between a tenth and four fifths of the payload: even a
    // full read past that point cannot complete the message.
    let target = start + rng.range(len / 10..=len * 4 / 5) as u64;
    let reached = pair.run_until(60 * SECOND, |p| {
        let link = match receiver {
            Side::Client => &p.to_client,
            Side::Server => &p.to_server,
        };
        link.delivered() >= target
    });
    if !reached || pair.received(receiver).len() == pair.sent(sender).len() {
        return Err("the scenario did not stop half-way through the message".into());
    }

    let closer = if rng.percent(70) { receiver } else { sender };
    let (code, reason) = random_close(&mut rng);
    pair.close(closer, code, &reason)
        .map_err(|e| format!("{closer} could not close: {e}"))?;
    let duration = rng.duration(Duration::ZERO..=2 * SECOND);
    traffic(&mut pair, &mut rng, &network, duration, &Side::BOTH, None);
    if !pair.run_to_close(600 * SECOND) {
        return Err("the close did not complete".into());
    }

    check_delivery(&pair, false)?;
    check_closed(&pair, closer, &closed(code, "", CloseCause::Local))?;
    check_closed(
        &pair,
        closer.peer(),
        &closed(code, &reason, CloseCause::Remote),
    )?;
    let frames = pair.frames_written(sender)?;
    if stream {
        let chunks = frames
            .iter()
            .filter(|f| f.opcode == OpCode::Binary && f.payload.first() == Some(&2))
            .count();
        if chunks < len / 4_096 {
            return Err(format!("the long message went as {chunks} chunks"));
        }
    } else if !frames.iter().any(|f| f.opcode == OpCode::Continuation) {
        return Err("the long message was not fragmented".into());
    }
    check_common(&pair)
}

/// A reader stops reading for longer than its keepalive allows (it still
/// writes). Its own keepalive ping goes unanswered, from its point of view,
/// so it gives up at the instant its configuration implies and says so with
/// 1011; the peer either reads that close or times out itself.
fn long_stall(seed: u64) -> Result<(), String> {
    let mut rng = Rng::new(seed);
    let keepalive = Keepalive {
        interval: rng.duration(SECOND..=5 * SECOND),
        timeout: rng.duration(SECOND..=3 * SECOND),
    };
    let mut config = || random_config(&mut rng).keepalive(Some(keepalive));
    let (client, server) = (config(), config());
    let mut pair = Pair::new(client, server, rng.next_u64());
    let network = random_network(&mut pair, &mut rng);
    pair.handshake();
    let duration = rng.duration(Duration::ZERO..=5 * SECOND);
    traffic(&mut pair, &mut rng, &network, duration, &Side::BOTH, None);

    let stalled = *rng.pick(&Side::BOTH);
    let peer = stalled.peer();
    let extra = rng.duration(SECOND..=10 * SECOND);
    pair.stall(stalled, keepalive.interval + keepalive.timeout + extra);
    let duration = rng.duration(Duration::ZERO..=keepalive.interval + keepalive.timeout);
    traffic(&mut pair, &mut rng, &network, duration, &Side::BOTH, None);
    let ended = pair.run_until(600 * SECOND, |p| {
        Side::BOTH.iter().all(|&s| p.closed(s).is_some())
    });
    if !ended {
        return Err("a side never ended".into());
    }
    pair.drive();

    let step = pair.tick.unwrap_or(Duration::ZERO);
    let timed_out = closed(
        CloseCode::ABNORMAL,
        "",
        CloseCause::Timeout(TimeoutKind::Keepalive),
    );
    check_closed(&pair, stalled, &timed_out)?;
    let last = pair.last_input(stalled).unwrap_or(Instant::ZERO);
    let expected = last + keepalive.interval + keepalive.timeout;
    check_time(
        "keepalive timeout",
        pair.closed_at(stalled),
        expected,
        2 * step,
    )?;
    let code = close_code_written(&pair, stalled)?;
    if code != Some(1011) {
        return Err(format!(
            "the stalled side wrote close code {code:?}, not 1011"
        ));
    }
    let heard = closed(
        CloseCode::INTERNAL_ERROR,
        "keepalive timeout",
        CloseCause::Remote,
    );
    match pair.closed(peer) {
        Some(c) if *c == heard => {
            if pair.closed_at(peer) < pair.closed_at(stalled) {
                return Err("the peer read the close before it was sent".into());
            }
        }
        Some(c) if *c == timed_out => {
            let last = pair.last_input(peer).unwrap_or(Instant::ZERO);
            let expected = last + keepalive.interval + keepalive.timeout;
            check_time(
                "peer keepalive timeout",
                pair.closed_at(peer),
                expected,
                2 * step,
            )?;
        }
        other => return Err(format!("{peer} ended with {other:?}")),
    }
    check_delivery(&pair, true)?;
    check_common(&pair)
}

/// The peer stops sending messages; the side with an idle timeout closes
/// with 1001 once that long has passed since the last message it received.
fn idle_close(seed: u64) -> Result<(), String> {
    let mut rng = Rng::new(seed);
    let idle_side = *rng.pick(&Side::BOTH);
    let peer = idle_side.peer();
    let idle = rng.duration(SECOND..=10 * SECOND);
    let idle_config = random_config(&mut rng).idle_timeout(Some(idle));
    let peer_config = random_config(&mut rng);
    let (client, server) = match idle_side {
        Side::Client => (idle_config, peer_config),
        Side::Server => (peer_config, idle_config),
    };
    let mut pair = Pair::new(client, server, rng.next_u64());
    let network = random_network(&mut pair, &mut rng);
    pair.handshake();
    // Messages from the peer, closer together than the idle timeout.
    for _ in 0..rng.range(0..=20) {
        pair.advance(rng.duration(Duration::ZERO..=idle / 3));
        let kind = *rng.pick(&[MessageKind::Text, MessageKind::Binary]);
        let len = message_len(&mut rng, &network);
        pair.send(peer, random_message(&mut rng, kind, len))
            .map_err(|e| format!("the idle timeout fired early: {e}"))?;
    }
    if !pair.run_to_close(600 * SECOND) {
        return Err("the idle timeout never closed the connection".into());
    }

    // The timer starts when the connection opens and restarts when a
    // message starts (incremental) or completes (whole).
    let log = pair.log(idle_side);
    let opened = log.iter().find(|l| matches!(l.event, Event::Connected(_)));
    let restarts = log
        .iter()
        .filter(|l| matches!(l.event, Event::Message(_) | Event::MessageStart(_)));
    let last = opened.into_iter().chain(restarts).map(|l| l.at).max();
    let deadline = last.unwrap_or(Instant::ZERO) + idle;
    let heard_at = pair
        .log(peer)
        .iter()
        .find(|l| matches!(l.event, Event::CloseReceived(_)))
        .map(|l| l.at);
    // Served within a step, then in flight for at most the delay, then
    // read at the next step.
    let step = pair.tick.unwrap_or(Duration::ZERO);
    check_time(
        "idle close",
        heard_at,
        deadline,
        2 * step + network.max_delay,
    )?;
    check_delivery(&pair, false)?;
    check_closed(
        &pair,
        idle_side,
        &closed(CloseCode::GOING_AWAY, "", CloseCause::Local),
    )?;
    check_closed(
        &pair,
        peer,
        &closed(CloseCode::GOING_AWAY, "idle timeout", CloseCause::Remote),
    )?;
    check_common(&pair)
}

/// One byte of one direction is flipped in flight. Nothing panics, both
/// sides end (keepalive and close timeouts see to that), a protocol error
/// can only be reported by the side that read the corrupted stream and is
/// answered with its RFC close code, and the other direction is untouched.
fn corruption(seed: u64) -> Result<(), String> {
    let mut rng = Rng::new(seed);
    let keepalive = Some(random_keepalive(&mut rng));
    let mut config = || {
        random_config(&mut rng)
            .keepalive(keepalive)
            .close_timeout(rng.duration(SECOND..=10 * SECOND))
            // Corrupted lengths often exceed this rather than stall a reader.
            .max_frame_size(64 << 10)
    };
    let (client, server) = (config(), config());
    let mut pair = Pair::new(client, server, rng.next_u64());
    let network = random_network(&mut pair, &mut rng);
    pair.handshake();

    let victim = *rng.pick(&Side::BOTH);
    let xor = 1u8 << rng.below(8);
    let link = pair.link_to(victim);
    let offset = link.written() + rng.below(20_000);
    link.corrupt = Some((offset, xor));
    let duration = rng.duration(Duration::ZERO..=15 * SECOND);
    traffic(&mut pair, &mut rng, &network, duration, &Side::BOTH, None);
    let closer = *rng.pick(&Side::BOTH);
    let (code, reason) = random_close(&mut rng);
    let _ = pair.close(closer, code, &reason);
    let ended = pair.run_until(3_600 * SECOND, |p| {
        Side::BOTH.iter().all(|&s| p.closed(s).is_some())
    });
    if !ended {
        return Err(format!(
            "not both ended: {:?} / {:?}",
            pair.closed(Side::Client),
            pair.closed(Side::Server)
        ));
    }

    for side in Side::BOTH {
        let Some(closed) = pair.closed(side) else {
            continue;
        };
        match &closed.cause {
            CloseCause::Protocol(error) if side == victim => {
                let expected = rfc_close_code(error);
                let written = close_code_written(&pair, side)?;
                if written != Some(expected) || closed.code.0 != expected {
                    return Err(format!("{side}: {error:?} answered with {written:?}"));
                }
            }
            CloseCause::Protocol(error) => {
                return Err(format!("{side} reported {error:?} on an intact stream"));
            }
            CloseCause::Local | CloseCause::Remote | CloseCause::Timeout(_) => {}
            other => return Err(format!("{side} ended with {other:?}")),
        }
    }
    // The intact direction delivers an unmodified prefix.
    compare_messages(pair.sent(victim), &pair.received(victim.peer()), true)
        .map_err(|e| format!("intact direction: {e}"))?;
    check_common(&pair)
}

#[test]
fn clean_close_delivers_everything() {
    run_seeds("clean_close", 0..200, clean_close);
}

#[test]
fn vanished_peer_is_detected_by_timeouts() {
    run_seeds("vanished_peer", 1_000..1_100, vanished_peer);
}

#[test]
fn close_in_the_middle_of_a_fragmented_message() {
    run_seeds("close_mid_fragment", 2_000..2_060, close_mid_fragment);
}

#[test]
fn close_in_the_middle_of_a_stream() {
    run_seeds("close_mid_stream", 2_100..2_160, close_mid_stream);
}

#[test]
fn long_stall_ends_in_a_keepalive_timeout() {
    run_seeds("long_stall", 3_000..3_060, long_stall);
}

#[test]
fn idle_timeout_closes_quiet_connections() {
    run_seeds("idle_close", 4_000..4_040, idle_close);
}

#[test]
fn corruption_ends_cleanly() {
    run_seeds("corruption", 5_000..5_080, corruption);
}

/// `Config::idle_timeout` counts messages received: a peer that keeps
/// sending keeps the connection open, while sending to a silent peer does
/// not (liveness of a listening peer is what keepalive is for).
#[test]
fn idle_timeout_counts_messages_received() {
    let idle = 10 * SECOND;
    let config = Config::default().idle_timeout(Some(idle));
    let mut pair = Pair::new(Config::default(), config, 1);
    pair.handshake();
    // A message every four seconds from the client, for thirty seconds.
    for i in 0..8u8 {
        pair.advance(4 * SECOND);
        pair.send(
            Side::Client,
            random_message(&mut Rng::new(u64::from(i)), MessageKind::Text, 10),
        )
        .unwrap_or_else(|e| panic!("send at {:?} refused: {e}", pair.now));
        pair.drive();
    }
    assert_eq!(pair.received(Side::Server), pair.sent(Side::Client));
    assert!(pair.server.is_open(), "{:?}", pair.closed(Side::Server));

    // Now only the server talks: its idle timer runs out.
    let quiet_since = pair.now;
    for i in 0..4u8 {
        pair.advance(4 * SECOND);
        let _ = pair.send(
            Side::Server,
            random_message(&mut Rng::new(u64::from(i)), MessageKind::Text, 10),
        );
        pair.drive();
    }
    let closed = pair.closed(Side::Server).expect("server closed as idle");
    assert_eq!(closed.code, CloseCode::GOING_AWAY);
    assert_eq!(
        pair.closed_at(Side::Server).map(|t| t - quiet_since),
        Some(idle)
    );
}
