//! Connects, sends a message, prints the reply, and closes.
//!
//! ```text
//! cargo run -p wscore-async-std --example async_std_echo_server &
//! cargo run -p wscore-async-std --example async_std_client -- ws://127.0.0.1:9001
//! ```

use futures::StreamExt;
use wscore_async_std::{CloseCode, Message};

#[async_std::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:9001".into());
    let (mut ws, response) = wscore_async_std::connect(&url).await?;
    println!("connected: HTTP {}", response.status());

    ws.send(Message::text("hello from wscore-async-std"))
        .await?;
    match ws.next().await {
        Some(Ok(reply)) => println!("received: {reply:?}"),
        Some(Err(e)) => return Err(e.into()),
        None => return Err("the server closed the connection".into()),
    }

    ws.close(CloseCode::NORMAL, "done").await?;
    println!("closed: {:?}", ws.closed());
    Ok(())
}
