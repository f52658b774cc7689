//! An echo server on smol: smol's executor, `async-net` for TCP (as
//! `smol::net`), and wscore-async-std unchanged. Each connection says how it
//! ended.
//!
//! ```text
//! cargo run -p wscore-async-std --example smol_echo -- --addr 127.0.0.1:9001
//! ```
//!
//! async-std is discontinued upstream; moving a server from it to smol
//! changes only the executor and the imports (`async_std::net` becomes
//! `smol::net`, `async_std::task::spawn` becomes `smol::spawn`).

use futures::StreamExt;
use smol::net::{TcpListener, TcpStream};
use wscore_async_std::Closed;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut addr = String::from("127.0.0.1:9001");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => addr = args.next().ok_or("--addr needs a value")?,
            other => return Err(format!("unknown argument {other:?} (expected --addr)").into()),
        }
    }
    smol::block_on(async {
        let listener = TcpListener::bind(&addr).await?;
        println!("listening on ws://{}", listener.local_addr()?);
        loop {
            let (stream, peer) = listener.accept().await?;
            smol::spawn(async move {
                match echo(stream).await {
                    Ok(Some(closed)) => println!("{peer}: closed {closed:?}"),
                    Ok(None) => println!("{peer}: ended without a close handshake"),
                    Err(e) => println!("{peer}: {e}"),
                }
            })
            .detach();
        }
    })
}

/// One connection: echoes until the connection ends and returns how it
/// ended (`None` only if the transport failed before the close handshake).
pub(crate) async fn echo(stream: TcpStream) -> Result<Option<Closed>, wscore_async_std::Error> {
    // Frames are written whole; Nagle would only delay the echo.
    stream.set_nodelay(true)?;
    let mut ws = wscore_async_std::accept(stream).await?;
    while let Some(message) = ws.next().await {
        ws.send(message?).await?;
    }
    Ok(ws.closed().cloned())
}
