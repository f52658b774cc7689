//! Row 6: broadcast.
//!
//! One publisher sends 1 KiB binary messages to a room of 100, 1 000 or
//! 10 000 members over loopback TCP. Measured twice:
//!
//! - **Throughput**: messages delivered per second, members × broadcasts
//!   over the time from the first measured publish until every member has
//!   received every message. The members' ends are a swarm of counting
//!   clients in a second process ([`wscore_bench::swarm`]), the same for
//!   every server; it reports each time every member has received another
//!   16 messages, and the publisher publishes as fast as it can while it
//!   is at most 64 broadcasts ahead of the slowest member, so no server's
//!   queues grow without bound. Each implementation writes what is queued
//!   its own way: the obvious loops one message per write, the hub as
//!   much of a member's queue as the socket takes.
//! - **Heap per queued broadcast**: on a current-thread runtime, after one
//!   broadcast has been delivered, the publisher queues `B` broadcasts in
//!   one go (no connection task runs in between), and the growth of the
//!   counting allocator's live bytes divided by `B` is what one queued
//!   broadcast holds: its payload, its frame and every member's queue slot.
//!
//! The peers are the obvious per-connection loop: a task per connection
//! owning its socket and an unbounded channel receiver, writing each
//! message as it comes, and a publisher that sends a clone of the payload
//! (`Bytes`, so no copy) to every connection's channel. tokio-tungstenite
//! runs a second time the way its own broadcast example does it: the
//! channel forwarded into the socket, which writes what is ready and
//! flushes when the channel is empty.
//!
//! The hub runs in both of its styles: a task per member waiting in
//! `next_event` (which writes the member's queue meanwhile), and every
//! member driven by one `Served` task.
//!
//! Knobs (environment variables):
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `WSCORE_BENCH_BROADCAST_MEMBERS` | comma-separated room sizes | `100,1000,10000` (smoke `10,100`) |
//! | `WSCORE_BENCH_BROADCAST_DELIVERIES` | deliveries (members × broadcasts) per measured cell | 1000000 (smoke 20000) |
//! | `WSCORE_BENCH_BROADCAST_ROUNDS` | rounds per cell, servers alternating | 3 (smoke 1) |
//! | `WSCORE_BENCH_BROADCAST_QUEUED` | broadcasts queued in the heap measurement | 128 (smoke 16) |
//! | `WSCORE_BENCH_BROADCAST_PACED=1` | the publisher yields to the scheduler after every publish | off |

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use wscore_bench::alloc::{open_files_limit, CountingAlloc};
use wscore_bench::harness::{median_f64, Settings};
use wscore_bench::report::{bytes, rate, ratio, size, Table};
use wscore_bench::swarm::{numbered, run_swarm};
use wscore_bench::wire::binary_payload;

#[path = "broadcast/servers.rs"]
mod servers;

use servers::{Room, Running, Server};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Set in the child process to the parent's control address: the child
/// is then the swarm of members.
const SWARM_VAR: &str = "WSCORE_BENCH_BROADCAST_SWARM";

/// Payload bytes per broadcast.
const SIZE: usize = 1024;

/// The swarm reports each time every member has received this many more
/// messages.
const EVERY: u64 = 16;

/// Broadcasts the publisher may be ahead of the slowest member.
const WINDOW: u64 = 64;

/// Broadcasts before measuring starts (a multiple of [`EVERY`]).
const WARMUP: u64 = 16;

/// File descriptors each process keeps besides its members' sockets.
const SPARE_FDS: usize = 64;

/// The knobs of this row.
struct Plan {
    members: Vec<usize>,
    deliveries: u64,
    rounds: usize,
    queued: u64,
    paced: bool,
}

fn var<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok()?.trim().parse().ok()
}

impl Plan {
    fn from_env(settings: &Settings) -> Plan {
        let smoke = settings.smoke;
        let members = std::env::var("WSCORE_BENCH_BROADCAST_MEMBERS")
            .ok()
            .map(|v| {
                v.split(',')
                    .filter_map(|n| n.trim().parse().ok())
                    .filter(|&n: &usize| n > 0)
                    .collect::<Vec<_>>()
            })
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| {
                if smoke {
                    vec![10, 100]
                } else {
                    vec![100, 1000, 10_000]
                }
            });
        Plan {
            members,
            deliveries: var("WSCORE_BENCH_BROADCAST_DELIVERIES").unwrap_or(if smoke {
                20_000
            } else {
                1_000_000
            }),
            rounds: var("WSCORE_BENCH_BROADCAST_ROUNDS")
                .unwrap_or(if smoke { 1 } else { 3 })
                .max(1),
            queued: var("WSCORE_BENCH_BROADCAST_QUEUED")
                .unwrap_or(if smoke { 16 } else { 128 })
                .max(1),
            paced: std::env::var("WSCORE_BENCH_BROADCAST_PACED").is_ok_and(|v| v == "1"),
        }
    }

    /// Measured broadcasts for a room of `members`: the deliveries of a
    /// cell, rounded up to a whole report of the swarm.
    fn broadcasts(&self, members: usize) -> u64 {
        let n = (self.deliveries / members.max(1) as u64).max(EVERY);
        n.div_ceil(EVERY) * EVERY
    }
}

