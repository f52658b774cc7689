//! Rooms and broadcast: a [`Hub`] groups server sockets into rooms and
//! fans messages out to them, framing each broadcast once.
//!
//! The membership is the core's [`Rooms`]; this module adds what needs
//! tasks and wakers: one outbound queue per member, written into that
//! member's socket as the socket has room, and the slow-consumer policy.
//!
//! - **Encode once.** A publish builds one [`PreparedMessage`] (the
//!   server frame, header and payload in one [`Bytes`]); every
//!   recipient's queue holds a reference to it, and its socket writes those
//!   very bytes. Members whose permessage-deflate agreement makes their
//!   compressed bytes identical share one compression; members that keep
//!   a compression context compress their own copy; a publish that reaches
//!   no compressing member compresses nothing. A publish costs a constant
//!   number of allocations plus one queue slot per member.
//! - **Slow consumers.** A member's queue (with what its socket holds
//!   unwritten) is bounded by [`HubConfig::max_queued_bytes`]. Past the
//!   bound, [`SlowConsumer`] decides: drop the new message, or drop it and
//!   close the member with 1008. Every drop is counted, in the
//!   [`Published`] a publish returns and in the member's [`MemberStats`].
//!   Close frames are never dropped: they go out after what is queued.
//! - **Attachments and tags.** A member carries bytes the application
//!   keeps with it ([`Hub::set_attachment`]) and a few tags
//!   ([`Hub::add_tag`]) listed through an index
//!   ([`Hub::members_with_tag`]). No listing names a member whose close has
//!   started, whoever started it.
//! - **Durable attachments.** A hub made with [`Hub::with_store`] gives
//!   each member an [`AttachmentKey`](crate::store::AttachmentKey) and keeps
//!   its attachment on disk when asked ([`Hub::save_attachment_blocking`]);
//!   after a crash or a restart, a reconnecting client's new member adopts
//!   it ([`Hub::adopt_attachment_blocking`]).
//! - **Live, parked, dormant.** A member handling an event is live, one
//!   waiting for the next is parked; with [`HubConfig::dormant_after`] set,
//!   one parked with nothing received past it is dormant ([`Hub::liveness`],
//!   reported once by [`Served`] as [`HubEvent::Dormant`]).
//! - **Two ways to run.** A [`Member`] is a socket in the hub, driven by
//!   the application's own task (`next_event` writes the hub's queue while
//!   it waits); [`Served`] drives every member of a hub from one task, as
//!   one stream of `(MemberId, HubEvent)`, with commands by id on the
//!   [`Hub`] (`send`, `join`, `leave`, `close`).
//!
//! ```
//! use wscore_driver::hub::{Hub, HubConfig};
//! use wscore_driver::testing::{block_on, pipe, ManualTimer, PipeEnd};
//! use wscore_driver::{CloseCode, Config, Message, Role, Socket};
//!
//! type Ws = Socket<PipeEnd, ManualTimer>;
//!
//! let hub: Hub = Hub::new(HubConfig::default());
//! let (server_io, client_io) = pipe(4096);
//! let socket = Ws::from_upgraded(server_io, Role::Server, Config::default())?;
//! let mut member = hub.attach(socket, ["/lobby".to_string()])?;
//! let mut client = Ws::from_upgraded(client_io, Role::Client, Config::default())?;
//!
//! let published = hub.publish(&"/lobby".to_string(), Message::text("welcome"));
//! assert_eq!(published.queued, 1);
//! block_on(async {
//!     futures::join!(
//!         // The member's task writes its queue while it waits for events.
//!         async { while member.next_event().await.is_some() {} },
//!         async {
//!             assert_eq!(client.recv().await.unwrap().unwrap(), Message::text("welcome"));
//!             client.close(CloseCode::NORMAL, "").await.unwrap();
//!         },
//!     )
//! });
//! // The member's connection ended: it has left the hub.
//! assert_eq!(hub.member_count(), 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod accept;
mod attachment;
mod durable;
mod hibernate;
mod member;
mod served;
mod slot;
mod tags;

#[cfg(feature = "deflate")]
use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use wscore::{CloseCode, FrameEncoding, Message, PreparedMessage, Rooms};

use crate::store;

pub use accept::Admission;
pub use attachment::AttachmentError;
pub use durable::{closed_cleanly, DurableError};
pub use hibernate::HibernateRefusal;
pub use member::Member;
pub use served::{Adder, HubEvent, Served};
pub use tags::TagError;
pub use wscore::{room_of_path, Liveness, MemberId, RoomEvent, RoomsFull, UnknownMember};

