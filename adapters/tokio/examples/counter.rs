//! A counter per client that survives a crash of the server.
//!
//! ```text
//! cargo run -p wscore-tokio --example counter -- --addr 127.0.0.1:9000 --state-dir /tmp/counter-state
//! cargo run -p wscore-tokio --example counter -- --client --addr 127.0.0.1:9000 --inc 3
//! ```
//!
//! Each client's counter is its member's attachment, kept on disk by the
//! hub's store. The protocol, in text frames:
//!
//! - on connect the server sends `key <attachment-key>`;
//! - a client that comes back sends `resume <its previous key>` first:
//!   the server adopts what that key left on disk and answers
//!   `resumed <counter>` (0 if nothing was left);
//! - every `inc` adds one, saves the counter durably, and only then
//!   answers `count <n>`.
//!
//! A clean close deletes the client's file; a crash (`kill -9`), or a
//! client that vanishes, leaves it for the next `resume`.
//! `scripts/restart.sh` runs exactly that.
//!
//! An example trusts the key a client claims. A real server checks that
//! the client owns it: a signed token bound to the key, or a login.
//!
//! `--client` is the other side: it connects, sends `resume <key>` if
//! given `--resume`, then `inc` `--inc` times, and prints every frame it
//! receives. With `--hold` it then stays connected until the server goes.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use wscore_tokio::store::{AttachmentKey, FsStore};
use wscore_tokio::{CloseCode, Config, Event, Hub, HubConfig, Member, MemberId, Message};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse()?;
    if args.client {
        return client(&args).await;
    }
    // The store is opened before the first connection: it claims a new
    // epoch, so keys never repeat those of the run that crashed.
    let store = FsStore::open(&args.state_dir)?;
    let hub: Hub = Hub::with_store(HubConfig::default(), Arc::new(store));
    let left = wscore_tokio::stored_keys(&hub).await?;
    let listener = TcpListener::bind(&args.addr).await?;
    // Read by scripts/restart.sh to know the server is up.
    println!(
        "listening on {} ({} counters left by earlier runs)",
        listener.local_addr()?,
        left.len()
    );
    loop {
        let (tcp, _) = listener.accept().await?;
        tokio::spawn(serve(hub.clone(), tcp));
    }
}

async fn serve(hub: Hub, tcp: TcpStream) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut member: Member<TcpStream> =
        wscore_tokio::accept_member(&hub, tcp, Config::default()).await?;
    let Some(key) = hub.attachment_key(member.id()) else {
        return Err("a hub with a store gives every member a key".into());
    };
    member.send(Message::text(format!("key {key}"))).await?;
    while let Some(Ok(event)) = member.next_event().await {
        let Event::Message(message) = event else {
            continue;
        };
        let request = message.as_text().unwrap_or("");
        let reply = answer(&hub, member.id(), request).await;
        member.send(Message::text(reply)).await?;
    }
    // The member has left the hub: a clean close deletes its file, any
    // other end keeps it.
    wscore_tokio::end_attachment(&hub, key, member.socket().closed()).await?;
    Ok(())
}

async fn answer(hub: &Hub, id: MemberId, request: &str) -> String {
    match request.split_once(' ') {
        _ if request == "inc" => {
            let n = counter(hub.attachment(id).as_deref()) + 1;
            // Answered only once the new value is on disk.
            match wscore_tokio::save_attachment(hub, id, n.to_string()).await {
                Ok(()) => format!("count {n}"),
                Err(e) => format!("error {e}"),
            }
        }
        Some(("resume", prior)) => {
            let Ok(prior) = prior.parse::<AttachmentKey>() else {
                return "error not a key".into();
            };
            match wscore_tokio::adopt_attachment(hub, id, prior).await {
                Ok(value) => format!("resumed {}", counter(value.as_deref())),
                Err(e) => format!("error {e}"),
            }
        }
        _ => "error unknown request".into(),
    }
}

/// The counter an attachment holds (none yet is 0).
fn counter(attachment: Option<&[u8]>) -> u64 {
    attachment
        .and_then(|bytes| std::str::from_utf8(bytes).ok())
        .and_then(|text| text.parse().ok())
        .unwrap_or(0)
}

async fn client(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let (mut ws, _) = wscore_tokio::connect(&format!("ws://{}/", args.addr)).await?;
    let print_next = async |ws: &mut wscore_tokio::WebSocket<_>| match ws.recv().await {
        Some(Ok(message)) => {
            println!("{}", message.as_text().unwrap_or("(binary)"));
            Ok(())
        }
        _ => Err("the server went away"),
    };
    print_next(&mut ws).await?; // key <k>
    if let Some(prior) = &args.resume {
        ws.send(Message::text(format!("resume {prior}"))).await?;
        print_next(&mut ws).await?;
    }
    for _ in 0..args.inc {
        ws.send(Message::text("inc")).await?;
        print_next(&mut ws).await?;
    }
    if args.hold {
        while ws.recv().await.is_some() {}
        let code = ws.closed().map_or(0, |closed| closed.code.0);
        println!("server gone: {code}");
        return Ok(());
    }
    ws.close(CloseCode::NORMAL, "done").await?;
    Ok(())
}

/// The command line.
struct Args {
    addr: String,
    state_dir: PathBuf,
    client: bool,
    resume: Option<String>,
    inc: u32,
    hold: bool,
}

impl Args {
    fn parse() -> Result<Args, String> {
        let mut parsed = Args {
            addr: "127.0.0.1:9000".into(),
            state_dir: std::env::temp_dir().join("counter-state"),
            client: false,
            resume: None,
            inc: 0,
            hold: false,
        };
        let usage = "usage: counter [--addr HOST:PORT] [--state-dir DIR] \
                     | counter --client [--addr HOST:PORT] [--resume KEY] [--inc N] [--hold]";
        let mut args = std::env::args().skip(1);
        while let Some(flag) = args.next() {
            match flag.as_str() {
                "--client" => parsed.client = true,
                "--hold" => parsed.hold = true,
                _ => {
                    let value = args.next().ok_or(usage)?;
                    match flag.as_str() {
                        "--addr" => parsed.addr = value,
                        "--state-dir" => parsed.state_dir = value.into(),
                        "--resume" => parsed.resume = Some(value),
                        "--inc" => parsed.inc = value.parse().map_err(|_| usage)?,
                        _ => return Err(usage.into()),
                    }
                }
            }
        }
        Ok(parsed)
    }
}
