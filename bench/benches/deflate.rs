//! Row 5c: permessage-deflate.
//!
//! JSON-like messages compressed by a client connection (send, compress,
//! frame, mask) and inflated by a server connection (parse, unmask,
//! inflate, validate UTF-8), in memory, against flate2 doing only the
//! compression work permessage-deflate needs (raw deflate with a sync flush
//! per message, context kept between messages, at the same level): the
//! physical reference for what the extension costs on top.

use std::time::{Duration, Instant};

use bytes::Bytes;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use wscore::{Config, DeflateConfig, Event, Message, Utf8Bytes};
use wscore_bench::harness::{alternate, Sample, Settings};
use wscore_bench::report::{mbps, ratio, size, Table};
use wscore_bench::wire::{connected_pair, json_payload};

fn main() {
    let settings = Settings::from_env();
    let sizes: &[usize] = if settings.smoke {
        &[1 << 10, 16 << 10]
    } else {
        &[1 << 10, 16 << 10, 256 << 10]
    };
    let level = DeflateConfig::default().level;
    let mut table = Table::new(
        "permessage-deflate on JSON-like text (client compresses, server inflates; in memory)",
        &[
            "message",
            "wscore compress",
            "flate2 compress",
            "wscore/flate2",
            "wscore inflate",
            "flate2 inflate",
            "wscore/flate2",
            "wire ÷ payload (wscore)",
            "deflated ÷ payload (flate2)",
        ],
    );
    for &len in sizes {
        let count = settings.frames_per_sample(len);
        let messages: Vec<Bytes> = (0..count)
            .map(|i| Bytes::from(json_payload(len, (i * 1000) as u64)))
            .collect();
        let plain_total: usize = messages.iter().map(Bytes::len).sum();

        // The wire a wscore client writes, and the raw deflate stream of
        // the reference, recorded once for the inflate side and the ratio.
        let ours_wire = ours_compress(&messages, level).0;
        let theirs_blocks = flate2_compress(&messages, level).0;
        let theirs_total: usize = theirs_blocks.iter().map(Vec::len).sum();
        assert_eq!(ours_inflate(&ours_wire, &messages), plain_total);
        assert_eq!(flate2_inflate(&theirs_blocks, &messages), plain_total);

        let mut contenders: Vec<Sample<'_>> = vec![
            Box::new(|| {
                let (wire, time) = ours_compress(&messages, level);
                assert_eq!(wire.len(), ours_wire.len());
                time
            }),
            Box::new(|| {
                let (blocks, time) = flate2_compress(&messages, level);
                assert_eq!(blocks.len(), count);
                time
            }),
            Box::new(|| {
                let start = Instant::now();
                let seen = ours_inflate(&ours_wire, &messages);
                let time = start.elapsed();
                assert_eq!(seen, plain_total);
                time
            }),
            Box::new(|| {
                let start = Instant::now();
                let seen = flate2_inflate(&theirs_blocks, &messages);
                let time = start.elapsed();
                assert_eq!(seen, plain_total);
                time
            }),
        ];
        eprintln!("deflate: {} messages of {}", count, size(len));
        let t = alternate(settings.rounds, &mut contenders);
        let [ours_c, theirs_c, ours_i, theirs_i] = t[..] else {
            unreachable!("four contenders")
        };
        let speed = |d: Duration| plain_total as f64 / d.as_secs_f64().max(1e-12);
        table.row(vec![
            size(len),
            mbps(speed(ours_c)),
            mbps(speed(theirs_c)),
            ratio(speed(ours_c) / speed(theirs_c)),
            mbps(speed(ours_i)),
            mbps(speed(theirs_i)),
            ratio(speed(ours_i) / speed(theirs_i)),
            format!("{:.3}", ours_wire.len() as f64 / plain_total as f64),
            format!("{:.3}", theirs_total as f64 / plain_total as f64),
        ]);
    }
    table.note(format!(
        "Medians of {} alternating rounds; {} of payload per sample; MB/s of uncompressed payload. \
         Level {level} (wscore's default) for both, 15-bit windows, context kept between messages. \
         wscore's wire ratio includes frame headers and masking keys; the reference is the bare \
         deflate stream with each message's sync-flush trailer removed, as on the wire. \
         tungstenite 0.30 and fastwebsockets 0.10 do not implement permessage-deflate, so they have no column.",
        settings.rounds,
        size(settings.sample_bytes)
    ));
    table.print();
}

