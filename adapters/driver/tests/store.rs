//! The file-system attachment store: values round-trip, survive a
//! reopen, move on adoption, and a refused or failed write keeps the old
//! value.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use wscore_driver::store::{AttachmentKey, AttachmentStore, FsStore, DEFAULT_MAX_LEN};

/// A fresh directory under the system's temporary directory, removed on
/// drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("wscore-store-{name}-{}-{n}", std::process::id()));
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

fn att_path(dir: &Path, key: AttachmentKey) -> PathBuf {
    dir.join(format!("{key}.att"))
}

/// Files in `dir` other than attachments, the epoch file and the lock.
fn stray_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != "epoch" && n != "lock" && !n.ends_with(".att"))
        .collect();
    names.sort();
    names
}

#[test]
fn a_saved_value_loads_back() {
    let dir = TempDir::new("round-trip");
    let store = FsStore::open(dir.path()).unwrap();
    let key = store.new_key().unwrap();
    assert_eq!(store.load(key).unwrap(), None);
    store.save(key, b"alice").unwrap();
    assert_eq!(store.load(key).unwrap().as_deref(), Some(&b"alice"[..]));
    store.save(key, b"").unwrap();
    assert_eq!(store.load(key).unwrap().as_deref(), Some(&b""[..]));
    assert!(stray_files(dir.path()).is_empty());
}

#[test]
fn a_save_replaces_the_previous_value() {
    let dir = TempDir::new("overwrite");
    let store = FsStore::open(dir.path()).unwrap();
    let key = store.new_key().unwrap();
    store.save(key, b"a much longer first value").unwrap();
    store.save(key, b"short").unwrap();
    assert_eq!(store.load(key).unwrap().as_deref(), Some(&b"short"[..]));
    let n = 200;
    // Wall time, only to report what the store costs.
    #[allow(clippy::disallowed_methods)]
    let started = Instant::now();
    for i in 0..n {
        store.save(key, format!("{i:064}").as_bytes()).unwrap();
    }
    eprintln!(
        "save of a 64-byte value: {:?} each ({n} saves)",
        started.elapsed() / n
    );
    assert_eq!(
        store.load(key).unwrap(),
        Some(format!("{:064}", n - 1).into_bytes())
    );
    assert_eq!(store.list().unwrap(), vec![key]);
    assert!(stray_files(dir.path()).is_empty());
}

#[test]
fn delete_removes_the_value_and_absent_keys_are_fine() {
    let dir = TempDir::new("delete");
    let store = FsStore::open(dir.path()).unwrap();
    let (kept, gone, never) = (
        store.new_key().unwrap(),
        store.new_key().unwrap(),
        store.new_key().unwrap(),
    );
    store.save(kept, b"kept").unwrap();
    store.save(gone, b"gone").unwrap();
    store.delete(gone).unwrap();
    store.delete(gone).unwrap();
    store.delete(never).unwrap();
    assert_eq!(store.load(gone).unwrap(), None);
    assert!(!att_path(dir.path(), gone).exists());
    assert_eq!(store.list().unwrap(), vec![kept]);
}

#[test]
fn a_reopened_store_lists_the_leftovers_and_removes_stray_temporaries() {
    let dir = TempDir::new("reopen");
    let store = FsStore::open(dir.path()).unwrap();
    let keys: Vec<_> = (0..5).map(|_| store.new_key().unwrap()).collect();
    for (i, &key) in keys.iter().enumerate() {
        store.save(key, format!("value {i}").as_bytes()).unwrap();
    }
    store.delete(keys[2]).unwrap();
    let epoch = store.epoch();
    drop(store);
    // What a crash between write and rename leaves, and a file of
    // someone else's that happens to look similar.
    let stray = format!("{}.tmp.3", keys[0]);
    fs::write(dir.path().join(&stray), b"half a value").unwrap();
    fs::write(dir.path().join("epoch.tmp.0"), b"half an epoch").unwrap();
    fs::write(dir.path().join("notes.tmp.1"), b"not ours").unwrap();
    assert_eq!(
        stray_files(dir.path()),
        [stray.as_str(), "epoch.tmp.0", "notes.tmp.1"]
            .iter()
            .map(|s| s.to_string())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
    );

    let store = FsStore::open(dir.path()).unwrap();
    assert!(store.epoch() > epoch);
    let expected: Vec<_> = keys.iter().copied().filter(|&k| k != keys[2]).collect();
    assert_eq!(store.list().unwrap(), expected);
    assert_eq!(
        store.load(keys[4]).unwrap().as_deref(),
        Some(&b"value 4"[..])
    );
    assert_eq!(stray_files(dir.path()), vec!["notes.tmp.1".to_owned()]);
}

