//! Interop with the Python `websockets` library in both roles: our server
//! (`wscore_tokio::accept_with`) against its client, and our client
//! (`wscore_tokio::client`) against its server, over loopback TCP, with and
//! without permessage-deflate.
//!
//! The Python side is `tests/python/peer.py`. It echoes data messages, obeys
//! text commands that start with `!` (close, ping, send fragments, count
//! fragments, list the pings received) and reports on standard output what
//! the connection cannot tell us: its port, the negotiated subprotocol and
//! extensions, and the close frame it received. It exits non-zero if
//! anything failed on its side, including a connection that ended without a
//! close handshake.
//!
//! `websockets` is installed on first use into a virtualenv under the target
//! directory (`python3 -m venv`, then pip, which needs network access) and
//! reused after that. If that fails, every test here fails with the output
//! of the failing step: a missing peer is an error, never a reason to skip.
//!
//! The last tests reach a Python server over `wss://` with both runtime
//! crates: the certificate is made here, handed to the peer as PEM files,
//! and trusted by our clients through a root store of their own.

use std::fmt::Display;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{Sink, SinkExt, Stream, StreamExt};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, BufReader, Lines, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, ChildStdout};
use tokio::task::JoinHandle;
use tokio::time::timeout;
use wscore::{Config as ProtocolConfig, DeflateConfig, Keepalive, Subprotocol};
use wscore_tokio::{
    Accept, ClientRequest, CloseCause, CloseCode, Closed, Config, Message, Reject, Request,
    Response, WebSocket,
};

#[path = "support/venv.rs"]
mod venv;

#[path = "support/tls.rs"]
#[allow(dead_code)] // each test file uses part of it
mod tls;

use tls::TestPki;
use venv::venv_python;

/// The longest any single step (a send, a receive, a line from the peer,
/// the peer's exit) may take before the test fails.
const STEP: Duration = Duration::from_secs(20);

// ---- the Python peer ----

/// A running `peer.py`, killed if dropped before it exits.
struct Peer {
    child: Child,
    stdout: Lines<BufReader<ChildStdout>>,
    stderr: Option<JoinHandle<String>>,
}

impl Peer {
    fn spawn(args: &[String]) -> Peer {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/peer.py");
        let mut child = tokio::process::Command::new(venv_python())
            .arg("-u")
            .env("PYTHONIOENCODING", "utf-8")
            .arg(&script)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", script.display()));
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let mut stderr = child.stderr.take().expect("piped stderr");
        // Drained all along, so a chatty peer never blocks on a full pipe.
        let stderr = tokio::spawn(async move {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text).await;
            text
        });
        Peer {
            child,
            stdout,
            stderr: Some(stderr),
        }
    }

    /// Fails the test, with what the peer wrote to its standard error.
    async fn fail<T>(&mut self, what: impl Display) -> T {
        let _ = self.child.start_kill();
        let stderr = match self.stderr.take() {
            Some(task) => timeout(STEP, task)
                .await
                .map(|text| text.unwrap_or_default())
                .unwrap_or_else(|_| "(standard error did not end)".into()),
            None => String::new(),
        };
        panic!("{what}\n--- the Python peer's standard error ---\n{stderr}");
    }

    /// The rest of the next line the peer prints, which must start with
    /// `word`.
    async fn expect(&mut self, word: &str) -> String {
        let line = match timeout(STEP, self.stdout.next_line()).await {
            Ok(Ok(Some(line))) => line,
            Ok(Ok(None)) => {
                return self
                    .fail(format!("expected `{word}`: the peer exited"))
                    .await
            }
            Ok(Err(e)) => return self.fail(format!("reading the peer's output: {e}")).await,
            Err(_) => return self.fail(format!("expected `{word}`: timed out")).await,
        };
        match line.strip_prefix(word) {
            Some(rest) if rest.is_empty() || rest.starts_with(' ') => rest.trim().to_owned(),
            _ => {
                self.fail(format!("expected `{word} …`, got {line:?}"))
                    .await
            }
        }
    }

    /// Waits for the peer to exit and checks that it succeeded.
    async fn finish(mut self) {
        match timeout(STEP, self.child.wait()).await {
            Ok(Ok(status)) if status.success() => {}
            Ok(Ok(status)) => self.fail(format!("the peer failed: {status}")).await,
            Ok(Err(e)) => self.fail(format!("waiting for the peer: {e}")).await,
            Err(_) => self.fail("the peer did not exit").await,
        }
    }
}