fn main() {
    if let Ok(control) = std::env::var(SWARM_VAR) {
        swarm_main(&control);
        return;
    }
    let fds = raise_open_files_limit();
    let settings = Settings::from_env();
    let plan = Plan::from_env(&settings);
    let (fitting, too_many): (Vec<usize>, Vec<usize>) = plan
        .members
        .iter()
        .partition(|&&n| fds.is_none_or(|limit| n + SPARE_FDS <= limit));

    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("control listener");
    let control_addr = listener.local_addr().expect("control address");
    let mut child = std::process::Command::new(std::env::current_exe().expect("own executable"))
        .env(SWARM_VAR, control_addr.to_string())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("start the swarm");
    let (control, _) = listener.accept().expect("the swarm connects");
    control.set_nonblocking(true).expect("non-blocking control");

    let (control, throughput) = throughput_phase(&plan, &fitting, control);
    let (control, heap) = heap_phase(&plan, &fitting, control);
    drop(control);
    let _ = child.wait();

    throughput_table(&plan, &fitting, &throughput, &too_many, fds).print();
    heap_table(&plan, &fitting, &heap).print();
}

/// The child's body: the swarm on a two-worker runtime, like the servers.
fn swarm_main(control: &str) {
    let control: SocketAddr = control.parse().expect("control address");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("swarm runtime");
    if let Err(e) = runtime.block_on(run_swarm(control)) {
        eprintln!("broadcast swarm: {e}");
        std::process::exit(1);
    }
}

/// Raises the soft limit on open files to the hard limit and returns the
/// limit in force.
fn raise_open_files_limit() -> Option<usize> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable rlimit for the call to fill in,
    // and the set call only reads it.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
    open_files_limit()
}

/// The control connection to the swarm.
struct Control {
    stream: BufReader<TcpStream>,
}

impl Control {
    /// Takes over `stream` on the current runtime.
    fn new(stream: std::net::TcpStream) -> Control {
        Control {
            stream: BufReader::new(TcpStream::from_std(stream).expect("control stream")),
        }
    }

    /// Hands the connection back, for another runtime.
    fn into_std(self) -> std::net::TcpStream {
        assert!(self.stream.buffer().is_empty(), "control lines left unread");
        self.stream.into_inner().into_std().expect("control stream")
    }

    async fn send(&mut self, line: &str) {
        self.stream
            .get_mut()
            .write_all(format!("{line}\n").as_bytes())
            .await
            .expect("swarm gone");
    }

    async fn line(&mut self) -> String {
        let mut line = String::new();
        let n = self.stream.read_line(&mut line).await.expect("swarm gone");
        assert!(n > 0, "the swarm ended");
        if let Some(error) = line.strip_prefix("error ") {
            panic!("the swarm saw an error: {}", error.trim());
        }
        line.trim().to_string()
    }

    /// Waits for `word`, passing over milestones nobody waits for any
    /// more.
    async fn expect(&mut self, word: &str) {
        loop {
            let line = self.line().await;
            if line == word {
                return;
            }
            assert!(
                line.starts_with("reached "),
                "expected {word:?} from the swarm, got {line:?}"
            );
        }
    }

    /// Opens `members` connections to `addr`, each expecting `messages`.
    async fn connect(&mut self, addr: SocketAddr, members: usize, messages: u64, every: u64) {
        self.send(&format!(
            "connect {addr} {members} {messages} {every} {SIZE}"
        ))
        .await;
        self.expect("connected").await;
    }

    /// The next milestone every member has reached.
    async fn reached(&mut self) -> u64 {
        let line = self.line().await;
        line.strip_prefix("reached ")
            .and_then(|k| k.parse().ok())
            .unwrap_or_else(|| panic!("expected a milestone, got {line:?}"))
    }

    async fn close(&mut self) {
        self.send("close").await;
        self.expect("closed").await;
    }
}

/// Publishes numbered broadcasts, never more than [`WINDOW`] ahead of the
/// slowest member.
struct Publisher<'a> {
    room: &'a Room,
    control: &'a mut Control,
    pattern: Vec<u8>,
    seq: u64,
    confirmed: u64,
    lost: usize,
    /// Yield to the scheduler after every publish, as a publisher that
    /// waits for each message from elsewhere would.
    paced: bool,
}

