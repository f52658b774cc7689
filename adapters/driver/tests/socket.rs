//! The socket's behaviour, written once for every runtime: both roles over
//! the in-memory pipe of `wscore_driver::testing`, with its manual clock
//! where deadlines are involved, so every instant asserted here is exact.
//! The runtime crates test their own timer and TCP on top of this.

use std::time::Duration;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use futures::{SinkExt, StreamExt};
use wscore::{Config as ProtocolConfig, HandshakeError, Keepalive, ProtocolError};
use wscore_driver::testing::{self, block_on, pipe, ManualTimer, PipeEnd};
use wscore_driver::{
    Accept, ClientRequest, CloseCause, CloseCode, Config, Error, Message, Reject, Role, Socket,
    TimeoutKind,
};

type Ws = Socket<PipeEnd, ManualTimer>;

/// A server and a client joined by a pipe of `capacity` bytes.
async fn pipe_pair(capacity: usize, server: Config, client: Config) -> (Ws, Ws) {
    let (a, b) = pipe(capacity);
    let request = ClientRequest::new("localhost", "/");
    let (server, client) = futures::join!(
        Ws::accept_with(a, server, |_| Ok(Accept::new())),
        Ws::client(b, request, client),
    );
    (server.unwrap(), client.unwrap().0)
}

fn keepalive(interval: u64, timeout: u64) -> Config {
    ProtocolConfig::default()
        .keepalive(Some(Keepalive {
            interval: Duration::from_secs(interval),
            timeout: Duration::from_secs(timeout),
        }))
        .into()
}

/// Echoes until the end; returns how many messages it echoed.
async fn echo(mut ws: Ws) -> usize {
    let mut echoed = 0;
    while let Some(message) = ws.next().await {
        ws.send(message.unwrap()).await.unwrap();
        echoed += 1;
    }
    echoed
}

fn sample_messages() -> Vec<Message> {
    vec![
        Message::text("hello"),
        Message::binary(vec![0u8, 1, 2, 255]),
        Message::text(""),
        // Larger than a fragment and than the read buffer.
        Message::binary(vec![7u8; 300_000]),
        Message::text("é".repeat(70_000)),
    ]
}

#[test]
fn echo_round_trip_through_sink_and_stream() {
    block_on(async {
        // Room for every echo: the client reads only after writing them all.
        let (server, mut client) = pipe_pair(1 << 20, Config::default(), Config::default()).await;
        let client = async {
            // `feed` queues without flushing; one flush writes the batch.
            for message in sample_messages() {
                client.feed(message).await.unwrap();
            }
            client.flush().await.unwrap();
            for message in sample_messages() {
                assert_eq!(client.next().await.unwrap().unwrap(), message);
            }
            // `SinkExt::close` runs the close handshake with 1000.
            SinkExt::close(&mut client).await.unwrap();
            assert_eq!(client.closed().unwrap().code, CloseCode::NORMAL);
        };
        let (echoed, ()) = futures::join!(echo(server), client);
        assert_eq!(echoed, sample_messages().len());
    });
}

#[test]
fn echo_round_trip_one_message_at_a_time_through_a_small_pipe() {
    block_on(async {
        let (server, mut client) = pipe_pair(4096, Config::default(), Config::default()).await;
        let client = async {
            for message in sample_messages() {
                client.send(message.clone()).await.unwrap();
                assert_eq!(client.next().await.unwrap().unwrap(), message);
            }
            SinkExt::close(&mut client).await.unwrap();
            assert_eq!(client.closed().unwrap().code, CloseCode::NORMAL);
        };
        let (echoed, ()) = futures::join!(echo(server), client);
        assert_eq!(echoed, sample_messages().len());
    });
}

#[test]
fn short_writes_deliver_every_byte_in_order() {
    block_on(async {
        let (a, b) = pipe(4096);
        // Each write call takes a few bytes: headers and payloads are cut
        // anywhere, vectored writes come back partial.
        a.limit_writes(7);
        b.limit_writes(5);
        let request = ClientRequest::new("localhost", "/");
        let (server, client) = futures::join!(
            Ws::accept(a, Config::default()),
            Ws::client(b, request, Config::default()),
        );
        let (server, mut client) = (server.unwrap(), client.unwrap().0);
        let client = async {
            for message in sample_messages() {
                client.send(message.clone()).await.unwrap();
                assert_eq!(client.next().await.unwrap().unwrap(), message);
            }
            client.close(CloseCode::NORMAL, "done").await.unwrap();
            assert_eq!(client.closed().unwrap().cause, CloseCause::Local);
        };
        let (echoed, ()) = futures::join!(echo(server), client);
        assert_eq!(echoed, sample_messages().len());
    });
}

