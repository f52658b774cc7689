//! permessage-deflate ([RFC 7692]): the handshake negotiation of its four
//! parameters and the per-message codec.
//!
//! Negotiation is a pure function of the offer and the local
//! [`DeflateConfig`]: [`client_offer`] renders what a client sends,
//! [`negotiate_server`] picks the first acceptable offer of a client (offers
//! it cannot accept are declined and the connection proceeds uncompressed),
//! and [`negotiate_client`] checks the server's answer against what the
//! client asked for. The agreement is a [`DeflateParams`], from which
//! [`Deflate`] builds the compressor and the decompressor.
//!
//! # Memory
//!
//! A compressed connection holds a deflate state and an inflate state, each
//! built when first needed: the inflate state by the first compressed
//! message received, the deflate state by the first message worth
//! compressing. Measured on the zlib-rs backend at level 1 (see
//! `tests/tests/deflate_memory.rs`), a server connection holds:
//!
//! | traffic so far | 15-bit windows | 9-bit windows, no context takeover |
//! |---|---|---|
//! | handshake only | 0.9 KB | 1.0 KB |
//! | a compressed message received | 50 KB | |
//! | one compressed message each way | 421 KB | 292 KB |
//!
//! The deflate state is most of it (about 380 KB at 15 bits, 250 KB at 9:
//! its hash table and symbol buffer do not shrink with the window), the
//! inflate state about 47 KB. Inflated output is bounded by
//! [`Config::max_message_size`](crate::Config::max_message_size), and in
//! incremental receive mode by the piece size. A server with many
//! connections that send little keeps most of them at the first two rows;
//! one that sends to all of them pays the last row per connection.
//!
//! # Windows of 256 bytes
//!
//! RFC 7692 allows a window of 8 bits, which the zlib family cannot produce.
//! When the peer limits our window to 8 bits we accept and send messages
//! uncompressed, which is always allowed, or, under
//! [`DeflateConfig::always_compress`], as stored blocks, which refer to no
//! earlier bytes. Inflating uses a 9-bit window for an 8-bit agreement,
//! which decodes every stream an 8-bit compressor can produce.
//!
//! [RFC 7692]: https://www.rfc-editor.org/rfc/rfc7692

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use bytes::Bytes;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use crate::connection::Role;

/// The extension token in `Sec-WebSocket-Extensions`.
pub const EXTENSION_NAME: &str = "permessage-deflate";

/// The empty stored block every sync flush ends with: removed on the wire
/// and restored before inflating (RFC 7692 §7.2.1 and §7.2.2).
const TRAILER: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The largest window the RFC permits, and the default.
const MAX_BITS: u8 = 15;
/// The smallest window the RFC permits.
const MIN_BITS: u8 = 8;
/// The smallest window the deflate backend can use.
const MIN_BACKEND_BITS: u8 = 9;

/// The most inflated bytes one decompression call writes: the size of the
/// zeroed scratch area it writes into.
const INFLATE_STEP: usize = 64 * 1024;
/// The smallest growth of an inflate buffer.
const MIN_GROWTH: usize = 256;

const SERVER_NO_CONTEXT_TAKEOVER: &str = "server_no_context_takeover";
const CLIENT_NO_CONTEXT_TAKEOVER: &str = "client_no_context_takeover";
const SERVER_MAX_WINDOW_BITS: &str = "server_max_window_bits";
const CLIENT_MAX_WINDOW_BITS: &str = "client_max_window_bits";

/// What this endpoint asks for in the negotiation, and how it compresses.
///
/// The same settings serve both roles: a client offers them, a server applies
/// them to the client's offer.
///
/// ```
/// use wscore::extension::deflate::DeflateConfig;
///
/// // Small windows and no context kept between messages: a peer's
/// // compressor keeps less state for us, and ours about a third less
/// // (see the module's memory table).
/// let config = DeflateConfig::default()
///     .server_no_context_takeover(true)
///     .client_no_context_takeover(true)
///     .server_max_window_bits(9)
///     .client_max_window_bits(9);
/// assert!(config.validate().is_ok());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeflateConfig {
    /// Compression level, 0 (store) to 9 (smallest). Default 1: most of the
    /// gain on text for a fraction of the time of higher levels.
    pub level: u32,
    /// Messages shorter than this many bytes are sent uncompressed.
    /// Default 32.
    pub threshold: usize,
    /// Compress every message, whatever its size and however well it
    /// compresses ([`threshold`](Self::threshold) is ignored). Default
    /// `false`: short and incompressible messages go out uncompressed, which
    /// RFC 7692 allows but some peers mishandle. Under an 8-bit window
    /// agreement messages are then sent as stored deflate blocks, which hold
    /// no back-references and so fit any window.
    pub always_compress: bool,
    /// Ask that the server compress every message on its own (client), or
    /// always do so (server). Default `false`.
    pub server_no_context_takeover: bool,
    /// Promise to compress every message on its own (client), or require
    /// the client to (server). Default `false`.
    pub client_no_context_takeover: bool,
    /// The largest server window, as a base-2 logarithm in 8..=15: what a
    /// client asks for, and what a server allows itself. Default 15.
    pub server_max_window_bits: u8,
    /// The largest client window, as a base-2 logarithm in 8..=15: what a
    /// client allows itself, and what a server asks a client for when the
    /// client says it supports the limit. Default 15.
    pub client_max_window_bits: u8,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        Self {
            level: 1,
            threshold: 32,
            always_compress: false,
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: MAX_BITS,
            client_max_window_bits: MAX_BITS,
        }
    }
}

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty;)*) => {$(
        $(#[$doc])*
        #[must_use]
        pub fn $name(mut self, value: $ty) -> Self {
            self.$name = value;
            self
        }
    )*};
}

impl DeflateConfig {
    setters! {
        /// Sets [`DeflateConfig::level`].
        level: u32;
        /// Sets [`DeflateConfig::threshold`].
        threshold: usize;
        /// Sets [`DeflateConfig::always_compress`].
        always_compress: bool;
        /// Sets [`DeflateConfig::server_no_context_takeover`].
        server_no_context_takeover: bool;
        /// Sets [`DeflateConfig::client_no_context_takeover`].
        client_no_context_takeover: bool;
        /// Sets [`DeflateConfig::server_max_window_bits`].
        server_max_window_bits: u8;
        /// Sets [`DeflateConfig::client_max_window_bits`].
        client_max_window_bits: u8;
    }

