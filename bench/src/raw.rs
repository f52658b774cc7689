//! A raw WebSocket client and handshake helpers over tokio.
//!
//! The load generator is the same for every server under test, and is kept
//! lean so that on a two-core machine it takes as little CPU as possible
//! away from the server: it pre-masks one frame per connection, patches a
//! sequence number into it, writes pipelined frames in as few syscalls as
//! the window allows, and checks every echoed byte with one comparison.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use sha1::{Digest, Sha1};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;

use crate::wire::binary_payload;

const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const CLIENT_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// `Sec-WebSocket-Accept` for a client's `Sec-WebSocket-Key`.
pub fn accept_key(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

/// Reads an HTTP header block up to and including the blank line. The
/// peer sends nothing after it before it hears back, so nothing is lost.
async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> io::Result<String> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        head.extend_from_slice(buf.get(..n).unwrap_or_default());
        if head.windows(4).any(|w| w == b"\r\n\r\n") {
            return String::from_utf8(head).map_err(|_| invalid("non-UTF-8 header"));
        }
        if head.len() > 16 << 10 {
            return Err(invalid("header block too long"));
        }
    }
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Server side of the opening handshake, for servers (fastwebsockets) that
/// leave it to the application: reads the request and answers `101`.
pub async fn server_handshake<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S) -> io::Result<()> {
    let head = read_head(stream).await?;
    let key = header(&head, "sec-websocket-key").ok_or_else(|| invalid("no key"))?;
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(key)
    );
    stream.write_all(response.as_bytes()).await
}

/// Connects to `addr` and runs the client side of the opening handshake.
pub async fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let mut stream = TcpStream::connect(addr).await?;
    // Frames are written whole; Nagle would only delay them.
    stream.set_nodelay(true)?;
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {CLIENT_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let head = read_head(&mut stream).await?;
    if !head.starts_with("HTTP/1.1 101") {
        return Err(invalid("handshake refused"));
    }
    if header(&head, "sec-websocket-accept") != Some(accept_key(CLIENT_KEY).as_str()) {
        return Err(invalid("bad Sec-WebSocket-Accept"));
    }
    Ok(stream)
}

/// Opens `count` connections to `addr`, at most 64 handshakes at a time so
/// the listener's backlog (128 by default) never overflows.
pub async fn connect_many(addr: SocketAddr, count: usize) -> io::Result<Vec<TcpStream>> {
    let mut streams = Vec::with_capacity(count);
    while streams.len() < count {
        let wave = (count - streams.len()).min(64);
        let mut handles = Vec::with_capacity(wave);
        for _ in 0..wave {
            handles.push(tokio::spawn(connect(addr)));
        }
        for handle in handles {
            streams.push(handle.await.map_err(io::Error::other)??);
        }
    }
    Ok(streams)
}

/// One echo measurement: message size, pipeline depth and timing.
#[derive(Clone, Copy, Debug)]
pub struct EchoLoad {
    /// Payload bytes per message (at least 8: the sequence number).
    pub size: usize,
    /// Messages in flight per connection.
    pub depth: usize,
    /// Time before measuring starts.
    pub warmup: Duration,
    /// Measured time.
    pub duration: Duration,
}

/// What one echo measurement saw.
#[derive(Clone, Debug, Default)]
pub struct EchoStats {
    /// Messages echoed within the measured time.
    pub messages: u64,
    /// Payload bytes echoed within the measured time.
    pub bytes: u64,
    /// Measured seconds.
    pub seconds: f64,
    /// Round-trip times of the measured messages, in nanoseconds, sorted.
    pub rtt_ns: Vec<u64>,
    /// Every message echoed, warm-up and the last ones in flight included.
    pub received: u64,
}

impl EchoStats {
    /// Echoed messages per second.
    pub fn messages_per_sec(&self) -> f64 {
        self.messages as f64 / self.seconds.max(1e-9)
    }

    /// Echoed payload bytes per second.
    pub fn bytes_per_sec(&self) -> f64 {
        self.bytes as f64 / self.seconds.max(1e-9)
    }

    /// The `q` quantile of the round-trip time.
    pub fn rtt(&self, q: f64) -> Duration {
        Duration::from_nanos(crate::harness::quantile(&self.rtt_ns, q))
    }
}

