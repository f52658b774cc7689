//! The bad-input catalogue: named hostile inputs, each with the exact outcome
//! the engine must reach (HTTP status, close code and error variant, or a
//! per-stream refusal), and a bound on the heap the row may use.
//!
//! Rows run one after another in a single test so that the counting
//! allocator below measures one row at a time.

use std::time::Duration;

use bytes::Bytes;
use wscore::wire::OpCode;
use wscore::wire::Record;
use wscore::{
    accept_key, AbortCode, BatchConfig, BatchError, ClientRequest, CloseCause, CloseCode, Config,
    Connection, DeflateConfig, Event, HandshakeError, Instant, NegotiationError, ProtocolError,
    ReceiveMode, RecordError, Role, StreamConfig, StreamError, StreamEvent, Subprotocol,
    TimeoutKind,
};
use wscore_tests::{encode_frame, FrameSpec, LenForm};

#[path = "support/counting.rs"]
mod counting;

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

const T0: Instant = Instant::ZERO;
const KEY: [u8; 4] = [0x11, 0x22, 0x33, 0x44];
const GOOD_REQUEST: &str = "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";

/// Who reads the input, configured how.
#[derive(Clone)]
enum Setup {
    /// A server reading the upgrade request.
    Handshake(Config),
    /// An open server connection.
    Server(Config),
    /// An open client connection.
    Client(Config),
    /// A client that sent its request and reads this response.
    ClientHandshake(Config),
    /// An open server connection negotiated with this subprotocol list and
    /// deflate setting (both ends alike).
    Negotiated(Config),
}

/// The outcome a row must reach.
#[derive(Debug)]
enum Expect {
    /// The server answers with this HTTP status and ends with this error.
    Http(u16, HandshakeError),
    /// The connection fails with this close code on the wire and this error.
    Close(u16, ProtocolError),
    /// A client handshake that fails with this error (nothing to answer).
    Rejected(HandshakeError),
    /// The connection times out.
    Timeout(TimeoutKind),
    /// One stream is refused with this code; the connection stays open.
    Refused(AbortCode, StreamError),
    /// Nothing happens beyond the listed number of events, the connection
    /// stays healthy, and at most this many frames are written.
    Quiet { events: usize, max_frames: usize },
}

struct Row {
    name: &'static str,
    setup: Setup,
    /// The input, delivered in reads of at most `read` bytes, one read per
    /// `pace` of simulated time.
    input: Vec<u8>,
    read: usize,
    pace: Duration,
    expect: Expect,
    /// Heap the row may use above what it started with.
    max_heap: usize,
    /// The peer reads nothing: what the engine writes is taken only after
    /// the whole input was fed.
    stalled: bool,
}

fn row(name: &'static str, setup: Setup, input: Vec<u8>, expect: Expect) -> Row {
    Row {
        name,
        setup,
        input,
        read: usize::MAX,
        pace: Duration::ZERO,
        expect,
        max_heap: 256 << 10,
        stalled: false,
    }
}

fn request(extra: &str) -> Vec<u8> {
    format!("{GOOD_REQUEST}{extra}\r\n").into_bytes()
}

/// A request with `header` replaced by `value` (or removed when `None`).
fn request_with(header: &str, value: Option<&str>) -> Vec<u8> {
    let mut out = String::new();
    for line in GOOD_REQUEST.split("\r\n").filter(|l| !l.is_empty()) {
        if line
            .to_ascii_lowercase()
            .starts_with(&format!("{}:", header.to_ascii_lowercase()))
        {
            if let Some(value) = value {
                out.push_str(&format!("{header}: {value}\r\n"));
            }
        } else {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("\r\n");
    out.into_bytes()
}

fn masked(fin: bool, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    encode_frame(fin, opcode, payload, Some(KEY))
}

/// A masked frame header with arbitrary first byte and length field.
fn raw_header(first: u8, len: u64) -> Vec<u8> {
    let mut out = vec![first];
    match len {
        0..=125 => out.push(0x80 | len as u8),
        126..=0xffff => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(0x80 | 127);
            out.extend_from_slice(&len.to_be_bytes());
        }
    }
    out.extend_from_slice(&KEY);
    out
}

fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut out = code.to_be_bytes().to_vec();
    out.extend_from_slice(reason);
    out
}

