//! The boundary tested from Rust through the exported functions, as C
//! calls them: NULL checks, codes, views and their lifetimes, poisoning.

// The tests call the C API the way C does, with pointers they own: a
// safety comment on each call would say the same thing every time.
#![allow(clippy::undocumented_unsafe_blocks)]

use core::ptr::{null, null_mut};
use std::ffi::CStr;

use crate::*;

const SEED: [u8; 32] = [7; 32];

/// A fresh connection from a constructor, freed on drop.
struct Owned(*mut wscore_conn);

impl Drop for Owned {
    fn drop(&mut self) {
        unsafe { wscore_conn_free(self.0) }
    }
}

fn client_with(config: *const wscore_config, subprotocols: &[&CStr]) -> Owned {
    let names: Vec<*const core::ffi::c_char> = subprotocols.iter().map(|s| s.as_ptr()).collect();
    let mut conn = null_mut();
    let result = unsafe {
        wscore_conn_client(
            config,
            c"example.com".as_ptr(),
            c"/chat".as_ptr(),
            names.as_ptr(),
            names.len(),
            SEED.as_ptr(),
            SEED.len(),
            0,
            &mut conn,
        )
    };
    assert_eq!(result, wscore_result::Ok);
    Owned(conn)
}

fn server_with(config: *const wscore_config) -> Owned {
    let mut conn = null_mut();
    assert_eq!(
        unsafe { wscore_conn_server(config, 0, &mut conn) },
        wscore_result::Ok
    );
    Owned(conn)
}

/// Everything `from` has to write, reported written in pieces of `piece`
/// bytes (short writes).
fn drain(from: &Owned, piece: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut t = wscore_transmit {
        header: null(),
        header_len: 0,
        payload: null(),
        payload_len: 0,
    };
    while unsafe { wscore_conn_poll_transmit(from.0, &mut t) } == wscore_result::Ok {
        let mut bytes = unsafe { core::slice::from_raw_parts(t.header, t.header_len) }.to_vec();
        bytes.extend_from_slice(unsafe { core::slice::from_raw_parts(t.payload, t.payload_len) });
        let n = bytes.len().min(piece);
        out.extend_from_slice(&bytes[..n]);
        assert_eq!(
            unsafe { wscore_conn_transmit_written(from.0, n) },
            wscore_result::Ok
        );
    }
    out
}

/// Moves `from`'s bytes into `to`, from a buffer freed right after.
fn pump(from: &Owned, to: &Owned) {
    let bytes = drain(from, 7);
    if !bytes.is_empty() {
        let copy = bytes.clone();
        assert_eq!(
            unsafe { wscore_conn_recv(to.0, 0, copy.as_ptr(), copy.len()) },
            wscore_result::Ok
        );
        // The connection copied what it keeps: the buffer may go.
        drop(copy);
    }
}

/// An owned copy of an event's data.
fn data(event: &wscore_event) -> Vec<u8> {
    unsafe { core::slice::from_raw_parts(event.data, event.data_len) }.to_vec()
}

fn poll(conn: &Owned) -> (wscore_result, wscore_event) {
    let mut event = core::mem::MaybeUninit::<wscore_event>::uninit();
    let result = unsafe { wscore_conn_poll_event(conn.0, event.as_mut_ptr()) };
    (result, unsafe { event.assume_init() })
}

/// A client and a server through their handshake, the server's request
/// accepted.
fn connected(config: *const wscore_config, subprotocols: &[&CStr]) -> (Owned, Owned) {
    let client = client_with(config, subprotocols);
    let server = server_with(config);
    pump(&client, &server);
    let (result, request) = poll(&server);
    assert_eq!(result, wscore_result::Ok);
    assert_eq!(request.kind, wscore_event_kind::Request);
    assert_eq!(data(&request), b"/chat");
    assert_eq!(
        unsafe { wscore_conn_accept(server.0, 0, null()) },
        wscore_result::Ok
    );
    let (_, event) = poll(&server);
    assert_eq!(event.kind, wscore_event_kind::Connected);
    pump(&server, &client);
    let (_, event) = poll(&client);
    assert_eq!(event.kind, wscore_event_kind::Connected);
    (client, server)
}

