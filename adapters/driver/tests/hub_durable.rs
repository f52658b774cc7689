//! A hub with a store: attachments written to disk before they count,
//! moved to a reconnecting client's new connection, deleted by a clean
//! close and kept by any other end.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use wscore_driver::hub::{closed_cleanly, DurableError, Hub, HubConfig, Member};
use wscore_driver::store::{AttachmentKey, AttachmentStore, FsStore};
use wscore_driver::testing::{block_on, pipe, ManualTimer, PipeEnd};
use wscore_driver::{ClientRequest, CloseCode, Config, Error, Message, Role, Socket};

type Ws = Socket<PipeEnd, ManualTimer>;
type Hubbed = Member<PipeEnd, ManualTimer>;

/// A fresh directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "wscore-hub-durable-{name}-{}-{n}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&path);
        Self(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn store_in(dir: &TempDir) -> Arc<dyn AttachmentStore> {
    Arc::new(FsStore::open(dir.path()).unwrap())
}

fn member(hub: &Hub) -> (Hubbed, Ws) {
    let (server_io, client_io) = pipe(1 << 16);
    let server = Ws::from_upgraded(server_io, Role::Server, Config::default()).unwrap();
    let client = Ws::from_upgraded(client_io, Role::Client, Config::default()).unwrap();
    (hub.attach(server, ["/".to_string()]).unwrap(), client)
}

/// An `FsStore` whose saves fail while `failing` is set.
struct Flaky {
    inner: FsStore,
    failing: AtomicBool,
}

impl AttachmentStore for Flaky {
    fn new_key(&self) -> io::Result<AttachmentKey> {
        self.inner.new_key()
    }
    fn save(&self, key: AttachmentKey, value: &[u8]) -> io::Result<()> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(io::Error::other("disk full"));
        }
        self.inner.save(key, value)
    }
    fn load(&self, key: AttachmentKey) -> io::Result<Option<Vec<u8>>> {
        self.inner.load(key)
    }
    fn delete(&self, key: AttachmentKey) -> io::Result<()> {
        self.inner.delete(key)
    }
    fn list(&self) -> io::Result<Vec<AttachmentKey>> {
        self.inner.list()
    }
    fn adopt(&self, from: AttachmentKey, to: AttachmentKey) -> io::Result<Option<Vec<u8>>> {
        self.inner.adopt(from, to)
    }
}

/// A store with no key to give.
struct Exhausted;

impl AttachmentStore for Exhausted {
    fn new_key(&self) -> io::Result<AttachmentKey> {
        Err(io::Error::other("no key left"))
    }
    fn save(&self, _: AttachmentKey, _: &[u8]) -> io::Result<()> {
        Ok(())
    }
    fn load(&self, _: AttachmentKey) -> io::Result<Option<Vec<u8>>> {
        Ok(None)
    }
    fn delete(&self, _: AttachmentKey) -> io::Result<()> {
        Ok(())
    }
    fn list(&self) -> io::Result<Vec<AttachmentKey>> {
        Ok(Vec::new())
    }
    fn adopt(&self, _: AttachmentKey, _: AttachmentKey) -> io::Result<Option<Vec<u8>>> {
        Ok(None)
    }
}

/// Runs the member until its connection ends while `client` does its part.
fn run_until_end(member: &mut Hubbed, client: impl std::future::Future<Output = ()>) {
    block_on(async {
        futures::join!(
            async { while member.next_event().await.is_some() {} },
            client
        )
    });
}

#[test]
fn a_saved_attachment_is_in_memory_and_on_disk_after_a_reopen() {
    let dir = TempDir::new("save");
    let hub: Hub = Hub::with_store(HubConfig::default(), store_in(&dir));
    let (ann, _client) = member(&hub);
    let key = hub.attachment_key(ann.id()).unwrap();
    hub.save_attachment_blocking(ann.id(), &b"count 3"[..])
        .unwrap();
    assert_eq!(ann.attachment(), Some(Bytes::from_static(b"count 3")));
    // The store stays open, and its directory locked, while anything
    // holds the hub.
    drop((hub, ann));

    let reopened = FsStore::open(dir.path()).unwrap();
    assert_eq!(reopened.load(key).unwrap(), Some(b"count 3".to_vec()));
}

