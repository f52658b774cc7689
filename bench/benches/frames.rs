//! Rows 1 and 2: frame decode and encode in memory, no IO.
//!
//! Decode: a server parses, unmasks and (for text) validates masked frames
//! read from an in-memory stream in reads of at most 64 KiB. Encode: a
//! client masks and frames a binary payload it keeps (so it cannot be
//! masked in place) and writes it to an in-memory sink. A plain memcpy of
//! the same bytes is the physical reference.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use wscore::wire::OpCode;
use wscore::{Config, Connection, Event, Message, Role};
use wscore_bench::harness::{alternate, Sample, Settings};
use wscore_bench::report::{frames_and_gbps, ratio, size, Table};
use wscore_bench::wire::{
    binary_payload, decode_frames, masked_frames, text_payload, MemStream, Sink, READ_SIZE,
};

fn main() {
    let settings = Settings::from_env();
    decode(&settings);
    encode(&settings);
}

/// The adapters' read window at its default size
/// (`read_buffer_size`): reads of at most [`READ_SIZE`] fill it one after
/// another.
const WINDOW: usize = 256 << 10;

/// Payload bytes seen, to check that every implementation did the work.
#[derive(Debug, Default, PartialEq, Eq)]
struct Seen {
    frames: usize,
    bytes: usize,
}

impl Seen {
    fn add(&mut self, len: usize) {
        self.frames += 1;
        self.bytes += len;
    }
}

fn server_config() -> Config {
    Config::default()
}

fn count_ours(conn: &mut Connection, seen: &mut Seen) {
    while conn.poll_transmit().is_some() {}
    while let Some(event) = conn.poll_event() {
        match event {
            Event::Message(message) => seen.add(black_box(message).len()),
            other => panic!("unexpected event {other:?}"),
        }
    }
}

/// Ours, fed through `handle_input` (the engine copies each read in).
fn ours_input(wire: &[u8]) -> Seen {
    let now = wscore::Instant::ZERO;
    let mut conn = Connection::upgraded(Role::Server, server_config(), [0; 32], now).unwrap();
    let mut seen = Seen::default();
    let mut stream = MemStream::new(wire);
    let mut read = vec![0u8; READ_SIZE];
    loop {
        let n = std::io::Read::read(&mut stream, &mut read).unwrap();
        if n == 0 {
            break;
        }
        conn.handle_input(now, &read[..n]);
        count_ours(&mut conn, &mut seen);
    }
    seen
}

/// Ours, fed the way wscore-tokio does it: reads land in the spare
/// capacity of a window (tokio's `ReadBuf`, no zeroing) that is split off
/// and handed over with `handle_input_buf`, so single-frame payloads are
/// slices of the read buffer, and the rest of a large frame is read into
/// the room the connection offers for it, so its payload is assembled
/// where it is read.
fn ours_input_buf(wire: &[u8]) -> Seen {
    use bytes::BufMut;
    use std::pin::Pin;
    use std::task::{Context, Poll, Waker};

    let now = wscore::Instant::ZERO;
    let mut conn = Connection::upgraded(Role::Server, server_config(), [0; 32], now).unwrap();
    let mut seen = Seen::default();
    let mut stream = MemStream::new(wire);
    let mut cx = Context::from_waker(Waker::noop());
    let mut buf = BytesMut::new();
    let mut in_room = false;
    loop {
        if let Some(room) = conn.take_read_buffer() {
            buf = room;
            in_room = true;
        }
        if in_room && buf.capacity() == 0 {
            // The frame is complete: its buffer goes back with the message.
            buf = BytesMut::new();
            in_room = false;
        }
        let max = if in_room {
            buf.capacity().min(READ_SIZE)
        } else {
            if buf.capacity() < WINDOW / 8 {
                buf.clear();
                buf.reserve(WINDOW);
            }
            buf.capacity().min(WINDOW)
        };
        let read = tokio_util::io::poll_read_buf(
            Pin::new(&mut stream),
            &mut cx,
            &mut (&mut buf).limit(max),
        );
        let Poll::Ready(Ok(n)) = read else {
            unreachable!("an in-memory stream is always ready")
        };
        if n == 0 {
            break;
        }
        conn.handle_input_buf(now, buf.split_to(n));
        count_ours(&mut conn, &mut seen);
    }
    seen
}