/// Per-connection state shared by its writer and reader.
struct Flow {
    sent_at: RefCell<VecDeque<Instant>>,
    writer_done: Cell<bool>,
    slot_free: Notify,
    finished: Notify,
}

/// The same pattern every connection sends: the sequence number goes in the
/// first eight bytes.
fn pattern(size: usize) -> Vec<u8> {
    binary_payload(size)
}

/// Drives `load` over every stream (each already past its handshake),
/// waits for every echo, and hands the streams back for the next
/// measurement. Must run inside a tokio runtime; uses a local task set.
pub async fn run_echo(
    streams: Vec<TcpStream>,
    load: EchoLoad,
) -> io::Result<(Vec<TcpStream>, EchoStats)> {
    assert!(
        load.size >= 8,
        "echo payloads carry an 8-byte sequence number"
    );
    let start = Instant::now();
    let measure_from = start + load.warmup;
    let stop_at = measure_from + load.duration;
    let stats = Rc::new(RefCell::new(EchoStats {
        seconds: load.duration.as_secs_f64(),
        ..EchoStats::default()
    }));
    let pattern: Rc<[u8]> = pattern(load.size).into();
    let local = tokio::task::LocalSet::new();
    let mut handles = Vec::with_capacity(streams.len());
    for (i, stream) in streams.into_iter().enumerate() {
        let stats = Rc::clone(&stats);
        let pattern = Rc::clone(&pattern);
        handles.push(local.spawn_local(async move {
            echo_connection(stream, i, load, pattern, stats, measure_from, stop_at).await
        }));
    }
    let streams = local
        .run_until(async move {
            let mut streams = Vec::with_capacity(handles.len());
            for handle in handles {
                streams.push(handle.await.map_err(io::Error::other)??);
            }
            Ok::<_, io::Error>(streams)
        })
        .await?;
    let mut stats = Rc::try_unwrap(stats)
        .map_err(|_| io::Error::other("echo tasks outlived the run"))?
        .into_inner();
    stats.rtt_ns.sort_unstable();
    Ok((streams, stats))
}

async fn echo_connection(
    mut stream: TcpStream,
    index: usize,
    load: EchoLoad,
    pattern: Rc<[u8]>,
    stats: Rc<RefCell<EchoStats>>,
    measure_from: Instant,
    stop_at: Instant,
) -> io::Result<TcpStream> {
    let flow = Flow {
        sent_at: RefCell::new(VecDeque::with_capacity(load.depth)),
        writer_done: Cell::new(false),
        slot_free: Notify::new(),
        finished: Notify::new(),
    };
    let (mut rd, mut wr) = stream.split();
    let key = crate::wire::frame_key(index);
    let writer = write_loop(&mut wr, &flow, load, &pattern, key, stop_at);
    let reader = read_loop(
        &mut rd,
        &flow,
        load,
        &pattern,
        &stats,
        measure_from,
        stop_at,
    );
    // Either side failing ends both: a reader that gave up would otherwise
    // leave the writer waiting for a free slot forever.
    tokio::try_join!(writer, reader)?;
    Ok(stream)
}

/// One masked binary frame carrying `pattern`, with the offset of its
/// payload.
fn frame_template(pattern: &[u8], key: [u8; 4]) -> (Vec<u8>, usize) {
    let mut frame = Vec::with_capacity(pattern.len() + 14);
    crate::wire::push_masked_frame(&mut frame, wscore::wire::OpCode::Binary, pattern, key);
    let offset = frame.len() - pattern.len();
    (frame, offset)
}

