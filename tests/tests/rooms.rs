//! [`Rooms`] against a model: random sequences of registrations, joins,
//! leaves, publishes and event drains, checked after every step against a
//! plain map of rooms to member sets.
//!
//! - membership, counts and room sizes equal the model's, and no empty
//!   room is left behind;
//! - `rooms_of` and `recipients` agree both ways, and a publish visits
//!   exactly the model's members (each once, across several rooms) except
//!   the sender;
//! - replaying the events gives the set of non-empty rooms: every `Opened`
//!   is for a room not open yet, every `Closed` for an open one, and at
//!   most one event per room is pending;
//! - an id, once unregistered, addresses nothing, even after its slot is
//!   reused.
//!
//! Cases come from a seed through [`Rng`], so a failure report reproduces.

use std::collections::{BTreeMap, BTreeSet};

use quickcheck::{Arbitrary, Gen, QuickCheck};
use wscore::{MemberId, RoomEvent, Rooms, RoomsFull, UnknownMember};
use wscore_tests::Rng;

/// Few rooms, so that members meet and rooms empty often.
const ROOMS: u8 = 5;

/// One step. Members are named by their position in the list of ids handed
/// out so far (taken modulo its length), so stale ids are picked too and a
/// shrunk case still names members.
#[derive(Clone, Debug)]
enum Op {
    Register,
    Unregister(usize),
    Join(usize, u8),
    Leave(usize, u8),
    LeaveAll(usize),
    /// A publish to one room, maybe except a member.
    Publish(u8, Option<usize>),
    /// A publish to several rooms (repeats allowed), maybe except a member.
    PublishMany(Vec<u8>, Option<usize>),
    /// Drain the events and replay them.
    Drain,
}

#[derive(Clone, Debug)]
struct Case {
    max_members: Option<usize>,
    ops: Vec<Op>,
}

impl Case {
    fn generate(rng: &mut Rng) -> Case {
        let max_members = rng.percent(30).then(|| rng.range(0..=4));
        let len = rng.range(0..=120);
        let room = |rng: &mut Rng| rng.below(u64::from(ROOMS)) as u8;
        let member = |rng: &mut Rng| rng.range(0..=64);
        let except = |rng: &mut Rng| rng.percent(60).then(|| rng.range(0..=64));
        let ops = (0..len)
            .map(|_| match rng.below(100) {
                0..=14 => Op::Register,
                15..=22 => Op::Unregister(member(rng)),
                23..=52 => Op::Join(member(rng), room(rng)),
                53..=70 => Op::Leave(member(rng), room(rng)),
                71..=74 => Op::LeaveAll(member(rng)),
                75..=84 => Op::Publish(room(rng), except(rng)),
                85..=91 => {
                    // Past 8 rooms (repeats count) the lists merge through a heap.
                    let rooms = (0..rng.range(0..=12)).map(|_| room(rng)).collect();
                    Op::PublishMany(rooms, except(rng))
                }
                _ => Op::Drain,
            })
            .collect();
        Case { max_members, ops }
    }
}

impl Arbitrary for Case {
    fn arbitrary(g: &mut Gen) -> Case {
        Case::generate(&mut Rng::new(u64::arbitrary(g)))
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Case>> {
        let max_members = self.max_members;
        let ops = self.ops.clone();
        let mut shorter = Vec::new();
        if ops.len() > 1 {
            shorter.push(ops[..ops.len() / 2].to_vec());
            shorter.push(ops[ops.len() / 2..].to_vec());
        }
        for i in 0..ops.len() {
            let mut fewer = ops.clone();
            fewer.remove(i);
            shorter.push(fewer);
        }
        Box::new(
            shorter
                .into_iter()
                .map(move |ops| Case { max_members, ops }),
        )
    }
}

/// What the rooms should hold. A member's value counts the publishes it
/// received.
#[derive(Default)]
struct Model {
    members: BTreeMap<MemberId, u32>,
    rooms: BTreeMap<u8, BTreeSet<MemberId>>,
    /// The open rooms according to the events drained so far.
    replayed: BTreeSet<u8>,
}

impl Model {
    fn rooms_of(&self, id: MemberId) -> Vec<u8> {
        let rooms = self.rooms.iter();
        rooms
            .filter(|(_, m)| m.contains(&id))
            .map(|(&r, _)| r)
            .collect()
    }

