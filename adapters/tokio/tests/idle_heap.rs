//! What an idle socket keeps on the heap once it has answered a burst:
//! the engine, the core's queues at their resting size, nothing sized
//! for the burst.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::task::{Context, Poll};

use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use wscore::{Config as CoreConfig, Connection, Instant};
use wscore_tokio::{Config, Message, Role};

/// Live heap bytes of this test binary.
static LIVE: AtomicIsize = AtomicIsize::new(0);

struct Counting;

// SAFETY: every call is passed on to the system allocator unchanged; the
// counter only observes sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's layout, as `GlobalAlloc::alloc` requires.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// A peer that sent `data` and then goes quiet; writes are taken and
/// forgotten.
struct QuietPeer {
    data: Vec<u8>,
    pos: usize,
}

impl AsyncRead for QuietPeer {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let rest = &self.data[self.pos..];
        if rest.is_empty() {
            return Poll::Pending;
        }
        let n = rest.len().min(buf.remaining());
        buf.put_slice(&rest[..n]);
        self.pos += n;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for QuietPeer {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(b.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// One masked client frame of 16 bytes.
fn hello() -> Vec<u8> {
    let mut client =
        Connection::upgraded(Role::Client, CoreConfig::default(), [1; 32], Instant::ZERO).unwrap();
    client
        .send(Message::binary(&b"0123456789abcdef"[..]))
        .unwrap();
    let mut wire = Vec::new();
    while let Some(transmit) = client.poll_transmit() {
        transmit.write_to(&mut wire);
    }
    wire
}

#[test]
fn an_idle_socket_keeps_no_room_for_its_last_burst() {
    const SOCKETS: usize = 200;
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let wire = hello();
    let mut held = Vec::with_capacity(SOCKETS);
    let before = LIVE.load(Ordering::Relaxed);
    for _ in 0..SOCKETS {
        let peer = QuietPeer {
            data: wire.clone(),
            pos: 0,
        };
        held.push(rt.block_on(async {
            let mut ws =
                wscore_tokio::from_upgraded(peer, Role::Server, Config::default()).unwrap();
            let message = ws.next().await.unwrap().unwrap();
            // A burst of answers, written in one go.
            for _ in 0..40 {
                ws.feed(message.clone()).await.unwrap();
            }
            ws.flush().await.unwrap();
            ws
        }));
    }
    let per_socket = (LIVE.load(Ordering::Relaxed) - before) as usize / SOCKETS;
    // The peer's copy of the frame is counted too (about 30 bytes).
    assert!(
        per_socket <= 3 << 10,
        "an idle socket holds {per_socket} bytes"
    );
    drop(held);
}