fn deflate_config(level: u32) -> Config {
    Config::default().deflate(Some(DeflateConfig::default().level(level)))
}

/// Sends every message as text from a fresh client and returns the wire.
/// The connection and the handshake are outside the timing.
fn ours_compress(messages: &[Bytes], level: u32) -> (Vec<u8>, Duration) {
    let (mut client, _server) = connected_pair(deflate_config(level), deflate_config(level));
    let texts: Vec<Utf8Bytes> = messages
        .iter()
        .map(|m| Utf8Bytes::try_from(m.clone()).expect("JSON is UTF-8"))
        .collect();
    let mut wire = Vec::with_capacity(messages.iter().map(Bytes::len).sum::<usize>());
    let start = Instant::now();
    for text in texts {
        client.send(Message::Text(text)).expect("send");
        while let Some(t) = client.poll_transmit() {
            t.write_to(&mut wire);
        }
    }
    (wire, start.elapsed())
}

/// Feeds `wire` to a fresh server in 64 KiB reads; checks every message
/// and returns the payload bytes received.
fn ours_inflate(wire: &[u8], messages: &[Bytes]) -> usize {
    let (_client, mut server) = connected_pair(
        deflate_config(DeflateConfig::default().level),
        deflate_config(DeflateConfig::default().level),
    );
    let now = wscore::Instant::ZERO;
    let mut seen = 0;
    let mut index = 0;
    for read in wire.chunks(wscore_bench::wire::READ_SIZE) {
        server.handle_input(now, read);
        while let Some(event) = server.poll_event() {
            let Event::Message(message) = event else {
                panic!("unexpected {event:?}");
            };
            assert!(
                Some(message.payload()) == messages.get(index),
                "message {index} differs"
            );
            seen += message.payload().len();
            index += 1;
        }
    }
    assert_eq!(index, messages.len());
    seen
}

const TRAILER: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Raw deflate of each message with a sync flush, trailer removed.
fn flate2_compress(messages: &[Bytes], level: u32) -> (Vec<Vec<u8>>, Duration) {
    let mut deflate = Compress::new(Compression::new(level), false);
    let mut blocks = Vec::with_capacity(messages.len());
    let start = Instant::now();
    for message in messages {
        let mut out = Vec::with_capacity(message.len() / 2 + 64);
        let mut input: &[u8] = message;
        loop {
            let before_in = deflate.total_in();
            let before_out = out.len();
            deflate
                .compress_vec(input, &mut out, FlushCompress::Sync)
                .expect("deflate");
            let consumed = (deflate.total_in() - before_in) as usize;
            input = input.get(consumed..).unwrap_or_default();
            // Done once the input is in and the flush fitted.
            if input.is_empty() && out.len() < out.capacity() {
                break;
            }
            if out.len() == before_out && consumed == 0 && out.len() < out.capacity() {
                break;
            }
            out.reserve(out.capacity().max(64));
        }
        assert!(out.ends_with(&TRAILER), "sync flush trailer");
        out.truncate(out.len() - TRAILER.len());
        blocks.push(out);
    }
    (blocks, start.elapsed())
}

/// Inflates each block (trailer restored) and checks it.
fn flate2_inflate(blocks: &[Vec<u8>], messages: &[Bytes]) -> usize {
    let mut inflate = Decompress::new(false);
    let mut seen = 0;
    let mut input = Vec::new();
    for (block, message) in blocks.iter().zip(messages) {
        input.clear();
        input.extend_from_slice(block);
        input.extend_from_slice(&TRAILER);
        let mut out = Vec::with_capacity(message.len() + 64);
        let mut rest: &[u8] = &input;
        while !rest.is_empty() {
            let before = inflate.total_in();
            inflate
                .decompress_vec(rest, &mut out, FlushDecompress::Sync)
                .expect("inflate");
            let consumed = (inflate.total_in() - before) as usize;
            rest = rest.get(consumed..).unwrap_or_default();
            if consumed == 0 {
                out.reserve(out.capacity().max(64));
            }
        }
        assert!(out == message.as_ref(), "inflated message differs");
        seen += out.len();
    }
    seen
}