fn tungstenite_decode(wire: &[u8], frames: usize) -> Seen {
    use tungstenite::protocol::{Role, WebSocket};
    use tungstenite::Message;
    let mut ws = WebSocket::from_raw_socket(MemStream::new(wire), Role::Server, None);
    let mut seen = Seen::default();
    for _ in 0..frames {
        match black_box(ws.read().unwrap()) {
            Message::Text(text) => seen.add(text.len()),
            Message::Binary(data) => seen.add(data.len()),
            other => panic!("unexpected message {other:?}"),
        }
    }
    assert!(ws.get_ref().is_drained());
    seen
}

fn fastwebsockets_decode(wire: &[u8], frames: usize) -> Seen {
    futures::executor::block_on(async {
        let stream = MemStream::new(wire);
        let mut ws =
            fastwebsockets::WebSocket::after_handshake(stream, fastwebsockets::Role::Server);
        let mut seen = Seen::default();
        for _ in 0..frames {
            let frame = ws.read_frame().await.unwrap();
            assert!(frame.fin);
            seen.add(black_box(frame).payload.len());
        }
        seen
    })
}

/// The first message each implementation decodes from `wire`.
fn first_payloads(wire: &[u8]) -> Vec<Vec<u8>> {
    let now = wscore::Instant::ZERO;
    let mut conn = Connection::upgraded(Role::Server, server_config(), [0; 32], now).unwrap();
    conn.handle_input(now, wire);
    let ours = match conn.poll_event() {
        Some(Event::Message(m)) => m.payload().to_vec(),
        other => panic!("ours: {other:?}"),
    };
    let mut ws = tungstenite::WebSocket::from_raw_socket(
        MemStream::new(wire),
        tungstenite::protocol::Role::Server,
        None,
    );
    let tung = ws.read().unwrap().into_data().to_vec();
    let fast = futures::executor::block_on(async {
        let mut ws = fastwebsockets::WebSocket::after_handshake(
            MemStream::new(wire),
            fastwebsockets::Role::Server,
        );
        ws.read_frame().await.unwrap().payload.to_vec()
    });
    vec![ours, tung, fast]
}