#[test]
fn a_message_and_a_close_cross_the_boundary_both_ways() {
    let (client, server) = connected(null(), &[]);
    assert_eq!(
        unsafe { wscore_conn_send_text(client.0, b"hello".as_ptr(), 5) },
        wscore_result::Ok
    );
    pump(&client, &server);
    let (_, event) = poll(&server);
    assert_eq!(event.kind, wscore_event_kind::Message);
    assert_eq!(event.message_kind, wscore_message_kind::Text);
    assert_eq!(data(&event), b"hello");
    // Echo straight from the event's view: sends leave it alone.
    assert_eq!(
        unsafe { wscore_conn_send_binary(server.0, event.data, event.data_len) },
        wscore_result::Ok
    );
    assert_eq!(data(&event), b"hello");
    pump(&server, &client);
    let (_, echo) = poll(&client);
    assert_eq!(echo.kind, wscore_event_kind::Message);
    assert_eq!(echo.message_kind, wscore_message_kind::Binary);
    assert_eq!(data(&echo), b"hello");

    assert_eq!(
        unsafe { wscore_conn_close(client.0, 0, 1000, b"bye".as_ptr(), 3) },
        wscore_result::Ok
    );
    pump(&client, &server);
    let (_, received) = poll(&server);
    assert_eq!(received.kind, wscore_event_kind::CloseReceived);
    assert_eq!(
        (received.close_code, data(&received)),
        (1000, b"bye".to_vec())
    );
    let (_, closed) = poll(&server);
    assert_eq!(closed.kind, wscore_event_kind::Closed);
    assert_eq!(closed.close_cause, wscore_close_cause::Remote);
    pump(&server, &client);
    let (_, answer) = poll(&client);
    assert_eq!(answer.kind, wscore_event_kind::CloseReceived);
    let (_, closed) = poll(&client);
    assert_eq!(closed.kind, wscore_event_kind::Closed);
    assert_eq!(closed.close_cause, wscore_close_cause::Local);
    let mut done = false;
    assert_eq!(
        unsafe { wscore_conn_is_done(client.0, &mut done) },
        wscore_result::Ok
    );
    assert!(done);
    let (result, none) = poll(&client);
    assert_eq!(
        (result, none.kind),
        (wscore_result::Done, wscore_event_kind::None)
    );
}

#[test]
fn a_transmit_is_handed_out_again_until_all_of_it_is_reported_written() {
    let client = client_with(null(), &[]);
    let mut first = core::mem::MaybeUninit::<wscore_transmit>::uninit();
    assert_eq!(
        unsafe { wscore_conn_poll_transmit(client.0, first.as_mut_ptr()) },
        wscore_result::Ok
    );
    let first = unsafe { first.assume_init() };
    let total = first.header_len + first.payload_len;
    assert!(total > 10);
    // Polling again without a report hands out the same bytes.
    let mut again = first;
    assert_eq!(
        unsafe { wscore_conn_poll_transmit(client.0, &mut again) },
        wscore_result::Ok
    );
    assert_eq!(
        (again.payload, again.payload_len),
        (first.payload, first.payload_len)
    );
    // More than is left is refused and counts nothing.
    assert_eq!(
        unsafe { wscore_conn_transmit_written(client.0, total + 1) },
        wscore_result::InvalidArgument
    );
    assert_eq!(
        unsafe { wscore_conn_transmit_written(client.0, 10) },
        wscore_result::Ok
    );
    let mut rest = first;
    assert_eq!(
        unsafe { wscore_conn_poll_transmit(client.0, &mut rest) },
        wscore_result::Ok
    );
    assert_eq!(rest.header_len + rest.payload_len, total - 10);
    assert_eq!(
        unsafe { wscore_conn_transmit_written(client.0, total - 10) },
        wscore_result::Ok
    );
    assert_eq!(
        unsafe { wscore_conn_transmit_written(client.0, 0) },
        wscore_result::NoTransmit
    );
    assert_eq!(
        unsafe { wscore_conn_poll_transmit(client.0, &mut rest) },
        wscore_result::Done
    );
}

