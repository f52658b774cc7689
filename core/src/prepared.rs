//! Prepared messages: a data message framed once as a server frame and
//! shared, as [`Bytes`], by every connection it is sent to.
//!
//! A broadcast to N connections otherwise builds N frame headers and, with
//! permessage-deflate, compresses the same payload N times. A
//! [`PreparedMessage`] holds the plain frame (header and payload in one
//! buffer) and, for each [`DeflateShare`] it was compressed for, the
//! compressed frame. A connection asks for the frame of its
//! [`FrameEncoding`] and queues a reference to it; a connection whose
//! frames cannot be shared (a client masks with its own keys, a deflate
//! context carries over from message to message, an envelope wraps the
//! payload) encodes its own copy, as [`Connection::send`] does.
//!
//! [`Connection::send`]: crate::Connection::send

#[cfg(feature = "deflate")]
use alloc::vec::Vec;
use bytes::{Bytes, BytesMut};

use crate::frame::{FrameHeader, Rsv};
use crate::message::{Message, MessageKind};

/// How a connection writes a prepared message: connections with equal
/// encodings write identical bytes.
///
/// ```
/// use wscore::{Config, Connection, FrameEncoding, Instant, Role};
///
/// let server = Connection::upgraded(Role::Server, Config::default(), [0; 32], Instant::ZERO)?;
/// assert_eq!(server.frame_encoding(), FrameEncoding::Plain);
/// let client = Connection::upgraded(Role::Client, Config::default(), [0; 32], Instant::ZERO)?;
/// assert_eq!(client.frame_encoding(), FrameEncoding::PerConnection);
/// # Ok::<(), wscore::SetupError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FrameEncoding {
    /// A server without permessage-deflate on the plain envelope: the
    /// prepared plain frame goes out as it is.
    Plain,
    /// A server whose permessage-deflate agreement has
    /// `server_no_context_takeover`: every message is compressed on its
    /// own, so one compression serves every connection of the same share.
    #[cfg(feature = "deflate")]
    Deflate(DeflateShare),
    /// A client (its frames are masked with its own keys), a deflate
    /// connection with context takeover, or a batched or streamed
    /// envelope: the connection encodes its own copy.
    PerConnection,
}

/// The settings that decide a no-context-takeover server's compressed
/// bytes: connections with equal shares compress a message identically.
///
/// Read it from [`Connection::frame_encoding`](crate::Connection::frame_encoding)
/// and give it to [`SharedCompressor::new`].
#[cfg(feature = "deflate")]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeflateShare {
    window_bits: u8,
    level: u32,
    threshold: usize,
    always_compress: bool,
}

#[cfg(feature = "deflate")]
impl DeflateShare {
    /// The share of a server sending with a `window_bits` window under
    /// `config`.
    pub(crate) fn new(window_bits: u8, config: &crate::DeflateConfig) -> Self {
        DeflateShare {
            window_bits,
            level: config.level,
            threshold: config.threshold,
            always_compress: config.always_compress,
        }
    }
}

/// A compressor for one [`DeflateShare`], reused for message after
/// message (it starts afresh for each, as the agreement requires).
///
/// It is the codec a connection of that share runs, so the bytes it
/// produces are the ones the connection would.
#[cfg(feature = "deflate")]
#[derive(Debug)]
pub struct SharedCompressor {
    share: DeflateShare,
    codec: crate::extension::deflate::Deflate,
}

#[cfg(feature = "deflate")]
impl SharedCompressor {
    /// A compressor for `share`. Its state is built by the first message
    /// worth compressing.
    pub fn new(share: DeflateShare) -> Self {
        use crate::extension::deflate::{Deflate, DeflateParams};
        let params = DeflateParams {
            server_no_context_takeover: true,
            server_max_window_bits: Some(share.window_bits),
            ..DeflateParams::default()
        };
        let config = crate::DeflateConfig::default()
            .level(share.level)
            .threshold(share.threshold)
            .always_compress(share.always_compress);
        SharedCompressor {
            share,
            codec: Deflate::new(&params, crate::Role::Server, &config),
        }
    }

    /// The share it compresses for.
    pub fn share(&self) -> DeflateShare {
        self.share
    }
}

/// A frame ready to be written: header and payload in one buffer.
#[derive(Clone, Debug)]
struct ReadyFrame {
    bytes: Bytes,
    /// The payload's length, which decides whether it fits a fragment.
    payload_len: usize,
}