    /// Checks the level and the window sizes.
    pub fn validate(&self) -> Result<(), NegotiationError> {
        if self.level > 9 {
            return Err(NegotiationError::InvalidValue("level"));
        }
        for (name, bits) in [
            (SERVER_MAX_WINDOW_BITS, self.server_max_window_bits),
            (CLIENT_MAX_WINDOW_BITS, self.client_max_window_bits),
        ] {
            if !(MIN_BITS..=MAX_BITS).contains(&bits) {
                return Err(NegotiationError::InvalidValue(name));
            }
        }
        Ok(())
    }
}

/// The agreed parameters of one connection, as the server's response states
/// them. A window of `None` means the default of 15 bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeflateParams {
    /// The server compresses every message on its own.
    pub server_no_context_takeover: bool,
    /// The client compresses every message on its own.
    pub client_no_context_takeover: bool,
    /// The server's window limit.
    pub server_max_window_bits: Option<u8>,
    /// The client's window limit.
    pub client_max_window_bits: Option<u8>,
}

impl DeflateParams {
    /// The `Sec-WebSocket-Extensions` value a server answers with.
    ///
    /// ```
    /// use wscore::extension::deflate::DeflateParams;
    ///
    /// let params = DeflateParams {
    ///     client_no_context_takeover: true,
    ///     server_max_window_bits: Some(10),
    ///     ..DeflateParams::default()
    /// };
    /// assert_eq!(
    ///     params.to_header_value(),
    ///     "permessage-deflate; client_no_context_takeover; server_max_window_bits=10"
    /// );
    /// ```
    pub fn to_header_value(&self) -> String {
        let mut out = String::from(EXTENSION_NAME);
        let flags = [
            (self.server_no_context_takeover, SERVER_NO_CONTEXT_TAKEOVER),
            (self.client_no_context_takeover, CLIENT_NO_CONTEXT_TAKEOVER),
        ];
        for (_, name) in flags.iter().filter(|(on, _)| *on) {
            out.push_str("; ");
            out.push_str(name);
        }
        let windows = [
            (self.server_max_window_bits, SERVER_MAX_WINDOW_BITS),
            (self.client_max_window_bits, CLIENT_MAX_WINDOW_BITS),
        ];
        for (bits, name) in windows {
            if let Some(bits) = bits {
                out.push_str("; ");
                out.push_str(name);
                out.push('=');
                push_bits(&mut out, bits);
            }
        }
        out
    }

    /// The window this side's compressor may use, and whether it starts
    /// afresh for every message.
    fn sending(&self, role: Role, config: &DeflateConfig) -> (u8, bool) {
        match role {
            Role::Server => (
                self.server_max_window_bits.unwrap_or(MAX_BITS),
                self.server_no_context_takeover,
            ),
            Role::Client => (
                self.client_max_window_bits
                    .unwrap_or(MAX_BITS)
                    .min(config.client_max_window_bits),
                self.client_no_context_takeover || config.client_no_context_takeover,
            ),
        }
    }

    /// The window the peer's compressor may use, and whether it starts
    /// afresh for every message.
    fn receiving(&self, role: Role) -> (u8, bool) {
        match role {
            Role::Server => (
                self.client_max_window_bits.unwrap_or(MAX_BITS),
                self.client_no_context_takeover,
            ),
            Role::Client => (
                self.server_max_window_bits.unwrap_or(MAX_BITS),
                self.server_no_context_takeover,
            ),
        }
    }
}

fn push_bits(out: &mut String, bits: u8) {
    if bits >= 10 {
        out.push('1');
    }
    out.push(char::from(b'0' + bits % 10));
}

