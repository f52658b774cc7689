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
}

impl Server {
    /// Every server, ours first.
    pub(crate) const ALL: [Server; 4] = [
        Server::WscoreTokio,
        Server::WscoreAsyncStd,
        Server::TokioTungstenite,
        Server::FastWebSockets,
    ];

    /// The name printed in tables.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Server::WscoreTokio => "wscore-tokio",
            Server::WscoreAsyncStd => "wscore-async-std",
            Server::TokioTungstenite => "tokio-tungstenite",
            Server::FastWebSockets => "fastwebsockets",
        }
    }

    /// Parses [`Server::name`].
    #[allow(dead_code)]
    pub(crate) fn from_name(name: &str) -> Option<Server> {
        Server::ALL.into_iter().find(|s| s.name() == name)
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
