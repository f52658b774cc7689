//! A socket in a hub: the application's handle on one member, which
//! writes the member's hub queue into its socket while it is polled.

use std::future::poll_fn;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::io::Transport;
use bytes::Bytes;
use futures_core::{FusedStream, Stream};
use wscore::{Activity, CloseCode, HibernateError, Instant, Liveness, MemberId, Message};

use super::hibernate::Sleeper;
use super::slot::{Outgoing, Queued};
use super::{AttachmentError, Hub, MemberStats, Published, TagError};
use crate::engine::{Engine, Wake};
use crate::outgoing::Drive;
use crate::{Config, Error, Event, Socket, Timer};

/// A server socket that is a member of a [`Hub`]: what the hub publishes
/// to its rooms is written to it while its task waits in
/// [`Member::next_event`] or [`Member::recv`] (or polls it as a
/// [`Stream`] of events). Dropping it, or the end of its connection,
/// takes it out of the hub.
///
/// A member not polled writes nothing: its hub queue grows to
/// [`HubConfig::max_queued_bytes`](super::HubConfig::max_queued_bytes),
/// and then the hub's [`SlowConsumer`](super::SlowConsumer) policy applies.
pub struct Member<S, T, R: Ord + Clone = String> {
    socket: Socket<S, T>,
    seat: Seat<R>,
    /// The connection stopped being open and the member was taken out of
    /// the hub's listings.
    withdrawn: bool,
    /// Live, parked or dormant, on the connection's own clock.
    activity: Activity,
    /// What the hub's slot says, to touch the hub only on a change.
    published: Liveness,
    /// The engine's count of bytes read when last looked at: any frame,
    /// even one the connection answers by itself, is activity.
    input_seen: u64,
    /// Wakes the member when it would become dormant, armed at `armed_at`.
    dormant_timer: Option<T>,
    armed_at: Option<std::time::Instant>,
}

impl<S, T, R: Ord + Clone> std::fmt::Debug for Member<S, T, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Member")
            .field("id", &self.seat.id)
            .field("socket", &self.socket)
            .finish_non_exhaustive()
    }
}

impl<S, T: Timer, R: Ord + Clone> Member<S, T, R> {
    pub(super) fn new(socket: Socket<S, T>, id: MemberId, hub: Hub<R>) -> Self {
        // With the check off the threshold is never passed: the member is
        // only ever live or parked.
        let after = hub.config().dormant_after.unwrap_or(Duration::MAX);
        let now = socket.engine().clock().now();
        Member {
            socket,
            seat: Seat {
                id,
                hub,
                left: false,
            },
            withdrawn: false,
            activity: Activity::new(now, after),
            published: Liveness::Parked,
            input_seen: 0,
            dormant_timer: None,
            armed_at: None,
        }
    }
}

impl<S, T, R: Ord + Clone> Member<S, T, R> {
    /// This member's id in its hub: what [`Hub::send`], [`Hub::join`],
    /// [`Hub::close`] and [`Hub::publish_except`] take.
    pub fn id(&self) -> MemberId {
        self.seat.id
    }

    /// The hub.
    pub fn hub(&self) -> &Hub<R> {
        &self.seat.hub
    }

    /// The socket, for inspection.
    pub fn socket(&self) -> &Socket<S, T> {
        &self.socket
    }

    /// Puts this member in `room`; `false` if it was there already, its
    /// close has started, or it has left the hub.
    pub fn join(&self, room: R) -> bool {
        self.seat.hub.join(self.seat.id, room).unwrap_or(false)
    }

    /// Takes this member out of `room`; whether it was in it.
    pub fn leave(&self, room: &R) -> bool {
        self.seat.hub.leave(self.seat.id, room)
    }

    /// The rooms this member is in.
    pub fn rooms(&self) -> Vec<R> {
        self.seat.hub.rooms_of(self.seat.id)
    }

    /// Sends `message` to every other member of `room`.
    pub fn publish(&self, room: &R, message: impl Into<Message>) -> Published {
        self.seat.hub.publish_except(room, self.seat.id, message)
    }

    /// This member's queue and drop counts (all zero once it has left).
    pub fn stats(&self) -> MemberStats {
        self.seat.hub.stats(self.seat.id).unwrap_or_default()
    }

    /// Keeps `value` with this member (see [`Hub::set_attachment`]).
    pub fn set_attachment(&self, value: impl Into<Bytes>) -> Result<(), AttachmentError> {
        self.seat.hub.set_attachment(self.seat.id, value)
    }

    /// This member's attachment, if any.
    pub fn attachment(&self) -> Option<Bytes> {
        self.seat.hub.attachment(self.seat.id)
    }

