//! Shared driving code for the connection fuzz targets: decode the fuzz input
//! into a script of transport reads, timer jumps and application commands,
//! run it against a connection, and check the invariants after every step.

use core::cell::RefCell;
use core::time::Duration;
use std::collections::HashMap;

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use wscore::test_support::FrameSpec;
use wscore::wire::{FrameHeader, OpCode, Rsv};
use wscore::{
    Accept, BatchConfig, ClientRequest, CloseCode, Config, Connection, Event, Instant, Message,
    ReceiveMode, StreamConfig, Subprotocol,
};

/// One step of a fuzzed session.
#[derive(Arbitrary, Debug)]
pub enum Op {
    /// Bytes arrive from the peer.
    Input(Vec<u8>),
    /// Simulated time passes, then any due deadline fires.
    Advance(u16),
    /// The application sends a message of [`send_len`]`(len)` bytes.
    Send { body: Body, len: u16 },
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
    /// streamed connection) of at least `LARGE_SEND` bytes.
    SendLarge(u16),
    /// Bytes arrive as the adapters read them: into the room the
    /// connection offers for the rest of a large frame while it lasts,
    /// otherwise into a window that several reads fill one after another,
    /// each read handed over with `handle_input_buf`.
    Read(Vec<u8>),
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
    /// Distinguishes setups that describe different configurations.
    fn key(&self) -> u8 {
        u8::from(self.incremental)
            | u8::from(self.small_limits) << 1
            | u8::from(self.keepalive) << 2
            | u8::from(self.deflate) << 3
            | (self.envelope % 3) << 4
    }