/// What the peer reported once the handshake was done.
#[derive(Debug)]
struct Opened {
    subprotocol: Option<String>,
    /// Its `Sec-WebSocket-Extensions` value, sent or received.
    extensions: Option<String>,
}

impl Opened {
    async fn read(peer: &mut Peer) -> Opened {
        let line = peer.expect("open").await;
        let (subprotocol, extensions) = line.split_once(' ').unwrap_or((&line, "-"));
        let some = |s: &str| (s != "-").then(|| s.to_owned());
        Opened {
            subprotocol: some(subprotocol),
            extensions: some(extensions),
        }
    }
}

// ---- our side ----

/// Bytes read and written by our side.
#[derive(Debug, Default)]
struct Traffic {
    read: AtomicUsize,
    written: AtomicUsize,
}

impl Traffic {
    fn totals(&self) -> (usize, usize) {
        (
            self.written.load(Ordering::Relaxed),
            self.read.load(Ordering::Relaxed),
        )
    }
}

/// A TCP stream that counts the bytes it carries, to tell compressed
/// traffic from uncompressed.
struct Counted {
    tcp: TcpStream,
    traffic: Arc<Traffic>,
}

impl AsyncRead for Counted {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.tcp).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        this.traffic.read.fetch_add(n, Ordering::Relaxed);
        result
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.tcp).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = result {
            this.traffic.written.fetch_add(n, Ordering::Relaxed);
        }
        result
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.tcp).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = result {
            this.traffic.written.fetch_add(n, Ordering::Relaxed);
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}

type Ws = WebSocket<Counted>;

/// One connection between our socket and a Python peer.
struct Session {
    ws: Ws,
    peer: Peer,
    opened: Opened,
    traffic: Arc<Traffic>,
    /// Client only: the server's handshake response.
    response: Option<Response>,
}

fn counted(tcp: TcpStream) -> (Counted, Arc<Traffic>) {
    tcp.set_nodelay(true).unwrap();
    let traffic = Arc::new(Traffic::default());
    let stream = Counted {
        tcp,
        traffic: traffic.clone(),
    };
    (stream, traffic)
}

fn args(role: &[&str], extra: &[&str]) -> Vec<String> {
    role.iter().chain(extra).map(|s| s.to_string()).collect()
}

/// Starts a Python server with `extra` arguments and connects our client
/// to it; `request` adds to the request.
async fn to_python_server(
    extra: &[&str],
    request: impl FnOnce(ClientRequest) -> ClientRequest,
    config: impl Into<Config>,
) -> Session {
    let mut peer = Peer::spawn(&args(&["server"], extra));
    let port = peer.expect("listening").await;
    let tcp = match TcpStream::connect(format!("127.0.0.1:{port}")).await {
        Ok(tcp) => tcp,
        Err(e) => return peer.fail(format!("connecting to port {port}: {e}")).await,
    };
    let (stream, traffic) = counted(tcp);
    let request = request(ClientRequest::new(format!("127.0.0.1:{port}"), "/interop"));
    let (ws, response) = match timeout(STEP, wscore_tokio::client(stream, request, config)).await {
        Ok(Ok(connected)) => connected,
        Ok(Err(e)) => {
            return peer
                .fail(format!("our client's handshake failed: {e}"))
                .await
        }
        Err(_) => return peer.fail("our client's handshake timed out").await,
    };
    let opened = Opened::read(&mut peer).await;
    Session {
        ws,
        peer,
        opened,
        traffic,
        response: Some(response),
    }
}

/// Starts a Python client with `extra` arguments against our server, which
/// lets `decide` answer the request.
async fn from_python_client(
    extra: &[&str],
    config: impl Into<Config>,
    decide: impl FnOnce(&Request) -> Result<Accept, Reject>,
) -> Session {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/interop", listener.local_addr().unwrap());
    let mut peer = Peer::spawn(&args(&["client", &url], extra));
    let tcp = match timeout(STEP, listener.accept()).await {
        Ok(Ok((tcp, _))) => tcp,
        Ok(Err(e)) => return peer.fail(format!("accepting the peer: {e}")).await,
        Err(_) => return peer.fail("the peer did not connect").await,
    };
    let (stream, traffic) = counted(tcp);
    let ws = match timeout(STEP, wscore_tokio::accept_with(stream, config, decide)).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => {
            return peer
                .fail(format!("our server's handshake failed: {e}"))
                .await
        }
        Err(_) => return peer.fail("our server's handshake timed out").await,
    };
    let opened = Opened::read(&mut peer).await;
    Session {
        ws,
        peer,
        opened,
        traffic,
        response: None,
    }
}