/// Why a permessage-deflate element is not acceptable.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NegotiationError {
    /// A parameter RFC 7692 does not define.
    UnknownParameter(String),
    /// A parameter that appears more than once.
    DuplicateParameter(&'static str),
    /// A parameter whose value is missing, present where none is allowed,
    /// or not a window size in 8..=15 without leading zeros.
    InvalidValue(&'static str),
    /// The server accepted permessage-deflate more than once.
    MultipleAccepts,
    /// The server's answer leaves out a parameter the client required.
    MissingParameter(&'static str),
    /// The server chose a window larger than the client allowed.
    WindowTooLarge {
        /// What the client asked for.
        offered: u8,
        /// What the server answered.
        answered: u8,
    },
}

impl fmt::Display for NegotiationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownParameter(name) => write!(f, "unknown parameter `{name}`"),
            Self::DuplicateParameter(name) => write!(f, "parameter `{name}` appears twice"),
            Self::InvalidValue(name) => write!(f, "invalid value for `{name}`"),
            Self::MultipleAccepts => f.write_str("accepted more than once"),
            Self::MissingParameter(name) => write!(f, "required parameter `{name}` missing"),
            Self::WindowTooLarge { offered, answered } => {
                write!(f, "window of {answered} bits exceeds the offered {offered}")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for NegotiationError {}

/// One parsed permessage-deflate element, offer or answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Element {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: present without a value (allowed in offers only).
    client_max_window_bits: Option<Option<u8>>,
}

/// Parses one `Sec-WebSocket-Extensions` element. `Ok(None)` when it names
/// another extension.
fn parse_element(item: &str) -> Result<Option<Element>, NegotiationError> {
    let mut parts = item.split(';').map(trim);
    if parts.next() != Some(EXTENSION_NAME) {
        return Ok(None);
    }
    let mut element = Element::default();
    for part in parts {
        let (name, value) = match part.split_once('=') {
            Some((name, value)) => (trim(name), Some(unquote(trim(value)))),
            None => (part, None),
        };
        match name {
            SERVER_NO_CONTEXT_TAKEOVER => set_flag(
                &mut element.server_no_context_takeover,
                value,
                SERVER_NO_CONTEXT_TAKEOVER,
            )?,
            CLIENT_NO_CONTEXT_TAKEOVER => set_flag(
                &mut element.client_no_context_takeover,
                value,
                CLIENT_NO_CONTEXT_TAKEOVER,
            )?,
            SERVER_MAX_WINDOW_BITS => {
                if element.server_max_window_bits.is_some() {
                    return Err(NegotiationError::DuplicateParameter(SERVER_MAX_WINDOW_BITS));
                }
                let bits = value.and_then(parse_bits);
                let bits = bits.ok_or(NegotiationError::InvalidValue(SERVER_MAX_WINDOW_BITS))?;
                element.server_max_window_bits = Some(bits);
            }
            CLIENT_MAX_WINDOW_BITS => {
                if element.client_max_window_bits.is_some() {
                    return Err(NegotiationError::DuplicateParameter(CLIENT_MAX_WINDOW_BITS));
                }
                let bits = match value {
                    None => None,
                    Some(value) => Some(
                        parse_bits(value)
                            .ok_or(NegotiationError::InvalidValue(CLIENT_MAX_WINDOW_BITS))?,
                    ),
                };
                element.client_max_window_bits = Some(bits);
            }
            other => return Err(NegotiationError::UnknownParameter(other.into())),
        }
    }
    Ok(Some(element))
}

fn set_flag(
    flag: &mut bool,
    value: Option<&str>,
    name: &'static str,
) -> Result<(), NegotiationError> {
    if value.is_some() {
        return Err(NegotiationError::InvalidValue(name));
    }
    if core::mem::replace(flag, true) {
        return Err(NegotiationError::DuplicateParameter(name));
    }
    Ok(())
}

fn trim(s: &str) -> &str {
    s.trim_matches(|c| c == ' ' || c == '\t')
}

/// A value may be a token or a quoted-string with the same content
/// (RFC 7692 §7.1); window sizes never need escapes.
fn unquote(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value)
}

/// A decimal window size in 8..=15 without leading zeros.
fn parse_bits(value: &str) -> Option<u8> {
    if value.starts_with('0') || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let bits: u8 = value.parse().ok()?;
    (MIN_BITS..=MAX_BITS).contains(&bits).then_some(bits)
}

/// The `Sec-WebSocket-Extensions` element a client offers for `config`.
///
/// ```
/// use wscore::extension::deflate::{client_offer, DeflateConfig};
///
/// assert_eq!(
///     client_offer(&DeflateConfig::default()),
///     "permessage-deflate; client_max_window_bits"
/// );
/// let small = DeflateConfig::default().server_max_window_bits(10).client_max_window_bits(12);
/// assert_eq!(
///     client_offer(&small),
///     "permessage-deflate; server_max_window_bits=10; client_max_window_bits=12"
/// );
/// ```
pub fn client_offer(config: &DeflateConfig) -> String {
    let mut out = String::from(EXTENSION_NAME);
    if config.server_no_context_takeover {
        out.push_str("; ");
        out.push_str(SERVER_NO_CONTEXT_TAKEOVER);
    }
    if config.client_no_context_takeover {
        out.push_str("; ");
        out.push_str(CLIENT_NO_CONTEXT_TAKEOVER);
    }
    if config.server_max_window_bits < MAX_BITS {
        out.push_str("; ");
        out.push_str(SERVER_MAX_WINDOW_BITS);
        out.push('=');
        push_bits(&mut out, config.server_max_window_bits);
    }
    // Always present: it tells the server we can honour a limit.
    out.push_str("; ");
    out.push_str(CLIENT_MAX_WINDOW_BITS);
    if config.client_max_window_bits < MAX_BITS {
        out.push('=');
        push_bits(&mut out, config.client_max_window_bits);
    }
    out
}

/// The server's side of the negotiation: the parameters for the first of the
/// client's `offers` that is well formed, or `None` to proceed uncompressed.
///
/// ```
/// use wscore::extension::deflate::{negotiate_server, DeflateConfig};
///
/// let offers = [
///     "permessage-deflate; server_max_window_bits=99".to_string(), // malformed: declined
///     "permessage-deflate; client_max_window_bits".to_string(),
/// ];
/// let params = negotiate_server(&offers, &DeflateConfig::default()).unwrap();
/// assert_eq!(params.to_header_value(), "permessage-deflate");
/// ```
pub fn negotiate_server(offers: &[String], config: &DeflateConfig) -> Option<DeflateParams> {
    offers.iter().find_map(|offer| {
        let offer = parse_element(offer).ok()??;
        let server_max_window_bits = match offer.server_max_window_bits {
            Some(bits) => Some(bits.min(config.server_max_window_bits)),
            None => {
                (config.server_max_window_bits < MAX_BITS).then_some(config.server_max_window_bits)
            }
        };
        // A limit on the client's window may only be set when the client
        // said it supports one.
        let client_max_window_bits = match offer.client_max_window_bits {
            None => None,
            Some(offered) => {
                let bits = offered
                    .unwrap_or(MAX_BITS)
                    .min(config.client_max_window_bits);
                (bits < MAX_BITS).then_some(bits)
            }
        };
        Some(DeflateParams {
            server_no_context_takeover: offer.server_no_context_takeover
                || config.server_no_context_takeover,
            client_no_context_takeover: offer.client_no_context_takeover
                || config.client_no_context_takeover,
            server_max_window_bits,
            client_max_window_bits,
        })
    })
}

/// The client's side of the negotiation: checks the server's `accepted`
/// extensions against what [`client_offer`] asked for. `Ok(None)` when the
/// server declined permessage-deflate; an error fails the handshake.
///
/// ```
/// use wscore::extension::deflate::{negotiate_client, DeflateConfig, NegotiationError};
///
/// let config = DeflateConfig::default().server_max_window_bits(10);
/// let ok = ["permessage-deflate; server_max_window_bits=9".to_string()];
/// assert_eq!(negotiate_client(&ok, &config).unwrap().unwrap().server_max_window_bits, Some(9));
/// let too_big = ["permessage-deflate; server_max_window_bits=12".to_string()];
/// assert_eq!(
///     negotiate_client(&too_big, &config),
///     Err(NegotiationError::WindowTooLarge { offered: 10, answered: 12 })
/// );
/// ```
pub fn negotiate_client(
    accepted: &[String],
    config: &DeflateConfig,
) -> Result<Option<DeflateParams>, NegotiationError> {
    let mut found = None;
    for item in accepted {
        let Some(element) = parse_element(item)? else {
            continue;
        };
        if found.replace(element).is_some() {
            return Err(NegotiationError::MultipleAccepts);
        }
    }
    let Some(answer) = found else {
        return Ok(None);
    };
    if config.server_no_context_takeover && !answer.server_no_context_takeover {
        return Err(NegotiationError::MissingParameter(
            SERVER_NO_CONTEXT_TAKEOVER,
        ));
    }
    if config.server_max_window_bits < MAX_BITS {
        let offered = config.server_max_window_bits;
        match answer.server_max_window_bits {
            None => return Err(NegotiationError::MissingParameter(SERVER_MAX_WINDOW_BITS)),
            Some(answered) if answered > offered => {
                return Err(NegotiationError::WindowTooLarge { offered, answered })
            }
            Some(_) => {}
        }
    }
    let client_max_window_bits = match answer.client_max_window_bits {
        None => None,
        Some(None) => return Err(NegotiationError::InvalidValue(CLIENT_MAX_WINDOW_BITS)),
        Some(Some(bits)) => Some(bits),
    };
    Ok(Some(DeflateParams {
        server_no_context_takeover: answer.server_no_context_takeover,
        client_no_context_takeover: answer.client_no_context_takeover,
        server_max_window_bits: answer.server_max_window_bits,
        client_max_window_bits,
    }))
}

/// Why a compressed message could not be inflated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InflateError {
    /// The bytes are not a valid deflate stream (close code 1007).
    Corrupt,
}

