//! Dormant members of wscore's hub over loopback TCP: what one costs once
//! it has hibernated (heap and resident, above bare TCP), and how much
//! server CPU one message to it takes, waking it, against the same
//! message to a member that stayed awake.
//!
//! The server is a [`Hub`] whose members are all driven by one [`Served`]
//! task, which echoes every message back with [`Hub::send`]. With
//! hibernation on, a member that has received nothing for
//! [`DORMANT_AFTER`] gives back everything but its transport, its place in
//! the hub and the core's record, and is rebuilt when bytes arrive.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use wscore_bench::alloc::rss_bytes;
use wscore_bench::raw::connect_many;
use wscore_bench::report::{bytes, Table};
use wscore_tokio::{accept_member, Adder, Config, Event, Hub, HubConfig, HubEvent, Served};

use super::{hello_all, Footprint, OPENED};

/// Real time after which a member that received nothing is dormant: long
/// enough that no member woken by the wake measurement (which takes a few
/// milliseconds) falls asleep again inside it.
const DORMANT_AFTER: Duration = Duration::from_millis(300);

/// Rounds of the wake measurement; the median is reported.
const WAKE_ROUNDS: usize = 3;

/// Connections per wave in [`Mode::HibernatedInWaves`].
const WAVE: usize = 500;

/// How the hub treats members that have received nothing for a while, and
/// how the server accepts them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Dormant after [`DORMANT_AFTER`], and hibernated; each connection is
    /// accepted by a task that holds the handshake's future in a box.
    Hibernated,
    /// As [`Mode::Hibernated`], with the handshake's future held in the
    /// accepting task itself, as an `async` block awaiting
    /// `accept_member` writes it.
    HibernatedTaskHeld,
    /// As [`Mode::Hibernated`], with the connections arriving in waves of
    /// [`WAVE`], each wave's members hibernated before the next connects:
    /// a server whose idle connections accumulate over time, where one
    /// wave reuses what the one before gave back, rather than a burst
    /// whose every member is awake at once.
    HibernatedInWaves,
    /// Never dormant: every member stays parked on its read, buffers and
    /// all.
    Awake,
}

impl Mode {
    /// The cases of the loopback idle row, in order.
    pub(crate) const ALL: [Mode; 4] = [
        Mode::Hibernated,
        Mode::HibernatedTaskHeld,
        Mode::HibernatedInWaves,
        Mode::Awake,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Mode::Hibernated => "wscore hub, dormant (hibernated)",
            Mode::HibernatedTaskHeld => {
                "wscore hub, dormant (hibernated), accept future in the task"
            }
            Mode::HibernatedInWaves => "wscore hub, dormant (hibernated), arriving in waves",
            Mode::Awake => "wscore hub, parked (awake)",
        }
    }

    fn hub_config(self) -> HubConfig {
        match self {
            Mode::Hibernated | Mode::HibernatedTaskHeld | Mode::HibernatedInWaves => {
                HubConfig::default()
                    .dormant_after(Some(DORMANT_AFTER))
                    .hibernate(true)
            }
            Mode::Awake => HubConfig::default(),
        }
    }

    fn hibernates(self) -> bool {
        self != Mode::Awake
    }
}

/// Completes the handshake of one connection and hands the member to the
/// serving task.
async fn admit(hub: Hub, stream: TcpStream, config: Config, adder: Adder<TcpStream>) {
    let Ok(member) = accept_member(&hub, stream, config).await else {
        return;
    };
    OPENED.fetch_add(1, Ordering::Relaxed);
    let _ = adder.add(member);
}

/// What one case measured, in the order it is passed between processes.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Measured {
    /// Heap per connection, client end included.
    pub(crate) heap: f64,
    /// Resident growth per connection, client end included.
    pub(crate) rss: f64,
    /// Heap per connection once every member has echoed, before any could
    /// become dormant.
    pub(crate) heap_awake: f64,
    /// Resident growth per connection after the allocator handed its free
    /// pages back to the kernel (`malloc_trim`).
    pub(crate) rss_trimmed: f64,
    /// Members hibernated when the footprint was taken.
    pub(crate) dormant: f64,
    /// What the stream reports the hibernated members hold, per member.
    pub(crate) dormant_bytes: f64,
    /// Server-thread CPU per echoed message, in nanoseconds (median round).
    pub(crate) cpu_ns: f64,
    /// Members each wake round sent one message to.
    pub(crate) sample: f64,
}

impl Measured {
    pub(crate) fn to_vec(self) -> Vec<f64> {
        vec![
            self.heap,
            self.rss,
            self.heap_awake,
            self.rss_trimmed,
            self.dormant,
            self.dormant_bytes,
            self.cpu_ns,
            self.sample,
        ]
    }