use durable::{Durable, Keys};
use slot::{Offer, Outgoing, Slot};
use tags::TagIndex;

/// What a hub does with a member that does not keep up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SlowConsumer {
    /// Drop the message that would pass the bound (counted); the member
    /// keeps what was queued before it.
    #[default]
    DropNewest,
    /// Drop it and close the member with 1008 (policy violation) and the
    /// reason "slow consumer", after what was queued before it.
    Close,
}

/// Limits and policy of a [`Hub`].
///
/// ```
/// use wscore_driver::hub::{HubConfig, SlowConsumer};
///
/// let config = HubConfig::default()
///     .max_members(50_000)
///     .max_queued_bytes(256 << 10)
///     .slow_consumer(SlowConsumer::Close);
/// assert_eq!(config.max_queued_bytes, 256 << 10);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HubConfig {
    /// Members at most; past it [`Hub::accept`] answers the handshake with
    /// HTTP 503 and [`Hub::attach`] fails with [`RoomsFull`]. Default
    /// 100 000.
    pub max_members: usize,
    /// Outbound bytes one member may hold, queued in the hub and unwritten
    /// in its socket, before [`HubConfig::slow_consumer`] applies. A
    /// message larger than the bound still goes to a member with nothing
    /// queued. Default 1 MiB.
    pub max_queued_bytes: usize,
    /// What happens past `max_queued_bytes`. Default
    /// [`SlowConsumer::DropNewest`].
    pub slow_consumer: SlowConsumer,
    /// Bytes a member's attachment may hold ([`Hub::set_attachment`]).
    /// Default 16 KiB.
    pub max_attachment_len: usize,
    /// Tags a member may carry ([`Hub::add_tag`]). Default 10.
    pub max_tags: usize,
    /// Bytes a tag may hold. Default 256.
    pub max_tag_len: usize,
    /// How long a member may wait for its next event, with nothing
    /// received, before it is dormant ([`Liveness::Dormant`], reported once
    /// by [`Served`] as [`HubEvent::Dormant`]); strictly longer than this is
    /// needed. `None`, the default, turns the check off.
    pub dormant_after: Option<Duration>,
    /// Whether a member of [`Served`] that becomes dormant hibernates: it
    /// gives back everything but its transport, its place in the hub and
    /// the core's [`Hibernated`](wscore::Hibernated) record, and is rebuilt
    /// when bytes arrive, a deadline of its connection passes, or the hub
    /// queues something for it. Needs `dormant_after` and
    /// [`Served::with_config`]. Default `false`.
    pub hibernate: bool,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            max_members: 100_000,
            max_queued_bytes: 1 << 20,
            slow_consumer: SlowConsumer::DropNewest,
            max_attachment_len: 16 << 10,
            max_tags: 10,
            max_tag_len: 256,
            dormant_after: None,
            hibernate: false,
        }
    }
}

impl HubConfig {
    /// Sets [`HubConfig::max_members`].
    #[must_use]
    pub fn max_members(mut self, members: usize) -> Self {
        self.max_members = members;
        self
    }

    /// Sets [`HubConfig::max_queued_bytes`].
    #[must_use]
    pub fn max_queued_bytes(mut self, bytes: usize) -> Self {
        self.max_queued_bytes = bytes;
        self
    }

    /// Sets [`HubConfig::slow_consumer`].
    #[must_use]
    pub fn slow_consumer(mut self, policy: SlowConsumer) -> Self {
        self.slow_consumer = policy;
        self
    }

    /// Sets [`HubConfig::max_attachment_len`].
    #[must_use]
    pub fn max_attachment_len(mut self, bytes: usize) -> Self {
        self.max_attachment_len = bytes;
        self
    }

    /// Sets [`HubConfig::max_tags`].
    #[must_use]
    pub fn max_tags(mut self, tags: usize) -> Self {
        self.max_tags = tags;
        self
    }

    /// Sets [`HubConfig::max_tag_len`].
    #[must_use]
    pub fn max_tag_len(mut self, bytes: usize) -> Self {
        self.max_tag_len = bytes;
        self
    }

    /// Sets [`HubConfig::dormant_after`].
    #[must_use]
    pub fn dormant_after(mut self, after: Option<Duration>) -> Self {
        self.dormant_after = after;
        self
    }

