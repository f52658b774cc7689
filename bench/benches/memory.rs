//! Row 4: memory.
//!
//! Idle connections: how much heap (counted by the allocator, what the
//! program asked for) and how much resident memory (`/proc/self/statm`,
//! what the kernel had to back with pages) one open, idle connection costs,
//! after it has received and answered one 16-byte message, so that buffers
//! allocated lazily on the first read are counted. Measured twice: the
//! protocol objects alone over an in-memory stream (no sockets, nothing
//! else in the process changes), and whole echo servers over loopback TCP
//! (client ends included, with a bare TCP server as the baseline). The
//! loopback row also runs wscore's hub with every member driven by one
//! `Served` task, once with dormant members hibernated and once with them
//! awake, and measures the server CPU a message to a hibernated member
//! takes against one to an awake member (see `memory/dormant.rs`).
//!
//! One large message: the peak heap and peak resident memory of a server
//! receiving one 256 MiB binary frame, generated as it is read so that the
//! sender's copy does not count, in whole-message mode and (where the
//! implementation has one) incremental mode.

#[path = "common/servers.rs"]
mod servers;

#[path = "memory/dormant.rs"]
mod dormant;

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::StreamExt;
use servers::{Server, OPENED};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use wscore::wire::{apply_mask, OpCode};
use wscore::{Config, Connection, Event, ReceiveMode, Role};
use wscore_bench::alloc::{open_files_limit, peak_of, rss_bytes, CountingAlloc};
use wscore_bench::harness::Settings;
use wscore_bench::raw::{connect_many, server_handshake};
use wscore_bench::report::{bytes, ratio, size, Table};
use wscore_bench::wire::{frame_key, push_masked_frame, GenStream, PatternCheck, READ_SIZE};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// The payload every idle connection receives once.
const HELLO: &[u8; 16] = b"0123456789abcdef";

/// Set in a child process to the one case it runs; the parent runs every
/// case in a fresh process, so that pages the allocator kept from one case
/// do not hide the next one's growth.
const CASE_VAR: &str = "WSCORE_BENCH_MEMORY_CASE";

/// Runs only the named rows (comma-separated: `memory`, `tcp`, `big`);
/// every row when unset.
const ROWS_VAR: &str = "WSCORE_BENCH_MEMORY_ROWS";

/// Whether `row` is to run this time (see [`ROWS_VAR`]).
fn row_enabled(row: &str) -> bool {
    std::env::var(ROWS_VAR).map_or(true, |rows| rows.split(',').any(|r| r.trim() == row))
}

/// Dormant hub members woken per round of the wake measurement.
fn wake_sample(settings: &Settings) -> usize {
    if settings.smoke {
        20
    } else {
        1000
    }
}

fn main() {
    std::env::set_var("ASYNC_STD_THREAD_COUNT", "1");
    let settings = Settings::from_env();
    if let Ok(case) = std::env::var(CASE_VAR) {
        let numbers: Vec<String> = run_case(&settings, &case)
            .iter()
            .map(f64::to_string)
            .collect();
        println!("{CASE_VAR} {}", numbers.join(" "));
        return;
    }
    if row_enabled("memory") {
        idle_in_memory(&settings);
    }
    if row_enabled("tcp") {
        idle_over_tcp(&settings);
    }
    if row_enabled("big") {
        big_message(&settings);
    }
}

/// Runs `case` in a fresh copy of this process and returns its numbers.
fn in_child(case: &str) -> Vec<f64> {
    let exe = std::env::current_exe().expect("own executable");
    let output = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env(CASE_VAR, case)
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("run a case");
    assert!(output.status.success(), "case {case} failed");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix(CASE_VAR))
        .expect("a result line");
    line.split_whitespace()
        .map(|v| v.parse().expect("a number"))
        .collect()
}

fn run_case(settings: &Settings, case: &str) -> Vec<f64> {
    let (kind, index) = case.split_once(':').expect("kind:index");
    let index: usize = index.parse().expect("index");
    match kind {
        "memory" => {
            let (heap, rss) = idle_in_memory_case(settings.idle_conns, index);
            vec![heap, rss]
        }
        "tcp" => match index.checked_sub(1 + Server::ALL.len()) {
            Some(hub) => {
                let mode = *dormant::Mode::ALL.get(hub).expect("a hub mode");
                dormant::case(tcp_conns(settings), wake_sample(settings), mode).to_vec()
            }
            None => {
                let (heap, rss) = idle_over_tcp_case(tcp_conns(settings), index);
                vec![heap, rss]
            }
        },
        "big" => big_case(settings.big_message, index),
        _ => panic!("unknown case {case}"),
    }
}