fn batched() -> Config {
    Config::default()
        .subprotocols(vec![Subprotocol::batched("b")])
        .batch(BatchConfig::default().max_messages(4).max_bytes(1024))
}

fn streamed() -> Config {
    Config::default()
        .subprotocols(vec![Subprotocol::streamed("s")])
        .stream(StreamConfig::default().max_stream_size(1 << 20))
}

fn deflate() -> Config {
    Config::default()
        .deflate(Some(DeflateConfig::default()))
        .max_message_size(1 << 20)
}

fn record(r: Record) -> Vec<u8> {
    masked(true, OpCode::Binary, &r.encode())
}

/// A compressed (RSV1) masked frame.
fn compressed(fin: bool, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let mut frame = masked(fin, opcode, payload);
    frame[0] |= 0x40;
    frame
}

/// A raw-deflate stream of `len` zeros, without the sync-flush trailer.
fn bomb(len: usize) -> Vec<u8> {
    use flate2::{Compress, Compression, FlushCompress};
    let mut c = Compress::new_with_window_bits(Compression::best(), false, 15);
    let mut out = Vec::with_capacity(len / 500 + 1024);
    let zeros = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        let n = left.min(zeros.len());
        let before = c.total_in();
        c.compress_vec(&zeros[..n], &mut out, FlushCompress::None)
            .unwrap();
        left -= (c.total_in() - before) as usize;
        out.reserve(4096);
    }
    c.compress_vec(&[], &mut out, FlushCompress::Sync).unwrap();
    out.truncate(out.len() - 4);
    out
}

