//! The client side of an Autobahn TestSuite run: asks a fuzzing server for
//! its case count, runs every case as an echo client, then asks it to
//! write its reports.
//!
//! ```text
//! cargo run --release -p wscore-tokio --example autobahn_client -- --url ws://127.0.0.1:9001 [--deflate]
//! ```
//!
//! `--deflate` offers permessage-deflate (RFC 7692), with
//! `client_no_context_takeover`, in every case and compresses every
//! message: the Autobahn runner in `scripts/autobahn.sh`
//! mishandles the uncompressed messages RFC 7692 allows on a compressed
//! connection.

use futures::StreamExt;
use wscore_tokio::wscore::DeflateConfig;
use wscore_tokio::{ClientRequest, Config};

type BoxError = Box<dyn std::error::Error>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let mut url = String::from("ws://127.0.0.1:9001");
    let mut agent = String::from("wscore-tokio");
    let mut config = Config::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--url" => url = args.next().ok_or("--url needs a value")?,
            "--agent" => agent = args.next().ok_or("--agent needs a value")?,
            "--deflate" => {
                // The fuzzing server asks for client_no_context_takeover
                // (cases 13.2, 13.5, 13.6) only from clients that offer it.
                let deflate = DeflateConfig::default()
                    .always_compress(true)
                    .client_no_context_takeover(true);
                config.protocol = config.protocol.deflate(Some(deflate))
            }
            other => {
                return Err(format!(
                    "unknown argument {other:?} (expected --url, --agent, --deflate)"
                )
                .into())
            }
        }
    }
    let url = url.trim_end_matches('/');

    let count = case_count(url).await?;
    println!("{count} cases");
    for case in 1..=count {
        let case_url = format!("{url}/runCase?case={case}&agent={agent}");
        if let Err(e) = run_case(&case_url, &config).await {
            // Failing cases are the suite's to judge; keep going.
            println!("case {case}: {e}");
        }
    }
    let (mut ws, _) = wscore_tokio::connect(&format!("{url}/updateReports?agent={agent}")).await?;
    while ws.next().await.is_some() {}
    println!("reports updated");
    Ok(())
}

async fn case_count(url: &str) -> Result<u32, BoxError> {
    let (mut ws, _) = wscore_tokio::connect(&format!("{url}/getCaseCount")).await?;
    let message = ws.next().await.ok_or("no case count")??;
    let count = message
        .as_text()
        .ok_or("case count is not text")?
        .trim()
        .parse()?;
    while ws.next().await.is_some() {}
    Ok(count)
}

/// Echoes every message until the server ends the case.
async fn run_case(url: &str, config: &Config) -> Result<(), BoxError> {
    let request = ClientRequest::from_url(url)?;
    let (mut ws, _) = wscore_tokio::connect_with(request, config.clone()).await?;
    while let Some(message) = ws.next().await {
        ws.send(message?).await?;
    }
    Ok(())
}
