#![no_main]
//! The client's validation of the server's response, on arbitrary bytes
//! prefixed by a plausible status line: never panics, and a connection that
//! opens does so only with the expected accept key.

use libfuzzer_sys::fuzz_target;
use wscore::{ClientRequest, Config, Connection, Event, Instant};

fuzz_target!(|data: &[u8]| {
    let request = ClientRequest::new("h", "/")
        .subprotocol("a")
        .subprotocol("b");
    let mut conn = Connection::client(Config::default(), request, [9; 32], Instant::ZERO).unwrap();
    while conn.poll_transmit().is_some() {}
    conn.handle_input(Instant::ZERO, data);
    while let Some(event) = conn.poll_event() {
        if let Event::Connected(connected) = event {
            let response = connected.response.expect("a client sees the response");
            assert_eq!(response.status(), 101);
            if let Some(p) = connected.subprotocol.as_deref() {
                assert!(p == "a" || p == "b", "unoffered subprotocol {p}");
            }
        }
    }
});