/// Which end of the connection is ours.
#[derive(Clone, Copy, Debug)]
enum Ours {
    Server,
    Client,
}

/// A session with our end in the `ours` role, default handshake answers.
async fn open(ours: Ours, extra: &[&str], config: impl Into<Config>) -> Session {
    match ours {
        Ours::Client => to_python_server(extra, |request| request, config).await,
        Ours::Server => from_python_client(extra, config, |_| Ok(Accept::new())).await,
    }
}

impl Session {
    async fn send(&mut self, message: impl Into<Message>) {
        match timeout(STEP, self.ws.send(message)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => self.peer.fail(format!("send failed: {e}")).await,
            Err(_) => self.peer.fail("send timed out").await,
        }
    }

    async fn recv(&mut self) -> Message {
        match timeout(STEP, self.ws.recv()).await {
            Ok(Some(Ok(message))) => message,
            Ok(Some(Err(e))) => self.peer.fail(format!("receive failed: {e}")).await,
            Ok(None) => self.peer.fail("the connection ended").await,
            Err(_) => self.peer.fail("receive timed out").await,
        }
    }

    /// Sends a command; the peer's answer, if any, is read separately.
    async fn command(&mut self, command: &str) {
        self.send(Message::text(format!("!{command}"))).await;
    }

    /// The next message, which must be text starting with `word`; returns
    /// the rest.
    async fn expect_text(&mut self, word: &str) -> String {
        let message = self.recv().await;
        match message.as_text().and_then(|text| text.strip_prefix(word)) {
            Some(rest) => rest.trim_start().to_owned(),
            None => {
                let what = format!("expected text `{word} …`, got {message:?}");
                self.peer.fail(what).await
            }
        }
    }

    /// Sends `message` and checks that the peer echoes it unchanged.
    async fn echo(&mut self, message: Message) {
        self.send(message.clone()).await;
        let echoed = self.recv().await;
        assert_same(&echoed, &message);
    }

    /// Closes with `code` and `reason`, then waits for the peer to exit
    /// cleanly; returns how the connection ended for us and the close frame
    /// the peer reported receiving.
    async fn close(mut self, code: CloseCode, reason: &str) -> (Closed, String) {
        match timeout(STEP, self.ws.close(code, reason)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => self.peer.fail(format!("close failed: {e}")).await,
            Err(_) => self.peer.fail("close timed out").await,
        }
        self.finish().await
    }

    /// After the connection has ended: how, and the close frame the peer
    /// says it received; checks that the peer exited cleanly.
    async fn finish(mut self) -> (Closed, String) {
        let closed = self.ws.closed().cloned().expect("the connection has ended");
        let seen = self.peer.expect("closed").await;
        self.peer.finish().await;
        (closed, seen)
    }

    /// Echoes `message`; returns the bytes our side wrote and read meanwhile.
    async fn traffic_of(&mut self, message: Message) -> (usize, usize) {
        let (written, read) = self.traffic.totals();
        self.echo(message).await;
        let (written_after, read_after) = self.traffic.totals();
        (written_after - written, read_after - read)
    }
}

/// Compares messages without printing megabytes when they differ.
fn assert_same(got: &Message, want: &Message) {
    assert_eq!(got.kind(), want.kind(), "message kind");
    assert_eq!(got.len(), want.len(), "message length");
    if let Some(at) = got
        .payload()
        .iter()
        .zip(want.payload().iter())
        .position(|(a, b)| a != b)
    {
        panic!("messages of {} bytes differ from byte {at}", want.len());
    }
}

// ---- test data ----

