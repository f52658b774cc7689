//! Row 5a: batching.
//!
//! A client sends many 64-byte binary messages to a server, in memory: the
//! client's `send` and `poll_transmit`, the bytes copied onto a wire, the
//! server's `handle_input` and `poll_event`. Once on a plain subprotocol
//! (one frame per message) and once on a batched one (one frame per
//! burst), with the application flushing after every burst of `burst`
//! messages, as an application that writes what it has and then waits
//! would.

use std::time::{Duration, Instant};

use bytes::Bytes;
use wscore::{Config, Event, Message, Subprotocol};
use wscore_bench::harness::{alternate, Sample, Settings};
use wscore_bench::report::{bytes, rate, ratio, Table};
use wscore_bench::wire::{binary_payload, connected_pair};

/// Payload bytes per message.
const SIZE: usize = 64;

fn main() {
    let settings = Settings::from_env();
    let count = settings.batch_messages.max(1);
    // All payloads, back to back, each starting with its sequence number;
    // messages are slices of it, so building them costs a reference count.
    let mut all = Vec::with_capacity(count * SIZE);
    let filler = binary_payload(SIZE);
    for i in 0..count as u64 {
        all.extend_from_slice(&i.to_le_bytes());
        all.extend_from_slice(filler.get(8..).unwrap_or_default());
    }
    let all = Bytes::from(all);

    let bursts = &settings.bursts[..];
    let rounds = if settings.smoke { 1 } else { 5 };
    let mut table = Table::new(
        format!("Batching: {count} binary messages of {SIZE} B, client to server, in memory"),
        &[
            "burst",
            "plain msgs/s",
            "batched msgs/s",
            "batched/plain",
            "plain wire bytes",
            "batched wire bytes",
            "plain frames",
            "batched frames",
            "wire bytes/msg plain → batched",
        ],
    );
    for &burst in bursts {
        let mut outcomes = [Outcome::default(), Outcome::default()];
        let [plain_out, batched_out] = &mut outcomes;
        let all = &all;
        let mut contenders: Vec<Sample<'_>> = vec![
            Box::new(move || {
                let (out, time) = run(subprotocol(false), all, count, burst);
                *plain_out = out;
                time
            }),
            Box::new(move || {
                let (out, time) = run(subprotocol(true), all, count, burst);
                *batched_out = out;
                time
            }),
        ];
        eprintln!("batching: burst {burst}");
        let times = alternate(rounds, &mut contenders);
        drop(contenders);
        let [plain_t, batched_t] = times[..] else {
            unreachable!("two contenders")
        };
        let [plain, batched] = &outcomes;
        // Both did the same work: every message arrived, in order, intact.
        assert_eq!(plain.received, count as u64);
        assert_eq!(batched.received, count as u64);
        assert_eq!(plain.payload_bytes, batched.payload_bytes);
        let mut row = rates(burst, count, plain_t, batched_t);
        row.extend([
            bytes(plain.wire_bytes as f64),
            bytes(batched.wire_bytes as f64),
            plain.frames.to_string(),
            batched.frames.to_string(),
            format!(
                "{:.1} → {:.1}",
                plain.wire_bytes as f64 / count as f64,
                batched.wire_bytes as f64 / count as f64
            ),
        ]);
        table.row(row);
    }
    table.note(format!(
        "Medians of {rounds} alternating rounds. A burst is how many messages the application sends \
         before the transport takes the bytes to write (the adapters flush after every burst); the \
         batched subprotocol packs everything sent before that into one frame, up to its 256 KiB cap. \
         Wire bytes are the client's frames (masked, headers included). Times cover sending, \
         framing, copying onto the wire, parsing, unmasking and delivering every message; the \
         receiver checks every message's bytes and order."
    ));
    table.print();
    loopback(&settings, &all, count, bursts, rounds);
}

