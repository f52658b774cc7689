//! Durable attachments: a small value per connection that survives a
//! crash or a restart of the server.
//!
//! This module owns the storage of attachments and nothing else: the
//! [`AttachmentStore`] trait (fresh keys, save, load, delete, list the
//! leftovers, adopt a leftover onto a new connection) and [`FsStore`], its
//! implementation over one directory of files. Which connection holds
//! which key, and whether a reconnecting client really owned the key it
//! claims (a signed cookie or similar), is for the caller to decide.
//!
//! # Synchronous
//!
//! Every method blocks on the file system, `fsync` included. Call it from
//! a blocking thread (`tokio::task::spawn_blocking`, `blocking::unblock`,
//! or a thread of its own), never from inside an async task.
//!
//! # The durability guarantee
//!
//! When [`save`](AttachmentStore::save), [`adopt`](AttachmentStore::adopt)
//! or [`delete`](AttachmentStore::delete) returns `Ok`, its effect survives
//! a crash of the process or of the machine (to the extent the file system
//! and the disk honour `fsync`). Until then a crash leaves, for each key,
//! either the old value or the new one, whole, never a mixture or a torn
//! file. On `Err` the old value is intact, unless only the final step
//! failed (the directory `fsync` after the rename): then the new value is
//! in place, whole, but may not survive a crash.
//!
//! On Unix the directory `fsync` makes renames and removals durable;
//! elsewhere [`FsStore`] skips it (a directory cannot be opened to be
//! synced) and relies on the file system's metadata journal.
//!
//! [`FsStore`] gets there the classic way, for every write: write the
//! value (behind a header with its length and an FNV-1a 64 checksum) to a
//! temporary file `<key>.tmp.<n>` in the same directory, `fsync` it,
//! `rename` it over `<key>.att`, `fsync` the directory, and only then
//! return. An adoption is one `rename` of `<from>.att` to `<to>.att` and a
//! directory `fsync`, so after a crash exactly one of the two keys holds
//! the value. Each [`FsStore::open`] durably claims a new epoch (a small
//! file written by the same protocol) that every key of that open
//! carries, so keys never repeat across restarts, crashed or clean, and
//! holds the directory's lock (on Unix) while open, so two stores never
//! share it.
//!
//! What a crash can leave behind:
//!
//! - for a key being saved, its old value or its new one;
//! - attachments of connections that never closed cleanly, found by
//!   [`list`](AttachmentStore::list), to adopt or delete;
//! - stray temporary files, which `list` ignores and the next
//!   [`FsStore::open`] removes.
//!
//! A file damaged by something other than the store is refused by
//! [`load`](AttachmentStore::load) with `InvalidData`, never handed out as a
//! value.
//!
//! # What it costs
//!
//! Two `fsync`s per save (the file's and the directory's), one per adopt
//! and per delete, and a directory scan per open. Measured on a virtual
//! machine's ext4 disk (200 saves of a 64-byte value in a row, the disk
//! shared with other work): 1.0 to 1.8 ms per save, nearly all of it the
//! two `fsync`s; opening a directory of 10 000 leftovers and listing them
//! took 36 ms. The `fsync`s bound how many durable updates a second one
//! disk can take, so save when the value changes, not per message.
//!
//! # Example
//!
//! ```
//! use wscore_driver::store::{AttachmentStore, FsStore};
//!
//! # fn main() -> std::io::Result<()> {
//! let dir = std::env::temp_dir().join(format!("wscore-store-doc-{}", std::process::id()));
//! let store = FsStore::open(&dir)?;
//! let key = store.new_key()?;
//! store.save(key, b"alice")?;
//! drop(store); // the process dies here, say
//!
//! // The restart finds the leftover and hands it to the reconnecting
//! // client's new connection.
//! let store = FsStore::open(&dir)?;
//! assert_eq!(store.list()?, vec![key]);
//! let new_key = store.new_key()?;
//! assert_ne!(new_key, key);
//! assert_eq!(store.adopt(key, new_key)?, Some(b"alice".to_vec()));
//! assert_eq!(store.load(key)?, None);
//!
//! store.delete(new_key)?; // a clean close
//! assert!(store.list()?.is_empty());
//! # std::fs::remove_dir_all(&dir)
//! # }
//! ```

mod format;
mod fs;
mod key;
mod lock;

use std::io;

pub use fs::{FsStore, DEFAULT_MAX_LEN};
pub use key::{AttachmentKey, ParseKeyError};

/// Where attachments are kept durably, keyed by [`AttachmentKey`].
///
/// Every method is synchronous and may block on disk: call it from a
/// blocking thread. Methods take `&self` so one store can be shared
/// between threads.
pub trait AttachmentStore: Send + Sync {
    /// A key never handed out before by this store, restarts included.
    ///
    /// # Errors
    ///
    /// When the store has no fresh key left.
    fn new_key(&self) -> io::Result<AttachmentKey>;

    /// Durably replaces `key`'s value by `value`: returns `Ok` only once
    /// the value would survive a crash.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `value` is longer than the store's bound; any
    /// error of the storage. On error the old value is intact, with one
    /// exception: if only the last step failed, the one that makes the
    /// replacement durable (for [`FsStore`], the directory `fsync` after
    /// the rename), the new value is already in place but may not
    /// survive a crash. Either way the value is whole; [`load`] tells
    /// which one it is.
    ///
    /// [`load`]: Self::load
    fn save(&self, key: AttachmentKey, value: &[u8]) -> io::Result<()>;

    /// `key`'s value, or `None` if it has none.
    ///
    /// # Errors
    ///
    /// `InvalidData` if what is stored under `key` is not a complete
    /// attachment (damaged outside the store); any error of the storage.
    fn load(&self, key: AttachmentKey) -> io::Result<Option<Vec<u8>>>;

    /// Deletes `key`'s value (a clean close), durably; deleting a key
    /// without a value is `Ok`.
    ///
    /// # Errors
    ///
    /// Any error of the storage.
    fn delete(&self, key: AttachmentKey) -> io::Result<()>;

    /// Every key with a value, in order: after a restart, those left by
    /// connections that did not close cleanly. Anything in the storage
    /// that is not an attachment is ignored.
    ///
    /// # Errors
    ///
    /// Any error of the storage.
    fn list(&self) -> io::Result<Vec<AttachmentKey>>;

    /// Moves `from`'s value to `to`, replacing any value `to` had, and
    /// returns it; `Ok(None)` (and nothing changed) if `from` has none.
    /// This is how a reconnecting client's new connection adopts its
    /// prior connection's attachment. Durable like
    /// [`save`](Self::save): after a crash exactly one of the two keys
    /// holds the value.
    ///
    /// # Errors
    ///
    /// `InvalidData` if `from`'s value is damaged (then nothing moves);
    /// any error of the storage. As with [`save`](Self::save), an error
    /// of the last, durability step leaves the move done but perhaps not
    /// durable.
    fn adopt(&self, from: AttachmentKey, to: AttachmentKey) -> io::Result<Option<Vec<u8>>>;
}