impl Publisher<'_> {
    async fn publish_to(&mut self, end: u64) {
        while self.seq < end {
            while self.seq >= self.confirmed + WINDOW {
                self.confirmed = self.control.reached().await;
            }
            self.lost += self.room.publish(numbered(&self.pattern, self.seq));
            self.seq += 1;
            if self.paced {
                tokio::task::yield_now().await;
            }
        }
    }

    async fn delivered(&mut self, end: u64) {
        while self.confirmed < end {
            self.confirmed = self.control.reached().await;
        }
    }
}

/// One throughput cell: the time from the first measured publish until
/// every member has received every broadcast.
async fn throughput_cell(
    server: Server,
    members: usize,
    broadcasts: u64,
    paced: bool,
    control: &mut Control,
) -> Duration {
    let began = Instant::now();
    let running = Running::start(server).await;
    control
        .connect(running.addr, members, WARMUP + broadcasts, EVERY)
        .await;
    let room = running.joined(members).await;
    let connected = began.elapsed();
    let mut publisher = Publisher {
        room: &room,
        control,
        pattern: binary_payload(SIZE),
        seq: 0,
        confirmed: 0,
        lost: 0,
        paced,
    };
    publisher.publish_to(WARMUP).await;
    publisher.delivered(WARMUP).await;
    let start = Instant::now();
    publisher.publish_to(WARMUP + broadcasts).await;
    publisher.delivered(WARMUP + broadcasts).await;
    let elapsed = start.elapsed();
    assert_eq!(publisher.lost, 0, "{} lost messages", server.name());
    let closing = Instant::now();
    control.close().await;
    running.stop(room).await;
    eprintln!(
        "  connect {:.2} s, measured {:.2} s, close {:.2} s",
        connected.as_secs_f64(),
        elapsed.as_secs_f64(),
        closing.elapsed().as_secs_f64()
    );
    elapsed
}

/// Messages delivered per second, per room size and server, medians of
/// the rounds.
type Rates = Vec<Vec<f64>>;

fn throughput_phase(
    plan: &Plan,
    members: &[usize],
    control: std::net::TcpStream,
) -> (std::net::TcpStream, Rates) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("server runtime");
    let rounds = plan.rounds;
    let paced = plan.paced;
    let cells: Vec<(usize, u64)> = members.iter().map(|&n| (n, plan.broadcasts(n))).collect();
    runtime.block_on(async move {
        // The publisher runs as a task on a worker, like a server's own.
        tokio::spawn(async move {
            let mut control = Control::new(control);
            let mut rates = Vec::new();
            for (n, broadcasts) in cells {
                let mut samples = vec![Vec::new(); Server::ALL.len()];
                for round in 0..rounds {
                    for k in 0..Server::ALL.len() {
                        let i = (round + k) % Server::ALL.len();
                        let server = Server::ALL[i];
                        eprintln!("broadcast: {n} members × {broadcasts}, {}", server.name());
                        let time =
                            throughput_cell(server, n, broadcasts, paced, &mut control).await;
                        samples[i].push((n as u64 * broadcasts) as f64 / time.as_secs_f64());
                    }
                }
                rates.push(samples.iter().map(|s| median_f64(s)).collect());
            }
            (control.into_std(), rates)
        })
        .await
        .expect("publisher")
    })
}

/// One heap cell: live heap bytes per queued broadcast.
async fn heap_cell(server: Server, members: usize, queued: u64, control: &mut Control) -> f64 {
    let running = Running::start(server).await;
    control.connect(running.addr, members, 1 + queued, 1).await;
    let room = running.joined(members).await;
    let pattern = binary_payload(SIZE);
    // One broadcast first, so that what a connection allocates on its
    // first message, and the scheduler's run queue, are not counted.
    room.publish(numbered(&pattern, 0));
    assert_eq!(control.reached().await, 1);
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Nothing else runs on this thread until the next await: no
    // connection task takes anything off its queue.
    let before = CountingAlloc::live();
    let mut lost = 0;
    for seq in 1..=queued {
        lost += room.publish(numbered(&pattern, seq));
    }
    let after = CountingAlloc::live();
    assert_eq!(lost, 0, "{} lost messages", server.name());
    // What was queued need not arrive: the members leave with it queued.
    control.close().await;
    running.stop(room).await;
    after.saturating_sub(before) as f64 / queued as f64
}

/// Heap bytes per queued broadcast, per room size and server.
type Heap = Vec<Vec<f64>>;

