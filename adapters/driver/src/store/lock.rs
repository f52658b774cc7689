//! The claim an open [`FsStore`](super::FsStore) holds on its directory,
//! so a second store (in this process or another) cannot open it at the
//! same time and hand out the same keys.
//!
//! On Unix it is an exclusive `flock` on a `lock` file in the directory:
//! the kernel drops it when the store is dropped or the process dies,
//! however it dies, so a crash never leaves the directory claimed.
//! Elsewhere there is no claim, and one store per directory at a time is
//! the caller's to keep.

use std::fs::File;
use std::io;
use std::path::Path;

/// The lock file's name; [`list`](super::AttachmentStore::list) ignores
/// it like every file that is not an attachment.
pub(super) const LOCK_FILE: &str = "lock";

/// The claim; released when dropped.
#[derive(Debug)]
pub(super) struct DirLock {
    // Held for its descriptor: closing it releases the lock.
    _file: File,
}

impl DirLock {
    /// Claims `dir`; `WouldBlock` if an open store holds it.
    #[cfg(unix)]
    pub(super) fn claim(dir: &Path) -> io::Result<DirLock> {
        use std::os::unix::io::AsRawFd;

        let file = open(dir)?;
        // SAFETY: `file` owns an open descriptor for the whole call; flock
        // neither keeps nor closes it.
        #[allow(unsafe_code)]
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let error = io::Error::last_os_error();
            return Err(if error.kind() == io::ErrorKind::WouldBlock {
                io::Error::new(
                    io::ErrorKind::WouldBlock,
                    format!("{} is open in another attachment store", dir.display()),
                )
            } else {
                error
            });
        }
        Ok(DirLock { _file: file })
    }

    /// No claim where `flock` does not exist.
    #[cfg(not(unix))]
    pub(super) fn claim(dir: &Path) -> io::Result<DirLock> {
        Ok(DirLock { _file: open(dir)? })
    }
}

/// The lock file, created if missing, never truncated (it holds nothing).
fn open(dir: &Path) -> io::Result<File> {
    File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(dir.join(LOCK_FILE))
}
