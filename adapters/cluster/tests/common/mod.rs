//! A real Redis server for the tests, and hub members with a client end.

#![allow(dead_code, unreachable_pub)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::io::DuplexStream;
use tokio::time::Instant;
use wscore_cluster::{Cluster, ClusterConfig};
use wscore_tokio::{Config, Hub, HubConfig, MemberId, Message, Role, WebSocket};

/// How long a test waits for something that should happen at once.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// The `redis-server` binary, or `None` (the test is skipped) when it is
/// missing outside CI. In CI (`CI` set) a missing server fails the test:
/// `.ci/run` installs it.
pub fn redis_server() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("redis-server"))
            .find(|candidate| candidate.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "redis-server is not installed; CI must install it (apt-get install redis-server)"
        );
        eprintln!("skipped: redis-server is not installed (apt-get install redis-server)");
    }
    found
}

/// A port nobody listens on now.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// A redis-server of the test's own, on a free port, without persistence;
/// killed when dropped.
pub struct Redis {
    binary: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl Redis {
    /// Starts one, or `None` when the binary is missing (outside CI).
    pub fn start() -> Option<Redis> {
        let binary = redis_server()?;
        let mut redis = Redis {
            binary,
            port: free_port(),
            child: None,
        };
        redis.restart();
        Some(redis)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills it at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops it without closing anything (SIGSTOP), as a hung server would
    /// be, or lets it go on (SIGCONT).
    pub fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("running").id();
        let status = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill {signal} {pid}");
    }

    /// Starts it (again) on the same port, empty, and waits until it answers.
    pub fn restart(&mut self) {
        self.kill();
        let child = Command::new(&self.binary)
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + PATIENCE;
        while !self.answers() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn answers(&self) -> bool {
        let Ok(client) = redis::Client::open(self.url()) else {
            return false;
        };
        let Ok(mut connection) = client.get_connection() else {
            return false;
        };
        redis::cmd("PING").query::<String>(&mut connection).is_ok()
    }

    /// Subscribers of `channel`, as Redis counts them.
    pub fn subscribers(&self, channel: &str) -> usize {
        let client = redis::Client::open(self.url()).expect("redis url");
        let mut connection = client.get_connection().expect("connect to redis");
        let (_, count): (String, usize) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(channel)
            .query(&mut connection)
            .expect("PUBSUB NUMSUB");
        count
    }

    /// Publishes raw `payload` on `channel`, as any client of Redis may.
    pub fn publish_raw(&self, channel: &str, payload: &[u8]) {
        let client = redis::Client::open(self.url()).expect("redis url");
        let mut connection = client.get_connection().expect("connect to redis");
        redis::cmd("PUBLISH")
            .arg(channel)
            .arg(payload)
            .query::<usize>(&mut connection)
            .expect("PUBLISH");
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A bridge on a fresh hub; reconnects quickly, for tests.
pub async fn process(redis: &Redis) -> Cluster {
    let config =
        ClusterConfig::default().backoff(Duration::from_millis(20), Duration::from_millis(200));
    process_with(redis, config).await
}

pub async fn process_with(redis: &Redis, config: ClusterConfig) -> Cluster {
    let hub: Hub = Hub::new(HubConfig::default());
    Cluster::connect(hub, &redis.url(), config)
        .await
        .expect("connect the bridge")
}

/// The client end of a member of `hub` in `room`; the member's own end is
/// driven by a task of its own.
pub type Client = WebSocket<DuplexStream>;

pub fn member(hub: &Hub, room: &str) -> (MemberId, Client) {
    let (server_io, client_io) = tokio::io::duplex(1 << 16);
    let socket =
        wscore_tokio::from_upgraded(server_io, Role::Server, Config::default()).expect("server");
    let mut member = hub.attach(socket, [room.to_string()]).expect("attach");
    let id = member.id();
    tokio::spawn(async move { while member.next_event().await.is_some() {} });
    let client =
        wscore_tokio::from_upgraded(client_io, Role::Client, Config::default()).expect("client");
    (id, client)
}

/// The next text message, or a panic after [`PATIENCE`].
pub async fn recv_text(client: &mut Client) -> String {
    match tokio::time::timeout(PATIENCE, client.recv()).await {
        Ok(Some(Ok(Message::Text(text)))) => text.as_str().to_owned(),
        other => panic!("expected a text message, got {other:?}"),
    }
}

/// Whether a message arrives within `wait`.
pub async fn silent_for(client: &mut Client, wait: Duration) -> bool {
    tokio::time::timeout(wait, client.recv()).await.is_err()
}

/// Waits until `condition` holds, or panics with `what` after [`PATIENCE`].
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !condition() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
