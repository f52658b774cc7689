//! Row 5b: streaming.
//!
//! A client sends one large payload to a server while it keeps sending
//! small messages, in memory: each step moves one transmit from the client
//! to the server, and every megabyte moved the client sends a small
//! message stamped with the time. On a streamed subprotocol the payload is
//! a stream of chunks and small messages overtake it; on a plain one it is
//! an ordinary (fragmented) message, which no RFC 6455 implementation can
//! interleave with another, so small messages wait for all of it. The
//! receiver runs in reassembling and incremental mode; the peak heap of
//! both ends together is counted, and the small messages' latency is the
//! time from `send` to their delivery.

use std::time::{Duration, Instant};

use bytes::Bytes;
use wscore::{
    ChunkSource, Config, Event, Message, ReceiveMode, StreamConfig, StreamEvent, StreamSource,
    Subprotocol,
};
use wscore_bench::alloc::{peak_of, CountingAlloc};
use wscore_bench::harness::{median, quantile, Settings};
use wscore_bench::report::{bytes, latency, mbps, size, Table};
use wscore_bench::wire::{binary_payload, connected_pair, PatternCheck};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// The period of the large payload's pattern: a multiple of the chunk
/// size, so that every chunk is a slice of one block.
const PERIOD: usize = 1 << 20;
/// Bytes moved between two small messages.
const SMALL_EVERY: usize = 1 << 20;
/// Payload bytes of a small message.
const SMALL: usize = 64;

fn main() {
    let settings = Settings::from_env();
    let len = settings.big_message;
    let rounds = if settings.smoke { 1 } else { 3 };
    let mut table = Table::new(
        format!(
            "Small messages while a {} payload is in flight (client to server, in memory)",
            size(len)
        ),
        &[
            "payload sent as",
            "receiver",
            "peak heap (both ends)",
            "small msgs",
            "small-msg latency p50",
            "p99",
            "max",
            "payload throughput",
        ],
    );
    let cases = [
        (true, ReceiveMode::Incremental),
        (true, ReceiveMode::Whole),
        (false, ReceiveMode::Incremental),
        (false, ReceiveMode::Whole),
    ];
    for (streamed, mode) in cases {
        eprintln!("streaming: streamed {streamed}, {mode:?}");
        let mut runs = Vec::new();
        for _ in 0..rounds {
            runs.push(run(len, streamed, mode));
        }
        let peak = runs.iter().map(|r| r.peak_heap).max().unwrap_or(0);
        let times: Vec<Duration> = runs.iter().map(|r| r.time).collect();
        let mut lat: Vec<u64> = runs.iter().flat_map(|r| r.latencies.clone()).collect();
        lat.sort_unstable();
        let smalls = runs.first().map_or(0, |r| r.latencies.len());
        let q = |p: f64| latency(Duration::from_nanos(quantile(&lat, p)));
        table.row(vec![
            if streamed {
                "stream (streamed subprotocol)".to_string()
            } else {
                "one message (plain subprotocol)".to_string()
            },
            match mode {
                ReceiveMode::Incremental => "incremental".to_string(),
                _ => "whole / reassembled".to_string(),
            },
            bytes(peak as f64),
            smalls.to_string(),
            q(0.5),
            q(0.99),
            q(1.0),
            mbps(len as f64 / median(&times).as_secs_f64().max(1e-12)),
        ]);
    }
    table.note(format!(
        "{rounds} runs per case: latencies pooled, throughput the median, peak heap the largest. \
         The streamed payload comes from a pull source, so the sender never holds it; the plain \
         one is a {} message allocated before measuring, and not counted. Chunks are 256 KiB, \
         fragments of the plain message 256 KiB (the defaults); a small message is sent every {} \
         moved. Latency is CPU time through the in-memory pipe, no network: it shows how many \
         frames a small message waits behind. Every byte of the payload and of every small \
         message is checked at the receiver.",
        size(len),
        size(SMALL_EVERY)
    ));
    table.print();
}

/// The large payload, produced as it is sent.
struct Source {
    block: Bytes,
    len: usize,
    sent: usize,
}

impl ChunkSource for Source {
    fn total_len(&self) -> u64 {
        self.len as u64
    }

    fn next_chunk(&mut self, max: usize) -> Option<Bytes> {
        let at = self.sent % self.block.len();
        let n = max.min(self.len - self.sent).min(self.block.len() - at);
        if n == 0 {
            return None;
        }
        self.sent += n;
        Some(self.block.slice(at..at + n))
    }
}