#[test]
fn adopt_moves_the_value_and_deletes_the_old_key() {
    let dir = TempDir::new("adopt");
    let store = FsStore::open(dir.path()).unwrap();
    let old = store.new_key().unwrap();
    store.save(old, b"session 7").unwrap();
    drop(store);

    let store = FsStore::open(dir.path()).unwrap();
    let new = store.new_key().unwrap();
    store.save(new, b"to be replaced").unwrap();
    assert_eq!(
        store.adopt(old, new).unwrap().as_deref(),
        Some(&b"session 7"[..])
    );
    assert_eq!(store.load(old).unwrap(), None);
    assert!(!att_path(dir.path(), old).exists());
    assert_eq!(store.load(new).unwrap().as_deref(), Some(&b"session 7"[..]));
    assert_eq!(store.list().unwrap(), vec![new]);
    // Adopting onto itself changes nothing.
    assert_eq!(
        store.adopt(new, new).unwrap().as_deref(),
        Some(&b"session 7"[..])
    );
    assert_eq!(store.list().unwrap(), vec![new]);
}

#[test]
fn adopting_a_key_without_a_value_is_none_and_changes_nothing() {
    let dir = TempDir::new("adopt-absent");
    let store = FsStore::open(dir.path()).unwrap();
    let (absent, to) = (store.new_key().unwrap(), store.new_key().unwrap());
    store.save(to, b"mine").unwrap();
    assert_eq!(store.adopt(absent, to).unwrap(), None);
    assert_eq!(store.load(to).unwrap().as_deref(), Some(&b"mine"[..]));
    assert_eq!(store.list().unwrap(), vec![to]);
}

#[test]
fn a_second_store_on_an_open_directory_is_refused_until_the_first_is_dropped() {
    let dir = TempDir::new("locked");
    let store = FsStore::open(dir.path()).unwrap();
    let key = store.new_key().unwrap();
    store.save(key, b"mine").unwrap();
    let err = FsStore::open(dir.path()).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::WouldBlock, "{err}");
    // The refused open changed nothing.
    assert_eq!(store.load(key).unwrap().as_deref(), Some(&b"mine"[..]));
    let fresh = store.new_key().unwrap();
    store.save(fresh, b"still mine").unwrap();
    drop(store);
    let store = FsStore::open(dir.path()).unwrap();
    assert_eq!(store.list().unwrap(), vec![key, fresh]);
}

#[test]
fn keys_never_repeat_across_reopens() {
    let dir = TempDir::new("unique");
    let mut seen = HashSet::new();
    let mut total = 0;
    for open in 0..3 {
        let store = FsStore::open(dir.path()).unwrap();
        let n = if open == 2 { 3_334 } else { 3_333 };
        for _ in 0..n {
            assert!(seen.insert(store.new_key().unwrap()), "repeated key");
            total += 1;
        }
        // A key left on disk by one open; the next must not reissue it
        // even if the epoch file were lost.
        store.save(store.new_key().unwrap(), b"x").unwrap();
    }
    assert_eq!(total, 10_000);
    assert_eq!(seen.len(), 10_000);

    // An epoch file rolled back (or lost) still cannot make keys repeat:
    // the epochs of the attachments on disk count too.
    let newest = FsStore::open(dir.path()).unwrap();
    let last = newest.new_key().unwrap();
    newest.save(last, b"newest").unwrap();
    drop(newest);
    fs::remove_file(dir.path().join("epoch")).unwrap();
    let store = FsStore::open(dir.path()).unwrap();
    assert!(store.new_key().unwrap() > last);
}

