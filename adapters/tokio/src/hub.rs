//! Rooms and broadcast on tokio: the driver's [`Hub`] with tokio's
//! transports and timer (see [`driver::hub`](crate::driver::hub) for how
//! it works).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::{driver, Accept, Closed, Config, Error, Reject, Request, TokioTimer, TokioTransport};
use driver::hub::{DurableError, Hub, HubEvent, MemberId};
use driver::store::AttachmentKey;

/// A tokio server socket in a [`Hub`]; see [`driver::hub::Member`].
pub type Member<S, R = String> = driver::hub::Member<TokioTransport<S>, TokioTimer, R>;

/// Every member of a hub driven from one task: a
/// [`Stream`] of `(MemberId, HubEvent)`; see [`driver::hub::Served`].
///
/// Unlike the driver's, this stream polls its members outside tokio's
/// cooperative budget. The budget lets a task make 128 transport
/// operations per turn and then fails every further one with `Pending`
/// and an immediate wake-up; a task that drives thousands of sockets would
/// spend its turns polling members that cannot proceed (measured: a third
/// of the throughput at 10 000 members). Fairness does not suffer: the
/// stream still yields to the runtime after every 32 members it polls.
pub struct Served<S, R: Ord + Clone = String> {
    inner: driver::hub::Served<TokioTransport<S>, TokioTimer, R>,
}

impl<S, R> Served<S, R>
where
    S: AsyncRead + AsyncWrite + Unpin,
    R: Ord + Clone,
{
    /// A stream driving no member yet.
    pub fn new() -> Self {
        Served {
            inner: driver::hub::Served::new(),
        }
    }

    /// A stream that hibernates its dormant members
    /// ([`HubConfig::hibernate`](crate::HubConfig::hibernate)), rebuilding
    /// each with `config`, the configuration they were accepted with; see
    /// [`driver::hub::Served::with_config`].
    pub fn with_config(config: impl Into<std::sync::Arc<Config>>) -> Self {
        Served {
            inner: driver::hub::Served::with_config(config),
        }
    }

    /// Members hibernated now.
    pub fn dormant_count(&self) -> usize {
        self.inner.dormant_count()
    }

    /// Bytes the hibernated members hold in this stream; see
    /// [`driver::hub::Served::dormant_bytes`].
    pub fn dormant_bytes(&self) -> usize {
        self.inner.dormant_bytes()
    }

    /// A handle that adds members from another task.
    pub fn adder(&self) -> Adder<S, R> {
        self.inner.adder()
    }

    /// Drives `member` from this stream.
    pub fn add(&mut self, member: Member<S, R>) {
        self.inner.add(member);
    }

    /// Members being driven (those added and not yet ended).
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// Whether no member is being driven.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }
}

impl<S, R> Default for Served<S, R>
where
    S: AsyncRead + AsyncWrite + Unpin,
    R: Ord + Clone,
{
    fn default() -> Self {
        Served::new()
    }
}

impl<S, R> std::fmt::Debug for Served<S, R>
where
    S: AsyncRead + AsyncWrite + Unpin,
    R: Ord + Clone,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

impl<S, R> Stream for Served<S, R>
where
    S: AsyncRead + AsyncWrite + Unpin,
    R: Ord + Clone,
{
    type Item = (MemberId, HubEvent);

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let inner = &mut self.get_mut().inner;
        let next = std::future::poll_fn(|cx| Pin::new(&mut *inner).poll_next(cx));
        let mut unconstrained = tokio::task::unconstrained(next);
        Pin::new(&mut unconstrained).poll(cx)
    }
}

/// Adds members to a [`Served`] from another task; see
/// [`driver::hub::Adder`].
pub type Adder<S, R = String> = driver::hub::Adder<TokioTransport<S>, TokioTimer, R>;

/// Server: completes the opening handshake on `stream` and makes the
/// connection a member of `hub`, in the room of its request path (without
/// the query). A full hub answers `503 Service Unavailable`.
///
/// ```no_run
/// use wscore_tokio::{Config, Event, Hub, HubConfig};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let hub: Hub = Hub::new(HubConfig::default());
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// loop {
///     let (stream, _) = listener.accept().await?;
///     let hub = hub.clone();
///     tokio::spawn(async move {
///         let Ok(mut member) = wscore_tokio::accept_member(&hub, stream, Config::default()).await else {
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
    hub.accept(TokioTransport::new(stream), config)
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
    hub.accept_with(TokioTransport::new(stream), config, decide)
}

/// Runs a blocking operation of a hub on tokio's blocking pool.
async fn unblock<R, T, E>(
    hub: &Hub<R>,
    op: impl FnOnce(&Hub<R>) -> Result<T, E> + Send + 'static,
) -> Result<T, E>
where
    R: Ord + Clone + Send + 'static,
    T: Send + 'static,
    E: Send + 'static + From<io::Error>,
{
    let hub = hub.clone();
    match tokio::task::spawn_blocking(move || op(&hub)).await {
        Ok(done) => done,
        // The operation panicked, or the runtime is shutting down.
        Err(e) => Err(io::Error::other(e).into()),
    }
}

/// Saves `value` as member `id`'s attachment, durably: on tokio's
/// blocking pool, [`Hub::save_attachment_blocking`] writes it to the
/// hub's store and then, once the write succeeded, makes it the member's
/// attachment. A failed write leaves the old value in memory and on disk,
/// and the connection up.
///
/// The write goes on if this future is dropped; operations on one
/// member's key still happen one at a time, in the order they started.
///
/// # Errors
///
/// See [`Hub::save_attachment_blocking`]; [`DurableError::Store`] too if
/// the blocking task could not finish (it panicked, or the runtime is
/// shutting down), as for every function of this module that runs on the
/// blocking pool.
pub async fn save_attachment<R>(
    hub: &Hub<R>,
    id: MemberId,
    value: impl Into<Bytes>,
) -> Result<(), DurableError>
where
    R: Ord + Clone + Send + 'static,
{
    let value = value.into();
    unblock(hub, move |hub| hub.save_attachment_blocking(id, value)).await
}

/// Moves the attachment stored under `prior` (a connection that ended
/// without a clean close) to member `id`, on tokio's blocking pool
/// ([`Hub::adopt_attachment_blocking`]). The application decides which
/// prior key a client may claim.
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
    unblock(hub, move |hub| hub.adopt_attachment_blocking(id, prior)).await
}

/// Settles the stored attachment of a member that has left the hub, on
/// tokio's blocking pool ([`Hub::end_attachment_blocking`]): deleted
/// after a clean close, kept otherwise. Call it when the member's event
/// loop has ended, with `member.socket().closed()`; whether it was
/// deleted.
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
    let closed = closed.cloned();
    unblock(hub, move |hub| {
        hub.end_attachment_blocking(key, closed.as_ref())
    })
    .await
}

/// The keys with a stored attachment that no member of `hub` holds
/// ([`Hub::stored_keys_blocking`]), listed on tokio's blocking pool.
///
/// # Errors
///
/// Any error of the store.
pub async fn stored_keys<R>(hub: &Hub<R>) -> io::Result<Vec<AttachmentKey>>
where
    R: Ord + Clone + Send + 'static,
{
    unblock(hub, Hub::stored_keys_blocking).await
}