fn rows() -> Vec<Row> {
    use HandshakeError as H;
    use ProtocolError as P;
    let server = || Setup::Server(Config::default());
    let handshake = || Setup::Handshake(Config::default());
    let mut rows = vec![
        // ---- the server handshake ----
        row(
            "oversized header block",
            handshake(),
            request(&format!("X-Pad: {}\r\n", "a".repeat(20_000))),
            Expect::Http(431, H::HeadersTooLarge),
        ),
        row(
            "too many header fields",
            handshake(),
            request(&"X-A: 1\r\n".repeat(70)),
            Expect::Http(431, H::TooManyHeaders),
        ),
        row(
            "missing Host",
            handshake(),
            request_with("Host", None),
            Expect::Http(400, H::MissingHeader("Host")),
        ),
        row(
            "missing Upgrade",
            handshake(),
            request_with("Upgrade", None),
            Expect::Http(400, H::MissingHeader("Upgrade")),
        ),
        row(
            "Upgrade is not websocket",
            handshake(),
            request_with("Upgrade", Some("h2c")),
            Expect::Http(400, H::BadUpgradeHeader),
        ),
        row(
            "Connection without upgrade",
            handshake(),
            request_with("Connection", Some("keep-alive")),
            Expect::Http(400, H::BadConnectionHeader),
        ),
        row(
            "missing key",
            handshake(),
            request_with("Sec-WebSocket-Key", None),
            Expect::Http(400, H::MissingHeader("Sec-WebSocket-Key")),
        ),
        row(
            "key is not base64",
            handshake(),
            request_with("Sec-WebSocket-Key", Some("!!!!!!!!!!!!!!!!!!!!!!==")),
            Expect::Http(400, H::BadKey),
        ),
        row(
            "key of 15 bytes",
            handshake(),
            request_with("Sec-WebSocket-Key", Some("AAAAAAAAAAAAAAAAAAAA")),
            Expect::Http(400, H::BadKey),
        ),
        row(
            "key of 17 bytes",
            handshake(),
            request_with("Sec-WebSocket-Key", Some("AAAAAAAAAAAAAAAAAAAAAAA=")),
            Expect::Http(400, H::BadKey),
        ),
        row(
            "duplicated key",
            handshake(),
            request("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"),
            Expect::Http(400, H::DuplicateHeader("Sec-WebSocket-Key")),
        ),
        row(
            "version 12",
            handshake(),
            request_with("Sec-WebSocket-Version", Some("12")),
            Expect::Http(426, H::UnsupportedVersion),
        ),
        row(
            "missing version",
            handshake(),
            request_with("Sec-WebSocket-Version", None),
            Expect::Http(400, H::MissingHeader("Sec-WebSocket-Version")),
        ),
        row(
            "POST instead of GET",
            handshake(),
            format!("POST{}\r\n", &GOOD_REQUEST[3..]).into_bytes(),
            Expect::Http(405, H::MethodNotGet),
        ),
        row(
            "HTTP/1.0",
            handshake(),
            GOOD_REQUEST
                .replacen("HTTP/1.1", "HTTP/1.0", 1)
                .into_bytes()
                .into_iter()
                .chain(*b"\r\n")
                .collect(),
            Expect::Http(400, H::HttpVersion),
        ),
        row(
            "garbage instead of a request",
            handshake(),
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n".to_vec(),
            Expect::Http(400, H::MalformedHttp),
        ),
        row(
            "header value not text",
            handshake(),
            request_with("Sec-WebSocket-Version", Some("1\u{fffd}3")),
            Expect::Http(426, H::UnsupportedVersion),
        ),
        Row {
            read: 1,
            pace: Duration::from_secs(1),
            max_heap: 64 << 10,
            ..row(
                "slowloris handshake",
                handshake(),
                request(""),
                Expect::Timeout(TimeoutKind::Handshake),
            )
        },
        // ---- the client handshake ----
        row(
            "response status 200",
            Setup::ClientHandshake(Config::default()),
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec(),
            Expect::Rejected(H::Status(200)),
        ),
        row(
            "wrong accept key",
            Setup::ClientHandshake(Config::default()),
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
                .to_vec(),
            Expect::Rejected(H::BadAccept),
        ),
        row(
            "response without Upgrade",
            Setup::ClientHandshake(Config::default()),
            response("Connection: Upgrade\r\n"),
            Expect::Rejected(H::MissingHeader("Upgrade")),
        ),
        row(
            "subprotocol never offered",
            Setup::ClientHandshake(Config::default()),
            response(
                "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Protocol: evil\r\n",
            ),
            Expect::Rejected(H::UnofferedSubprotocol("evil".into())),
        ),
        row(
            "extension never offered",
            Setup::ClientHandshake(Config::default()),
            response(
                "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Extensions: x-evil\r\n",
            ),
            Expect::Rejected(H::UnofferedExtension("x-evil".into())),
        ),
        row(
            "deflate answer with an unknown parameter",
            Setup::ClientHandshake(deflate()),
            response(
                "Upgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Extensions: permessage-deflate; evil=1\r\n",
            ),
            Expect::Rejected(H::Extension(NegotiationError::UnknownParameter(
                "evil".into(),
            ))),
        ),
        row(
            "deflate accepted twice",
            Setup::ClientHandshake(deflate()),
            response(
                "Upgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Extensions: permessage-deflate, permessage-deflate\r\n",
            ),
            Expect::Rejected(H::Extension(NegotiationError::MultipleAccepts)),
        ),
        // ---- frames ----
        row(
            "unmasked client frame",
            server(),
            encode_frame(true, OpCode::Text, b"hi", None),
            Expect::Close(1002, P::UnmaskedFrame),
        ),
        row(
            "masked server frame",
            Setup::Client(Config::default()),
            masked(true, OpCode::Text, b"hi"),
            Expect::Close(1002, P::MaskedFrame),
        ),
        row(
            "RSV1 without an extension",
            server(),
            with_first(0xc1, b"hi"),
            Expect::Close(1002, P::ReservedBits),
        ),
        row(
            "RSV2",
            server(),
            with_first(0xa1, b"hi"),
            Expect::Close(1002, P::ReservedBits),
        ),
        row(
            "RSV3",
            server(),
            with_first(0x91, b"hi"),
            Expect::Close(1002, P::ReservedBits),
        ),
        row(
            "reserved data opcode 3",
            server(),
            with_first(0x83, b""),
            Expect::Close(1002, P::ReservedOpcode(3)),
        ),
        row(
            "reserved data opcode 7",
            server(),
            with_first(0x87, b""),
            Expect::Close(1002, P::ReservedOpcode(7)),
        ),
        row(
            "reserved control opcode 11",
            server(),
            with_first(0x8b, b""),
            Expect::Close(1002, P::ReservedOpcode(11)),
        ),
        row(
            "reserved control opcode 15",
            server(),
            with_first(0x8f, b""),
            Expect::Close(1002, P::ReservedOpcode(15)),
        ),
        row(
            "fragmented ping",
            server(),
            masked(false, OpCode::Ping, b"x"),
            Expect::Close(1002, P::FragmentedControlFrame),
        ),
        row(
            "fragmented close",
            server(),
            masked(false, OpCode::Close, &close_payload(1000, b"")),
            Expect::Close(1002, P::FragmentedControlFrame),
        ),
        row(
            "ping of 126 bytes",
            server(),
            masked(true, OpCode::Ping, &[0; 126]),
            Expect::Close(1002, P::ControlFrameTooLong(126)),
        ),
        row(
            "pong of 65536 bytes announced",
            server(),
            raw_header(0x8a, 65_536),
            Expect::Close(1002, P::ControlFrameTooLong(65_536)),
        ),
        row(
            "64-bit length with the top bit set",
            server(),
            raw_header(0x82, 1 << 63),
            Expect::Close(1002, P::LengthTopBitSet),
        ),
        row(
            "frame over the limit, announced before any payload",
            Setup::Server(Config::default().max_frame_size(1 << 20)),
            raw_header(0x82, 1 << 40),
            Expect::Close(
                1009,
                P::FrameTooLarge {
                    len: 1 << 40,
                    max: 1 << 20,
                },
            ),
        ),
        row(
            "message over the limit across fragments",
            Setup::Server(Config::default().max_message_size(1000)),
            [
                masked(false, OpCode::Binary, &[0; 600]),
                masked(true, OpCode::Continuation, &[0; 600]),
            ]
            .concat(),
            Expect::Close(
                1009,
                P::MessageTooLarge {
                    len: 1200,
                    max: 1000,
                },
            ),
        ),
        row(
            "continuation with nothing to continue",
            server(),
            masked(true, OpCode::Continuation, b"x"),
            Expect::Close(1002, P::UnexpectedContinuation),
        ),
        row(
            "new message inside a fragmented one",
            server(),
            [
                masked(false, OpCode::Text, b"a"),
                masked(true, OpCode::Text, b"b"),
            ]
            .concat(),
            Expect::Close(1002, P::ExpectedContinuation),
        ),
        row(
            "invalid UTF-8 in one text frame",
            server(),
            masked(true, OpCode::Text, b"ok\xff"),
            Expect::Close(1007, P::InvalidUtf8),
        ),
        row(
            "invalid UTF-8 fails before the message ends",
            server(),
            masked(
                false,
                OpCode::Text,
                b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80",
            ),
            Expect::Close(1007, P::InvalidUtf8),
        ),
        row(
            "invalid UTF-8 in incremental mode",
            Setup::Server(Config::default().receive_mode(ReceiveMode::Incremental)),
            [
                masked(false, OpCode::Text, b"fine"),
                masked(false, OpCode::Continuation, b"\xc0\xaf"),
            ]
            .concat(),
            Expect::Close(1007, P::InvalidUtf8),
        ),
        row(
            "truncated UTF-8 at the end of a message",
            server(),
            masked(true, OpCode::Text, b"\xe2\x82"),
            Expect::Close(1007, P::InvalidUtf8),
        ),
        row(
            "invalid UTF-8 in a close reason",
            server(),
            masked(true, OpCode::Close, &close_payload(1000, b"\xff")),
            Expect::Close(1007, P::InvalidUtf8),
        ),
        row(
            "close code 999",
            server(),
            masked(true, OpCode::Close, &close_payload(999, b"")),
            Expect::Close(1002, P::InvalidCloseCode(999)),
        ),
        row(
            "close code 1004",
            server(),
            masked(true, OpCode::Close, &close_payload(1004, b"")),
            Expect::Close(1002, P::InvalidCloseCode(1004)),
        ),
        row(
            "close code 1005 on the wire",
            server(),
            masked(true, OpCode::Close, &close_payload(1005, b"")),
            Expect::Close(1002, P::InvalidCloseCode(1005)),
        ),
        row(
            "close code 1006 on the wire",
            server(),
            masked(true, OpCode::Close, &close_payload(1006, b"")),
            Expect::Close(1002, P::InvalidCloseCode(1006)),
        ),
        row(
            "close code 1015 on the wire",
            server(),
            masked(true, OpCode::Close, &close_payload(1015, b"")),
            Expect::Close(1002, P::InvalidCloseCode(1015)),
        ),
        row(
            "close code 5000",
            server(),
            masked(true, OpCode::Close, &close_payload(5000, b"")),
            Expect::Close(1002, P::InvalidCloseCode(5000)),
        ),
        row(
            "close frame with a one-byte payload",
            server(),
            masked(true, OpCode::Close, b"\x03"),
            Expect::Close(1002, P::InvalidClosePayload),
        ),
        row(
            "data after the close frame",
            server(),
            [
                masked(true, OpCode::Close, &close_payload(1000, b"")),
                masked(true, OpCode::Text, b"late"),
                b"\xff\xff\xff".to_vec(),
            ]
            .concat(),
            // CloseReceived and Closed; the late frame and garbage are ignored.
            Expect::Quiet {
                events: 2,
                max_frames: 1,
            },
        ),
        // 20 000 pings in reads of 64 KiB, as an adapter reads: at most 16
        // pongs per read, and memory flat whatever the flood's length.
        Row {
            max_heap: 512 << 10,
            read: 64 << 10,
            ..row(
                "ping flood",
                server(),
                masked(true, OpCode::Ping, &[7; 125]).repeat(20_000),
                Expect::Quiet {
                    events: 20_000,
                    max_frames: 16 * (20_000 * 131 / (64 << 10) + 1),
                },
            )
        },
        // ---- permessage-deflate ----
        row(
            "RSV1 on a continuation frame",
            Setup::Negotiated(deflate()),
            [
                compressed(false, OpCode::Binary, &[0x02, 0x00]),
                compressed(true, OpCode::Continuation, b""),
            ]
            .concat(),
            Expect::Close(1002, P::ReservedBits),
        ),
        row(
            "RSV1 on a ping",
            Setup::Negotiated(deflate()),
            compressed(true, OpCode::Ping, b""),
            Expect::Close(1002, P::ReservedBits),
        ),
        // The output stops at the 1 MiB limit; growing it briefly holds the
        // previous buffer too.
        Row {
            max_heap: (1 << 20) + (1 << 20) + (256 << 10),
            ..row(
                "deflate bomb",
                Setup::Negotiated(deflate()),
                compressed(true, OpCode::Binary, &bomb(4 << 20)),
                Expect::Close(
                    1009,
                    P::MessageTooLarge {
                        len: (1 << 20) + 1,
                        max: 1 << 20,
                    },
                ),
            )
        },
        row(
            "corrupt deflate data",
            Setup::Negotiated(deflate()),
            compressed(true, OpCode::Binary, b"\xff\xff\xff\xff"),
            Expect::Close(1007, P::InvalidCompressedData),
        ),
        row(
            "compressed text that inflates to invalid UTF-8",
            Setup::Negotiated(deflate()),
            compressed(true, OpCode::Text, &deflate_raw(b"ok\xff")),
            Expect::Close(1007, P::InvalidUtf8),
        ),
        // ---- the batching envelope ----
        row(
            "batch with a truncated length",
            Setup::Negotiated(batched()),
            masked(true, OpCode::Binary, b"\x01a\x80"),
            Expect::Close(
                1007,
                P::InvalidBatch(BatchError::TruncatedLength { offset: 2 }),
            ),
        ),
        row(
            "batch with an overflowing varint",
            Setup::Negotiated(batched()),
            masked(
                true,
                OpCode::Binary,
                b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f",
            ),
            Expect::Close(
                1007,
                P::InvalidBatch(BatchError::LengthOverflow { offset: 0 }),
            ),
        ),
        row(
            "batch length past the end",
            Setup::Negotiated(batched()),
            masked(true, OpCode::Binary, b"\x03abc\x09ab"),
            Expect::Close(
                1007,
                P::InvalidBatch(BatchError::TruncatedMessage { offset: 5 }),
            ),
        ),
        row(
            "batch with too many messages",
            Setup::Negotiated(batched()),
            masked(true, OpCode::Binary, b"\x00\x00\x00\x00\x00"),
            Expect::Close(
                1008,
                P::InvalidBatch(BatchError::TooManyMessages { offset: 4 }),
            ),
        ),
        row(
            "batch over its size limit",
            Setup::Negotiated(batched()),
            masked(true, OpCode::Binary, &[0; 2000]),
            Expect::Close(1009, P::InvalidBatch(BatchError::TooLarge { offset: 1024 })),
        ),
        // ---- the streaming envelope ----
        row(
            "empty stream record",
            Setup::Negotiated(streamed()),
            masked(true, OpCode::Binary, b""),
            Expect::Close(1007, P::InvalidStreamRecord(RecordError::Empty)),
        ),
        row(
            "unknown record tag",
            Setup::Negotiated(streamed()),
            masked(true, OpCode::Binary, b"\x42"),
            Expect::Close(1007, P::InvalidStreamRecord(RecordError::UnknownTag(0x42))),
        ),
        row(
            "truncated stream id",
            Setup::Negotiated(streamed()),
            masked(true, OpCode::Binary, b"\x02\x80"),
            Expect::Close(
                1007,
                P::InvalidStreamRecord(RecordError::BadField { offset: 1 }),
            ),
        ),
        row(
            "chunk for an unknown stream",
            Setup::Negotiated(streamed()),
            record(Record::Chunk {
                id: 3,
                offset: 0,
                data: Bytes::from_static(b"x"),
            }),
            Expect::Refused(AbortCode::INVALID, StreamError::UnknownStream),
        ),
        row(
            "duplicate chunk",
            Setup::Negotiated(streamed()),
            [open(1, 10), chunk(1, 0, b"abc"), chunk(1, 0, b"abc")].concat(),
            Expect::Refused(
                AbortCode::INVALID,
                StreamError::DuplicateChunk {
                    offset: 0,
                    expected: 3,
                },
            ),
        ),
        row(
            "chunk at an out-of-range offset",
            Setup::Negotiated(streamed()),
            [open(1, 10), chunk(1, 8, b"abc")].concat(),
            Expect::Refused(
                AbortCode::INVALID,
                StreamError::OutOfRange { offset: 8, len: 3 },
            ),
        ),
        row(
            "stream ends short of its length",
            Setup::Negotiated(streamed()),
            [
                open(1, 10),
                chunk(1, 0, b"abc"),
                record(Record::End { id: 1 }),
            ]
            .concat(),
            Expect::Refused(
                AbortCode::INVALID,
                StreamError::LengthMismatch {
                    announced: 10,
                    received: 3,
                },
            ),
        ),
        row(
            "stream larger than allowed",
            Setup::Negotiated(streamed()),
            open(1, 1 << 40),
            Expect::Refused(AbortCode::LIMIT, StreamError::TooLarge),
        ),
        row(
            "stream opened twice",
            Setup::Negotiated(streamed()),
            [open(1, 10), open(1, 10)].concat(),
            Expect::Refused(AbortCode::INVALID, StreamError::AlreadyOpen),
        ),
    ];
    rows.push(row(
        "more streams than allowed",
        Setup::Negotiated(streamed().stream(StreamConfig::default().max_streams(2))),
        [open(1, 10), open(2, 10), open(3, 10)].concat(),
        Expect::Refused(AbortCode::LIMIT, StreamError::TooManyStreams),
    ));
    // A peer that sends chunks for ever new streams and reads none of the
    // refusals: they are bounded, and the connection fails with 1008.
    rows.push(Row {
        read: 4 << 10,
        stalled: true,
        ..row(
            "refusals the peer does not read",
            Setup::Negotiated(streamed()),
            (0..20_000).flat_map(|id| chunk(id, 0, b"x")).collect(),
            Expect::Close(1008, P::RefusalLimit),
        )
    });
    rows.push(row(
        "pong of 126 bytes",
        server(),
        masked(true, OpCode::Pong, &[0; 126]),
        Expect::Close(1002, P::ControlFrameTooLong(126)),
    ));
    rows.push(row(
        "ping of 126 bytes in the 64-bit length form",
        server(),
        FrameSpec::ping([0; 126])
            .masked(KEY)
            .len_form(LenForm::Long)
            .encode(),
        Expect::Close(1002, P::ControlFrameTooLong(126)),
    ));
    rows
}

