//! Prepared messages through whole connections: the shared frame is the
//! bytes `send` would write, keeps its place in the queue, and every
//! connection that cannot share it falls back to `send`.

use alloc::vec;
use alloc::vec::Vec;

use quickcheck::{quickcheck, Arbitrary, Gen};

use super::batch_tests::messages;
use super::*;
use crate::envelope::Subprotocol;
use crate::frame::FrameHeader;
use crate::prepared::{FrameEncoding, PreparedMessage};
use crate::test_support::{events, transmitted, Pair};

const T0: Instant = Instant::ZERO;

fn server(config: Config) -> Connection {
    Connection::upgraded(Role::Server, config, [0; 32], T0).unwrap()
}

fn text(len: usize) -> Message {
    let s: String = (0..len)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    Message::text(s)
}

fn binary(len: usize, seed: u8) -> Message {
    Message::binary(
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31) ^ seed)
            .collect::<Vec<_>>(),
    )
}

#[test]
fn the_prepared_frame_is_what_send_writes() {
    let config = Config::default().fragment_size(1 << 20);
    for len in [0, 1, 125, 126, 65535, 65536] {
        for message in [text(len), binary(len, 3)] {
            let mut sent = server(config.clone());
            sent.send(message.clone()).unwrap();
            let expected = transmitted(&mut sent);
            let prepared = PreparedMessage::new(message.clone());
            assert_eq!(prepared.frame().as_ref(), &expected[..], "len {len}");
            assert_eq!(prepared.wire_len(), expected.len());
            assert_eq!(prepared.payload(), message.payload());
            assert_eq!(prepared.message(), message);
            assert_eq!(prepared.kind(), message.kind());
            let (header, header_len) = FrameHeader::decode(prepared.frame()).unwrap().unwrap();
            assert_eq!(header.payload_len, len as u64);
            assert_eq!(
                prepared.payload().as_ptr(),
                prepared.frame()[header_len..].as_ptr()
            );

            let mut shared = server(config.clone());
            shared.send_prepared(&prepared).unwrap();
            assert_eq!(transmitted(&mut shared), expected, "len {len}");
        }
    }
}

#[test]
fn a_plain_server_writes_the_shared_frame_without_copying() {
    let prepared = PreparedMessage::new(binary(300, 1));
    let mut connections: Vec<Connection> = (0..3).map(|_| server(Config::default())).collect();
    for conn in &mut connections {
        assert_eq!(conn.frame_encoding(), FrameEncoding::Plain);
        conn.send_prepared(&prepared).unwrap();
        let transmit = conn.poll_transmit().unwrap();
        assert!(transmit.header().is_empty());
        assert_eq!(transmit.payload().as_ptr(), prepared.frame().as_ptr());
        assert_eq!(transmit.len(), prepared.wire_len());
        assert!(conn.poll_transmit().is_none());
    }
}

#[test]
fn prepared_messages_keep_their_place_among_sends() {
    let mut pair = Pair::connect(Config::default(), Config::default());
    let sequence = [
        text(3),
        binary(200, 2),
        text(0),
        binary(70000, 4),
        text(126),
    ];
    for (i, message) in sequence.iter().enumerate() {
        if i % 2 == 1 {
            pair.server
                .send_prepared(&PreparedMessage::new(message.clone()))
                .unwrap();
        } else {
            pair.server.send(message.clone()).unwrap();
        }
    }
    // A ping queued last still goes first.
    pair.server.ping(&b"p"[..]).unwrap();
    let first = pair.server.poll_transmit().unwrap();
    assert_eq!(first.header(), &[0x89, 0x01]);
    pair.to_client();
    assert_eq!(messages(&mut pair.client), sequence);
}

#[test]
fn the_close_frame_follows_a_prepared_message() {
    let mut conn = server(Config::default());
    let prepared = PreparedMessage::new("last words");
    conn.send_prepared(&prepared).unwrap();
    conn.close(T0, CloseCode::NORMAL, "").unwrap();
    let first = conn.poll_transmit().unwrap();
    assert_eq!(first.payload(), prepared.frame());
    let second = conn.poll_transmit().unwrap();
    assert_eq!(second.header(), &[0x88, 0x02]);
    assert!(conn.poll_transmit().is_none());
}