/// Bytes that do not compress (a splitmix64 stream).
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// About `len` bytes of JSON records, the kind of text compression is for.
fn records(len: usize) -> String {
    let mut out = String::from("[");
    let mut id = 0u64;
    while out.len() < len {
        out.push_str(&format!(
            "{{\"id\":{id},\"name\":\"user-{id}\",\"email\":\"user{id}@example.com\",\
             \"active\":{},\"roles\":[\"reader\",\"writer\"],\"score\":{}.5}},\n",
            id % 3 == 0,
            id % 100
        ));
        id += 1;
    }
    out.push(']');
    out
}

/// `len` bytes of one- to four-byte characters, so that cutting the text
/// into fragments splits characters.
fn mixed_text(len: usize) -> String {
    let mut text = "aé€🦀".repeat(len / 10);
    text.push_str(&"a".repeat(len % 10));
    text
}

/// What `!fragments KIND COUNT SIZE` makes the peer send.
fn peer_fragments(text: bool, count: usize, size: usize) -> Message {
    if text {
        let text: String = (0..count)
            .map(|i| char::from(b'a' + (i % 26) as u8).to_string().repeat(size))
            .collect();
        Message::text(text)
    } else {
        let bytes: Vec<u8> = (0..count)
            .flat_map(|i| vec![(i % 256) as u8; size])
            .collect();
        Message::binary(bytes)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn deflate(config: DeflateConfig) -> Config {
    ProtocolConfig::default().deflate(Some(config)).into()
}

// ---- scenarios, run with our end in each role ----

async fn text_and_binary(ours: Ours) {
    let mut s = open(ours, &[], Config::default()).await;
    for message in [
        Message::text("hello"),
        Message::text(""),
        Message::text("héllo wörld ✓ 🦀"),
        Message::binary(vec![0u8, 1, 2, 255]),
        Message::binary(Vec::new()),
        // Above 125 and 65535 bytes: the 16- and 64-bit length forms.
        Message::text("x".repeat(126)),
        Message::binary(noise(70_000, 1)),
    ] {
        s.echo(message).await;
    }
    let (closed, seen) = s.close(CloseCode::NORMAL, "").await;
    assert_eq!(closed.code, CloseCode::NORMAL);
    assert_eq!(seen, "1000");
}

async fn large_messages(ours: Ours) {
    let mut s = open(ours, &[], Config::default()).await;
    // The largest frame our default configuration accepts, in one frame
    // from the peer and in 128 KiB fragments from us.
    s.echo(Message::binary(noise(16 << 20, 2))).await;
    s.echo(Message::text(mixed_text(16 << 20))).await;
    s.close(CloseCode::NORMAL, "").await;
}

async fn we_fragment(ours: Ours) {
    let mut s = open(ours, &[], ProtocolConfig::default().fragment_size(1000)).await;
    let text = Message::text(mixed_text(10_500));
    s.command("count text").await;
    s.send(text.clone()).await;
    assert_eq!(s.expect_text("fragments").await, "11 10500");
    assert_same(&s.recv().await, &text);

    let binary = Message::binary(noise(4096, 3));
    s.command("count binary").await;
    s.send(binary.clone()).await;
    assert_eq!(s.expect_text("fragments").await, "5 4096");
    assert_same(&s.recv().await, &binary);

    // Below the fragment size: one frame.
    s.command("count text").await;
    s.send(Message::text("short")).await;
    assert_eq!(s.expect_text("fragments").await, "1 5");
    assert_eq!(s.recv().await, Message::text("short"));
    s.close(CloseCode::NORMAL, "").await;
}

async fn peer_fragments_message(ours: Ours) {
    // A whole message in one frame would break this limit: only the
    // fragments fit.
    let config = ProtocolConfig::default().max_frame_size(1024);
    let mut s = open(ours, &[], config).await;
    s.command("fragments text 8 1000").await;
    assert_same(&s.recv().await, &peer_fragments(true, 8, 1000));
    s.command("fragments binary 300 1000").await;
    assert_same(&s.recv().await, &peer_fragments(false, 300, 1000));
    s.command("fragments text 3 0").await;
    assert_eq!(s.recv().await, Message::text(""));
    s.close(CloseCode::NORMAL, "").await;
}

async fn ping_pong(ours: Ours) {
    let mut s = open(ours, &[], Config::default()).await;
    // The peer's ping, answered by our connection with the same payload.
    let payload = hex(b"ping from websockets");
    s.command(&format!("ping {payload}")).await;
    assert_eq!(s.expect_text("pong").await, payload);
    // An empty ping, and one of the largest size allowed.
    s.command("ping ").await;
    assert_eq!(s.expect_text("pong").await, "");
    let payload = hex(&[0xa5; 125]);
    s.command(&format!("ping {payload}")).await;
    assert_eq!(s.expect_text("pong").await, payload);

    // Our pings, as the peer received them.
    s.ws.ping(&b"ping from wscore"[..]).await.unwrap();
    s.ws.ping(Vec::new()).await.unwrap();
    s.command("pings").await;
    assert_eq!(
        s.expect_text("pings").await,
        format!("2 {},", hex(b"ping from wscore"))
    );
    s.close(CloseCode::NORMAL, "").await;
}

async fn keepalive(ours: Ours) {
    let config = ProtocolConfig::default().keepalive(Some(Keepalive {
        interval: Duration::from_millis(100),
        timeout: Duration::from_millis(750),
    }));
    let mut s = open(ours, &[], config).await;
    // The peer sends nothing but pongs for two seconds: our keepalive pings
    // must be answered and the answers recognised, or the connection ends
    // with a keepalive timeout.
    if let Ok(event) = timeout(Duration::from_secs(2), s.ws.recv()).await {
        s.peer
            .fail(format!("expected silence, got {event:?}"))
            .await
    }
    s.echo(Message::text("still here")).await;
    s.command("pings").await;
    let pings = s.expect_text("pings").await;
    let count: usize = pings.split(' ').next().unwrap().parse().unwrap();
    assert!(
        count >= 3,
        "the peer saw {count} keepalive pings: {pings:?}"
    );
    s.close(CloseCode::NORMAL, "").await;
}

async fn we_close(ours: Ours) {
    let mut s = open(ours, &[], Config::default()).await;
    s.echo(Message::text("before the close")).await;
    let (closed, seen) = s.close(CloseCode(4001), "closed by wscore ✓").await;
    assert_eq!(seen, "4001 closed by wscore ✓");
    assert_eq!(closed.cause, CloseCause::Local);
    assert_eq!(closed.code, CloseCode(4001));
}

async fn peer_closes(ours: Ours) {
    let mut s = open(ours, &[], Config::default()).await;
    s.echo(Message::text("before the close")).await;
    s.command("close 4002 closed by websockets ✓").await;
    match timeout(STEP, s.ws.recv()).await {
        Ok(None) => {}
        other => {
            s.peer
                .fail(format!("expected the end, got {other:?}"))
                .await
        }
    }
    let (closed, seen) = s.finish().await;
    assert_eq!(closed.cause, CloseCause::Remote);
    assert_eq!(closed.code, CloseCode(4002));
    assert_eq!(closed.reason, "closed by websockets ✓");
    // Our answer echoes the code.
    assert_eq!(seen.split(' ').next(), Some("4002"), "{seen:?}");
}

/// The peer sends a message the moment the connection is open, before
/// hearing from us.
async fn peer_speaks_first(ours: Ours) {
    let mut s = open(ours, &["--greet", "welcome ✓"], Config::default()).await;
    assert_eq!(s.recv().await, Message::text("welcome ✓"));
    s.echo(Message::text("thanks")).await;
    s.close(CloseCode::NORMAL, "").await;
}

/// Sends compressible and incompressible messages through a connection
/// that compresses in both directions, checking the echoes and the bytes on
/// the wire. `large` adds messages of several MiB.
async fn compressed_exchange(s: &mut Session, large: bool) {
    let mut texts = vec![1 << 10, 64 << 10];
    let mut binaries = vec![1 << 10, 256 << 10];
    if large {
        texts.push(4 << 20);
        binaries.push(2 << 20);
    }
    for len in texts {
        let text = Message::text(records(len));
        let (written, read) = s.traffic_of(text.clone()).await;
        // Both directions compressed: the peer's inflater took our output
        // and ours took its output. Small windows and no shared context
        // leave a short message less to work with.
        let limit = if len < 4096 { len / 2 } else { len / 4 };
        assert!(
            written < limit && read < limit,
            "{} bytes of JSON took {written} bytes out and {read} in",
            text.len()
        );
    }
    for len in binaries {
        let binary = Message::binary(noise(len, len as u64));
        let (written, read) = s.traffic_of(binary.clone()).await;
        assert!(written >= len && read >= len, "{len} random bytes shrank");
    }
    // Below the compression threshold, and empty messages.
    s.echo(Message::text("{}")).await;
    s.echo(Message::binary(Vec::new())).await;
    s.echo(Message::text("")).await;
    // The same message again and again: with context takeover each copy
    // refers back to the previous ones.
    let repeated = Message::text(records(2 << 10));
    for _ in 0..4 {
        s.echo(repeated.clone()).await;
    }
    // Fragmented by the peer, compressed as a whole.
    s.command("fragments text 16 4096").await;
    assert_same(&s.recv().await, &peer_fragments(true, 16, 4096));
}

// ---- the tests ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_server_text_and_binary() {
    text_and_binary(Ours::Server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_text_and_binary() {
    text_and_binary(Ours::Client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_server_large_messages() {
    large_messages(Ours::Server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_large_messages() {
    large_messages(Ours::Client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_server_fragments() {
    we_fragment(Ours::Server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_fragments() {
    we_fragment(Ours::Client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_server_reassembles_fragments() {
    peer_fragments_message(Ours::Server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_reassembles_fragments() {
    peer_fragments_message(Ours::Client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_server_ping_pong() {
    ping_pong(Ours::Server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_ping_pong() {
    ping_pong(Ours::Client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_server_keepalive() {
    keepalive(Ours::Server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_keepalive() {
    keepalive(Ours::Client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_server_closes() {
    we_close(Ours::Server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_closes() {
    we_close(Ours::Client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_server_closes() {
    peer_closes(Ours::Client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_closes() {
    peer_closes(Ours::Server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_server_speaks_first() {
    peer_speaks_first(Ours::Client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_speaks_first() {
    peer_speaks_first(Ours::Server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_server_picks_a_subprotocol() {
    let offered = Arc::new(Mutex::new(Vec::new()));
    let seen = offered.clone();
    let mut s = from_python_client(
        &["--subprotocols", "chat.v1,chat.v2,chat.v3"],
        Config::default(),
        move |request| {
            *seen.lock().unwrap() = request.subprotocols().to_vec();
            Ok(Accept::new().subprotocol("chat.v2"))
        },
    )
    .await;
    assert_eq!(*offered.lock().unwrap(), ["chat.v1", "chat.v2", "chat.v3"]);
    assert_eq!(s.ws.subprotocol(), Some("chat.v2"));
    assert_eq!(s.opened.subprotocol.as_deref(), Some("chat.v2"));
    s.echo(Message::text("in chat.v2")).await;
    s.close(CloseCode::NORMAL, "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_server_picks_from_its_configured_subprotocols() {
    // The application does not choose: the first of our list that the
    // client offered wins, whatever the client's order.
    let config = ProtocolConfig::default().subprotocols(vec![
        Subprotocol::plain("chat.v3"),
        Subprotocol::plain("chat.v2"),
        Subprotocol::plain("chat.v1"),
    ]);
    let mut s = from_python_client(&["--subprotocols", "chat.v1,chat.v2"], config, |_| {
        Ok(Accept::new())
    })
    .await;
    assert_eq!(s.ws.subprotocol(), Some("chat.v2"));
    assert_eq!(s.opened.subprotocol.as_deref(), Some("chat.v2"));
    s.echo(Message::text("in chat.v2")).await;
    s.close(CloseCode::NORMAL, "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_offers_subprotocols() {
    let mut s = to_python_server(
        &["--subprotocols", "chat.v2,chat.v1"],
        |request| {
            request
                .subprotocol("chat.v3")
                .subprotocol("chat.v1")
                .subprotocol("chat.v2")
        },
        Config::default(),
    )
    .await;
    // The server's preference decides.
    let response = s.response.as_ref().unwrap();
    assert_eq!(response.subprotocol(), Some("chat.v2"));
    assert_eq!(s.ws.subprotocol(), Some("chat.v2"));
    assert_eq!(s.opened.subprotocol.as_deref(), Some("chat.v2"));
    s.echo(Message::text("in chat.v2")).await;
    s.close(CloseCode::NORMAL, "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_offers_its_configured_subprotocols() {
    let config = ProtocolConfig::default().subprotocols(vec![
        Subprotocol::plain("chat.v3"),
        Subprotocol::plain("chat.v1"),
    ]);
    let mut s = to_python_server(&["--subprotocols", "chat.v1"], |r| r, config).await;
    assert_eq!(s.ws.subprotocol(), Some("chat.v1"));
    assert_eq!(s.opened.subprotocol.as_deref(), Some("chat.v1"));
    s.echo(Message::text("in chat.v1")).await;
    s.close(CloseCode::NORMAL, "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_compresses_with_a_python_server() {
    // websockets' server answers with 12-bit windows for both sides.
    let mut s = to_python_server(&[], |r| r, deflate(DeflateConfig::default())).await;
    let response = s.response.as_ref().unwrap();
    let header = response
        .header("sec-websocket-extensions")
        .map(|v| String::from_utf8_lossy(v).into_owned());
    assert_eq!(header, s.opened.extensions);
    let params = *s.ws.connection().deflate().expect("deflate negotiated");
    assert_eq!(params.server_max_window_bits, Some(12));
    assert_eq!(params.client_max_window_bits, Some(12));
    compressed_exchange(&mut s, true).await;
    s.close(CloseCode::NORMAL, "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_server_compresses_with_a_python_client() {
    let mut s = from_python_client(
        &[],
        deflate(DeflateConfig::default()),
        |_| Ok(Accept::new()),
    )
    .await;
    assert!(s.ws.connection().deflate().is_some(), "deflate negotiated");
    let extensions = s.opened.extensions.clone().unwrap_or_default();
    assert!(
        extensions.starts_with("permessage-deflate"),
        "the peer saw {extensions:?}"
    );
    compressed_exchange(&mut s, true).await;
    s.close(CloseCode::NORMAL, "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_without_context_takeover_and_small_windows() {
    let config = DeflateConfig::default()
        .server_no_context_takeover(true)
        .client_no_context_takeover(true)
        .server_max_window_bits(10)
        .client_max_window_bits(9);
    let mut s = to_python_server(&[], |r| r, deflate(config)).await;
    let params = *s.ws.connection().deflate().expect("deflate negotiated");
    assert!(params.server_no_context_takeover && params.client_no_context_takeover);
    assert_eq!(params.server_max_window_bits, Some(10));
    assert_eq!(params.client_max_window_bits, Some(9));
    compressed_exchange(&mut s, false).await;
    s.close(CloseCode::NORMAL, "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_server_without_context_takeover_and_small_windows() {
    let spec = "server_no_context_takeover,client_no_context_takeover,\
                server_max_window_bits=10,client_max_window_bits=9";
    let mut s = from_python_client(
        &["--deflate", spec],
        deflate(DeflateConfig::default()),
        |_| Ok(Accept::new()),
    )
    .await;
    let params = *s.ws.connection().deflate().expect("deflate negotiated");
    assert!(params.server_no_context_takeover && params.client_no_context_takeover);
    assert_eq!(params.server_max_window_bits, Some(10));
    assert_eq!(params.client_max_window_bits, Some(9));
    assert_eq!(s.opened.extensions, Some(params.to_header_value()));
    compressed_exchange(&mut s, false).await;
    s.close(CloseCode::NORMAL, "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_server_imposes_no_context_takeover_and_small_windows() {
    // websockets' client offers only `client_max_window_bits`; our server
    // adds the rest of its own settings to the answer.
    let config = DeflateConfig::default()
        .server_no_context_takeover(true)
        .client_no_context_takeover(true)
        .server_max_window_bits(9)
        .client_max_window_bits(10);
    let mut s = from_python_client(&[], deflate(config), |_| Ok(Accept::new())).await;
    let params = *s.ws.connection().deflate().expect("deflate negotiated");
    assert!(params.server_no_context_takeover && params.client_no_context_takeover);
    assert_eq!(params.server_max_window_bits, Some(9));
    assert_eq!(params.client_max_window_bits, Some(10));
    assert_eq!(s.opened.extensions, Some(params.to_header_value()));
    compressed_exchange(&mut s, false).await;
    s.close(CloseCode::NORMAL, "").await;
}

/// An offer the peer does not take: the connection runs uncompressed.
async fn compression_declined(ours: Ours) {
    let mut s = open(
        ours,
        &["--deflate", "off"],
        deflate(DeflateConfig::default()),
    )
    .await;
    assert!(s.ws.connection().deflate().is_none());
    assert_eq!(s.opened.extensions, None);
    let text = Message::text(records(64 << 10));
    let (written, read) = s.traffic_of(text.clone()).await;
    assert!(written >= text.len() && read >= text.len());
    s.close(CloseCode::NORMAL, "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_without_compression_when_the_server_declines() {
    compression_declined(Ours::Client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_server_without_compression_when_the_client_offers_none() {
    compression_declined(Ours::Server).await;
}

// ---- wss:// against a Python server, with both runtime crates ----

/// Starts a Python server serving `wss://` with a certificate made now;
/// returns it, the request for it and a client configuration that trusts
/// the certificate's authority (and nothing else).
async fn python_tls_server(name: &str) -> (Peer, ClientRequest, Arc<rustls::ClientConfig>) {
    let pki = TestPki::new();
    let (cert, key) = pki.write_pem(name);
    let mut peer = Peer::spawn(&args(
        &["server"],
        &["--tls", &cert.to_string_lossy(), &key.to_string_lossy()],
    ));
    let port = peer.expect("listening").await;
    let request = ClientRequest::from_url(&format!("wss://127.0.0.1:{port}/interop"));
    match request {
        Ok(request) => (peer, request, pki.client_config()),
        Err(e) => peer.fail(format!("the URL for port {port}: {e}")).await,
    }
}

/// Messages echoed by the peer over TLS: a small one, and one of many TLS
/// records.
async fn tls_echo<W>(peer: &mut Peer, ws: &mut W)
where
    W: Stream<Item = Result<Message, wscore_tokio::Error>>
        + Sink<Message, Error = wscore_tokio::Error>
        + Unpin,
{
    for message in [
        Message::text("hello over TLS"),
        Message::binary(noise(300_000, 7)),
    ] {
        match timeout(STEP, ws.send(message.clone())).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => peer.fail(format!("sending: {e}")).await,
            Err(_) => peer.fail("sending timed out").await,
        }
        match timeout(STEP, ws.next()).await {
            Ok(Some(Ok(got))) => assert_same(&got, &message),
            Ok(Some(Err(e))) => peer.fail(format!("receiving the echo: {e}")).await,
            Ok(None) => peer.fail("the connection ended before the echo").await,
            Err(_) => peer.fail("the echo timed out").await,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_tokio_client_over_tls_to_a_python_server() {
    let (mut peer, request, tls) = python_tls_server("tokio").await;
    let connecting = wscore_tokio::connect_with_tls(request, Config::default(), tls);
    let mut ws = match timeout(STEP, connecting).await {
        Ok(Ok((ws, _))) => ws,
        Ok(Err(e)) => return peer.fail(format!("wss:// handshake failed: {e}")).await,
        Err(_) => return peer.fail("wss:// handshake timed out").await,
    };
    Opened::read(&mut peer).await;
    tls_echo(&mut peer, &mut ws).await;
    match timeout(STEP, ws.close(CloseCode::NORMAL, "bye")).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => peer.fail(format!("close failed: {e}")).await,
        Err(_) => peer.fail("close timed out").await,
    }
    assert_eq!(ws.closed().map(|c| &c.cause), Some(&CloseCause::Local));
    assert_eq!(peer.expect("closed").await, "1000 bye");
    peer.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_async_std_client_over_tls_to_a_python_server() {
    // `async-io` runs its own reactor, so the futures-io client works
    // inside this tokio test as it would under smol.
    let (mut peer, request, tls) = python_tls_server("async-std").await;
    let connecting = wscore_async_std::connect_with_tls(request, Config::default(), tls);
    let mut ws = match timeout(STEP, connecting).await {
        Ok(Ok((ws, _))) => ws,
        Ok(Err(e)) => return peer.fail(format!("wss:// handshake failed: {e}")).await,
        Err(_) => return peer.fail("wss:// handshake timed out").await,
    };
    Opened::read(&mut peer).await;
    tls_echo(&mut peer, &mut ws).await;
    match timeout(STEP, ws.close(CloseCode::NORMAL, "bye")).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => peer.fail(format!("close failed: {e}")).await,
        Err(_) => peer.fail("close timed out").await,
    }
    assert_eq!(ws.closed().map(|c| &c.cause), Some(&CloseCause::Local));
    assert_eq!(peer.expect("closed").await, "1000 bye");
    peer.finish().await;
}
