//! Rooms: which members are in which rooms, for servers that broadcast to
//! groups of connections. [`Rooms`] documents the whole of it (what it
//! owns, ordering, memory, member ids); `events` owns the coalesced
//! queue of [`RoomEvent`]s.

mod events;
#[cfg(test)]
mod tests;

use alloc::collections::{BTreeMap, BTreeSet, BinaryHeap};
use alloc::vec::Vec;
use core::cmp::Reverse;
use core::fmt;

use events::EventQueue;
pub use events::RoomEvent;

/// A member's id, unique for the life of its [`Rooms`]: ids come from a
/// counter and are never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MemberId(u64);

impl MemberId {
    /// The raw id, for logs, foreign code and commands that name a member.
    pub fn get(self) -> u64 {
        self.0
    }

    /// The id whose raw form is `raw`. An id that was never handed out
    /// addresses no member.
    pub fn from_raw(raw: u64) -> MemberId {
        MemberId(raw)
    }
}

impl fmt::Display for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "member {}", self.0)
    }
}

/// [`Rooms::register`] refused a member: the member cap is reached (a
/// server answers the handshake with HTTP 503).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoomsFull;

impl fmt::Display for RoomsFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the member cap of the rooms is reached")
    }
}

#[cfg(feature = "std")]
impl std::error::Error for RoomsFull {}

/// No such member: it was unregistered, or never registered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownMember;

impl fmt::Display for UnknownMember {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no such member")
    }
}

#[cfg(feature = "std")]
impl std::error::Error for UnknownMember {}

/// The default room of a connection: its request target without the
/// query, `/` when that is empty.
///
/// ```
/// use wscore::room_of_path;
///
/// assert_eq!(room_of_path("/chat/lobby?x=1"), "/chat/lobby");
/// assert_eq!(room_of_path(""), "/");
/// assert_eq!(room_of_path("?a"), "/");
/// ```
pub fn room_of_path(target: &str) -> &str {
    let path = match target.split_once('?') {
        Some((path, _query)) => path,
        None => target,
    };
    if path.is_empty() {
        "/"
    } else {
        path
    }
}

/// A registered member: its value and the rooms it is in.
struct Slot<R, M> {
    id: MemberId,
    value: M,
    rooms: BTreeSet<R>,
}

/// Members by room and rooms by member, for servers that broadcast to
/// groups of connections (chat channels, presence, lobbies).
///
/// `Rooms` owns membership and nothing else: members by room, rooms by
/// member, and one value `M` per member that the caller chooses (typically
/// the member's send queue). It holds no sockets and no queues of its own,
/// reads no clock and takes no locks; a runtime's hub wraps it and asks it
/// for the recipients of each publish.
///
/// ## Ordering
///
/// Everything is deterministic. Members come out in the order they were
/// registered (ascending [`MemberId`]), rooms in the order of `R`, and the
/// [`RoomEvent`]s in the order the rooms changed.
///
/// ## Memory
///
/// A room exists only while it has members: its last member leaving frees
/// it. Members live in a slab, a vector of slots, and each room lists its
/// members' ids with their slot numbers: a publish to 10 000 members walks
/// the room's list and reaches each value by index, without a tree lookup
/// per recipient. Commands that name a member find its slot in a tree, and
/// joining and leaving cost `O(log n)`. Slots freed by
/// [`Rooms::unregister`] are reused, so the slab never grows past the
/// largest member count reached, which [`Rooms::with_max_members`] caps.
///
/// Room events accumulate until drained with [`Rooms::poll_event`], but
/// coalesced: an undrained `Opened` and the `Closed` of the same room (or
/// the other way round) cancel each other, so at most one event per room
/// is pending, the room's net change since the last drain. A caller that
/// does not use them turns them off with [`Rooms::set_events`].
///
/// ## Member ids
///
/// A [`MemberId`] comes from a counter (starting at 1; 0 is never handed
/// out) and is never reused for the life of the `Rooms`. An id the application kept after its connection went
/// away therefore addresses nothing ([`UnknownMember`], `None`, `false`)
/// instead of silently reaching a newer connection.
///
/// ```
/// use wscore::{RoomEvent, Rooms};
///
/// // Each member's value is its outbound queue.
/// let mut rooms: Rooms<&str, Vec<&str>> = Rooms::new();
/// let alice = rooms.register(Vec::new())?;
/// let bob = rooms.register(Vec::new())?;
/// rooms.join(alice, "lobby")?;
/// rooms.join(bob, "lobby")?;
/// assert_eq!(rooms.poll_event(), Some(RoomEvent::Opened("lobby")));
///
/// // Alice publishes: everyone in the room but her receives it.
/// rooms.for_each_recipient(&"lobby", Some(alice), |_, queue| queue.push("hi"));
/// assert_eq!(rooms.member(bob), Some(&vec!["hi"]));
/// assert_eq!(rooms.member(alice), Some(&vec![]));
///
/// // Both leave; the room is freed with its last member.
/// assert_eq!(rooms.unregister(alice), Some(vec![]));
/// assert_eq!(rooms.unregister(bob), Some(vec!["hi"]));
/// assert_eq!(rooms.room_count(), 0);
/// assert_eq!(rooms.poll_event(), Some(RoomEvent::Closed("lobby")));
/// assert_eq!(rooms.poll_event(), None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Rooms<R, M> {
    /// Member slots; `None` slots are listed in `free`.
    slab: Vec<Option<Slot<R, M>>>,
    free: Vec<usize>,
    /// Each live member's slot.
    index: BTreeMap<MemberId, usize>,
    /// Each non-empty room's members, with their slots.
    rooms: BTreeMap<R, BTreeMap<MemberId, usize>>,
    max_members: usize,
    /// The raw form of the next id handed out.
    next_id: u64,
    events: EventQueue<R>,
}

