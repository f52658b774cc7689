//! The file-system store under SIGKILL: a child process rewrites a few
//! attachments as fast as it can and is killed at a random moment, 200
//! times; after every kill each attachment must decode as a complete
//! value no older than the last one the child acknowledged.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use wscore_driver::store::{AttachmentKey, AttachmentStore, FsStore};

/// Set in the child: `<dir>|<key>,<key>,…`, the store and the keys to
/// rewrite.
const WRITER_ENV: &str = "WSCORE_STORE_CRASH_WRITER";
/// Overrides the seed of the kill schedule, to replay a failing run.
const SEED_ENV: &str = "WSCORE_STORE_CRASH_SEED";
const TEST_NAME: &str = "values_survive_sigkill_whole_and_no_older_than_acknowledged";
const KILLS: u32 = 200;
const KEYS: usize = 5;

/// xorshift64*: a reproducible kill schedule without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The value of `key` at `version`: its key and version in text, then a
/// filler whose length and byte both depend on the version (up to about
/// 8 KiB, so a save spans several pages and a torn file would show).
fn value_of(key: AttachmentKey, version: u64) -> Vec<u8> {
    let mut value = format!("{key} {version} ").into_bytes();
    let filler_len = (version * 997 % 8_000) as usize;
    value.resize(value.len() + filler_len, b'a' + (version % 26) as u8);
    value
}

/// The version in `value`, checking that every byte of it is what
/// [`value_of`] writes for that key and version.
fn version_in(key: AttachmentKey, value: &[u8]) -> u64 {
    let text = String::from_utf8_lossy(&value[..value.len().min(64)]).into_owned();
    let mut fields = text.split(' ');
    assert_eq!(
        fields.next(),
        Some(key.to_string().as_str()),
        "value of another key"
    );
    let version: u64 = fields
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no version in {text:?}"));
    assert!(
        value == value_of(key, version),
        "{key} v{version}: wrong bytes"
    );
    version
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wscore-store-crash-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

fn temporaries_in(dir: &Path) -> usize {
    fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            name.to_string_lossy().contains(".tmp.")
        })
        .count()
}

#[test]
fn values_survive_sigkill_whole_and_no_older_than_acknowledged() {
    if let Ok(spec) = std::env::var(WRITER_ENV) {
        return writer(&spec);
    }
    // Wall time, only to report what the store costs.
    #[allow(clippy::disallowed_methods)]
    let started = Instant::now();
    let seed = std::env::var(SEED_ENV)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_57a7_e000_0001_u64);
    let mut rng = Rng(seed | 1);
    let dir = temp_dir();

    let store = FsStore::open(&dir).unwrap();
    let mut last_epoch = store.epoch();
    let keys: Vec<AttachmentKey> = (0..KEYS).map(|_| store.new_key().unwrap()).collect();
    // The version on disk for each key: at least the last acknowledged.
    let mut on_disk: BTreeMap<AttachmentKey, u64> = BTreeMap::new();
    for &key in &keys {
        store.save(key, &value_of(key, 0)).unwrap();
        on_disk.insert(key, 0);
    }
    drop(store);
    let spec = format!(
        "{}|{}",
        dir.display(),
        keys.iter()
            .map(|k| k.to_string())
            .collect::<Vec<_>>()
            .join(",")
    );

    let (mut acked_total, mut unacked_survivors, mut kills_with_temporaries) = (0, 0, 0);
    let mut kills_before_ready = 0;
    for round in 0..KILLS {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", TEST_NAME, "--nocapture"])
            .env(WRITER_ENV, &spec)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut child_epoch = None;
        // Most kills land in the save loop; one in eight anywhere from
        // process start, the store's own open (its epoch claim) included.
        let during_open = rng.below(8) == 0;
        if !during_open {
            for line in lines.by_ref() {
                if let Some(epoch) = line.unwrap().strip_prefix("ready ") {
                    child_epoch = Some(epoch.parse::<u64>().unwrap());
                    break;
                }
            }
            assert!(
                child_epoch.is_some(),
                "round {round}: the writer never got ready"
            );
        }
        let pause = if during_open {
            // Process start and open take a few milliseconds.
            200 + rng.below(4_000)
        } else {
            1_000 + rng.below(29_000)
        };
        std::thread::sleep(Duration::from_micros(pause));
        child.kill().unwrap();
        child.wait().unwrap();

        let mut acked: BTreeMap<AttachmentKey, u64> = BTreeMap::new();
        for line in lines {
            let line = line.unwrap_or_default();
            if let Some(epoch) = line.strip_prefix("ready ") {
                child_epoch = epoch.parse().ok();
            }
            // Only whole lines count: the trailing "." proves the version
            // was not cut short by the kill.
            let fields: Vec<&str> = line.split(' ').collect();
            if let ["ok", key, version, "."] = fields[..] {
                let key: AttachmentKey = key.parse().unwrap();
                acked.insert(key, version.parse().unwrap());
                acked_total += 1;
            }
        }
        if let Some(epoch) = child_epoch {
            assert!(epoch > last_epoch, "round {round}: epoch {epoch} reused");
            last_epoch = epoch;
        } else {
            kills_before_ready += 1;
        }
        if temporaries_in(&dir) > 0 {
            kills_with_temporaries += 1;
        }

        let store = FsStore::open(&dir).unwrap();
        assert!(store.epoch() > last_epoch, "round {round}: epoch reused");
        last_epoch = store.epoch();
        assert_eq!(
            temporaries_in(&dir),
            0,
            "round {round}: open left temporaries"
        );
        assert_eq!(store.list().unwrap(), keys, "round {round}");
        for &key in &keys {
            let value = store
                .load(key)
                .unwrap_or_else(|e| panic!("round {round}: {key}: {e}"))
                .unwrap_or_else(|| panic!("round {round}: {key} lost"));
            let version = version_in(key, &value);
            let floor = acked.get(&key).copied().unwrap_or(on_disk[&key]);
            assert!(
                floor.max(on_disk[&key]) <= version && version <= floor + 1,
                "round {round}: {key} holds v{version}, acknowledged v{floor}"
            );
            if version == floor + 1 {
                unacked_survivors += 1;
            }
            on_disk.insert(key, version);
        }
    }
    let _ = fs::remove_dir_all(&dir);
    eprintln!(
        "{KILLS} kills (seed {seed:#x}) in {:?}: {acked_total} saves acknowledged, \
         {unacked_survivors} saved but unacknowledged values kept, \
         {kills_with_temporaries} kills left a temporary file, \
         {kills_before_ready} kills before the writer was ready",
        started.elapsed()
    );
    assert!(acked_total > 0, "no kill ever landed in the save loop");
}

/// The child: rewrites every key in turn with the next version,
/// acknowledging each save once it returned, until killed.
fn writer(spec: &str) {
    let (dir, keys) = spec.split_once('|').unwrap();
    let keys: Vec<AttachmentKey> = keys.split(',').map(|k| k.parse().unwrap()).collect();
    let store = FsStore::open(dir).unwrap();
    let mut versions: Vec<u64> = keys
        .iter()
        .map(|&k| version_in(k, &store.load(k).unwrap().unwrap()))
        .collect();
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready {}", store.epoch()).unwrap();
    out.flush().unwrap();
    loop {
        for (key, version) in keys.iter().zip(versions.iter_mut()) {
            *version += 1;
            store.save(*key, &value_of(*key, *version)).unwrap();
            writeln!(out, "ok {key} {version} .").unwrap();
            out.flush().unwrap();
        }
    }
}
