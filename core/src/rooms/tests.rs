use alloc::string::ToString;
use alloc::vec;
use alloc::vec::Vec;

use super::*;

type TestRooms = Rooms<&'static str, Vec<u32>>;

fn drain(rooms: &mut TestRooms) -> Vec<RoomEvent<&'static str>> {
    core::iter::from_fn(|| rooms.poll_event()).collect()
}

fn recipients(rooms: &TestRooms, room: &'static str, except: Option<MemberId>) -> Vec<MemberId> {
    rooms.recipients(&room, except).map(|(id, _)| id).collect()
}

#[test]
fn join_and_leave_keep_both_directions() {
    let mut rooms = TestRooms::new();
    let a = rooms.register(vec![]).unwrap();
    let b = rooms.register(vec![]).unwrap();
    assert_eq!(rooms.join(a, "x"), Ok(true));
    assert_eq!(rooms.join(a, "x"), Ok(false));
    assert_eq!(rooms.join(a, "y"), Ok(true));
    assert_eq!(rooms.join(b, "x"), Ok(true));

    assert_eq!(rooms.rooms_of(a).copied().collect::<Vec<_>>(), ["x", "y"]);
    assert_eq!(rooms.rooms_of(b).copied().collect::<Vec<_>>(), ["x"]);
    assert!(rooms.is_in(b, &"x"));
    assert!(!rooms.is_in(b, &"y"));
    assert_eq!(rooms.room_len(&"x"), 2);
    assert_eq!(rooms.room_len(&"nowhere"), 0);
    assert_eq!(rooms.snapshot(&"x"), [a, b]);
    assert_eq!(rooms.rooms().collect::<Vec<_>>(), [(&"x", 2), (&"y", 1)]);
    assert_eq!(
        drain(&mut rooms),
        [RoomEvent::Opened("x"), RoomEvent::Opened("y")]
    );

    assert!(rooms.leave(a, &"x"));
    assert!(!rooms.leave(a, &"x"));
    assert!(!rooms.leave(a, &"nowhere"));
    assert_eq!(rooms.snapshot(&"x"), [b]);
    assert!(!rooms.is_in(a, &"x"));
    assert_eq!(drain(&mut rooms), []);

    assert_eq!(rooms.leave_all(a), 1);
    assert_eq!(rooms.leave_all(a), 0);
    assert!(rooms.contains(a));
    assert_eq!(rooms.rooms().collect::<Vec<_>>(), [(&"x", 1)]);
    assert_eq!(drain(&mut rooms), [RoomEvent::Closed("y")]);
}

#[test]
fn a_room_is_freed_with_its_last_member() {
    let mut rooms = TestRooms::new();
    let a = rooms.register(vec![]).unwrap();
    let b = rooms.register(vec![]).unwrap();
    rooms.join(a, "x").unwrap();
    rooms.join(b, "x").unwrap();
    assert_eq!(rooms.room_count(), 1);
    assert!(rooms.leave(a, &"x"));
    assert_eq!(rooms.room_count(), 1);
    assert!(rooms.leave(b, &"x"));
    assert_eq!(rooms.room_count(), 0);
    assert_eq!(rooms.rooms().count(), 0);
    assert_eq!(rooms.snapshot(&"x"), []);
    assert_eq!(recipients(&rooms, "x", None), []);
    // An Opened and a Closed both undrained cancel each other.
    assert_eq!(drain(&mut rooms), []);
}

#[test]
fn unregister_leaves_every_room_and_is_idempotent() {
    let mut rooms = TestRooms::new();
    let a = rooms.register(vec![7]).unwrap();
    let b = rooms.register(vec![]).unwrap();
    rooms.join(a, "x").unwrap();
    rooms.join(a, "y").unwrap();
    rooms.join(b, "y").unwrap();
    let _ = drain(&mut rooms);

    assert_eq!(rooms.unregister(a), Some(vec![7]));
    assert_eq!(drain(&mut rooms), [RoomEvent::Closed("x")]);
    assert_eq!(rooms.rooms().collect::<Vec<_>>(), [(&"y", 1)]);
    assert_eq!(rooms.member_count(), 1);
    assert!(!rooms.contains(a));
    assert_eq!(rooms.member(a), None);
    assert_eq!(rooms.rooms_of(a).count(), 0);

    assert_eq!(rooms.unregister(a), None);
    assert_eq!(rooms.member_count(), 1);
    assert_eq!(rooms.snapshot(&"y"), [b]);
    assert_eq!(drain(&mut rooms), []);
}