    /// The configuration this setup describes.
    pub fn config(&self) -> Config {
        let mut config = Config::default()
            .receive_mode(if self.incremental {
                ReceiveMode::Incremental
            } else {
                ReceiveMode::Whole
            })
            .fragment_size(FRAGMENT_SIZE);
        if self.small_limits {
            config = config
                .max_frame_size(1024)
                .max_message_size(4096)
                .max_handshake_bytes(512);
        }
        if self.keepalive {
            config = config.keepalive(Some(wscore::Keepalive {
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
pub fn negotiated(setup: &Setup) -> Connection {
    let mut server = Connection::server(setup.config(), Instant::ZERO).unwrap();
    REQUESTS.with(|requests| {
        let mut requests = requests.borrow_mut();
        let request = requests
            .entry(setup.key())
            .or_insert_with(|| client_request(setup.config()));
        server.handle_input(Instant::ZERO, request);
    });
    let _ = server.poll_event();
    server.accept(Instant::ZERO, Accept::new()).unwrap();
    while server.poll_transmit().is_some() {}
    let _ = server.poll_event();
    server
}

std::thread_local! {
    /// The client's upgrade request for each distinct setup. The client is
    /// deterministic (fixed key, no clock), so its bytes are made once
    /// rather than by a throwaway connection per input.
    static REQUESTS: RefCell<HashMap<u8, Vec<u8>>> = RefCell::new(HashMap::new());
}

/// The upgrade request a client with `config` writes.
fn client_request(config: Config) -> Vec<u8> {
    let request = ClientRequest::new("fuzz", "/");
    let mut client = Connection::client(config, request, [3; 32], Instant::ZERO).unwrap();
    let mut bytes = Vec::new();
    while let Some(t) = client.poll_transmit() {
        t.write_to(&mut bytes);
    }
    bytes
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

/// Outgoing messages are cut into frames of this size.
const FRAGMENT_SIZE: usize = 4096;

/// Longest message the application sends. It spans three fragments (first,
/// continuation, last) and exceeds every send-side size in
/// [`Setup::config`] (fragment size, batch cap, stream threshold and chunk
/// size). Longer messages reach nothing more and cost masking and
/// compression in proportion to their length.
const MAX_SEND: usize = 3 * FRAGMENT_SIZE;

/// The length a `Send` op asks for: the top two bits of `raw` pick a
/// scale, so three sends in four are short (where the per-message paths
/// are: the compression threshold, the 7-bit length form, batching) and
/// one in four is spread over every length up to [`MAX_SEND`]. Each length
/// stays reachable, at the first scale.
pub fn send_len(raw: u16) -> usize {
    let value = usize::from(raw & 0x3fff) % (MAX_SEND + 1);
    value >> (4 * (raw >> 14))
}

/// What a `Send` op's message is made of, decoded from one input byte:
/// its low bit picks text or binary (as a `bool` would), the next three
/// bits the bytes, so that compression has messages it shrinks a lot,
/// some, and not at all. One send in eight each is letters or noise:
/// compressing them costs more per byte than the repeated byte, and a few
/// reach what they are for.
#[derive(Clone, Copy, Debug)]
pub struct Body {
    text: bool,
    fill: Fill,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fill {
    /// One byte repeated: compresses to almost nothing.
    Repeated,
    /// Letters from a four-letter alphabet at random (text): compresses to
    /// a little over half, so the longest messages are still more than one
    /// fragment once compressed.
    Letters,
    /// Random bytes (binary even when text is asked for, as they are not
    /// UTF-8): compressing would grow them, so they go out uncompressed.
    Noise,
}

impl<'a> Arbitrary<'a> for Body {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        let byte = u8::arbitrary(u)?;
        let fill = match (byte >> 1) & 7 {
            6 => Fill::Letters,
            7 => Fill::Noise,
            _ => Fill::Repeated,
        };
        Ok(Body {
            text: byte & 1 == 1,
            fill,
        })
    }

    fn size_hint(_depth: usize) -> (usize, Option<usize>) {
        (1, Some(1))
    }
}

/// Shortest `SendLarge` message.
const LARGE_SEND: usize = 2000;

/// The bytes sent messages are cut from, one block per [`Fill`]: shared
/// and static (made at compile time), so a send costs the engine's work on
/// it and not an allocation and fill per op.
static REPEATED: [u8; MAX_SEND] = [b'a'; MAX_SEND];
static LETTERS: [u8; MAX_SEND] = pseudo_random(b'a', 0x03);
static NOISE: [u8; MAX_SEND] = pseudo_random(0, 0xff);

/// Bytes `base + (r & mask)` for a fixed xorshift sequence `r`.
const fn pseudo_random(base: u8, mask: u8) -> [u8; MAX_SEND] {
    let mut out = [0; MAX_SEND];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut i = 0;
    while i < MAX_SEND {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out[i] = base.wrapping_add((x >> 32) as u8 & mask);
        i += 1;
    }
    out
}

/// `len` bytes of the block `body` names, as a message of its kind.
fn payload_message(body: Body, len: usize) -> Message {
    let block = match body.fill {
        Fill::Repeated => &REPEATED,
        Fill::Letters => &LETTERS,
        Fill::Noise => &NOISE,
    };
    let body_bytes = &block[..len.min(MAX_SEND)];
    match (body.text, core::str::from_utf8(body_bytes)) {
        (true, Ok(text)) => Message::text(text),
        _ => Message::binary(Bytes::from_static(body_bytes)),
    }
}

/// Runs `ops` against `conn`, asserting the invariants the engine promises.
pub fn run(mut conn: Connection, ops: Vec<Op>) {
    let config = conn.config();
    let input_bound = config.max_frame_size as usize + config.max_handshake_bytes + 14;
    let mut now = Instant::ZERO;
    let mut closed = false;
    let mut wire = WireCheck::default();
    let mut window = BytesMut::new();
    for op in ops {
        match op {
            Op::Input(bytes) => conn.handle_input(now, &bytes),
            Op::Read(bytes) => {
                let mut rest = &bytes[..];
                while !rest.is_empty() {
                    if let Some(room) = conn.take_read_buffer() {
                        window = room;
                    }
                    if window.capacity() == 0 {
                        window = BytesMut::with_capacity(rest.len().max(4096));
                    }
                    let (read, tail) = rest.split_at(rest.len().min(window.capacity()));
                    window.extend_from_slice(read);
                    conn.handle_input_buf(now, window.split());
                    rest = tail;
                }
            }
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
            Op::Send { body, len } => {
                let _ = conn.send(payload_message(body, send_len(len)));
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
                let len = LARGE_SEND + send_len(len) % (MAX_SEND - LARGE_SEND + 1);
                let binary = Body {
                    text: false,
                    fill: Fill::Repeated,
                };
                let _ = conn.send(payload_message(binary, len));
            }
        }
        assert!(
            conn.buffered_input() <= input_bound,
            "input buffer beyond its bound"
        );
        while let Some(transmit) = conn.poll_transmit() {
            wire.feed(transmit.header());
            wire.feed(transmit.payload());
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
}

/// Longest frame header: two bytes, an eight-byte length and a mask key.
const MAX_HEADER: usize = 14;

/// Reads what the connection writes as it is written, checking that every
/// close frame carries a code that may be sent. Only a header or a close
/// payload (at most 125 bytes) is ever held; other payloads are skipped
/// without being copied.
#[derive(Default)]
struct WireCheck {
    state: WireState,
    /// The tail of the opening HTTP message, or a header or close payload
    /// that arrived split across writes.
    held: Vec<u8>,
    /// Close frames whose payload was checked.
    closes: usize,
}

#[derive(Default)]
enum WireState {
    /// Nothing decided yet: the wire may open with the handshake's HTTP
    /// message (a client's request or a server's response), which is not
    /// framed.
    #[default]
    Opening,
    /// Inside that HTTP message, until its blank line.
    Http,
    /// Expecting a frame header.
    Header,
    /// Skipping this many payload bytes of a frame that is not a close.
    Skip(u64),
    /// Collecting a close frame's payload.
    Close { len: usize, mask: Option<[u8; 4]> },
    /// The bytes stopped parsing as frames (a rejected handshake's body);
    /// nothing after can be checked.
    Lost,
}

impl WireCheck {
    fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match self.state {
                WireState::Opening => {
                    // `H` and `G` open a response and a request; as a frame's
                    // first byte they would be a fragmented close and a
                    // reserved opcode, which are never written.
                    self.state = match bytes.first() {
                        Some(b'H' | b'G') => WireState::Http,
                        _ => WireState::Header,
                    };
                }
                WireState::Http => {
                    // The blank line may straddle writes: look at the last
                    // three bytes held together with the new ones.
                    let keep = self.held.len().min(3);
                    let tail_start = self.held.len() - keep;
                    self.held.drain(..tail_start);
                    let mut window = core::mem::take(&mut self.held);
                    let seen = window.len();
                    window.extend_from_slice(bytes);
                    match window.windows(4).position(|w| w == b"\r\n\r\n") {
                        Some(at) => {
                            bytes = &bytes[at + 4 - seen..];
                            self.state = WireState::Header;
                        }
                        None => {
                            self.held = window;
                            bytes = &[];
                        }
                    }
                }
                WireState::Header => {
                    let before = self.held.len();
                    let take = (MAX_HEADER - before).min(bytes.len());
                    self.held.extend_from_slice(&bytes[..take]);
                    match FrameHeader::decode(&self.held) {
                        Ok(Some((header, len))) => {
                            bytes = &bytes[len - before..];
                            self.held.clear();
                            self.state = if header.opcode == OpCode::Close {
                                WireState::Close {
                                    len: header.payload_len as usize,
                                    mask: header.mask,
                                }
                            } else {
                                WireState::Skip(header.payload_len)
                            };
                        }
                        Ok(None) => bytes = &bytes[take..],
                        Err(_) => {
                            self.held.clear();
                            self.state = WireState::Lost;
                        }
                    }
                }
                WireState::Skip(left) => {
                    let n = usize::try_from(left).unwrap_or(usize::MAX).min(bytes.len());
                    bytes = &bytes[n..];
                    self.state = WireState::Skip(left - n as u64);
                }
                WireState::Close { len, mask } => {
                    let take = (len - self.held.len()).min(bytes.len());
                    self.held.extend_from_slice(&bytes[..take]);
                    bytes = &bytes[take..];
                    if self.held.len() == len {
                        check_close_payload(&mut self.held, mask);
                        self.closes += 1;
                        self.held.clear();
                        self.state = WireState::Header;
                    }
                }
                WireState::Lost => return,
            }
            if let WireState::Skip(0) | WireState::Close { len: 0, .. } = self.state {
                self.state = WireState::Header;
            }
        }
    }
}

/// A close frame we wrote carries a code that may be sent.
fn check_close_payload(payload: &mut [u8], mask: Option<[u8; 4]>) {
    if let Some(key) = mask {
        wscore::wire::apply_mask(payload, key, 0);
    }
    if let [a, b, ..] = *payload {
        let code = CloseCode(u16::from_be_bytes([a, b]));
        assert!(code.is_sendable(), "wrote close code {code}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(opcode: OpCode, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
        let header = FrameHeader {
            fin: true,
            rsv: Rsv::NONE,
            opcode,
            mask,
            payload_len: payload.len() as u64,
        };
        let mut out = header.encode().as_slice().to_vec();
        let start = out.len();
        out.extend_from_slice(payload);
        if let Some(key) = mask {
            wscore::wire::apply_mask(&mut out[start..], key, 0);
        }
        out
    }

    /// An opening HTTP message, then frames with 7-bit, 16-bit and 64-bit
    /// lengths and two close frames.
    fn wire(opening: &[u8], mask: Option<[u8; 4]>, last_code: u16) -> Vec<u8> {
        let mut wire = opening.to_vec();
        wire.extend(encoded(OpCode::Text, mask, b"hi"));
        wire.extend(encoded(OpCode::Binary, mask, &[7; 300]));
        wire.extend(encoded(OpCode::Close, mask, b"\x03\xe8bye"));
        wire.extend(encoded(OpCode::Binary, mask, &[9; 70_000]));
        wire.extend(encoded(OpCode::Close, mask, &last_code.to_be_bytes()));
        wire
    }

    fn closes_checked(wire: &[u8], chunk: usize) -> usize {
        let mut check = WireCheck::default();
        for piece in wire.chunks(chunk) {
            check.feed(piece);
        }
        check.closes
    }

    const RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n";
    const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";

    #[test]
    fn close_frames_are_found_however_the_wire_is_split() {
        let key = Some([1, 2, 3, 4]);
        for wire in [
            wire(RESPONSE, None, 1001),
            wire(REQUEST, key, 1001),
            wire(b"", None, 1001),
            wire(b"", key, 1001),
        ] {
            for chunk in [1, 2, 3, 5, 13, 14, 15, 64, 1000, wire.len()] {
                assert_eq!(closes_checked(&wire, chunk), 2, "chunk {chunk}");
            }
        }
    }

    #[test]
    #[should_panic(expected = "wrote close code 1005")]
    fn an_unsendable_code_from_a_client_is_caught() {
        closes_checked(&wire(REQUEST, Some([9, 8, 7, 6]), 1005), 7);
    }

    #[test]
    #[should_panic(expected = "wrote close code 1006")]
    fn an_unsendable_code_from_a_server_is_caught() {
        closes_checked(&wire(RESPONSE, None, 1006), 1);
    }

    #[test]
    fn every_send_length_up_to_the_longest_is_reachable() {
        let mut seen = vec![false; MAX_SEND + 1];
        for raw in 0..=u16::MAX {
            seen[send_len(raw)] = true;
        }
        assert!(seen.iter().all(|&s| s));
        let short = (0..=u16::MAX).filter(|&raw| send_len(raw) <= 1024).count();
        assert!(short > 3 * (1 << 14), "most sends are short");
    }

    /// The three fills reach the three outcomes of compressing a long
    /// message: shrunk to almost nothing, shrunk but still longer than a
    /// fragment, and sent uncompressed.
    #[test]
    fn each_fill_compresses_as_described() {
        use wscore::wire::Deflate;
        use wscore::{DeflateConfig, DeflateParams};
        let compressed = |block: &[u8]| {
            let config = DeflateConfig::default();
            let mut codec = Deflate::new(&DeflateParams::default(), wscore::Role::Server, &config);
            codec.compress(block).map(|wire| wire.len())
        };
        assert!(compressed(&REPEATED).is_some_and(|len| len < 200));
        assert!(compressed(&LETTERS)
            .is_some_and(|len| len > FRAGMENT_SIZE && len < LETTERS.len() * 3 / 4));
        assert_eq!(compressed(&NOISE), None);
        let text = |fill| Body { text: true, fill };
        assert!(matches!(
            payload_message(text(Fill::Letters), MAX_SEND),
            Message::Text(_)
        ));
        assert!(matches!(
            payload_message(text(Fill::Noise), 64),
            Message::Binary(_)
        ));
    }

    #[test]
    fn a_lone_close_frame_is_checked() {
        assert_eq!(closes_checked(&[0x88, 0x02, 0x03, 0xe8], 1), 1);
    }
}