async fn write_loop<W: AsyncWrite + Unpin>(
    wr: &mut W,
    flow: &Flow,
    load: EchoLoad,
    pattern: &[u8],
    key: [u8; 4],
    stop_at: Instant,
) -> io::Result<()> {
    let (mut template, offset) = frame_template(pattern, key);
    // Small frames are gathered into one write; a large one goes alone
    // straight from the template.
    let gather = template.len() < (16 << 10);
    let mut batch = Vec::with_capacity(if gather { 64 << 10 } else { 0 });
    let mut seq: u64 = 0;
    loop {
        if Instant::now() >= stop_at {
            break;
        }
        while flow.sent_at.borrow().len() >= load.depth {
            flow.slot_free.notified().await;
        }
        batch.clear();
        loop {
            // The sequence number replaces the pattern's first eight bytes,
            // masked like the rest of the payload (offset 0 of the key).
            let bytes = seq.to_le_bytes();
            for (i, slot) in template
                .get_mut(offset..offset + 8)
                .unwrap_or_default()
                .iter_mut()
                .enumerate()
            {
                *slot = bytes.get(i).copied().unwrap_or(0) ^ key.get(i % 4).copied().unwrap_or(0);
            }
            flow.sent_at.borrow_mut().push_back(Instant::now());
            seq += 1;
            if !gather {
                wr.write_all(&template).await?;
                break;
            }
            batch.extend_from_slice(&template);
            if flow.sent_at.borrow().len() >= load.depth
                || batch.len() + template.len() > batch.capacity()
            {
                break;
            }
        }
        if gather {
            wr.write_all(&batch).await?;
        }
    }
    flow.writer_done.set(true);
    flow.finished.notify_one();
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn read_loop<R: AsyncRead + Unpin>(
    rd: &mut R,
    flow: &Flow,
    load: EchoLoad,
    pattern: &[u8],
    stats: &RefCell<EchoStats>,
    measure_from: Instant,
    stop_at: Instant,
) -> io::Result<()> {
    let mut buf = vec![0u8; (load.size + 14).max(64 << 10) * 2];
    let (mut start, mut end) = (0usize, 0usize);
    let mut expected_seq: u64 = 0;
    let mut measured = (0u64, 0u64);
    let mut rtts = Vec::new();
    loop {
        // Every complete frame in the buffer.
        while let Some((header_len, len)) =
            parse_server_header(buf.get(start..end).unwrap_or_default())?
        {
            if end - start < header_len + len {
                break;
            }
            let payload = buf
                .get(start + header_len..start + header_len + len)
                .unwrap_or_default();
            check_echo(payload, pattern, expected_seq)?;
            expected_seq += 1;
            start += header_len + len;
            let now = Instant::now();
            let sent = flow
                .sent_at
                .borrow_mut()
                .pop_front()
                .ok_or_else(|| invalid("echo of nothing"))?;
            flow.slot_free.notify_one();
            if now >= measure_from && now < stop_at {
                measured.0 += 1;
                measured.1 += len as u64;
                rtts.push(now.saturating_duration_since(sent).as_nanos() as u64);
            }
        }
        if flow.writer_done.get() && flow.sent_at.borrow().is_empty() {
            break;
        }
        if start == end {
            start = 0;
            end = 0;
        } else if buf.len() - end < load.size + 14 {
            buf.copy_within(start..end, 0);
            end -= start;
            start = 0;
        }
        tokio::select! {
            n = rd.read(buf.get_mut(end..).unwrap_or_default()) => {
                let n = n?;
                if n == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                end += n;
            }
            _ = flow.finished.notified() => {}
        }
    }
    let mut stats = stats.borrow_mut();
    stats.messages += measured.0;
    stats.bytes += measured.1;
    stats.received += expected_seq;
    stats.rtt_ns.append(&mut rtts);
    Ok(())
}

/// The header of an unmasked binary frame from a server: `(header length,
/// payload length)`, or `None` until it is complete.
fn parse_server_header(buf: &[u8]) -> io::Result<Option<(usize, usize)>> {
    let [b0, b1, rest @ ..] = buf else {
        return Ok(None);
    };
    if *b0 != 0x82 || b1 & 0x80 != 0 {
        return Err(invalid("expected an unmasked final binary frame"));
    }
    Ok(match b1 & 0x7f {
        126 => rest
            .first_chunk::<2>()
            .map(|l| (4, u16::from_be_bytes(*l) as usize)),
        127 => rest
            .first_chunk::<8>()
            .map(|l| (10, u64::from_be_bytes(*l) as usize)),
        short => Some((2, short as usize)),
    })
}

fn check_echo(payload: &[u8], pattern: &[u8], seq: u64) -> io::Result<()> {
    let ok = payload.len() == pattern.len()
        && payload.get(..8) == Some(&seq.to_le_bytes()[..])
        && payload.get(8..) == pattern.get(8..);
    if ok {
        Ok(())
    } else {
        Err(invalid("echo differs from what was sent"))
    }
}
