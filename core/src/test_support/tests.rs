//! The test support checked against RFC 6455's own examples (§5.7), so
//! the frames every other test builds are right byte for byte.

use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use super::*;
use crate::close::CloseCode;
use crate::config::{Config, Keepalive};
use crate::connection::{CloseCause, Event, TimeoutKind};
use crate::frame::{OpCode, Rsv};
use crate::message::Message;

#[test]
fn frames_match_the_rfc_examples() {
    // A single-frame unmasked text message.
    assert_eq!(
        FrameSpec::text("Hello").encode(),
        [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]
    );
    // A single-frame masked text message; `KEY` is the RFC's key.
    assert_eq!(
        client_frame(true, OpCode::Text, b"Hello"),
        [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]
    );
    // A fragmented unmasked text message.
    assert_eq!(
        fragmented(OpCode::Text, b"Hello", 3, None),
        [0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f]
    );
    // Unmasked ping, masked pong.
    assert_eq!(
        FrameSpec::ping("Hello").encode(),
        [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]
    );
    assert_eq!(
        FrameSpec::pong("Hello").masked(KEY).encode(),
        [0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]
    );
    // 256 bytes and 64 KiB of binary data, in the 16- and 64-bit forms.
    let frame = FrameSpec::binary(vec![0; 256]).encode();
    assert_eq!(frame[..4], [0x82, 0x7e, 0x01, 0x00]);
    assert_eq!(frame.len(), 4 + 256);
    let frame = FrameSpec::binary(vec![0; 65536]).encode();
    assert_eq!(frame[..10], [0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]);
    assert_eq!(frame.len(), 10 + 65536);
}

#[test]
fn frames_take_any_field() {
    assert_eq!(
        FrameSpec::close(1000, "bye").encode(),
        [0x88, 0x05, 0x03, 0xe8, b'b', b'y', b'e']
    );
    assert_eq!(FrameSpec::close_empty().encode(), [0x88, 0x00]);
    assert_eq!(
        FrameSpec::binary("x").rsv(Rsv::RSV1).fin(false).encode(),
        [0x42, 0x01, b'x']
    );
    // Longer length forms than needed, RSV bits kept.
    assert_eq!(
        FrameSpec::text("hi")
            .rsv(Rsv::RSV3)
            .len_form(LenForm::Medium)
            .encode(),
        [0x91, 0x7e, 0x00, 0x02, b'h', b'i']
    );
    assert_eq!(
        FrameSpec::text("hi")
            .masked([0; 4])
            .len_form(LenForm::Long)
            .encode(),
        [0x81, 0xff, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, b'h', b'i']
    );
    assert_eq!(fragmented(OpCode::Binary, b"", 3, None), [0x82, 0x00]);
}

#[test]
fn a_pair_drives_a_close_handshake_and_keeps_time() {
    let mut pair = Pair::connect(Config::default(), Config::default());
    pair.client.send(Message::text("one")).unwrap();
    pair.client.close(pair.now, CloseCode::NORMAL, "").unwrap();
    // Moving bytes alone cannot finish: the server answers the close
    // only once its application takes the event.
    assert!(pair.drive() > 0);
    let server: Vec<Event> = events(&mut pair.server);
    assert!(
        matches!(
            &server[..],
            [Event::Message(_), Event::CloseReceived(_), Event::Closed(_)]
        ),
        "{server:?}"
    );
    pair.drive();
    assert!(matches!(
        &events(&mut pair.client)[..],
        [Event::CloseReceived(_), Event::Closed(_)]
    ));
    assert!(pair.client.is_done() && pair.server.is_done());

    let keepalive = Config::default().keepalive(Some(Keepalive {
        interval: Duration::from_secs(5),
        timeout: Duration::from_secs(2),
    }));
    let mut pair = Pair::connect(Config::default(), keepalive);
    pair.advance(Duration::from_secs(5));
    // The ping is written but never answered.
    assert!(!transmitted(&mut pair.server).is_empty());
    pair.advance(Duration::from_secs(2));
    match events(&mut pair.server).last() {
        Some(Event::Closed(closed)) => {
            assert_eq!(closed.cause, CloseCause::Timeout(TimeoutKind::Keepalive));
        }
        other => panic!("expected the keepalive to end the connection, got {other:?}"),
    }
}

#[test]
fn pumps_move_what_is_ready() {
    let mut pair = Pair::connect(Config::default(), Config::default());
    for text in ["a", "b", "c"] {
        pair.client.send(Message::text(text)).unwrap();
    }
    pump_n(&mut pair.client, &mut pair.server, pair.now, 1);
    assert_eq!(
        events(&mut pair.server),
        [Event::Message(Message::text("a"))]
    );
    assert_eq!(pump_each(&mut pair.client, &mut pair.server, pair.now), 2);
    assert_eq!(events(&mut pair.server).len(), 2);
    assert_eq!(pump(&mut pair.client, &mut pair.server, pair.now), 0);
}
