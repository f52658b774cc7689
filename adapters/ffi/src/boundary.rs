//! Crossing the boundary: raw pointers from C turned into references and
//! slices after their checks, and panics caught before they can unwind
//! into C. Every `unsafe` block of the crate that reads a caller's
//! pointer goes through one of these helpers.

use core::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::result::wscore_result;

/// Where empty byte views point, so that a view handed to C is never NULL
/// (C's `memcpy(dst, NULL, 0)` is undefined behaviour).
static EMPTY: [u8; 1] = [0];

/// A pointer and a length for C: never NULL, even when empty.
pub(crate) fn out_view(bytes: &[u8]) -> (*const u8, usize) {
    if bytes.is_empty() {
        (EMPTY.as_ptr(), 0)
    } else {
        (bytes.as_ptr(), bytes.len())
    }
}

/// The `len` elements `ptr` points at. A NULL pointer is the empty slice
/// when `len` is 0 and [`wscore_result::NullArgument`] otherwise; a length
/// no allocation can have (over `isize::MAX` bytes) is
/// [`wscore_result::InvalidArgument`] rather than undefined behaviour.
///
/// # Safety
///
/// Unless NULL, `ptr` must point at `len` initialised elements that stay
/// valid and unchanged for `'a`.
pub(crate) unsafe fn array_in<'a, T>(ptr: *const T, len: usize) -> Result<&'a [T], wscore_result> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(wscore_result::NullArgument);
    }
    let fits = len
        .checked_mul(core::mem::size_of::<T>())
        .is_some_and(|bytes| bytes <= isize::MAX as usize);
    if !fits || !ptr.is_aligned() {
        return Err(wscore_result::InvalidArgument);
    }
    // SAFETY: non-NULL, aligned, at most `isize::MAX` bytes, and `len`
    // initialised elements valid for `'a` per this function's contract.
    Ok(unsafe { core::slice::from_raw_parts(ptr, len) })
}

/// The bytes `ptr` points at, as [`array_in`] takes them.
///
/// # Safety
///
/// As for [`array_in`].
pub(crate) unsafe fn bytes_in<'a>(ptr: *const u8, len: usize) -> Result<&'a [u8], wscore_result> {
    // SAFETY: forwarded contract.
    unsafe { array_in(ptr, len) }
}

/// A NUL-terminated string from C, checked for UTF-8.
///
/// # Safety
///
/// Unless NULL, `ptr` must point at a NUL-terminated string that stays
/// valid for `'a`.
pub(crate) unsafe fn str_in<'a>(ptr: *const c_char) -> Result<&'a str, wscore_result> {
    if ptr.is_null() {
        return Err(wscore_result::NullArgument);
    }
    // SAFETY: non-NULL and NUL-terminated per this function's contract.
    let text = unsafe { CStr::from_ptr(ptr) };
    text.to_str().map_err(|_| wscore_result::InvalidUtf8)
}

/// Text from a pointer and a length, checked for UTF-8.
///
/// # Safety
///
/// As for [`bytes_in`].
pub(crate) unsafe fn text_in<'a>(ptr: *const u8, len: usize) -> Result<&'a str, wscore_result> {
    // SAFETY: forwarded contract.
    let bytes = unsafe { bytes_in(ptr, len) }?;
    core::str::from_utf8(bytes).map_err(|_| wscore_result::InvalidUtf8)
}

/// Writes `value` through an out-parameter the caller checked for NULL.
/// An out-parameter inside a packed C struct may be misaligned, so the
/// write does not assume alignment.
///
/// # Safety
///
/// `out` must be non-NULL and writable.
pub(crate) unsafe fn write_out<T>(out: *mut T, value: T) {
    // SAFETY: per this function's contract. The write neither reads nor
    // drops the old value, which C may have left uninitialised.
    unsafe { out.write_unaligned(value) }
}

/// Runs `body`, turning a panic into [`wscore_result::Panic`]. For calls
/// without a connection to poison: the configuration's setters change a
/// copy and commit it only on success, so a panic leaves it as it was.
pub(crate) fn catch(body: impl FnOnce() -> wscore_result) -> wscore_result {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(wscore_result::Panic)
}

/// A value that becomes unusable once a call on it panicked.
#[derive(Debug)]
pub(crate) struct Poisonable<T> {
    value: T,
    poisoned: bool,
}

impl<T> Poisonable<T> {
    pub(crate) fn new(value: T) -> Self {
        Poisonable {
            value,
            poisoned: false,
        }
    }

    /// Runs `body` on the value unless an earlier call panicked. A panic in
    /// `body` is caught (it must not unwind into C, which is undefined
    /// behaviour) and poisons the value: its state may be half-updated, so
    /// every later call answers [`wscore_result::Poisoned`].
    pub(crate) fn run(&mut self, body: impl FnOnce(&mut T) -> wscore_result) -> wscore_result {
        if self.poisoned {
            return wscore_result::Poisoned;
        }
        let value = &mut self.value;
        match catch_unwind(AssertUnwindSafe(|| body(value))) {
            Ok(result) => result,
            Err(_) => {
                self.poisoned = true;
                wscore_result::Panic
            }
        }
    }
}
