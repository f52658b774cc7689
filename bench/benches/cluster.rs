//! Row 7: broadcast across processes.
//!
//! One room of 1 000 members, 1 KiB binary messages over loopback TCP,
//! measured twice: all members on one server process (the hub alone),
//! and the members spread over three server processes that share the
//! room through a real Redis server (`wscore-cluster`). The servers are
//! child processes of this benchmark; the members and the publisher are
//! clients in this process, so one clock times every message.
//!
//! - **Throughput**: deliveries per second (members × broadcasts) from
//!   the first publish until every member has every message. The
//!   publisher is a member on the first server; each message it sends is
//!   published by its server to the room, and it sends as fast as it can
//!   while it is at most 64 broadcasts ahead of the slowest member.
//! - **Latency**: from the publisher's send to a member's receipt, at a
//!   fixed pace of one broadcast every 10 ms, over every member's
//!   receipts: p50 and p99.
//!
//! Needs `redis-server` (skipped with a note without it, except under
//! `CI`, where it fails). Knobs (environment variables):
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `WSCORE_BENCH_CLUSTER_MEMBERS` | room size | 1000 (smoke 60) |
//! | `WSCORE_BENCH_CLUSTER_DELIVERIES` | deliveries in the throughput phase | 500000 (smoke 6000) |
//! | `WSCORE_BENCH_CLUSTER_PACED` | broadcasts in the latency phase | 200 (smoke 10) |

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use wscore_bench::harness::{quantile, Settings};
use wscore_bench::report::{latency, rate, Table};
use wscore_cluster::{Cluster, ClusterConfig};
use wscore_tokio::{Config, Hub, HubConfig, MaybeTlsStream, Message, WebSocket};

/// Set in a child process: it is a server, on the Redis URL given, or
/// alone with `local`.
const NODE_VAR: &str = "WSCORE_BENCH_CLUSTER_NODE";
const SIZE: usize = 1024;
const WINDOW: u64 = 64;
const ROOM: &str = "/room";
const PACE: Duration = Duration::from_millis(10);

type Ws = WebSocket<MaybeTlsStream>;

fn var<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok()?.trim().parse().ok()
}

fn main() {
    if let Ok(redis) = std::env::var(NODE_VAR) {
        node_main(&redis);
        return;
    }
    let settings = Settings::from_env();
    let smoke = settings.smoke;
    let members: usize =
        var("WSCORE_BENCH_CLUSTER_MEMBERS").unwrap_or(if smoke { 60 } else { 1000 });
    let deliveries: u64 =
        var("WSCORE_BENCH_CLUSTER_DELIVERIES").unwrap_or(if smoke { 6000 } else { 500_000 });
    let paced: u64 = var("WSCORE_BENCH_CLUSTER_PACED").unwrap_or(if smoke { 10 } else { 200 });
    let broadcasts = (deliveries / members.max(1) as u64).max(WINDOW);

    let mut table = Table::new(
        format!("Broadcast across processes: one room of {members} members, {SIZE} B binary messages over loopback TCP"),
        &["servers", "deliveries/s", "broadcasts/s", "latency p50", "latency p99"],
    );
    let Some(redis_server) = find("redis-server") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "redis-server is not installed"
        );
        table.note("skipped: redis-server is not installed (apt-get install redis-server)");
        table.print();
        return;
    };
    raise_open_files_limit();
    let redis = RedisServer::start(&redis_server);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    for (label, servers, url) in [
        ("one process (hub)", 1, None),
        (
            "three processes on Redis (wscore-cluster)",
            3,
            Some(redis.url()),
        ),
    ] {
        let result = runtime.block_on(run(servers, url.as_deref(), members, broadcasts, paced));
        table.row(vec![
            label.to_string(),
            rate(result.deliveries_per_sec),
            rate(result.deliveries_per_sec / members as f64),
            latency(result.p50),
            latency(result.p99),
        ]);
    }
    table.note(format!(
        "Throughput: {broadcasts} broadcasts, the publisher at most {WINDOW} ahead of the slowest member. \
         Latency: {paced} broadcasts, one every {} ms, every member's receipt. Servers and Redis share the \
         machine's cores with the members.",
        PACE.as_millis()
    ));
    table.print();
}