#[test]
fn prepared_messages_count_in_queued_bytes() {
    let mut conn = server(Config::default());
    conn.send_prepared(&PreparedMessage::new(binary(100, 0)))
        .unwrap();
    assert_eq!(conn.queued_bytes(), 100);
    conn.send(binary(50, 0)).unwrap();
    assert_eq!(conn.queued_bytes(), 150);
    conn.send_prepared(&PreparedMessage::new(text(0))).unwrap();
    assert_eq!(conn.queued_bytes(), 150);
    let _ = conn.poll_transmit().unwrap();
    assert_eq!(conn.queued_bytes(), 50);
    let _ = transmitted(&mut conn);
    assert_eq!(conn.queued_bytes(), 0);
}

#[test]
fn a_message_larger_than_a_fragment_is_sent_as_send_sends_it() {
    let config = Config::default().fragment_size(16);
    let message = binary(100, 9);
    let prepared = PreparedMessage::new(message.clone());
    let mut shared = server(config.clone());
    shared.send_prepared(&prepared).unwrap();
    let first = shared.poll_transmit().unwrap();
    // Cut into fragments, so control frames can slip between them.
    assert_eq!(first.header(), &[0x02, 16]);
    assert_eq!(first.payload().as_ptr(), prepared.payload().as_ptr());
    let mut rest = Vec::new();
    first.write_to(&mut rest);
    rest.extend(transmitted(&mut shared));
    let mut sent = server(config);
    sent.send(message).unwrap();
    assert_eq!(rest, transmitted(&mut sent));
}

#[test]
fn a_client_masks_its_own_copy() {
    let mut pair = Pair::connect(Config::default(), Config::default());
    assert_eq!(pair.client.frame_encoding(), FrameEncoding::PerConnection);
    let prepared = PreparedMessage::new(binary(1000, 5));
    pair.client.send_prepared(&prepared).unwrap();
    pair.client.send(text(10)).unwrap();
    pair.client.send_prepared(&prepared).unwrap();
    let transmit = pair.client.poll_transmit().unwrap();
    let (header, _) = FrameHeader::decode(transmit.header()).unwrap().unwrap();
    assert!(header.mask.is_some());
    let mut bytes = Vec::new();
    transmit.write_to(&mut bytes);
    bytes.extend(transmitted(&mut pair.client));
    pair.server.handle_input(pair.now, &bytes);
    assert_eq!(
        messages(&mut pair.server),
        vec![prepared.message(), text(10), prepared.message()]
    );
}

#[test]
fn a_batched_connection_puts_prepared_messages_in_its_batch() {
    let config = Config::default().subprotocols(vec![Subprotocol::batched("b")]);
    let mut pair = Pair::connect(config.clone(), config.clone());
    assert_eq!(pair.server.frame_encoding(), FrameEncoding::PerConnection);
    let a = binary(10, 1);
    let b = binary(20, 2);
    pair.server
        .send_prepared(&PreparedMessage::new(a.clone()))
        .unwrap();
    pair.server.send(b.clone()).unwrap();
    let mut shared = transmitted(&mut pair.server);

    let mut other = Pair::connect(config.clone(), config);
    other.server.send(a.clone()).unwrap();
    other.server.send(b.clone()).unwrap();
    assert_eq!(shared, transmitted(&mut other.server));
    // One frame carries both.
    let (header, header_len) = FrameHeader::decode(&shared).unwrap().unwrap();
    assert_eq!(header_len + header.payload_len as usize, shared.len());

    pair.client.handle_input(pair.now, &shared);
    shared.clear();
    assert_eq!(messages(&mut pair.client), vec![a, b]);
}

#[test]
fn sending_a_prepared_message_after_close_is_refused() {
    let mut conn = server(Config::default());
    conn.close(T0, CloseCode::NORMAL, "").unwrap();
    let prepared = PreparedMessage::new("late");
    assert_eq!(conn.send_prepared(&prepared), Err(SendError::Closing));
    let mut pending = Connection::server(Config::default(), T0).unwrap();
    assert_eq!(pending.send_prepared(&prepared), Err(SendError::NotOpen));
    assert_eq!(transmitted(&mut conn), vec![0x88, 0x02, 0x03, 0xe8]);
}

#[cfg(feature = "deflate")]
mod deflate {
    use super::*;
    use crate::extension::deflate::DeflateConfig;
    use crate::prepared::SharedCompressor;

    fn config(deflate: DeflateConfig) -> Config {
        Config::default().deflate(Some(deflate))
    }

    fn no_takeover() -> Config {
        config(DeflateConfig::default().server_no_context_takeover(true))
    }

    fn compressible(len: usize) -> Message {
        Message::text("the quick brown fox jumps over the lazy dog. ".repeat(len / 45 + 1))
    }

