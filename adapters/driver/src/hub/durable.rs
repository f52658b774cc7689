//! Attachments kept on disk: a hub made with [`Hub::with_store`] gives
//! each member an [`AttachmentKey`] and writes its attachment to the
//! [`AttachmentStore`] on request, so that a client reconnecting after a
//! crash or a restart gets it back on its new connection.
//!
//! The store is synchronous (a save is two `fsync`s), so nothing here runs
//! under the hub's lock or on its own initiative: the `_blocking` methods
//! are plain functions for a blocking thread (`wscore-tokio`'s
//! `save_attachment` and friends run them on tokio's blocking pool).
//! Operations on one key are serialised with each other, never with
//! operations on other keys, so the file and the in-memory value of a
//! member always end in the same order.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use bytes::Bytes;
use wscore::{CloseCause, Closed, MemberId};

use super::{attachment, AttachmentError, Hub};
use crate::store::{AttachmentKey, AttachmentStore};

/// Why a durable attachment operation of a [`Hub`] failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum DurableError {
    /// The hub keeps no store: it was made with [`Hub::new`], not
    /// [`Hub::with_store`].
    NoStore,
    /// No such member (it has left the hub, or never was in it).
    UnknownMember,
    /// The value is longer than the hub's
    /// [`HubConfig::max_attachment_len`](super::HubConfig::max_attachment_len);
    /// nothing was written.
    TooLarge {
        /// Its length in bytes.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// The key belongs to a member still in the hub: its value is not
    /// for another connection to take, nor to delete.
    InUse,
    /// The store failed. The member keeps its old in-memory value, and
    /// the store its old value (see [`AttachmentStore::save`] for the one
    /// step after which the new value is in place but perhaps not
    /// durable).
    Store(io::Error),
}

impl std::fmt::Display for DurableError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DurableError::NoStore => f.write_str("the hub keeps no attachment store"),
            DurableError::UnknownMember => f.write_str("no such member in the hub"),
            DurableError::TooLarge { len, max } => {
                write!(f, "an attachment of {len} bytes passes the bound of {max}")
            }
            DurableError::InUse => f.write_str("the key belongs to a member still in the hub"),
            DurableError::Store(e) => write!(f, "the attachment store failed: {e}"),
        }
    }
}

impl std::error::Error for DurableError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DurableError::Store(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for DurableError {
    fn from(e: io::Error) -> Self {
        DurableError::Store(e)
    }
}

impl From<AttachmentError> for DurableError {
    fn from(e: AttachmentError) -> Self {
        match e {
            AttachmentError::TooLarge { len, max } => DurableError::TooLarge { len, max },
            AttachmentError::UnknownMember => DurableError::UnknownMember,
        }
    }
}

/// Whether a connection that ended so closed cleanly: a close handshake
/// completed, started by either side. Only then is its stored attachment
/// deleted; anything else (no close recorded, 1006 at end of stream, a
/// timeout, a protocol error) may be a client that comes back.
#[must_use]
pub fn closed_cleanly(closed: Option<&Closed>) -> bool {
    matches!(
        closed.map(|c| &c.cause),
        Some(CloseCause::Local | CloseCause::Remote)
    )
}

/// The store of a hub and the keys being written.
pub(super) struct Durable {
    store: Arc<dyn AttachmentStore>,
    busy: KeyLocks,
}

impl Durable {
    pub(super) fn new(store: Arc<dyn AttachmentStore>) -> Self {
        Durable {
            store,
            busy: KeyLocks::default(),
        }
    }

    pub(super) fn store(&self) -> &Arc<dyn AttachmentStore> {
        &self.store
    }
}

/// Which member holds which key, both ways, kept under the hub's lock
/// with the registrations.
#[derive(Default)]
pub(super) struct Keys {
    by_member: BTreeMap<MemberId, AttachmentKey>,
    by_key: BTreeMap<AttachmentKey, MemberId>,
}

impl Keys {
    pub(super) fn insert(&mut self, id: MemberId, key: AttachmentKey) {
        self.by_member.insert(id, key);
        self.by_key.insert(key, id);
    }

    pub(super) fn remove(&mut self, id: MemberId) {
        if let Some(key) = self.by_member.remove(&id) {
            self.by_key.remove(&key);
        }
    }

    fn key_of(&self, id: MemberId) -> Option<AttachmentKey> {
        self.by_member.get(&id).copied()
    }

    fn holder(&self, key: AttachmentKey) -> Option<MemberId> {
        self.by_key.get(&key).copied()
    }
}

/// Keys some blocking thread is working on; another operation on one of
/// them waits for it.
#[derive(Default)]
struct KeyLocks {
    held: Mutex<BTreeSet<AttachmentKey>>,
    freed: Condvar,
}

impl KeyLocks {
    /// Takes every key of `keys` at once (so two operations on two keys
    /// each can never wait for each other).
    fn lock(&self, keys: &[AttachmentKey]) -> KeyGuard<'_> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        while keys.iter().any(|key| held.contains(key)) {
            held = self
                .freed
                .wait(held)
                .unwrap_or_else(PoisonError::into_inner);
        }
        held.extend(keys.iter().copied());
        KeyGuard {
            locks: self,
            keys: keys.to_vec(),
        }
    }
}