#[test]
fn callback_sees_the_request_and_chooses_a_subprotocol() {
    block_on(async {
        let (a, b) = pipe(4096);
        let request = ClientRequest::new("localhost", "/chat?room=1")
            .subprotocol("v1")
            .subprotocol("v2")
            .header("X-Token", "secret");
        let (server, client) = futures::join!(
            Ws::accept_with(a, Config::default(), |request| {
                assert_eq!(request.path(), "/chat");
                assert_eq!(request.query(), Some("room=1"));
                assert_eq!(request.header("x-token"), Some(&b"secret"[..]));
                assert_eq!(request.subprotocols(), ["v1", "v2"]);
                Ok(Accept::new().subprotocol("v2"))
            }),
            Ws::client(b, request, Config::default()),
        );
        let (client, response) = client.unwrap();
        assert_eq!(response.status(), 101);
        assert_eq!(client.subprotocol(), Some("v2"));
        assert_eq!(response.subprotocol(), Some("v2"));
        assert_eq!(server.unwrap().subprotocol(), Some("v2"));
    });
}

#[test]
fn callback_rejects_with_a_status() {
    block_on(async {
        let (a, b) = pipe(4096);
        let (server, client) = futures::join!(
            Ws::accept_with(a, Config::default(), |_| Err(
                Reject::new(403).body("go away")
            )),
            Ws::client(b, ClientRequest::new("localhost", "/"), Config::default()),
        );
        assert!(matches!(
            client,
            Err(Error::Handshake(HandshakeError::Status(403)))
        ));
        assert!(matches!(server, Err(Error::Rejected(403))));
    });
}

#[test]
fn an_unoffered_subprotocol_is_answered_with_500() {
    block_on(async {
        let (a, b) = pipe(4096);
        let (server, client) = futures::join!(
            Ws::accept_with(a, Config::default(), |_| {
                Ok(Accept::new().subprotocol("never-offered"))
            }),
            Ws::client(b, ClientRequest::new("localhost", "/"), Config::default()),
        );
        assert!(matches!(server, Err(Error::Send(_))));
        assert!(matches!(
            client,
            Err(Error::Handshake(HandshakeError::Status(500)))
        ));
    });
}

#[test]
fn keepalive_ends_a_connection_whose_peer_stopped_answering() {
    block_on(async {
        // The client is never polled again: it reads no ping and answers none.
        let (mut server, _silent_client) =
            pipe_pair(1 << 16, keepalive(5, 2), Config::default()).await;
        let start = testing::now();
        let end = server.next().await;
        assert!(matches!(
            end,
            Some(Err(Error::Timeout(TimeoutKind::Keepalive)))
        ));
        // A ping after 5 s of silence, 2 s to answer it.
        assert_eq!(testing::now() - start, Duration::from_secs(7));
        assert!(server.next().await.is_none());
    });
}

#[test]
fn keepalive_ends_a_connection_whose_transport_stopped_reading() {
    block_on(async {
        let (mut server, client) = pipe_pair(1 << 16, keepalive(5, 2), Config::default()).await;
        // The client is polled all along, but its transport delivers nothing.
        client.get_ref().stop_reading();
        let (mut rx, _tx) = client.split();
        let start = testing::now();
        let server = async {
            let end = server.next().await;
            assert!(matches!(
                end,
                Some(Err(Error::Timeout(TimeoutKind::Keepalive)))
            ));
            assert_eq!(testing::now() - start, Duration::from_secs(7));
        };
        let client = testing::timeout(Duration::from_secs(60), rx.next());
        let ((), client_end) = futures::join!(server, client);
        // Nothing reached the client, not even the close frame.
        assert!(client_end.is_err());
    });
}

