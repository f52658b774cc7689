//! A 64 MiB stream read through a `Body` while another stream interleaves
//! with it in small pieces, with the heap of both ends counted: a body
//! reader that stalls stops the socket reading, and the other stream is
//! held only within the side budget (then dropped), so memory is bounded by
//! the windows and limits, not by the streams. The small pieces would each
//! keep a read window alive if they were held as slices of it.
//!
//! One test in this binary: the counting allocator is global.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use wscore::{Config as ProtocolConfig, ReceiveMode, StreamConfig, Subprotocol};
use wscore_tokio::{Accept, ClientRequest, Config, Direction, Event, StreamError, StreamEvent};

#[path = "support/counting.rs"]
mod counting;

const LEN: u64 = 64 << 20;
const PIECE: usize = 64 << 10;
/// One piece of the other stream follows each piece of the main one.
const OTHER_PIECE: usize = 1536;
const OTHER_LEN: u64 = LEN / PIECE as u64 * OTHER_PIECE as u64;
/// The receiver's side budget (`StreamConfig::max_buffered`).
const BUDGET: usize = 1 << 20;
/// The pattern's period: a prime, so pieces never line up with it.
const PERIOD: usize = 251;

/// `PERIOD` repeated enough to cover any piece at any phase.
fn periodic() -> Vec<u8> {
    (0..PERIOD + (1 << 20))
        .map(|i| (i % PERIOD) as u8)
        .collect()
}

/// The bytes of the stream at `offset..offset + len`.
fn expected(periodic: &[u8], offset: u64, len: usize) -> &[u8] {
    let phase = (offset % PERIOD as u64) as usize;
    &periodic[phase..phase + len]
}

#[tokio::test]
async fn a_stalled_body_reader_keeps_memory_bounded() {
    let protocol = ProtocolConfig::default().subprotocols(vec![Subprotocol::streamed("big")]);
    let receiver = Config::from(
        protocol
            .clone()
            .receive_mode(ReceiveMode::Incremental)
            .stream(StreamConfig::default().max_buffered(BUDGET)),
    );
    let (a, b) = tokio::io::duplex(256 << 10);
    let request = ClientRequest::new("localhost", "/").subprotocol("big");
    let (server, client) = tokio::join!(
        wscore_tokio::accept_with(a, Config::from(protocol), |_| Ok(Accept::new())),
        wscore_tokio::client(b, request, receiver),
    );
    let (mut sender, mut receiver) = (server.unwrap(), client.unwrap().0);
    let periodic = Arc::new(periodic());
    let produced = Arc::new(AtomicU64::new(0));

    let base = counting::reset_peak();
    let sending = {
        let (periodic, produced) = (periodic.clone(), produced.clone());
        tokio::spawn(async move {
            let main = sender.open_stream(LEN, "main").unwrap();
            let other = sender.open_stream(OTHER_LEN, "other").unwrap();
            let mut at = 0u64;
            while at < LEN {
                let piece = Bytes::copy_from_slice(expected(&periodic, at, PIECE));
                sender.push_stream(main, piece).await.unwrap();
                let piece = Bytes::copy_from_slice(expected(&periodic, at, OTHER_PIECE));
                sender.push_stream(other, piece).await.unwrap();
                at += PIECE as u64;
                produced.store(at, Ordering::Relaxed);
            }
            sender.flush().await.unwrap();
            sender
        })
    };

    let Some(Ok(Event::Stream(StreamEvent::Started { id, total_len, .. }))) =
        receiver.next_event().await
    else {
        panic!("expected the main stream to start");
    };
    assert_eq!(total_len, LEN);

    let mut received = 0u64;
    {
        let mut body = receiver.stream_body(id);
        let first = body.next().await.unwrap().unwrap();
        assert!(first == expected(&periodic, 0, first.len()));
        received += first.len() as u64;

        // The body reader stalls: the sender stops once the transport and
        // the limits are full, far short of the streams.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let stalled = produced.load(Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(produced.load(Ordering::Relaxed), stalled);
        assert!(stalled < 4 << 20, "{stalled} bytes produced while stalled");

        while let Some(piece) = body.next().await {
            let piece = piece.unwrap();
            assert!(
                piece == expected(&periodic, received, piece.len()),
                "wrong bytes at {received}"
            );
            received += piece.len() as u64;
        }
    }
    assert_eq!(received, LEN);
    drop(sending.await.unwrap());

    // The other stream outgrew the side budget while the body was read: it
    // was dropped and its end reported, not held.
    let mut other_end = None;
    while let Some(Ok(event)) = receiver.next_event().await {
        match event {
            Event::Stream(StreamEvent::Started { .. }) => {}
            Event::Stream(StreamEvent::Failed {
                direction: Direction::Inbound,
                error,
                ..
            }) => {
                other_end = Some(error);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(other_end, Some(StreamError::BufferLimit));
    assert_eq!(receiver.undelivered_streams(), 1);

    let peak = counting::peak() - base;
    eprintln!("peak heap of both ends above the connected sockets: {peak} bytes");
    assert!(peak < 4 << 20, "peak heap {peak} bytes");
}