impl ReadyFrame {
    /// Frames `payload` as one final, unmasked frame: the header is
    /// written once, in front of a copy of the payload.
    fn new(kind: MessageKind, rsv: Rsv, payload: &[u8]) -> Self {
        let header = FrameHeader {
            fin: true,
            rsv,
            opcode: kind.opcode(),
            mask: None,
            payload_len: payload.len() as u64,
        };
        let header = header.encode();
        let mut frame = BytesMut::with_capacity(header.as_slice().len() + payload.len());
        frame.extend_from_slice(header.as_slice());
        frame.extend_from_slice(payload);
        ReadyFrame {
            bytes: frame.freeze(),
            payload_len: payload.len(),
        }
    }

    fn header_len(&self) -> usize {
        self.bytes.len() - self.payload_len
    }
}

/// A message framed once as a server frame (header and payload, unmasked,
/// one contiguous [`Bytes`]) to be sent to many connections.
///
/// Cloning it shares the frames. [`Connection::send_prepared`] queues the
/// frame of the connection's [`FrameEncoding`] without copying it; a
/// connection that cannot share it sends [`PreparedMessage::message`] as
/// [`Connection::send`] would.
///
/// ```
/// use std::collections::BTreeMap;
/// use wscore::{
///     Config, Connection, DeflateConfig, FrameEncoding, Instant, PreparedMessage, Role,
///     SharedCompressor,
/// };
///
/// let now = Instant::ZERO;
/// let mut connections: Vec<Connection> = (0..3)
///     .map(|_| Connection::upgraded(Role::Server, Config::default(), [0; 32], now))
///     .collect::<Result<_, _>>()?;
/// // One compressor per share met, kept from broadcast to broadcast.
/// let mut compressors: BTreeMap<_, SharedCompressor> = BTreeMap::new();
///
/// let mut prepared = PreparedMessage::new("the same news for everyone");
/// for conn in &connections {
///     if let FrameEncoding::Deflate(share) = conn.frame_encoding() {
///         let compressor = compressors.entry(share).or_insert_with(|| SharedCompressor::new(share));
///         prepared.compress(compressor);
///     }
/// }
/// for conn in &mut connections {
///     conn.send_prepared(&prepared)?;
///     let transmit = conn.poll_transmit().unwrap();
///     // The frame itself: no header of its own, no copy.
///     assert!(transmit.header().is_empty());
///     assert_eq!(transmit.payload().as_ptr(), prepared.frame().as_ptr());
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// [`Connection::send_prepared`]: crate::Connection::send_prepared
/// [`Connection::send`]: crate::Connection::send
#[derive(Clone, Debug)]
pub struct PreparedMessage {
    /// The message, its payload a slice of `plain`.
    message: Message,
    plain: ReadyFrame,
    /// The frame for each share compressed for: compressed, or the plain
    /// frame where the codec chose to send it uncompressed.
    #[cfg(feature = "deflate")]
    compressed: Vec<(DeflateShare, ReadyFrame)>,
}

impl PreparedMessage {
    /// Frames `message` once.
    ///
    /// ```
    /// use wscore::{Message, MessageKind, PreparedMessage};
    ///
    /// let prepared = PreparedMessage::new(Message::text("Hello"));
    /// assert_eq!(prepared.frame().as_ref(), b"\x81\x05Hello");
    /// assert_eq!(prepared.kind(), MessageKind::Text);
    /// assert_eq!(prepared.payload().as_ref(), b"Hello");
    /// assert_eq!(prepared.wire_len(), 7);
    /// ```
    pub fn new(message: impl Into<Message>) -> PreparedMessage {
        let message = message.into();
        let kind = message.kind();
        let plain = ReadyFrame::new(kind, Rsv::NONE, message.payload());
        let payload = plain.bytes.slice(plain.header_len()..);
        let message = match kind {
            MessageKind::Text => Message::Text(crate::utf8::Utf8Bytes::from_validated(payload)),
            MessageKind::Binary => Message::Binary(payload),
        };
        PreparedMessage {
            message,
            plain,
            #[cfg(feature = "deflate")]
            compressed: Vec::new(),
        }
    }

    /// Text or binary.
    ///
    /// ```
    /// # use wscore::{MessageKind, PreparedMessage};
    /// assert_eq!(PreparedMessage::new(vec![1, 2]).kind(), MessageKind::Binary);
    /// ```
    pub fn kind(&self) -> MessageKind {
        self.message.kind()
    }

    /// The message's payload: a slice of [`PreparedMessage::frame`].
    ///
    /// ```
    /// # use wscore::PreparedMessage;
    /// let prepared = PreparedMessage::new("hi");
    /// assert_eq!(prepared.payload().as_ptr(), prepared.frame()[2..].as_ptr());
    /// ```
    pub fn payload(&self) -> &Bytes {
        self.message.payload()
    }