#[test]
fn keepalive_is_answered_by_a_peer_that_only_reads() {
    block_on(async {
        let (mut server, client) = pipe_pair(1 << 16, keepalive(5, 2), Config::default()).await;
        // The client's read half answers pings while its write half is idle.
        let (mut rx, _tx) = client.split();
        let reader = async {
            let mut received = Vec::new();
            while let Some(message) = rx.next().await {
                received.push(message.unwrap());
            }
            received
        };
        let server = async {
            // A minute of silence: pings every 5 s, each answered in time.
            let start = testing::now();
            let quiet = testing::timeout(Duration::from_secs(60), server.next()).await;
            assert!(quiet.is_err(), "the connection ended: {quiet:?}");
            assert_eq!(testing::now() - start, Duration::from_secs(60));
            server.send(Message::text("still here")).await.unwrap();
            server.close(CloseCode::NORMAL, "").await.unwrap();
            assert_eq!(server.closed().unwrap().cause, CloseCause::Local);
        };
        let (received, ()) = futures::join!(reader, server);
        assert_eq!(received, vec![Message::text("still here")]);
    });
}

#[test]
fn handshake_deadline() {
    block_on(async {
        let (a, _silent) = pipe(4096);
        let config = ProtocolConfig::default().handshake_timeout(Duration::from_secs(3));
        let start = testing::now();
        let result = Ws::accept_with(a, config, |_| Ok(Accept::new())).await;
        assert!(matches!(
            result,
            Err(Error::Timeout(TimeoutKind::Handshake))
        ));
        assert_eq!(testing::now() - start, Duration::from_secs(3));
    });
}

#[test]
fn close_deadline_when_the_peer_never_answers() {
    block_on(async {
        let client_config = ProtocolConfig::default().close_timeout(Duration::from_secs(2));
        let (_silent_server, mut client) =
            pipe_pair(1 << 16, Config::default(), client_config.into()).await;
        client.send(Message::text("hi")).await.unwrap();
        let start = testing::now();
        client.close(CloseCode::NORMAL, "").await.unwrap();
        assert_eq!(testing::now() - start, Duration::from_secs(2));
        assert_eq!(
            client.closed().unwrap().cause,
            CloseCause::Timeout(TimeoutKind::Close)
        );
        // The error is reported once by the stream, then it ends.
        assert!(matches!(
            client.next().await,
            Some(Err(Error::Timeout(TimeoutKind::Close)))
        ));
        assert!(client.next().await.is_none());
    });
}

#[test]
fn send_waits_for_a_slow_reader_and_memory_stays_bounded() {
    const LIMIT: usize = 64 << 10;
    const CAPACITY: usize = 16 << 10;
    const SIZE: usize = 4096;
    block_on(async {
        let server_config = Config::default().write_buffer_limit(LIMIT);
        let (mut server, mut client) = pipe_pair(CAPACITY, server_config, Config::default()).await;
        let message = Message::binary(vec![1u8; SIZE]);
        let mut sent = 0;
        // The client does not read: queuing stops once the limit is reached.
        while testing::timeout(Duration::from_millis(100), server.feed(message.clone()))
            .await
            .is_ok()
        {
            sent += 1;
            assert!(server.buffered_amount() <= LIMIT + 2 * SIZE);
            assert!(sent < 1000, "send never waited");
        }
        assert!(sent >= LIMIT / SIZE, "waited too early: {sent}");
        // What is in flight is the pipe's capacity, nothing more.
        assert!(client.get_ref().unread() <= CAPACITY);
        let reader = async {
            let mut received = 0;
            while let Some(message) = client.next().await {
                assert_eq!(message.unwrap().len(), SIZE);
                received += 1;
            }
            received
        };
        // Everything queued goes out before the close frame.
        let (closed, received) = futures::join!(server.close(CloseCode::NORMAL, ""), reader);
        closed.unwrap();
        assert_eq!(received, sent);
    });
}

/// Every message `ws` receives until the connection ends.
async fn read_to_end(ws: &mut Ws) -> Vec<Message> {
    let mut received = Vec::new();
    while let Some(message) = ws.next().await {
        received.push(message.unwrap());
    }
    received
}

/// `received` is `n` binary messages of `size` bytes, the i-th filled with
/// `i as u8`.
fn assert_numbered(received: &[Message], n: usize, size: usize) {
    assert_eq!(received.len(), n);
    for (i, message) in received.iter().enumerate() {
        assert_eq!(message, &Message::binary(vec![i as u8; size]));
    }
}

