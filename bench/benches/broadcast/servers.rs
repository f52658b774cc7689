//! The servers of the broadcast row: the hub in both of its styles and
//! the obvious per-connection loops it is compared with, each accepting
//! on loopback and joining its connections to one room the publisher
//! sends to.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};
use tokio::task::JoinHandle;
use wscore_tokio::{accept_member, Adder, Config, Hub, HubConfig, Message, Served};

/// A server under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Server {
    /// wscore-tokio's hub, a task per member running `next_event`.
    Hub,
    /// wscore-tokio's hub, every member driven by one `Served` task.
    HubServed,
    /// tokio-tungstenite: a task per connection, `ws.send` per message.
    TokioTungstenite,
    /// tokio-tungstenite as its own broadcast example has it: the
    /// channel forwarded into the socket, which flushes only when the
    /// channel is empty.
    TungsteniteForward,
    /// fastwebsockets: a task per connection, `write_frame` per message.
    FastWebSockets,
}

impl Server {
    pub(crate) const ALL: [Server; 5] = [
        Server::Hub,
        Server::HubServed,
        Server::TokioTungstenite,
        Server::TungsteniteForward,
        Server::FastWebSockets,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Server::Hub => "wscore hub (task per member)",
            Server::HubServed => "wscore hub (Served)",
            Server::TokioTungstenite => "tokio-tungstenite",
            Server::TungsteniteForward => "tokio-tungstenite (forward)",
            Server::FastWebSockets => "fastwebsockets",
        }
    }
}

/// The room every member of the hub is in: the path of the swarm's
/// requests.
pub(crate) const ROOM: &str = "/";

/// Counts a connection task while it lives.
pub(crate) struct Live(Arc<AtomicUsize>);

impl Live {
    pub(crate) fn new(count: &Arc<AtomicUsize>) -> Live {
        count.fetch_add(1, Ordering::AcqRel);
        Live(Arc::clone(count))
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The publisher's side of a room.
pub(crate) enum Room {
    Hub(Hub, String),
    Tungstenite(Vec<UnboundedSender<tungstenite::Message>>),
    Forward(Vec<futures::channel::mpsc::UnboundedSender<tungstenite::Message>>),
    Fast(Vec<UnboundedSender<Bytes>>),
}

impl Room {
    pub(crate) fn empty(server: Server) -> Room {
        match server {
            Server::Hub | Server::HubServed => {
                Room::Hub(Hub::new(HubConfig::default()), ROOM.to_string())
            }
            Server::TokioTungstenite => Room::Tungstenite(Vec::new()),
            Server::TungsteniteForward => Room::Forward(Vec::new()),
            Server::FastWebSockets => Room::Fast(Vec::new()),
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Room::Hub(hub, room) => hub.room_len(room),
            Room::Tungstenite(senders) => senders.len(),
            Room::Forward(senders) => senders.len(),
            Room::Fast(senders) => senders.len(),
        }
    }

    /// The publisher's handle, leaving the server's in place: the
    /// channels' senders move out (no later connection joins), the hub is
    /// shared.
    pub(crate) fn take(&mut self) -> Room {
        match self {
            Room::Hub(hub, room) => Room::Hub(hub.clone(), room.clone()),
            Room::Tungstenite(senders) => Room::Tungstenite(std::mem::take(senders)),
            Room::Forward(senders) => Room::Forward(std::mem::take(senders)),
            Room::Fast(senders) => Room::Fast(std::mem::take(senders)),
        }
    }

    /// Sends `payload` to every member; returns how many did not take it.
    pub(crate) fn publish(&self, payload: Bytes) -> usize {
        let mut lost = 0;
        match self {
            Room::Hub(hub, room) => lost += hub.publish(room, Message::binary(payload)).dropped,
            Room::Tungstenite(senders) => {
                for tx in senders {
                    lost += usize::from(
                        tx.send(tungstenite::Message::Binary(payload.clone()))
                            .is_err(),
                    );
                }
            }
            Room::Forward(senders) => {
                for tx in senders {
                    lost += usize::from(
                        tx.unbounded_send(tungstenite::Message::Binary(payload.clone()))
                            .is_err(),
                    );
                }
            }
            Room::Fast(senders) => {
                for tx in senders {
                    lost += usize::from(tx.send(payload.clone()).is_err());
                }
            }
        }
        lost
    }
}

/// A server accepting connections on the current runtime.
pub(crate) struct Running {
    pub(crate) addr: SocketAddr,
    accept: JoinHandle<()>,
    /// The task of the `Served` style.
    served: Option<JoinHandle<()>>,
    /// Connection tasks alive (for the hub, the members in it count too).
    live: Arc<AtomicUsize>,
    room: Arc<Mutex<Room>>,
}

impl Running {
    pub(crate) async fn start(server: Server) -> Running {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local address");
        let live = Arc::new(AtomicUsize::new(0));
        let room = Arc::new(Mutex::new(Room::empty(server)));
        let (served_task, served) = (server == Server::HubServed)
            .then(|| {
                let served = Served::<TcpStream>::new();
                let adder = served.adder();
                (tokio::spawn(drive_served(served)), adder)
            })
            .unzip();
        let accept = tokio::spawn({
            let live = Arc::clone(&live);
            let room = Arc::clone(&room);
            async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    let live = Live::new(&live);
                    let room = Arc::clone(&room);
                    let hub = match &*room.lock().expect("room") {
                        Room::Hub(hub, _) => Some(hub.clone()),
                        _ => None,
                    };
                    match (server, hub) {
                        (Server::Hub, Some(hub)) => tokio::spawn(serve_member(stream, hub, live)),
                        (Server::HubServed, Some(hub)) => {
                            tokio::spawn(add_member(stream, hub, served.clone(), live))
                        }
                        (Server::TokioTungstenite, _) => {
                            tokio::spawn(serve_tungstenite(stream, room, live))
                        }
                        (Server::TungsteniteForward, _) => {
                            tokio::spawn(serve_tungstenite_forward(stream, room, live))
                        }
                        _ => tokio::spawn(serve_fastwebsockets(stream, room, live)),
                    };
                }
            }
        });
        Running {
            addr,
            accept,
            served: served_task,
            live,
            room,
        }
    }