    /// Sets [`HubConfig::hibernate`].
    #[must_use]
    pub fn hibernate(mut self, hibernate: bool) -> Self {
        self.hibernate = hibernate;
        self
    }
}

/// What one publish or send did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Published {
    /// Members it was addressed to.
    pub recipients: usize,
    /// Members whose queue took it.
    pub queued: usize,
    /// Members that did not get it: their bound was reached, or they were
    /// closing. Counted in each one's [`MemberStats`] too.
    pub dropped: usize,
    /// Of the dropped, members this publish closed under
    /// [`SlowConsumer::Close`].
    pub closed: usize,
}

impl Published {
    fn add(&mut self, offer: Offer) {
        self.recipients += 1;
        match offer {
            Offer::Queued => self.queued += 1,
            Offer::Dropped => self.dropped += 1,
            Offer::Closed => {
                self.dropped += 1;
                self.closed += 1;
            }
        }
    }
}

/// One member's outbound accounting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemberStats {
    /// Bytes queued in the hub plus bytes its socket held unwritten when
    /// it last took from the queue (what the bound applies to).
    pub queued_bytes: usize,
    /// Messages waiting in the hub's queue.
    pub queued_messages: usize,
    /// Messages dropped for this member since it joined the hub.
    pub dropped_messages: u64,
    /// Their wire bytes.
    pub dropped_bytes: u64,
}

/// Rooms of server sockets, and broadcast to them; cheap to clone (every
/// clone is the same hub) and usable from any task.
///
/// `R` names rooms; the default, `String`, lets [`Hub::accept`] put each
/// connection in the room of its request path.
pub struct Hub<R = String> {
    shared: Arc<Shared<R>>,
}

impl<R> Clone for Hub<R> {
    fn clone(&self) -> Self {
        Hub {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<R: Ord + Clone> std::fmt::Debug for Hub<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state();
        f.debug_struct("Hub")
            .field("members", &state.rooms.member_count())
            .field("rooms", &state.rooms.room_count())
            .finish_non_exhaustive()
    }
}

struct Shared<R> {
    config: HubConfig,
    /// The attachment store of [`Hub::with_store`].
    durable: Option<Durable>,
    state: Mutex<State<R>>,
}

struct State<R> {
    rooms: Rooms<R, Slot>,
    /// One compressor per shareable deflate agreement seen so far.
    #[cfg(feature = "deflate")]
    compressors: BTreeMap<wscore::DeflateShare, wscore::SharedCompressor>,
    /// Members whose encoding shares a compression: while there are
    /// none, a publish does not look for shares.
    sharing_members: usize,
    /// The taker of [`Hub::room_events`], if any.
    room_waker: Option<Waker>,
    /// Tag → members carrying it, closing members left out.
    tags: TagIndex,
    /// Member ↔ attachment key, with a store.
    keys: Keys,
}

impl<R: Ord + Clone> State<R> {
    fn wake_room_events(&mut self) {
        if let Some(waker) = self.room_waker.take() {
            waker.wake();
        }
    }

    /// Takes member `id` out of every listing, its rooms and its tags'
    /// entries, as its close starts (it stays registered until it ends,
    /// so its stats and attachment stay readable).
    fn withdraw(&mut self, id: MemberId) {
        if self.rooms.leave_all(id) > 0 {
            self.wake_room_events();
        }
        let State { rooms, tags, .. } = self;
        if let Some(slot) = rooms.member(id) {
            for tag in slot.tags() {
                tags.remove(tag, id);
            }
        }
    }
}

impl<R: Ord + Clone> Hub<R> {
    /// A hub with no members.
    pub fn new(config: HubConfig) -> Self {
        Hub::build(config, None)
    }