impl fmt::Display for InflateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Corrupt => f.write_str("invalid deflate stream"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for InflateError {}

/// What one [`Deflate::inflate`] call did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Inflated {
    /// Bytes of the input consumed. The rest was not looked at: pass it
    /// again in the next call.
    pub consumed: usize,
    /// Everything the input yields (and, for the last bytes of a message,
    /// the end of the message) is in the output. `false` means the output
    /// room ran out first: call again with the unconsumed input, possibly
    /// none, and more room.
    pub complete: bool,
}

/// The per-connection codec: compresses outbound messages and inflates
/// inbound ones, honouring the agreed windows and context takeover.
///
/// Inflating is bounded by the caller: each call appends at most `room`
/// bytes and reports how much input it consumed, so a message can be
/// inflated in pieces of any size, and a decompression bomb is caught by
/// offering one byte more than the budget left.
///
/// ```
/// use wscore::extension::deflate::{Deflate, DeflateConfig, DeflateParams};
/// use wscore::Role;
///
/// let (params, config) = (DeflateParams::default(), DeflateConfig::default());
/// let mut client = Deflate::new(&params, Role::Client, &config);
/// let mut server = Deflate::new(&params, Role::Server, &config);
///
/// let json = br#"{"id":1,"name":"alpha","tags":["a","b"],"name":"alpha"}"#.repeat(20);
/// let wire = client.compress(&json).expect("compressible");
/// assert!(wire.len() < json.len() / 5);
///
/// // Inflate in pieces of at most 256 bytes.
/// let (mut message, mut input) = (Vec::new(), &wire[..]);
/// loop {
///     let mut piece = Vec::new();
///     let step = server.inflate(input, true, &mut piece, 256)?;
///     assert!(piece.len() <= 256);
///     message.extend_from_slice(&piece);
///     input = &input[step.consumed..];
///     if step.complete {
///         break;
///     }
/// }
/// assert_eq!(message, json);
/// # Ok::<(), wscore::extension::deflate::InflateError>(())
/// ```
pub struct Deflate {
    compressor: Compressor,
    compress_reset: bool,
    /// Built by the first compressed message received.
    decompress: Option<Decompress>,
    /// The decompressor's window, as a base-2 logarithm.
    receive_bits: u8,
    decompress_reset: bool,
    /// The current inbound message ended its deflate stream early.
    stream_ended: bool,
    /// Bytes of the trailer already fed for the current inbound message.
    trailer_fed: usize,
    threshold: usize,
    always_compress: bool,
}

impl fmt::Debug for Deflate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deflate")
            .field("compresses", &!matches!(self.compressor, Compressor::Off))
            .field("compress_reset", &self.compress_reset)
            .field("decompress_reset", &self.decompress_reset)
            .field("threshold", &self.threshold)
            .field("always_compress", &self.always_compress)
            .finish()
    }
}

/// The sending half of the codec. Its state is most of a compressed
/// connection's memory, so it is built by the first message worth
/// compressing: a connection that only receives, or only sends short
/// messages, never pays for it.
enum Compressor {
    /// The agreement rules compression out.
    Off,
    /// Not needed yet: the level and window it will have.
    Pending {
        level: Compression,
        bits: u8,
    },
    Ready(Compress),
}

impl Compressor {
    /// The compressor, built on first use; `None` when compression is off.
    fn get(&mut self) -> Option<&mut Compress> {
        if let Self::Pending { level, bits } = *self {
            *self = Self::Ready(Compress::new_with_window_bits(level, false, bits));
        }
        match self {
            Self::Ready(compress) => Some(compress),
            _ => None,
        }
    }
}

impl Deflate {
    /// The codec for `role` under the agreed `params`.
    pub fn new(params: &DeflateParams, role: Role, config: &DeflateConfig) -> Self {
        let (send_bits, compress_reset) = params.sending(role, config);
        let (receive_bits, decompress_reset) = params.receiving(role);
        let level = Compression::new(config.level.min(9));
        let compressor = if send_bits >= MIN_BACKEND_BITS {
            Compressor::Pending {
                level,
                bits: send_bits.min(MAX_BITS),
            }
        } else if config.always_compress {
            // Level 0 emits stored blocks only: no back-references, so the
            // peer's 256-byte window is never exceeded.
            Compressor::Pending {
                level: Compression::none(),
                bits: MIN_BACKEND_BITS,
            }
        } else {
            Compressor::Off
        };
        Self {
            compressor,
            compress_reset,
            decompress: None,
            receive_bits: receive_bits.clamp(MIN_BACKEND_BITS, MAX_BITS),
            decompress_reset,
            stream_ended: false,
            trailer_fed: 0,
            threshold: config.threshold,
            always_compress: config.always_compress,
        }
    }