    /// Drops this member's attachment; whether it had one.
    pub fn clear_attachment(&self) -> bool {
        self.seat.hub.clear_attachment(self.seat.id)
    }

    /// Gives this member `tag` (see [`Hub::add_tag`]).
    pub fn add_tag(&self, tag: impl Into<String>) -> Result<bool, TagError> {
        self.seat.hub.add_tag(self.seat.id, tag)
    }

    /// Takes `tag` from this member; whether it had it.
    pub fn remove_tag(&self, tag: &str) -> bool {
        self.seat.hub.remove_tag(self.seat.id, tag)
    }

    /// This member's tags.
    pub fn tags(&self) -> Vec<String> {
        self.seat.hub.tags_of(self.seat.id)
    }

    /// Whether this member is handling an event, waiting for one, or
    /// dormant (see [`Hub::liveness`]).
    pub fn liveness(&self) -> Liveness {
        self.activity.state()
    }

    /// Leaves the hub (idempotent).
    fn leave_hub(&mut self) {
        self.seat.leave();
    }
}

impl<S, T, R> Member<S, T, R>
where
    S: Transport,
    T: Timer,
    R: Ord + Clone,
{
    /// The next event of the socket (see [`Socket::next_event`]); while it
    /// waits, what the hub queued for this member is written.
    pub async fn next_event(&mut self) -> Option<Result<Event, Error>> {
        poll_fn(|cx| self.poll_next_event(cx)).await
    }

    /// The next message (see [`Socket::recv`]); while it waits, what the
    /// hub queued for this member is written.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| {
            self.waiting();
            self.pump(cx);
            let poll = self
                .socket
                .poll_engine(cx, |engine, cx| engine.poll_next(cx));
            self.note_input();
            self.note_closing();
            self.note_end(&poll);
            self.note_taken(&poll);
            if poll.is_pending() {
                let _ = self.poll_dormant(cx);
            }
            poll
        })
        .await
    }

    /// [`Member::next_event`] as a poll function.
    pub fn poll_next_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Event, Error>>> {
        let poll = self.poll_next_in_hub(cx);
        if poll.is_pending() {
            // Followed for [`Hub::liveness`]; only `Served` reports it.
            let _ = self.poll_dormant(cx);
        }
        poll
    }

    /// The next event, the dormancy check left to the caller.
    pub(super) fn poll_next_in_hub(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Event, Error>>> {
        self.waiting();
        self.pump(cx);
        let poll = self.socket.poll_next_event(cx);
        self.note_input();
        self.note_closing();
        self.note_end(&poll);
        self.note_taken(&poll);
        poll
    }

    /// The clock of the member's [`Activity`].
    fn now(&self) -> Instant {
        self.socket.engine().clock().now()
    }

    /// The application waits for the next event again (the hub hears it
    /// from the pump that follows).
    fn waiting(&mut self) {
        if self.activity.state() == Liveness::Live {
            let now = self.now();
            self.activity.parked(now);
        }
    }

    /// Bytes read since the last look are activity, whether or not they
    /// make an event: a ping, or a frame an auto-response answers, keeps a
    /// member from going dormant and wakes a dormant one.
    fn note_input(&mut self) {
        let total = self.socket.command(|engine| engine.input_total());
        if total != self.input_seen {
            self.input_seen = total;
            let now = self.now();
            self.activity.frame(now);
            self.publish_liveness();
        }
    }

    /// An event handed out came from a frame received (every event the
    /// socket hands out does): activity, and the application handles it.
    fn note_taken<X>(&mut self, poll: &Poll<Option<Result<X, Error>>>) {
        if let Poll::Ready(Some(Ok(_))) = poll {
            let now = self.now();
            self.activity.handling(now);
            self.publish_liveness();
        }
    }

    /// True once, when the member has waited past
    /// [`HubConfig::dormant_after`](super::HubConfig::dormant_after) with
    /// nothing received; otherwise arms the timer that wakes it then.
    pub(super) fn poll_dormant(&mut self, cx: &mut Context<'_>) -> bool {
        if self.seat.left || self.seat.hub.config().dormant_after.is_none() {
            return false;
        }
        // A timer found expired is checked once more against the clock;
        // twice bounds the loop whatever the clock does.
        for _ in 0..2 {
            let now = self.now();
            if self.activity.handle_timeout(now) {
                self.publish_liveness();
                return true;
            }
            let Some(deadline) = self.activity.poll_timeout() else {
                return false;
            };
            // Dormant needs strictly more than the threshold: the timer
            // fires one tick after the deadline.
            let Some(at) = self
                .socket
                .engine()
                .clock()
                .base()
                .checked_add(deadline.elapsed_since_epoch())
                .and_then(|at| at.checked_add(Duration::from_nanos(1)))
            else {
                // Beyond the clock's range: never.
                return false;
            };
            if self.armed_at != Some(at) {
                self.armed_at = Some(at);
                match &mut self.dormant_timer {
                    Some(timer) => timer.reset(at),
                    None => self.dormant_timer = Some(T::new(at)),
                }
            }
            let expired = self
                .dormant_timer
                .as_mut()
                .is_some_and(|timer| timer.poll_expired(cx).is_ready());
            if !expired {
                return false;
            }
            // Expired: the timer polls again only after a reset.
            self.armed_at = None;
        }
        false
    }

    /// Tells the hub a change of liveness.
    fn publish_liveness(&mut self) {
        let liveness = self.activity.state();
        if liveness != self.published {
            self.published = liveness;
            let _ = self
                .seat
                .hub
                .with_slot(self.seat.id, |slot| slot.set_liveness(liveness));
        }
    }

    /// Answers `request` with `response` from now on without handing it
    /// to the application (see [`Socket::set_auto_response`]); such
    /// frames still count as activity, and a hibernated member answers
    /// them without waking the application.
    pub fn set_auto_response(&mut self, request: impl Into<Message>, response: impl Into<Message>) {
        self.socket.set_auto_response(request, response);
    }

    /// Sends `message` to this member alone, after everything the hub
    /// queued for it: waits for the hub's queue to reach the socket, then
    /// sends as [`Socket::send`] does (waiting for room, never dropping).
    pub async fn send(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        poll_fn(|cx| self.poll_queue_written(cx)).await;
        self.socket.send(message).await
    }

    /// Closes the connection after what the hub queued for it (see
    /// [`Socket::close`]) and leaves the hub.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        // Out of every listing at once; the queue is still written first.
        self.withdrawn = true;
        self.seat.hub.withdraw(self.seat.id);
        poll_fn(|cx| self.poll_queue_written(cx)).await;
        self.leave_hub();
        self.socket.close(code, reason).await
    }

    /// Ready once the hub's queue for this member is in its socket.
    fn poll_queue_written(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.pump(cx);
        match self
            .seat
            .hub
            .with_slot(self.seat.id, |slot| slot.is_empty())
        {
            Some(false) => Poll::Pending,
            _ => Poll::Ready(()),
        }
    }

    /// Moves what the hub queued for this member into its socket while the
    /// socket has room, starts a close the hub asked for once the queue is
    /// empty, and writes what the transport takes now.
    fn pump(&mut self, cx: &mut Context<'_>) {
        if self.seat.left {
            return;
        }
        let hub = &self.seat.hub;
        let id = self.seat.id;
        // The socket holds no more than the hub's bound either, so the
        // queue and the socket together stay within it (plus a message).
        let bound = hub.config().max_queued_bytes;
        // A member waiting again tells the hub under the lock it takes
        // anyway.
        let liveness = self.activity.state();
        self.published = liveness;
        self.socket.command(|engine| {
            let write = hub.with_slot(id, |slot| {
                slot.set_liveness(liveness);
                let mut moved = false;
                while engine.has_room() && engine.buffered() < bound {
                    let Some(item) = slot.pop() else { break };
                    moved = true;
                    if send(engine, item).is_err() {
                        // The connection can carry nothing more.
                        slot.discard();
                    }
                }
                if let Some((code, reason)) = slot.take_close() {
                    moved = true;
                    let _ = engine.start_close(code, &reason);
                }
                slot.set_in_socket(engine.buffered());
                slot.register(cx.waker());
                // What moved goes out now, even if events keep the event
                // loop from writing; a queue left waiting needs the
                // transport to wake this task when it takes more.
                moved || !slot.is_empty()
            });
            if write == Some(true) {
                engine.poll_write_some(cx);
                // What the bound sees: the socket's backlog after the write.
                let _ = hub.with_slot(id, |slot| slot.set_in_socket(engine.buffered()));
            }
        });
    }

    /// Takes this member out of the hub's listings once its connection is
    /// no longer open (the peer's close arrived, or the connection is
    /// ending): a listing must not name a member nothing can reach.
    fn note_closing(&mut self) {
        if !self.withdrawn && !self.seat.left && !self.socket.connection().is_open() {
            self.withdrawn = true;
            self.seat.hub.withdraw(self.seat.id);
        }
    }

    /// Leaves the hub when the connection has ended.
    fn note_end<X>(&mut self, poll: &Poll<Option<Result<X, Error>>>) {
        if matches!(poll, Poll::Ready(None | Some(Err(_)))) {
            self.leave_hub();
        }
    }
}