#[test]
fn a_stale_id_addresses_nothing_after_its_slot_is_reused() {
    let mut rooms = TestRooms::new();
    let a = rooms.register(vec![1]).unwrap();
    assert_eq!(a.get(), 1, "0 is never handed out");
    rooms.unregister(a);
    // The new member takes a's slot but not its id.
    let b = rooms.register(vec![2]).unwrap();
    assert_ne!(a, b);
    assert_eq!(rooms.join(a, "x"), Err(UnknownMember));
    assert_eq!(rooms.member(a), None);
    assert_eq!(rooms.member_mut(a), None);
    assert!(!rooms.leave(a, &"x"));
    assert_eq!(rooms.leave_all(a), 0);
    assert_eq!(rooms.unregister(a), None);
    assert_eq!(rooms.member(b), Some(&vec![2]));
    assert_eq!(rooms.room_count(), 0);
    assert_eq!(rooms.join(MemberId::from_raw(999), "x"), Err(UnknownMember));
}

#[test]
fn the_member_cap_refuses_and_frees() {
    let mut rooms = TestRooms::with_max_members(2);
    assert_eq!(rooms.max_members(), 2);
    let a = rooms.register(vec![]).unwrap();
    assert!(!rooms.is_full());
    rooms.register(vec![]).unwrap();
    assert!(rooms.is_full());
    assert_eq!(rooms.register(vec![]), Err(RoomsFull));
    assert_eq!(rooms.member_count(), 2);
    rooms.unregister(a);
    assert!(!rooms.is_full());
    assert!(rooms.register(vec![]).is_ok());

    let mut none = TestRooms::with_max_members(0);
    assert_eq!(none.register(vec![]), Err(RoomsFull));
    assert_eq!(TestRooms::new().max_members(), usize::MAX);
}

#[test]
fn a_publish_visits_the_room_except_the_sender() {
    let mut rooms = TestRooms::new();
    let a = rooms.register(vec![]).unwrap();
    let b = rooms.register(vec![]).unwrap();
    let c = rooms.register(vec![]).unwrap();
    let outsider = rooms.register(vec![]).unwrap();
    for id in [c, a, b] {
        rooms.join(id, "x").unwrap();
    }
    rooms.join(outsider, "y").unwrap();

    assert_eq!(recipients(&rooms, "x", None), [a, b, c]);
    assert_eq!(recipients(&rooms, "x", Some(b)), [a, c]);
    assert_eq!(recipients(&rooms, "x", Some(outsider)), [a, b, c]);
    assert_eq!(recipients(&rooms, "nowhere", None), []);

    rooms.for_each_recipient(&"x", Some(a), |_, queue| queue.push(1));
    rooms.for_each_recipient(&"x", None, |_, queue| queue.push(2));
    rooms.for_each_recipient(&"nowhere", None, |_, _| unreachable!());
    assert_eq!(rooms.member(a), Some(&vec![2]));
    assert_eq!(rooms.member(b), Some(&vec![1, 2]));
    assert_eq!(rooms.member(c), Some(&vec![1, 2]));
    assert_eq!(rooms.member(outsider), Some(&vec![]));
    let values: Vec<_> = rooms.recipients(&"x", None).map(|(_, v)| v.len()).collect();
    assert_eq!(values, [1, 2, 2]);
}

#[test]
fn a_publish_to_several_rooms_visits_each_member_once() {
    let mut rooms = TestRooms::new();
    let ids: Vec<_> = (0..5).map(|_| rooms.register(vec![]).unwrap()).collect();
    for &id in &ids[..3] {
        rooms.join(id, "x").unwrap();
    }
    for &id in &ids[1..] {
        rooms.join(id, "y").unwrap();
    }
    rooms.join(ids[4], "z").unwrap();

    let mut visited = Vec::new();
    rooms.for_each_recipient_of(&["y", "x", "nowhere", "x"], Some(ids[2]), |id, queue| {
        visited.push(id);
        queue.push(1);
    });
    assert_eq!(visited, [ids[0], ids[1], ids[3], ids[4]]);
    // Past a handful of rooms the lists merge through a heap, to the same
    // result.
    let mut many = Vec::new();
    let targets = ["y", "x", "nowhere", "x", "z", "y", "x", "x", "z", "y"];
    assert!(targets.len() > MERGE_SCAN_MAX);
    rooms.for_each_recipient_of(&targets, Some(ids[2]), |id, queue| {
        many.push(id);
        queue.push(2);
    });
    assert_eq!(many, visited);
    assert_eq!(rooms.member(ids[2]), Some(&vec![]));
    assert_eq!(rooms.member(ids[1]), Some(&vec![1, 2]));

    let mut one = Vec::new();
    rooms.for_each_recipient_of(&["z"], None, |id, _| one.push(id));
    assert_eq!(one, [ids[4]]);
    rooms.for_each_recipient_of(&[], None, |_, _| unreachable!());
}