fn open(id: u32, total_len: u64) -> Vec<u8> {
    record(Record::Open {
        id,
        total_len,
        metadata: Bytes::new(),
    })
}

fn chunk(id: u32, offset: u64, data: &'static [u8]) -> Vec<u8> {
    record(Record::Chunk {
        id,
        offset,
        data: Bytes::from_static(data),
    })
}

fn deflate_raw(data: &[u8]) -> Vec<u8> {
    use flate2::{Compress, Compression, FlushCompress};
    let mut c = Compress::new_with_window_bits(Compression::default(), false, 15);
    let mut out = Vec::with_capacity(data.len() + 64);
    c.compress_vec(data, &mut out, FlushCompress::Sync).unwrap();
    out.truncate(out.len() - 4);
    out
}

/// A masked frame whose first byte (FIN, RSV, opcode) is `first`.
fn with_first(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = masked(true, OpCode::Binary, payload);
    frame[0] = first;
    frame
}

/// A 101 response with the right accept key for the catalogue's clients
/// (their seed is fixed, so their key is too) and `headers`.
fn response(headers: &str) -> Vec<u8> {
    format!("HTTP/1.1 101 Switching Protocols\r\n{{accept}}{headers}\r\n").into_bytes()
}

/// Builds the connection a row reads with, past any handshake it assumes.
fn connect(setup: &Setup) -> (Connection, Option<String>) {
    match setup {
        Setup::Handshake(config) => (Connection::server(config.clone(), T0).unwrap(), None),
        Setup::Server(config) => (
            Connection::upgraded(Role::Server, config.clone(), [1; 32], T0).unwrap(),
            None,
        ),
        Setup::Client(config) => (
            Connection::upgraded(Role::Client, config.clone(), [1; 32], T0).unwrap(),
            None,
        ),
        Setup::ClientHandshake(config) => {
            let mut client = Connection::client(
                config.clone(),
                ClientRequest::new("example.com", "/"),
                [1; 32],
                T0,
            )
            .unwrap();
            let request = String::from_utf8(wscore_tests::drain_transmits(&mut client)).unwrap();
            let key = request
                .lines()
                .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
                .unwrap()
                .trim()
                .to_string();
            let accept = format!("Sec-WebSocket-Accept: {}\r\n", accept_key(key.as_bytes()));
            (client, Some(accept))
        }
        Setup::Negotiated(config) => {
            let mut client = Connection::client(
                config.clone(),
                ClientRequest::new("example.com", "/"),
                [1; 32],
                T0,
            )
            .unwrap();
            let mut server = Connection::server(config.clone(), T0).unwrap();
            server.handle_input(T0, &wscore_tests::drain_transmits(&mut client));
            assert!(matches!(server.poll_event(), Some(Event::Request(_))));
            server.accept(T0, Default::default()).unwrap();
            client.handle_input(T0, &wscore_tests::drain_transmits(&mut server));
            assert!(matches!(server.poll_event(), Some(Event::Connected(_))));
            assert!(matches!(client.poll_event(), Some(Event::Connected(_))));
            (server, None)
        }
    }
}