#[test]
fn a_failed_save_keeps_the_old_value_in_memory_and_on_disk_and_the_member_up() {
    let dir = TempDir::new("flaky");
    let flaky = Arc::new(Flaky {
        inner: FsStore::open(dir.path()).unwrap(),
        failing: AtomicBool::new(false),
    });
    let hub: Hub = Hub::with_store(HubConfig::default(), flaky.clone());
    let (mut ann, mut client) = member(&hub);
    let id = ann.id();
    let key = hub.attachment_key(id).unwrap();
    hub.save_attachment_blocking(id, &b"old"[..]).unwrap();

    flaky.failing.store(true, Ordering::SeqCst);
    let failed = hub.save_attachment_blocking(id, &b"new"[..]);
    assert!(matches!(failed, Err(DurableError::Store(_))), "{failed:?}");
    assert_eq!(hub.attachment(id), Some(Bytes::from_static(b"old")));
    assert_eq!(flaky.load(key).unwrap(), Some(b"old".to_vec()));

    // The connection is still up: it carries a message both ways.
    assert_eq!(hub.send(id, Message::text("still here")).unwrap().queued, 1);
    block_on(async {
        futures::join!(
            async {
                while let Some(Ok(event)) = ann.next_event().await {
                    if let wscore_driver::Event::Message(m) = event {
                        assert_eq!(m, Message::text("ping"));
                        break;
                    }
                }
            },
            async {
                assert_eq!(
                    client.recv().await.unwrap().unwrap(),
                    Message::text("still here")
                );
                client.send(Message::text("ping")).await.unwrap();
            },
        )
    });
    assert_eq!(hub.member_count(), 1);
    flaky.failing.store(false, Ordering::SeqCst);
    hub.save_attachment_blocking(id, &b"new"[..]).unwrap();
    assert_eq!(flaky.load(key).unwrap(), Some(b"new".to_vec()));
}

#[test]
fn a_save_past_the_bound_or_for_a_departed_member_writes_nothing() {
    let dir = TempDir::new("refused");
    let hub: Hub = Hub::with_store(HubConfig::default().max_attachment_len(4), store_in(&dir));
    let (ann, _client) = member(&hub);
    let id = ann.id();
    let key = hub.attachment_key(id).unwrap();
    assert!(matches!(
        hub.save_attachment_blocking(id, &b"12345"[..]),
        Err(DurableError::TooLarge { len: 5, max: 4 })
    ));
    drop(ann);
    assert_eq!(hub.attachment_key(id), None);
    assert!(matches!(
        hub.save_attachment_blocking(id, &b"1"[..]),
        Err(DurableError::UnknownMember)
    ));
    assert_eq!(hub.store().unwrap().load(key).unwrap(), None);

    let plain: Hub = Hub::new(HubConfig::default());
    let (bob, _client) = member(&plain);
    assert_eq!(plain.attachment_key(bob.id()), None);
    assert!(matches!(
        plain.save_attachment_blocking(bob.id(), &b"1"[..]),
        Err(DurableError::NoStore)
    ));
}

#[test]
fn adopting_moves_the_value_to_the_new_member_and_deletes_the_prior_key() {
    let dir = TempDir::new("adopt");
    let hub: Hub = Hub::with_store(HubConfig::default(), store_in(&dir));
    let (first, _gone) = member(&hub);
    let prior = hub.attachment_key(first.id()).unwrap();
    hub.save_attachment_blocking(first.id(), &b"count 3"[..])
        .unwrap();

    let (second, _client) = member(&hub);
    let key = hub.attachment_key(second.id()).unwrap();
    // The prior connection is still in the hub: its value is its own.
    assert!(matches!(
        hub.adopt_attachment_blocking(second.id(), prior),
        Err(DurableError::InUse)
    ));
    drop(first);
    assert_eq!(hub.stored_keys_blocking().unwrap(), vec![prior]);

    let adopted = hub.adopt_attachment_blocking(second.id(), prior).unwrap();
    assert_eq!(adopted, Some(Bytes::from_static(b"count 3")));
    assert_eq!(second.attachment(), adopted);
    let store = hub.store().unwrap();
    assert_eq!(store.load(prior).unwrap(), None);
    assert_eq!(store.load(key).unwrap(), Some(b"count 3".to_vec()));
    assert_eq!(store.list().unwrap(), vec![key]);
    // The member's own file is not a leftover.
    assert!(hub.stored_keys_blocking().unwrap().is_empty());

    // A second claim of the same key finds nothing.
    assert_eq!(
        hub.adopt_attachment_blocking(second.id(), prior).unwrap(),
        None
    );
    assert_eq!(second.attachment(), adopted);
}

#[test]
fn a_clean_close_deletes_the_file() {
    let dir = TempDir::new("clean");
    let hub: Hub = Hub::with_store(HubConfig::default(), store_in(&dir));
    let (mut ann, mut client) = member(&hub);
    let key = hub.attachment_key(ann.id()).unwrap();
    hub.save_attachment_blocking(ann.id(), &b"v"[..]).unwrap();

    // Not while the member is in the hub.
    assert!(matches!(
        hub.end_attachment_blocking(key, None),
        Err(DurableError::InUse)
    ));
    run_until_end(&mut ann, async {
        client.close(CloseCode::NORMAL, "bye").await.unwrap();
    });
    assert!(closed_cleanly(ann.socket().closed()));
    assert_eq!(hub.member_count(), 0);
    assert!(hub
        .end_attachment_blocking(key, ann.socket().closed())
        .unwrap());
    assert_eq!(hub.store().unwrap().list().unwrap(), vec![]);
}