struct Outcome {
    deliveries_per_sec: f64,
    p50: Duration,
    p99: Duration,
}

/// What every member's task shares with the publisher.
struct Shared {
    base: Instant,
    /// Messages each member has received.
    received: Vec<AtomicU64>,
    /// Latencies of paced messages, in nanoseconds.
    latencies: Mutex<Vec<u64>>,
}

async fn run(
    servers: usize,
    redis: Option<&str>,
    members: usize,
    broadcasts: u64,
    paced: u64,
) -> Outcome {
    let mut nodes: Vec<Node> = (0..servers).map(|_| Node::start(redis)).collect();
    let mut addrs = Vec::new();
    for node in &mut nodes {
        addrs.push(node.addr().await);
    }
    let shared = Arc::new(Shared {
        base: Instant::now(),
        received: (0..members).map(|_| AtomicU64::new(0)).collect(),
        latencies: Mutex::new(Vec::new()),
    });
    // Member 0 is the publisher, on the first server; the rest are dealt
    // round the servers.
    let mut publisher = None;
    let mut tasks = Vec::new();
    for i in 0..members {
        let ws = connect(&addrs[i % servers], ROOM).await;
        if i == 0 {
            let (read, write) = ws.split();
            publisher = Some(write);
            tasks.push(tokio::spawn(member_half(read, i, Arc::clone(&shared))));
        } else {
            tasks.push(tokio::spawn(member(ws, i, Arc::clone(&shared))));
        }
    }
    let mut publisher = publisher.expect("a publisher");
    for addr in &addrs {
        wait_subscribed(addr).await;
    }

    // Throughput.
    let started = Instant::now();
    for seq in 0..broadcasts {
        while seq >= WINDOW + slowest(&shared) {
            tokio::task::yield_now().await;
        }
        publisher
            .send(payload(&shared, seq, false))
            .await
            .expect("publish");
    }
    while slowest(&shared) < broadcasts {
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    let elapsed = started.elapsed();

    // Latency.
    let mut next = tokio::time::Instant::now();
    for seq in broadcasts..broadcasts + paced {
        tokio::time::sleep_until(next).await;
        next += PACE;
        publisher
            .send(payload(&shared, seq, true))
            .await
            .expect("publish");
    }
    while slowest(&shared) < broadcasts + paced {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    drop(publisher);
    for task in tasks {
        task.abort();
    }
    let mut latencies = std::mem::take(&mut *shared.latencies.lock().expect("latencies"));
    latencies.sort_unstable();
    for node in &mut nodes {
        node.stop();
    }
    Outcome {
        deliveries_per_sec: (members as u64 * broadcasts) as f64 / elapsed.as_secs_f64(),
        p50: Duration::from_nanos(quantile(&latencies, 0.50)),
        p99: Duration::from_nanos(quantile(&latencies, 0.99)),
    }
}

fn slowest(shared: &Shared) -> u64 {
    shared
        .received
        .iter()
        .map(|n| n.load(Ordering::Acquire))
        .min()
        .unwrap_or(0)
}

/// Sequence number, send time and whether it is timed, then padding.
fn payload(shared: &Shared, seq: u64, timed: bool) -> Message {
    let mut bytes = vec![0u8; SIZE];
    bytes[..8].copy_from_slice(&seq.to_be_bytes());
    let sent = shared.base.elapsed().as_nanos() as u64;
    bytes[8..16].copy_from_slice(&sent.to_be_bytes());
    bytes[16] = u8::from(timed);
    Message::binary(bytes)
}

fn receipt(shared: &Shared, index: usize, message: &Message) {
    let bytes = message.payload();
    if bytes.len() < 17 {
        return;
    }
    let sent = u64::from_be_bytes(bytes[8..16].try_into().expect("8 bytes"));
    if bytes[16] == 1 {
        let now = shared.base.elapsed().as_nanos() as u64;
        shared
            .latencies
            .lock()
            .expect("latencies")
            .push(now.saturating_sub(sent));
    }
    shared.received[index].fetch_add(1, Ordering::Release);
}

async fn member(mut ws: Ws, index: usize, shared: Arc<Shared>) {
    while let Some(Ok(message)) = ws.recv().await {
        receipt(&shared, index, &message);
    }
}

async fn member_half(
    mut ws: wscore_tokio::ReadHalf<MaybeTlsStream>,
    index: usize,
    shared: Arc<Shared>,
) {
    while let Some(Ok(message)) = ws.recv().await {
        receipt(&shared, index, &message);
    }
}

async fn connect(addr: &str, path: &str) -> Ws {
    let (ws, _) = wscore_tokio::connect(&format!("ws://{addr}{path}"))
        .await
        .expect("connect to a server");
    ws
}

/// Waits until the server at `addr` has subscribed the room.
async fn wait_subscribed(addr: &str) {
    let mut control = connect(addr, "/control").await;
    loop {
        control
            .send(Message::text("subscribed?"))
            .await
            .expect("ask");
        match control.recv().await {
            Some(Ok(answer)) if answer.as_text() == Some("yes") => return,
            Some(Ok(_)) => tokio::time::sleep(Duration::from_millis(10)).await,
            other => panic!("the server did not answer: {other:?}"),
        }
    }
}

/// A server process of this benchmark.
struct Node {
    child: Child,
}

impl Node {
    fn start(redis: Option<&str>) -> Node {
        let child = Command::new(std::env::current_exe().expect("own executable"))
            .env(NODE_VAR, redis.unwrap_or("local"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start a server");
        Node { child }
    }

    /// The address the server's first line names.
    async fn addr(&mut self) -> String {
        let stdout = self.child.stdout.take().expect("stdout");
        let stdout = tokio::process::ChildStdout::from_std(stdout).expect("async stdout");
        let mut lines = BufReader::new(stdout).lines();
        lines
            .next_line()
            .await
            .expect("read the server's address")
            .expect("a first line")
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A server: a hub, with a bridge when given a Redis URL; every message
/// a member sends is published to the room. `subscribed?` on any
/// connection is answered `yes` once the room's channel is subscribed.
fn node_main(redis: &str) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("server runtime");
    runtime.block_on(async {
        let hub: Hub = Hub::new(HubConfig::default().max_queued_bytes(8 << 20));
        let cluster = if redis == "local" {
            None
        } else {
            Some(
                Cluster::connect(hub.clone(), redis, ClusterConfig::default())
                    .await
                    .expect("connect to redis"),
            )
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        println!("{}", listener.local_addr().expect("address"));
        let room = ROOM.to_string();
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let (hub, cluster, room) = (hub.clone(), cluster.clone(), room.clone());
            tokio::spawn(async move {
                let Ok(mut member) =
                    wscore_tokio::accept_member(&hub, tcp, Config::default()).await
                else {
                    return;
                };
                let id = member.id();
                while let Some(Ok(message)) = member.recv().await {
                    if message.as_text() == Some("subscribed?") {
                        let yes = cluster.as_ref().is_none_or(|c| c.is_subscribed(&room));
                        let _ = hub.send(id, Message::text(if yes { "yes" } else { "no" }));
                        continue;
                    }
                    match &cluster {
                        Some(cluster) => cluster.publish(&room, message),
                        None => hub.publish(&room, message),
                    };
                }
            });
        }
    });
}

/// A redis-server on a free port, without persistence.
struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    fn start(binary: &PathBuf) -> RedisServer {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(binary)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start redis-server");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        RedisServer { child, port }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find(binary: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(binary))
        .find(|candidate| candidate.is_file())
}

/// Raises the soft limit on open files to the hard limit: a thousand
/// members are a thousand sockets here.
fn raise_open_files_limit() {
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
}
