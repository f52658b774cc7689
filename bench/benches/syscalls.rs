//! Row 3b: system calls and wake-ups per echoed message, for each server of
//! the echo row.
//!
//! Each server runs alone in a child process (this executable, told which
//! server to be), on one thread as in the echo row. The load generator
//! connects, warms up, then `strace -c -f` attaches to the child for a
//! fixed time while the load runs; the count of every system call the
//! server made in that time, and the growth of its threads' voluntary
//! context switches (a thread that blocked and was woken again), are
//! divided by the messages echoed in it. strace slows the server down,
//! so the message rates of this row are not the echo row's; the counts
//! per message are what it measures.

#[path = "common/servers.rs"]
mod servers;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use servers::Server;
use wscore_bench::harness::Settings;
use wscore_bench::raw::{connect_many, run_echo, EchoLoad};
use wscore_bench::report::{ratio, size, Table};

/// Set in the child: the name of the server it runs.
const SERVE_VAR: &str = "WSCORE_BENCH_SYSCALLS_SERVE";

/// The cells counted: connections, message size, messages in flight.
const CELLS: [(usize, usize, usize); 4] = [(1, 16, 1), (1, 16, 32), (64, 16, 32), (1, 1024, 32)];

fn main() {
    std::env::set_var("ASYNC_STD_THREAD_COUNT", "1");
    if let Ok(name) = std::env::var(SERVE_VAR) {
        serve(&name);
        return;
    }
    let settings = Settings::from_env();
    if Command::new("strace").arg("-V").output().is_err() {
        println!("## System calls per echoed message\n\nstrace is not installed: row skipped.\n");
        return;
    }
    let window = if settings.smoke {
        Duration::from_millis(200)
    } else {
        Duration::from_secs(1)
    };
    let mut table = Table::new(
        "System calls and wake-ups per echoed message (server side, strace -c -f)",
        &[
            "conns",
            "size",
            "depth",
            "server",
            "syscalls / msg",
            "of which failed",
            "wake-ups / msg",
            "CPU µs / msg: user + kernel",
            "top calls / msg",
            "syscalls ÷ fastwebsockets'",
        ],
    );
    let client_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    for (conns, len, depth) in CELLS {
        let mut per_server = Vec::new();
        for server in Server::ECHO {
            eprintln!(
                "syscalls: {conns} conns, {len} B, depth {depth}, {}",
                server.name()
            );
            match client_rt.block_on(count(server, conns, len, depth, window)) {
                Ok(counted) => per_server.push((server, counted)),
                Err(e) => {
                    println!(
                        "## System calls per echoed message\n\nstrace could not count ({e}): row skipped.\n"
                    );
                    return;
                }
            }
        }
        let fast = per_server
            .iter()
            .find(|(s, _)| *s == Server::FastWebSockets)
            .map_or(0.0, |(_, c)| c.syscalls_per_msg());
        for (server, counted) in &per_server {
            table.row(vec![
                conns.to_string(),
                size(len),
                depth.to_string(),
                server.name().to_string(),
                format!("{:.3}", counted.syscalls_per_msg()),
                format!("{:.3}", counted.errors_per_msg()),
                format!("{:.3}", counted.wakeups),
                format!(
                    "{:.2} + {:.2}",
                    counted.cpu.user_us_per_msg, counted.cpu.kernel_us_per_msg
                ),
                counted.top(3),
                ratio(counted.syscalls_per_msg() / fast),
            ]);
        }
    }
    table.note(format!(
        "Each server alone in a process on one thread; the same raw client as the echo row \
         pipelines `depth` binary messages per connection. strace counted every system call of \
         the server's process for {:.1} s of load after a warm-up (failed calls, mostly `EAGAIN`, \
         included and also shown apart), divided by the messages echoed in that time. Wake-ups \
         are the growth of the server's threads' voluntary context switches (a thread that \
         blocked and was woken) per message, in a run of the same load without strace, which \
         stops the server at every call; so is the CPU time per message, split into the \
         server's user time and the kernel time its calls cost (from /proc, in 10 ms ticks). \
         A lower ratio is better.",
        window.as_secs_f64()
    ));
    table.print();
}

/// The child: one server, its address on stdout, then serve until killed.
fn serve(name: &str) {
    let server = Server::from_name(name).expect("a server name");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("server runtime");
    let addr = server.start(runtime.handle());
    println!("addr {addr}");
    runtime.block_on(std::future::pending::<()>());
}

/// What one server did in one cell.
struct Counted {
    messages: u64,
    syscalls: u64,
    /// Calls that failed (mostly `EAGAIN`: nothing to read, no room).
    errors: u64,
    /// Wake-ups per message, from a run without strace.
    wakeups: f64,
    /// CPU time per message, from the same run.
    cpu: CpuPerMessage,
    /// The most frequent calls: name and count.
    calls: Vec<(String, u64)>,
}

impl Counted {
    fn syscalls_per_msg(&self) -> f64 {
        self.syscalls as f64 / self.messages.max(1) as f64
    }

    fn errors_per_msg(&self) -> f64 {
        self.errors as f64 / self.messages.max(1) as f64
    }