fn heap_phase(
    plan: &Plan,
    members: &[usize],
    control: std::net::TcpStream,
) -> (std::net::TcpStream, Heap) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("heap runtime");
    runtime.block_on(async {
        let mut control = Control::new(control);
        let mut heap = Vec::new();
        for &n in members {
            let mut row = Vec::new();
            for server in Server::ALL {
                eprintln!("broadcast heap: {n} members, {}", server.name());
                row.push(heap_cell(server, n, plan.queued, &mut control).await);
            }
            heap.push(row);
        }
        (control.into_std(), heap)
    })
}

fn throughput_table(
    plan: &Plan,
    members: &[usize],
    rates: &Rates,
    skipped: &[usize],
    fds: Option<usize>,
) -> Table {
    let mut table = Table::new(
        format!(
            "Broadcast of {} binary messages over loopback TCP",
            size(SIZE)
        ),
        &[
            "members",
            "broadcasts",
            "server",
            "deliveries/s",
            "MB/s",
            "÷ tokio-tungstenite",
            "÷ fastwebsockets",
        ],
    );
    for (&n, rates) in members.iter().zip(rates) {
        let of = |server: Server| {
            Server::ALL
                .iter()
                .position(|&s| s == server)
                .and_then(|i| rates.get(i))
                .copied()
                .unwrap_or(f64::NAN)
        };
        for (&server, &r) in Server::ALL.iter().zip(rates) {
            table.row(vec![
                n.to_string(),
                plan.broadcasts(n).to_string(),
                server.name().to_string(),
                rate(r),
                format!("{:.1}", r * SIZE as f64 / 1e6),
                ratio(r / of(Server::TokioTungstenite)),
                ratio(r / of(Server::FastWebSockets)),
            ]);
        }
    }
    table.note(format!(
        "Medians of {} rounds per cell, servers alternating; a delivery is one message arriving at one member, and ratios are deliveries/s. \
         Time runs from the first measured publish until the swarm has seen every member receive every message \
         (after {WARMUP} warm-up broadcasts); the publisher publishes as fast as it can{}, staying at most {WINDOW} broadcasts ahead of the slowest member. \
         Servers and publisher share a two-worker tokio runtime; the members are a counting client swarm in a second process on a two-worker runtime.",
        plan.rounds,
        if plan.paced {
            " and yields to the scheduler after every publish"
        } else {
            ""
        }
    ));
    if !skipped.is_empty() {
        table.note(format!(
            "Skipped room sizes {skipped:?}: the open-file limit ({}) leaves no room for them in one process.",
            fds.map_or("unknown".to_string(), |l| l.to_string())
        ));
    }
    table
}

/// The least-squares line `a + b·x` through `points`: `(a, b)`.
fn fit(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let (sx, sy) = points
        .iter()
        .fold((0.0, 0.0), |(sx, sy), (x, y)| (sx + x, sy + y));
    let (mx, my) = (sx / n, sy / n);
    let (sxy, sxx) = points.iter().fold((0.0, 0.0), |(sxy, sxx), (x, y)| {
        (sxy + (x - mx) * (y - my), sxx + (x - mx) * (x - mx))
    });
    (sxx > 0.0).then(|| {
        let b = sxy / sxx;
        (my - b * mx, b)
    })
}

fn heap_table(plan: &Plan, members: &[usize], heap: &Heap) -> Table {
    let mut columns = vec!["members"];
    columns.extend(Server::ALL.iter().map(|s| s.name()));
    let mut table = Table::new(
        format!(
            "Heap per queued broadcast ({} payload, {} broadcasts queued; per broadcast · per member)",
            size(SIZE),
            plan.queued
        ),
        &columns,
    );
    for (&n, row) in members.iter().zip(heap) {
        let mut cells = vec![n.to_string()];
        cells.extend(
            row.iter()
                .map(|&b| format!("{} · {}", bytes(b), bytes(b / n as f64))),
        );
        table.row(cells);
    }
    let mut fitted = vec!["fixed + per member".to_string()];
    for i in 0..Server::ALL.len() {
        let points: Vec<(f64, f64)> = members
            .iter()
            .zip(heap)
            .filter_map(|(&n, row)| row.get(i).map(|&b| (n as f64, b)))
            .collect();
        fitted.push(fit(&points).map_or("–".to_string(), |(a, b)| {
            format!("{} + {:.1} B × members", bytes(a), b)
        }));
    }
    table.row(fitted);
    table.note(
        "Live heap growth (counting allocator) while the broadcasts are queued on a current-thread runtime, \
         before any connection task runs, divided by the broadcasts; it includes each broadcast's payload (`Bytes`) \
         and every member's queue slot. Queues that allocate in blocks show their block size spread over the broadcasts. \
         The last row is the least-squares line through the room sizes: what a broadcast holds once, and what it adds per member.",
    );
    table
}
