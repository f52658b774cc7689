//! The heap a permessage-deflate connection holds, per window agreement.
//!
//! A compressor and a decompressor live as long as the connection: their
//! windows and tables are the price of compression, paid by every
//! connection that negotiates it. This measures that price on a server
//! connection that has received and sent a compressed message (so both
//! directions are warm), bounds it, and prints it (`--nocapture`).
//!
//! One test in this binary, so that the counting allocator sees one
//! connection at a time.

use wscore::test_support::pump;
use wscore::{Accept, ClientRequest, Config, Connection, DeflateConfig, Event, Instant, Message};

#[path = "support/counting.rs"]
mod counting;

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

const NOW: Instant = Instant::ZERO;

/// How much traffic a measured connection has seen.
#[derive(Clone, Copy, Debug)]
enum Traffic {
    /// The handshake only.
    Idle,
    /// One compressed message received.
    Received,
    /// One compressed message received and one sent.
    Both,
}

/// Heap bytes held by a server connection with `deflate` (or a plain one
/// with `None`) after `traffic`, events and transmits drained.
fn server_heap(deflate: Option<DeflateConfig>, traffic: Traffic) -> usize {
    let config = Config::default().deflate(deflate.clone());
    let json: String = (0..200)
        .map(|i| format!(r#"{{"id":{i},"name":"user{i}","active":true}},"#))
        .collect();
    let before = counting::live();
    let mut client =
        Connection::client(config.clone(), ClientRequest::new("h", "/"), [7; 32], NOW).unwrap();
    let mut server = Connection::server(config, NOW).unwrap();
    pump(&mut client, &mut server, NOW);
    assert!(matches!(server.poll_event(), Some(Event::Request(_))));
    server.accept(NOW, Accept::new()).unwrap();
    assert!(matches!(server.poll_event(), Some(Event::Connected(_))));
    assert_eq!(server.deflate().is_some(), deflate.is_some());
    pump(&mut server, &mut client, NOW);
    while client.poll_event().is_some() {}
    if let Traffic::Idle = traffic {
        drop(client);
        return counting::live().saturating_sub(before);
    }

    client.send(Message::text(json.clone())).unwrap();
    pump(&mut client, &mut server, NOW);
    let Some(Event::Message(Message::Text(got))) = server.poll_event() else {
        panic!("no message");
    };
    assert_eq!(got.as_str(), json);
    drop(got);
    if let Traffic::Received = traffic {
        drop(client);
        return counting::live().saturating_sub(before);
    }
    server.send(Message::text(json)).unwrap();
    pump(&mut server, &mut client, NOW);
    assert!(matches!(client.poll_event(), Some(Event::Message(_))));
    drop(client);
    // Everything the client allocated is gone with it: what is left over
    // the baseline is the server's.
    counting::live().saturating_sub(before)
}

#[test]
fn a_compressed_connection_holds_a_bounded_heap() {
    let plain = server_heap(None, Traffic::Both);
    println!("plain connection: {plain} B");
    assert!(plain < 4 << 10, "plain connection: {plain} B");
    let small = DeflateConfig::default()
        .server_no_context_takeover(true)
        .client_no_context_takeover(true)
        .server_max_window_bits(9)
        .client_max_window_bits(9);
    // Bounds: the codec states are built only when first needed.
    let rows = [
        (
            "15-bit windows",
            DeflateConfig::default(),
            Traffic::Idle,
            4 << 10,
        ),
        (
            "15-bit windows",
            DeflateConfig::default(),
            Traffic::Received,
            64 << 10,
        ),
        (
            "15-bit windows",
            DeflateConfig::default(),
            Traffic::Both,
            480 << 10,
        ),
        (
            "9-bit windows, no context takeover",
            small.clone(),
            Traffic::Idle,
            4 << 10,
        ),
        (
            "9-bit windows, no context takeover",
            small,
            Traffic::Both,
            340 << 10,
        ),
    ];
    for (name, deflate, traffic, bound) in rows {
        let heap = server_heap(Some(deflate), traffic);
        println!("{name}, {traffic:?}: {heap} B");
        assert!(heap <= bound, "{name}, {traffic:?}: {heap} B > {bound} B");
    }
}
