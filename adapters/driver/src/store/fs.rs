//! [`FsStore`]: attachments as files in one directory, written with
//! temporary file, `fsync`, `rename`, directory `fsync`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::format::{self, HEADER_LEN};
use super::key::{AttachmentKey, KEY_TEXT_LEN};
use super::lock::DirLock;
use super::AttachmentStore;

/// The default bound on one attachment: 16 KiB.
pub const DEFAULT_MAX_LEN: usize = 16 * 1024;

/// The file holding the last epoch claimed by an open of the directory.
const EPOCH_FILE: &str = "epoch";
/// The extension of an attachment's file: `<key>.att`.
const ATTACHMENT_EXT: &str = ".att";
/// The infix of a temporary file: `<key>.tmp.<n>` or `epoch.tmp.<n>`.
const TMP_INFIX: &str = ".tmp.";

/// Attachments kept as files in one directory, one `<key>.att` per key,
/// each written durably (see the [module documentation](super) for the
/// protocol, what a crash can leave and what it costs).
///
/// Every method blocks on file-system calls, `fsync` included: call it
/// from a blocking thread (`spawn_blocking` or a thread of its own), not
/// from an async task.
///
/// One `FsStore` per directory at a time: two stores open on the same
/// directory at once could claim the same epoch and hand out the same
/// keys, so on Unix an open store holds an exclusive lock on the
/// directory (a `flock` on its `lock` file) and a second
/// [`open`](FsStore::open) fails with `WouldBlock`. The kernel releases
/// the lock when the store is dropped or its process dies, so opening the
/// directory again after either is what it is made for.
#[derive(Debug)]
pub struct FsStore {
    dir: PathBuf,
    epoch: u64,
    next_seq: AtomicU64,
    next_tmp: AtomicU64,
    max_len: usize,
    /// Held while the store is open.
    _lock: DirLock,
}

impl FsStore {
    /// Opens the store in `dir`, creating the directory if needed: removes
    /// the temporary files a crash may have left, and durably claims a
    /// fresh epoch, so the keys of this open never repeat those of any
    /// earlier one (crashed or not).
    ///
    /// # Errors
    ///
    /// Any error of the file system; `WouldBlock` if another open store
    /// (in this process or another) holds the directory; `InvalidData` if
    /// the directory's epoch file is damaged (nothing in the store's own
    /// writes leaves it so), or if every epoch is used up.
    pub fn open(dir: impl Into<PathBuf>) -> io::Result<FsStore> {
        let dir = dir.into();
        fs::create_dir_all(&dir)?;
        let lock = DirLock::claim(&dir)?;
        let mut store = FsStore {
            dir,
            epoch: 0,
            next_seq: AtomicU64::new(0),
            next_tmp: AtomicU64::new(0),
            max_len: DEFAULT_MAX_LEN,
            _lock: lock,
        };
        let mut last_epoch = store.read_epoch()?;
        for entry in fs::read_dir(&store.dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if is_own_tmp(name) && entry.file_type()?.is_file() {
                remove_if_present(&entry.path())?;
            } else if let Some(key) = attachment_key(name) {
                // Keys on disk stay unique even if the epoch file was
                // replaced by an older copy.
                last_epoch = last_epoch.max(key.epoch());
            }
        }
        let epoch = last_epoch
            .checked_add(1)
            .ok_or_else(|| format::invalid("every epoch of this store is used up"))?;
        store.write_durably(EPOCH_FILE, EPOCH_FILE, &epoch.to_le_bytes())?;
        store.epoch = epoch;
        Ok(store)
    }

    /// Bounds one attachment to `bytes` (default [`DEFAULT_MAX_LEN`],
    /// 16 KiB): a longer [`save`](AttachmentStore::save) is refused with
    /// `InvalidInput` and the old value kept; a longer file is refused by
    /// [`load`](AttachmentStore::load) with `InvalidData` rather than read.
    #[must_use]
    pub fn with_max_len(mut self, bytes: usize) -> Self {
        self.max_len = bytes;
        self
    }

    /// The directory the store keeps its files in.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The epoch this open claimed: every key it hands out carries it.
    #[must_use]
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    fn read_epoch(&self) -> io::Result<u64> {
        let bytes = match self.read_file(EPOCH_FILE, 8) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let payload = format::decode(&bytes)?;
        let epoch: [u8; 8] = payload
            .try_into()
            .map_err(|_| format::invalid("epoch file of the wrong length"))?;
        Ok(u64::from_le_bytes(epoch))
    }

