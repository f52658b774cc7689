//! Echoes every text and binary message back to its sender.
//!
//! ```text
//! cargo run --release -p wscore-async-std --example async_std_echo_server -- --addr 127.0.0.1:9001 [--deflate]
//! ```
//!
//! `--deflate` accepts permessage-deflate (RFC 7692) offers and compresses
//! every message: the Autobahn runner in `scripts/autobahn.sh` mishandles
//! the uncompressed messages RFC 7692 allows on a compressed connection.

use async_std::net::{TcpListener, TcpStream};
use futures::{SinkExt, StreamExt};
use wscore_async_std::wscore::DeflateConfig;
use wscore_async_std::{Accept, Config};

#[async_std::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut addr = String::from("127.0.0.1:9001");
    let mut config = Config::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => addr = args.next().ok_or("--addr needs a value")?,
            "--deflate" => {
                let deflate = DeflateConfig::default().always_compress(true);
                config.protocol = config.protocol.deflate(Some(deflate))
            }
            other => {
                return Err(format!(
                    "unknown argument {other:?} (expected --addr HOST:PORT, --deflate)"
                )
                .into())
            }
        }
    }
    let listener = TcpListener::bind(&addr).await?;
    println!("listening on ws://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        async_std::task::spawn(echo(stream, config.clone()));
    }
}

/// One connection: echo until the peer closes or fails.
async fn echo(stream: TcpStream, config: Config) {
    // Frames are written whole; Nagle would only delay the echo.
    let _ = stream.set_nodelay(true);
    let accept = |_: &_| Ok(Accept::new().header("Server", "wscore-async-std"));
    let Ok(mut ws) = wscore_async_std::accept_with(stream, config, accept).await else {
        return;
    };
    // The stream ends after the close handshake, with the transport shut
    // down; an error item is the last one too. Answers are queued while
    // more messages are ready and written with one flush: a pipelining
    // peer costs one write per read rather than one per message.
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