#[test]
fn feed_all_queues_in_order_and_waits_at_the_limit() {
    const LIMIT: usize = 64 << 10;
    const SIZE: usize = 4096;
    const N: usize = 200;
    block_on(async {
        let client_config = Config::default().write_buffer_limit(LIMIT);
        let (mut server, mut client) = pipe_pair(16 << 10, Config::default(), client_config).await;
        let messages = (0..N).map(|i| Message::binary(vec![i as u8; SIZE]));
        // Nothing is read yet: the burst can only go out as the server
        // reads, so the sender waits at the limit on the way.
        let sender = async {
            let mut peak = 0;
            for chunk in messages.collect::<Vec<_>>().chunks(10) {
                client.feed_all(chunk.iter().cloned()).await.unwrap();
                peak = peak.max(client.buffered_amount());
            }
            client.flush().await.unwrap();
            client.close(CloseCode::NORMAL, "").await.unwrap();
            peak
        };
        let reader = read_to_end(&mut server);
        let (peak, received) = futures::join!(sender, reader);
        assert!(peak <= LIMIT + 10 * (SIZE + 14), "peak {peak}");
        assert_numbered(&received, N, SIZE);
    });
}

#[test]
fn split_feed_all_takes_long_bursts_in_order_within_the_limit() {
    const LIMIT: usize = 64 << 10;
    const SIZE: usize = 1024;
    const N: usize = 500;
    block_on(async {
        let client_config = Config::default().write_buffer_limit(LIMIT);
        let (mut server, client) = pipe_pair(16 << 10, Config::default(), client_config).await;
        let (mut rx, mut tx) = client.split();
        // One burst, longer than a run under one lock and far past the
        // write limit: the sender waits for the reader several times.
        let sender = async {
            let messages = (0..N).map(|i| Message::binary(vec![i as u8; SIZE]));
            tx.feed_all(messages).await.unwrap();
            let peak = tx.buffered_amount();
            tx.flush().await.unwrap();
            let (closed, end) = futures::join!(tx.close(CloseCode::NORMAL, ""), rx.next());
            closed.unwrap();
            assert!(end.is_none());
            peak
        };
        let reader = read_to_end(&mut server);
        let (peak, received) = futures::join!(sender, reader);
        assert!(peak <= LIMIT + SIZE + 14, "peak {peak}");
        assert_numbered(&received, N, SIZE);
    });
}

#[test]
fn feed_all_after_close_fails_and_queues_nothing() {
    block_on(async {
        let (server, mut client) = pipe_pair(4096, Config::default(), Config::default()).await;
        let echoed = async { echo(server).await };
        let closing = async {
            client.close(CloseCode::NORMAL, "").await.unwrap();
            let refused = client.feed_all([Message::text("late")]).await;
            assert!(matches!(refused, Err(Error::Closed)), "{refused:?}");
        };
        let (echoed, ()) = futures::join!(echoed, closing);
        assert_eq!(echoed, 0);
    });
}

#[test]
fn split_halves_work_from_two_tasks() {
    const N: usize = 200;
    block_on(async {
        let (server, client) = pipe_pair(4096, Config::default(), Config::default()).await;
        let (mut rx, mut tx) = client.split();
        let writer = async move {
            for i in 0..N / 2 {
                tx.send(Message::text(i.to_string())).await.unwrap();
            }
            // The rest in bursts, written at the flush.
            for burst in (N / 2..N).collect::<Vec<_>>().chunks(7) {
                tx.feed_all(burst.iter().map(|i| Message::text(i.to_string())))
                    .await
                    .unwrap();
                tx.flush().await.unwrap();
            }
            tx
        };
        let reader = async move {
            for i in 0..N {
                assert_eq!(
                    rx.next().await.unwrap().unwrap(),
                    Message::text(i.to_string())
                );
            }
            rx
        };
        let client = async {
            let (mut tx, mut rx) = futures::join!(writer, reader);
            let (closed, end) = futures::join!(tx.close(CloseCode::NORMAL, ""), rx.next());
            closed.unwrap();
            assert!(end.is_none());
            assert_eq!(rx.closed().unwrap().cause, CloseCause::Local);
        };
        let (echoed, ()) = futures::join!(echo(server), client);
        assert_eq!(echoed, N);
    });
}

