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
//! A compressed connection holds one deflate state and one inflate state.
//! With 15-bit windows (the default) that is about 270 KiB for the deflate
//! state (a 64 KiB window doubled, its hash chains and a 64 KiB symbol
//! buffer) and about 40 KiB for the inflate state (a 32 KiB window and the
//! decoding tables), plus the inflated output, which is bounded by
//! [`Config::max_message_size`](crate::Config::max_message_size). Smaller
//! window bits shrink both states: every bit less halves the window.
//!
//! # Windows of 256 bytes
//!
//! RFC 7692 allows a window of 8 bits, which the zlib family cannot produce.
//! When the peer limits our window to 8 bits we accept and simply never
//! compress: uncompressed messages are always allowed. Inflating uses a
//! 9-bit window for an 8-bit agreement, which decodes every stream an 8-bit
//! compressor can produce.
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

/// Inflated bytes produced per decompression call: small enough that the
/// output never outgrows the message limit by much before it is checked.
const INFLATE_STEP: usize = 32 * 1024;

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
/// // Small windows and no context kept between messages: about 10 KiB of
/// // compression state per connection instead of 300 KiB.
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
pub enum InflateError {
    /// The bytes are not a valid deflate stream (close code 1007).
    Corrupt,
    /// The output would exceed the limit (close code 1009).
    TooLarge,
}

/// The per-connection codec: compresses outbound messages and inflates
/// inbound ones, honouring the agreed windows and context takeover.
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
/// let mut out = Vec::new();
/// server.inflate(&wire, true, &mut out, 1 << 20)?;
/// assert_eq!(out, json);
/// # Ok::<(), wscore::extension::deflate::InflateError>(())
/// ```
pub struct Deflate {
    /// `None` when the agreed window is too small for the backend: then
    /// every message goes out uncompressed.
    compress: Option<Compress>,
    compress_reset: bool,
    decompress: Decompress,
    decompress_reset: bool,
    /// The current inbound message ended its deflate stream early.
    stream_ended: bool,
    threshold: usize,
}

impl fmt::Debug for Deflate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deflate")
            .field("compresses", &self.compress.is_some())
            .field("compress_reset", &self.compress_reset)
            .field("decompress_reset", &self.decompress_reset)
            .field("threshold", &self.threshold)
            .finish()
    }
}

impl Deflate {
    /// The codec for `role` under the agreed `params`.
    pub fn new(params: &DeflateParams, role: Role, config: &DeflateConfig) -> Self {
        let (send_bits, compress_reset) = params.sending(role, config);
        let (receive_bits, decompress_reset) = params.receiving(role);
        let level = Compression::new(config.level.min(9));
        let compress = (send_bits >= MIN_BACKEND_BITS)
            .then(|| Compress::new_with_window_bits(level, false, send_bits.min(MAX_BITS)));
        let receive_bits = receive_bits.clamp(MIN_BACKEND_BITS, MAX_BITS);
        Self {
            compress,
            compress_reset,
            decompress: Decompress::new_with_window_bits(false, receive_bits),
            decompress_reset,
            stream_ended: false,
            threshold: config.threshold,
        }
    }