#[test]
fn ten_thousand_leftovers_among_junk_are_listed_exactly() {
    let dir = TempDir::new("leftovers");
    let store = FsStore::open(dir.path()).unwrap();
    let sample = store.new_key().unwrap();
    store.save(sample, b"leftover").unwrap();
    let encoded = fs::read(att_path(dir.path(), sample)).unwrap();
    let mut keys = vec![sample];
    // Two fsyncs a save would make this slow for nothing: the files are
    // copies of a real one, as a crash would leave them.
    for _ in 1..10_000 {
        let key = store.new_key().unwrap();
        fs::write(att_path(dir.path(), key), &encoded).unwrap();
        keys.push(key);
    }
    let distinct = store.new_key().unwrap();
    store.save(distinct, b"the one to adopt").unwrap();
    keys.push(distinct);
    // Three of them damaged: one torn, one with a flipped payload byte,
    // one not an attachment at all.
    let (torn, flipped, garbage) = (keys[100], keys[200], keys[300]);
    fs::write(att_path(dir.path(), garbage), b"garbage").unwrap();
    fs::write(att_path(dir.path(), torn), &encoded[..encoded.len() - 3]).unwrap();
    let mut damaged = encoded.clone();
    *damaged.last_mut().unwrap() ^= 0x20;
    fs::write(att_path(dir.path(), flipped), &damaged).unwrap();
    // Junk: not attachments, whatever they contain.
    fs::write(dir.path().join("notes.txt"), b"remember the milk").unwrap();
    fs::write(dir.path().join("x.att"), b"garbage").unwrap();
    fs::write(dir.path().join(format!("{}.att.bak", keys[5])), &encoded).unwrap();
    fs::write(
        dir.path().join("0000000000000001-000000000000002A.att"),
        &encoded,
    )
    .unwrap();
    let lookalike_dir = AttachmentKey::new(store.epoch(), u64::MAX - 1);
    fs::create_dir(att_path(dir.path(), lookalike_dir)).unwrap();
    fs::create_dir(dir.path().join("subdir")).unwrap();
    drop(store);

    // Wall time, only to report what the store costs.

    #[allow(clippy::disallowed_methods)]
    let started = Instant::now();
    let store = FsStore::open(dir.path()).unwrap();
    keys.sort();
    let listed = store.list().unwrap();
    assert_eq!(listed.len(), 10_001);
    assert_eq!(listed, keys);
    eprintln!("open + list of 10 001 leftovers: {:?}", started.elapsed());

    for key in [torn, flipped, garbage] {
        let err = store.load(key).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
        // A damaged value is refused, not moved on.
        let to = store.new_key().unwrap();
        assert_eq!(
            store.adopt(key, to).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        assert_eq!(store.load(to).unwrap(), None);
    }
    assert!(store.load(lookalike_dir).is_err());

    let to = store.new_key().unwrap();
    assert_eq!(
        store.adopt(distinct, to).unwrap().as_deref(),
        Some(&b"the one to adopt"[..])
    );
    let to2 = store.new_key().unwrap();
    assert_eq!(
        store.adopt(keys[7], to2).unwrap().as_deref(),
        Some(&b"leftover"[..])
    );
    let listed = store.list().unwrap();
    assert_eq!(listed.len(), 10_001);
    assert!(listed.contains(&to) && listed.contains(&to2));
    assert!(!listed.contains(&distinct) && !listed.contains(&keys[7]));
    assert!(dir.path().join("notes.txt").exists() && dir.path().join("x.att").exists());
}

#[test]
fn an_oversized_value_is_refused_and_the_old_one_kept() {
    let dir = TempDir::new("oversized");
    let store = FsStore::open(dir.path()).unwrap();
    let key = store.new_key().unwrap();
    store.save(key, &[7; DEFAULT_MAX_LEN]).unwrap();
    let err = store.save(key, &[8; DEFAULT_MAX_LEN + 1]).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert_eq!(store.load(key).unwrap(), Some(vec![7; DEFAULT_MAX_LEN]));
    drop(store);

    let small = FsStore::open(dir.path()).unwrap().with_max_len(4);
    let key = small.new_key().unwrap();
    small.save(key, b"four").unwrap();
    assert_eq!(
        small.save(key, b"fives").unwrap_err().kind(),
        io::ErrorKind::InvalidInput
    );
    assert_eq!(small.load(key).unwrap().as_deref(), Some(&b"four"[..]));
    assert!(stray_files(dir.path()).is_empty());
}

/// Set in the child that runs [`a_failed_write_keeps_the_old_value`] with
/// a file-size limit: the directory and key to write to.
#[cfg(unix)]
const FULL_DISK_ENV: &str = "WSCORE_STORE_FULL_DISK";

#[cfg(unix)]
#[test]
fn a_failed_write_keeps_the_old_value() {
    if let Ok(spec) = std::env::var(FULL_DISK_ENV) {
        return full_disk_child(&spec);
    }
    let dir = TempDir::new("full-disk");
    let store = FsStore::open(dir.path()).unwrap();
    let key = store.new_key().unwrap();
    store.save(key, b"old value").unwrap();
    drop(store);

    let mut child = std::process::Command::new(std::env::current_exe().unwrap());
    let out = run_child(
        &mut child,
        "a_failed_write_keeps_the_old_value",
        FULL_DISK_ENV,
        format!("{}|{key}", dir.path().display()),
    );
    refused_in(&out);

    // Before a reopen, which would clean up after a careless save.
    assert!(
        stray_files(dir.path()).is_empty(),
        "{:?}",
        stray_files(dir.path())
    );
    let store = FsStore::open(dir.path()).unwrap();
    assert_eq!(store.load(key).unwrap().as_deref(), Some(&b"old value"[..]));
}

/// With files capped at 1 KiB (and SIGXFSZ ignored, so the write fails
/// with EFBIG instead of killing the process), a 4 KiB save must fail
/// and leave the old value, and no temporary file, behind.
#[cfg(unix)]
#[allow(unsafe_code)]
fn full_disk_child(spec: &str) {
    let (dir, key) = spec.split_once('|').unwrap();
    let key: AttachmentKey = key.parse().unwrap();
    let store = FsStore::open(dir).unwrap();
    let limit = libc::rlimit {
        rlim_cur: 1024,
        rlim_max: 1024,
    };
    // SAFETY: plain system calls on this process, with valid arguments.
    unsafe {
        assert_ne!(libc::signal(libc::SIGXFSZ, libc::SIG_IGN), libc::SIG_ERR);
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &limit), 0);
    }
    let err = store.save(key, &[b'n'; 4096]).unwrap_err();
    println!("save refused: {err} ({:?})", err.kind());
    assert_eq!(store.load(key).unwrap().as_deref(), Some(&b"old value"[..]));
    // A small value still fits: the store is not left broken.
    let other = store.new_key().unwrap();
    store.save(other, b"fits").unwrap();
    store.delete(other).unwrap();
}