    /// The whole of the regular file `name`, if it is at most a header
    /// plus `max_payload` long.
    fn read_file(&self, name: &str, max_payload: usize) -> io::Result<Vec<u8>> {
        let file = File::open(self.dir.join(name))?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(format::invalid("not a regular file"));
        }
        let limit = HEADER_LEN.saturating_add(max_payload) as u64;
        if meta.len() > limit {
            return Err(format::invalid("longer than the store's bound"));
        }
        // Read one byte past the bound so a file that grew since the
        // metadata call is still refused, never read without limit.
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
        if bytes.len() as u64 > limit {
            return Err(format::invalid("longer than the store's bound"));
        }
        Ok(bytes)
    }

    /// Replaces `name` by a file holding `payload`, durably: temporary
    /// file, `fsync`, `rename`, directory `fsync`. On error the temporary
    /// file is removed (best effort) and `name` is untouched, unless the
    /// rename happened and only the directory `fsync` failed: then `name`
    /// holds the new value, which may or may not survive a crash (there
    /// is no undoing a rename more safely than the rename itself).
    fn write_durably(&self, stem: &str, name: &str, payload: &[u8]) -> io::Result<()> {
        let n = self.next_tmp.fetch_add(1, Ordering::Relaxed);
        let tmp = self.dir.join(format!("{stem}{TMP_INFIX}{n}"));
        let written = write_synced(&tmp, &format::encode(payload))
            .and_then(|()| fs::rename(&tmp, self.dir.join(name)));
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        self.sync_dir()
    }

    /// Makes the directory's entries (a rename, a removal) durable.
    #[cfg(unix)]
    fn sync_dir(&self) -> io::Result<()> {
        File::open(&self.dir)?.sync_all()
    }

    /// Elsewhere a directory cannot be opened as a file to be synced;
    /// the file system's own metadata journal is all there is.
    #[cfg(not(unix))]
    fn sync_dir(&self) -> io::Result<()> {
        Ok(())
    }

    fn attachment_name(key: AttachmentKey) -> String {
        format!("{key}{ATTACHMENT_EXT}")
    }
}

impl AttachmentStore for FsStore {
    fn new_key(&self) -> io::Result<AttachmentKey> {
        let seq = self
            .next_seq
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |s| s.checked_add(1))
            .map_err(|_| {
                io::Error::other("every key of this epoch is used up; reopen the store")
            })?;
        Ok(AttachmentKey::new(self.epoch, seq))
    }

    fn save(&self, key: AttachmentKey, value: &[u8]) -> io::Result<()> {
        if value.len() > self.max_len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "attachment longer than the store's bound",
            ));
        }
        self.write_durably(&key.to_string(), &Self::attachment_name(key), value)
    }

    fn load(&self, key: AttachmentKey) -> io::Result<Option<Vec<u8>>> {
        let mut bytes = match self.read_file(&Self::attachment_name(key), self.max_len) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let len = format::decode(&bytes)?.len();
        // The payload is the tail: drop the header in place, no copy.
        bytes.drain(..bytes.len() - len);
        Ok(Some(bytes))
    }

    fn delete(&self, key: AttachmentKey) -> io::Result<()> {
        if remove_if_present(&self.dir.join(Self::attachment_name(key)))? {
            self.sync_dir()?;
        }
        Ok(())
    }

    fn list(&self) -> io::Result<Vec<AttachmentKey>> {
        let mut keys = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let Some(key) = entry.file_name().to_str().and_then(attachment_key) else {
                continue;
            };
            if entry.file_type()?.is_file() {
                keys.push(key);
            }
        }
        keys.sort_unstable();
        Ok(keys)
    }

    fn adopt(&self, from: AttachmentKey, to: AttachmentKey) -> io::Result<Option<Vec<u8>>> {
        // Decoding first: a damaged file is refused, not moved on.
        let Some(value) = self.load(from)? else {
            return Ok(None);
        };
        if from != to {
            // One rename: after a crash exactly one of the two names
            // holds the value, never both and never neither.
            fs::rename(
                self.dir.join(Self::attachment_name(from)),
                self.dir.join(Self::attachment_name(to)),
            )?;
            self.sync_dir()?;
        }
        Ok(Some(value))
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new().write(true).create_new(true).open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Removes `path`; `Ok(false)` if it was not there.
fn remove_if_present(path: &Path) -> io::Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// The key of an attachment's file name `<key>.att`.
fn attachment_key(name: &str) -> Option<AttachmentKey> {
    let stem = name.strip_suffix(ATTACHMENT_EXT)?;
    if stem.len() != KEY_TEXT_LEN {
        return None;
    }
    stem.parse().ok()
}

/// Whether `name` is a temporary file this store writes:
/// `<key>.tmp.<n>` or `epoch.tmp.<n>`. Other files are left alone.
fn is_own_tmp(name: &str) -> bool {
    let Some((stem, n)) = name.split_once(TMP_INFIX) else {
        return false;
    };
    let own_stem = stem == EPOCH_FILE || stem.parse::<AttachmentKey>().is_ok();
    own_stem && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_are_recognised_and_nothing_else() {
        let key = AttachmentKey::new(3, 9).to_string();
        assert!(is_own_tmp(&format!("{key}.tmp.0")));
        assert!(is_own_tmp("epoch.tmp.12"));
        for other in [
            format!("{key}.att"),
            format!("{key}.tmp."),
            format!("{key}.tmp.1x"),
            "notes.tmp.1".to_owned(),
            "epoch".to_owned(),
        ] {
            assert!(!is_own_tmp(&other), "{other}");
        }
    }
}
