//! Heap allocations of one broadcast: a message prepared once and sent to
//! every connection costs the same whether it goes to ten connections or
//! to a thousand. Each connection's share of it is a reference to the
//! frame and a slot in its queue, and the queues were grown by an earlier
//! broadcast. With permessage-deflate and no context takeover the message
//! is compressed once for all of them. Run with `--nocapture` to see the
//! counts.
//!
//! One test in this binary, so that the counting allocator sees one
//! broadcast at a time.

use bytes::Bytes;
use wscore::test_support::Pair;
use wscore::{
    Config, Connection, DeflateConfig, Event, FrameEncoding, Instant, Message, PreparedMessage,
    Role, SharedCompressor,
};

#[path = "support/counting.rs"]
mod counting;

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

/// The most allocations a plain broadcast may make: the frame's buffer
/// and the state that shares it.
const MAX_PLAIN: usize = 2;

/// The most allocations a compressed broadcast may make: the plain frame
/// as above, the compressed output (the backend's buffer and the state
/// that shares it), its frame (likewise) and the record of it.
const MAX_COMPRESSED: usize = 8;

/// A text that compresses well, as broadcast news tends to.
fn news(round: u8) -> Message {
    let text = format!("{{\"round\":{round},\"scores\":[1,2,3,4,5,6,7,8,9,10]}}").repeat(40);
    Message::text(text)
}

/// Sends `prepared` to every connection and writes out what each queued;
/// returns the first connection's bytes. Every connection writes the same
/// frame, not a copy of it.
fn broadcast(connections: &mut [Connection], prepared: &PreparedMessage, frame: &Bytes) -> Bytes {
    for conn in connections.iter_mut() {
        conn.send_prepared(prepared).unwrap();
    }
    let mut first = None;
    for conn in connections.iter_mut() {
        let transmit = conn.poll_transmit().unwrap();
        assert!(transmit.header().is_empty());
        assert_eq!(transmit.payload().as_ptr(), frame.as_ptr());
        first.get_or_insert_with(|| transmit.payload().clone());
        assert!(conn.poll_transmit().is_none());
    }
    first.unwrap_or_default()
}

/// Allocations of one plain broadcast to `n` server connections.
fn plain_broadcast(n: usize) -> usize {
    let mut connections: Vec<Connection> = (0..n)
        .map(|_| Connection::upgraded(Role::Server, Config::default(), [0; 32], Instant::ZERO))
        .collect::<Result<_, _>>()
        .unwrap();
    for conn in &connections {
        assert_eq!(conn.frame_encoding(), FrameEncoding::Plain);
    }
    let warm_up = PreparedMessage::new(news(0));
    broadcast(&mut connections, &warm_up, warm_up.frame());
    drop(warm_up);
    let message = news(1);
    // Sharing a payload built from a `String` costs one allocation the
    // first time, which is the application's, not the broadcast's.
    let sent = message.clone();

    let before = counting::allocations();
    let prepared = PreparedMessage::new(sent);
    let written = broadcast(&mut connections, &prepared, prepared.frame());
    let allocations = counting::allocations() - before;

    assert_eq!(&written[..], &prepared.frame()[..]);
    assert_eq!(prepared.message(), message);
    allocations
}

/// Allocations of one compressed broadcast to `n` servers whose deflate
/// agreement has no server context takeover; checks that a client
/// inflates what they wrote.
fn compressed_broadcast(n: usize) -> usize {
    let deflate = || {
        Config::default().deflate(Some(
            DeflateConfig::default().server_no_context_takeover(true),
        ))
    };
    let mut pairs: Vec<Pair> = (0..n)
        .map(|_| Pair::connect(deflate(), deflate()))
        .collect();
    let Some(mut receiver) = pairs.pop() else {
        panic!("no connections");
    };
    let mut connections: Vec<Connection> = pairs.into_iter().map(|p| p.server).collect();
    connections.push(receiver.server);
    let FrameEncoding::Deflate(share) = connections[0].frame_encoding() else {
        panic!(
            "not a shared encoding: {:?}",
            connections[0].frame_encoding()
        );
    };
    assert!(connections
        .iter()
        .all(|c| c.frame_encoding() == FrameEncoding::Deflate(share)));
    let mut compressor = SharedCompressor::new(share);
    let mut warm_up = PreparedMessage::new(news(0));
    warm_up.compress(&mut compressor);
    let frame = warm_up
        .frame_for(FrameEncoding::Deflate(share))
        .unwrap()
        .clone();
    broadcast(&mut connections, &warm_up, &frame);
    drop((warm_up, frame));
    let message = news(1);
    let sent = message.clone();

    let before = counting::allocations();
    let mut prepared = PreparedMessage::new(sent);
    prepared.compress(&mut compressor);
    let frame = prepared
        .frame_for(FrameEncoding::Deflate(share))
        .unwrap()
        .clone();
    let written = broadcast(&mut connections, &prepared, &frame);
    let allocations = counting::allocations() - before;

    // Compressed (RSV1 set), and what a client of the share reads back.
    assert_eq!(frame[0], 0xc1);
    assert!(frame.len() < prepared.wire_len() / 4);
    receiver.server = connections.pop().unwrap();
    receiver.client.handle_input(receiver.now, &written);
    assert_eq!(receiver.client.poll_event(), Some(Event::Message(message)));
    allocations
}

#[test]
fn a_broadcast_allocates_the_same_for_any_number_of_connections() {
    // The first run pays for lazily built statics, if any.
    plain_broadcast(10);
    let (few, many) = (plain_broadcast(10), plain_broadcast(1000));
    println!("plain broadcast: {few} allocations to 10 connections, {many} to 1000");
    assert_eq!(few, many);
    assert!(
        many <= MAX_PLAIN,
        "{many} allocations, more than {MAX_PLAIN}"
    );

    let (few, many) = (compressed_broadcast(10), compressed_broadcast(1000));
    println!("compressed broadcast: {few} allocations to 10 connections, {many} to 1000");
    assert_eq!(few, many);
    assert!(
        many <= MAX_COMPRESSED,
        "{many} allocations, more than {MAX_COMPRESSED}"
    );
}