    /// The message, sharing the payload's bytes.
    ///
    /// ```
    /// # use wscore::{Message, PreparedMessage};
    /// assert_eq!(PreparedMessage::new("hi").message(), Message::text("hi"));
    /// ```
    pub fn message(&self) -> Message {
        self.message.clone()
    }

    /// The plain frame: header and payload.
    ///
    /// ```
    /// # use wscore::PreparedMessage;
    /// assert_eq!(PreparedMessage::new(vec![7]).frame().as_ref(), &[0x82, 0x01, 7]);
    /// ```
    pub fn frame(&self) -> &Bytes {
        &self.plain.bytes
    }

    /// The plain frame's length in bytes, header included.
    ///
    /// ```
    /// # use wscore::PreparedMessage;
    /// assert_eq!(PreparedMessage::new(vec![0; 200]).wire_len(), 204);
    /// ```
    pub fn wire_len(&self) -> usize {
        self.plain.bytes.len()
    }

    /// Adds the frame for `compressor`'s share, unless it is there. Where
    /// the codec's rules (its threshold, a payload that does not shrink)
    /// say to send the message uncompressed, the plain frame is recorded
    /// for the share, so the decision is made once.
    ///
    /// ```
    /// use wscore::{Accept, ClientRequest, Config, Connection, DeflateConfig, FrameEncoding, Instant, PreparedMessage, SharedCompressor};
    ///
    /// # fn pump(from: &mut Connection, to: &mut Connection) {
    /// #     while let Some(t) = from.poll_transmit() {
    /// #         let mut bytes = Vec::new();
    /// #         t.write_to(&mut bytes);
    /// #         to.handle_input(Instant::ZERO, &bytes);
    /// #     }
    /// # }
    /// let deflate = DeflateConfig::default().server_no_context_takeover(true);
    /// let config = Config::default().deflate(Some(deflate));
    /// let request = ClientRequest::new("example.com", "/");
    /// let mut client = Connection::client(config.clone(), request, [7; 32], Instant::ZERO)?;
    /// let mut server = Connection::server(config, Instant::ZERO)?;
    /// pump(&mut client, &mut server);
    /// let _request = server.poll_event();
    /// server.accept(Instant::ZERO, Accept::new())?;
    /// let FrameEncoding::Deflate(share) = server.frame_encoding() else { panic!() };
    ///
    /// let mut compressor = SharedCompressor::new(share);
    /// let mut prepared = PreparedMessage::new("compressible ".repeat(20));
    /// prepared.compress(&mut compressor);
    /// let frame = prepared.frame_for(FrameEncoding::Deflate(share)).unwrap();
    /// assert_eq!(frame[0], 0xc1); // FIN, RSV1, text
    /// assert!(frame.len() < prepared.wire_len());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "deflate")]
    pub fn compress(&mut self, compressor: &mut SharedCompressor) {
        let share = compressor.share;
        if self.compressed.iter().any(|(s, _)| *s == share) {
            return;
        }
        let frame = match compressor.codec.compress(self.message.payload()) {
            Some(compressed) => ReadyFrame::new(self.kind(), Rsv::RSV1, &compressed),
            None => self.plain.clone(),
        };
        self.compressed.push((share, frame));
    }

    /// The ready frame for `encoding`: the plain frame for
    /// [`FrameEncoding::Plain`]; for [`FrameEncoding::Deflate`] the frame
    /// [`PreparedMessage::compress`] added for that share, if it ran; none
    /// for [`FrameEncoding::PerConnection`].
    ///
    /// ```
    /// # use wscore::{FrameEncoding, PreparedMessage};
    /// let prepared = PreparedMessage::new("hi");
    /// assert_eq!(prepared.frame_for(FrameEncoding::Plain), Some(prepared.frame()));
    /// assert_eq!(prepared.frame_for(FrameEncoding::PerConnection), None);
    /// ```
    pub fn frame_for(&self, encoding: FrameEncoding) -> Option<&Bytes> {
        self.ready_frame(encoding).map(|frame| &frame.bytes)
    }

    /// The ready frame for `encoding` with its payload length.
    pub(crate) fn ready_frame_parts(&self, encoding: FrameEncoding) -> Option<(&Bytes, usize)> {
        self.ready_frame(encoding)
            .map(|frame| (&frame.bytes, frame.payload_len))
    }

    fn ready_frame(&self, encoding: FrameEncoding) -> Option<&ReadyFrame> {
        match encoding {
            FrameEncoding::Plain => Some(&self.plain),
            #[cfg(feature = "deflate")]
            FrameEncoding::Deflate(share) => self
                .compressed
                .iter()
                .find(|(s, _)| *s == share)
                .map(|(_, frame)| frame),
            FrameEncoding::PerConnection => None,
        }
    }
}
