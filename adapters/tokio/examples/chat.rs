//! A chat server with rooms: open <http://127.0.0.1:8080/room/lobby> in
//! a few browser tabs.
//!
//! ```text
//! cargo run -p wscore-tokio --example chat -- --addr 127.0.0.1:8080
//! ```
//!
//! With `--redis redis://127.0.0.1:6379/`, several of these processes on
//! different ports share their rooms through Redis (`wscore-cluster`): a
//! page on one and a page on another chat in the same room.
//!
//! ```text
//! cargo run -p wscore-tokio --example chat -- --addr 127.0.0.1:8080 --redis redis://127.0.0.1:6379/
//! cargo run -p wscore-tokio --example chat -- --addr 127.0.0.1:8081 --redis redis://127.0.0.1:6379/
//! ```
//!
//! Every path serves the same page, on the same port as the WebSockets:
//! the server reads a request's head itself, answers a plain GET with the
//! page, and hands an upgrade request, with the bytes already read, to the
//! hub. The page connects to its own path with `?name=`, and the hub puts
//! it in the room named by that path (`Hub::accept`'s default). Each
//! connection is one task owning its `Member`.
//!
//! Frames are JSON text. The page sends `{"type":"message","text":"hi"}`;
//! the room receives `{"type":"message","from":"ann","text":"hi"}`, and
//! `{"type":"presence","server":"local","members":[{"id":3,"name":"ann"}]}`
//! on every join and leave. A presence message lists one server's members
//! of the room; the page shows the union over servers. Clustered, each
//! server also repeats its lists every second with `"ttl":3500`, and a
//! page forgets a list not repeated within its ttl (a server that died).

use std::collections::HashMap;
use std::io::Cursor;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wscore_cluster::{Cluster, ClusterConfig, ClusterEvent};
use wscore_tokio::wscore::{Config as ProtocolConfig, Keepalive};
use wscore_tokio::{Config, Hub, HubConfig, MemberId, Message};

#[path = "chat/json.rs"]
mod json;

const PAGE: &str = include_str!("chat/index.html");
/// The longest request head read before deciding; the handshake's own limit.
const MAX_HEAD: usize = 16 << 10;
const MAX_NAME: usize = 32;

/// Who is connected, by member: the hub knows ids, the chat knows names.
type Names = Arc<Mutex<HashMap<MemberId, String>>>;

/// How often a clustered server repeats its presence lists, and how long
/// a page keeps one that is not repeated.
const PRESENCE_EVERY: Duration = Duration::from_secs(1);
const PRESENCE_TTL: Duration = Duration::from_millis(3500);

/// Where a room's messages go: this process's members, or every
/// process's through Redis. The rest (accepting, rooms, presence) is the
/// hub's either way.
#[derive(Clone)]
enum Rooms {
    Local(Hub),
    Cluster(Cluster),
}

impl Rooms {
    fn hub(&self) -> &Hub {
        match self {
            Rooms::Local(hub) => hub,
            Rooms::Cluster(cluster) => cluster.hub(),
        }
    }

    fn publish(&self, room: &String, message: Message) {
        match self {
            Rooms::Local(hub) => {
                hub.publish(room, message);
            }
            Rooms::Cluster(cluster) => {
                cluster.publish(room, message);
            }
        }
    }