    fn leave(&mut self, id: MemberId, room: u8) -> bool {
        let Some(members) = self.rooms.get_mut(&room) else {
            return false;
        };
        let was = members.remove(&id);
        if members.is_empty() {
            self.rooms.remove(&room);
        }
        was
    }
}

fn check<T: PartialEq + std::fmt::Debug>(what: &str, actual: T, expected: T) -> Result<(), String> {
    if actual == expected {
        Ok(())
    } else {
        Err(format!("{what}: got {actual:?}, expected {expected:?}"))
    }
}

/// Everything observable agrees with the model.
fn compare(rooms: &Rooms<u8, u32>, model: &Model, issued: &[MemberId]) -> Result<(), String> {
    check("member_count", rooms.member_count(), model.members.len())?;
    let members: Vec<_> = rooms.members().map(|(id, &v)| (id, v)).collect();
    let expected: Vec<_> = model.members.iter().map(|(&id, &v)| (id, v)).collect();
    check("members", members, expected)?;
    check("room_count", rooms.room_count(), model.rooms.len())?;
    let sizes: Vec<_> = rooms.rooms().map(|(&r, n)| (r, n)).collect();
    let expected: Vec<_> = model.rooms.iter().map(|(&r, m)| (r, m.len())).collect();
    check("rooms", sizes, expected)?;

    for room in 0..ROOMS {
        let expected: Vec<_> = model
            .rooms
            .get(&room)
            .into_iter()
            .flatten()
            .copied()
            .collect();
        check("snapshot", rooms.snapshot(&room), expected.clone())?;
        check("room_len", rooms.room_len(&room), expected.len())?;
        let recipients: Vec<_> = rooms.recipients(&room, None).map(|(id, _)| id).collect();
        check("recipients", recipients.clone(), expected)?;
        for (id, &value) in rooms.recipients(&room, None) {
            check(
                "recipient value",
                Some(value),
                model.members.get(&id).copied(),
            )?;
            // recipients → rooms_of
            if !rooms.rooms_of(id).any(|&r| r == room) {
                return Err(format!("{id} receives in room {room} but is not in it"));
            }
        }
        for &id in issued {
            let within = recipients.contains(&id);
            check("is_in", rooms.is_in(id, &room), within)?;
            let except: Vec<_> = rooms
                .recipients(&room, Some(id))
                .map(|(id, _)| id)
                .collect();
            let expected: Vec<_> = recipients.iter().copied().filter(|&r| r != id).collect();
            check("recipients except", except, expected)?;
        }
    }
    for &id in issued {
        let live = model.members.contains_key(&id);
        check("contains", rooms.contains(id), live)?;
        check(
            "member",
            rooms.member(id).copied(),
            model.members.get(&id).copied(),
        )?;
        let of: Vec<_> = rooms.rooms_of(id).copied().collect();
        check("rooms_of", of.clone(), model.rooms_of(id))?;
        // rooms_of → recipients
        for room in of {
            if !rooms.recipients(&room, None).any(|(r, _)| r == id) {
                return Err(format!("{id} is in room {room} but does not receive"));
            }
        }
    }
    if rooms.pending_events() > usize::from(ROOMS) {
        return Err(format!("{} events pending", rooms.pending_events()));
    }
    Ok(())
}

/// Drains and replays the events; the replay must reach the model's rooms.
fn drain<M>(rooms: &mut Rooms<u8, M>, model: &mut Model) -> Result<(), String> {
    let pending = rooms.pending_events();
    let mut seen = BTreeSet::new();
    let mut drained = 0;
    while let Some(event) = rooms.poll_event() {
        drained += 1;
        if !seen.insert(*event.room()) {
            return Err(format!("two pending events for room {}", event.room()));
        }
        match event {
            RoomEvent::Opened(room) if !model.replayed.insert(room) => {
                return Err(format!("Opened({room}) for an open room"));
            }
            RoomEvent::Closed(room) if !model.replayed.remove(&room) => {
                return Err(format!("Closed({room}) for a closed room"));
            }
            _ => {}
        }
    }
    check("drained", drained, pending)?;
    let open: BTreeSet<u8> = model.rooms.keys().copied().collect();
    check("replayed rooms", model.replayed.clone(), open)
}

fn pick(issued: &[MemberId], n: usize) -> MemberId {
    match issued.len() {
        // An id no member ever had.
        0 => MemberId::from_raw(u64::MAX),
        len => issued[n % len],
    }
}

fn run(case: &Case) -> Result<(), String> {
    let mut rooms = match case.max_members {
        Some(max) => Rooms::with_max_members(max),
        None => Rooms::new(),
    };
    let mut model = Model::default();
    let mut issued = Vec::new();
    for (step, op) in case.ops.iter().enumerate() {
        let outcome = apply(&mut rooms, &mut model, &mut issued, case.max_members, op)
            .and_then(|()| compare(&rooms, &model, &issued));
        outcome.map_err(|error| format!("step {step} ({op:?}): {error}"))?;
    }
    // Everyone goes: every room that opened closes.
    for &id in &issued {
        let live = model.members.remove(&id);
        check("unregister", rooms.unregister(id), live)?;
        for room in 0..ROOMS {
            model.leave(id, room);
        }
    }
    compare(&rooms, &model, &issued)?;
    drain(&mut rooms, &mut model)?;
    check("replayed at the end", model.replayed.len(), 0)
}

fn apply(
    rooms: &mut Rooms<u8, u32>,
    model: &mut Model,
    issued: &mut Vec<MemberId>,
    max_members: Option<usize>,
    op: &Op,
) -> Result<(), String> {
    match *op {
        Op::Register => {
            let full = max_members.is_some_and(|max| model.members.len() >= max);
            check("is_full", rooms.is_full(), full)?;
            match rooms.register(0) {
                Ok(id) if !full => {
                    if issued.last().is_some_and(|&last| last >= id) {
                        return Err(format!("{id} handed out after {issued:?}"));
                    }
                    issued.push(id);
                    model.members.insert(id, 0);
                }
                Err(RoomsFull) if full => {}
                outcome => return Err(format!("register: {outcome:?}, full: {full}")),
            }
        }
        Op::Unregister(n) => {
            let id = pick(issued, n);
            let expected = model.members.remove(&id);
            for room in 0..ROOMS {
                model.leave(id, room);
            }
            check("unregister", rooms.unregister(id), expected)?;
            check("unregister again", rooms.unregister(id), None)?;
        }
        Op::Join(n, room) => {
            let id = pick(issued, n);
            let expected = if model.members.contains_key(&id) {
                Ok(model.rooms.entry(room).or_default().insert(id))
            } else {
                Err(UnknownMember)
            };
            check("join", rooms.join(id, room), expected)?;
        }
        Op::Leave(n, room) => {
            let id = pick(issued, n);
            let expected = model.leave(id, room);
            check("leave", rooms.leave(id, &room), expected)?;
        }
        Op::LeaveAll(n) => {
            let id = pick(issued, n);
            let left = (0..ROOMS).filter(|&room| model.leave(id, room)).count();
            check("leave_all", rooms.leave_all(id), left)?;
        }
        Op::Publish(room, except) => {
            let except = except.map(|n| pick(issued, n));
            publish(rooms, model, &[room], except)?;
        }
        Op::PublishMany(ref targets, except) => {
            let except = except.map(|n| pick(issued, n));
            publish(rooms, model, targets, except)?;
        }
        Op::Drain => drain(rooms, model)?,
    }
    Ok(())
}

/// A publish visits each member of the rooms once, in id order, except the
/// sender, and reaches its value.
fn publish(
    rooms: &mut Rooms<u8, u32>,
    model: &mut Model,
    targets: &[u8],
    except: Option<MemberId>,
) -> Result<(), String> {
    let expected: BTreeSet<MemberId> = targets
        .iter()
        .filter_map(|room| model.rooms.get(room))
        .flatten()
        .copied()
        .filter(|&id| Some(id) != except)
        .collect();
    let mut visited = Vec::new();
    let mut record = |id, value: &mut u32| {
        *value += 1;
        visited.push(id);
    };
    match targets {
        [room] => rooms.for_each_recipient(room, except, &mut record),
        _ => rooms.for_each_recipient_of(targets, except, &mut record),
    }
    for id in &expected {
        if let Some(count) = model.members.get_mut(id) {
            *count += 1;
        }
    }
    check("visited", visited, expected.into_iter().collect::<Vec<_>>())
}

#[test]
fn rooms_follow_the_model() {
    fn prop(case: Case) -> Result<(), String> {
        run(&case).map_err(|error| format!("{error}\n    case: {case:?}"))
    }
    QuickCheck::new()
        .tests(300)
        .max_tests(300)
        .quickcheck(prop as fn(Case) -> Result<(), String>);
}

/// The cancellation keeps pending events to one per room through any
/// number of undrained joins and leaves.
#[test]
fn undrained_events_stay_bounded() {
    let mut rng = Rng::new(7);
    let mut rooms: Rooms<u8, ()> = Rooms::new();
    let ids: Vec<_> = (0..8).map(|_| rooms.register(()).unwrap()).collect();
    let mut peak = 0;
    for _ in 0..20_000 {
        let id = ids[rng.range(0..=7)];
        let room = rng.below(u64::from(ROOMS)) as u8;
        if rng.percent(50) {
            rooms.join(id, room).unwrap();
        } else {
            rooms.leave(id, &room);
        }
        peak = peak.max(rooms.pending_events());
    }
    assert!(peak <= usize::from(ROOMS), "peak {peak}");
    let mut model = Model::default();
    for room in 0..ROOMS {
        for &id in &ids {
            if rooms.is_in(id, &room) {
                model.rooms.entry(room).or_default().insert(id);
            }
        }
    }
    drain(&mut rooms, &mut model).unwrap();
}