impl<R: fmt::Debug, M> fmt::Debug for Rooms<R, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct RoomList<'a, R>(&'a BTreeMap<R, BTreeMap<MemberId, usize>>);
        impl<R: fmt::Debug> fmt::Debug for RoomList<'_, R> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_map()
                    .entries(self.0.iter().map(|(room, members)| (room, members.keys())))
                    .finish()
            }
        }
        f.debug_struct("Rooms")
            .field("members", &self.index.len())
            .field("max_members", &self.max_members)
            .field("rooms", &RoomList(&self.rooms))
            .field("pending_events", &self.events.len())
            .finish_non_exhaustive()
    }
}

impl<R: Ord + Clone, M> Default for Rooms<R, M> {
    fn default() -> Self {
        Rooms::new()
    }
}

impl<R: Ord + Clone, M> Rooms<R, M> {
    /// No members, no rooms, no member cap.
    pub fn new() -> Self {
        Rooms::with_max_members(usize::MAX)
    }

    /// No members, no rooms, and at most `max` members at a time.
    pub fn with_max_members(max: usize) -> Self {
        Rooms {
            slab: Vec::new(),
            free: Vec::new(),
            index: BTreeMap::new(),
            rooms: BTreeMap::new(),
            max_members: max,
            next_id: 1,
            events: EventQueue::new(),
        }
    }

    /// The member cap (`usize::MAX` when there is none).
    pub fn max_members(&self) -> usize {
        self.max_members
    }

    /// Turns [`RoomEvent`]s on (the default) or off. Turning them off drops
    /// the pending ones; turned back on, events describe changes from then
    /// on (read [`Rooms::rooms`] for the rooms open at that point).
    pub fn set_events(&mut self, on: bool) {
        self.events.set_on(on);
    }

    /// Whether [`RoomEvent`]s are recorded.
    pub fn events_enabled(&self) -> bool {
        self.events.is_on()
    }

