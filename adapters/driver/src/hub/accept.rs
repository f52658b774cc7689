//! How sockets enter a hub: attached after their handshake, or accepted
//! by the hub itself, which answers HTTP 503 when it is full and puts the
//! connection in the room of its request path unless told otherwise.

use futures_io::{AsyncRead, AsyncWrite};
use wscore::{room_of_path, Accept, CloseCode, Reject, Request, RoomsFull};

use super::{Hub, Member};
use crate::{Config, Error, Socket, Timer};

/// The status a full hub answers the opening handshake with.
const FULL: u16 = 503;

impl<R: Ord + Clone> Hub<R> {
    /// Makes `socket` (a server socket, open) a member, in `rooms`.
    /// Fails when the hub is at [`HubConfig::max_members`](super::HubConfig::max_members);
    /// the socket is dropped then, so close it yourself first if the peer
    /// should hear why (or use [`Hub::accept`], which answers 503 before the
    /// upgrade).
    pub fn attach<S, T>(
        &self,
        socket: Socket<S, T>,
        rooms: impl IntoIterator<Item = R>,
    ) -> Result<Member<S, T, R>, RoomsFull>
    where
        S: AsyncRead + AsyncWrite + Unpin,
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
    pub async fn accept<S, T>(
        &self,
        io: S,
        config: impl Into<Config>,
    ) -> Result<Member<S, T, R>, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin,
        T: Timer,
        R: for<'a> From<&'a str>,
    {
        self.accept_with(io, config, |request| {
            Ok((Accept::new(), vec![R::from(room_of_path(request.path()))]))
        })
        .await
    }

    /// Server: reads the opening request from `io` and lets `decide`
    /// accept it (with the rooms the member starts in) or reject it. A
    /// full hub answers `503 Service Unavailable` without asking.
    ///
    /// If the hub fills up during the handshake, the connection is closed
    /// with 1013 (try again later) and [`Error::Closed`] is returned.
    pub async fn accept_with<S, T, F>(
        &self,
        io: S,
        config: impl Into<Config>,
        decide: F,
    ) -> Result<Member<S, T, R>, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin,
        T: Timer,
        F: FnOnce(&Request) -> Result<(Accept, Vec<R>), Reject>,
    {
        let mut rooms = Vec::new();
        let socket = Socket::accept_with(io, config, |request| {
            if self.is_full() {
                return Err(Reject::new(FULL).body("the server is full; try again later"));
            }
            let (accept, chosen) = decide(request)?;
            rooms = chosen;
            Ok(accept)
        })
        .await?;
        self.admit(socket, rooms).await
    }

    async fn admit<S, T>(
        &self,
        mut socket: Socket<S, T>,
        rooms: Vec<R>,
    ) -> Result<Member<S, T, R>, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin,
        T: Timer,
    {
        match self.register(socket.connection().frame_encoding()) {
            Ok(id) => {
                for room in rooms {
                    let _ = self.join(id, room);
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