struct KeyGuard<'a> {
    locks: &'a KeyLocks,
    keys: Vec<AttachmentKey>,
}

impl Drop for KeyGuard<'_> {
    fn drop(&mut self) {
        let mut held = self
            .locks
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for key in &self.keys {
            held.remove(key);
        }
        self.locks.freed.notify_all();
    }
}

impl<R: Ord + Clone> Hub<R> {
    /// A hub with no members that keeps attachments durably in `store`:
    /// every member gets a fresh [`AttachmentKey`] when it is registered
    /// ([`Hub::attachment_key`]), and the `_blocking` methods save, adopt
    /// and delete its value there.
    ///
    /// The key comes from [`AttachmentStore::new_key`], called on the
    /// accepting task (it must not block; [`FsStore`](crate::store::FsStore)'s
    /// counts in memory). If the store has no key to give,
    /// [`Hub::accept`] answers `503 Service Unavailable` and
    /// [`Hub::attach`] fails with [`RoomsFull`](super::RoomsFull).
    pub fn with_store(config: super::HubConfig, store: Arc<dyn AttachmentStore>) -> Self {
        Hub::build(config, Some(Durable::new(store)))
    }

    /// The store this hub keeps attachments in, if it was made with one.
    pub fn store(&self) -> Option<&Arc<dyn AttachmentStore>> {
        self.shared.durable.as_ref().map(Durable::store)
    }

    /// Member `id`'s durable identity: the key its attachment is stored
    /// under. `None` if the hub keeps no store or the member has left.
    pub fn attachment_key(&self, id: MemberId) -> Option<AttachmentKey> {
        self.state().keys.key_of(id)
    }

    fn durable(&self) -> Result<&Durable, DurableError> {
        self.shared.durable.as_ref().ok_or(DurableError::NoStore)
    }

    /// `id`'s key, if `id` is still the member holding it.
    fn held_key(&self, id: MemberId) -> Result<AttachmentKey, DurableError> {
        self.state()
            .keys
            .key_of(id)
            .ok_or(DurableError::UnknownMember)
    }

    /// **Blocks** (two `fsync`s): writes `value` to member `id`'s key in
    /// the store, then, once the write succeeded, makes it the member's
    /// attachment ([`Hub::attachment`]). The write happens outside the
    /// hub's lock; call this from a blocking thread.
    ///
    /// # Errors
    ///
    /// [`DurableError::Store`] if the write failed: the member keeps its
    /// old value in memory and the store keeps the old one on disk, and
    /// the connection stays up. [`DurableError::TooLarge`],
    /// [`DurableError::UnknownMember`] (nothing written) and
    /// [`DurableError::NoStore`] otherwise. If the member leaves the hub
    /// while its value is written, the value stays on disk under its key
    /// and `UnknownMember` is returned.
    pub fn save_attachment_blocking(
        &self,
        id: MemberId,
        value: impl Into<Bytes>,
    ) -> Result<(), DurableError> {
        let value = value.into();
        let durable = self.durable()?;
        attachment::check(&value, self.shared.config.max_attachment_len)?;
        let key = self.held_key(id)?;
        let _busy = durable.busy.lock(&[key]);
        // Checked again under the key's lock: a member that left may have
        // had its file deleted already, which a write now would undo.
        self.held_key(id)?;
        durable
            .store
            .save(key, &value)
            .map_err(DurableError::Store)?;
        self.with_slot(id, |slot| {
            slot.set_attachment(Some(value));
        })
        .ok_or(DurableError::UnknownMember)
    }