/// Runs one row; returns what went wrong.
fn run(row: &Row) -> Result<(), String> {
    let (mut conn, accept) = connect(&row.setup);
    let mut input = row.input.clone();
    if let Some(accept) = accept {
        input = String::from_utf8(input)
            .unwrap()
            .replace("{accept}", &accept)
            .into_bytes();
    }
    let base = counting::reset_peak();

    let mut now = T0;
    // Pings and pongs are counted, not kept: they would be the row's memory.
    let mut events = Vec::new();
    let mut count = 0;
    let mut keep = |new: Vec<Event>, events: &mut Vec<Event>| {
        count += new.len();
        events.extend(
            new.into_iter()
                .filter(|e| !matches!(e, Event::Ping(_) | Event::Pong(_))),
        );
    };
    let mut written = Vec::new();
    for piece in input.chunks(row.read.max(1)) {
        conn.handle_input(now, piece);
        if !row.stalled {
            written.extend(wscore_tests::drain_transmits(&mut conn));
        }
        keep(wscore_tests::drain_events(&mut conn), &mut events);
        if !row.stalled {
            written.extend(wscore_tests::drain_transmits(&mut conn));
        }
        if !row.pace.is_zero() {
            now += row.pace;
            conn.handle_timeout(now);
        }
        if conn.is_closed() {
            break;
        }
    }
    keep(wscore_tests::drain_events(&mut conn), &mut events);
    written.extend(wscore_tests::drain_transmits(&mut conn));
    let peak = counting::peak().saturating_sub(base);
    // Input, transmits and events the row itself keeps are not the engine's.
    if peak > row.max_heap + written.capacity() + events.capacity() * 64 {
        return Err(format!(
            "heap grew by {peak} bytes (bound {})",
            row.max_heap
        ));
    }
    let closed = events.iter().find_map(|e| match e {
        Event::Closed(c) => Some(c.clone()),
        _ => None,
    });
    if let Some(i) = events.iter().position(|e| matches!(e, Event::Closed(_))) {
        if i + 1 != events.len() {
            return Err(format!("events after Closed: {:?}", &events[i + 1..]));
        }
    }
    match &row.expect {
        Expect::Http(status, error) => {
            let head = String::from_utf8_lossy(&written);
            if !head.starts_with(&format!("HTTP/1.1 {status} ")) {
                return Err(format!("answered {:?}", head.lines().next()));
            }
            if *status == 426 && !head.contains("Sec-WebSocket-Version: 13\r\n") {
                return Err("426 without Sec-WebSocket-Version: 13".into());
            }
            check_cause(
                closed.map(|c| c.cause),
                CloseCause::Handshake(error.clone()),
            )
        }
        Expect::Rejected(error) => check_cause(
            closed.map(|c| c.cause),
            CloseCause::Handshake(error.clone()),
        ),
        Expect::Timeout(kind) => {
            let closed = closed.ok_or("no Closed event")?;
            if closed.code != CloseCode::ABNORMAL {
                return Err(format!("code {:?}", closed.code));
            }
            check_cause(Some(closed.cause), CloseCause::Timeout(*kind))
        }
        Expect::Close(code, error) => {
            let frames = wscore_tests::decode_frames(&written)?;
            let wire = frames.iter().find_map(|f| f.close_code());
            if wire != Some(*code) {
                return Err(format!("close code on the wire {wire:?}, expected {code}"));
            }
            let closed = closed.ok_or("no Closed event")?;
            if closed.code.0 != *code {
                return Err(format!("reported code {:?}", closed.code));
            }
            check_cause(Some(closed.cause), CloseCause::Protocol(*error))
        }
        Expect::Refused(code, error) => {
            if closed.is_some() || !conn.is_open() {
                return Err(format!("connection ended: {closed:?}"));
            }
            let failed = events.iter().find_map(|e| match e {
                Event::Stream(StreamEvent::Failed { error, .. }) => Some(error.clone()),
                _ => None,
            });
            if failed.as_ref() != Some(error) {
                return Err(format!("stream failure {failed:?}"));
            }
            let refusal = wscore_tests::decode_frames(&written)?
                .iter()
                .filter(|f| f.opcode == OpCode::Binary)
                .find_map(|f| match Record::decode(&Bytes::from(f.payload.clone())) {
                    Ok(Record::Refuse { code, .. }) => Some(code),
                    _ => None,
                });
            if refusal != Some(*code) {
                return Err(format!("refusal {refusal:?}"));
            }
            // Still usable: a batch goes through.
            conn.handle_input(now, &masked(true, OpCode::Binary, b"\x00\x02ok"));
            let after = wscore_tests::drain_events(&mut conn);
            if !matches!(&after[..], [Event::Message(m)] if m.payload().as_ref() == b"ok") {
                return Err(format!("not usable after the refusal: {after:?}"));
            }
            Ok(())
        }
        Expect::Quiet {
            events: expected,
            max_frames,
        } => {
            if count != *expected {
                return Err(format!("{count} events, expected {expected}"));
            }
            let frames = wscore_tests::decode_frames(&written)?;
            if frames.len() > *max_frames {
                return Err(format!(
                    "{} frames written, at most {max_frames}",
                    frames.len()
                ));
            }
            Ok(())
        }
    }
}

fn check_cause(got: Option<CloseCause>, want: CloseCause) -> Result<(), String> {
    if got.as_ref() == Some(&want) {
        Ok(())
    } else {
        Err(format!("ended with {got:?}, expected {want:?}"))
    }
}

#[test]
fn every_hostile_input_meets_its_exact_outcome() {
    let rows = rows();
    assert!(rows.len() >= 60, "the catalogue has {} rows", rows.len());
    let mut names = std::collections::BTreeSet::new();
    let failures: Vec<String> = rows
        .iter()
        .filter_map(|row| {
            assert!(names.insert(row.name), "duplicate row name {:?}", row.name);
            run(row).err().map(|e| format!("{}: {e}", row.name))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}