fn decode(settings: &Settings) {
    let mut table = Table::new(
        "Frame decode (server: parse + unmask + UTF-8 for text; no IO)",
        &[
            "frame",
            "memcpy",
            "ours (handle_input)",
            "ours (handle_input_buf)",
            "tungstenite",
            "fastwebsockets",
            "ours/tungstenite",
            "ours/fastwebsockets",
            "ours time ÷ memcpy time",
        ],
    );
    for (kind, opcode) in [("text", OpCode::Text), ("binary", OpCode::Binary)] {
        for &len in &settings.frame_sizes() {
            let payload = match opcode {
                OpCode::Text => text_payload(len),
                _ => binary_payload(len),
            };
            let frames = settings.frames_per_sample(len);
            let wire = masked_frames(opcode, &payload, frames);
            for (name, decoded) in ["ours", "tungstenite", "fastwebsockets"]
                .iter()
                .zip(first_payloads(&wire))
            {
                assert!(decoded == payload, "{name} decoded a different payload");
            }
            let expected = Seen {
                frames,
                bytes: frames * len,
            };
            let mut dst = vec![0u8; wire.len()];
            let mut contenders: Vec<Sample<'_>> = vec![
                Box::new(|| {
                    let start = Instant::now();
                    dst.copy_from_slice(black_box(&wire));
                    black_box(&mut dst);
                    start.elapsed()
                }),
                Box::new(|| {
                    let start = Instant::now();
                    let seen = ours_input(&wire);
                    let time = start.elapsed();
                    assert_eq!(seen, expected);
                    time
                }),
                Box::new(|| {
                    let start = Instant::now();
                    let seen = ours_input_buf(&wire);
                    let time = start.elapsed();
                    assert_eq!(seen, expected);
                    time
                }),
                Box::new(|| {
                    let start = Instant::now();
                    let seen = tungstenite_decode(&wire, frames);
                    let time = start.elapsed();
                    assert_eq!(seen, expected);
                    time
                }),
                Box::new(|| {
                    let start = Instant::now();
                    let seen = fastwebsockets_decode(&wire, frames);
                    let time = start.elapsed();
                    assert_eq!(seen, expected);
                    time
                }),
            ];
            let t = alternate(settings.rounds, &mut contenders);
            let [memcpy, input, input_buf, tung, fast] = t[..] else {
                unreachable!()
            };
            // The adapters' path is the headline; `handle_input` is shown
            // for callers that cannot hand over their buffer.
            let ours = input_buf;
            table.row(vec![
                format!("{kind} {}", size(len)),
                frames_and_gbps(frames, len, memcpy),
                frames_and_gbps(frames, len, input),
                frames_and_gbps(frames, len, input_buf),
                frames_and_gbps(frames, len, tung),
                frames_and_gbps(frames, len, fast),
                ratio(secs(tung) / secs(ours)),
                ratio(secs(fast) / secs(ours)),
                ratio(secs(ours) / secs(memcpy)),
            ]);
        }
    }
    table.note(format!(
        "Medians of {} alternating rounds; {} payload bytes per sample (at least one frame). \
         Ratios are throughput ours/peer with ours = handle_input_buf (> 1 means ours is faster); \
         the last column is time, ours over a memcpy of the same wire bytes. Reads are at most 64 KiB, \
         into spare capacity as wscore-tokio reads (wscore-async-std zeroes its buffers first).",
        settings.rounds,
        size(settings.sample_bytes)
    ));
    table.print();
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64().max(1e-12)
}

/// Ours: `send` then `poll_transmit`, each transmit's header and payload
/// copied into the sink as `Transmit::write_to` would.
fn ours_encode(payload: &Bytes, frames: usize, sink: &mut Sink) {
    let now = wscore::Instant::ZERO;
    // One frame per message, as the peers write it (the default cuts
    // messages above 256 KiB into fragments).
    let config = Config::default().fragment_size(payload.len().max(1));
    let mut conn = Connection::upgraded(Role::Client, config, [7; 32], now).unwrap();
    for _ in 0..frames {
        conn.send(Message::Binary(payload.clone())).unwrap();
        while let Some(transmit) = conn.poll_transmit() {
            sink.put(transmit.header());
            sink.put(transmit.payload());
        }
    }
}

fn tungstenite_encode(payload: &Bytes, frames: usize, sink: Sink) -> Sink {
    use tungstenite::protocol::{Role, WebSocket};
    let mut ws = WebSocket::from_raw_socket(sink, Role::Client, None);
    for _ in 0..frames {
        ws.send(tungstenite::Message::Binary(payload.clone()))
            .unwrap();
    }
    ws.into_inner()
}

fn fastwebsockets_encode(payload: &[u8], frames: usize, sink: Sink) -> Sink {
    use fastwebsockets::{Frame, Payload, Role, WebSocket};
    futures::executor::block_on(async {
        let mut ws = WebSocket::after_handshake(sink, Role::Client);
        for _ in 0..frames {
            // Borrowed: the application keeps its payload, so the mask is
            // applied to a copy, as ours and tungstenite's are.
            ws.write_frame(Frame::binary(Payload::Borrowed(payload)))
                .await
                .unwrap();
        }
        ws.into_inner()
    })
}