    /// Adds a member with its value, in no room yet.
    ///
    /// Fails with [`RoomsFull`] at the member cap (and, in theory, once
    /// 2^64 − 1 ids have been handed out, since ids are never reused).
    pub fn register(&mut self, member: M) -> Result<MemberId, RoomsFull> {
        if self.is_full() || self.next_id == u64::MAX {
            return Err(RoomsFull);
        }
        let id = MemberId(self.next_id);
        self.next_id += 1;
        let slot = Slot {
            id,
            value: member,
            rooms: BTreeSet::new(),
        };
        let at = match self.free.pop() {
            Some(at) => {
                if let Some(free) = self.slab.get_mut(at) {
                    debug_assert!(free.is_none(), "a listed free slot is empty");
                    *free = Some(slot);
                    at
                } else {
                    debug_assert!(false, "a listed free slot is in the slab");
                    self.slab.push(Some(slot));
                    self.slab.len() - 1
                }
            }
            None => {
                self.slab.push(Some(slot));
                self.slab.len() - 1
            }
        };
        self.index.insert(id, at);
        Ok(id)
    }

    /// Whether [`Rooms::register`] would refuse a member for the cap.
    pub fn is_full(&self) -> bool {
        self.index.len() >= self.max_members
    }

    /// Removes a member: it leaves all its rooms (with a
    /// [`RoomEvent::Closed`] for each it empties) and its value is handed
    /// back. `None`, changing nothing, for an unknown or already removed id.
    pub fn unregister(&mut self, id: MemberId) -> Option<M> {
        let at = self.index.remove(&id)?;
        let slot = self.slab.get_mut(at).and_then(Option::take);
        debug_assert!(slot.is_some(), "an indexed member has a slot");
        let slot = slot?;
        self.free.push(at);
        for room in slot.rooms {
            self.remove_from_room(id, room);
        }
        Some(slot.value)
    }

    /// Puts a member in `room`: `Ok(true)` if it joined (with a
    /// [`RoomEvent::Opened`] if it is the room's first member), `Ok(false)`
    /// if it was already there.
    pub fn join(&mut self, id: MemberId, room: R) -> Result<bool, UnknownMember> {
        let at = *self.index.get(&id).ok_or(UnknownMember)?;
        let slot = self.slot_mut(at).ok_or(UnknownMember)?;
        if slot.rooms.contains(&room) {
            return Ok(false);
        }
        slot.rooms.insert(room.clone());
        match self.rooms.entry(room) {
            alloc::collections::btree_map::Entry::Occupied(mut members) => {
                members.get_mut().insert(id, at);
            }
            alloc::collections::btree_map::Entry::Vacant(vacant) => {
                self.events.push(RoomEvent::Opened(vacant.key().clone()));
                vacant.insert(BTreeMap::new()).insert(id, at);
            }
        }
        Ok(true)
    }

    /// Takes a member out of `room`: `true` if it was in it. The room is
    /// freed with its last member ([`RoomEvent::Closed`]).
    pub fn leave(&mut self, id: MemberId, room: &R) -> bool {
        let Some(&at) = self.index.get(&id) else {
            return false;
        };
        let Some(room) = self.slot_mut(at).and_then(|slot| slot.rooms.take(room)) else {
            return false;
        };
        self.remove_from_room(id, room);
        true
    }

    /// Takes a member out of all its rooms; the number of rooms it left.
    pub fn leave_all(&mut self, id: MemberId) -> usize {
        let Some(&at) = self.index.get(&id) else {
            return 0;
        };
        let Some(slot) = self.slot_mut(at) else {
            return 0;
        };
        let rooms = core::mem::take(&mut slot.rooms);
        let left = rooms.len();
        for room in rooms {
            self.remove_from_room(id, room);
        }
        left
    }

    /// Whether `id` is a registered member.
    pub fn contains(&self, id: MemberId) -> bool {
        self.index.contains_key(&id)
    }

    /// A member's value.
    pub fn member(&self, id: MemberId) -> Option<&M> {
        self.slot_of(id).map(|slot| &slot.value)
    }

    /// A member's value, mutable.
    pub fn member_mut(&mut self, id: MemberId) -> Option<&mut M> {
        let at = *self.index.get(&id)?;
        self.slot_mut(at).map(|slot| &mut slot.value)
    }

    /// All members with their values, in registration order.
    pub fn members(&self) -> impl Iterator<Item = (MemberId, &M)> {
        self.index.iter().filter_map(|(&id, &at)| {
            let slot = self.slab.get(at)?.as_ref()?;
            Some((id, &slot.value))
        })
    }

