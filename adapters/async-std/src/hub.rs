//! Rooms and broadcast on `async-io`: the driver's [`Hub`] with `futures-io`
//! transports and `async-io`'s timer (see [`driver::hub`](crate::driver::hub) for how
//! it works).

use futures_io::{AsyncRead, AsyncWrite};

use crate::{driver, Accept, AsyncIoTimer, Config, Error, Reject, Request};
use driver::hub::Hub;

/// A server socket in a [`Hub`]; see [`driver::hub::Member`].
pub type Member<S, R = String> = driver::hub::Member<S, AsyncIoTimer, R>;

/// Every member of a hub driven from one task; see
/// [`driver::hub::Served`].
pub type Served<S, R = String> = driver::hub::Served<S, AsyncIoTimer, R>;

/// Adds members to a [`Served`] from another task; see
/// [`driver::hub::Adder`].
pub type Adder<S, R = String> = driver::hub::Adder<S, AsyncIoTimer, R>;

/// Server: completes the opening handshake on `stream` and makes the
/// connection a member of `hub`, in the room of its request path (without
/// the query). A full hub answers `503 Service Unavailable`.
///
/// ```no_run
/// use wscore_async_std::{Config, Event, Hub, HubConfig};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let hub: Hub = Hub::new(HubConfig::default());
/// let listener = async_std::net::TcpListener::bind("127.0.0.1:8080").await?;
/// loop {
///     let (stream, _) = listener.accept().await?;
///     let hub = hub.clone();
///     async_std::task::spawn(async move {
///         let Ok(mut member) = wscore_async_std::accept_member(&hub, stream, Config::default()).await else {
///             return;
///         };
///         // Everything a member says goes to the rest of its rooms.
///         while let Some(Ok(event)) = member.next_event().await {
///             if let Event::Message(message) = event {
///                 for room in member.rooms() {
///                     member.publish(&room, message.clone());
///                 }
///             }
///         }
///     });
/// }
/// # }
/// ```
pub async fn accept_member<S, R>(
    hub: &Hub<R>,
    stream: S,
    config: impl Into<Config>,
) -> Result<Member<S, R>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    R: Ord + Clone + for<'a> From<&'a str>,
{
    hub.accept(stream, config).await
}

/// Server: completes the opening handshake on `stream`, letting `decide`
/// accept it (with the rooms it starts in) or reject it; a full hub
/// answers `503 Service Unavailable` without asking.
pub async fn accept_member_with<S, R, F>(
    hub: &Hub<R>,
    stream: S,
    config: impl Into<Config>,
    decide: F,
) -> Result<Member<S, R>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    R: Ord + Clone,
    F: FnOnce(&Request) -> Result<(Accept, Vec<R>), Reject>,
{
    hub.accept_with(stream, config, decide).await
}
