//! Three server processes (the `node` example) on one real Redis server,
//! with the clients of one room spread over them.
//!
//! These need `redis-server` and the example built; they are ignored by a
//! plain `cargo test` and run by `scripts/cluster.sh`.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use wscore_tokio::{MaybeTlsStream, Message, WebSocket};

use common::{Redis, PATIENCE};

type Ws = WebSocket<MaybeTlsStream>;

/// The room every test client is in.
const ROOM: &str = "/room";

/// The `node` example next to this test binary (`cargo test` builds the
/// package's examples before its tests).
fn node_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let target = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let node = target.join("examples").join("node");
    assert!(
        node.is_file(),
        "{} is missing: build it with `cargo build -p wscore-cluster --examples`",
        node.display()
    );
    node
}

/// A running `node`, killed when dropped.
struct Node {
    child: Child,
    url: String,
    control: Ws,
}

impl Node {
    async fn start(redis: &Redis) -> Node {
        let mut child = Command::new(node_binary())
            .args(["--addr", "127.0.0.1:0", "--redis", &redis.url()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start a node");
        let stdout = child.stdout.take().expect("its stdout");
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(PATIENCE, lines.next_line())
            .await
            .expect("the node names its address in time")
            .expect("read its stdout")
            .expect("a first line");
        let url = first
            .strip_prefix("listening on ")
            .expect("listening on ws://…")
            .to_owned();
        let control = connect(&url, "/control").await;
        Node {
            child,
            url,
            control,
        }
    }

    /// The node's counters, asked through its control connection.
    async fn stats(&mut self) -> BTreeMap<String, u64> {
        self.control
            .send(Message::text("stats"))
            .await
            .expect("ask");
        let reply = match tokio::time::timeout(PATIENCE, self.control.recv()).await {
            Ok(Some(Ok(Message::Text(text)))) => text.as_str().to_owned(),
            other => panic!("no stats: {other:?}"),
        };
        parse_counters(&reply)
    }

    /// Waits until the node's links are both up and both its rooms (the
    /// test's and the control connection's) are subscribed, after
    /// `reconnects` restorations.
    async fn wait_ready(&mut self, reconnects: u64) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let stats = self.stats().await;
            if stats.get("subscribed_rooms") == Some(&2)
                && stats.get("reconnects") >= Some(&reconnects)
            {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "node never ready: {stats:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }
}

/// `{"a":1,"b":2}` → a: 1, b: 2.
fn parse_counters(json: &str) -> BTreeMap<String, u64> {
    json.trim_matches(|c| c == '{' || c == '}')
        .split(',')
        .filter_map(|pair| {
            let (name, value) = pair.split_once(':')?;
            Some((name.trim_matches('"').to_owned(), value.parse().ok()?))
        })
        .collect()
}

async fn connect(node_url: &str, path: &str) -> Ws {
    let (ws, _) = wscore_tokio::connect(&format!("{node_url}{path}"))
        .await
        .expect("connect to a node");
    ws
}

/// What one client received in the room: by publisher, the numbers in
/// the order they came.
type Heard = BTreeMap<usize, Vec<u64>>;

fn message(publisher: usize, seq: u64) -> Message {
    Message::text(format!("p{publisher} {seq}"))
}

fn parse(message: &Message) -> (usize, u64) {
    let text = message.as_text().expect("text");
    let (publisher, seq) = text
        .strip_prefix('p')
        .and_then(|rest| rest.split_once(' '))
        .expect("p<publisher> <seq>");
    (
        publisher.parse().expect("a publisher"),
        seq.parse().expect("a number"),
    )
}

/// Reads `ws` until `done` says it has heard enough; panics after `limit`.
async fn listen(mut ws: Ws, limit: Duration, done: impl Fn(&Heard) -> bool) -> Heard {
    let mut heard = Heard::new();
    let reading = async {
        while !done(&heard) {
            match ws.recv().await {
                Some(Ok(message)) => {
                    let (publisher, seq) = parse(&message);
                    heard.entry(publisher).or_default().push(seq);
                }
                other => panic!("the room's connection ended: {other:?}"),
            }
        }
    };
    if tokio::time::timeout(limit, reading).await.is_err() {
        let counts: Vec<(usize, usize)> = heard.iter().map(|(p, s)| (*p, s.len())).collect();
        panic!("not everything arrived in {limit:?}; heard {counts:?}");
    }
    heard
}

/// Strictly increasing: never a message twice, never one out of order.
fn assert_in_order(heard: &Heard) {
    for (publisher, seqs) in heard {
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "publisher {publisher}'s messages out of order or repeated"
        );
    }
}

/// The clients of one room: on each node two listeners, and publishers
/// by index on the nodes of `publisher_nodes`.
struct Room {
    listeners: Vec<(usize, Ws)>,
    publishers: Vec<(usize, Ws)>,
}

async fn room(nodes: &[Node], publisher_nodes: &[usize]) -> Room {
    let mut listeners = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        for _ in 0..2 {
            listeners.push((i, connect(&node.url, ROOM).await));
        }
    }
    let mut publishers = Vec::new();
    for &i in publisher_nodes {
        publishers.push((i, connect(&nodes[i].url, ROOM).await));
    }
    Room {
        listeners,
        publishers,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server: run scripts/cluster.sh"]
async fn ten_thousand_messages_reach_every_member_of_three_processes_once_in_order() {
    let Some(redis) = Redis::start() else { return };
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(Node::start(&redis).await);
    }
    let publisher_nodes = [0, 0, 1, 2];
    const EACH: u64 = 2_500;
    let total = EACH as usize * publisher_nodes.len();
    let room = room(&nodes, &publisher_nodes).await;
    for node in &mut nodes {
        node.wait_ready(0).await;
    }

    let complete = move |heard: &Heard| heard.values().map(Vec::len).sum::<usize>() >= total;
    let limit = Duration::from_secs(40);
    let mut tasks: Vec<JoinHandle<Heard>> = Vec::new();
    for (_, ws) in room.listeners {
        tasks.push(tokio::spawn(listen(ws, limit, complete)));
    }
    for (publisher, (_, mut ws)) in room.publishers.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            // A publisher is a member too: it hears itself and the others.
            for seq in 0..EACH {
                ws.send(message(publisher, seq)).await.expect("publish");
            }
            listen(ws, limit, complete).await
        }));
    }
    for task in tasks {
        let heard = task.await.expect("a client");
        assert_in_order(&heard);
        for publisher in 0..publisher_nodes.len() {
            let seqs = heard.get(&publisher).map(Vec::as_slice).unwrap_or_default();
            assert_eq!(seqs.len() as u64, EACH, "publisher {publisher}");
            assert_eq!(seqs.last(), Some(&(EACH - 1)));
        }
    }
    let mut published = 0;
    for node in &mut nodes {
        let stats = node.stats().await;
        assert_eq!(stats.get("not_published"), Some(&0), "{stats:?}");
        assert_eq!(stats.get("may_have_missed"), Some(&0), "{stats:?}");
        published += stats.get("published").copied().unwrap_or(0);
    }
    assert_eq!(published, total as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server: run scripts/cluster.sh"]
async fn redis_killed_and_restarted_mid_run_the_cluster_resumes_and_counts_every_loss() {
    let Some(mut redis) = Redis::start() else {
        return;
    };
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(Node::start(&redis).await);
    }
    let publisher_nodes = [0, 1, 2];
    let room = room(&nodes, &publisher_nodes).await;
    for node in &mut nodes {
        node.wait_ready(0).await;
    }

    // Paced, so that Redis dies in the middle; then, once every link is
    // back, a last few from each, so that every loss is followed by a
    // message that reveals it.
    const PACED: u64 = 600;
    const LAST: u64 = PACED + 20;
    let restored = Arc::new(Notify::new());
    let finished =
        |heard: &Heard| (0..3).all(|p| heard.get(&p).and_then(|s| s.last()) == Some(&(LAST - 1)));
    let limit = Duration::from_secs(30);
    let mut listeners = Vec::new();
    for (node, ws) in room.listeners {
        listeners.push((node, tokio::spawn(listen(ws, limit, finished))));
    }
    let mut publishers = Vec::new();
    for (publisher, (_, mut ws)) in room.publishers.into_iter().enumerate() {
        let restored = Arc::clone(&restored);
        publishers.push(tokio::spawn(async move {
            for seq in 0..PACED {
                ws.send(message(publisher, seq)).await.expect("publish");
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            restored.notified().await;
            for seq in PACED..LAST {
                ws.send(message(publisher, seq)).await.expect("publish");
            }
            listen(ws, limit, finished).await
        }));
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    redis.kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    redis.restart();
    // Each node's two links were restored at least once.
    for node in &mut nodes {
        node.wait_ready(2).await;
    }
    // After the paced phase: notify_waiters wakes only those waiting.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while publishers.iter().any(|p| !p.is_finished()) {
        restored.notify_waiters();
        assert!(tokio::time::Instant::now() < deadline, "publishers stuck");
        tokio::time::sleep(Duration::from_millis(20)).await;
        if listeners.iter().all(|(_, l)| l.is_finished()) {
            break;
        }
    }

    let mut heard_by = Vec::new();
    for (node, task) in listeners {
        heard_by.push((node, task.await.expect("a listener")));
    }
    for (publisher, task) in publishers.into_iter().enumerate() {
        heard_by.push((publisher_nodes[publisher], task.await.expect("a publisher")));
    }
    let mut given = 0;
    let mut not_published = 0;
    for (index, node) in nodes.iter_mut().enumerate() {
        let stats = node.stats().await;
        given += stats["published"] + stats["not_published"];
        not_published += stats["not_published"];
        // What the members of this node did not get, from each publisher.
        let mut missing_here = None;
        for (_, heard) in heard_by.iter().filter(|(n, _)| *n == index) {
            assert_in_order(heard);
            let missing: Vec<u64> = (0..3)
                .map(|p| LAST - heard.get(&p).map_or(0, Vec::len) as u64)
                .collect();
            // A node's members hear the same stream.
            assert_eq!(*missing_here.get_or_insert(missing.clone()), missing);
            // The local publisher's messages never pass through Redis.
            assert_eq!(
                missing[publisher_nodes
                    .iter()
                    .position(|&n| n == index)
                    .unwrap_or(0)],
                0
            );
        }
        let missed: u64 = missing_here.expect("members on every node").iter().sum();
        assert_eq!(stats["may_have_missed"], missed, "node {index}: {stats:?}");
    }
    assert_eq!(given, LAST * 3, "every message is published or counted");
    assert!(not_published > 0, "Redis was down while they published");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server: run scripts/cluster.sh"]
async fn a_process_killed_mid_run_the_others_carry_on() {
    let Some(redis) = Redis::start() else { return };
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(Node::start(&redis).await);
    }
    let publisher_nodes = [0, 1, 2];
    let room = room(&nodes, &publisher_nodes).await;
    for node in &mut nodes {
        node.wait_ready(0).await;
    }
    const EACH: u64 = 600;
    // The survivors' members get everything from the surviving publishers.
    let survivors_done =
        |heard: &Heard| (0..2).all(|p| heard.get(&p).map_or(0, Vec::len) as u64 == EACH);
    let limit = Duration::from_secs(30);
    let mut listeners = Vec::new();
    for (node, ws) in room.listeners {
        if node != 2 {
            listeners.push(tokio::spawn(listen(ws, limit, survivors_done)));
        }
    }
    let mut publishers = Vec::new();
    for (publisher, (_, mut ws)) in room.publishers.into_iter().enumerate() {
        publishers.push(tokio::spawn(async move {
            for seq in 0..EACH {
                if ws.send(message(publisher, seq)).await.is_err() {
                    // Its server was killed.
                    return seq;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            EACH
        }));
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    nodes[2].kill().await;

    for listener in listeners {
        let heard = listener.await.expect("a listener");
        assert_in_order(&heard);
        // The dead node's publisher: what got through, in order, once.
        let from_dead = heard.get(&2).map_or(0, Vec::len) as u64;
        assert!(from_dead > 0 && from_dead < EACH, "{from_dead}");
    }
    let sent: Vec<u64> = {
        let mut sent = Vec::new();
        for publisher in publishers {
            sent.push(publisher.await.expect("a publisher"));
        }
        sent
    };
    assert_eq!(&sent[..2], &[EACH, EACH]);
    for node in &mut nodes[..2] {
        let stats = node.stats().await;
        assert_eq!(stats["may_have_missed"], 0, "{stats:?}");
        assert_eq!(stats["not_published"], 0, "{stats:?}");
    }
}