#[test]
fn null_pointers_are_refused_with_a_code() {
    let client = client_with(null(), &[]);
    let mut event = core::mem::MaybeUninit::<wscore_event>::uninit();
    let mut flag = false;
    let mut deadline = 0u64;
    unsafe {
        assert_eq!(
            wscore_conn_recv(null_mut(), 0, b"x".as_ptr(), 1),
            wscore_result::NullArgument
        );
        assert_eq!(
            wscore_conn_recv(client.0, 0, null(), 1),
            wscore_result::NullArgument
        );
        assert_eq!(wscore_conn_recv(client.0, 0, null(), 0), wscore_result::Ok);
        assert_eq!(
            wscore_conn_poll_event(client.0, null_mut()),
            wscore_result::NullArgument
        );
        assert_eq!(
            wscore_conn_poll_event(null_mut(), event.as_mut_ptr()),
            wscore_result::NullArgument
        );
        assert_eq!(
            wscore_conn_poll_transmit(client.0, null_mut()),
            wscore_result::NullArgument
        );
        assert_eq!(
            wscore_conn_is_done(null_mut(), &mut flag),
            wscore_result::NullArgument
        );
        assert_eq!(
            wscore_conn_timeout_ns(client.0, null_mut()),
            wscore_result::NullArgument
        );
        assert_eq!(
            wscore_conn_timeout_ns(client.0, &mut deadline),
            wscore_result::Ok
        );
        assert_eq!(deadline, 10_000_000_000, "the default handshake timeout");
        assert_eq!(
            wscore_conn_send_text(client.0, null(), 3),
            wscore_result::NullArgument
        );
        assert_eq!(
            wscore_conn_close(client.0, 0, 1000, null(), 2),
            wscore_result::NullArgument
        );
        let mut conn = null_mut();
        assert_eq!(
            wscore_conn_server(null(), 0, null_mut()),
            wscore_result::NullArgument
        );
        assert_eq!(
            wscore_conn_client(
                null(),
                null(),
                c"/".as_ptr(),
                null(),
                0,
                SEED.as_ptr(),
                32,
                0,
                &mut conn
            ),
            wscore_result::NullArgument
        );
        assert!(conn.is_null(), "no out-parameter is written on an error");
        assert_eq!(
            wscore_conn_client(
                null(),
                c"h".as_ptr(),
                c"/".as_ptr(),
                null(),
                1,
                SEED.as_ptr(),
                32,
                0,
                &mut conn
            ),
            wscore_result::NullArgument
        );
        assert_eq!(wscore_config_new(null_mut()), wscore_result::NullArgument);
        assert_eq!(
            wscore_config_set_max_frame_size(null_mut(), 1),
            wscore_result::NullArgument
        );
        // Freeing NULL does nothing.
        wscore_conn_free(null_mut());
        wscore_config_free(null_mut());
    }
}