    /// Compresses one whole message payload, without the trailing
    /// `00 00 ff ff`. `None` means "send it uncompressed": the payload is
    /// below the threshold, compression would not make it smaller, or the
    /// agreement rules compression out (the first two never apply under
    /// [`DeflateConfig::always_compress`]).
    pub fn compress(&mut self, payload: &[u8]) -> Option<Bytes> {
        if payload.len() < self.threshold && !self.always_compress {
            return None;
        }
        if payload.is_empty() {
            // A flush right after a flush produces nothing, not even the
            // trailer. The single byte 0x00 is an empty stored block once
            // the trailer is removed; the compressor is left as it was.
            let on = !matches!(self.compressor, Compressor::Off);
            return (on && self.always_compress).then(|| Bytes::from_static(&[0x00]));
        }
        let compress = self.compressor.get()?;
        let out = deflate_sync(compress, payload);
        // A reset keeps both windows consistent whatever we send: after it
        // our stream refers only to bytes the peer will also inflate.
        match out {
            Some(out) if self.always_compress || out.len() < payload.len() => {
                if self.compress_reset {
                    compress.reset();
                }
                Some(Bytes::from(out))
            }
            _ => {
                compress.reset();
                None
            }
        }
    }

    /// Inflates the next compressed bytes of a message, appending at most
    /// `room` bytes to `out`. `last` marks input that runs to the end of the
    /// message: once it is consumed, the trailer is restored and the message
    /// completed. See [`Inflated`] for what to do next.
    ///
    /// To enforce a size limit, offer one byte more than the budget left:
    /// output beyond the budget means the message is too large, and no more
    /// than that one byte was produced past it.
    pub fn inflate(
        &mut self,
        input: &[u8],
        last: bool,
        out: &mut Vec<u8>,
        room: usize,
    ) -> Result<Inflated, InflateError> {
        let end = out.len().saturating_add(room);
        let (consumed, drained) = self.run(input, out, end)?;
        if !drained || !last {
            return Ok(Inflated {
                consumed,
                complete: drained,
            });
        }
        if !self.stream_ended {
            // The inflater takes no more of the trailer than it is given.
            debug_assert!(self.trailer_fed <= TRAILER.len());
            let rest = TRAILER.get(self.trailer_fed..).unwrap_or_default();
            let (fed, drained) = self.run(rest, out, end)?;
            self.trailer_fed += fed;
            if !drained {
                return Ok(Inflated {
                    consumed,
                    complete: false,
                });
            }
        }
        if self.stream_ended || self.decompress_reset {
            if let Some(decompress) = self.decompress.as_mut() {
                decompress.reset(false);
            }
        }
        self.stream_ended = false;
        self.trailer_fed = 0;
        Ok(Inflated {
            consumed,
            complete: true,
        })
    }

    /// Feeds `input` to the decompressor, appending to `out` until it is
    /// `end` bytes long. Returns the input consumed and whether the
    /// decompressor is drained: all of `input` consumed with output room to
    /// spare, so that no output is pending inside it.
    fn run(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        end: usize,
    ) -> Result<(usize, bool), InflateError> {
        let mut rest = input;
        loop {
            if self.stream_ended {
                // Nothing may follow a final block within its message.
                return if rest.is_empty() {
                    Ok((input.len(), true))
                } else {
                    Err(InflateError::Corrupt)
                };
            }
            let len = out.len();
            let step = make_room(out, end, input.len());
            if step == 0 {
                return Ok((input.len() - rest.len(), false));
            }
            out.resize(len + step, 0);
            let bits = self.receive_bits;
            let decompress = self
                .decompress
                .get_or_insert_with(|| Decompress::new_with_window_bits(false, bits));
            let (before_in, before_out) = (decompress.total_in(), decompress.total_out());
            let status = decompress.decompress(
                rest,
                out.get_mut(len..).unwrap_or_default(),
                FlushDecompress::Sync,
            );
            let consumed = (decompress.total_in() - before_in) as usize;
            let produced = (decompress.total_out() - before_out) as usize;
            out.truncate(len + produced);
            // zlib consumes at most what it was given; a fallback here would
            // drop compressed input silently.
            debug_assert!(consumed <= rest.len() && produced <= step);
            rest = rest.get(consumed..).unwrap_or_default();
            match status {
                Err(_) => return Err(InflateError::Corrupt),
                // A final block (BFINAL) ends the stream: the message ends
                // with it, and the next one starts a new stream.
                Ok(Status::StreamEnd) => self.stream_ended = true,
                Ok(_) => {
                    if produced < step && rest.is_empty() {
                        return Ok((input.len(), true));
                    }
                    if produced == 0 && consumed == 0 {
                        // Room to write and nothing written: the stream is
                        // stuck.
                        return Err(InflateError::Corrupt);
                    }
                }
            }
        }
    }
}

/// Makes room after `out`'s length for the next decompression step and
/// returns its size: growing geometrically (from a guess based on the
/// compressed size) but never past `end` bytes, and at most
/// [`INFLATE_STEP`] at a time so that the zeroed scratch area stays small
/// when a large buffer receives a little at a time.
fn make_room(out: &mut Vec<u8>, end: usize, compressed: usize) -> usize {
    let len = out.len();
    let left = end.saturating_sub(len);
    if left == 0 {
        return 0;
    }
    if out.capacity() == len {
        let guess = compressed.saturating_mul(4).max(MIN_GROWTH);
        out.reserve_exact(len.max(guess).min(left));
    }
    (out.capacity() - len).min(left).min(INFLATE_STEP)
}

