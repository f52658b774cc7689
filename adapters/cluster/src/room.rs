//! How a room is named on Redis.

use std::borrow::Cow;

/// A room type the bridge can carry: each room is one Redis channel,
/// named by [`ClusterConfig::channel_prefix`](crate::ClusterConfig) and
/// the room's key. `String`, the hub's default, is its own key.
pub trait ClusterRoom: Ord + Clone + Send + Sync + 'static {
    /// The room's part of its channel name. Two rooms must never share a
    /// key.
    fn channel_key(&self) -> Cow<'_, str>;

    /// The room whose key is `key`; `None` for a key no room has.
    fn from_channel_key(key: &str) -> Option<Self>;
}

impl ClusterRoom for String {
    fn channel_key(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }

    fn from_channel_key(key: &str) -> Option<Self> {
        Some(key.to_owned())
    }
}

/// Channel names of rooms under one prefix.
#[derive(Clone, Debug)]
pub(crate) struct Channels {
    prefix: String,
}

impl Channels {
    pub(crate) fn new(prefix: &str) -> Self {
        Channels {
            prefix: prefix.to_owned(),
        }
    }

    pub(crate) fn name<R: ClusterRoom>(&self, room: &R) -> String {
        let key = room.channel_key();
        let mut name = String::with_capacity(self.prefix.len() + key.len());
        name.push_str(&self.prefix);
        name.push_str(&key);
        name
    }

    /// The room of channel `name`; `None` for a channel outside the prefix.
    pub(crate) fn room<R: ClusterRoom>(&self, name: &str) -> Option<R> {
        R::from_channel_key(name.strip_prefix(self.prefix.as_str())?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_channel_is_the_prefix_and_the_room() {
        let channels = Channels::new("ws:room:");
        assert_eq!(channels.name(&"/chat/a".to_string()), "ws:room:/chat/a");
        assert_eq!(
            channels.room::<String>("ws:room:/chat/a"),
            Some("/chat/a".to_string())
        );
        assert_eq!(channels.room::<String>("other:/chat/a"), None);
    }
}
