//! Large frames read into the room the connection offers for their rest
//! ([`Connection::take_read_buffer`]): assembled where the reads land, and
//! checked as strictly as any other input.

use alloc::vec;
use alloc::vec::Vec;

use bytes::{BufMut, BytesMut};

use super::inbound::ROOM_MIN;
use super::*;
use crate::frame::OpCode;
use crate::test_support::{client_frame, events};

const T0: Instant = Instant::ZERO;

fn server() -> Connection {
    Connection::upgraded(Role::Server, Config::default(), [1; 32], T0).unwrap()
}

/// Feeds `wire` as the adapters read it: a first read of `first` bytes,
/// then reads of at most `read` bytes into the room when one is offered
/// (each handed over as a chunk split off its front). Returns the room's
/// start, if one was offered.
fn feed_through_room(
    conn: &mut Connection,
    wire: &[u8],
    first: usize,
    read: usize,
) -> Option<*const u8> {
    let (head, mut rest) = wire.split_at(first);
    conn.handle_input_buf(T0, BytesMut::from(head));
    let mut room = conn.take_read_buffer()?;
    let start = room.as_ptr();
    while !rest.is_empty() {
        let n = read.min(rest.len()).min(room.capacity());
        if n == 0 {
            conn.handle_input_buf(T0, BytesMut::from(rest));
            break;
        }
        room.put_slice(&rest[..n]);
        conn.handle_input_buf(T0, room.split());
        rest = &rest[n..];
    }
    Some(start)
}

#[test]
fn a_large_masked_text_frame_assembles_in_the_room_without_a_copy() {
    let text: Vec<u8> = "zoë · 5 € · ".bytes().cycle().take(300_000).collect();
    let wire = client_frame(true, OpCode::Text, &text);
    let mut conn = server();
    let first = 5_000;
    let room = feed_through_room(&mut conn, &wire, first, 7_001).expect("room offered");
    let Some(Event::Message(Message::Text(got))) = conn.poll_event() else {
        panic!("no message");
    };
    assert_eq!(got.as_bytes(), &text[..]);
    // The payload is the buffer the room was split from: its first part
    // (what came with the header) sits right in front of the room.
    let header_len = wire.len() - text.len();
    assert_eq!(
        got.as_bytes().as_ptr().wrapping_add(first - header_len),
        room,
        "the rest was copied"
    );
}

#[test]
fn the_room_holds_exactly_the_rest_and_a_frame_after_it_is_read_normally() {
    let big = vec![0x5a; 100_000];
    let mut wire = client_frame(true, OpCode::Binary, &big);
    wire.extend(client_frame(true, OpCode::Text, b"after"));
    let mut conn = server();
    let header_len = wire.len() - big.len() - client_frame(true, OpCode::Text, b"after").len();
    conn.handle_input_buf(T0, BytesMut::from(&wire[..1_000]));
    let mut room = conn.take_read_buffer().expect("room offered");
    assert_eq!(room.capacity(), big.len() - (1_000 - header_len));
    assert!(conn.take_read_buffer().is_none(), "offered once");
    let rest = &wire[1_000..];
    let (in_room, after) = rest.split_at(room.capacity());
    room.put_slice(in_room);
    conn.handle_input_buf(T0, room);
    conn.handle_input_buf(T0, BytesMut::from(after));
    assert_eq!(
        events(&mut conn),
        vec![
            Event::Message(Message::binary(big)),
            Event::Message(Message::text("after")),
        ]
    );
}

#[test]
fn invalid_utf8_read_into_the_room_fails_1007() {
    let mut text = vec![b'a'; 80_000];
    text[60_000] = 0xff;
    let wire = client_frame(true, OpCode::Text, &text);
    let mut conn = server();
    feed_through_room(&mut conn, &wire, 2_000, 16_384).expect("room offered");
    let Some(Event::Closed(closed)) = conn.poll_event() else {
        panic!("not closed");
    };
    assert_eq!(closed.code, CloseCode::INVALID_PAYLOAD);
}

#[test]
fn a_reader_that_ignores_the_room_gets_the_same_message() {
    let big: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
    let wire = client_frame(true, OpCode::Binary, &big);
    let mut conn = server();
    for read in wire.chunks(30_000) {
        conn.handle_input_buf(T0, BytesMut::from(read));
    }
    assert_eq!(
        events(&mut conn),
        vec![Event::Message(Message::binary(big))]
    );
}

#[test]
fn a_room_filled_in_part_then_left_still_gives_the_whole_message() {
    let big: Vec<u8> = (0..120_000u32).map(|i| (i * 7) as u8).collect();
    let wire = client_frame(true, OpCode::Binary, &big);
    let mut conn = server();
    conn.handle_input_buf(T0, BytesMut::from(&wire[..10_000]));
    let mut room = conn.take_read_buffer().expect("room offered");
    room.put_slice(&wire[10_000..40_000]);
    conn.handle_input_buf(T0, room.split());
    // The reader moves on to buffers of its own.
    for read in wire[40_000..].chunks(25_000) {
        conn.handle_input_buf(T0, BytesMut::from(read));
    }
    assert_eq!(
        events(&mut conn),
        vec![Event::Message(Message::binary(big))]
    );
}

#[test]
fn a_rest_shorter_than_the_minimum_gets_no_room() {
    let min = ROOM_MIN as usize;
    for (rest, offered) in [(min - 1, false), (min, true)] {
        let payload = vec![1; 10_000 + rest];
        let wire = client_frame(true, OpCode::Binary, &payload);
        let header_len = wire.len() - payload.len();
        let mut conn = server();
        conn.handle_input_buf(T0, BytesMut::from(&wire[..header_len + 10_000]));
        assert_eq!(conn.take_read_buffer().is_some(), offered, "rest {rest}");
        conn.handle_input_buf(T0, BytesMut::from(&wire[header_len + 10_000..]));
        assert_eq!(
            events(&mut conn),
            vec![Event::Message(Message::binary(payload))]
        );
    }
}

#[test]
fn a_short_rest_read_right_behind_its_start_joins_it_without_a_copy() {
    // A rest just short of the room's threshold.
    let len = 12_000 + ROOM_MIN as usize - 1;
    let mut text: Vec<u8> = "ünïcödé ".bytes().cycle().take(len).collect();
    while core::str::from_utf8(&text).is_err() {
        // The cut split a character: end in spaces instead.
        let last = text.len() - 1;
        text[last] = b' ';
    }
    let wire = client_frame(true, OpCode::Text, &text);
    let header_len = wire.len() - text.len();
    let mut conn = server();
    // One window that two reads fill one after the other.
    let mut window = BytesMut::with_capacity(wire.len());
    window.put_slice(&wire[..12_000 + header_len]);
    let start = window.as_ptr();
    conn.handle_input_buf(T0, window.split());
    assert!(conn.take_read_buffer().is_none());
    window.put_slice(&wire[12_000 + header_len..]);
    conn.handle_input_buf(T0, window.split());
    let Some(Event::Message(Message::Text(got))) = conn.poll_event() else {
        panic!("no message");
    };
    assert_eq!(got.as_bytes(), &text[..]);
    assert_eq!(
        got.as_bytes().as_ptr(),
        start.wrapping_add(header_len),
        "copied"
    );
}