    /// **Blocks** (one `fsync`): moves the value stored under `prior`, the
    /// key of a connection that ended, to member `id`'s key, deleting
    /// `prior`'s file, and makes it the member's attachment. `Ok(None)`,
    /// and nothing changed, if `prior` has no stored value.
    ///
    /// Which prior key a client may claim is the application's decision:
    /// a key is an identifier, not a secret, so check what the client
    /// proves (a signed token bound to the key, a login) before adopting.
    /// A key held by a member still in the hub is refused.
    ///
    /// # Errors
    ///
    /// [`DurableError::InUse`] if `prior` belongs to a member in the hub
    /// (`id` included); [`DurableError::TooLarge`] if the stored value is
    /// longer than the hub's bound (nothing moves);
    /// [`DurableError::Store`] if the store failed (see
    /// [`AttachmentStore::adopt`]); [`DurableError::UnknownMember`] if
    /// `id` is not in the hub, or left during the move (the value then
    /// stays under its key); [`DurableError::NoStore`].
    pub fn adopt_attachment_blocking(
        &self,
        id: MemberId,
        prior: AttachmentKey,
    ) -> Result<Option<Bytes>, DurableError> {
        let durable = self.durable()?;
        let key = {
            let state = self.state();
            let key = state.keys.key_of(id).ok_or(DurableError::UnknownMember)?;
            if state.keys.holder(prior).is_some() {
                return Err(DurableError::InUse);
            }
            key
        };
        // A key nobody holds is never handed out again, so `prior` stays
        // free; `id` is checked again under the locks, as in a save.
        let _busy = durable.busy.lock(&[key, prior]);
        self.held_key(id)?;
        let max = self.shared.config.max_attachment_len;
        match durable.store.load(prior).map_err(DurableError::Store)? {
            None => return Ok(None),
            Some(value) if value.len() > max => {
                return Err(DurableError::TooLarge {
                    len: value.len(),
                    max,
                })
            }
            Some(_) => {}
        }
        let Some(value) = durable
            .store
            .adopt(prior, key)
            .map_err(DurableError::Store)?
        else {
            return Ok(None);
        };
        let value = Bytes::from(value);
        self.with_slot(id, |slot| {
            slot.set_attachment(Some(value.clone()));
        })
        .ok_or(DurableError::UnknownMember)?;
        Ok(Some(value))
    }

    /// **Blocks** (one `fsync`): deletes the value stored under `key`,
    /// the key of a member that has left the hub; whether there was
    /// one. For leftovers nobody came back for (see
    /// [`Hub::stored_keys_blocking`]).
    ///
    /// # Errors
    ///
    /// [`DurableError::InUse`] if a member in the hub holds `key`;
    /// [`DurableError::Store`]; [`DurableError::NoStore`].
    pub fn discard_attachment_blocking(&self, key: AttachmentKey) -> Result<bool, DurableError> {
        let durable = self.durable()?;
        if self.state().keys.holder(key).is_some() {
            return Err(DurableError::InUse);
        }
        let _busy = durable.busy.lock(&[key]);
        let stored = durable.store.load(key).map(|v| v.is_some());
        durable.store.delete(key).map_err(DurableError::Store)?;
        // A damaged file was there too, and is gone now.
        Ok(stored.unwrap_or(true))
    }

    /// **Blocks**: what becomes of the stored value of a member that has
    /// left the hub, given how its connection ended (`closed`, from
    /// [`Socket::closed`](crate::Socket::closed)): after a clean close
    /// ([`closed_cleanly`]) it is deleted, since the client said goodbye;
    /// after anything else it is kept, for the client to adopt on its
    /// next connection. Whether it was deleted.
    ///
    /// # Errors
    ///
    /// As [`Hub::discard_attachment_blocking`]: a member still in the hub
    /// is [`DurableError::InUse`].
    pub fn end_attachment_blocking(
        &self,
        key: AttachmentKey,
        closed: Option<&Closed>,
    ) -> Result<bool, DurableError> {
        let durable = self.durable()?;
        if self.state().keys.holder(key).is_some() {
            return Err(DurableError::InUse);
        }
        if !closed_cleanly(closed) {
            return Ok(false);
        }
        let _busy = durable.busy.lock(&[key]);
        durable.store.delete(key).map_err(DurableError::Store)?;
        Ok(true)
    }

    /// **Blocks** (a directory scan): the keys with a stored value that no
    /// member of this hub holds. After a restart, those of connections
    /// that did not close cleanly, waiting to be adopted or discarded.
    /// Empty for a hub without a store.
    ///
    /// # Errors
    ///
    /// Any error of the store.
    pub fn stored_keys_blocking(&self) -> io::Result<Vec<AttachmentKey>> {
        let Some(durable) = &self.shared.durable else {
            return Ok(Vec::new());
        };
        let mut keys = durable.store.list()?;
        let state = self.state();
        keys.retain(|key| state.keys.holder(*key).is_none());
        Ok(keys)
    }

    /// A fresh key for a member about to be registered: `Ok(None)`
    /// without a store.
    pub(super) fn new_attachment_key(&self) -> io::Result<Option<AttachmentKey>> {
        self.shared
            .durable
            .as_ref()
            .map(|durable| durable.store.new_key())
            .transpose()
    }
}
