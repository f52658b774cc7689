//! Connection configuration: limits, timers and receive mode.
//!
//! Defaults are safe for a server facing the internet: every buffer has a
//! bound and the handshake has a deadline. [`Config::validate`] checks a
//! configuration before a connection is built from it; construction never
//! panics on a user value.

use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

use crate::envelope::batch::BatchConfig;
use crate::envelope::stream::StreamConfig;
use crate::envelope::Subprotocol;

/// How received messages are handed to the application.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReceiveMode {
    /// One [`Event::Message`](crate::connection::Event::Message) per message,
    /// reassembled from its fragments. Memory per message is bounded by
    /// [`Config::max_message_size`].
    #[default]
    Whole,
    /// Each message as [`MessageStart`](crate::connection::Event::MessageStart),
    /// any number of [`MessageData`](crate::connection::Event::MessageData)
    /// pieces, then [`MessageEnd`](crate::connection::Event::MessageEnd), as
    /// bytes arrive. Memory does not grow with the message size; text is
    /// still validated as it arrives.
    Incremental,
}

/// Keepalive: ping the peer after a quiet interval and give up if it does
/// not answer in time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keepalive {
    /// How long the connection may receive nothing before a ping is sent.
    pub interval: Duration,
    /// How long to wait for anything from the peer after that ping.
    pub timeout: Duration,
}

/// Settings for one connection, for either role.
///
/// ```
/// use core::time::Duration;
/// use wscore::{Config, Keepalive, ReceiveMode};
///
/// let config = Config::default()
///     .max_message_size(1 << 20)
///     .receive_mode(ReceiveMode::Incremental)
///     .keepalive(Some(Keepalive {
///         interval: Duration::from_secs(20),
///         timeout: Duration::from_secs(10),
///     }));
/// assert!(config.validate().is_ok());
/// assert!(Config::default().max_frame_size(0).validate().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// The largest inbound frame payload; a larger one closes with 1009.
    pub max_frame_size: u64,
    /// The largest inbound message (all fragments together); a larger one
    /// closes with 1009. In incremental mode it still bounds the total.
    pub max_message_size: u64,
    /// Outbound messages larger than this are split into fragments of this
    /// size, so that control frames can be written between them. The
    /// default, 256 KiB, is the default batch cap: a full batch goes out as
    /// one frame, which the receiver takes without joining fragments.
    pub fragment_size: usize,
    /// The largest handshake header block accepted, in bytes.
    pub max_handshake_bytes: usize,
    /// The most header lines accepted in a handshake.
    pub max_headers: usize,
    /// A handshake not completed within this time fails.
    pub handshake_timeout: Duration,
    /// After sending a close frame, how long to wait for the peer's.
    pub close_timeout: Duration,
    /// Optional keepalive pings.
    pub keepalive: Option<Keepalive>,
    /// Close the connection (1001) after this long without a text or binary
    /// message received. Sending does not count: whether a listening peer is
    /// still there is what [`Config::keepalive`] finds out.
    pub idle_timeout: Option<Duration>,
    /// Whole messages or pieces.
    pub receive_mode: ReceiveMode,
    /// permessage-deflate (RFC 7692): offered by clients and accepted by
    /// servers when set. Off by default.
    #[cfg(feature = "deflate")]
    pub deflate: Option<crate::extension::deflate::DeflateConfig>,
    /// The subprotocols this endpoint speaks, in preference order, each with
    /// the envelope it names (see [`Envelope`](crate::Envelope)). A client
    /// offers them all; a server whose application does not choose picks
    /// the first one here that the client offered. Empty by default.
    pub subprotocols: Vec<Subprotocol>,
    /// Limits and policy of batched subprotocols.
    pub batch: BatchConfig,
    /// Limits and policy of streamed subprotocols.
    pub stream: StreamConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_frame_size: 16 << 20,
            max_message_size: 64 << 20,
            fragment_size: 256 << 10,
            max_handshake_bytes: 16 << 10,
            max_headers: 64,
            handshake_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(5),
            keepalive: None,
            idle_timeout: None,
            receive_mode: ReceiveMode::Whole,
            #[cfg(feature = "deflate")]
            deflate: None,
            subprotocols: Vec::new(),
            batch: BatchConfig::default(),
            stream: StreamConfig::default(),
        }
    }
}

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty),* $(,)?) => {
        $(
            $(#[$doc])*
            #[must_use]
            pub fn $name(mut self, value: $ty) -> Self {
                self.$name = value;
                self
            }
        )*
    };
}

