//! The echo servers under test, each written the way its documentation
//! shows: read a message, send it back, and stop at the first error or the
//! end of the stream. Every server sets `TCP_NODELAY` on its connections.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::{SinkExt, StreamExt};

/// Connections whose opening handshake completed, over all servers.
pub(crate) static OPENED: AtomicUsize = AtomicUsize::new(0);

/// A server implementation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Server {
    /// `wscore_tokio::accept`.
    WscoreTokio,
    /// `wscore_async_std::accept`, on async-std's executor.
    WscoreAsyncStd,
    /// `tokio_tungstenite::accept_async`.
    TokioTungstenite,
    /// `fastwebsockets::WebSocket::after_handshake` (the handshake is the
    /// bench's own, as fastwebsockets leaves it to hyper or the caller).
    FastWebSockets,
    /// `wscore_tokio::accept`, answering every message ready together with
    /// one write (`recv_ready`, `feed`, one `flush`).
    WscoreTokioBatched,
    /// No WebSocket library: frames are unmasked and sent back with one
    /// write per read, nothing validated. What the kernel and one copy
    /// cost, the floor for pipelined echo.
    RawEcho,
}

impl Server {
    /// Every server, ours first.
    #[allow(dead_code)]
    pub(crate) const ALL: [Server; 4] = [
        Server::WscoreTokio,
        Server::WscoreAsyncStd,
        Server::TokioTungstenite,
        Server::FastWebSockets,
    ];

    /// The servers of the echo rows: every server, then ours writing once
    /// per batch of messages read, then the raw floor.
    #[allow(dead_code)]
    pub(crate) const ECHO: [Server; 6] = [
        Server::WscoreTokio,
        Server::WscoreAsyncStd,
        Server::TokioTungstenite,
        Server::FastWebSockets,
        Server::WscoreTokioBatched,
        Server::RawEcho,
    ];

    /// The name printed in tables.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Server::WscoreTokio => "wscore-tokio",
            Server::WscoreAsyncStd => "wscore-async-std",
            Server::TokioTungstenite => "tokio-tungstenite",
            Server::FastWebSockets => "fastwebsockets",
            Server::WscoreTokioBatched => "wscore-tokio, write per read batch",
            Server::RawEcho => "raw echo (no library)",
        }
    }

    /// Parses [`Server::name`].
    #[allow(dead_code)]
    pub(crate) fn from_name(name: &str) -> Option<Server> {
        Server::ECHO.into_iter().find(|s| s.name() == name)
    }

    /// Starts the server on an ephemeral loopback port. Tokio servers run
    /// on `runtime`; the async-std one on async-std's own executor (set
    /// `ASYNC_STD_THREAD_COUNT` before the first use to size it).
    pub(crate) fn start(self, runtime: &tokio::runtime::Handle) -> SocketAddr {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("local address");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        match self {
            Server::WscoreAsyncStd => {
                let listener = async_std::net::TcpListener::from(listener);
                async_std::task::spawn(async move {
                    loop {
                        let Ok((stream, _)) = listener.accept().await else {
                            continue;
                        };
                        async_std::task::spawn(echo_async_std(stream));
                    }
                });
            }
            tokio_server => {
                runtime.spawn(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                    loop {
                        let Ok((stream, _)) = listener.accept().await else {
                            continue;
                        };
                        let _ = stream.set_nodelay(true);
                        match tokio_server {
                            Server::WscoreTokio => tokio::spawn(echo_wscore_tokio(stream)),
                            Server::TokioTungstenite => tokio::spawn(echo_tungstenite(stream)),
                            Server::WscoreTokioBatched => {
                                tokio::spawn(echo_wscore_tokio_batched(stream))
                            }
                            Server::RawEcho => tokio::spawn(echo_raw(stream)),
                            _ => tokio::spawn(echo_fastwebsockets(stream)),
                        };
                    }
                });
            }
        }
        addr
    }
}

async fn echo_wscore_tokio(stream: tokio::net::TcpStream) {
    let Ok(mut ws) = wscore_tokio::accept(stream).await else {
        return;
    };
    OPENED.fetch_add(1, Ordering::Relaxed);
    while let Some(Ok(message)) = ws.next().await {
        if ws.send(message).await.is_err() {
            break;
        }
    }
}

