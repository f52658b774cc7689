//! Echoes every logical message back to its sender, over the batching and
//! streaming envelopes: a client that offers `wscore.stream.v1` (streamed),
//! `wscore.batch.v1` (batched) or `wscore.plain.v1` (plain) gets the first
//! of those it offered. Large binary messages go back as streams.
//!
//! ```text
//! cargo run --release -p wscore-tokio --example envelope_echo -- --addr 127.0.0.1:9002
//! ```

use futures::StreamExt;
use tokio::net::{TcpListener, TcpStream};
use wscore::Subprotocol;
use wscore_tokio::{Accept, Config};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut addr = String::from("127.0.0.1:9002");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => addr = args.next().ok_or("--addr needs a value")?,
            other => {
                return Err(
                    format!("unknown argument {other:?} (expected --addr HOST:PORT)").into(),
                )
            }
        }
    }
    let listener = TcpListener::bind(&addr).await?;
    println!("listening on ws://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(echo(stream));
    }
}

async fn echo(stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let protocol = wscore::Config::default()
        .max_message_size(256 << 20)
        .subprotocols(vec![
            Subprotocol::streamed("wscore.stream.v1"),
            Subprotocol::batched("wscore.batch.v1"),
            Subprotocol::plain("wscore.plain.v1"),
        ]);
    let config = Config::from(protocol);
    let accept = |_: &_| Ok(Accept::new());
    let Ok(ws) = wscore_tokio::accept_with(stream, config, accept).await else {
        return;
    };
    // `forward` flushes only when no message is ready, so echoes of a burst
    // travel together in one batch.
    let (read, write) = ws.split();
    let _ = read.forward(write).await;
}