fn encode(settings: &Settings) {
    let mut table = Table::new(
        "Frame encode (client: mask + header of a binary payload it keeps; no IO)",
        &[
            "frame",
            "memcpy",
            "ours",
            "tungstenite",
            "fastwebsockets",
            "ours/tungstenite",
            "ours/fastwebsockets",
            "ours time ÷ memcpy time",
        ],
    );
    for &len in &settings.frame_sizes() {
        let payload = Bytes::from(binary_payload(len));
        let frames = settings.frames_per_sample(len);
        // Every encoder writes the same bytes per frame: a header with the
        // shortest length form, the key and the masked payload.
        let length_field = match len {
            0..=125 => 0,
            126..=65535 => 2,
            _ => 8,
        };
        let wire_len = (frames * (2 + length_field + 4 + len)) as u64;
        // Every encoder must produce frames that decode to the payload.
        let mut check = Sink::keeping();
        ours_encode(&payload, 2, &mut check);
        let outputs = [
            ("ours", check),
            (
                "tungstenite",
                tungstenite_encode(&payload, 2, Sink::keeping()),
            ),
            (
                "fastwebsockets",
                fastwebsockets_encode(&payload, 2, Sink::keeping()),
            ),
        ];
        for (name, sink) in &outputs {
            let decoded = decode_frames(sink.bytes());
            assert_eq!(decoded.len(), 2, "{name}");
            for (header, body) in decoded {
                assert!(header.mask.is_some() && header.fin, "{name}");
                assert!(body == payload, "{name} encoded a different payload");
            }
        }
        let mut sinks: Vec<Sink> = (0..4).map(|_| Sink::default()).collect();
        let [s_copy, s_ours, s_tung, s_fast] = &mut sinks[..] else {
            unreachable!()
        };
        let mut contenders: Vec<Sample<'_>> = vec![
            Box::new(|| {
                let start = Instant::now();
                for _ in 0..frames {
                    s_copy.put(black_box(&payload));
                }
                start.elapsed()
            }),
            Box::new(|| {
                let before = s_ours.total;
                let start = Instant::now();
                ours_encode(&payload, frames, s_ours);
                let time = start.elapsed();
                assert_eq!(s_ours.total - before, wire_len, "ours");
                time
            }),
            Box::new(|| {
                let sink = std::mem::take(s_tung);
                let before = sink.total;
                let start = Instant::now();
                let sink = tungstenite_encode(&payload, frames, sink);
                let time = start.elapsed();
                assert_eq!(sink.total - before, wire_len, "tungstenite");
                *s_tung = sink;
                time
            }),
            Box::new(|| {
                let sink = std::mem::take(s_fast);
                let before = sink.total;
                let start = Instant::now();
                let sink = fastwebsockets_encode(&payload, frames, sink);
                let time = start.elapsed();
                assert_eq!(sink.total - before, wire_len, "fastwebsockets");
                *s_fast = sink;
                time
            }),
        ];
        let t = alternate(settings.rounds, &mut contenders);
        let [memcpy, ours, tung, fast] = t[..] else {
            unreachable!()
        };
        table.row(vec![
            format!("binary {}", size(len)),
            frames_and_gbps(frames, len, memcpy),
            frames_and_gbps(frames, len, ours),
            frames_and_gbps(frames, len, tung),
            frames_and_gbps(frames, len, fast),
            ratio(secs(tung) / secs(ours)),
            ratio(secs(fast) / secs(ours)),
            ratio(secs(ours) / secs(memcpy)),
        ]);
    }
    table.note(format!(
        "Medians of {} alternating rounds. Every implementation copies the payload once to mask it \
         and once into the sink (a socket's send buffer); memcpy is the sink copy alone. \
         Ours sends with fragment_size ≥ the payload so every implementation writes one frame per message.",
        settings.rounds
    ));
    table.print();
}
