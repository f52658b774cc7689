//! A transport that reads into spare capacity (`io::Transport` implemented
//! by hand, as `wscore-tokio`'s is): the socket reads its windows and large
//! frames' rooms through `poll_read_buf`, never zeroing them, within the
//! trait's contract, and every message arrives whole and in order.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::BytesMut;
use futures::io::AsyncRead;
use futures::{SinkExt, StreamExt};
use wscore_driver::io::Transport;
use wscore_driver::testing::{block_on, pipe, ManualTimer, PipeEnd};
use wscore_driver::{Accept, ClientRequest, CloseCode, Config, Error, Message, Socket};

/// Reads of at most this many bytes, so a large frame takes many reads
/// into its room.
const READ: usize = 1500;

/// What the socket asked of the transport.
#[derive(Debug, Default)]
struct Calls {
    /// Reads into spare capacity.
    spare: AtomicUsize,
    /// Calls that broke the contract: `max` of 0, or spare capacity
    /// below `max`.
    broken: AtomicUsize,
}

/// A pipe end read into spare capacity: each read lands in a small stack
/// buffer and is appended, which touches no uninitialized byte.
struct SpareReads {
    end: PipeEnd,
    calls: Arc<Calls>,
}

impl Transport for SpareReads {
    const READS_INTO_SPARE_CAPACITY: bool = true;

    fn poll_read_slice(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.end).poll_read(cx, buf)
    }

    fn poll_read_buf(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
        max: usize,
    ) -> Poll<io::Result<usize>> {
        self.calls.spare.fetch_add(1, Ordering::Relaxed);
        if max == 0 || buf.capacity() - buf.len() < max {
            self.calls.broken.fetch_add(1, Ordering::Relaxed);
        }
        let mut block = [0u8; READ];
        let want = max.min(READ);
        let read = Pin::new(&mut self.end).poll_read(cx, &mut block[..want]);
        if let Poll::Ready(Ok(n)) = read {
            buf.extend_from_slice(&block[..n]);
        }
        read
    }
}

impl futures::io::AsyncWrite for SpareReads {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.end).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.end).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.end).poll_close(cx)
    }
}

type Ws = Socket<SpareReads, ManualTimer>;

/// A server and a client joined by a pipe of `capacity` bytes, both
/// reading into spare capacity.
async fn pair(capacity: usize, calls: &Arc<Calls>) -> (Ws, Ws) {
    let (a, b) = pipe(capacity);
    let wrap = |end| SpareReads {
        end,
        calls: calls.clone(),
    };
    let request = ClientRequest::new("localhost", "/");
    let (server, client) = futures::join!(
        Ws::accept_with(wrap(a), Config::default(), |_| Ok(Accept::new())),
        Ws::client(wrap(b), request, Config::default()),
    );
    (server.unwrap(), client.unwrap().0)
}

/// Messages of every size class: small ones read through the shared
/// buffer and windows, and frames of 64 KiB and more read into their room.
fn messages() -> Vec<Message> {
    let mut messages = Vec::new();
    for (i, len) in [0, 1, 125, 4096, 70_000, 300_000, 1 << 20, 16, 65_536]
        .into_iter()
        .enumerate()
    {
        let text: String = "zoë 5 € ".chars().cycle().take(len).collect();
        messages.push(Message::text(text));
        messages.push(Message::binary(
            (0..len).map(|b| (b * 7 + i) as u8).collect::<Vec<u8>>(),
        ));
    }
    messages
}

#[test]
fn every_message_arrives_whole_through_spare_capacity_reads() {
    let calls = Arc::new(Calls::default());
    block_on(async {
        let (mut server, client) = pair(10_000, &calls).await;
        let sent = messages();
        let echo = async {
            while let Some(message) = server.next().await {
                server.send(message.unwrap()).await.unwrap();
            }
        };
        let (rx, tx) = client.split();
        let send = async {
            let mut tx = tx;
            for message in &sent {
                tx.feed(message.clone()).await.unwrap();
            }
            tx.flush().await.unwrap();
            tx
        };
        let receive = async {
            let mut rx = rx;
            let mut echoed = Vec::new();
            while echoed.len() < sent.len() {
                echoed.push(rx.next().await.unwrap().unwrap());
            }
            (rx, echoed)
        };
        let talk = async {
            let (mut tx, (mut rx, echoed)) = futures::join!(send, receive);
            let (closed, end) = futures::join!(tx.close(CloseCode::NORMAL, ""), rx.next());
            closed.unwrap();
            assert!(end.is_none());
            echoed
        };
        let ((), echoed) = futures::join!(echo, talk);
        assert_eq!(echoed, sent);
    });
    // Both ends read through the spare-capacity path, within its contract.
    assert!(calls.spare.load(Ordering::Relaxed) > 2 * (2 << 20) / READ);
    assert_eq!(calls.broken.load(Ordering::Relaxed), 0);
}

#[test]
fn invalid_text_in_a_large_frames_room_fails_with_1007() {
    let calls = Arc::new(Calls::default());
    block_on(async {
        let (a, b) = pipe(10_000);
        let mut raw = b;
        let server = Ws::from_upgraded(
            SpareReads {
                end: a,
                calls: calls.clone(),
            },
            wscore_driver::Role::Server,
            Config::default(),
        )
        .unwrap();
        // One masked text frame of 200 000 bytes, invalid near its end:
        // read into the room, well after its first read.
        let mut payload = vec![b'a'; 200_000];
        payload[199_000] = 0xff;
        let mut frame = vec![0x81, 0xff];
        frame.extend_from_slice(&(payload.len() as u64).to_be_bytes());
        frame.extend_from_slice(&[0; 4]);
        frame.extend_from_slice(&payload);
        let writer = async {
            use futures::io::AsyncWriteExt;
            // The server may close before taking everything.
            let _ = raw.write_all(&frame).await;
            let _ = raw.flush().await;
            raw
        };
        let reader = async {
            let mut server = server;
            let received = server.next().await;
            (server, received)
        };
        let (_raw, (server, received)) = futures::join!(writer, reader);
        assert!(
            matches!(received, Some(Err(Error::Protocol(_)))) || received.is_none(),
            "{received:?}"
        );
        let closed = server.closed().expect("closed");
        assert_eq!(closed.code, CloseCode::INVALID_PAYLOAD);
    });
    assert!(calls.spare.load(Ordering::Relaxed) > 100);
    assert_eq!(calls.broken.load(Ordering::Relaxed), 0);
}
