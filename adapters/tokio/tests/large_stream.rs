//! A 256 MiB stream through the tokio socket, sent from a reader and
//! received piece by piece, with the heap of both ends counted: memory is
//! bounded by the windows and limits, not by the stream. A receiver that
//! stops taking pieces stops the sender.
//!
//! One test in this binary: the counting allocator is global.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use wscore::{Config as ProtocolConfig, ReceiveMode, Subprotocol};
use wscore_tokio::{Accept, ClientRequest, Config, Event, StreamEvent};

#[path = "support/counting.rs"]
mod counting;

const LEN: u64 = 256 << 20;
/// The pattern's period: a prime, so pieces never line up with it.
const PERIOD: usize = 251;

/// `PERIOD` repeated enough to cover any piece at any phase.
fn periodic() -> Vec<u8> {
    (0..PERIOD * 1100).map(|i| (i % PERIOD) as u8).collect()
}

/// The bytes of the stream at `offset..offset + len`.
fn expected(periodic: &[u8], offset: u64, len: usize) -> &[u8] {
    let phase = (offset % PERIOD as u64) as usize;
    &periodic[phase..phase + len]
}

/// A source of `LEN` pattern bytes that counts what it has produced.
struct Source {
    periodic: Vec<u8>,
    at: u64,
    produced: Arc<AtomicU64>,
}

impl futures::io::AsyncRead for Source {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let n = buf.len().min((LEN - self.at) as usize).min(256 << 10);
        buf[..n].copy_from_slice(expected(&self.periodic, self.at, n));
        self.at += n as u64;
        self.produced.store(self.at, Ordering::Relaxed);
        Poll::Ready(Ok(n))
    }
}

#[tokio::test]
async fn a_256_mib_stream_flows_through_bounded_memory() {
    let protocol = ProtocolConfig::default().subprotocols(vec![Subprotocol::streamed("big")]);
    let receiver = Config::from(protocol.clone().receive_mode(ReceiveMode::Incremental));
    let (a, b) = tokio::io::duplex(256 << 10);
    let request = ClientRequest::new("localhost", "/").subprotocol("big");
    let (server, client) = tokio::join!(
        wscore_tokio::accept_with(a, Config::from(protocol), |_| Ok(Accept::new())),
        wscore_tokio::client(b, request, receiver),
    );
    let (mut sender, mut receiver) = (server.unwrap(), client.unwrap().0);
    let periodic = periodic();
    let produced = Arc::new(AtomicU64::new(0));
    let source = Source {
        periodic: periodic.clone(),
        at: 0,
        produced: produced.clone(),
    };

    let base = counting::reset_peak();
    let sending = tokio::spawn(async move {
        sender
            .send_stream_from_reader(source, LEN, "pattern.bin")
            .await
            .unwrap();
        sender
    });

    let Some(Ok(Event::Stream(StreamEvent::Started {
        total_len,
        metadata,
        ..
    }))) = receiver.next_event().await
    else {
        panic!("expected the stream to start");
    };
    assert_eq!((total_len, metadata.as_ref()), (LEN, &b"pattern.bin"[..]));

    // The receiver stalls: the sender stops once the transport and the
    // limits are full, far short of the stream.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stalled = produced.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(produced.load(Ordering::Relaxed), stalled);
    assert!(stalled < 4 << 20, "{stalled} bytes produced while stalled");

    let mut received = 0u64;
    while received < LEN {
        match receiver.next_event().await {
            Some(Ok(Event::Stream(StreamEvent::Data { data, .. }))) => {
                assert!(
                    data == expected(&periodic, received, data.len()),
                    "wrong bytes at {received}"
                );
                received += data.len() as u64;
            }
            other => panic!("unexpected {other:?} after {received} bytes"),
        }
    }
    assert!(matches!(
        receiver.next_event().await,
        Some(Ok(Event::Stream(StreamEvent::Finished { .. })))
    ));
    drop(sending.await.unwrap());
    let peak = counting::peak() - base;
    eprintln!("peak heap of both ends above the connected sockets: {peak} bytes");
    assert!(peak < 4 << 20, "peak heap {peak} bytes");
}
