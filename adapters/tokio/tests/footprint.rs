//! What an idle connection's task holds inline: tokio allocates every
//! spawned task with its future in it, for the task's whole life, so a
//! future that keeps the accept handshake's state beside the socket it
//! returns costs that much per connection, idle or not.

use futures::StreamExt;
use tokio::net::TcpStream;

/// Bytes an accept or connect future may hold inline: a pointer to the
/// engine, the callback and the state of a poll, not the engine or the
/// configuration.
const SMALL_FUTURE: usize = 512;

/// A hub member's accept future also carries its admission (rooms, tags,
/// attachment, key) from the handshake to the registration.
const MEMBER_FUTURE: usize = 1024;

async fn echo(stream: TcpStream) {
    let Ok(mut ws) = wscore_tokio::accept(stream).await else {
        return;
    };
    while let Some(Ok(message)) = ws.next().await {
        if ws.send(message).await.is_err() {
            break;
        }
    }
}

#[test]
fn the_socket_and_its_handshake_futures_keep_the_engine_on_the_heap() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();

        let socket = std::mem::size_of::<wscore_tokio::WebSocket<TcpStream>>();
        assert!(socket <= 16, "WebSocket is {socket} bytes");

        let accept = wscore_tokio::accept(TcpStream::connect(addr).await.unwrap());
        let size = std::mem::size_of_val(&accept);
        assert!(size <= SMALL_FUTURE, "accept future is {size} bytes");
        drop(accept);

        let hub: wscore_tokio::Hub = wscore_tokio::Hub::new(wscore_tokio::HubConfig::default());
        let member = wscore_tokio::accept_member(
            &hub,
            TcpStream::connect(addr).await.unwrap(),
            wscore_tokio::Config::default(),
        );
        let size = std::mem::size_of_val(&member);
        assert!(
            size <= MEMBER_FUTURE,
            "accept_member future is {size} bytes"
        );
        drop(member);

        // A whole echo task, as a server spawns it per connection.
        let task = echo(TcpStream::connect(addr).await.unwrap());
        let size = std::mem::size_of_val(&task);
        assert!(size <= SMALL_FUTURE, "echo task future is {size} bytes");
    });
}
