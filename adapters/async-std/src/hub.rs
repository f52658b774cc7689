//! Rooms and broadcast on `async-io`: the driver's [`Hub`] with `futures-io`
//! transports and `async-io`'s timer (see [`driver::hub`](crate::driver::hub) for how
//! it works).

use std::future::Future;
use std::io;

use bytes::Bytes;
use futures_io::{AsyncRead, AsyncWrite};

use crate::{driver, Accept, AsyncIoTimer, Closed, Config, Error, Reject, Request};
use driver::hub::{DurableError, Hub, MemberId};
use driver::store::AttachmentKey;

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
pub fn accept_member<'a, S, R>(
    hub: &'a Hub<R>,
    stream: S,
    config: impl Into<Config> + 'a,
) -> impl Future<Output = Result<Member<S, R>, Error>> + 'a
where
    S: AsyncRead + AsyncWrite + Unpin + 'a,
    R: Ord + Clone + for<'b> From<&'b str>,
{
    hub.accept(stream, config)
}

/// Server: completes the opening handshake on `stream`, letting `decide`
/// accept it (with the rooms it starts in) or reject it; a full hub
/// answers `503 Service Unavailable` without asking.
pub fn accept_member_with<'a, S, R, F>(
    hub: &'a Hub<R>,
    stream: S,
    config: impl Into<Config> + 'a,
    decide: F,
) -> impl Future<Output = Result<Member<S, R>, Error>> + 'a
where
    S: AsyncRead + AsyncWrite + Unpin + 'a,
    R: Ord + Clone,
    F: FnOnce(&Request) -> Result<(Accept, Vec<R>), Reject> + 'a,
{
    hub.accept_with(stream, config, decide)
}

/// Saves `value` as member `id`'s attachment, durably, on the `blocking`
/// crate's thread pool (the one `async-net` resolves names on):
/// [`Hub::save_attachment_blocking`] writes it to the hub's store and
/// then, once the write succeeded, makes it the member's attachment. A
/// failed write leaves the old value in memory and on disk, and the
/// connection up. The write goes on if this future is dropped.
///
/// # Errors
///
/// See [`Hub::save_attachment_blocking`].
pub async fn save_attachment<R>(
    hub: &Hub<R>,
    id: MemberId,
    value: impl Into<Bytes>,
) -> Result<(), DurableError>
where
    R: Ord + Clone + Send + 'static,
{
    let (hub, value) = (hub.clone(), value.into());
    blocking::unblock(move || hub.save_attachment_blocking(id, value)).await
}

/// Moves the attachment stored under `prior` to member `id`, on the
/// `blocking` thread pool ([`Hub::adopt_attachment_blocking`]). The
/// application decides which prior key a client may claim.
///
/// # Errors
///
/// See [`Hub::adopt_attachment_blocking`].
pub async fn adopt_attachment<R>(
    hub: &Hub<R>,
    id: MemberId,
    prior: AttachmentKey,
) -> Result<Option<Bytes>, DurableError>
where
    R: Ord + Clone + Send + 'static,
{
    let hub = hub.clone();
    blocking::unblock(move || hub.adopt_attachment_blocking(id, prior)).await
}

/// Settles the stored attachment of a member that has left the hub, on
/// the `blocking` thread pool ([`Hub::end_attachment_blocking`]): deleted
/// after a clean close, kept otherwise; whether it was deleted.
///
/// # Errors
///
/// See [`Hub::end_attachment_blocking`].
pub async fn end_attachment<R>(
    hub: &Hub<R>,
    key: AttachmentKey,
    closed: Option<&Closed>,
) -> Result<bool, DurableError>
where
    R: Ord + Clone + Send + 'static,
{
    let (hub, closed) = (hub.clone(), closed.cloned());
    blocking::unblock(move || hub.end_attachment_blocking(key, closed.as_ref())).await
}

/// The keys with a stored attachment that no member of `hub` holds
/// ([`Hub::stored_keys_blocking`]), listed on the `blocking` thread pool.
///
/// # Errors
///
/// Any error of the store.
pub async fn stored_keys<R>(hub: &Hub<R>) -> io::Result<Vec<AttachmentKey>>
where
    R: Ord + Clone + Send + 'static,
{
    let hub = hub.clone();
    blocking::unblock(move || hub.stored_keys_blocking()).await
}
