//! Heap allocations a server makes to accept one WebSocket upgrade.
//!
//! Every connection pays for its opening handshake, so its allocations
//! are bounded here: from the request's bytes to the `101` response
//! written, with the request taken by the application in between. The
//! request is the kind a browser sends (a dozen header fields, a
//! subprotocol and a permessage-deflate offer), and the server runs a
//! subprotocol and permessage-deflate, so negotiation is counted too.
//! Run with `--nocapture` to see the count.
//!
//! One test in this binary, so that the counting allocator sees one
//! handshake at a time.

use wscore::{Accept, Config, Connection, DeflateConfig, Event, Instant, Subprotocol};

#[path = "support/counting.rs"]
mod counting;

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

const NOW: Instant = Instant::ZERO;

const REQUEST: &[u8] = b"GET /chat?room=7 HTTP/1.1\r\n\
    Host: example.com:8080\r\n\
    Connection: Upgrade\r\n\
    Pragma: no-cache\r\n\
    Cache-Control: no-cache\r\n\
    User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)\r\n\
    Upgrade: websocket\r\n\
    Origin: https://example.com\r\n\
    Sec-WebSocket-Version: 13\r\n\
    Accept-Encoding: gzip, deflate, br\r\n\
    Accept-Language: en-GB,en;q=0.9\r\n\
    Cookie: session=0123456789abcdef\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Protocol: chat, superchat\r\n\
    Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n";

/// Header fields in [`REQUEST`].
const FIELDS: usize = 15;

/// The most allocations one accepted handshake may make: the request
/// handed to the application owns each field's name and value (two per
/// field); everything else (the parsed parts of the request, the
/// connection's buffers, the negotiation and the response) takes a fixed
/// number. Two of those are boxes that keep every open connection small:
/// the pending decision, and the compression codec.
const MAX_ALLOCATIONS: usize = 2 * FIELDS + 20;

/// Accepts `REQUEST` on a fresh server and returns the allocations it took,
/// configuration excluded.
fn accepted_handshake(config: Config) -> usize {
    let before = counting::allocations();
    let mut server = Connection::server(config, NOW).unwrap();
    server.handle_input(NOW, REQUEST);
    let Some(Event::Request(request)) = server.poll_event() else {
        panic!("no request event");
    };
    assert_eq!(request.path(), "/chat");
    drop(request);
    server.accept(NOW, Accept::new()).unwrap();
    let mut response = Vec::with_capacity(512);
    while let Some(transmit) = server.poll_transmit() {
        transmit.write_to(&mut response);
    }
    let text = std::str::from_utf8(&response).unwrap();
    assert!(text.starts_with("HTTP/1.1 101 "), "{text}");
    assert!(text.contains("Sec-WebSocket-Protocol: chat\r\n"), "{text}");
    assert!(text.contains("permessage-deflate"), "{text}");
    assert!(server.is_open());
    drop(server);
    // The response buffer is the test's own.
    counting::allocations() - before - 1
}

#[test]
fn an_accepted_handshake_allocates_little() {
    let config = || {
        Config::default()
            .subprotocols(vec![Subprotocol::plain("chat")])
            .deflate(Some(DeflateConfig::default()))
    };
    // The first run pays for lazily built statics, if any.
    accepted_handshake(config());
    let allocations = accepted_handshake(config());
    println!("allocations per accepted handshake: {allocations}");
    assert!(
        allocations <= MAX_ALLOCATIONS,
        "{allocations} allocations, more than {MAX_ALLOCATIONS}"
    );
}