    #[test]
    fn servers_of_one_share_write_one_compressed_frame() {
        let mut pairs: Vec<Pair> = (0..3)
            .map(|_| Pair::connect(no_takeover(), no_takeover()))
            .collect();
        let FrameEncoding::Deflate(share) = pairs[0].server.frame_encoding() else {
            panic!("not shared: {:?}", pairs[0].server.frame_encoding());
        };
        let mut compressor = SharedCompressor::new(share);
        assert_eq!(compressor.share(), share);
        let message = compressible(2000);
        let mut prepared = PreparedMessage::new(message.clone());
        assert_eq!(prepared.frame_for(FrameEncoding::Deflate(share)), None);
        prepared.compress(&mut compressor);
        prepared.compress(&mut compressor);
        let frame = prepared
            .frame_for(FrameEncoding::Deflate(share))
            .unwrap()
            .clone();
        assert_eq!(frame[0], 0xc1);
        assert!(frame.len() < prepared.wire_len() / 4);

        // The bytes a connection of that share compresses itself.
        let mut own = Pair::connect(no_takeover(), no_takeover());
        own.server.send(message.clone()).unwrap();
        assert_eq!(transmitted(&mut own.server), &frame[..]);

        for pair in &mut pairs {
            assert_eq!(pair.server.frame_encoding(), FrameEncoding::Deflate(share));
            for _ in 0..2 {
                pair.server.send_prepared(&prepared).unwrap();
                let transmit = pair.server.poll_transmit().unwrap();
                assert!(transmit.header().is_empty());
                assert_eq!(transmit.payload().as_ptr(), frame.as_ptr());
                let mut bytes = Vec::new();
                transmit.write_to(&mut bytes);
                pair.client.handle_input(pair.now, &bytes);
            }
            pair.server.send(text(40)).unwrap();
            pair.to_client();
            assert_eq!(
                messages(&mut pair.client),
                vec![message.clone(), message.clone(), text(40)]
            );
        }
    }

    #[test]
    fn a_message_below_the_threshold_is_shared_plain() {
        let mut pair = Pair::connect(no_takeover(), no_takeover());
        let FrameEncoding::Deflate(share) = pair.server.frame_encoding() else {
            panic!("not shared");
        };
        // Under the threshold of 32, though its frame, header included,
        // is not, and compresses well: it goes out as it is, once decided.
        let message = Message::text("a".repeat(31));
        let mut prepared = PreparedMessage::new(message.clone());
        prepared.compress(&mut SharedCompressor::new(share));
        let frame = prepared.frame_for(FrameEncoding::Deflate(share)).unwrap();
        assert_eq!(frame.as_ptr(), prepared.frame().as_ptr());
        pair.server.send_prepared(&prepared).unwrap();
        let transmit = pair.server.poll_transmit().unwrap();
        assert_eq!(transmit.payload().as_ptr(), prepared.frame().as_ptr());
        assert_eq!(transmit.payload().as_ref(), prepared.frame().as_ref());
        let mut bytes = Vec::new();
        transmit.write_to(&mut bytes);
        pair.client.handle_input(pair.now, &bytes);
        assert_eq!(messages(&mut pair.client), vec![message]);
    }

    #[test]
    fn different_settings_are_different_shares() {
        let small = config(
            DeflateConfig::default()
                .server_no_context_takeover(true)
                .server_max_window_bits(10),
        );
        let a = Pair::connect(no_takeover(), no_takeover());
        let b = Pair::connect(small.clone(), small);
        let level = config(
            DeflateConfig::default()
                .server_no_context_takeover(true)
                .level(6),
        );
        let c = Pair::connect(no_takeover(), level);
        let shares: Vec<FrameEncoding> = [&a, &b, &c]
            .iter()
            .map(|p| p.server.frame_encoding())
            .collect();
        assert!(shares
            .iter()
            .all(|s| matches!(s, FrameEncoding::Deflate(_))));
        assert_ne!(shares[0], shares[1]);
        assert_ne!(shares[0], shares[2]);
    }

    #[test]
    fn an_uncompressed_share_falls_back_to_the_connections_codec() {
        let mut pair = Pair::connect(no_takeover(), no_takeover());
        let message = compressible(500);
        let prepared = PreparedMessage::new(message.clone());
        // No compress() ran for this share: the connection compresses.
        pair.server.send_prepared(&prepared).unwrap();
        let transmit = pair.server.poll_transmit().unwrap();
        assert_eq!(transmit.header()[0], 0xc1);
        let mut bytes = Vec::new();
        transmit.write_to(&mut bytes);
        pair.client.handle_input(pair.now, &bytes);
        assert_eq!(messages(&mut pair.client), vec![message]);
    }