/// Set in the child that runs
/// [`a_read_only_directory_refuses_the_write_and_keeps_the_old_value`]:
/// the store's directory.
#[cfg(unix)]
const READ_ONLY_ENV: &str = "WSCORE_STORE_READ_ONLY";

/// The unprivileged user (and group) a root parent runs that child as.
#[cfg(unix)]
const NOBODY: u32 = 65534;

#[cfg(unix)]
#[test]
#[allow(unsafe_code)]
fn a_read_only_directory_refuses_the_write_and_keeps_the_old_value() {
    use std::os::unix::process::CommandExt;

    if let Ok(dir) = std::env::var(READ_ONLY_ENV) {
        return read_only_child(&dir);
    }
    let dir = TempDir::new("read-only");
    fs::create_dir_all(dir.path()).unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap());
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        // Root writes into any directory: the child runs as an
        // unprivileged user that owns the store's directory (so it can
        // make it read-only itself), from a copy of this executable that
        // user can reach wherever the checkout is.
        use std::os::unix::fs::PermissionsExt;
        let bin = TempDir::new("read-only-bin");
        fs::create_dir_all(bin.path()).unwrap();
        let exe = bin.path().join("store-test");
        fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
        fs::set_permissions(bin.path(), fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(&exe, fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::chown(dir.path(), Some(NOBODY), Some(NOBODY)).unwrap();
        child = std::process::Command::new(&exe);
        child.uid(NOBODY).gid(NOBODY);
        let out = run_read_only_child(&mut child, dir.path());
        drop(bin);
        check_read_only_child(&out, dir.path());
    } else {
        let out = run_read_only_child(&mut child, dir.path());
        check_read_only_child(&out, dir.path());
    }
}