/// Deflates `payload` with a sync flush and strips the trailer.
fn deflate_sync(compress: &mut Compress, payload: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(payload.len() / 2 + 64);
    let start = compress.total_in();
    loop {
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(256));
        }
        let consumed = usize::try_from(compress.total_in() - start).ok()?;
        let rest = payload.get(consumed..)?;
        compress
            .compress_vec(rest, &mut out, FlushCompress::Sync)
            .ok()?;
        let consumed = usize::try_from(compress.total_in() - start).ok()?;
        // Spare room left after a flush means the flush is complete.
        if consumed == payload.len() && out.len() < out.capacity() {
            break;
        }
    }
    let body = out.len().checked_sub(TRAILER.len())?;
    if out.get(body..) != Some(&TRAILER[..]) {
        return None;
    }
    out.truncate(body);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use quickcheck::{quickcheck, TestResult};

    fn offer(s: &str) -> Vec<String> {
        vec![s.into()]
    }

    #[test]
    fn parses_every_parameter_and_rejects_malformed_ones() {
        let e = parse_element(
            "permessage-deflate; server_no_context_takeover;client_no_context_takeover; \
             server_max_window_bits=\"10\"; client_max_window_bits",
        );
        assert_eq!(
            e,
            Ok(Some(Element {
                server_no_context_takeover: true,
                client_no_context_takeover: true,
                server_max_window_bits: Some(10),
                client_max_window_bits: Some(None),
            }))
        );
        assert_eq!(parse_element("x-other; a=1"), Ok(None));
        let cases: [(&str, NegotiationError); 8] = [
            (
                "permessage-deflate; x",
                NegotiationError::UnknownParameter("x".into()),
            ),
            (
                "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
                NegotiationError::DuplicateParameter(SERVER_NO_CONTEXT_TAKEOVER),
            ),
            (
                "permessage-deflate; client_no_context_takeover=1",
                NegotiationError::InvalidValue(CLIENT_NO_CONTEXT_TAKEOVER),
            ),
            (
                "permessage-deflate; server_max_window_bits",
                NegotiationError::InvalidValue(SERVER_MAX_WINDOW_BITS),
            ),
            (
                "permessage-deflate; server_max_window_bits=7",
                NegotiationError::InvalidValue(SERVER_MAX_WINDOW_BITS),
            ),
            (
                "permessage-deflate; server_max_window_bits=016",
                NegotiationError::InvalidValue(SERVER_MAX_WINDOW_BITS),
            ),
            (
                "permessage-deflate; client_max_window_bits=16",
                NegotiationError::InvalidValue(CLIENT_MAX_WINDOW_BITS),
            ),
            (
                "permessage-deflate; client_max_window_bits=9; client_max_window_bits",
                NegotiationError::DuplicateParameter(CLIENT_MAX_WINDOW_BITS),
            ),
        ];
        for (text, error) in cases {
            assert_eq!(parse_element(text), Err(error), "{text}");
        }
    }

    #[test]
    fn server_takes_the_first_acceptable_offer() {
        let config = DeflateConfig::default();
        let offers = vec![
            "x-webkit-deflate-frame".into(),
            "permessage-deflate; bogus".into(),
            "permessage-deflate; server_max_window_bits=10; client_max_window_bits=12".into(),
            "permessage-deflate".into(),
        ];
        let params = negotiate_server(&offers, &config).unwrap();
        assert_eq!(
            params,
            DeflateParams {
                server_max_window_bits: Some(10),
                client_max_window_bits: Some(12),
                ..DeflateParams::default()
            }
        );
        assert_eq!(
            params.to_header_value(),
            "permessage-deflate; server_max_window_bits=10; client_max_window_bits=12"
        );
        assert_eq!(
            negotiate_server(&offer("permessage-deflate; x=1"), &config),
            None
        );
        assert_eq!(negotiate_server(&[], &config), None);
    }

    #[test]
    fn server_applies_its_own_limits() {
        let config = DeflateConfig::default()
            .server_no_context_takeover(true)
            .client_no_context_takeover(true)
            .server_max_window_bits(11)
            .client_max_window_bits(9);
        // A client that cannot limit its window is not sent a limit.
        let params = negotiate_server(&offer("permessage-deflate"), &config).unwrap();
        assert_eq!(
            params.to_header_value(),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=11"
        );
        let params = negotiate_server(
            &offer("permessage-deflate; client_max_window_bits; server_max_window_bits=13"),
            &config,
        )
        .unwrap();
        assert_eq!(params.server_max_window_bits, Some(11));
        assert_eq!(params.client_max_window_bits, Some(9));
    }

    #[test]
    fn client_checks_the_answer() {
        let config = DeflateConfig::default()
            .server_no_context_takeover(true)
            .server_max_window_bits(10);
        let good =
            offer("permessage-deflate; server_no_context_takeover; server_max_window_bits=8");
        assert_eq!(
            negotiate_client(&good, &config),
            Ok(Some(DeflateParams {
                server_no_context_takeover: true,
                server_max_window_bits: Some(8),
                ..DeflateParams::default()
            }))
        );
        assert_eq!(
            negotiate_client(
                &offer("permessage-deflate; server_max_window_bits=10"),
                &config
            ),
            Err(NegotiationError::MissingParameter(
                SERVER_NO_CONTEXT_TAKEOVER
            ))
        );
        assert_eq!(
            negotiate_client(
                &offer("permessage-deflate; server_no_context_takeover"),
                &config
            ),
            Err(NegotiationError::MissingParameter(SERVER_MAX_WINDOW_BITS))
        );
        let plain = DeflateConfig::default();
        assert_eq!(
            negotiate_client(&offer("permessage-deflate; client_max_window_bits"), &plain),
            Err(NegotiationError::InvalidValue(CLIENT_MAX_WINDOW_BITS))
        );
        let twice = vec!["permessage-deflate".into(), "permessage-deflate".into()];
        assert_eq!(
            negotiate_client(&twice, &plain),
            Err(NegotiationError::MultipleAccepts)
        );
        assert_eq!(negotiate_client(&offer("x-other"), &plain), Ok(None));
        assert_eq!(negotiate_client(&[], &plain), Ok(None));
    }

    #[test]
    fn offers_round_trip_through_the_server() {
        for server_bits in MIN_BITS..=MAX_BITS {
            for client_bits in MIN_BITS..=MAX_BITS {
                let config = DeflateConfig::default()
                    .server_max_window_bits(server_bits)
                    .client_max_window_bits(client_bits);
                let offered = offer(&client_offer(&config));
                let params = negotiate_server(&offered, &DeflateConfig::default()).unwrap();
                let answer = offer(&params.to_header_value());
                assert_eq!(negotiate_client(&answer, &config), Ok(Some(params)));
            }
        }
    }

    fn pair(params: &DeflateParams, config: &DeflateConfig) -> (Deflate, Deflate) {
        (
            Deflate::new(params, Role::Client, config),
            Deflate::new(params, Role::Server, config),
        )
    }

    /// Why [`inflate_all`] gave up.
    #[derive(Debug, PartialEq, Eq)]
    enum Fail {
        Corrupt,
        TooLarge,
    }

    /// Inflates a whole message in one call, the way a caller enforces a
    /// size limit: one byte of room past it.
    fn inflate_all(codec: &mut Deflate, wire: &[u8], limit: usize) -> Result<Vec<u8>, Fail> {
        let mut out = Vec::new();
        let step = codec
            .inflate(wire, true, &mut out, limit.saturating_add(1))
            .map_err(|InflateError::Corrupt| Fail::Corrupt)?;
        if out.len() > limit {
            return Err(Fail::TooLarge);
        }
        assert_eq!(
            step,
            Inflated {
                consumed: wire.len(),
                complete: true
            }
        );
        Ok(out)
    }

    /// Inflates `input` in pieces of at most `room` bytes, appending them
    /// to `out`, resuming with the unconsumed input after each piece.
    fn inflate_pieces(
        codec: &mut Deflate,
        mut input: &[u8],
        last: bool,
        room: usize,
        out: &mut Vec<u8>,
    ) -> Result<usize, InflateError> {
        let mut calls = 0;
        loop {
            let mut piece = Vec::new();
            let step = codec.inflate(input, last, &mut piece, room)?;
            calls += 1;
            assert!(piece.len() <= room, "{} > {room}", piece.len());
            assert!(step.complete || piece.len() == room, "stopped early");
            out.extend_from_slice(&piece);
            input = &input[step.consumed..];
            if step.complete {
                assert!(input.is_empty());
                return Ok(calls);
            }
        }
    }

    #[test]
    fn every_window_and_takeover_mode_round_trips() {
        let text: Vec<u8> = (0..4000u32)
            .flat_map(|i| {
                alloc::format!("{{\"seq\":{},\"v\":\"{}\"}}", i % 97, i % 13).into_bytes()
            })
            .collect();
        for bits in MIN_BITS..=MAX_BITS {
            for no_takeover in [false, true] {
                let params = DeflateParams {
                    server_no_context_takeover: no_takeover,
                    client_no_context_takeover: no_takeover,
                    server_max_window_bits: Some(bits),
                    client_max_window_bits: Some(bits),
                };
                let config = DeflateConfig::default().threshold(0);
                let (mut client, mut server) = pair(&params, &config);
                for message in [&text[..], &text[..1000], b"", &text[5..7]] {
                    match client.compress(message) {
                        Some(wire) => {
                            assert_ne!(bits, 8);
                            assert_eq!(
                                inflate_all(&mut server, &wire, usize::MAX),
                                Ok(message.to_vec())
                            );
                        }
                        None => {
                            assert!(bits == 8 || message.len() < 16, "{bits} {}", message.len())
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn context_takeover_shrinks_repeated_messages() {
        let (params, config) = (DeflateParams::default(), DeflateConfig::default());
        let message = br#"{"type":"quote","symbol":"ACME","bid":101.25,"ask":101.5}"#;
        let (mut client, mut server) = pair(&params, &config);
        let first = client.compress(message).unwrap();
        let second = client.compress(message).unwrap();
        assert!(
            second.len() < first.len() / 3,
            "{} vs {}",
            second.len(),
            first.len()
        );
        assert_eq!(inflate_all(&mut server, &first, 1 << 20).unwrap(), message);
        assert_eq!(inflate_all(&mut server, &second, 1 << 20).unwrap(), message);

        let no_takeover = DeflateParams {
            client_no_context_takeover: true,
            ..params
        };
        let (mut client, _) = pair(&no_takeover, &config);
        assert_eq!(client.compress(message), client.compress(message));
    }

    #[test]
    fn threshold_and_incompressible_payloads_go_out_plain() {
        let config = DeflateConfig::default().threshold(10);
        let (mut client, mut server) = pair(&DeflateParams::default(), &config);
        assert_eq!(client.compress(b"short"), None);
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let noise: Vec<u8> = (0..512)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 32) as u8
            })
            .collect();
        assert_eq!(client.compress(&noise), None);
        // The reset after the refusal keeps later messages decodable.
        let text = b"hello hello hello hello hello hello";
        let wire = client.compress(text).unwrap();
        assert_eq!(inflate_all(&mut server, &wire, 100).unwrap(), text);
    }

    #[test]
    fn bombs_stop_at_the_limit() {
        let (mut client, mut server) = pair(
            &DeflateParams::default(),
            &DeflateConfig::default().level(9),
        );
        let zeros = vec![0u8; 10 << 20];
        let wire = client.compress(&zeros).unwrap();
        assert!(wire.len() < 20 << 10);
        let mut out = Vec::new();
        let step = server.inflate(&wire, true, &mut out, (1 << 20) + 1);
        // The output stops at the room given, and its buffer never grew
        // past it either.
        assert_eq!(step.map(|s| s.complete), Ok(false));
        assert_eq!(out.len(), (1 << 20) + 1);
        assert!(out.capacity() <= (1 << 20) + 1, "{}", out.capacity());
        // Exactly at the limit is fine.
        let (mut client, mut server) = pair(&DeflateParams::default(), &DeflateConfig::default());
        let wire = client.compress(&zeros[..4096]).unwrap();
        assert_eq!(inflate_all(&mut server, &wire, 4096).unwrap().len(), 4096);
        let wire = client.compress(&zeros[..4097]).unwrap();
        assert_eq!(inflate_all(&mut server, &wire, 4096), Err(Fail::TooLarge));
    }

    #[test]
    fn pieces_resume_with_the_unconsumed_input() {
        let (mut client, mut server) = pair(
            &DeflateParams::default(),
            &DeflateConfig::default().level(9),
        );
        let zeros = vec![0u8; 1 << 20];
        let wire = client.compress(&zeros).unwrap();
        // A bomb: the first 4 KiB piece leaves most of the input unread.
        let mut piece = Vec::new();
        let step = server.inflate(&wire, true, &mut piece, 4096).unwrap();
        assert_eq!(piece.len(), 4096);
        assert!(!step.complete);
        assert!(
            step.consumed < wire.len() / 2,
            "{} of {}",
            step.consumed,
            wire.len()
        );
        let mut out = piece;
        let rest = &wire[step.consumed..];
        let calls = inflate_pieces(&mut server, rest, true, 4096, &mut out).unwrap();
        assert_eq!(calls, 256);
        assert_eq!(out, zeros);
        // The codec is ready for the next message, context kept.
        let text = br#"{"a":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]}"#;
        let wire = client.compress(text).unwrap();
        assert_eq!(inflate_all(&mut server, &wire, 1 << 10).unwrap(), text);
    }

    #[test]
    fn always_compress_sends_every_message_compressed() {
        let config = DeflateConfig::default().always_compress(true);
        let (mut client, mut server) = pair(&DeflateParams::default(), &config);
        let noise: Vec<u8> = (0..512u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        // An empty message right after another one too: the compressor has
        // nothing to flush then.
        for message in [&b""[..], b"hi", &noise, b"", b"", b"hi"] {
            let wire = client.compress(message).expect("compressed");
            assert_eq!(inflate_all(&mut server, &wire, 1 << 10).unwrap(), message);
        }
    }

    /// Whether `wire` is a run of stored deflate blocks (each starts on a
    /// byte boundary, as stored blocks leave it): what a peer with a
    /// 256-byte window can always inflate.
    fn stored_only(mut wire: &[u8]) -> bool {
        while let [header, a, b, c, d, rest @ ..] = wire {
            let (len, nlen) = (u16::from_le_bytes([*a, *b]), u16::from_le_bytes([*c, *d]));
            if *header > 1 || len != !nlen || rest.len() < usize::from(len) {
                return false;
            }
            wire = &rest[usize::from(len)..];
        }
        wire.is_empty()
    }

    #[test]
    fn always_compress_stores_under_an_8_bit_window() {
        let params = DeflateParams {
            client_max_window_bits: Some(8),
            ..DeflateParams::default()
        };
        let text = b"abcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabc".repeat(40);
        let (mut client, _) = pair(&params, &DeflateConfig::default());
        assert_eq!(client.compress(&text), None);
        let config = DeflateConfig::default().always_compress(true);
        let (mut client, mut server) = pair(&params, &config);
        for message in [&text[..], b"", &text[..100], &text] {
            let wire = client.compress(message).expect("compressed");
            // The trailer is stripped: restore it to parse the blocks.
            let whole = [&wire[..], &TRAILER[..]].concat();
            assert!(stored_only(&whole), "{wire:02x?}");
            assert_eq!(inflate_all(&mut server, &wire, 1 << 12).unwrap(), message);
        }
        // The parser sees through a compressed stream.
        let (mut client, _) = pair(&DeflateParams::default(), &config);
        assert!(!stored_only(
            &[&client.compress(&text).unwrap()[..], &TRAILER[..]].concat()
        ));
    }

    #[test]
    fn data_after_a_final_block_is_corrupt() {
        let mut compress = Compress::new_with_window_bits(Compression::default(), false, 15);
        let mut wire = Vec::with_capacity(128);
        compress
            .compress_vec(b"final block", &mut wire, FlushCompress::Finish)
            .unwrap();
        wire.push(0x00);
        let (_, mut server) = pair(&DeflateParams::default(), &DeflateConfig::default());
        assert_eq!(inflate_all(&mut server, &wire, 100), Err(Fail::Corrupt));
    }

    #[test]
    fn corrupt_streams_are_errors() {
        let (_, mut server) = pair(&DeflateParams::default(), &DeflateConfig::default());
        // BTYPE 11 is reserved.
        assert_eq!(
            inflate_all(&mut server, &[0xff, 0xff, 0xff], 1 << 20),
            Err(Fail::Corrupt)
        );
    }

    #[test]
    fn final_blocks_are_accepted() {
        // A peer may end a message with BFINAL set instead of a sync flush.
        let mut compress = Compress::new_with_window_bits(Compression::default(), false, 15);
        let mut wire = Vec::with_capacity(128);
        compress
            .compress_vec(b"final block", &mut wire, FlushCompress::Finish)
            .unwrap();
        let (_, mut server) = pair(&DeflateParams::default(), &DeflateConfig::default());
        assert_eq!(
            inflate_all(&mut server, &wire, 100).unwrap(),
            b"final block"
        );
        let (mut client, _) = pair(
            &DeflateParams::default(),
            &DeflateConfig::default().threshold(0),
        );
        let next = client
            .compress(b"next, next, next, next, next, next")
            .unwrap();
        assert_eq!(
            inflate_all(&mut server, &next, 100).unwrap(),
            b"next, next, next, next, next, next"
        );
    }

    quickcheck! {
        fn parse_never_panics(s: String) -> bool {
            let _ = parse_element(&s);
            let _ = negotiate_server(core::slice::from_ref(&s), &DeflateConfig::default());
            let _ = negotiate_client(&[s], &DeflateConfig::default());
            true
        }

        fn split_inflate_matches_whole(messages: Vec<Vec<u8>>, cuts: Vec<usize>) -> TestResult {
            let config = DeflateConfig::default().threshold(0);
            let (mut client, mut whole) = pair(&DeflateParams::default(), &config);
            let (_, mut split) = pair(&DeflateParams::default(), &config);
            for (i, message) in messages.iter().enumerate() {
                let Some(wire) = client.compress(message) else { continue };
                let expected = inflate_all(&mut whole, &wire, usize::MAX);
                let mut out = Vec::new();
                let cut = cuts.get(i).map_or(0, |c| c % (wire.len() + 1));
                let (a, b) = wire.split_at(cut);
                let got = split
                    .inflate(a, false, &mut out, usize::MAX)
                    .and_then(|_| split.inflate(b, true, &mut out, usize::MAX))
                    .map(|_| out);
                if got.as_ref().ok() != expected.as_ref().ok() || got.as_deref() != Ok(&message[..]) {
                    return TestResult::failed();
                }
            }
            TestResult::passed()
        }

        fn pieces_match_whole(messages: Vec<Vec<u8>>, cuts: Vec<usize>, room: u8) -> bool {
            let room = usize::from(room) + 1;
            let config = DeflateConfig::default().threshold(0);
            let (mut client, mut server) = pair(&DeflateParams::default(), &config);
            for (i, message) in messages.iter().enumerate() {
                // Repetition makes pieces stop mid-match and mid-trailer.
                let message = message.repeat(3);
                let Some(wire) = client.compress(&message) else { continue };
                let cut = cuts.get(i).map_or(0, |c| c % (wire.len() + 1));
                let (a, b) = wire.split_at(cut);
                let mut out = Vec::new();
                let done = inflate_pieces(&mut server, a, false, room, &mut out)
                    .and_then(|_| inflate_pieces(&mut server, b, true, room, &mut out));
                if done.is_err() || out != message {
                    return false;
                }
            }
            true
        }

        fn garbage_never_panics(chunks: Vec<Vec<u8>>) -> bool {
            let (_, mut server) = pair(&DeflateParams::default(), &DeflateConfig::default());
            let mut out = Vec::new();
            for chunk in &chunks {
                if server.inflate(chunk, true, &mut out, 1 << 16).is_err() {
                    server = pair(&DeflateParams::default(), &DeflateConfig::default()).1;
                }
                if out.len() > 1 << 16 {
                    return false;
                }
                out.clear();
            }
            true
        }
    }
}