/// The same work over loopback TCP, wscore-tokio at both ends: the
/// client queues a burst with `feed_all` and flushes, the server receives
/// and checks every message. Time runs from the first send to the last
/// message received.
fn loopback(settings: &Settings, all: &Bytes, count: usize, bursts: &[usize], rounds: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut table = Table::new(
        format!("Batching: {count} binary messages of {SIZE} B over loopback TCP (wscore-tokio)"),
        &["burst", "plain msgs/s", "batched msgs/s", "batched/plain"],
    );
    for &burst in bursts {
        eprintln!("batching over loopback: burst {burst}");
        let mut contenders: Vec<Sample<'_>> = vec![
            Box::new(|| rt.block_on(tcp_run(subprotocol(false), all, count, burst))),
            Box::new(|| rt.block_on(tcp_run(subprotocol(true), all, count, burst))),
        ];
        let times = alternate(rounds, &mut contenders);
        drop(contenders);
        let [plain_t, batched_t] = times[..] else {
            unreachable!("two contenders")
        };
        table.row(rates(burst, count, plain_t, batched_t));
    }
    table.note(format!(
        "Medians of {rounds} alternating rounds{}. Client and server are wscore-tokio sockets in one \
         process on a two-worker tokio runtime; the client queues each burst with `feed_all` and \
         flushes; the server checks every message's sequence number and length.",
        if settings.smoke { " (smoke)" } else { "" }
    ));
    table.print();
}

/// One loopback run: `count` messages in bursts of `burst`.
async fn tcp_run(config: Config, all: &Bytes, count: usize, burst: usize) -> Duration {
    use futures::StreamExt;
    use wscore::{Accept, ClientRequest};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let server_config = config.clone();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        stream.set_nodelay(true).expect("nodelay");
        let mut ws = wscore_tokio::accept_with(stream, server_config, |_| Ok(Accept::new()))
            .await
            .expect("handshake");
        let mut next = 0u64;
        while next < count as u64 {
            let Some(Ok(Message::Binary(payload))) = ws.next().await else {
                panic!("connection ended after {next} messages");
            };
            let seq = payload
                .get(..8)
                .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()));
            assert_eq!((seq, payload.len()), (Some(next), SIZE), "message {next}");
            next += 1;
        }
        ws
    });
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let request = ClientRequest::new("127.0.0.1", "/");
    let (mut ws, _) = wscore_tokio::client(stream, request, config)
        .await
        .expect("handshake");
    let start = Instant::now();
    for first in (0..count).step_by(burst.max(1)) {
        let burst = first..(first + burst).min(count);
        ws.feed_all(burst.map(|i| Message::binary(all.slice(i * SIZE..(i + 1) * SIZE))))
            .await
            .expect("send");
        ws.flush().await.expect("flush");
    }
    let mut server_ws = server.await.expect("server");
    let elapsed = start.elapsed();
    let _ = ws.close(wscore::CloseCode::NORMAL, "").await;
    let _ = server_ws.next().await;
    elapsed
}

/// The first cells of a row: the burst, both rates and their ratio.
fn rates(burst: usize, count: usize, plain: Duration, batched: Duration) -> Vec<String> {
    let per_sec = |t: Duration| count as f64 / t.as_secs_f64().max(1e-12);
    vec![
        burst.to_string(),
        rate(per_sec(plain)),
        rate(per_sec(batched)),
        ratio(per_sec(batched) / per_sec(plain)),
    ]
}

fn subprotocol(batched: bool) -> Config {
    let name = "bench.v1";
    Config::default().subprotocols(vec![if batched {
        Subprotocol::batched(name)
    } else {
        Subprotocol::plain(name)
    }])
}

/// What one run did.
#[derive(Debug, Default)]
struct Outcome {
    received: u64,
    payload_bytes: u64,
    wire_bytes: u64,
    frames: u64,
}

fn run(config: Config, all: &Bytes, count: usize, burst: usize) -> (Outcome, Duration) {
    let (mut client, mut server) = connected_pair(config.clone(), config);
    let now = wscore::Instant::ZERO;
    let mut out = Outcome::default();
    let mut wire = Vec::with_capacity(512 << 10);
    let mut next = 0usize;
    let start = Instant::now();
    while next < count {
        let end = (next + burst).min(count);
        for i in next..end {
            client
                .send(Message::Binary(all.slice(i * SIZE..(i + 1) * SIZE)))
                .expect("send");
        }
        next = end;
        // The transport takes the bytes; the receiver reads what arrived.
        wire.clear();
        while let Some(t) = client.poll_transmit() {
            out.frames += 1;
            t.write_to(&mut wire);
        }
        out.wire_bytes += wire.len() as u64;
        server.handle_input(now, &wire);
        while let Some(event) = server.poll_event() {
            let Event::Message(message) = event else {
                panic!("unexpected {event:?}");
            };
            let at = out.received as usize * SIZE;
            assert!(
                message.payload().as_ref() == all.get(at..at + SIZE).unwrap_or_default(),
                "message {} differs",
                out.received
            );
            out.received += 1;
            out.payload_bytes += message.payload().len() as u64;
        }
    }
    (out, start.elapsed())
}