/// Runs one test of this executable as `child` (a command for it, or for
/// a copy of it) with `var` set to `value`, and waits for it.
#[cfg(unix)]
fn run_child(
    child: &mut std::process::Command,
    test: &str,
    var: &str,
    value: impl AsRef<std::ffi::OsStr>,
) -> std::process::Output {
    child
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(var, value);
    // A copied executable can be briefly "busy": another test's fork may
    // still hold the descriptor the copy was written through, until that
    // child execs.
    for _ in 0..50 {
        match child.output() {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            out => return out.unwrap(),
        }
    }
    child.output().unwrap()
}

/// The output of a child that must have succeeded and had a save refused.
#[cfg(unix)]
fn refused_in(out: &std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The harness may print the test's name on the same line first.
    let refused = stdout
        .lines()
        .find_map(|l| l.find("save refused:").map(|at| &l[at..]));
    assert!(refused.is_some(), "{stdout}");
    eprintln!("{}", refused.unwrap_or_default());
    stdout
}

#[cfg(unix)]
fn run_read_only_child(child: &mut std::process::Command, dir: &Path) -> std::process::Output {
    run_child(
        child,
        "a_read_only_directory_refuses_the_write_and_keeps_the_old_value",
        READ_ONLY_ENV,
        dir,
    )
}

#[cfg(unix)]
fn check_read_only_child(out: &std::process::Output, dir: &Path) {
    let stdout = refused_in(out);
    let key: AttachmentKey = stdout
        .lines()
        // The harness may print the test's name on the same line first.
        .find_map(|l| l.split_once("key ").map(|(_, key)| key))
        .and_then(|k| k.parse().ok())
        .expect("the child names its key");
    assert!(stray_files(dir).is_empty(), "{:?}", stray_files(dir));
    let store = FsStore::open(dir).unwrap();
    assert_eq!(store.load(key).unwrap().as_deref(), Some(&b"recovered"[..]));
}

/// In a directory made read-only after the store opened it, saves fail
/// with the system's error and leave the old value; once writable again,
/// the same store saves again.
#[cfg(unix)]
fn read_only_child(dir: &str) {
    use std::os::unix::fs::PermissionsExt;

    let store = FsStore::open(dir).unwrap();
    let key = store.new_key().unwrap();
    println!("key {key}");
    store.save(key, b"old value").unwrap();
    fs::set_permissions(dir, fs::Permissions::from_mode(0o555)).unwrap();
    let err = store.save(key, b"new value").unwrap_err();
    println!("save refused: {err} ({:?})", err.kind());
    assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
    let other = store.new_key().unwrap();
    assert!(store.save(other, b"elsewhere").is_err());
    assert_eq!(store.load(key).unwrap().as_deref(), Some(&b"old value"[..]));
    assert_eq!(store.load(other).unwrap(), None);
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
    store.save(key, b"recovered").unwrap();
}

#[test]
fn concurrent_saves_leave_one_whole_value() {
    let dir = TempDir::new("concurrent");
    let store = FsStore::open(dir.path()).unwrap();
    let key = store.new_key().unwrap();
    let values: Vec<Vec<u8>> = (0..4u8).map(|t| vec![t; 1000 + usize::from(t)]).collect();
    let values = &values;
    std::thread::scope(|s| {
        for value in values {
            let store = &store;
            s.spawn(move || {
                for _ in 0..20 {
                    store.save(key, value).unwrap();
                    let seen = store.load(key).unwrap().unwrap();
                    assert!(values.contains(&seen), "a mixture of two saves");
                }
            });
        }
    });
    assert!(values.contains(&store.load(key).unwrap().unwrap()));
    assert!(stray_files(dir.path()).is_empty());
}
