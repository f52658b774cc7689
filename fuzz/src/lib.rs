//! Shared driving code for the connection fuzz targets: decode the fuzz input
//! into a script of transport reads, timer jumps and application commands,
//! run it against a connection, and check the invariants after every step.

use core::time::Duration;

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use wscore::envelope::batch::BatchConfig;
use wscore::envelope::stream::StreamConfig;
use wscore::envelope::Subprotocol;
use wscore::frame::{FrameHeader, OpCode, Rsv};
use wscore::handshake::{Accept, ClientRequest};
use wscore::test_support::{pump, FrameSpec};
use wscore::{CloseCode, Config, Connection, Event, Instant, Message, ReceiveMode};

/// One step of a fuzzed session.
#[derive(Arbitrary, Debug)]
pub enum Op {
    /// Bytes arrive from the peer.
    Input(Vec<u8>),
    /// Simulated time passes, then any due deadline fires.
    Advance(u16),
    /// The application sends a message.
    Send { text: bool, len: u16 },
    /// The application pings.
    Ping(Vec<u8>),
    /// The application starts a close.
    Close(u16),
    /// A well-formed frame arrives (masked as a client masks), so the
    /// fuzzer reaches message contents without finding the framing first.
    Frame {
        opcode: u8,
        fin: bool,
        rsv1: bool,
        payload: Vec<u8>,
    },
    /// The application sends a large binary message (a stream on a
    /// streamed connection).
    SendLarge(u16),
}

/// Connection settings picked by the fuzzer, kept small so limits are hit.
#[derive(Arbitrary, Debug)]
pub struct Setup {
    incremental: bool,
    small_limits: bool,
    keepalive: bool,
    deflate: bool,
    /// 0: plain, 1: batched, 2: streamed (used when the handshake is made
    /// in memory by [`negotiated`]).
    envelope: u8,
}

impl Setup {
    /// The configuration this setup describes.
    pub fn config(&self) -> Config {
        let mut config = Config::default()
            .receive_mode(if self.incremental {
                ReceiveMode::Incremental
            } else {
                ReceiveMode::Whole
            })
            .fragment_size(4096);
        if self.small_limits {
            config = config
                .max_frame_size(1024)
                .max_message_size(4096)
                .max_handshake_bytes(512);
        }
        if self.keepalive {
            config = config.keepalive(Some(wscore::config::Keepalive {
                interval: Duration::from_millis(500),
                timeout: Duration::from_millis(300),
            }));
        }
        if self.deflate {
            config = config.deflate(Some(Default::default()));
        }
        let subprotocol = match self.envelope % 3 {
            0 => Subprotocol::plain("p"),
            1 => Subprotocol::batched("p"),
            _ => Subprotocol::streamed("p"),
        };
        config
            .subprotocols(vec![subprotocol])
            .batch(
                BatchConfig::default()
                    .max_messages(64)
                    .max_bytes(8192)
                    .cap(2048),
            )
            .stream(
                StreamConfig::default()
                    .send_threshold(Some(3000))
                    .chunk_size(700)
                    .chunks_per_turn(2)
                    .max_streams(3)
                    .max_buffered(16 << 10)
                    .max_stream_size(64 << 10)
                    .ttl(Duration::from_millis(800)),
            )
    }
}

/// A server connection whose handshake with an in-memory client (same
/// configuration) is done, so the subprotocol's envelope is in force.
pub fn negotiated(config: Config) -> Connection {
    let request = ClientRequest::new("fuzz", "/");
    let mut client = Connection::client(config.clone(), request, [3; 32], Instant::ZERO).unwrap();
    let mut server = Connection::server(config, Instant::ZERO).unwrap();
    pump(&mut client, &mut server, Instant::ZERO);
    let _ = server.poll_event();
    server.accept(Instant::ZERO, Accept::new()).unwrap();
    while server.poll_transmit().is_some() {}
    let _ = server.poll_event();
    server
}

/// A masked client frame.
fn frame(opcode: u8, fin: bool, rsv1: bool, payload: &[u8]) -> Vec<u8> {
    let opcode = OpCode::from_u8(opcode & 0x0f).unwrap_or(OpCode::Binary);
    FrameSpec::new(opcode, payload)
        .fin(fin)
        .rsv(if rsv1 { Rsv::RSV1 } else { Rsv::NONE })
        .masked([0x5a, 0x17, 0xc3, 0x01])
        .encode()
}

/// Runs `ops` against `conn`, asserting the invariants the engine promises.
pub fn run(mut conn: Connection, ops: Vec<Op>) {
    let config = conn.config().clone();
    let input_bound = config.max_frame_size as usize + config.max_handshake_bytes + 14;
    let mut now = Instant::ZERO;
    let mut closed = false;
    let mut written = Vec::new();
    for op in ops {
        match op {
            Op::Input(bytes) => conn.handle_input(now, &bytes),
            Op::Advance(ms) => {
                now += Duration::from_millis(u64::from(ms));
                conn.handle_timeout(now);
                if let Some(deadline) = conn.poll_timeout() {
                    assert!(
                        deadline > now,
                        "a deadline at or before now would busy-loop"
                    );
                }
            }
            Op::Send { text, len } => {
                let body = vec![b'a'; usize::from(len)];
                let message = if text {
                    Message::text(String::from_utf8(body).unwrap_or_default())
                } else {
                    Message::binary(body)
                };
                let _ = conn.send(message);
            }
            Op::Ping(payload) => {
                let _ = conn.ping(payload);
            }
            Op::Close(code) => {
                let _ = conn.close(now, CloseCode(code), "");
            }
            Op::Frame {
                opcode,
                fin,
                rsv1,
                payload,
            } => {
                conn.handle_input(now, &frame(opcode, fin, rsv1, &payload));
            }
            Op::SendLarge(len) => {
                let _ = conn.send(Message::binary(vec![b'z'; 2000 + usize::from(len)]));
            }
        }
        assert!(
            conn.buffered_input() <= input_bound,
            "input buffer beyond its bound"
        );
        while let Some(transmit) = conn.poll_transmit() {
            transmit.write_to(&mut written);
        }
        while let Some(event) = conn.poll_event() {
            assert!(!closed, "event after Closed: {event:?}");
            match event {
                Event::Request(_) => {
                    let _ = conn.accept(now, Accept::new());
                }
                Event::Message(Message::Text(text)) => {
                    assert!(core::str::from_utf8(text.as_bytes()).is_ok());
                }
                Event::Closed(_) => closed = true,
                _ => {}
            }
        }
    }
    check_close_codes(&written, conn.role());
}

/// Every close frame we wrote carries a code that may be sent.
fn check_close_codes(mut wire: &[u8], role: wscore::Role) {
    if role == wscore::Role::Server {
        // Skip the handshake response, if any.
        if let Some(end) = wire.windows(4).position(|w| w == b"\r\n\r\n") {
            if wire.starts_with(b"HTTP/") {
                wire = &wire[end + 4..];
            }
        }
    }
    while let Ok(Some((header, len))) = FrameHeader::decode(wire) {
        let end = len + header.payload_len as usize;
        let Some(payload) = wire.get(len..end) else {
            return;
        };
        let mut payload = payload.to_vec();
        if let Some(key) = header.mask {
            wscore::frame::apply_mask(&mut payload, key, 0);
        }
        if header.opcode == wscore::frame::OpCode::Close && payload.len() >= 2 {
            let code = CloseCode(u16::from_be_bytes([payload[0], payload[1]]));
            assert!(code.is_sendable(), "wrote close code {code}");
        }
        wire = &wire[end..];
    }
}
