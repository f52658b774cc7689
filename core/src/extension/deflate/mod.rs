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
//! This module owns the settings and the agreement; the negotiation
//! (`negotiate`) and the codec (`codec`) are files of their own.
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

use crate::connection::Role;

mod codec;
mod negotiate;

pub use codec::{Deflate, InflateError, Inflated};
pub use negotiate::{client_offer, negotiate_client, negotiate_server, NegotiationError};

/// The extension token in `Sec-WebSocket-Extensions`.
pub(crate) const EXTENSION_NAME: &str = "permessage-deflate";

/// The largest window the RFC permits, and the default.
pub(super) const MAX_BITS: u8 = 15;
/// The smallest window the RFC permits.
pub(super) const MIN_BITS: u8 = 8;
/// The smallest window the deflate backend can use.
pub(super) const MIN_BACKEND_BITS: u8 = 9;

pub(super) const SERVER_NO_CONTEXT_TAKEOVER: &str = "server_no_context_takeover";
pub(super) const CLIENT_NO_CONTEXT_TAKEOVER: &str = "client_no_context_takeover";
pub(super) const SERVER_MAX_WINDOW_BITS: &str = "server_max_window_bits";
pub(super) const CLIENT_MAX_WINDOW_BITS: &str = "client_max_window_bits";

/// What this endpoint asks for in the negotiation, and how it compresses.
///
/// The same settings serve both roles: a client offers them, a server applies
/// them to the client's offer.
///
/// ```
/// use wscore::DeflateConfig;
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
    /// use wscore::DeflateParams;
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
    pub(crate) fn sending(&self, role: Role, config: &DeflateConfig) -> (u8, bool) {
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
    pub(super) fn receiving(&self, role: Role) -> (u8, bool) {
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

pub(super) fn push_bits(out: &mut String, bits: u8) {
    if bits >= 10 {
        out.push('1');
    }
    out.push(char::from(b'0' + bits % 10));
}
