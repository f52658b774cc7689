//! A 1 GiB stream over loopback TCP, in two processes: the sender reads it
//! from a deterministic generator (no disk) and streams it with metadata;
//! the receiver copies the stream's body (`stream_body`, through
//! `TryStreamExt::into_async_read`) to a temporary file.
//! Each prints its peak memory: neither holds more than the socket's
//! windows and limits, whatever the stream's size.
//!
//! ```text
//! cargo run --release -p wscore-async-std --example async_std_large_stream [-- --size-mib 1024]
//! ```
//!
//! Run alone, it starts the receiver as a child process (`--receive`) and
//! sends to it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{self, BufRead};
use std::pin::Pin;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use async_std::net::TcpListener;
use futures::io::{AsyncRead, AsyncWriteExt, BufWriter};
use futures::TryStreamExt;
use wscore::{Config as ProtocolConfig, ReceiveMode, StreamConfig, Subprotocol};
use wscore_async_std::{Accept, ClientRequest, CloseCode, Config, Event, StreamEvent};

/// Counts live heap bytes and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = System.alloc(layout);
        if !ptr.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const SUBPROTOCOL: &str = "files.v1";

/// Peak heap (counted) and peak resident set (`VmHWM`, Linux only).
fn peak_memory() -> String {
    let heap = PEAK.load(Ordering::Relaxed) as f64 / 1048576.0;
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmHWM:"))
                .map(|line| line.trim_start_matches("VmHWM:").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    format!("peak heap {heap:.2} MiB, peak RSS {rss}")
}

fn protocol() -> ProtocolConfig {
    ProtocolConfig::default()
        .subprotocols(vec![Subprotocol::streamed(SUBPROTOCOL)])
        .stream(StreamConfig::default().max_stream_size(u64::MAX))
}

/// `len` bytes of a fixed pattern, generated as they are read.
struct Generator {
    at: u64,
    len: u64,
}

impl AsyncRead for Generator {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let left = usize::try_from(self.len - self.at).unwrap_or(usize::MAX);
        let n = buf.len().min(left);
        let start = self.at;
        for (i, byte) in buf[..n].iter_mut().enumerate() {
            *byte = pattern_byte(start + i as u64);
        }
        self.at += n as u64;
        Poll::Ready(Ok(n))
    }
}

fn pattern_byte(offset: u64) -> u8 {
    (offset.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8
}

#[async_std::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut size_mib: u64 = 1024;
    let mut receive = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--size-mib" => size_mib = args.next().ok_or("--size-mib needs a value")?.parse()?,
            "--receive" => receive = true,
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    if receive {
        return run_receiver().await;
    }

    // The receiver in its own process, so that each measures only itself.
    let mut child = Command::new(std::env::current_exe()?)
        .arg("--receive")
        .stdout(Stdio::piped())
        .spawn()?;
    let mut lines = io::BufReader::new(child.stdout.take().ok_or("no stdout")?).lines();
    let first = lines.next().ok_or("the receiver exited")??;
    let addr = first
        .strip_prefix("listening on ")
        .ok_or("unexpected receiver output")?
        .to_owned();
    let relay = std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            println!("{line}");
        }
    });
    run_sender(&addr, size_mib << 20).await?;
    relay.join().map_err(|_| "the relay thread panicked")?;
    child.wait()?;
    Ok(())
}

async fn run_sender(addr: &str, len: u64) -> Result<(), Box<dyn std::error::Error>> {
    let request = ClientRequest::from_url(&format!("ws://{addr}/"))?.subprotocol(SUBPROTOCOL);
    let (mut ws, _) = wscore_async_std::connect_with(request, Config::from(protocol())).await?;
    // The example times its own transfer; the socket's clock is its timer's.
    #[allow(clippy::disallowed_methods)]
    let started = Instant::now();
    let source = Generator { at: 0, len };
    ws.send_stream_from_reader(source, len, "pattern.bin")
        .await?;
    let elapsed = started.elapsed();
    ws.close(CloseCode::NORMAL, "done").await?;
    println!(
        "sender:   {} MiB in {:.2?} ({:.0} MiB/s); {}",
        len >> 20,
        elapsed,
        (len >> 20) as f64 / elapsed.as_secs_f64(),
        peak_memory()
    );
    Ok(())
}

async fn run_receiver() -> Result<(), Box<dyn std::error::Error>> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("listening on {}", listener.local_addr()?);
    let (tcp, _) = listener.accept().await?;
    tcp.set_nodelay(true)?;
    let config = Config::from(protocol().receive_mode(ReceiveMode::Incremental));
    let mut ws = wscore_async_std::accept_with(tcp, config, |_| Ok(Accept::new())).await?;

    let path = std::env::temp_dir().join(format!("wscore-large-stream-{}.bin", std::process::id()));
    let mut file = BufWriter::new(async_std::fs::File::create(&path).await?);
    while let Some(event) = ws.next_event().await {
        let Event::Stream(StreamEvent::Started {
            id,
            total_len,
            metadata,
        }) = event?
        else {
            continue;
        };
        println!(
            "receiver: stream of {} MiB, metadata {:?}",
            total_len >> 20,
            String::from_utf8_lossy(&metadata)
        );
        // The stream's body, each piece checked against the pattern on its
        // way to the file; `into_async_read` makes it an `AsyncBufRead`.
        let (mut checked, mut mismatches) = (0u64, 0u64);
        let body = ws.stream_body(id).inspect_ok(|data| {
            for (i, byte) in data.iter().enumerate() {
                mismatches += u64::from(*byte != pattern_byte(checked + i as u64));
            }
            checked += data.len() as u64;
        });
        let copied = futures::io::copy_buf(body.into_async_read(), &mut file).await;
        file.flush().await?;
        match copied {
            Ok(written) => println!(
                "receiver: {} MiB written to {}, {} bytes differ from the pattern",
                written >> 20,
                path.display(),
                mismatches
            ),
            Err(error) => println!("receiver: the stream failed: {error}"),
        }
    }
    file.close().await?;
    std::fs::remove_file(&path)?;
    println!("receiver: {}", peak_memory());
    Ok(())
}