/// Heap and resident bytes before and after some allocation-holding step.
#[derive(Clone, Copy, Debug)]
struct Footprint {
    heap: usize,
    rss: usize,
}

impl Footprint {
    fn now() -> Footprint {
        Footprint {
            heap: CountingAlloc::live(),
            rss: rss_bytes().unwrap_or(0),
        }
    }

    /// Per-item growth from `self` to `after`, as (heap, resident).
    fn per_item(self, after: Footprint, items: usize) -> (f64, f64) {
        let n = items.max(1) as f64;
        (
            (after.heap as f64 - self.heap as f64) / n,
            (after.rss as f64 - self.rss as f64) / n,
        )
    }
}

/// A transport that yields one masked frame and then has nothing more to
/// say, without ending: an idle peer. Writes are accepted and forgotten.
#[derive(Debug)]
struct IdleStream {
    data: &'static [u8],
    pos: usize,
}

impl IdleStream {
    fn new(data: &'static [u8]) -> IdleStream {
        IdleStream { data, pos: 0 }
    }

    fn next(&mut self, max: usize) -> &'static [u8] {
        let rest = self.data.get(self.pos..).unwrap_or_default();
        let n = rest.len().min(max);
        self.pos += n;
        rest.get(..n).unwrap_or_default()
    }
}

impl io::Read for IdleStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let chunk = self.next(buf.len());
        if chunk.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        if let Some(dst) = buf.get_mut(..chunk.len()) {
            dst.copy_from_slice(chunk);
        }
        Ok(chunk.len())
    }
}

impl io::Write for IdleStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsyncRead for IdleStream {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let chunk = self.get_mut().next(buf.remaining());
        if chunk.is_empty() {
            // Idle: nothing now, and never a wake-up; the connection is not
            // polled again.
            return Poll::Pending;
        }
        buf.put_slice(chunk);
        Poll::Ready(Ok(()))
    }
}

wscore_bench::discard_writes!(IdleStream);

/// Builds `n` connections with `open`, each of which must have received
/// [`HELLO`], holds them all, and returns the growth per connection.
fn hold<T>(n: usize, mut open: impl FnMut() -> T) -> (f64, f64) {
    let before = Footprint::now();
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        held.push(open());
    }
    let after = Footprint::now();
    drop(held);
    before.per_item(after, n)
}

/// The implementations of the in-memory idle row, in case order.
const IN_MEMORY: [&str; 5] = [
    "wscore Connection (engine only)",
    "wscore-tokio WebSocket",
    "tungstenite WebSocket",
    "tokio-tungstenite WebSocketStream",
    "fastwebsockets WebSocket",
];

fn idle_in_memory_case(n: usize, index: usize) -> (f64, f64) {
    let mut frame = Vec::new();
    push_masked_frame(&mut frame, OpCode::Binary, HELLO, frame_key(1));
    let frame: &'static [u8] = Box::leak(frame.into_boxed_slice());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let now = wscore::Instant::ZERO;

    match index {
        0 => hold(n, || {
            let mut conn = Connection::upgraded(Role::Server, Config::default(), [0; 32], now)
                .expect("connection");
            conn.handle_input(now, frame);
            match conn.poll_event() {
                Some(Event::Message(m)) => assert_eq!(m.payload().as_ref(), HELLO),
                other => panic!("wscore: {other:?}"),
            }
            conn
        }),
        1 => hold(n, || {
            rt.block_on(async {
                let mut ws = wscore_tokio::from_upgraded(
                    IdleStream::new(frame),
                    Role::Server,
                    Config::default(),
                )
                .expect("wscore-tokio");
                let message = ws.next().await.expect("a message").expect("no error");
                assert_eq!(message.payload().as_ref(), HELLO);
                ws
            })
        }),
        2 => hold(n, || {
            let mut ws = tungstenite::WebSocket::from_raw_socket(
                IdleStream::new(frame),
                tungstenite::protocol::Role::Server,
                None,
            );
            let message = ws.read().expect("tungstenite");
            assert_eq!(message.into_data().as_ref(), HELLO);
            ws
        }),
        3 => hold(n, || {
            rt.block_on(async {
                let mut ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
                    IdleStream::new(frame),
                    tungstenite::protocol::Role::Server,
                    None,
                )
                .await;
                let message = ws.next().await.expect("a message").expect("no error");
                assert_eq!(message.into_data().as_ref(), HELLO);
                ws
            })
        }),
        4 => hold(n, || {
            rt.block_on(async {
                let mut ws = fastwebsockets::WebSocket::after_handshake(
                    IdleStream::new(frame),
                    fastwebsockets::Role::Server,
                );
                let message = ws.read_frame().await.expect("fastwebsockets");
                assert_eq!(&message.payload[..], HELLO);
                drop(message);
                ws
            })
        }),
        _ => panic!("no in-memory case {index}"),
    }
}