async fn echo_wscore_tokio_batched(stream: tokio::net::TcpStream) {
    let Ok(mut ws) = wscore_tokio::accept(stream).await else {
        return;
    };
    OPENED.fetch_add(1, Ordering::Relaxed);
    while let Some(Ok(message)) = ws.next().await {
        if ws.feed(message).await.is_err() {
            break;
        }
        while let Some(Ok(message)) = ws.recv_ready() {
            if ws.feed(message).await.is_err() {
                return;
            }
        }
        if ws.flush().await.is_err() {
            break;
        }
    }
}

/// The floor: unmasks each complete frame of a read into one output
/// buffer behind an unmasked header and writes it once, validating
/// nothing; a close frame ends it.
async fn echo_raw(mut stream: tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    if wscore_bench::raw::server_handshake(&mut stream)
        .await
        .is_err()
    {
        return;
    }
    OPENED.fetch_add(1, Ordering::Relaxed);
    let mut input = vec![0u8; 256 << 10];
    let mut out = Vec::with_capacity(256 << 10);
    let (mut start, mut end) = (0usize, 0usize);
    loop {
        match stream.read(&mut input[end..]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => end += n,
        }
        out.clear();
        while let Some((opcode, header, len)) = raw_header(&input[start..end]) {
            if end - start < header + len {
                break;
            }
            if opcode == 0x8 {
                return;
            }
            let key: [u8; 4] = input[start + header - 4..start + header]
                .try_into()
                .unwrap_or_default();
            out.push(input[start]);
            match len {
                0..=125 => out.push(len as u8),
                126..=0xffff => {
                    out.push(126);
                    out.extend_from_slice(&(len as u16).to_be_bytes());
                }
                _ => {
                    out.push(127);
                    out.extend_from_slice(&(len as u64).to_be_bytes());
                }
            }
            let payload = &input[start + header..start + header + len];
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
            start += header + len;
        }
        if !out.is_empty() && stream.write_all(&out).await.is_err() {
            return;
        }
        // Keep a partial frame at the front, with room behind it.
        input.copy_within(start..end, 0);
        end -= start;
        start = 0;
        if end == input.len() {
            input.resize(input.len() * 2, 0);
        }
    }
}

/// The opcode, header length (mask included) and payload length of the
/// masked frame at the front of `buf`, once its header is complete.
fn raw_header(buf: &[u8]) -> Option<(u8, usize, usize)> {
    let [b0, b1, rest @ ..] = buf else {
        return None;
    };
    let opcode = b0 & 0x0f;
    let (extra, len) = match b1 & 0x7f {
        126 => (
            2,
            u16::from_be_bytes(rest.first_chunk::<2>().copied()?) as usize,
        ),
        127 => (
            8,
            u64::from_be_bytes(rest.first_chunk::<8>().copied()?) as usize,
        ),
        short => (0, short as usize),
    };
    (rest.len() >= extra + 4).then_some((opcode, 2 + extra + 4, len))
}

async fn echo_async_std(stream: async_std::net::TcpStream) {
    let _ = stream.set_nodelay(true);
    let Ok(mut ws) = wscore_async_std::accept(stream).await else {
        return;
    };
    OPENED.fetch_add(1, Ordering::Relaxed);
    while let Some(Ok(message)) = ws.next().await {
        if ws.send(message).await.is_err() {
            break;
        }
    }
}

async fn echo_tungstenite(stream: tokio::net::TcpStream) {
    let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    OPENED.fetch_add(1, Ordering::Relaxed);
    while let Some(Ok(message)) = ws.next().await {
        if (message.is_binary() || message.is_text()) && ws.send(message).await.is_err() {
            break;
        }
    }
}

async fn echo_fastwebsockets(mut stream: tokio::net::TcpStream) {
    use fastwebsockets::{Frame, OpCode, Role, WebSocket};
    if wscore_bench::raw::server_handshake(&mut stream)
        .await
        .is_err()
    {
        return;
    }
    OPENED.fetch_add(1, Ordering::Relaxed);
    let mut ws = WebSocket::after_handshake(stream, Role::Server);
    while let Ok(frame) = ws.read_frame().await {
        let echoed = match frame.opcode {
            OpCode::Close => break,
            // A frame read by a server keeps the client's masking key after
            // it is unmasked, and writing it as is would set the mask bit
            // on an unmasked payload: the echo is rebuilt without it.
            OpCode::Text | OpCode::Binary => {
                let echo = Frame::new(frame.fin, frame.opcode, None, frame.payload);
                ws.write_frame(echo).await
            }
            // Pings are answered by fastwebsockets itself.
            _ => Ok(()),
        };
        if echoed.is_err() {
            break;
        }
    }
}