#[test]
fn read_half_receives_what_arrives_while_the_write_half_closes() {
    block_on(async {
        let (mut server, client) = pipe_pair(1 << 16, Config::default(), Config::default()).await;
        let (mut rx, mut tx) = client.split();
        let server = async {
            // Wait for the client's close, sending meanwhile.
            for i in 0..3 {
                server
                    .send(Message::text(format!("late {i}")))
                    .await
                    .unwrap();
            }
            assert!(server.next().await.is_none());
        };
        let client = async {
            testing::sleep(Duration::from_millis(20)).await;
            let collect = async {
                let mut received = Vec::new();
                while let Some(message) = rx.next().await {
                    received.push(message.unwrap());
                }
                received
            };
            let (closed, received) = futures::join!(tx.close(CloseCode::NORMAL, ""), collect);
            closed.unwrap();
            received
        };
        let ((), received) = futures::join!(server, client);
        let expected: Vec<_> = (0..3).map(|i| Message::text(format!("late {i}"))).collect();
        assert_eq!(received, expected);
    });
}

#[test]
fn a_message_sent_before_drop_is_delivered() {
    block_on(async {
        let (mut server, mut client) =
            pipe_pair(1 << 16, Config::default(), Config::default()).await;
        client.send(Message::text("last words")).await.unwrap();
        drop(client);
        assert_eq!(
            server.next().await.unwrap().unwrap(),
            Message::text("last words")
        );
        // No close handshake: the end is an error.
        match server.next().await {
            Some(Err(Error::Io(e))) => assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof),
            other => panic!("expected an unexpected EOF, got {other:?}"),
        }
        assert!(server.next().await.is_none());
        assert_eq!(server.closed().unwrap().cause, CloseCause::Eof);
    });
}

#[test]
fn a_peer_that_hangs_up_ends_the_stream_after_what_it_sent() {
    block_on(async {
        let (mut server, mut client) =
            pipe_pair(1 << 16, Config::default(), Config::default()).await;
        client.send(Message::text("before")).await.unwrap();
        // The transport vanishes under a live client.
        client.get_ref().hang_up();
        assert_eq!(
            server.next().await.unwrap().unwrap(),
            Message::text("before")
        );
        assert!(matches!(server.next().await, Some(Err(Error::Io(_)))));
        assert!(server.next().await.is_none());
        assert!(matches!(client.next().await, Some(Err(Error::Io(_)))));
        assert!(client.next().await.is_none());
    });
}

#[test]
fn protocol_error_sends_the_close_code_and_ends_the_stream() {
    block_on(async {
        let (a, mut raw) = pipe(4096);
        let server = async {
            let mut ws = Ws::accept(a, Config::default()).await.unwrap();
            ws.next().await
        };
        let peer = async {
            raw.write_all(
                b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                  Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
            )
            .await
            .unwrap();
            // An unmasked text frame: clients must mask.
            raw.write_all(b"\x81\x02hi").await.unwrap();
            let mut reply = Vec::new();
            raw.read_to_end(&mut reply).await.unwrap();
            reply
        };
        let (end, reply) = futures::join!(server, peer);
        assert!(matches!(
            end,
            Some(Err(Error::Protocol(ProtocolError::UnmaskedFrame)))
        ));
        let frame_at = reply.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        assert!(reply.starts_with(b"HTTP/1.1 101"));
        // Close frame, code 1002 with a reason naming the error, and then the
        // transport was shut down.
        let reason = b"unmasked frame from a client";
        let mut close = vec![0x88, 2 + reason.len() as u8, 0x03, 0xea];
        close.extend_from_slice(reason);
        assert_eq!(&reply[frame_at..], &close[..]);
    });
}

#[test]
fn pings_are_answered_and_commands_after_close_fail() {
    block_on(async {
        let (mut server, mut client) =
            pipe_pair(1 << 16, Config::default(), Config::default()).await;
        client.ping("are you there").await.unwrap();
        client.pong("unsolicited").await.unwrap();
        client.send(Message::text("after the ping")).await.unwrap();
        let echo = async {
            let first = server.next().await.unwrap().unwrap();
            server.send(first).await.unwrap();
            assert!(server.next().await.is_none());
        };
        let client = async {
            assert_eq!(
                client.next().await.unwrap().unwrap(),
                Message::text("after the ping")
            );
            assert!(matches!(
                client.ping(vec![0u8; 126]).await,
                Err(Error::Send(_))
            ));
            client.close(CloseCode::NORMAL, "").await.unwrap();
            client
        };
        let ((), mut client) = futures::join!(echo, client);
        assert!(matches!(
            client.send(Message::text("too late")).await,
            Err(Error::Closed)
        ));
        // Closing twice is harmless.
        client.close(CloseCode::NORMAL, "").await.unwrap();
    });
}