fn idle_in_memory(settings: &Settings) {
    let n = settings.idle_conns;
    let mut results: Vec<(&str, (f64, f64))> = Vec::new();
    for (i, name) in IN_MEMORY.iter().enumerate() {
        eprintln!("memory: {n} idle {name} in memory");
        let r = in_child(&format!("memory:{i}"));
        results.push((name, (r[0], r[1])));
    }
    let ours = results.first().map_or(0.0, |r| r.1 .0);
    let ours_adapter = results.get(1).map_or(0.0, |r| r.1 .0);
    let mut table = Table::new(
        format!("Idle connection memory, in memory ({n} connections, each after one 16 B message)"),
        &[
            "implementation",
            "heap / conn",
            "resident / conn",
            "heap ÷ wscore-tokio's",
        ],
    );
    for (name, (heap, rss)) in &results {
        table.row(vec![
            name.to_string(),
            bytes(*heap),
            bytes(*rss),
            ratio(*heap / ours_adapter.max(1.0)),
        ]);
    }
    table.note(format!(
        "Heap is what the counting global allocator saw requested and not freed, divided by the \
         number of connections; it includes the connection value itself (held in a Vec) and every \
         buffer it owns, touched or not. Resident is the growth of /proc/self/statm's resident set: \
         only pages actually written. The engine alone holds {} per connection; the adapter adds \
         its read window and timer. Transports are in-memory stubs that own no buffers.",
        bytes(ours)
    ));
    table.print();
}

/// A server that completes the handshake, echoes one 16-byte binary frame
/// by hand and then holds the socket: the cost of the TCP connection and a
/// task, without any WebSocket library.
async fn bare_server(listener: tokio::net::TcpListener) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            if server_handshake(&mut stream).await.is_err() {
                return;
            }
            OPENED.fetch_add(1, Ordering::Relaxed);
            let mut frame = [0u8; 2 + 4 + 16];
            if stream.read_exact(&mut frame).await.is_err() {
                return;
            }
            let (head, payload) = frame.split_at_mut(6);
            let key = [head[2], head[3], head[4], head[5]];
            apply_mask(payload, key, 0);
            let mut echo = [0u8; 2 + 16];
            echo[0] = 0x82;
            echo[1] = 16;
            echo[2..].copy_from_slice(payload);
            if stream.write_all(&echo).await.is_err() {
                return;
            }
            // Idle until the client goes away.
            let mut byte = [0u8; 1];
            let _ = stream.read(&mut byte).await;
        });
    }
}

/// Sends [`HELLO`] on every stream and checks every echo.
async fn hello_all(streams: &mut [TcpStream]) -> io::Result<()> {
    let mut frame = Vec::new();
    push_masked_frame(&mut frame, OpCode::Binary, HELLO, frame_key(3));
    for stream in streams.iter_mut() {
        stream.write_all(&frame).await?;
    }
    let mut echo = [0u8; 18];
    for stream in streams.iter_mut() {
        stream.read_exact(&mut echo).await?;
        if echo[..2] != [0x82, 16] || &echo[2..] != HELLO {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "bad echo"));
        }
    }
    Ok(())
}

/// Connections of the loopback idle row: both ends live in one process,
/// two descriptors per connection, within the open-file limit.
fn tcp_conns(settings: &Settings) -> usize {
    let limit = open_files_limit().unwrap_or(1024);
    settings
        .idle_conns
        .min(limit.saturating_sub(512) / 2)
        .max(1)
}