    fn build(config: HubConfig, durable: Option<Durable>) -> Self {
        let mut rooms = Rooms::with_max_members(config.max_members);
        // Nobody takes room events until `room_events` is called.
        rooms.set_events(false);
        Hub {
            shared: Arc::new(Shared {
                config,
                durable,
                state: Mutex::new(State {
                    rooms,
                    #[cfg(feature = "deflate")]
                    compressors: BTreeMap::new(),
                    sharing_members: 0,
                    room_waker: None,
                    tags: TagIndex::default(),
                    keys: Keys::default(),
                }),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &HubConfig {
        &self.shared.config
    }

    fn state(&self) -> MutexGuard<'_, State<R>> {
        // The state stays consistent across a panic elsewhere: every
        // change is made in full under the lock.
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends `message` to every member of `room`.
    pub fn publish(&self, room: &R, message: impl Into<Message>) -> Published {
        self.publish_prepared(room, None, PreparedMessage::new(message))
    }

    /// Sends `message` to every member of `room` but `except` (typically
    /// the member the message came from).
    pub fn publish_except(
        &self,
        room: &R,
        except: MemberId,
        message: impl Into<Message>,
    ) -> Published {
        self.publish_prepared(room, Some(except), PreparedMessage::new(message))
    }

    /// Sends `message` once to every member of any of `rooms` (a member
    /// in several of them gets it once), but `except`.
    pub fn publish_to(
        &self,
        rooms: &[R],
        except: Option<MemberId>,
        message: impl Into<Message>,
    ) -> Published {
        self.fan_out(rooms, except, PreparedMessage::new(message))
    }

    /// Sends a message framed beforehand to every member of `room` but
    /// `except`.
    pub fn publish_prepared(
        &self,
        room: &R,
        except: Option<MemberId>,
        prepared: PreparedMessage,
    ) -> Published {
        self.fan_out(core::slice::from_ref(room), except, prepared)
    }

    fn fan_out(
        &self,
        rooms: &[R],
        except: Option<MemberId>,
        prepared: PreparedMessage,
    ) -> Published {
        let config = &self.shared.config;
        let mut state = self.state();
        let prepared = Outgoing::prepared(compress_for_rooms(&mut state, rooms, except, prepared));
        let mut published = Published::default();
        // Allocates only when a member is closed.
        let mut closed = Vec::new();
        state
            .rooms
            .for_each_recipient_of(rooms, except, |id, slot| {
                let offer = slot.offer(
                    prepared.clone(),
                    config.max_queued_bytes,
                    config.slow_consumer,
                );
                if offer == Offer::Closed {
                    closed.push(id);
                }
                published.add(offer);
            });
        leave_closed(&mut state, closed);
        published
    }

    /// Sends `message` to one member, after what is queued for it.
    pub fn send(
        &self,
        id: MemberId,
        message: impl Into<Message>,
    ) -> Result<Published, UnknownMember> {
        let config = &self.shared.config;
        let mut state = self.state();
        let slot = state.rooms.member_mut(id).ok_or(UnknownMember)?;
        let mut published = Published::default();
        let item = Outgoing::message(message.into());
        published.add(slot.offer(item, config.max_queued_bytes, config.slow_consumer));
        if published.closed > 0 {
            leave_closed(&mut state, vec![id]);
        }
        Ok(published)
    }

    /// Puts member `id` in `room`; `Ok(false)` if it was there already,
    /// or if its close has started (it is listed nowhere any more).
    pub fn join(&self, id: MemberId, room: R) -> Result<bool, UnknownMember> {
        let mut state = self.state();
        if state.rooms.member(id).ok_or(UnknownMember)?.is_closing() {
            return Ok(false);
        }
        let joined = state.rooms.join(id, room)?;
        if joined {
            state.wake_room_events();
        }
        Ok(joined)
    }

    /// Takes member `id` out of `room`; whether it was in it. A room is
    /// freed with its last member.
    pub fn leave(&self, id: MemberId, room: &R) -> bool {
        let mut state = self.state();
        let left = state.rooms.leave(id, room);
        if left {
            state.wake_room_events();
        }
        left
    }

    /// Closes member `id` with `code` and `reason` after what is queued
    /// for it, and takes it out of its rooms and tag listings at once.
    /// Whether it was a member not already closing.
    pub fn close(&self, id: MemberId, code: CloseCode, reason: &str) -> bool {
        let mut state = self.state();
        let Some(slot) = state.rooms.member_mut(id) else {
            return false;
        };
        let asked = slot.request_close(code, reason);
        if asked {
            state.withdraw(id);
        }
        asked
    }

    /// The members of `room` at this instant. A member whose close has
    /// started is never listed: neither one the hub is closing nor one
    /// whose peer closed or whose connection is ending, from the moment
    /// its socket sees it.
    pub fn members(&self, room: &R) -> Vec<MemberId> {
        self.state().rooms.snapshot(room)
    }

    /// Keeps `value` with member `id`, in place of what it had; readable
    /// until the member leaves the hub.
    pub fn set_attachment(
        &self,
        id: MemberId,
        value: impl Into<Bytes>,
    ) -> Result<(), AttachmentError> {
        let value = value.into();
        attachment::check(&value, self.shared.config.max_attachment_len)?;
        self.with_slot(id, |slot| {
            slot.set_attachment(Some(value));
        })
        .ok_or(AttachmentError::UnknownMember)
    }

    /// Member `id`'s attachment; `None` if it has none or has left.
    pub fn attachment(&self, id: MemberId) -> Option<Bytes> {
        self.state().rooms.member(id)?.attachment().cloned()
    }

    /// Drops member `id`'s attachment; whether it had one.
    pub fn clear_attachment(&self, id: MemberId) -> bool {
        self.with_slot(id, |slot| slot.set_attachment(None).is_some())
            .unwrap_or(false)
    }

    /// Gives member `id` the tag `tag`; `Ok(false)` if it had it already.
    /// Bounded by [`HubConfig::max_tags`] and [`HubConfig::max_tag_len`].
    /// A member whose close has started keeps the tag but is not listed
    /// under it.
    pub fn add_tag(&self, id: MemberId, tag: impl Into<String>) -> Result<bool, TagError> {
        let tag = tag.into();
        let config = &self.shared.config;
        let mut state = self.state();
        let State { rooms, tags, .. } = &mut *state;
        let slot = rooms.member_mut(id).ok_or(TagError::UnknownMember)?;
        if slot.has_tag(&tag) {
            return Ok(false);
        }
        tags::check(&tag, slot.tags().len(), config.max_tags, config.max_tag_len)?;
        if !slot.is_closing() {
            tags.insert(&tag, id);
        }
        slot.add_tag(tag);
        Ok(true)
    }

    /// Takes `tag` from member `id`; whether it had it. A tag is freed
    /// with its last member.
    pub fn remove_tag(&self, id: MemberId, tag: &str) -> bool {
        let mut state = self.state();
        let State { rooms, tags, .. } = &mut *state;
        let removed = rooms
            .member_mut(id)
            .is_some_and(|slot| slot.remove_tag(tag));
        if removed {
            tags.remove(tag, id);
        }
        removed
    }

    /// Member `id`'s tags, in the order given (empty once it has left).
    pub fn tags_of(&self, id: MemberId) -> Vec<String> {
        self.state()
            .rooms
            .member(id)
            .map(|slot| slot.tags().to_vec())
            .unwrap_or_default()
    }

    /// The members carrying `tag` at this instant, by id; like
    /// [`Hub::members`], never one whose close has started.
    pub fn members_with_tag(&self, tag: &str) -> Vec<MemberId> {
        self.state().tags.members(tag)
    }

    /// Tags carried by at least one listed member.
    pub fn tag_count(&self) -> usize {
        self.state().tags.len()
    }

    /// The rooms member `id` is in.
    pub fn rooms_of(&self, id: MemberId) -> Vec<R> {
        self.state().rooms.rooms_of(id).cloned().collect()
    }

    /// How many members `room` has (0 for a room that does not exist).
    pub fn room_len(&self, room: &R) -> usize {
        self.state().rooms.room_len(room)
    }

    /// The rooms with at least one member at this instant, in the order
    /// of `R`: with [`Hub::room_events`], what a scale-out layer starting
    /// beside a hub that has members already needs to know.
    ///
    /// ```
    /// # use wscore_driver::hub::{Hub, HubConfig};
    /// let hub: Hub = Hub::new(HubConfig::default());
    /// assert!(hub.rooms().is_empty());
    /// ```
    pub fn rooms(&self) -> Vec<R> {
        self.state()
            .rooms
            .rooms()
            .map(|(room, _)| room.clone())
            .collect()
    }

    /// Rooms with at least one member.
    pub fn room_count(&self) -> usize {
        self.state().rooms.room_count()
    }

    /// Members of the hub: every registered one, closing ones included
    /// until their connection ends (unlike the listings, which leave out
    /// members whose close has started).
    pub fn member_count(&self) -> usize {
        self.state().rooms.member_count()
    }

    /// Whether the hub is at [`HubConfig::max_members`].
    pub fn is_full(&self) -> bool {
        self.state().rooms.is_full()
    }

    /// Whether member `id` is handling an event, waiting for one, or
    /// dormant (see [`HubConfig::dormant_after`]); `None` once it has left.
    pub fn liveness(&self, id: MemberId) -> Option<Liveness> {
        self.state().rooms.member(id).map(Slot::liveness)
    }

    /// Member `id`'s queue and drop counts; `None` once it has left.
    pub fn stats(&self, id: MemberId) -> Option<MemberStats> {
        self.state().rooms.member(id).map(Slot::stats)
    }

    /// A room's first member joined, or its last left: the stream a
    /// scale-out layer follows to subscribe upstream only for rooms with
    /// local members. Events are kept from the first call on, until taken;
    /// take them from one place.
    pub fn room_events(&self) -> RoomEvents<R> {
        self.state().rooms.set_events(true);
        RoomEvents { hub: self.clone() }
    }

    /// The member's connection is no longer open: it is marked closing
    /// and taken out of every listing (it stays in the hub until it ends).
    fn withdraw(&self, id: MemberId) {
        let mut state = self.state();
        if let Some(slot) = state.rooms.member_mut(id) {
            slot.mark_ended();
            state.withdraw(id);
        }
    }

    /// Registers a member with the encoding of its connection.
    fn register(&self, encoding: FrameEncoding) -> Result<MemberId, RoomsFull> {
        // Without a store there is no key to fail.
        let key = self.new_attachment_key().map_err(|_| RoomsFull)?;
        self.register_keyed(encoding, key)
    }

    /// Registers a member holding `key` (a fresh key of the store).
    fn register_keyed(
        &self,
        encoding: FrameEncoding,
        key: Option<store::AttachmentKey>,
    ) -> Result<MemberId, RoomsFull> {
        let mut state = self.state();
        let id = state.rooms.register(Slot::new(encoding))?;
        if let Some(key) = key {
            state.keys.insert(id, key);
        }
        state.sharing_members += usize::from(shares_compression(encoding));
        Ok(id)
    }

    /// Takes member `id` out of the hub, counting what it leaves unsent.
    fn unregister(&self, id: MemberId) {
        let mut state = self.state();
        state.withdraw(id);
        state.keys.remove(id);
        if let Some(mut slot) = state.rooms.unregister(id) {
            slot.discard();
            state.sharing_members -= usize::from(shares_compression(slot.encoding()));
            state.wake_room_events();
        }
    }

    /// Runs `f` on member `id`'s slot under the lock.
    fn with_slot<T>(&self, id: MemberId, f: impl FnOnce(&mut Slot) -> T) -> Option<T> {
        self.state().rooms.member_mut(id).map(f)
    }
}

/// Adds to `prepared` the compressed frames the members of `rooms` can
/// share: one compression per shareable agreement among them.
#[cfg(feature = "deflate")]
fn compress_for_rooms<R: Ord + Clone>(
    state: &mut State<R>,
    rooms: &[R],
    except: Option<MemberId>,
    mut prepared: PreparedMessage,
) -> PreparedMessage {
    if state.sharing_members == 0 {
        return prepared;
    }
    let State {
        rooms: members,
        compressors,
        ..
    } = state;
    let recipients = rooms
        .iter()
        .flat_map(|room| members.recipients(room, except));
    for (_, slot) in recipients {
        if let FrameEncoding::Deflate(share) = slot.encoding() {
            if prepared.frame_for(slot.encoding()).is_none() {
                let compressor = compressors
                    .entry(share)
                    .or_insert_with(|| wscore::SharedCompressor::new(share));
                prepared.compress(compressor);
            }
        }
    }
    prepared
}

#[cfg(not(feature = "deflate"))]
fn compress_for_rooms<R: Ord + Clone>(
    _: &mut State<R>,
    _: &[R],
    _: Option<MemberId>,
    prepared: PreparedMessage,
) -> PreparedMessage {
    prepared
}

/// Whether members with `encoding` share one compression per publish.
fn shares_compression(encoding: FrameEncoding) -> bool {
    #[cfg(feature = "deflate")]
    if let FrameEncoding::Deflate(_) = encoding {
        return true;
    }
    let _ = encoding;
    false
}

/// Takes the members a publish just closed out of their rooms, so the
/// next publishes pass them by and presence lists drop them at once.
fn leave_closed<R: Ord + Clone>(state: &mut State<R>, closed: Vec<MemberId>) {
    for id in closed {
        state.withdraw(id);
    }
}

/// The stream of [`Hub::room_events`].
pub struct RoomEvents<R> {
    hub: Hub<R>,
}

impl<R: Ord + Clone> std::fmt::Debug for RoomEvents<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoomEvents").finish_non_exhaustive()
    }
}

impl<R: Ord + Clone> Stream for RoomEvents<R> {
    type Item = RoomEvent<R>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<RoomEvent<R>>> {
        let mut state = self.hub.state();
        match state.rooms.poll_event() {
            Some(event) => Poll::Ready(Some(event)),
            None => {
                state.room_waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}