    /// Waits until `members` connections have joined, and takes the room.
    pub(crate) async fn joined(&self, members: usize) -> Room {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            {
                let mut room = self.room.lock().expect("room");
                if room.len() >= members {
                    return room.take();
                }
            }
            assert!(Instant::now() < deadline, "members did not join");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Stops accepting, drops `room` and waits until every connection
    /// task has ended (the swarm must have closed its ends).
    pub(crate) async fn stop(self, room: Room) {
        self.accept.abort();
        let hub = match &room {
            Room::Hub(hub, _) => Some(hub.clone()),
            _ => None,
        };
        // The channels' tasks end when their senders go.
        drop(room);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left =
                self.live.load(Ordering::Acquire) + hub.as_ref().map_or(0, Hub::member_count);
            if left == 0 {
                break;
            }
            assert!(Instant::now() < deadline, "{left} connections did not end");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        if let Some(served) = self.served {
            served.abort();
            let _ = served.await;
        }
    }
}

/// A member with a task of its own, as wscore-tokio's documentation
/// shows: the task waits for events, and writes what the hub queued for
/// it meanwhile.
async fn serve_member(stream: TcpStream, hub: Hub, _live: Live) {
    let Ok(mut member) = accept_member(&hub, stream, Config::default()).await else {
        return;
    };
    while let Some(Ok(_)) = member.next_event().await {}
}

/// A member handed to the one task that drives them all.
async fn add_member(stream: TcpStream, hub: Hub, served: Option<Adder<TcpStream>>, _live: Live) {
    let Ok(member) = accept_member(&hub, stream, Config::default()).await else {
        return;
    };
    if let Some(served) = served {
        let _ = served.add(member);
    }
}

/// The one task of the `Served` style.
async fn drive_served(mut served: Served<TcpStream>) {
    while served.next().await.is_some() {}
}

/// The obvious loop over tokio-tungstenite: the task owns the socket and
/// sends what its channel brings.
async fn serve_tungstenite(stream: TcpStream, room: Arc<Mutex<Room>>, _live: Live) {
    let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let (tx, mut rx) = unbounded_channel();
    if let Room::Tungstenite(senders) = &mut *room.lock().expect("room") {
        senders.push(tx);
    }
    drop(room);
    while let Some(message) = rx.recv().await {
        if ws.send(message).await.is_err() {
            break;
        }
    }
}

/// tokio-tungstenite's broadcast example: the channel forwarded into the
/// socket (`StreamExt::forward` feeds what is ready and flushes when the
/// channel has nothing more).
async fn serve_tungstenite_forward(stream: TcpStream, room: Arc<Mutex<Room>>, _live: Live) {
    let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let (tx, rx) = futures::channel::mpsc::unbounded();
    if let Room::Forward(senders) = &mut *room.lock().expect("room") {
        senders.push(tx);
    }
    drop(room);
    let _ = rx.map(Ok).forward(ws).await;
}

/// The same loop over fastwebsockets, writing each payload as a frame.
async fn serve_fastwebsockets(mut stream: TcpStream, room: Arc<Mutex<Room>>, _live: Live) {
    use fastwebsockets::{Frame, Payload, Role, WebSocket};
    if wscore_bench::raw::server_handshake(&mut stream)
        .await
        .is_err()
    {
        return;
    }
    let mut ws = WebSocket::after_handshake(stream, Role::Server);
    let (tx, mut rx) = unbounded_channel::<Bytes>();
    if let Room::Fast(senders) = &mut *room.lock().expect("room") {
        senders.push(tx);
    }
    drop(room);
    while let Some(payload) = rx.recv().await {
        if ws
            .write_frame(Frame::binary(Payload::Borrowed(&payload)))
            .await
            .is_err()
        {
            break;
        }
    }
}