fn config(streamed: bool, mode: ReceiveMode, len: usize) -> Config {
    let name = "files.v1";
    Config::default()
        .subprotocols(vec![if streamed {
            Subprotocol::streamed(name)
        } else {
            Subprotocol::plain(name)
        }])
        .receive_mode(mode)
        .max_message_size(len.max(1) as u64)
        .stream(StreamConfig::default().max_buffered(len.max(1)))
}

/// What one run saw.
struct Run {
    peak_heap: usize,
    latencies: Vec<u64>,
    time: Duration,
}

fn small_message(seq: u64) -> Bytes {
    let mut payload = binary_payload(SMALL);
    if let Some(head) = payload.get_mut(..8) {
        head.copy_from_slice(&seq.to_le_bytes());
    }
    Bytes::from(payload)
}

fn run(len: usize, streamed: bool, mode: ReceiveMode) -> Run {
    let block = Bytes::from(binary_payload(PERIOD));
    // The plain case needs the payload whole before sending; it is built
    // outside the measurement.
    let whole = (!streamed).then(|| {
        let mut all = Vec::with_capacity(len);
        while all.len() < len {
            let n = (len - all.len()).min(block.len());
            all.extend_from_slice(block.get(..n).unwrap_or_default());
        }
        Bytes::from(all)
    });
    let mut latencies = Vec::with_capacity(len / SMALL_EVERY + 1);
    let mut sent_at: Vec<Instant> = Vec::with_capacity(len / SMALL_EVERY + 1);
    let mut time = Duration::ZERO;
    // The checker's reference block and the wire buffer are the bench's,
    // not the connections': made before measuring.
    let mut check = PatternCheck::new(PERIOD);
    let mut wire = Vec::with_capacity(512 << 10);
    let (peak_heap, _) = peak_of(|| {
        let (mut client, mut server) = connected_pair(
            config(streamed, ReceiveMode::Whole, len),
            config(streamed, mode, len),
        );
        let now = wscore::Instant::ZERO;
        let start = Instant::now();
        if let Some(whole) = whole {
            client.send(Message::Binary(whole)).expect("send");
        } else {
            let source = Source {
                block: block.clone(),
                len,
                sent: 0,
            };
            client
                .send_stream(StreamSource::Pull(Box::new(source)), Bytes::new())
                .expect("send_stream");
        }
        let mut payload_done = false;
        let mut received = 0usize;
        let mut moved = 0usize;
        let mut next_small = SMALL_EVERY;
        let mut small: Option<Vec<u8>> = None;
        loop {
            if !payload_done && moved >= next_small {
                next_small += SMALL_EVERY;
                client
                    .send(Message::Binary(small_message(sent_at.len() as u64)))
                    .expect("send small");
                sent_at.push(Instant::now());
            }
            let Some(transmit) = client.poll_transmit() else {
                break;
            };
            wire.clear();
            transmit.write_to(&mut wire);
            drop(transmit);
            moved += wire.len();
            server.handle_input(now, &wire);
            while let Some(event) = server.poll_event() {
                match event {
                    Event::Message(m) if m.payload().len() == SMALL && len != SMALL => {
                        assert_eq!(m.payload(), &small_message(received as u64));
                        let sent = sent_at.get(received).expect("a small message was sent");
                        latencies.push(sent.elapsed().as_nanos() as u64);
                        received += 1;
                    }
                    Event::Message(m) => {
                        check.piece(m.payload());
                        payload_done = true;
                    }
                    // Incremental mode: the payload is the first message;
                    // small ones after it arrive in pieces as well.
                    Event::MessageStart(_) => small = payload_done.then(Vec::new),
                    Event::MessageData(piece) => match small.as_mut() {
                        Some(small) => small.extend_from_slice(&piece),
                        None => check.piece(&piece),
                    },
                    Event::MessageEnd => match small.take() {
                        Some(small) => {
                            assert_eq!(small, small_message(received as u64));
                            let sent = sent_at.get(received).expect("a small message was sent");
                            latencies.push(sent.elapsed().as_nanos() as u64);
                            received += 1;
                        }
                        None => payload_done = true,
                    },
                    Event::Stream(StreamEvent::Started { total_len, .. }) => {
                        assert_eq!(total_len, len as u64);
                    }
                    Event::Stream(StreamEvent::Data { data, .. }) => check.piece(&data),
                    Event::Stream(StreamEvent::Finished { .. }) => payload_done = true,
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
        time = start.elapsed();
        assert!(payload_done, "the payload did not complete");
        assert_eq!(check.offset, len, "payload bytes received");
        assert_eq!(received, sent_at.len(), "small messages received");
    });
    Run {
        peak_heap,
        latencies,
        time,
    }
}