#[test]
fn arguments_out_of_range_are_refused_with_their_codes() {
    let mut conn = null_mut();
    unsafe {
        assert_eq!(
            wscore_conn_client(
                null(),
                c"h".as_ptr(),
                c"/".as_ptr(),
                null(),
                0,
                SEED.as_ptr(),
                31,
                0,
                &mut conn
            ),
            wscore_result::InvalidArgument
        );
        let bad_utf8 = [0xff_u8, 0];
        assert_eq!(
            wscore_conn_client(
                null(),
                bad_utf8.as_ptr().cast(),
                c"/".as_ptr(),
                null(),
                0,
                SEED.as_ptr(),
                32,
                0,
                &mut conn
            ),
            wscore_result::InvalidUtf8
        );
        assert_eq!(
            wscore_conn_client(
                null(),
                c"h\r\nX: y".as_ptr(),
                c"/".as_ptr(),
                null(),
                0,
                SEED.as_ptr(),
                32,
                0,
                &mut conn
            ),
            wscore_result::InvalidRequest
        );
        assert!(conn.is_null());
    }
    let client = client_with(null(), &[]);
    unsafe {
        assert_eq!(
            wscore_conn_send_text(client.0, b"x".as_ptr(), 1),
            wscore_result::NotOpen
        );
        assert_eq!(
            wscore_conn_accept(client.0, 0, null()),
            wscore_result::NoPendingRequest
        );
        assert_eq!(
            wscore_conn_reject(client.0, 403, null(), 0),
            wscore_result::NoPendingRequest
        );
    }
    let (client, server) = connected(null(), &[]);
    let mut id = 0;
    unsafe {
        assert_eq!(
            wscore_conn_send_text(client.0, [0xc3_u8, 0x28].as_ptr(), 2),
            wscore_result::InvalidUtf8
        );
        assert_eq!(
            wscore_conn_ping(client.0, [0; 126].as_ptr(), 126),
            wscore_result::ControlPayloadTooLong
        );
        assert_eq!(
            wscore_conn_close(client.0, 0, 1006, null(), 0),
            wscore_result::InvalidCloseCode
        );
        assert_eq!(
            wscore_conn_send_stream(client.0, b"abc".as_ptr(), 3, null(), 0, &mut id),
            wscore_result::StreamsNotNegotiated
        );
        assert_eq!(
            wscore_conn_push_stream(client.0, 9, b"abc".as_ptr(), 3),
            wscore_result::UnknownStream
        );
        assert_eq!(
            wscore_conn_close(server.0, 0, 1000, null(), 0),
            wscore_result::Ok
        );
        assert_eq!(
            wscore_conn_send_text(server.0, b"x".as_ptr(), 1),
            wscore_result::Closing
        );
    }
}

#[test]
fn a_config_setter_refuses_a_value_that_cannot_work_and_keeps_the_old_one() {
    let mut config = null_mut();
    unsafe {
        assert_eq!(wscore_config_new(&mut config), wscore_result::Ok);
        assert_eq!(
            wscore_config_set_max_frame_size(config, 0),
            wscore_result::InvalidConfig
        );
        assert_eq!((*config).inner.max_frame_size, 16 << 20);
        assert_eq!(
            wscore_config_set_max_frame_size(config, 1024),
            wscore_result::Ok
        );
        assert_eq!((*config).inner.max_frame_size, 1024);
        assert_eq!(
            wscore_config_set_keepalive_ns(config, 1, 0),
            wscore_result::InvalidConfig
        );
        assert_eq!(
            wscore_config_set_receive_mode(config, 2),
            wscore_result::InvalidArgument
        );
        assert_eq!(
            wscore_config_add_subprotocol(config, c"x".as_ptr(), 3),
            wscore_result::InvalidArgument
        );
        let mut deflate = wscore_deflate_options_default();
        deflate.server_max_window_bits = 16;
        assert_eq!(
            wscore_config_set_deflate(config, &deflate),
            wscore_result::InvalidConfig
        );
        assert_eq!((*config).inner.deflate, None);
        wscore_config_free(config);
    }
}