#[test]
fn from_upgraded_speaks_frames_at_once() {
    block_on(async {
        let (a, b) = pipe(4096);
        let mut server = Ws::from_upgraded(a, Role::Server, Config::default()).unwrap();
        let mut client = Ws::from_upgraded(b, Role::Client, Config::default()).unwrap();
        client.send(Message::text("no handshake")).await.unwrap();
        assert_eq!(
            server.next().await.unwrap().unwrap(),
            Message::text("no handshake")
        );
    });
}

/// A transport that counts the writes it took.
struct CountingWrites {
    io: PipeEnd,
    writes: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl futures::io::AsyncRead for CountingWrites {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl futures::io::AsyncWrite for CountingWrites {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let polled = std::pin::Pin::new(&mut self.io).poll_write(cx, buf);
        if let std::task::Poll::Ready(Ok(_)) = polled {
            self.writes
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        polled
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let polled = std::pin::Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if let std::task::Poll::Ready(Ok(_)) = polled {
            self.writes
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        polled
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_close(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_close(cx)
    }
}

#[test]
fn messages_ready_together_are_answered_with_one_write() {
    let (a, b) = pipe(1 << 16);
    let writes = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = CountingWrites {
        io: a,
        writes: std::sync::Arc::clone(&writes),
    };
    let mut server: Socket<CountingWrites, ManualTimer> =
        Socket::from_upgraded(counted, Role::Server, Config::default()).unwrap();
    let mut client = Ws::from_upgraded(b, Role::Client, Config::default()).unwrap();
    block_on(async {
        // Nothing has come: nothing is ready, and the socket still wakes
        // for what comes later.
        assert!(server.recv_ready().is_none());
        let (first, ()) = futures::join!(server.next(), async {
            client.send(Message::text("wake")).await.unwrap();
        });
        assert_eq!(first.unwrap().unwrap(), Message::text("wake"));

        for i in 0..5 {
            client.feed(Message::text(format!("m{i}"))).await.unwrap();
        }
        client.flush().await.unwrap();
        let before = writes.load(std::sync::atomic::Ordering::Relaxed);
        let first = server.next().await.unwrap().unwrap();
        server.feed(first).await.unwrap();
        let mut ready = 1;
        while let Some(message) = server.recv_ready() {
            server.feed(message.unwrap()).await.unwrap();
            ready += 1;
        }
        assert_eq!(ready, 5);
        server.flush().await.unwrap();
        assert_eq!(
            writes.load(std::sync::atomic::Ordering::Relaxed) - before,
            1
        );
        for i in 0..5 {
            let echoed = client.next().await.unwrap().unwrap();
            assert_eq!(echoed, Message::text(format!("m{i}")));
        }
    });
}

#[test]
fn batched_messages_keep_their_order_among_pings_through_either_api() {
    use wscore::Subprotocol;
    use wscore_driver::Event;
    block_on(async {
        let batched: Config = ProtocolConfig::default()
            .subprotocols(vec![Subprotocol::batched("app.v1")])
            .into();
        let (mut server, mut client) = pipe_pair(1 << 16, batched.clone(), batched).await;
        let binary = |b: &'static [u8]| Message::binary(b);
        for m in [&b"a"[..], b"b", b"c"] {
            client.feed(binary(m)).await.unwrap();
        }
        client.flush().await.unwrap();
        client.ping("p").await.unwrap();
        for m in [&b"d"[..], b"e"] {
            client.feed(binary(m)).await.unwrap();
        }
        client.flush().await.unwrap();
        assert_eq!(server.next().await.unwrap().unwrap(), binary(b"a"));
        // The same batch, taken as events: the order does not change.
        assert_eq!(
            server.next_event().await.unwrap().unwrap(),
            Event::Message(binary(b"b"))
        );
        assert_eq!(server.next().await.unwrap().unwrap(), binary(b"c"));
        assert_eq!(
            server.next_event().await.unwrap().unwrap(),
            Event::Ping(bytes::Bytes::from_static(b"p"))
        );
        assert_eq!(server.next().await.unwrap().unwrap(), binary(b"d"));
        assert_eq!(server.next().await.unwrap().unwrap(), binary(b"e"));
        client.close(CloseCode::NORMAL, "").await.unwrap();
        assert!(server.next().await.is_none());
    });
}