    pub(crate) fn from_slice(values: &[f64]) -> Measured {
        let at = |i: usize| values.get(i).copied().unwrap_or(0.0);
        Measured {
            heap: at(0),
            rss: at(1),
            heap_awake: at(2),
            rss_trimmed: at(3),
            dormant: at(4),
            dormant_bytes: at(5),
            cpu_ns: at(6),
            sample: at(7),
        }
    }
}

/// A question to the serving task, answered between two of its events:
/// members hibernated now and the bytes they hold.
type Probe = oneshot::Sender<(usize, usize)>;

/// The CPU time of the calling thread.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "thread CPU clock");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Gives the allocator's free pages back to the kernel, where it can.
fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The server thread's CPU time, read on that thread.
async fn server_cpu(server: &tokio::runtime::Handle) -> Duration {
    server
        .spawn(async { thread_cpu() })
        .await
        .expect("server CPU")
}

/// Asks the serving task how many members are hibernated.
async fn probe(probes: &mpsc::UnboundedSender<Probe>) -> (usize, usize) {
    let (tx, rx) = oneshot::channel();
    probes.send(tx).expect("serving task");
    rx.await.expect("serving task answers")
}

/// Starts the hub server on `server` and returns its address and the
/// channel that probes its serving task.
fn start(
    server: &tokio::runtime::Handle,
    mode: Mode,
) -> (SocketAddr, mpsc::UnboundedSender<Probe>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    listener.set_nonblocking(true).expect("non-blocking");
    let config = Arc::new(Config::default());
    let hub: Hub = Hub::new(mode.hub_config());
    let mut served = if mode.hibernates() {
        Served::<TcpStream>::with_config(Arc::clone(&config))
    } else {
        Served::<TcpStream>::new()
    };
    let adder = served.adder();
    let (probes, mut probed) = mpsc::unbounded_channel::<Probe>();
    server.spawn({
        let hub = hub.clone();
        async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let admit = admit(hub.clone(), stream, Config::clone(&config), adder.clone());
                // A finished task's memory stays allocated as long as a
                // waker of it does; the two ways of writing the task show
                // that a hibernated member keeps none (it drops the timer
                // the handshake task last polled).
                if mode == Mode::HibernatedTaskHeld {
                    tokio::spawn(admit);
                } else {
                    tokio::spawn(Box::pin(admit));
                }
            }
        }
    });
    server.spawn(async move {
        loop {
            tokio::select! {
                item = served.next() => match item {
                    Some((id, HubEvent::Event(Event::Message(message)))) => {
                        let _ = hub.send(id, message);
                    }
                    Some(_) => {}
                    None => break,
                },
                Some(reply) = probed.recv() => {
                    let _ = reply.send((served.dormant_count(), served.dormant_bytes()));
                }
            }
        }
    });
    (addr, probes)
}

