//! Socket settings: the protocol configuration handed to the core, plus the
//! two knobs that only exist where there is IO (the write-buffer limit that
//! drives back-pressure, and the size of the read buffer).

use wscore::Config as ProtocolConfig;

/// Settings for one WebSocket socket.
///
/// Everything about the protocol (message limits, timeouts, keepalive) is
/// in [`Config::protocol`] and enforced by the core; this type adds the IO
/// side.
///
/// ```
/// use std::time::Duration;
/// use wscore::{Config as ProtocolConfig, Keepalive};
/// use wscore_driver::Config;
///
/// let config = Config::default()
///     .protocol(ProtocolConfig::default().keepalive(Some(Keepalive {
///         interval: Duration::from_secs(20),
///         timeout: Duration::from_secs(10),
///     })))
///     .write_buffer_limit(1 << 20);
/// assert_eq!(config.write_buffer_limit, 1 << 20);
///
/// // A protocol configuration converts on its own.
/// let config: Config = ProtocolConfig::default().max_message_size(1 << 20).into();
/// assert_eq!(config.protocol.max_message_size, 1 << 20);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Limits, timers and keepalive for the protocol engine.
    ///
    /// With [`ReceiveMode::Incremental`](wscore::ReceiveMode::Incremental)
    /// [`Socket::next_event`](crate::Socket::next_event) hands out messages
    /// and streams piece by piece as they are read; the plain message API
    /// still yields whole messages, assembled within the same limits as
    /// in whole mode.
    pub protocol: ProtocolConfig,
    /// Outbound bytes (accepted by `send` but not yet written) above which
    /// sending waits for the transport: the back-pressure threshold. Memory
    /// held for outbound data stays below this plus one message.
    pub write_buffer_limit: usize,
    /// The largest number of bytes read from the transport at a time
    /// (default 256 KiB). Windows start at 4 KiB and double while reads
    /// fill them, so only a connection whose peer sends faster than it
    /// reads reaches the largest; an idle connection holds none. Received
    /// payloads are slices of these read windows (no copy), so a window is
    /// released when the last message read from it is dropped. A frame
    /// larger than a window is copied together from several; the default
    /// takes a full batch (256 KiB) in one read.
    pub read_buffer_size: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            protocol: ProtocolConfig::default(),
            write_buffer_limit: 128 << 10,
            read_buffer_size: 256 << 10,
        }
    }
}

impl From<ProtocolConfig> for Config {
    fn from(protocol: ProtocolConfig) -> Self {
        Config {
            protocol,
            ..Config::default()
        }
    }
}

impl Config {
    /// Sets [`Config::protocol`].
    #[must_use]
    pub fn protocol(mut self, protocol: ProtocolConfig) -> Self {
        self.protocol = protocol;
        self
    }

    /// Sets [`Config::write_buffer_limit`].
    #[must_use]
    pub fn write_buffer_limit(mut self, bytes: usize) -> Self {
        self.write_buffer_limit = bytes;
        self
    }

    /// Sets [`Config::read_buffer_size`]; zero is taken as one byte.
    #[must_use]
    pub fn read_buffer_size(mut self, bytes: usize) -> Self {
        self.read_buffer_size = bytes;
        self
    }

    /// The protocol configuration the core is built with.
    pub(crate) fn core(&self) -> ProtocolConfig {
        self.protocol.clone()
    }
}