/// The servers of the loopback idle row, in case order.
fn tcp_names() -> Vec<&'static str> {
    let mut names = vec!["bare TCP (no WebSocket library)"];
    names.extend(Server::ALL.iter().map(|s| s.name()));
    names.extend(dormant::Mode::ALL.iter().map(|m| m.name()));
    names
}

fn idle_over_tcp_case(n: usize, index: usize) -> (f64, f64) {
    let server_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("server runtime");
    let handle = server_rt.handle().clone();
    // The server thread runs until the process exits.
    std::thread::spawn(move || {
        server_rt.block_on(std::future::pending::<()>());
    });
    let addr: SocketAddr = match index {
        0 => {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            let addr = listener.local_addr().expect("address");
            listener.set_nonblocking(true).expect("non-blocking");
            handle.spawn(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                bare_server(listener).await;
            });
            addr
        }
        i => Server::ALL.get(i - 1).expect("a server").start(&handle),
    };
    let client_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    client_rt.block_on(async {
        let before = Footprint::now();
        let mut streams = connect_many(addr, n).await.expect("connect");
        hello_all(&mut streams).await.expect("echo");
        // Every server end has echoed, so it is past its handshake; give
        // the counter a moment all the same.
        let deadline = Instant::now() + Duration::from_secs(10);
        while OPENED.load(Ordering::Relaxed) < n && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let after = Footprint::now();
        let growth = before.per_item(after, n);
        drop(streams);
        growth
    })
}

fn idle_over_tcp(settings: &Settings) {
    let n = tcp_conns(settings);
    let limit = open_files_limit().unwrap_or(1024);
    let mut results = Vec::new();
    let mut hubs = Vec::new();
    for (i, name) in tcp_names().into_iter().enumerate() {
        eprintln!("memory: {n} idle connections to {name}");
        let r = in_child(&format!("tcp:{i}"));
        results.push((name, r[0], r[1]));
        if i > Server::ALL.len() {
            hubs.push(dormant::Measured::from_slice(&r));
        }
    }

    let (bare_heap, bare_rss) = results.first().map_or((0.0, 0.0), |r| (r.1, r.2));
    let ours_heap = results.get(1).map_or(0.0, |r| r.1 - bare_heap);
    let mut table = Table::new(
        format!(
            "Idle connection memory over loopback TCP ({n} connections, each after one 16 B echo)"
        ),
        &[
            "server",
            "heap / conn",
            "heap above bare TCP",
            "resident / conn",
            "resident above bare TCP",
            "heap above bare ÷ wscore-tokio's",
        ],
    );
    for (name, heap, rss) in &results {
        let above = heap - bare_heap;
        table.row(vec![
            name.to_string(),
            bytes(*heap),
            bytes(above),
            bytes(*rss),
            bytes(rss - bare_rss),
            if name.starts_with("bare") {
                "–".to_string()
            } else {
                ratio(above / ours_heap.max(1.0))
            },
        ]);
    }
    table.note(format!(
        "Client and server ends run in one process, so every figure includes the load generator's \
         end (a tokio TcpStream per connection) and the kernel's socket buffers are not counted at \
         all; the bare TCP row (handshake and one echo by hand, then a task parked on a read) is \
         what the sockets and tasks cost without a WebSocket library, and the \"above\" columns \
         subtract it. Connections: {n} (the open-file limit is {limit} and each connection takes \
         two descriptors). Every server runs in a fresh process."
    ));
    table.print();
    if !hubs.is_empty() {
        dormant::report(n, (bare_heap, bare_rss), &hubs);
    }
}

fn ours_big(len: usize, mode: ReceiveMode) -> usize {
    let key = frame_key(9);
    let mut stream = GenStream::new(len, key);
    let config = Config::default()
        .max_frame_size(len as u64)
        .max_message_size(len as u64)
        .receive_mode(mode);
    let now = wscore::Instant::ZERO;
    let mut conn = Connection::upgraded(Role::Server, config, [0; 32], now).expect("connection");
    let mut read = vec![0u8; READ_SIZE];
    let mut checker = PatternCheck::new(READ_SIZE);
    let mut ended = false;
    loop {
        let n = std::io::Read::read(&mut stream, &mut read).expect("generated stream");
        if n == 0 {
            break;
        }
        conn.handle_input(now, read.get(..n).unwrap_or_default());
        while let Some(event) = conn.poll_event() {
            match event {
                Event::Message(m) => {
                    checker.piece(m.payload());
                    ended = true;
                }
                Event::MessageStart(_) => {}
                Event::MessageData(piece) => checker.piece(&piece),
                Event::MessageEnd => ended = true,
                other => panic!("wscore: unexpected {other:?}"),
            }
        }
    }
    assert!(ended, "wscore: the message did not complete");
    checker.offset
}