impl<S, T, R> Member<S, T, R>
where
    S: Transport,
    T: Timer,
    R: Ord + Clone,
{
    /// Whether the member can hibernate now: in the hub, open, with
    /// nothing queued for it in the hub and nothing in flight in its
    /// socket.
    pub(super) fn can_hibernate(&mut self) -> Result<(), HibernateError> {
        if self.seat.left || self.withdrawn {
            return Err(HibernateError::NotOpen);
        }
        let queued = self
            .seat
            .hub
            .with_slot(self.seat.id, |slot| !slot.is_empty() || slot.is_closing());
        match queued {
            Some(false) => {}
            Some(true) => return Err(HibernateError::OutputQueued),
            None => return Err(HibernateError::NotOpen),
        }
        self.socket.command(|engine| engine.can_hibernate())
    }

    /// Takes the member apart into a [`Sleeper`]; the member comes back
    /// unchanged with the reason when it cannot. `config` is the one its
    /// socket was built with.
    pub(super) fn hibernate(
        self,
        config: &Config,
    ) -> Result<Sleeper<S, T, R>, (Box<Self>, HibernateError)> {
        let Member {
            socket,
            seat,
            withdrawn,
            activity,
            published,
            input_seen,
            dormant_timer,
            armed_at,
        } = self;
        match socket.into_engine().hibernate(config) {
            Ok(parts) => Ok(Sleeper {
                parts,
                seat,
                activity,
            }),
            Err((engine, error)) => Err((
                Box::new(Member {
                    socket: Socket::from_engine(engine),
                    seat,
                    withdrawn,
                    activity,
                    published,
                    input_seen,
                    dormant_timer,
                    armed_at,
                }),
                error,
            )),
        }
    }

    /// Rebuilds a hibernated member with `config` and hands it what woke
    /// it; a member that cannot be rebuilt leaves the hub.
    pub(super) fn wake(
        sleeper: Sleeper<S, T, R>,
        config: &Config,
        wake: Wake,
    ) -> Result<Self, Error> {
        let Sleeper {
            parts,
            seat,
            mut activity,
        } = sleeper;
        // What the hub was last told; bytes from the peer are activity,
        // told below.
        let published = activity.state();
        if let Wake::Input(_) = wake {
            activity.frame(parts.now());
        }
        let engine = Engine::resume(parts, config, wake)?;
        let mut member = Member {
            socket: Socket::from_engine(engine),
            seat,
            withdrawn: false,
            published,
            activity,
            // A new engine counts from zero; the bytes that woke the
            // member were counted above.
            input_seen: 0,
            dormant_timer: None,
            armed_at: None,
        };
        member.publish_liveness();
        Ok(member)
    }

    /// The event just taken is not the application's (the connection
    /// answered it): the member waits again rather than being live. The
    /// frame it came in stays counted as activity.
    pub(super) fn not_handed_out(&mut self) {
        self.waiting();
        self.publish_liveness();
    }
}