impl Config {
    setters! {
        /// Sets [`Config::max_frame_size`].
        max_frame_size: u64,
        /// Sets [`Config::max_message_size`].
        max_message_size: u64,
        /// Sets [`Config::fragment_size`].
        fragment_size: usize,
        /// Sets [`Config::max_handshake_bytes`].
        max_handshake_bytes: usize,
        /// Sets [`Config::max_headers`].
        max_headers: usize,
        /// Sets [`Config::handshake_timeout`].
        handshake_timeout: Duration,
        /// Sets [`Config::close_timeout`].
        close_timeout: Duration,
        /// Sets [`Config::keepalive`].
        keepalive: Option<Keepalive>,
        /// Sets [`Config::idle_timeout`].
        idle_timeout: Option<Duration>,
        /// Sets [`Config::receive_mode`].
        receive_mode: ReceiveMode,
        /// Sets [`Config::subprotocols`].
        subprotocols: Vec<Subprotocol>,
        /// Sets [`Config::batch`].
        batch: BatchConfig,
        /// Sets [`Config::stream`].
        stream: StreamConfig,
    }

    /// Sets [`Config::deflate`].
    #[cfg(feature = "deflate")]
    #[must_use]
    pub fn deflate(mut self, value: Option<crate::extension::deflate::DeflateConfig>) -> Self {
        self.deflate = value;
        self
    }

    /// Checks that every value is usable.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_frame_size == 0 {
            return Err(ConfigError::Zero("max_frame_size"));
        }
        if self.max_message_size == 0 {
            return Err(ConfigError::Zero("max_message_size"));
        }
        if self.fragment_size == 0 {
            return Err(ConfigError::Zero("fragment_size"));
        }
        if self.max_headers < 4 {
            return Err(ConfigError::TooSmall("max_headers"));
        }
        if self.max_handshake_bytes < 128 {
            return Err(ConfigError::TooSmall("max_handshake_bytes"));
        }
        if let Some(k) = self.keepalive {
            if k.interval.is_zero() || k.timeout.is_zero() {
                return Err(ConfigError::Zero("keepalive"));
            }
        }
        if self.idle_timeout.is_some_and(|d| d.is_zero()) {
            return Err(ConfigError::Zero("idle_timeout"));
        }
        if self.batch.cap == 0 {
            return Err(ConfigError::Zero("batch.cap"));
        }
        if self.batch.max_messages == 0 {
            return Err(ConfigError::Zero("batch.max_messages"));
        }
        if self.batch.max_bytes == 0 {
            return Err(ConfigError::Zero("batch.max_bytes"));
        }
        if self.stream.chunk_size == 0 {
            return Err(ConfigError::Zero("stream.chunk_size"));
        }
        if self.stream.chunks_per_turn == 0 {
            return Err(ConfigError::Zero("stream.chunks_per_turn"));
        }
        if self.stream.ttl.is_zero() {
            return Err(ConfigError::Zero("stream.ttl"));
        }
        #[cfg(feature = "deflate")]
        if let Some(deflate) = &self.deflate {
            deflate
                .validate()
                .map_err(|_| ConfigError::OutOfRange("deflate"))?;
        }
        Ok(())
    }
}

/// A configuration value that cannot work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// The named setting is zero.
    Zero(&'static str),
    /// The named setting is too small to hold a valid handshake.
    TooSmall(&'static str),
    /// The named setting is outside its valid range.
    OutOfRange(&'static str),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Zero(name) => write!(f, "`{name}` must not be zero"),
            ConfigError::TooSmall(name) => write!(f, "`{name}` is too small"),
            ConfigError::OutOfRange(name) => write!(f, "`{name}` is out of range"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ConfigError {}