#[test]
fn a_stream_on_a_streamed_subprotocol_arrives_as_stream_events() {
    let mut config = null_mut();
    unsafe {
        assert_eq!(wscore_config_new(&mut config), wscore_result::Ok);
        assert_eq!(
            wscore_config_add_subprotocol(config, c"files.v1".as_ptr(), 2),
            wscore_result::Ok
        );
        assert_eq!(wscore_config_set_receive_mode(config, 1), wscore_result::Ok);
    }
    let (client, server) = connected(config, &[]);
    unsafe { wscore_config_free(config) };
    let payload: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
    let mut id = 0;
    assert_eq!(
        unsafe {
            wscore_conn_send_stream(
                client.0,
                payload.as_ptr(),
                payload.len(),
                b"raw".as_ptr(),
                3,
                &mut id,
            )
        },
        wscore_result::Ok
    );
    pump(&client, &server);
    let (_, started) = poll(&server);
    assert_eq!(started.kind, wscore_event_kind::StreamStarted);
    assert_eq!((started.stream_id, started.stream_total_len), (id, 100_000));
    assert_eq!(data(&started), b"raw");
    let mut received = Vec::new();
    loop {
        let (_, event) = poll(&server);
        match event.kind {
            wscore_event_kind::StreamData => received.extend(data(&event)),
            wscore_event_kind::StreamFinished => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(received, payload);
}

#[test]
fn a_request_header_is_read_while_the_request_is_the_current_event() {
    let client = client_with(null(), &[c"chat.v1"]);
    let server = server_with(null());
    pump(&client, &server);
    let (_, request) = poll(&server);
    assert_eq!(request.kind, wscore_event_kind::Request);
    let (mut value, mut len) = (null(), 0);
    unsafe {
        assert_eq!(
            wscore_conn_request_header(server.0, c"HOST".as_ptr(), &mut value, &mut len),
            wscore_result::Ok
        );
        assert_eq!(core::slice::from_raw_parts(value, len), b"example.com");
        assert_eq!(
            wscore_conn_request_header(server.0, c"X-None".as_ptr(), &mut value, &mut len),
            wscore_result::Done
        );
        assert_eq!(
            wscore_conn_request_subprotocol(server.0, 0, &mut value, &mut len),
            wscore_result::Ok
        );
        assert_eq!(core::slice::from_raw_parts(value, len), b"chat.v1");
        assert_eq!(
            wscore_conn_request_subprotocol(server.0, 1, &mut value, &mut len),
            wscore_result::Done
        );
        assert_eq!(
            wscore_conn_accept(server.0, 0, c"other".as_ptr()),
            wscore_result::HandshakeAnswer
        );
        assert_eq!(
            wscore_conn_accept(server.0, 0, c"chat.v1".as_ptr()),
            wscore_result::Ok
        );
    }
    let (_, connected) = poll(&server);
    assert_eq!(connected.kind, wscore_event_kind::Connected);
    pump(&server, &client);
    let (_, connected) = poll(&client);
    assert_eq!(connected.kind, wscore_event_kind::Connected);
    assert_eq!(data(&connected), b"chat.v1");
    unsafe {
        assert_eq!(
            wscore_conn_request_header(server.0, c"Host".as_ptr(), &mut value, &mut len),
            wscore_result::NoPendingRequest
        );
        assert_eq!(
            wscore_conn_subprotocol(client.0, &mut value, &mut len),
            wscore_result::Ok
        );
        assert_eq!(core::slice::from_raw_parts(value, len), b"chat.v1");
    }
}

#[test]
fn a_rejected_request_ends_the_connection_with_its_status() {
    let client = client_with(null(), &[]);
    let server = server_with(null());
    pump(&client, &server);
    let _ = poll(&server);
    unsafe {
        assert_eq!(
            wscore_conn_reject(server.0, 42, null(), 0),
            wscore_result::HandshakeAnswer
        );
        assert_eq!(
            wscore_conn_reject(server.0, 403, b"no".as_ptr(), 2),
            wscore_result::Ok
        );
    }
    let (_, closed) = poll(&server);
    assert_eq!(closed.kind, wscore_event_kind::Closed);
    assert_eq!(
        (closed.close_cause, closed.status),
        (wscore_close_cause::Rejected, 403)
    );
    pump(&server, &client);
    let (_, closed) = poll(&client);
    assert_eq!(closed.close_cause, wscore_close_cause::Handshake);
    assert_eq!(closed.status, 403);
    assert!(closed.text_len > 0, "a failed handshake is described");
}

#[test]
fn a_protocol_violation_ends_in_a_described_closed_event() {
    let (client, server) = connected(null(), &[]);
    // An unmasked frame from a client.
    let frame = [0x81_u8, 0x01, b'x'];
    unsafe { wscore_conn_recv(server.0, 0, frame.as_ptr(), frame.len()) };
    let (_, closed) = poll(&server);
    assert_eq!(closed.kind, wscore_event_kind::Closed);
    assert_eq!(
        (closed.close_cause, closed.close_code),
        (wscore_close_cause::Protocol, 1002)
    );
    let text = unsafe { core::slice::from_raw_parts(closed.text, closed.text_len) };
    assert_eq!(text, b"unmasked frame from a client");
    drop(client);
}

#[test]
fn the_end_of_the_transport_and_timers_end_a_connection() {
    let (client, server) = connected(null(), &[]);
    unsafe { assert_eq!(wscore_conn_eof(server.0, 5), wscore_result::Ok) };
    let (_, closed) = poll(&server);
    assert_eq!(
        (closed.close_cause, closed.close_code),
        (wscore_close_cause::Eof, 1006)
    );

    let late = client_with(null(), &[]);
    let mut deadline = 0;
    unsafe {
        assert_eq!(
            wscore_conn_timeout_ns(late.0, &mut deadline),
            wscore_result::Ok
        );
        assert_eq!(
            wscore_conn_on_timeout(late.0, deadline - 1),
            wscore_result::Ok
        );
        assert_eq!(poll(&late).0, wscore_result::Done, "early is harmless");
        assert_eq!(wscore_conn_on_timeout(late.0, deadline), wscore_result::Ok);
    }
    let (_, closed) = poll(&late);
    assert_eq!(closed.close_cause, wscore_close_cause::Timeout);
    assert_eq!(closed.timeout_kind, wscore_timeout_kind::Handshake);
    drop(client);
}

#[test]
fn a_panic_is_caught_and_poisons_the_connection() {
    let (client, _server) = connected(null(), &[]);
    let mut flag = false;
    unsafe {
        assert_eq!(wscore_test_panic(client.0), wscore_result::Panic);
        assert_eq!(
            wscore_conn_send_text(client.0, b"x".as_ptr(), 1),
            wscore_result::Poisoned
        );
        assert_eq!(
            wscore_conn_recv(client.0, 0, null(), 0),
            wscore_result::Poisoned
        );
        assert_eq!(
            wscore_conn_is_done(client.0, &mut flag),
            wscore_result::Poisoned
        );
        assert_eq!(wscore_test_panic(client.0), wscore_result::Poisoned);
    }
    // Freeing a poisoned connection is fine (Owned's drop).
}

#[test]
fn every_result_code_has_its_name() {
    let name = |code: wscore_result| {
        unsafe { CStr::from_ptr(wscore_result_name(code as u32)) }
            .to_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(name(wscore_result::Ok), "WSCORE_RESULT_OK");
    assert_eq!(
        name(wscore_result::PushPastEnd),
        "WSCORE_RESULT_PUSH_PAST_END"
    );
    assert_eq!(name(wscore_result::Poisoned), "WSCORE_RESULT_POISONED");
    let unknown = unsafe { CStr::from_ptr(wscore_result_name(999)) };
    assert_eq!(unknown.to_str().unwrap(), "WSCORE_RESULT_UNKNOWN");
    // The header's names and these agree: every code up to the last has
    // a name of its own.
    let header = include_str!("../include/wscore.h");
    for code in 0..=wscore_result::Poisoned as u32 {
        let name = unsafe { CStr::from_ptr(wscore_result_name(code)) }
            .to_str()
            .unwrap();
        assert!(
            header.contains(&format!("{name} = {code},")),
            "{name} = {code}"
        );
    }
}

#[test]
fn the_version_is_the_crate_version() {
    let version = unsafe { CStr::from_ptr(wscore_version()) };
    assert_eq!(version.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
}

#[test]
fn a_client_sends_its_headers_and_a_server_reads_them_with_the_query() {
    let headers = [
        wscore_header {
            name: c"Authorization".as_ptr(),
            value: b"Bearer t0k3n".as_ptr(),
            value_len: 12,
        },
        wscore_header {
            name: c"X-Empty".as_ptr(),
            value: null(),
            value_len: 0,
        },
    ];
    let mut client = null_mut();
    assert_eq!(
        unsafe {
            wscore_conn_client_with_headers(
                null(),
                c"example.com".as_ptr(),
                c"/game?room=7".as_ptr(),
                null(),
                0,
                headers.as_ptr(),
                headers.len(),
                SEED.as_ptr(),
                32,
                0,
                &mut client,
            )
        },
        wscore_result::Ok
    );
    let client = Owned(client);
    let server = server_with(null());
    pump(&client, &server);
    let (_, request) = poll(&server);
    assert_eq!(data(&request), b"/game");
    let (mut value, mut len) = (null(), 0);
    unsafe {
        assert_eq!(
            wscore_conn_request_header(server.0, c"authorization".as_ptr(), &mut value, &mut len),
            wscore_result::Ok
        );
        assert_eq!(core::slice::from_raw_parts(value, len), b"Bearer t0k3n");
        assert_eq!(
            wscore_conn_request_header(server.0, c"x-empty".as_ptr(), &mut value, &mut len),
            wscore_result::Ok
        );
        assert_eq!(len, 0);
        assert_eq!(
            wscore_conn_request_query(server.0, &mut value, &mut len),
            wscore_result::Ok
        );
        assert_eq!(core::slice::from_raw_parts(value, len), b"room=7");
    }
}

#[test]
fn a_header_the_request_cannot_carry_is_refused() {
    let cases: [(wscore_header, wscore_result); 3] = [
        (
            wscore_header {
                name: c"X-Split".as_ptr(),
                value: b"a\r\nb".as_ptr(),
                value_len: 4,
            },
            wscore_result::InvalidRequest,
        ),
        (
            wscore_header {
                name: c"Sec-WebSocket-Key".as_ptr(),
                value: b"x".as_ptr(),
                value_len: 1,
            },
            wscore_result::InvalidRequest,
        ),
        (
            wscore_header {
                name: c"X-Null".as_ptr(),
                value: null(),
                value_len: 3,
            },
            wscore_result::NullArgument,
        ),
    ];
    for (header, expected) in cases {
        let mut client = null_mut();
        let result = unsafe {
            wscore_conn_client_with_headers(
                null(),
                c"example.com".as_ptr(),
                c"/".as_ptr(),
                null(),
                0,
                &header,
                1,
                SEED.as_ptr(),
                32,
                0,
                &mut client,
            )
        };
        assert_eq!(result, expected);
        assert!(client.is_null());
    }
}

#[test]
fn a_length_no_buffer_can_have_is_refused_before_any_slice_is_made() {
    let client = client_with(null(), &[]);
    let byte = 0u8;
    unsafe {
        assert_eq!(
            wscore_conn_recv(client.0, 0, &byte, usize::MAX),
            wscore_result::InvalidArgument
        );
        assert_eq!(
            wscore_conn_recv(client.0, 0, &byte, isize::MAX as usize + 1),
            wscore_result::InvalidArgument
        );
        assert_eq!(
            wscore_conn_send_binary(client.0, &byte, usize::MAX),
            wscore_result::InvalidArgument
        );
    }
    // A misaligned array of pointers is refused too.
    let names = [0u8; 32];
    let mut conn = null_mut();
    let misaligned = names
        .as_ptr()
        .wrapping_add(1)
        .cast::<*const core::ffi::c_char>();
    let result = unsafe {
        wscore_conn_client(
            null(),
            c"h".as_ptr(),
            c"/".as_ptr(),
            misaligned,
            1,
            SEED.as_ptr(),
            32,
            0,
            &mut conn,
        )
    };
    assert_eq!(result, wscore_result::InvalidArgument);
}