/// Waits until `n` members are hibernated (where the mode hibernates; the
/// awake mode just lets the server settle) and returns how many are.
async fn settle(mode: Mode, n: usize, probes: &mpsc::UnboundedSender<Probe>) -> usize {
    match mode {
        Mode::Awake => {
            tokio::time::sleep(Duration::from_millis(100)).await;
            probe(probes).await.0
        }
        Mode::Hibernated | Mode::HibernatedTaskHeld | Mode::HibernatedInWaves => {
            let deadline = Instant::now() + DORMANT_AFTER + Duration::from_secs(30);
            loop {
                let (dormant, _) = probe(probes).await;
                if dormant >= n || Instant::now() >= deadline {
                    return dormant;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

/// One case of the loopback idle row: `n` connections to a hub in `mode`,
/// then [`WAKE_ROUNDS`] rounds of one message to each of `sample` of them.
pub(crate) fn case(n: usize, sample: usize, mode: Mode) -> Measured {
    let server_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("server runtime");
    let server = server_rt.handle().clone();
    // The server thread runs until the process exits.
    std::thread::spawn(move || {
        server_rt.block_on(std::future::pending::<()>());
    });
    let client_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    client_rt.block_on(async {
        let before = Footprint::now();
        let (addr, probes) = start(&server, mode);
        let wave = match mode {
            Mode::HibernatedInWaves => WAVE,
            _ => n,
        };
        let mut streams = Vec::with_capacity(n);
        let mut awake = before;
        while streams.len() < n {
            let first = streams.len();
            let count = wave.min(n - first);
            streams.extend(connect_many(addr, count).await.expect("connect"));
            hello_all(&mut streams[first..]).await.expect("echo");
            let opened = first + count;
            let deadline = Instant::now() + Duration::from_secs(10);
            while OPENED.load(Ordering::Relaxed) < opened && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            awake = Footprint::now();
            if opened < n {
                settle(mode, opened, &probes).await;
            }
        }
        let dormant = settle(mode, n, &probes).await;
        if mode.hibernates() && dormant < n {
            eprintln!("memory: only {dormant} of {n} hub members hibernated");
        }
        let after = Footprint::now();
        let (_, dormant_bytes) = probe(&probes).await;
        trim_heap();
        let trimmed = rss_bytes().unwrap_or(0);
        let (heap, rss) = before.per_item(after, n);
        let (heap_awake, _) = before.per_item(awake, n);
        let rss_trimmed = (trimmed as f64 - before.rss as f64) / n.max(1) as f64;

        let sample = sample.clamp(1, n);
        let mut per_message = Vec::with_capacity(WAKE_ROUNDS);
        for _ in 0..WAKE_ROUNDS {
            let cpu = server_cpu(&server).await;
            let start = Instant::now();
            hello_all(&mut streams[..sample]).await.expect("wake echo");
            let spent = server_cpu(&server).await.saturating_sub(cpu);
            let wall = start.elapsed();
            if mode.hibernates() && wall >= DORMANT_AFTER {
                eprintln!("memory: a wake round took {wall:?}, members fell asleep inside it");
            }
            per_message.push(spent.as_nanos() as f64 / sample as f64);
            settle(mode, n, &probes).await;
        }
        per_message.sort_by(f64::total_cmp);
        drop(streams);
        Measured {
            heap,
            rss,
            heap_awake,
            rss_trimmed,
            dormant: dormant as f64,
            dormant_bytes: dormant_bytes as f64 / dormant.max(1) as f64,
            cpu_ns: per_message.get(WAKE_ROUNDS / 2).copied().unwrap_or(0.0),
            sample: sample as f64,
        }
    })
}

/// The table of the dormant cases (in [`Mode::ALL`] order), against the
/// bare TCP baseline.
pub(crate) fn report(n: usize, bare: (f64, f64), hubs: &[Measured]) {
    let (bare_heap, bare_rss) = bare;
    let mut table = Table::new(
        format!(
            "Dormant hub members over loopback TCP ({n} connections, each after one 16 B echo)"
        ),
        &[
            "hub members",
            "heap above bare TCP, just after the echo",
            "heap above bare TCP",
            "resident above bare TCP",
            "resident above bare, after malloc_trim",
            "hibernated",
            "server CPU / echo",
            "CPU beyond an awake member's",
        ],
    );
    let awake_cpu = Mode::ALL
        .iter()
        .zip(hubs)
        .find(|(mode, _)| !mode.hibernates())
        .map_or(0.0, |(_, m)| m.cpu_ns);
    for (mode, m) in Mode::ALL.iter().zip(hubs) {
        table.row(vec![
            mode.name().to_string(),
            bytes(m.heap_awake - bare_heap),
            bytes(m.heap - bare_heap),
            bytes(m.rss - bare_rss),
            bytes(m.rss_trimmed - bare_rss),
            format!("{:.0} of {n}", m.dormant),
            format!("{:.1} µs", m.cpu_ns / 1000.0),
            if mode.hibernates() {
                format!("{:.1} µs", (m.cpu_ns - awake_cpu) / 1000.0)
            } else {
                "–".to_string()
            },
        ]);
    }
    let hibernated = hubs.first().copied().unwrap_or_default();
    table.note(format!(
        "Hibernated members: dormant after {} ms with nothing received; the footprint is taken \
         once every member has hibernated (the awake hub's 100 ms after the echo), and the \
         stream reports the hibernated members hold {} each (entry, sleeper, the core's record). \
         Each connection's handshake runs in a task of its own, which hands the member to the \
         serving task, with its future boxed or not (the second row): a hibernated member keeps \
         no waker of that task, so either way the finished task is freed. Server CPU is the serving thread's \
         CPU clock (CLOCK_THREAD_CPUTIME_ID: the serving task and tokio's IO driver, not the \
         client end in the same process) from the first of {:.0} messages, one to each of that \
         many members, until every echo has arrived, divided by the messages; median of {} \
         rounds, the members hibernating again between rounds. The malloc_trim column shows how \
         much of the resident set is pages the allocator keeps after the members' buffers were \
         freed, not memory in use. In the first two rows every connection arrives at once, so \
         every member is awake at the same moment and the resident set keeps that peak; in the \
         waves row they arrive {} at a time, each wave hibernated before the next connects, so \
         a wave reuses the pages the one before gave back (its \"just after the echo\" is \
         taken after the last wave).",
        DORMANT_AFTER.as_millis(),
        bytes(hibernated.dormant_bytes),
        hibernated.sample,
        WAKE_ROUNDS,
        WAVE,
    ));
    table.print();
}
