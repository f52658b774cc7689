//! wscore-async-std on smol: smol's executor and `async-net` at both ends of
//! a loopback connection, the server being the `smol_echo` example's.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use smol::net::TcpListener;
use wscore_async_std::{CloseCause, CloseCode, Message};

#[path = "../examples/smol_echo.rs"]
#[allow(dead_code)] // its `main`
mod example;

/// Fails a test that hangs instead of letting it block CI.
async fn within<T>(seconds: u64, run: impl std::future::Future<Output = T>) -> T {
    let timer = async {
        smol::Timer::after(Duration::from_secs(seconds)).await;
        panic!("still running after {seconds} s");
    };
    smol::future::or(run, timer).await
}

#[test]
fn echo_and_close_on_smol() {
    smol::block_on(within(10, async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = smol::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            example::echo(stream).await
        });

        let (mut ws, response) = wscore_async_std::connect(&format!("ws://{addr}/"))
            .await
            .unwrap();
        assert_eq!(response.status(), 101);
        let messages = [
            Message::text("hello"),
            Message::binary(vec![0u8, 1, 2, 255]),
            Message::binary(vec![7u8; 300_000]),
            Message::text("é".repeat(70_000)),
        ];
        for message in messages {
            ws.send(message.clone()).await.unwrap();
            assert_eq!(ws.next().await.unwrap().unwrap(), message);
        }
        ws.close(CloseCode::NORMAL, "bye").await.unwrap();
        assert_eq!(ws.closed().unwrap().cause, CloseCause::Local);
        assert!(ws.next().await.is_none());

        let closed = server.await.unwrap().expect("a close handshake");
        assert_eq!(closed.cause, CloseCause::Remote);
        assert_eq!(
            (closed.code, closed.reason.as_str()),
            (CloseCode::NORMAL, "bye")
        );
    }));
}

#[test]
fn split_halves_in_two_smol_tasks() {
    const COUNT: usize = 200;
    smol::block_on(within(10, async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = smol::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            example::echo(stream).await
        });
        let (ws, _) = wscore_async_std::connect(&format!("ws://{addr}/"))
            .await
            .unwrap();
        let (mut read, mut write) = ws.split();
        // The writer runs on smol's executor while this task reads: each
        // half wakes the other through the shared socket, and the reader
        // takes the peer's close frame that ends the writer's close.
        let writer = smol::spawn(async move {
            for i in 0..COUNT {
                write.feed(Message::text(i.to_string())).await?;
            }
            write.flush().await?;
            write.close(CloseCode::NORMAL, "done").await
        });
        for i in 0..COUNT {
            assert_eq!(
                read.next().await.unwrap().unwrap(),
                Message::text(i.to_string())
            );
        }
        assert!(read.next().await.is_none());
        writer.await.unwrap();
        assert_eq!(read.closed().unwrap().cause, CloseCause::Local);
        let closed = server.await.unwrap().expect("a close handshake");
        assert_eq!(closed.reason, "done");
    }));
}
