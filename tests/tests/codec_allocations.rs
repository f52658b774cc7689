//! Heap allocations of the frame codec's hot paths: a client's small
//! message, masked and written alone, allocates nothing once the
//! connection's queues have grown.
//!
//! One test in this binary, so that the counting allocator sees one
//! measurement at a time.

use bytes::Bytes;
use wscore::{Config, Connection, Instant, Message, Role};

#[path = "support/counting.rs"]
mod counting;

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

/// Sends `payload` as a binary message and writes out its frame,
/// returning the bytes written.
fn send_alone(conn: &mut Connection, payload: &Bytes, out: &mut Vec<u8>) {
    conn.send(Message::Binary(payload.clone())).unwrap();
    while let Some(transmit) = conn.poll_transmit() {
        transmit.write_to(out);
    }
}

#[test]
fn a_small_masked_frame_sent_alone_allocates_nothing() {
    let now = Instant::ZERO;
    let mut client = Connection::upgraded(Role::Client, Config::default(), [3; 32], now).unwrap();
    let payload = Bytes::from_static(b"sixteen bytes!!!");
    let mut out = Vec::with_capacity(1 << 16);
    // The first send grows the outbound queue.
    send_alone(&mut client, &payload, &mut out);
    let before = counting::allocations();
    for _ in 0..1000 {
        send_alone(&mut client, &payload, &mut out);
    }
    let allocations = counting::allocations() - before;
    println!("1000 small masked frames: {allocations} allocations");
    assert_eq!(allocations, 0);

    // What was written is 1001 masked frames of the payload.
    let mut server = Connection::upgraded(Role::Server, Config::default(), [4; 32], now).unwrap();
    server.handle_input(now, &out);
    let mut received = 0;
    while let Some(event) = server.poll_event() {
        assert_eq!(
            event,
            wscore::Event::Message(Message::Binary(payload.clone()))
        );
        received += 1;
    }
    assert_eq!(received, 1001);
}