    /// The rooms a member is in, in the order of `R`; nothing for an
    /// unknown member.
    pub fn rooms_of(&self, id: MemberId) -> impl Iterator<Item = &R> {
        self.slot_of(id)
            .into_iter()
            .flat_map(|slot| slot.rooms.iter())
    }

    /// Whether a member is in `room`.
    pub fn is_in(&self, id: MemberId, room: &R) -> bool {
        self.rooms
            .get(room)
            .is_some_and(|members| members.contains_key(&id))
    }

    /// The number of members in `room`; 0 for an absent room.
    pub fn room_len(&self, room: &R) -> usize {
        self.rooms.get(room).map_or(0, BTreeMap::len)
    }

    /// The number of rooms, all of which have at least one member.
    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }

    /// The number of registered members.
    pub fn member_count(&self) -> usize {
        self.index.len()
    }

    /// The rooms with their member counts, in the order of `R`.
    pub fn rooms(&self) -> impl Iterator<Item = (&R, usize)> {
        self.rooms
            .iter()
            .map(|(room, members)| (room, members.len()))
    }

    /// The members of `room` at this instant, in registration order.
    pub fn snapshot(&self, room: &R) -> Vec<MemberId> {
        self.rooms
            .get(room)
            .map(|members| members.keys().copied().collect())
            .unwrap_or_default()
    }

    /// The members of `room` except `except`, with their values, in
    /// registration order: what a publish visits. An absent room yields
    /// nothing.
    pub fn recipients<'a>(
        &'a self,
        room: &R,
        except: Option<MemberId>,
    ) -> impl Iterator<Item = (MemberId, &'a M)> + 'a {
        let slab = &self.slab;
        self.rooms
            .get(room)
            .into_iter()
            .flat_map(|members| members.iter())
            .filter(move |(&id, _)| Some(id) != except)
            .filter_map(move |(&id, &at)| {
                let slot = slab.get(at)?.as_ref()?;
                debug_assert_eq!(slot.id, id, "a room lists its members' slots");
                Some((id, &slot.value))
            })
    }

    /// Calls `f` with each member of `room` except `except`, in
    /// registration order, and its value, mutable: a publish pushes into
    /// each member's queue. An absent room calls nothing.
    pub fn for_each_recipient(
        &mut self,
        room: &R,
        except: Option<MemberId>,
        mut f: impl FnMut(MemberId, &mut M),
    ) {
        let Some(members) = self.rooms.get(room) else {
            return;
        };
        for (&id, &at) in members {
            if Some(id) != except {
                visit(&mut self.slab, id, at, &mut f);
            }
        }
    }

    /// Calls `f` once with each member of any of `rooms` except `except`,
    /// in registration order, however many of the rooms it is in.
    ///
    /// The rooms' member lists are merged as they are walked (they are
    /// sorted by id), so no set of recipients is built, only one cursor per
    /// room: for `n` memberships in `k` rooms the cost is `O(n k)` up to
    /// 8 rooms and `O(n log k)` beyond.
    pub fn for_each_recipient_of(
        &mut self,
        rooms: &[R],
        except: Option<MemberId>,
        mut f: impl FnMut(MemberId, &mut M),
    ) {
        if let [room] = rooms {
            return self.for_each_recipient(room, except, f);
        }
        let lists = rooms.iter().filter_map(|room| self.rooms.get(room));
        if rooms.len() <= MERGE_SCAN_MAX {
            merge_by_scan(lists, except, &mut self.slab, &mut f);
        } else {
            merge_by_heap(lists, except, &mut self.slab, &mut f);
        }
    }

    /// The next [`RoomEvent`], oldest first. Events accumulate until
    /// drained, at most one per room (see [Memory](Rooms#memory)).
    #[must_use]
    pub fn poll_event(&mut self) -> Option<RoomEvent<R>> {
        self.events.pop()
    }

    /// The number of [`RoomEvent`]s waiting in [`Rooms::poll_event`].
    pub fn pending_events(&self) -> usize {
        self.events.len()
    }

    fn slot_of(&self, id: MemberId) -> Option<&Slot<R, M>> {
        let at = *self.index.get(&id)?;
        self.slab.get(at)?.as_ref()
    }

    fn slot_mut(&mut self, at: usize) -> Option<&mut Slot<R, M>> {
        self.slab.get_mut(at)?.as_mut()
    }

    /// Removes `id` from `room`'s member list (the member's own list is
    /// already updated), freeing the room when it empties.
    fn remove_from_room(&mut self, id: MemberId, room: R) {
        let Some(members) = self.rooms.get_mut(&room) else {
            debug_assert!(false, "a member's room exists");
            return;
        };
        members.remove(&id);
        if members.is_empty() {
            self.rooms.remove(&room);
            self.events.push(RoomEvent::Closed(room));
        }
    }
}

