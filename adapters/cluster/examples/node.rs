//! One server of a cluster, reduced to the bridge: every message a
//! member sends is published to its room, in every process.
//!
//! ```text
//! cargo run -p wscore-cluster --example node -- --addr 127.0.0.1:9001 --redis redis://127.0.0.1:6379/
//! ```
//!
//! A connection joins the room of its request path. A member's text
//! message `stats` is not published: the member alone gets the bridge's
//! counters back, as one line of JSON. The multi-process tests run three
//! of these on one Redis.

use std::time::Duration;

use wscore_cluster::{Cluster, ClusterConfig, ClusterStats};
use wscore_tokio::{Config, Hub, HubConfig, Message};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut addr = String::from("127.0.0.1:9001");
    let mut redis = String::from("redis://127.0.0.1:6379/");
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match (flag.as_str(), args.next()) {
            ("--addr", Some(value)) => addr = value,
            ("--redis", Some(value)) => redis = value,
            _ => return Err("usage: node [--addr HOST:PORT] [--redis URL]".into()),
        }
    }
    let hub: Hub = Hub::new(HubConfig::default());
    // Quick reconnection: the tests restart Redis under it.
    let config =
        ClusterConfig::default().backoff(Duration::from_millis(20), Duration::from_millis(200));
    let cluster = Cluster::connect(hub.clone(), &redis, config).await?;
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    // The first line names the address, for whoever started the process.
    println!("listening on ws://{}", listener.local_addr()?);
    loop {
        let (tcp, _) = listener.accept().await?;
        let _ = tcp.set_nodelay(true);
        let cluster = cluster.clone();
        tokio::spawn(async move {
            let Ok(mut member) =
                wscore_tokio::accept_member(cluster.hub(), tcp, Config::default()).await
            else {
                return;
            };
            let id = member.id();
            // `recv` also writes what the hub queued for this member.
            while let Some(Ok(message)) = member.recv().await {
                if message.as_text() == Some("stats") {
                    let _ = cluster
                        .hub()
                        .send(id, Message::text(stats_json(&cluster.stats())));
                    continue;
                }
                for room in member.rooms() {
                    cluster.publish(&room, message.clone());
                }
            }
        });
    }
}

fn stats_json(stats: &ClusterStats) -> String {
    format!(
        concat!(
            r#"{{"published":{},"not_published":{},"received":{},"echoes":{},"#,
            r#""may_have_missed":{},"discarded":{},"reconnects":{},"subscribed_rooms":{}}}"#
        ),
        stats.published,
        stats.not_published,
        stats.received,
        stats.echoes,
        stats.may_have_missed,
        stats.discarded,
        stats.reconnects,
        stats.subscribed_rooms,
    )
}