    /// Compresses one whole message payload, without the trailing
    /// `00 00 ff ff`. `None` means "send it uncompressed": the payload is
    /// below the threshold, compression would not make it smaller, or the
    /// agreement rules compression out.
    pub fn compress(&mut self, payload: &[u8]) -> Option<Bytes> {
        if payload.len() < self.threshold {
            return None;
        }
        let compress = self.compress.as_mut()?;
        let out = deflate_sync(compress, payload);
        // A reset keeps both windows consistent whatever we send: after it
        // our stream refers only to bytes the peer will also inflate.
        match out {
            Some(out) if out.len() < payload.len() => {
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

    /// Inflates the next compressed bytes of a message into `out`, never
    /// letting `out` grow past `limit` bytes. `last` marks the final bytes
    /// of the message, after which the trailer is restored.
    pub fn inflate(
        &mut self,
        input: &[u8],
        last: bool,
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), InflateError> {
        self.inflate_bytes(input, out, limit)?;
        if last {
            if !self.stream_ended {
                self.inflate_bytes(&TRAILER, out, limit)?;
            }
            if self.stream_ended || self.decompress_reset {
                self.decompress.reset(false);
            }
            self.stream_ended = false;
        }
        Ok(())
    }

    fn inflate_bytes(
        &mut self,
        mut input: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), InflateError> {
        if self.stream_ended {
            // Nothing may follow a final block within its message.
            return if input.is_empty() {
                Ok(())
            } else {
                Err(InflateError::Corrupt)
            };
        }
        loop {
            let len = out.len();
            // One byte past the limit tells "exactly full" from "too much".
            let step = limit
                .saturating_sub(len)
                .saturating_add(1)
                .min(INFLATE_STEP);
            let want = len.saturating_add(step);
            if out.capacity() < want {
                // Geometric growth, but never past the limit's worth.
                let target = out
                    .capacity()
                    .saturating_mul(2)
                    .min(limit.saturating_add(1))
                    .max(want);
                out.reserve_exact(target - len);
            }
            out.resize(want, 0);
            let (before_in, before_out) = (self.decompress.total_in(), self.decompress.total_out());
            let status = self.decompress.decompress(
                input,
                out.get_mut(len..).unwrap_or_default(),
                FlushDecompress::Sync,
            );
            let consumed = (self.decompress.total_in() - before_in) as usize;
            let produced = (self.decompress.total_out() - before_out) as usize;
            out.truncate(len + produced);
            input = input.get(consumed..).unwrap_or_default();
            match status {
                Err(_) => return Err(InflateError::Corrupt),
                Ok(Status::StreamEnd) => {
                    // A final block (BFINAL) ends the stream: the message
                    // ends with it, and the next one starts a new stream.
                    self.stream_ended = true;
                    if out.len() > limit {
                        return Err(InflateError::TooLarge);
                    }
                    return self.inflate_bytes(input, out, limit);
                }
                Ok(_) => {}
            }
            if out.len() > limit {
                return Err(InflateError::TooLarge);
            }
            if produced < step && input.is_empty() {
                return Ok(());
            }
            if produced == 0 && consumed == 0 {
                // Room to write and nothing written: the stream is stuck.
                return Err(InflateError::Corrupt);
            }
        }
    }
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

    fn inflate_all(
        codec: &mut Deflate,
        wire: &[u8],
        limit: usize,
    ) -> Result<Vec<u8>, InflateError> {
        let mut out = Vec::new();
        codec.inflate(wire, true, &mut out, limit)?;
        Ok(out)
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
        assert_eq!(
            server.inflate(&wire, true, &mut out, 1 << 20),
            Err(InflateError::TooLarge)
        );
        assert!(out.capacity() <= (1 << 20) + INFLATE_STEP + 1);
        // Exactly at the limit is fine.
        let (mut client, mut server) = pair(&DeflateParams::default(), &DeflateConfig::default());
        let wire = client.compress(&zeros[..4096]).unwrap();
        assert_eq!(inflate_all(&mut server, &wire, 4096).unwrap().len(), 4096);
        let wire = client.compress(&zeros[..4097]).unwrap();
        assert_eq!(
            inflate_all(&mut server, &wire, 4096),
            Err(InflateError::TooLarge)
        );
    }

    #[test]
    fn corrupt_streams_are_errors() {
        let (_, mut server) = pair(&DeflateParams::default(), &DeflateConfig::default());
        // BTYPE 11 is reserved.
        assert_eq!(
            inflate_all(&mut server, &[0xff, 0xff, 0xff], 1 << 20),
            Err(InflateError::Corrupt)
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
                    .and_then(|()| split.inflate(b, true, &mut out, usize::MAX))
                    .map(|()| out);
                if got != expected || expected.as_deref() != Ok(&message[..]) {
                    return TestResult::failed();
                }
            }
            TestResult::passed()
        }

        fn garbage_never_panics(chunks: Vec<Vec<u8>>) -> bool {
            let (_, mut server) = pair(&DeflateParams::default(), &DeflateConfig::default());
            let mut out = Vec::new();
            for chunk in &chunks {
                if server.inflate(chunk, true, &mut out, 1 << 16).is_err() {
                    server = pair(&DeflateParams::default(), &DeflateConfig::default()).1;
                }
                out.clear();
            }
            true
        }
    }
}
