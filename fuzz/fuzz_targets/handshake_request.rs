#![no_main]
//! The server's upgrade-request parser on arbitrary bytes, whole and split:
//! never panics, never consumes more than it was given, and the result does
//! not depend on how the bytes arrived.

use libfuzzer_sys::fuzz_target;
use wscore::{Config, Connection, Event, Instant};

fn events(chunks: &[&[u8]]) -> Vec<Event> {
    let mut conn =
        Connection::server(Config::default().max_handshake_bytes(2048), Instant::ZERO).unwrap();
    for chunk in chunks {
        conn.handle_input(Instant::ZERO, chunk);
    }
    core::iter::from_fn(|| conn.poll_event()).collect()
}

fuzz_target!(|input: (u16, &[u8])| {
    let (split, data) = input;
    let at = usize::from(split) % (data.len() + 1);
    let (a, b) = data.split_at(at);
    assert_eq!(events(&[data]), events(&[a, b]));
});