fn tungstenite_big(len: usize) -> usize {
    let config = tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(len))
        .max_frame_size(Some(len));
    let mut ws = tungstenite::WebSocket::from_raw_socket(
        GenStream::new(len, frame_key(9)),
        tungstenite::protocol::Role::Server,
        Some(config),
    );
    let message = ws.read().expect("tungstenite");
    let mut checker = PatternCheck::new(READ_SIZE);
    checker.piece(&message.into_data());
    checker.offset
}

fn fastwebsockets_big(len: usize) -> usize {
    futures::executor::block_on(async {
        let mut ws = fastwebsockets::WebSocket::after_handshake(
            GenStream::new(len, frame_key(9)),
            fastwebsockets::Role::Server,
        );
        // The limit is exclusive.
        ws.set_max_message_size(len + 1);
        let frame = ws.read_frame().await.expect("fastwebsockets");
        assert!(frame.fin);
        let mut checker = PatternCheck::new(READ_SIZE);
        checker.piece(&frame.payload);
        checker.offset
    })
}

/// The contenders of the large-message row, in case order.
const BIG: [(&str, &str); 4] = [
    ("wscore", "incremental"),
    ("wscore", "whole message"),
    ("tungstenite", "whole message"),
    ("fastwebsockets", "whole frame"),
];

/// One large-message case: peak heap, peak resident (-1 if unknown),
/// seconds, and bytes received.
fn big_case(len: usize, index: usize) -> Vec<f64> {
    let run = || match index {
        0 => ours_big(len, ReceiveMode::Incremental),
        1 => ours_big(len, ReceiveMode::Whole),
        2 => tungstenite_big(len),
        3 => fastwebsockets_big(len),
        _ => panic!("no large-message case {index}"),
    };
    let mut seen = 0;
    let start = Instant::now();
    let (heap, rss) = peak_of(|| seen = run());
    let time = start.elapsed();
    vec![
        heap as f64,
        rss.map_or(-1.0, |r| r as f64),
        time.as_secs_f64(),
        seen as f64,
    ]
}

fn big_message(settings: &Settings) {
    let len = settings.big_message;
    let mut table = Table::new(
        format!(
            "Peak memory receiving one {} message (server, in memory)",
            size(len)
        ),
        &[
            "implementation",
            "mode",
            "peak heap",
            "peak resident",
            "peak heap ÷ message",
            "time",
        ],
    );
    let mut incremental_peak = 0.0;
    for (i, (name, mode)) in BIG.iter().enumerate() {
        eprintln!("memory: {} message, {name} {mode}", size(len));
        let r = in_child(&format!("big:{i}"));
        let [heap, rss, secs, seen] = r[..] else {
            panic!("large-message case {i} printed {r:?}")
        };
        assert_eq!(
            seen as usize, len,
            "{name} received {seen} bytes, not {len}"
        );
        if *mode == "incremental" {
            incremental_peak = heap;
        }
        table.row(vec![
            name.to_string(),
            mode.to_string(),
            bytes(heap),
            if rss < 0.0 {
                "–".to_string()
            } else {
                bytes(rss)
            },
            format!("{:.3}", heap / len as f64),
            format!("{secs:.2} s"),
        ]);
    }
    table.row(vec![
        "tungstenite, fastwebsockets".to_string(),
        "incremental".to_string(),
        "not offered".to_string(),
        "–".to_string(),
        "–".to_string(),
        "–".to_string(),
    ]);
    table.note(format!(
        "Each case runs in a fresh process. The frame is generated as it is read (64 KiB reads), so \
         the sender's copy is not counted; every implementation's bytes are checked against the \
         pattern. Peak heap is the counting allocator's high-water mark above what was live before, \
         including about 200 KiB of the bench's own (generator block, 64 KiB read buffer, checker) \
         in every row; peak resident is the largest resident set sampled every 0.5 ms during the run, above the \
         resident set before. Target: incremental peak under 4 MiB — {} ({}).",
        if incremental_peak < (4 << 20) as f64 { "met" } else { "not met" },
        bytes(incremental_peak)
    ));
    table.print();
}
