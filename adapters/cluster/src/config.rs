//! The bridge's settings.

use std::time::Duration;

/// Settings of a [`Cluster`](crate::Cluster).
///
/// ```
/// use std::time::Duration;
/// use wscore_cluster::ClusterConfig;
///
/// let config = ClusterConfig::default()
///     .channel_prefix("chat:")
///     .backoff(Duration::from_millis(20), Duration::from_secs(1));
/// assert_eq!(config.channel_prefix, "chat:");
/// assert!(config.validate().is_ok());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClusterConfig {
    /// Put before a room's key to name its channel; processes that share
    /// rooms use the same prefix. Default `"wscore:room:"`.
    pub channel_prefix: String,
    /// The first wait before reconnecting a lost link; each failed attempt
    /// doubles it, up to `backoff_max`. Default 50 ms.
    pub backoff_min: Duration,
    /// The longest wait between attempts. Default 2 s.
    pub backoff_max: Duration,
    /// How long a connection attempt, a batch of publishes or a
    /// subscription may take before the link counts as lost. Default 5 s.
    pub timeout: Duration,
    /// Messages waiting to be published; a publish past it is not
    /// published, and counted. Default 65 536.
    pub max_pending: usize,
    /// Messages sent to Redis in one pipeline at most. Default 256.
    pub max_batch: usize,
    /// Origins whose sequence numbers are remembered per room (see
    /// [`ClusterStats::may_have_missed`](crate::ClusterStats)). Default 4 096.
    pub max_origins: usize,
    /// Rooms whose sequence numbers this process keeps as a publisher;
    /// past it, the room with the lowest key starts its numbers over
    /// (receivers take number 1 as a fresh start). Default 65 536.
    pub max_rooms: usize,
    /// Events kept until taken by [`Cluster::events`](crate::Cluster::events);
    /// past it, new events are dropped and counted (the counters stay
    /// exact). Default 1 024.
    pub max_events: usize,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            channel_prefix: String::from("wscore:room:"),
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_secs(2),
            timeout: Duration::from_secs(5),
            max_pending: 1 << 16,
            max_batch: 256,
            max_origins: 4096,
            max_rooms: 1 << 16,
            max_events: 1024,
        }
    }
}

/// A setting of [`ClusterConfig`] that cannot work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// `backoff_min` is zero or longer than `backoff_max`.
    Backoff,
    /// `timeout` is zero.
    Timeout,
    /// `max_pending`, `max_batch`, `max_origins`, `max_rooms` or `max_events`
    /// is zero.
    ZeroLimit,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ConfigError::Backoff => "backoff_min must be above zero and at most backoff_max",
            ConfigError::Timeout => "timeout must be above zero",
            ConfigError::ZeroLimit => "a limit of the cluster configuration is zero",
        })
    }
}

impl std::error::Error for ConfigError {}

impl ClusterConfig {
    /// Sets [`ClusterConfig::channel_prefix`].
    #[must_use]
    pub fn channel_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.channel_prefix = prefix.into();
        self
    }

    /// Sets [`ClusterConfig::backoff_min`] and [`ClusterConfig::backoff_max`].
    #[must_use]
    pub fn backoff(mut self, min: Duration, max: Duration) -> Self {
        self.backoff_min = min;
        self.backoff_max = max;
        self
    }

    /// Sets [`ClusterConfig::timeout`].
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets [`ClusterConfig::max_pending`].
    #[must_use]
    pub fn max_pending(mut self, messages: usize) -> Self {
        self.max_pending = messages;
        self
    }

    /// Sets [`ClusterConfig::max_batch`].
    #[must_use]
    pub fn max_batch(mut self, messages: usize) -> Self {
        self.max_batch = messages;
        self
    }

    /// Sets [`ClusterConfig::max_origins`].
    #[must_use]
    pub fn max_origins(mut self, origins: usize) -> Self {
        self.max_origins = origins;
        self
    }

    /// Sets [`ClusterConfig::max_rooms`].
    #[must_use]
    pub fn max_rooms(mut self, rooms: usize) -> Self {
        self.max_rooms = rooms;
        self
    }

    /// Sets [`ClusterConfig::max_events`].
    #[must_use]
    pub fn max_events(mut self, events: usize) -> Self {
        self.max_events = events;
        self
    }

    /// Checks that the settings can work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.backoff_min.is_zero() || self.backoff_min > self.backoff_max {
            return Err(ConfigError::Backoff);
        }
        if self.timeout.is_zero() {
            return Err(ConfigError::Timeout);
        }
        if [
            self.max_pending,
            self.max_batch,
            self.max_origins,
            self.max_rooms,
            self.max_events,
        ]
        .contains(&0)
        {
            return Err(ConfigError::ZeroLimit);
        }
        Ok(())
    }
}

/// Exponential waits between attempts to restore a link.
#[derive(Debug)]
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub(crate) fn new(config: &ClusterConfig) -> Self {
        Backoff {
            min: config.backoff_min,
            max: config.backoff_max,
            next: config.backoff_min,
        }
    }

    /// The wait before the next attempt; each call doubles the following one.
    pub(crate) fn next_wait(&mut self) -> Duration {
        let wait = self.next;
        self.next = self.next.saturating_mul(2).min(self.max);
        wait
    }

    /// An attempt succeeded: the next loss starts from the shortest wait.
    pub(crate) fn reset(&mut self) {
        self.next = self.min;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_bound_and_reset() {
        let config =
            ClusterConfig::default().backoff(Duration::from_millis(10), Duration::from_millis(50));
        let mut backoff = Backoff::new(&config);
        let waits: Vec<u64> = (0..5)
            .map(|_| backoff.next_wait().as_millis() as u64)
            .collect();
        assert_eq!(waits, [10, 20, 40, 50, 50]);
        backoff.reset();
        assert_eq!(backoff.next_wait(), Duration::from_millis(10));
    }

    #[test]
    fn unworkable_settings_are_refused() {
        let ms = Duration::from_millis;
        assert_eq!(ClusterConfig::default().validate(), Ok(()));
        assert_eq!(
            ClusterConfig::default().backoff(ms(0), ms(5)).validate(),
            Err(ConfigError::Backoff)
        );
        assert_eq!(
            ClusterConfig::default().backoff(ms(9), ms(5)).validate(),
            Err(ConfigError::Backoff)
        );
        assert_eq!(
            ClusterConfig::default().timeout(ms(0)).validate(),
            Err(ConfigError::Timeout)
        );
        assert_eq!(
            ClusterConfig::default().max_batch(0).validate(),
            Err(ConfigError::ZeroLimit)
        );
    }
}