#[test]
fn events_coalesce_to_each_rooms_net_change() {
    let mut rooms = TestRooms::new();
    let a = rooms.register(vec![]).unwrap();
    rooms.join(a, "x").unwrap();
    rooms.join(a, "y").unwrap();
    assert_eq!(rooms.pending_events(), 2);
    assert_eq!(
        drain(&mut rooms),
        [RoomEvent::Opened("x"), RoomEvent::Opened("y")]
    );

    // Closed then Opened again, undrained: the room never looked closed.
    rooms.leave(a, &"x");
    rooms.join(a, "x").unwrap();
    // Opened then Closed, undrained: the room never looked open.
    rooms.join(a, "z").unwrap();
    rooms.leave(a, &"z");
    rooms.leave(a, &"y");
    assert_eq!(rooms.pending_events(), 1);
    assert_eq!(drain(&mut rooms), [RoomEvent::Closed("y")]);

    // Order is the order of the changes, not of the rooms.
    rooms.join(a, "b").unwrap();
    rooms.join(a, "a").unwrap();
    rooms.leave(a, &"x");
    assert_eq!(
        drain(&mut rooms),
        [
            RoomEvent::Opened("b"),
            RoomEvent::Opened("a"),
            RoomEvent::Closed("x")
        ]
    );
    assert_eq!(RoomEvent::Closed("x").room(), &"x");
}

#[test]
fn events_turned_off_are_not_recorded() {
    let mut rooms = TestRooms::new();
    assert!(rooms.events_enabled());
    let a = rooms.register(vec![]).unwrap();
    rooms.join(a, "x").unwrap();
    rooms.set_events(false);
    assert!(!rooms.events_enabled());
    assert_eq!(rooms.pending_events(), 0);
    for n in 0..100 {
        rooms.join(a, if n % 2 == 0 { "y" } else { "z" }).unwrap();
    }
    assert_eq!(rooms.poll_event(), None);
    rooms.set_events(true);
    rooms.leave(a, &"y");
    assert_eq!(drain(&mut rooms), [RoomEvent::Closed("y")]);
}

#[test]
fn a_burst_of_ten_thousand_joins_and_leaves_leaves_nothing() {
    let mut rooms: Rooms<u32, u32> = Rooms::new();
    let ids: Vec<_> = (0..10_000).map(|n| rooms.register(n).unwrap()).collect();
    for (n, &id) in ids.iter().enumerate() {
        rooms.join(id, n as u32 % 100).unwrap();
        rooms.join(id, 1_000 + n as u32).unwrap();
    }
    assert_eq!(rooms.room_count(), 10_100);
    assert_eq!(rooms.room_len(&7), 100);
    let mut visited = 0;
    rooms.for_each_recipient_of(&[1, 2, 1_001], None, |_, _| visited += 1);
    assert_eq!(visited, 200);
    // Every room opened and closed undrained: the events cancel.
    assert_eq!(rooms.pending_events(), 10_100);
    for (n, &id) in ids.iter().enumerate() {
        assert!(rooms.leave(id, &(n as u32 % 100)));
        assert_eq!(rooms.unregister(id), Some(n as u32));
    }
    assert_eq!(rooms.room_count(), 0);
    assert_eq!(rooms.rooms().count(), 0);
    assert_eq!(rooms.member_count(), 0);
    assert_eq!(rooms.members().count(), 0);
    assert_eq!(rooms.pending_events(), 0);
    assert_eq!(rooms.poll_event(), None);
    // Slots are reused, ids are not.
    let next = rooms.register(0).unwrap();
    assert!(ids.iter().all(|&id| id < next));
    assert_eq!(rooms.slab.len(), 10_000);
}

#[test]
fn members_come_in_registration_order_with_their_values() {
    let mut rooms = TestRooms::new();
    let a = rooms.register(vec![1]).unwrap();
    let b = rooms.register(vec![2]).unwrap();
    rooms.unregister(a);
    let c = rooms.register(vec![3]).unwrap();
    rooms.member_mut(c).unwrap().push(4);
    let members: Vec<_> = rooms.members().map(|(id, v)| (id, v.clone())).collect();
    assert_eq!(members, [(b, vec![2]), (c, vec![3, 4])]);
    assert_eq!(MemberId::from_raw(b.get()), b);
    assert_eq!(b.to_string(), alloc::format!("member {}", b.get()));
    assert_eq!(
        RoomsFull.to_string(),
        "the member cap of the rooms is reached"
    );
    assert_eq!(UnknownMember.to_string(), "no such member");
    let debug = alloc::format!("{rooms:?}");
    assert!(debug.contains("members: 2"), "{debug}");
}

#[test]
fn room_of_path_drops_the_query() {
    assert_eq!(room_of_path("/chat/lobby?x=1"), "/chat/lobby");
    assert_eq!(room_of_path("/chat/lobby"), "/chat/lobby");
    assert_eq!(room_of_path("/a?b?c"), "/a");
    assert_eq!(room_of_path("/"), "/");
    assert_eq!(room_of_path(""), "/");
    assert_eq!(room_of_path("?a"), "/");
    assert_eq!(room_of_path("?"), "/");
}