    fn top(&self, n: usize) -> String {
        self.calls
            .iter()
            .take(n)
            .map(|(name, calls)| {
                format!("{name} {:.2}", *calls as f64 / self.messages.max(1) as f64)
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The server's CPU time per echoed message.
struct CpuPerMessage {
    user_us_per_msg: f64,
    kernel_us_per_msg: f64,
}

/// User and kernel time `pid` has used so far, in clock ticks (1/100 s on
/// Linux, whatever the kernel's tick).
fn cpu_ticks(pid: u32) -> (u64, u64) {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return (0, 0);
    };
    // The command name may hold spaces: fields count from its `)`.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    // utime and stime are fields 14 and 15, so 12 and 13 after the name.
    let field = |i: usize| fields.get(i).and_then(|f| f.parse().ok()).unwrap_or(0);
    (field(11), field(12))
}

/// Kills the child when dropped.
struct Serving(Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_server(server: Server) -> std::io::Result<(Serving, SocketAddr)> {
    let mut child = Command::new(std::env::current_exe()?)
        .env(SERVE_VAR, server.name())
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| std::io::Error::other("no stdout"))?;
    let serving = Serving(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let addr = line
        .trim()
        .strip_prefix("addr ")
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no address in {line:?}")))?;
    Ok((serving, addr))
}

/// Voluntary context switches of every thread of `pid` so far.
fn voluntary_switches(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("status")).ok())
        .filter_map(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
                .and_then(|v| v.trim().parse::<u64>().ok())
        })
        .sum()
}

/// An `strace -c` summary.
struct Summary {
    total: u64,
    failed: u64,
    /// Name and count, most frequent first.
    calls: Vec<(String, u64)>,
}

/// Reads an `strace -c` summary.
fn parse_summary(text: &str) -> Option<Summary> {
    let mut calls = Vec::new();
    let mut total = None;
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // % time, seconds, usecs/call, calls, [errors,] name
        if fields.len() < 5 || fields[0].parse::<f64>().is_err() {
            continue;
        }
        let Ok(count) = fields[3].parse::<u64>() else {
            continue;
        };
        let name = fields[fields.len() - 1].to_string();
        if name == "total" {
            // The errors column is there only when some call failed.
            let errors = if fields.len() >= 6 {
                fields[4].parse().unwrap_or(0)
            } else {
                0
            };
            total = Some((count, errors));
        } else {
            calls.push((name, count));
        }
    }
    calls.sort_by_key(|call| std::cmp::Reverse(call.1));
    total.map(|(total, failed)| Summary {
        total,
        failed,
        calls,
    })
}

async fn count(
    server: Server,
    conns: usize,
    len: usize,
    depth: usize,
    window: Duration,
) -> std::io::Result<Counted> {
    let (serving, addr) = spawn_server(server)?;
    let pid = serving.0.id();
    let streams = connect_many(addr, conns).await?;
    // Wake-ups are counted without strace, which stops the server at every
    // call.
    let unwatched = EchoLoad {
        size: len,
        depth,
        warmup: window / 4,
        duration: window,
    };
    let before = voluntary_switches(pid);
    let (user_before, kernel_before) = cpu_ticks(pid);
    let (streams, unwatched) = run_echo(streams, unwatched).await?;
    let wakeups = voluntary_switches(pid).saturating_sub(before);
    let (user_after, kernel_after) = cpu_ticks(pid);
    // Every message of the run, warm-up included, against all its time.
    let per_msg = |ticks: u64| ticks as f64 * 10_000.0 / unwatched.received.max(1) as f64;
    let cpu = CpuPerMessage {
        user_us_per_msg: per_msg(user_after.saturating_sub(user_before)),
        kernel_us_per_msg: per_msg(kernel_after.saturating_sub(kernel_before)),
    };

    let out = std::env::temp_dir().join(format!("wscore-syscalls-{}-{pid}", std::process::id()));
    let mut strace = Command::new("strace")
        .args(["-c", "-f", "-q", "-o"])
        .arg(&out)
        .args(["-p", &pid.to_string()])
        .stderr(Stdio::null())
        .spawn()?;
    // Attaching takes a moment; the load starts once strace is in.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let load = EchoLoad {
        size: len,
        depth,
        warmup: Duration::ZERO,
        duration: window,
    };
    let (streams, stats) = run_echo(streams, load).await?;
    // SIGINT makes strace detach and write its summary.
    let _ = Command::new("kill")
        .args(["-INT", &strace.id().to_string()])
        .status();
    strace.wait()?;
    drop(streams);
    drop(serving);
    let text = std::fs::read_to_string(&out)?;
    let _ = std::fs::remove_file(&out);
    let Summary {
        total: syscalls,
        failed: errors,
        calls,
    } = parse_summary(&text)
        .ok_or_else(|| std::io::Error::other(format!("no strace summary: {text}")))?;
    // Every message of the load, the ones in flight at its end included:
    // strace saw the server echo them all.
    Ok(Counted {
        messages: stats.received,
        syscalls,
        errors,
        wakeups: wakeups as f64 / unwatched.received.max(1) as f64,
        cpu,
        calls,
    })
}
