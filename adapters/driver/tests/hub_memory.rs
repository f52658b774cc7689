//! What a broadcast costs on the heap, counted by a global allocator: a
//! publish to N members makes the same allocations whatever N (the frame,
//! built once, and its shared handle), and each member adds only a queue
//! slot, which a warm queue already has. With permessage-deflate, members
//! that can share a compression share one.
//!
//! One test binary, one measuring thread: the counters are global, so the
//! tests here take a lock around what they measure, and only the measuring
//! thread's allocations count.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use wscore::{Config as ProtocolConfig, DeflateConfig};
use wscore_driver::hub::{Hub, HubConfig, Member};
use wscore_driver::testing::{block_on, pipe, ManualTimer, PipeEnd};
use wscore_driver::{ClientRequest, Config, Message, Role, Socket};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
static LIVE: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Set on the thread whose allocations are counted: the test harness
    /// allocates on its own threads too (reporting a test that ended while
    /// the next one measures).
    static COUNTED: Cell<bool> = const { Cell::new(false) };
}

fn counted() -> bool {
    COUNTED.try_with(Cell::get).unwrap_or(false)
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if counted() {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if counted() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        System.dealloc(ptr, layout);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Tests in this binary run one at a time: the counters are global.
static MEASURING: Mutex<()> = Mutex::new(());

type Ws = Socket<PipeEnd, ManualTimer>;
type Hubbed = Member<PipeEnd, ManualTimer>;

/// Allocations and live bytes added while `f` runs.
fn measure<T>(f: impl FnOnce() -> T) -> (T, usize, isize) {
    let allocations = ALLOCATIONS.load(Ordering::SeqCst);
    let live = LIVE.load(Ordering::SeqCst) as isize;
    COUNTED.with(|c| c.set(true));
    let out = f();
    COUNTED.with(|c| c.set(false));
    let allocations = ALLOCATIONS.load(Ordering::SeqCst) - allocations;
    let live = LIVE.load(Ordering::SeqCst) as isize - live;
    (out, allocations, live)
}

fn plain_members(hub: &Hub, n: usize) -> Vec<(Hubbed, Ws)> {
    (0..n)
        .map(|_| {
            let (a, b) = pipe(1 << 16);
            let server = Ws::from_upgraded(a, Role::Server, Config::default()).unwrap();
            let client = Ws::from_upgraded(b, Role::Client, Config::default()).unwrap();
            (hub.attach(server, ["/room".to_string()]).unwrap(), client)
        })
        .collect()
}

/// Members that agreed on permessage-deflate with
/// `server_no_context_takeover`: they can share one compression.
fn deflate_members(hub: &Hub, n: usize, shared: bool) -> Vec<(Hubbed, Ws)> {
    let deflate = DeflateConfig::default().server_no_context_takeover(shared);
    let config: Config = ProtocolConfig::default().deflate(Some(deflate)).into();
    block_on(async {
        let mut members = Vec::new();
        for _ in 0..n {
            let (a, b) = pipe(1 << 16);
            let request = ClientRequest::new("localhost", "/room");
            let (member, client) = futures::join!(
                hub.accept::<_, ManualTimer>(a, config.clone()),
                Ws::client(b, request, config.clone()),
            );
            let client = client.unwrap();
            assert!(
                client.0.connection().deflate().is_some(),
                "deflate was agreed"
            );
            members.push((member.unwrap(), client.0));
        }
        members
    })
}

fn payload() -> Message {
    Message::text("a message everybody in the room gets; ".repeat(28))
}

/// Allocations and live bytes of one publish, after a warm-up publish
/// gave every queue its first slots.
fn one_publish(hub: &Hub) -> (usize, isize) {
    let room = "/room".to_string();
    hub.publish(&room, payload());
    let message = payload();
    let (published, allocations, live) = measure(|| hub.publish(&room, message));
    assert_eq!(published.dropped, 0);
    (allocations, live)
}

#[test]
fn a_broadcast_allocates_the_same_for_ten_members_as_for_a_thousand() {
    let _guard = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    let hub: Hub = Hub::new(HubConfig::default());
    let members = plain_members(&hub, 10);
    let (few, few_live) = one_publish(&hub);
    drop(members);

    let hub: Hub = Hub::new(HubConfig::default());
    let members = plain_members(&hub, 1000);
    let (many, many_live) = one_publish(&hub);
    drop(members);

    assert_eq!(few, many, "allocations per broadcast depend on the members");
    assert!(few <= 3, "{few} allocations");
    assert_eq!(few_live, many_live, "heap per queued broadcast");
    // The frame (header and 1 KiB of text) and its shared handle.
    assert!(few_live < 1200, "{few_live} bytes per queued broadcast");
}

#[test]
fn members_that_can_share_a_compression_share_one() {
    let _guard = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    let hub: Hub = Hub::new(HubConfig::default());
    let members = deflate_members(&hub, 10, true);
    let (few, few_live) = one_publish(&hub);
    drop(members);

    let hub: Hub = Hub::new(HubConfig::default());
    let members = deflate_members(&hub, 200, true);
    let (many, many_live) = one_publish(&hub);

    assert_eq!(few, many, "allocations per compressed broadcast");
    // The plain frame and its handle, plus the compression's output and
    // its frame: a handful, whatever the member count.
    assert!(few <= 8, "{few} allocations");
    assert_eq!(few_live, many_live);
    // Both frames (plain and compressed) fit in the bytes of about two
    // copies of the message: no per-member copy.
    assert!(many_live < 2 * 1200, "{many_live} bytes");

    // And the clients read the message back.
    block_on(async {
        let room = "/room".to_string();
        let mut members = members;
        let (mut member, mut client) = members.pop().unwrap();
        drop(members);
        hub.publish(&room, Message::text("last"));
        let server = async { while member.next_event().await.is_some() {} };
        let peer = async {
            assert_eq!(client.recv().await.unwrap().unwrap(), payload());
            assert_eq!(client.recv().await.unwrap().unwrap(), payload());
            assert_eq!(client.recv().await.unwrap().unwrap(), Message::text("last"));
            client
                .close(wscore_driver::CloseCode::NORMAL, "")
                .await
                .unwrap();
        };
        futures::join!(server, peer);
    });
}

#[test]
fn members_that_keep_a_compression_context_compress_their_own_copy_on_their_task() {
    let _guard = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    let hub: Hub = Hub::new(HubConfig::default());
    let members = deflate_members(&hub, 100, false);
    let (allocations, live) = one_publish(&hub);
    // Nothing is compressed by the publish: each member compresses when
    // its socket takes the message, in order with its other messages.
    assert!(allocations <= 3, "{allocations} allocations");
    assert!(live < 1200, "{live} bytes");
    drop(members);
}
