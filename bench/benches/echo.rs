//! Row 3: echo over loopback TCP.
//!
//! Every server runs on one thread (a current-thread tokio runtime, or
//! async-std's executor sized to one thread) and the load generator on
//! another, so each side has a core of the two. The same raw client drives
//! every server, verifies every echoed byte and measures round trips.

#[path = "common/servers.rs"]
mod servers;

use std::time::Duration;

use servers::Server;
use wscore_bench::harness::{median, median_f64, Settings};
use wscore_bench::raw::{connect_many, run_echo, EchoLoad, EchoStats};
use wscore_bench::report::{latency, mbps, rate, ratio, size, Table};

fn main() {
    // Before async-std's executor first starts: one worker, like the
    // current-thread tokio runtime the other servers get.
    std::env::set_var("ASYNC_STD_THREAD_COUNT", "1");
    let settings = Settings::from_env();

    let server_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("server runtime");
    let handle = server_rt.handle().clone();
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let server_thread = std::thread::spawn(move || {
        server_rt.block_on(async {
            // Park until the run is over; the servers are spawned tasks.
            while stop_rx.try_recv().is_err() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
    });
    let addrs: Vec<_> = Server::ECHO.iter().map(|s| s.start(&handle)).collect();

    let client_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    let sizes: &[usize] = if settings.smoke {
        &[16, 1 << 10]
    } else {
        &[16, 1 << 10, 64 << 10]
    };
    let mut table = Table::new(
        "Echo over loopback TCP (msgs/s · MB/s · RTT p50/p99)",
        &[
            "conns",
            "size",
            "depth",
            Server::ECHO[0].name(),
            Server::ECHO[1].name(),
            Server::ECHO[2].name(),
            Server::ECHO[3].name(),
            Server::ECHO[4].name(),
            Server::ECHO[5].name(),
            "tokio/tokio-tungstenite",
            "tokio/fastwebsockets",
            "async-std/tokio-tungstenite",
            "async-std/fastwebsockets",
            "batched/raw",
        ],
    );
    let mut scaled = Vec::new();
    client_rt.block_on(async {
        for &conns in &settings.echo_conns {
            // Every server keeps its connections for all cells of this
            // count; idle ones cost the others nothing.
            let mut streams = Vec::new();
            for addr in &addrs {
                streams.push(Some(connect_many(*addr, conns).await.expect("connect")));
            }
            for &len in sizes {
                for depth in [1, 32] {
                    let load = scaled_load(&settings, conns, len, depth);
                    if load.duration > settings.echo_duration {
                        scaled.push(format!(
                            "{conns} conns × {} × depth {depth}: {:.2} s after {:.2} s",
                            size(len),
                            load.duration.as_secs_f64(),
                            load.warmup.as_secs_f64()
                        ));
                    }
                    let mut results: Vec<Vec<EchoStats>> = vec![Vec::new(); Server::ECHO.len()];
                    for round in 0..settings.echo_rounds {
                        for k in 0..Server::ECHO.len() {
                            let i = (round + k) % Server::ECHO.len();
                            eprintln!(
                                "echo: {} conns, {} B, depth {depth}, {}",
                                conns,
                                len,
                                Server::ECHO[i].name()
                            );
                            let mut load = load;
                            let stats = loop {
                                let mine = streams[i].take().expect("streams");
                                let (back, stats) =
                                    run_echo(mine, load).await.unwrap_or_else(|e| {
                                        panic!("{} failed: {e}", Server::ECHO[i].name())
                                    });
                                streams[i] = Some(back);
                                // A window that saw no echo measured nothing:
                                // widen it rather than report zero.
                                if stats.messages > 0 || load.duration > settings.echo_duration * 8
                                {
                                    break stats;
                                }
                                load.warmup *= 2;
                                load.duration *= 2;
                            };
                            assert!(
                                stats.messages > 0,
                                "{} echoed nothing in {:.2} s",
                                Server::ECHO[i].name(),
                                load.duration.as_secs_f64()
                            );
                            results[i].push(stats);
                        }
                    }
                    let summary: Vec<Summary> = results.iter().map(|r| Summary::of(r)).collect();
                    let mut row = vec![conns.to_string(), size(len), depth.to_string()];
                    row.extend(summary.iter().map(Summary::cell));
                    let [ours, ours_std, tung, fast, batched, raw] = &summary[..] else {
                        unreachable!()
                    };
                    row.push(ratio(ours.msgs / tung.msgs));
                    row.push(ratio(ours.msgs / fast.msgs));
                    row.push(ratio(ours_std.msgs / tung.msgs));
                    row.push(ratio(ours_std.msgs / fast.msgs));
                    row.push(ratio(batched.msgs / raw.msgs));
                    table.row(row);
                }
            }
            drop(streams);
            // Let the servers see the ends before the next count connects.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    table.note(format!(
        "Medians of {} rounds of {:.2} s (after {:.2} s warm-up) per server and cell, servers alternating. \
         Ratios are msgs/s. The client pipelines `depth` binary messages per connection and checks every echoed byte. \
         The first four servers send and flush each message, as their documentation shows; \
         the batched one answers every message ready together with one write (`recv_ready`, \
         `feed`, one `flush`), and the raw echo (no library, nothing validated) unmasks the \
         frames of each read into one write: the floor for pipelined echo.",
        settings.echo_rounds,
        settings.echo_duration.as_secs_f64(),
        settings.echo_warmup.as_secs_f64()
    ));
    if !scaled.is_empty() {
        table.note(format!(
            "Cells with much in flight need longer for one round trip; their windows were scaled: {}.",
            scaled.join("; ")
        ));
    }
    table.print();
    let _ = stop_tx.send(());
    let _ = server_thread.join();
}

/// The load of one cell. Its warm-up covers the first round trip, which
/// with much in flight (512 connections × 32 × 64 KiB is 1 GiB) takes far
/// longer than the default warm-up: the window is scaled so that the
/// pipeline is full before measuring starts, assuming at least 1 GB/s.
fn scaled_load(settings: &Settings, conns: usize, size: usize, depth: usize) -> EchoLoad {
    let in_flight = (conns * depth * (size + 14)) as f64;
    let fill = Duration::from_secs_f64(in_flight / 1e9);
    let warmup = settings.echo_warmup.max(fill);
    EchoLoad {
        size,
        depth,
        warmup,
        duration: settings.echo_duration.max(warmup * 2),
    }
}

struct Summary {
    msgs: f64,
    bytes: f64,
    p50: Duration,
    p99: Duration,
}

impl Summary {
    fn of(rounds: &[EchoStats]) -> Summary {
        let msgs: Vec<f64> = rounds.iter().map(EchoStats::messages_per_sec).collect();
        let bytes: Vec<f64> = rounds.iter().map(EchoStats::bytes_per_sec).collect();
        let p50: Vec<Duration> = rounds.iter().map(|r| r.rtt(0.5)).collect();
        let p99: Vec<Duration> = rounds.iter().map(|r| r.rtt(0.99)).collect();
        Summary {
            msgs: median_f64(&msgs),
            bytes: median_f64(&bytes),
            p50: median(&p50),
            p99: median(&p99),
        }
    }

    fn cell(&self) -> String {
        format!(
            "{} · {} · {}/{}",
            rate(self.msgs),
            mbps(self.bytes),
            latency(self.p50),
            latency(self.p99)
        )
    }
}