fn send<S, T>(engine: &mut Engine<S, T>, item: Outgoing) -> Result<(), Error>
where
    S: Transport,
    T: Timer,
{
    match item.queued() {
        Queued::Prepared(prepared) => engine.start_send_prepared(prepared),
        Queued::Message(message) => engine.start_send(message.clone()),
    }
}

/// A member's place in its hub, which it leaves when dropped: a member
/// taken apart to hibernate keeps it.
pub(super) struct Seat<R: Ord + Clone> {
    pub(super) id: MemberId,
    pub(super) hub: Hub<R>,
    /// The connection ended and the member left the hub.
    left: bool,
}

impl<R: Ord + Clone> Seat<R> {
    /// Leaves the hub (idempotent).
    fn leave(&mut self) {
        if !self.left {
            self.left = true;
            self.hub.unregister(self.id);
        }
    }
}

impl<R: Ord + Clone> Drop for Seat<R> {
    fn drop(&mut self) {
        self.leave();
    }
}

impl<S, T, R> Stream for Member<S, T, R>
where
    S: Transport,
    T: Timer,
    R: Ord + Clone,
{
    type Item = Result<Event, Error>;

    fn poll_next(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_next_event(cx)
    }
}

impl<S, T, R> FusedStream for Member<S, T, R>
where
    S: Transport,
    T: Timer,
    R: Ord + Clone,
{
    fn is_terminated(&self) -> bool {
        self.seat.left
    }
}
