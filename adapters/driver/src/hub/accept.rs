//! How sockets enter a hub: attached after their handshake, or accepted
//! by the hub itself, which answers HTTP 503 when it is full and puts the
//! connection in the room of its request path unless told otherwise.

use std::future::Future;

use crate::io::Transport;
use bytes::Bytes;
use wscore::{room_of_path, Accept, CloseCode, Reject, Request, RoomsFull};

use super::{attachment, tags, Hub, HubConfig, Member};
use crate::store::AttachmentKey;
use crate::{Config, Error, Socket, Timer};

/// The status a full hub answers the opening handshake with.
const FULL: u16 = 503;

/// The status an admission past the hub's limits is answered with: the
/// server asked for what its own configuration forbids.
const INVALID_ADMISSION: u16 = 500;

/// How [`Hub::accept_with_admission`] lets a connection in: the handshake
/// answer, and the rooms, tags and attachment the member starts with.
///
/// ```
/// use wscore_driver::hub::Admission;
/// use wscore_driver::Accept;
///
/// let admission: Admission<String> = Admission::new(Accept::new())
///     .room("/lobby".to_string())
///     .tag("user:ann")
///     .attachment(&b"{\"name\":\"ann\"}"[..]);
/// assert_eq!(admission.tags(), ["user:ann"]);
/// ```
#[derive(Debug)]
pub struct Admission<R> {
    accept: Accept,
    rooms: Vec<R>,
    tags: Vec<String>,
    attachment: Option<Bytes>,
}

impl<R> Admission<R> {
    /// Accepts with `accept`, in no room, with no tag and no attachment.
    pub fn new(accept: Accept) -> Self {
        Admission {
            accept,
            rooms: Vec::new(),
            tags: Vec::new(),
            attachment: None,
        }
    }

    /// Adds a room the member starts in.
    #[must_use]
    pub fn room(mut self, room: R) -> Self {
        self.rooms.push(room);
        self
    }

    /// Adds rooms the member starts in.
    #[must_use]
    pub fn rooms(mut self, rooms: impl IntoIterator<Item = R>) -> Self {
        self.rooms.extend(rooms);
        self
    }

    /// Adds a tag the member starts with (a repeated tag counts once).
    #[must_use]
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        let tag = tag.into();
        if !self.tags.contains(&tag) {
            self.tags.push(tag);
        }
        self
    }

    /// The attachment the member starts with.
    #[must_use]
    pub fn attachment(mut self, value: impl Into<Bytes>) -> Self {
        self.attachment = Some(value.into());
        self
    }

    /// The tags given so far.
    pub fn tags(&self) -> &[String] {
        &self.tags
    }

    /// Whether the hub's limits allow it.
    fn fits(&self, config: &HubConfig) -> bool {
        let attachment_fits = self
            .attachment
            .as_ref()
            .is_none_or(|value| attachment::check(value, config.max_attachment_len).is_ok());
        let tags_fit =
            self.tags.iter().enumerate().all(|(held, tag)| {
                tags::check(tag, held, config.max_tags, config.max_tag_len).is_ok()
            });
        attachment_fits && tags_fit
    }
}

impl<R> From<(Accept, Vec<R>)> for Admission<R> {
    fn from((accept, rooms): (Accept, Vec<R>)) -> Self {
        Admission::new(accept).rooms(rooms)
    }
}

/// What a member starts with besides its socket.
struct Start<R> {
    rooms: Vec<R>,
    tags: Vec<String>,
    attachment: Option<Bytes>,
    /// Its durable key, with a store.
    key: Option<AttachmentKey>,
}

impl<R: Ord + Clone> Hub<R> {
    /// Makes `socket` (a server socket, open) a member, in `rooms`.
    /// Fails when the hub is at [`HubConfig::max_members`](super::HubConfig::max_members),
    /// or when its store ([`Hub::with_store`]) has no key to give;
    /// the socket is dropped then, so close it yourself first if the peer
    /// should hear why (or use [`Hub::accept`], which answers 503 before the
    /// upgrade).
    pub fn attach<S, T>(
        &self,
        socket: Socket<S, T>,
        rooms: impl IntoIterator<Item = R>,
    ) -> Result<Member<S, T, R>, RoomsFull>
    where
        S: Transport,
        T: Timer,
    {
        let id = self.register(socket.connection().frame_encoding())?;
        for room in rooms {
            // The id was just registered.
            let _ = self.join(id, room);
        }
        Ok(Member::new(socket, id, self.clone()))
    }