#[test]
fn an_abnormal_end_keeps_the_file_for_the_client_to_adopt() {
    let dir = TempDir::new("abnormal");
    let hub: Hub = Hub::with_store(HubConfig::default(), store_in(&dir));
    let (mut ann, client) = member(&hub);
    let key = hub.attachment_key(ann.id()).unwrap();
    hub.save_attachment_blocking(ann.id(), &b"v"[..]).unwrap();

    run_until_end(&mut ann, async {
        client.get_ref().hang_up();
    });
    assert_eq!(hub.member_count(), 0);
    let closed = ann.socket().closed();
    assert_eq!(closed.map(|c| c.code), Some(CloseCode::ABNORMAL));
    assert!(!closed_cleanly(closed));
    assert!(!hub.end_attachment_blocking(key, closed).unwrap());
    assert_eq!(hub.stored_keys_blocking().unwrap(), vec![key]);

    // Discarded on purpose, the leftover is gone.
    assert!(hub.discard_attachment_blocking(key).unwrap());
    assert!(hub.stored_keys_blocking().unwrap().is_empty());
}

#[test]
fn keys_are_unique_across_a_reopen_of_the_store() {
    let dir = TempDir::new("unique");
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..3 {
        let hub: Hub = Hub::with_store(HubConfig::default(), store_in(&dir));
        let members: Vec<_> = (0..4).map(|_| member(&hub)).collect();
        for (m, _) in &members {
            assert!(seen.insert(hub.attachment_key(m.id()).unwrap()));
        }
    }
    assert_eq!(seen.len(), 12);
}

#[test]
fn a_store_without_keys_refuses_members_with_503_before_the_upgrade() {
    let hub: Hub = Hub::with_store(HubConfig::default(), Arc::new(Exhausted));
    let (server_io, _client_io) = pipe(1 << 16);
    let server = Ws::from_upgraded(server_io, Role::Server, Config::default()).unwrap();
    assert!(hub.attach(server, ["/".to_string()]).is_err());

    let (a, b) = pipe(4096);
    block_on(async {
        let request = ClientRequest::new("localhost", "/");
        let (refused, client) = futures::join!(
            hub.accept::<_, ManualTimer>(a, Config::default()),
            Ws::client(b, request, Config::default()),
        );
        assert!(matches!(refused, Err(Error::Rejected(503))), "{refused:?}");
        assert!(client.is_err());
    });
    assert_eq!(hub.member_count(), 0);
}

/// An `FsStore` whose saves wait until released, to hold a write open.
struct Gated {
    inner: FsStore,
    entered: std::sync::mpsc::SyncSender<()>,
    release: std::sync::Mutex<std::sync::mpsc::Receiver<()>>,
}

impl AttachmentStore for Gated {
    fn new_key(&self) -> io::Result<AttachmentKey> {
        self.inner.new_key()
    }
    fn save(&self, key: AttachmentKey, value: &[u8]) -> io::Result<()> {
        let _ = self.entered.send(());
        let _ = self.release.lock().unwrap().recv();
        self.inner.save(key, value)
    }
    fn load(&self, key: AttachmentKey) -> io::Result<Option<Vec<u8>>> {
        self.inner.load(key)
    }
    fn delete(&self, key: AttachmentKey) -> io::Result<()> {
        self.inner.delete(key)
    }
    fn list(&self) -> io::Result<Vec<AttachmentKey>> {
        self.inner.list()
    }
    fn adopt(&self, from: AttachmentKey, to: AttachmentKey) -> io::Result<Option<Vec<u8>>> {
        self.inner.adopt(from, to)
    }
}

#[test]
fn a_clean_end_waits_for_a_save_in_flight_and_leaves_no_file() {
    let dir = TempDir::new("race");
    let (entered_tx, entered) = std::sync::mpsc::sync_channel(1);
    let (release, release_rx) = std::sync::mpsc::channel();
    let store = Arc::new(Gated {
        inner: FsStore::open(dir.path()).unwrap(),
        entered: entered_tx,
        release: std::sync::Mutex::new(release_rx),
    });
    let hub: Hub = Hub::with_store(HubConfig::default(), store.clone());
    let (ann, _client) = member(&hub);
    let (id, key) = (ann.id(), hub.attachment_key(ann.id()).unwrap());

    let saver = {
        let hub = hub.clone();
        std::thread::spawn(move || hub.save_attachment_blocking(id, &b"late"[..]))
    };
    entered.recv().unwrap();
    // The member leaves while its value is being written, after a clean
    // close; the end must not run before the write it would undo.
    drop(ann);
    let ender = {
        let hub = hub.clone();
        std::thread::spawn(move || {
            let clean = wscore_driver::Closed {
                code: CloseCode::NORMAL,
                reason: String::new(),
                cause: wscore_driver::CloseCause::Remote,
            };
            hub.end_attachment_blocking(key, Some(&clean))
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(50));
    release.send(()).unwrap();
    assert!(matches!(
        saver.join().unwrap(),
        Err(DurableError::UnknownMember)
    ));
    assert!(ender.join().unwrap().unwrap());
    assert_eq!(store.list().unwrap(), vec![]);
}
