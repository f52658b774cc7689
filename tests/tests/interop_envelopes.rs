//! The batching and streaming envelopes against an independent client:
//! `tests/python/envelope_client.py` implements `docs/batching.md` and
//! `docs/streaming.md` in Python and checks our server, which echoes every
//! logical message (the same server as the `envelope_echo` example).

#[path = "support/venv.rs"]
mod venv;

use std::time::Duration;

use futures::StreamExt;
use tokio::net::TcpListener;
use wscore::Subprotocol;
use wscore_tokio::{Accept, Config};

/// Starts the echo server; returns its URL.
async fn echo_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let protocol = wscore::Config::default()
                    .max_message_size(256 << 20)
                    .subprotocols(vec![
                        Subprotocol::streamed("wscore.stream.v1"),
                        Subprotocol::batched("wscore.batch.v1"),
                        Subprotocol::plain("wscore.plain.v1"),
                    ]);
                let accept = |_: &_| Ok(Accept::new());
                let Ok(ws) = wscore_tokio::accept_with(tcp, Config::from(protocol), accept).await
                else {
                    return;
                };
                let (read, write) = ws.split();
                let _ = read.forward(write).await;
            });
        }
    });
    format!("ws://{addr}/")
}

async fn scenario(name: &str) {
    let url = echo_server().await;
    let python = venv::venv_python();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/envelope_client.py");
    let run = tokio::process::Command::new(python)
        .args([script, "--url", &url, "--scenario", name])
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(90), run)
        .await
        .unwrap_or_else(|_| panic!("scenario {name} did not finish in 90 s"))
        .expect("the client starts");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "scenario {name} failed ({}):\n{stdout}{stderr}",
        output.status
    );
    assert!(stdout.contains(&format!("PASS {name}")), "{stdout}{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batched_messages_round_trip() {
    scenario("batch").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_only_client_falls_back() {
    scenario("batch-fallback").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_batches_close_with_1007() {
    scenario("batch-malformed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_64_mib_stream_round_trips_between_small_messages() {
    scenario("stream").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_stream_errors_are_refused_and_the_connection_lives() {
    scenario("stream-errors").await;
}