    /// The `"server"` and `"ttl"` fields of this server's presence lists.
    fn presence_fields(&self) -> String {
        match self {
            Rooms::Local(_) => String::from(r#""server":"local""#),
            Rooms::Cluster(cluster) => format!(
                r#""server":"{}","ttl":{}"#,
                cluster.origin(),
                PRESENCE_TTL.as_millis()
            ),
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut addr = String::from("127.0.0.1:8080");
    let mut redis = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match (flag.as_str(), args.next()) {
            ("--addr", Some(value)) => addr = value,
            ("--redis", Some(value)) => redis = Some(value),
            _ => return Err("usage: chat [--addr HOST:PORT] [--redis redis://HOST:PORT/]".into()),
        }
    }
    let hub: Hub = Hub::new(HubConfig::default());
    let names = Names::default();
    let rooms = match redis {
        None => Rooms::Local(hub),
        Some(url) => {
            let cluster = Cluster::connect(hub, &url, ClusterConfig::default()).await?;
            tokio::spawn(report(cluster.clone()));
            tokio::spawn(repeat_presence(
                Rooms::Cluster(cluster.clone()),
                names.clone(),
            ));
            Rooms::Cluster(cluster)
        }
    };
    let listener = TcpListener::bind(&addr).await?;
    // The first line is read by scripts/browser.sh to find the port.
    println!("listening on http://{}", listener.local_addr()?);
    loop {
        let (tcp, _) = listener.accept().await?;
        tokio::spawn(connection(rooms.clone(), names.clone(), tcp));
    }
}

/// Prints what the bridge reports: links lost and restored, messages
/// lost.
async fn report(cluster: Cluster) {
    use futures::StreamExt;
    let Some(mut events) = cluster.events() else {
        return;
    };
    while let Some(event) = events.next().await {
        match event {
            ClusterEvent::LinkLost { link, error } => {
                eprintln!("redis {link:?} link lost: {error}")
            }
            ClusterEvent::Reconnected { link, down_for, .. } => {
                eprintln!("redis {link:?} link back after {down_for:?}");
            }
            other => eprintln!("{other:?}; totals: {:?}", cluster.stats()),
        }
    }
}

/// Repeats this server's presence list in each of its rooms: a page
/// that joined on another server learns it, and a list nobody repeats
/// (its server died) expires in the pages.
async fn repeat_presence(rooms: Rooms, names: Names) {
    let mut every = tokio::time::interval(PRESENCE_EVERY);
    loop {
        every.tick().await;
        for room in rooms.hub().rooms() {
            announce(&rooms, &names, &room, |_| {});
        }
    }
}

/// One TCP connection: the page, or a chat member until it leaves.
async fn connection(rooms: Rooms, names: Names, mut tcp: TcpStream) {
    let _ = tcp.set_nodelay(true);
    let head = tokio::time::timeout(Duration::from_secs(10), read_head(&mut tcp)).await;
    let Ok(Some(head)) = head else { return };
    let text = String::from_utf8_lossy(&head);
    let is_upgrade = text.lines().skip(1).any(|line| {
        line.split_once(':').is_some_and(|(field, value)| {
            field.trim().eq_ignore_ascii_case("upgrade")
                && value.to_ascii_lowercase().contains("websocket")
        })
    });
    if !is_upgrade {
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{PAGE}",
            PAGE.len()
        );
        let _ = tcp.write_all(response.as_bytes()).await;
        let _ = tcp.shutdown().await;
        return;
    }
    let target = text.split(' ').nth(1).unwrap_or("/");
    let name = query_param(target, "name").map(|name| name.chars().take(MAX_NAME).collect());
    let (read, write) = tcp.into_split();
    // The hub's handshake reads the request again: the head goes back in front.
    let replayed = tokio::io::join(Cursor::new(head).chain(read), write);
    let keepalive = Keepalive {
        interval: Duration::from_secs(20),
        timeout: Duration::from_secs(10),
    };
    // Small messages, and pings so that a vanished browser leaves its rooms.
    let protocol = ProtocolConfig::default()
        .max_message_size(64 << 10)
        .keepalive(Some(keepalive));
    let config = Config::default().protocol(protocol);
    let Ok(mut member) = wscore_tokio::accept_member(rooms.hub(), replayed, config).await else {
        return;
    };
    let id = member.id();
    let Some(room) = member.rooms().pop() else {
        return;
    };
    let name = name
        .filter(|name: &String| !name.trim().is_empty())
        .unwrap_or_else(|| format!("guest-{}", id.get()));
    announce(&rooms, &names, &room, |names| {
        names.insert(id, name.clone());
    });

    // `recv` also writes what the hub queued for this member while it waits.
    while let Some(Ok(message)) = member.recv().await {
        let Some(text) = message.as_text().and_then(json::parse_message) else {
            continue; // not a chat message: ignored
        };
        let json = format!(
            r#"{{"type":"message","from":{},"text":{}}}"#,
            json::string(&name),
            json::string(&text)
        );
        rooms.publish(&room, Message::text(json));
    }
    drop(member); // leaves every room
    announce(&rooms, &names, &room, |names| {
        names.remove(&id);
    });
}

/// Reads until the blank line that ends an HTTP request head; the bytes
/// read (possibly more than the head), or `None` at the end or the limit.
async fn read_head(tcp: &mut TcpStream) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    let mut chunk = [0; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tcp.read(&mut chunk).await.ok().filter(|&n| n > 0)?;
        head.extend_from_slice(chunk.get(..n)?);
        if head.len() > MAX_HEAD {
            return None;
        }
    }
    Some(head)
}

/// Applies `change` to the names and sends the room this server's new
/// member list. Under the lock, so the room's last presence message from
/// this server is the newest.
fn announce(
    rooms: &Rooms,
    names: &Names,
    room: &String,
    change: impl FnOnce(&mut HashMap<MemberId, String>),
) {
    let mut names = names.lock().unwrap_or_else(PoisonError::into_inner);
    change(&mut names);
    let members: Vec<String> = rooms
        .hub()
        .members(room)
        .into_iter()
        .filter_map(|id| {
            let name = json::string(names.get(&id)?);
            Some(format!(r#"{{"id":{},"name":{name}}}"#, id.get()))
        })
        .collect();
    let json = format!(
        r#"{{"type":"presence",{},"members":[{}]}}"#,
        rooms.presence_fields(),
        members.join(",")
    );
    rooms.publish(room, Message::text(json));
}

/// The percent-decoded value of `key` in the query of a request target.
fn query_param(target: &str, key: &str) -> Option<String> {
    let (_, query) = target.split_once('?')?;
    let value = query
        .split('&')
        .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))?;
    let digit = |b: &u8| char::from(*b).to_digit(16);
    let (mut bytes, mut rest) = (Vec::new(), value.as_bytes());
    while let Some((&byte, tail)) = rest.split_first() {
        rest = tail;
        if let (b'%', [hi, lo, after @ ..]) = (byte, tail) {
            if let (Some(hi), Some(lo)) = (digit(hi), digit(lo)) {
                bytes.push((hi * 16 + lo) as u8);
                rest = after;
                continue;
            }
        }
        bytes.push(if byte == b'+' { b' ' } else { byte });
    }
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::query_param;

    #[test]
    fn query_values_are_percent_decoded() {
        let name = |target| query_param(target, "name");
        assert_eq!(name("/room/a?name=ann"), Some("ann".into()));
        assert_eq!(
            name("/?x=1&name=J%C3%B6+%22o%22&y"),
            Some("Jö \"o\"".into())
        );
        assert_eq!(name("/?name=100%&nickname=x"), Some("100%".into()));
        assert_eq!(name("/?name=%zz%4"), Some("%zz%4".into()));
        assert_eq!(name("/?nickname=x"), None);
        assert_eq!(name("/room/a"), None);
    }
}
