//! Envelopes: framings that live inside message payloads and are chosen by
//! subprotocol.
//!
//! Browsers can negotiate subprotocols but not custom extensions, so an
//! envelope never touches RSV bits or opcodes: it is a layout of the payload
//! that both ends agree on by naming a subprotocol. The application declares
//! the subprotocols it speaks in [`Config::subprotocols`](crate::Config::subprotocols),
//! each with its [`Envelope`]; a client offers them all, a server picks the
//! first of its own list that the client offered, and the connection then
//! runs the envelope the chosen subprotocol names. A peer that knows only a
//! plain subprotocol is served unchanged.
//!
//! - [`batch`]: many logical messages in one WebSocket message.
//! - [`stream`]: large payloads as chunked streams that interleave with
//!   ordinary messages, on top of batching.

use alloc::string::String;

pub(crate) mod batch;
pub(crate) mod stream;

pub use batch::Framing;

/// How the messages of a subprotocol are carried.
///
/// Browsers can negotiate subprotocols but not custom extensions, so an
/// envelope never touches RSV bits or opcodes: it is a layout of the payload
/// that both ends agree on by naming a subprotocol. The application declares
/// the subprotocols it speaks in [`Config::subprotocols`](crate::Config::subprotocols),
/// each with its envelope; a client offers them all, a server picks the
/// first of its own list that the client offered, and the connection then
/// runs the envelope the chosen subprotocol names. A peer that knows only a
/// plain subprotocol is served unchanged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Envelope {
    /// One logical message per WebSocket message.
    #[default]
    Plain,
    /// Every binary WebSocket message is a batch of logical messages
    /// delimited by the [`Framing`]; text messages are carried plain.
    Batched(Framing),
    /// Batching plus streams: every binary WebSocket message starts with a
    /// record tag, and is either a batch or a stream record.
    Streamed(Framing),
}

/// A subprotocol the application speaks, and the envelope it names.
///
/// ```
/// use wscore::{Config, Envelope, Subprotocol};
///
/// // Preference order: batched first, plain as the fallback.
/// let config = Config::default().subprotocols(vec![
///     Subprotocol::batched("v3.bsatn.example"),
///     Subprotocol::plain("v2.bsatn.example"),
/// ]);
/// assert_eq!(config.subprotocols[1].envelope, Envelope::Plain);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subprotocol {
    /// The token in `Sec-WebSocket-Protocol`.
    pub name: String,
    /// The envelope the connection runs when this subprotocol is chosen.
    pub envelope: Envelope,
}

impl Subprotocol {
    /// A subprotocol with one logical message per WebSocket message.
    pub fn plain(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            envelope: Envelope::Plain,
        }
    }

    /// A batched subprotocol with varint length prefixes.
    pub fn batched(name: impl Into<String>) -> Self {
        Self::batched_with(name, Framing::Varint)
    }

    /// A streamed subprotocol (batching and streams) with varint length
    /// prefixes.
    pub fn streamed(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            envelope: Envelope::Streamed(Framing::Varint),
        }
    }

    /// A batched subprotocol with the given framing.
    pub fn batched_with(name: impl Into<String>, framing: Framing) -> Self {
        Self {
            name: name.into(),
            envelope: Envelope::Batched(framing),
        }
    }
}