/// Up to this many rooms, [`Rooms::for_each_recipient_of`] finds the next
/// member by scanning the heads of the rooms' lists, which beats a heap
/// for a handful of rooms.
const MERGE_SCAN_MAX: usize = 8;

/// The members of a room with their slots, in id order.
type MemberList<'a> = alloc::collections::btree_map::Iter<'a, MemberId, usize>;

/// Visits the union of sorted member lists in id order, each member once,
/// taking the smallest head of the lists at each step: `O(n k)`.
fn merge_by_scan<'a, R, M>(
    lists: impl Iterator<Item = &'a BTreeMap<MemberId, usize>>,
    except: Option<MemberId>,
    slab: &mut [Option<Slot<R, M>>],
    f: &mut impl FnMut(MemberId, &mut M),
) {
    let next = |list: &mut MemberList<'a>| list.next().map(|(&id, &at)| (id, at));
    let mut heads = Vec::with_capacity(lists.size_hint().1.unwrap_or(0));
    heads.extend(lists.map(|members| {
        let mut list = members.iter();
        (next(&mut list), list)
    }));
    while let Some((id, at)) = heads.iter().filter_map(|(head, _)| *head).min() {
        // Every list whose head is this member moves on: that is the
        // de-duplication.
        for (head, list) in &mut heads {
            if head.is_some_and(|(head, _)| head == id) {
                *head = next(list);
            }
        }
        if Some(id) != except {
            visit(slab, id, at, f);
        }
    }
}

/// The same with the lists' heads in a heap: `O(n log k)`.
fn merge_by_heap<'a, R, M>(
    lists: impl Iterator<Item = &'a BTreeMap<MemberId, usize>>,
    except: Option<MemberId>,
    slab: &mut [Option<Slot<R, M>>],
    f: &mut impl FnMut(MemberId, &mut M),
) {
    // One allocation each for the cursors and the heap: the filtered
    // iterator's size hint has no lower bound, so collecting would grow.
    let mut cursors: Vec<MemberList<'a>> = Vec::with_capacity(lists.size_hint().1.unwrap_or(0));
    cursors.extend(lists.map(BTreeMap::iter));
    // The heap holds the next member of each list, smallest id first.
    let mut heads = BinaryHeap::with_capacity(cursors.len());
    for (list, members) in cursors.iter_mut().enumerate() {
        if let Some((&id, &at)) = members.next() {
            heads.push(Reverse((id, at, list)));
        }
    }
    let mut last = None;
    while let Some(Reverse((id, at, list))) = heads.pop() {
        if let Some((&next, &next_at)) = cursors.get_mut(list).and_then(Iterator::next) {
            heads.push(Reverse((next, next_at, list)));
        }
        if last == Some(id) || Some(id) == except {
            continue;
        }
        last = Some(id);
        visit(slab, id, at, f);
    }
}

/// Calls `f` with the value in slot `at`, which belongs to `id`.
fn visit<R, M>(
    slab: &mut [Option<Slot<R, M>>],
    id: MemberId,
    at: usize,
    f: &mut impl FnMut(MemberId, &mut M),
) {
    match slab.get_mut(at).and_then(Option::as_mut) {
        Some(slot) => {
            debug_assert_eq!(slot.id, id, "a room lists its members' slots");
            f(id, &mut slot.value);
        }
        None => debug_assert!(false, "a room's member has a slot"),
    }
}