    #[test]
    fn a_connection_with_context_takeover_compresses_its_own_copy() {
        let takeover = config(DeflateConfig::default());
        let mut pair = Pair::connect(takeover.clone(), takeover);
        assert_eq!(pair.server.frame_encoding(), FrameEncoding::PerConnection);
        let message = compressible(300);
        let prepared = PreparedMessage::new(message.clone());
        let sequence = [
            (true, message.clone()),
            (false, message.clone()),
            (true, message.clone()),
            (false, compressible(100)),
            (true, message.clone()),
        ];
        for (share, m) in &sequence {
            if *share {
                pair.server.send_prepared(&prepared).unwrap();
            } else {
                pair.server.send(m.clone()).unwrap();
            }
        }
        let wire = transmitted(&mut pair.server);
        // Context carried over: later copies of the same text shrink.
        assert!(wire.len() < prepared.wire_len() * 2);
        pair.client.handle_input(pair.now, &wire);
        let expected: Vec<Message> = sequence.into_iter().map(|(_, m)| m).collect();
        assert_eq!(messages(&mut pair.client), expected);
    }
}

/// A random mix of messages, each sent with `send` or `send_prepared`,
/// under one of several server configurations.
#[derive(Clone, Debug)]
struct Mix {
    setup: u8,
    sends: Vec<(bool, bool, Vec<u8>)>,
}

impl Arbitrary for Mix {
    fn arbitrary(g: &mut Gen) -> Self {
        let count = usize::arbitrary(g) % 12;
        let sends = (0..count)
            .map(|_| {
                let len = match u8::arbitrary(g) % 4 {
                    0 => 0,
                    1 => usize::arbitrary(g) % 126,
                    2 => usize::arbitrary(g) % 600,
                    _ => 65530 + usize::arbitrary(g) % 12,
                };
                let fill = u8::arbitrary(g) % 3;
                let data = (0..len).map(|i| b'a' + ((i as u8) >> fill) % 7).collect();
                (bool::arbitrary(g), bool::arbitrary(g), data)
            })
            .collect();
        Mix {
            setup: u8::arbitrary(g),
            sends,
        }
    }
}

fn setup(index: u8) -> (Config, Config) {
    let plain = Config::default();
    match index % 5 {
        0 => (plain.clone(), plain),
        1 => (plain.clone(), plain.fragment_size(100)),
        2 => {
            let batched = plain.subprotocols(vec![Subprotocol::batched("b")]);
            (batched.clone(), batched)
        }
        #[cfg(feature = "deflate")]
        3 => {
            let deflate = crate::extension::deflate::DeflateConfig::default()
                .server_no_context_takeover(true);
            let c = plain.deflate(Some(deflate));
            (c.clone(), c)
        }
        #[cfg(feature = "deflate")]
        4 => {
            let c = plain.deflate(Some(Default::default()));
            (c.clone(), c)
        }
        _ => (plain.clone(), plain),
    }
}

/// The client's events after the server sent `mix`, prepared where the
/// mix says (or all with `send`).
fn received(mix: &Mix, prepared: bool) -> Vec<Event> {
    let (client, server) = setup(mix.setup);
    let mut pair = Pair::connect(client, server);
    #[cfg(feature = "deflate")]
    let mut compressor = match pair.server.frame_encoding() {
        FrameEncoding::Deflate(share) => Some(crate::prepared::SharedCompressor::new(share)),
        _ => None,
    };
    for (use_prepared, is_text, data) in &mix.sends {
        let message = if *is_text {
            Message::text(String::from_utf8(data.clone()).unwrap())
        } else {
            Message::binary(data.clone())
        };
        if prepared && *use_prepared {
            #[allow(unused_mut)]
            let mut message = PreparedMessage::new(message);
            #[cfg(feature = "deflate")]
            if let Some(compressor) = compressor.as_mut() {
                message.compress(compressor);
            }
            pair.server.send_prepared(&message).unwrap();
        } else {
            pair.server.send(message).unwrap();
        }
        if data.len() % 3 == 0 {
            pair.to_client();
        }
    }
    pair.server.close(pair.now, CloseCode::NORMAL, "").unwrap();
    pair.drive();
    let received = events(&mut pair.client);
    pair.drive();
    received
}

#[test]
fn prepared_sends_are_received_like_sends() {
    fn property(mix: Mix) -> bool {
        received(&mix, true) == received(&mix, false)
    }
    quickcheck(property as fn(Mix) -> bool);
}