    /// Server: reads the opening request from `io`, answers `503 Service
    /// Unavailable` if the hub is full, and otherwise accepts it as a
    /// member of the room named by the request's path without its query
    /// (`/` when empty; see [`room_of_path`]).
    pub fn accept<'a, S, T>(
        &'a self,
        io: S,
        config: impl Into<Config> + 'a,
    ) -> impl Future<Output = Result<Member<S, T, R>, Error>> + 'a
    where
        S: Transport + 'a,
        T: Timer + 'a,
        R: for<'b> From<&'b str>,
    {
        self.accept_with(io, config, |request| {
            Ok((Accept::new(), vec![R::from(room_of_path(request.path()))]))
        })
    }

    /// Server: reads the opening request from `io` and lets `decide`
    /// accept it (with the rooms the member starts in) or reject it. A
    /// full hub answers `503 Service Unavailable` without asking.
    ///
    /// If the hub fills up during the handshake, the connection is closed
    /// with 1013 (try again later) and [`Error::Closed`] is returned.
    pub fn accept_with<'a, S, T, F>(
        &'a self,
        io: S,
        config: impl Into<Config> + 'a,
        decide: F,
    ) -> impl Future<Output = Result<Member<S, T, R>, Error>> + 'a
    where
        S: Transport + 'a,
        T: Timer + 'a,
        F: FnOnce(&Request) -> Result<(Accept, Vec<R>), Reject> + 'a,
    {
        self.accept_with_admission(io, config, |request| decide(request).map(Admission::from))
    }

    /// Server: as [`Hub::accept_with`], with the member's tags and
    /// attachment chosen with its rooms, from the request. An admission
    /// past [`HubConfig::max_tags`], [`HubConfig::max_tag_len`] or
    /// [`HubConfig::max_attachment_len`] is the server's own mistake: the
    /// handshake is answered `500 Internal Server Error` and
    /// [`Error::Rejected`] is returned.
    pub fn accept_with_admission<'a, S, T, F>(
        &'a self,
        io: S,
        config: impl Into<Config> + 'a,
        decide: F,
    ) -> impl Future<Output = Result<Member<S, T, R>, Error>> + 'a
    where
        S: Transport + 'a,
        T: Timer + 'a,
        F: FnOnce(&Request) -> Result<Admission<R>, Reject> + 'a,
    {
        // The handshake is set up now, so the future holds the boxed
        // engine, not the configuration.
        let handshake = Socket::accept_deciding(io, config, move |request| {
            if self.is_full() {
                return Err(Reject::new(FULL).body("the server is full; try again later"));
            }
            let admission = decide(request)?;
            if !admission.fits(self.config()) {
                return Err(Reject::new(INVALID_ADMISSION));
            }
            // A store with no key to give cannot take a member either.
            let Ok(key) = self.new_attachment_key() else {
                return Err(
                    Reject::new(FULL).body("the server cannot store state; try again later")
                );
            };
            let Admission {
                accept,
                rooms,
                tags,
                attachment,
            } = admission;
            Ok((
                accept,
                Start {
                    rooms,
                    tags,
                    attachment,
                    key,
                },
            ))
        });
        async move {
            let (socket, start) = handshake.await?;
            // The handshake succeeded, so `decide` accepted and `start` is
            // set; a member with nothing is the harmless answer otherwise.
            let start = start.unwrap_or(Start {
                rooms: Vec::new(),
                tags: Vec::new(),
                attachment: None,
                key: None,
            });
            self.admit(socket, start).await
        }
    }

    async fn admit<S, T>(
        &self,
        mut socket: Socket<S, T>,
        start: Start<R>,
    ) -> Result<Member<S, T, R>, Error>
    where
        S: Transport,
        T: Timer,
    {
        let key = match start.key {
            Some(key) => Ok(Some(key)),
            None => self.new_attachment_key(),
        };
        let registered = match key {
            Ok(key) => self.register_keyed(socket.connection().frame_encoding(), key),
            Err(_) => Err(RoomsFull),
        };
        match registered {
            Ok(id) => {
                // The id was just registered and the admission checked
                // against the limits.
                for room in start.rooms {
                    let _ = self.join(id, room);
                }
                for tag in start.tags {
                    let _ = self.add_tag(id, tag);
                }
                if let Some(value) = start.attachment {
                    let _ = self.set_attachment(id, value);
                }
                Ok(Member::new(socket, id, self.clone()))
            }
            Err(RoomsFull) => {
                let _ = socket
                    .close(CloseCode::TRY_AGAIN_LATER, "the server is full")
                    .await;
                Err(Error::Closed)
            }
        }
    }
}
