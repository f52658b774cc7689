//! Bytes to write: the transmit handed out to C, and the report of how
//! much of it was written.

use crate::boundary::{out_view, write_out};
use crate::conn::{with_conn, wscore_conn};
use crate::result::wscore_result;

/// Bytes to write to the transport, in order: `header` then `payload`
/// (two pieces, for `writev`). Either may be empty; neither pointer is
/// NULL.
///
/// Both views belong to the connection. They stay valid, unchanged, until
/// `wscore_conn_transmit_written` reports their last byte written, or the
/// connection is freed; other calls (recv, send, poll_event, ...) leave
/// them alone.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct wscore_transmit {
    /// The frame header still to write (empty for the handshake, whose
    /// bytes are all payload).
    pub header: *const u8,
    /// Its length.
    pub header_len: usize,
    /// The payload still to write.
    pub payload: *const u8,
    /// Its length.
    pub payload_len: usize,
}

/// Hands out the bytes to write next in `*out`: what is left of the
/// transmit handed out before if it was not all reported written, or the
/// next one. `WSCORE_RESULT_DONE` when there is nothing to write.
///
/// Write them, then report how many bytes the transport took with
/// `wscore_conn_transmit_written`; a short write is reported as it is and
/// the next poll hands out the rest. Loop until `WSCORE_RESULT_DONE`.
///
/// # Safety
///
/// `conn` must be NULL or a live connection; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn wscore_conn_poll_transmit(
    conn: *mut wscore_conn,
    out: *mut wscore_transmit,
) -> wscore_result {
    if out.is_null() {
        return wscore_result::NullArgument;
    }
    // SAFETY: per the contract.
    unsafe {
        with_conn(conn, |state| {
            if state.transmit.is_none() {
                // An empty transmit would hand out nothing to write and
                // nothing to report: skip it.
                state.transmit = core::iter::from_fn(|| state.engine.poll_transmit())
                    .find(|t| !t.is_empty())
                    .map(|t| (t, 0));
            }
            let Some((transmit, written)) = &state.transmit else {
                return wscore_result::Done;
            };
            let header = transmit.header();
            let header_rest = header.get(*written..).unwrap_or_default();
            let payload_rest = transmit
                .payload()
                .get(written.saturating_sub(header.len())..)
                .unwrap_or_default();
            let (header, header_len) = out_view(header_rest);
            let (payload, payload_len) = out_view(payload_rest);
            write_out(
                out,
                wscore_transmit {
                    header,
                    header_len,
                    payload,
                    payload_len,
                },
            );
            wscore_result::Ok
        })
    }
}

/// Reports that the transport took `written` bytes of the transmit handed
/// out last (header first, then payload). Once all of it is reported, its
/// views are invalid and the next poll hands out the next transmit.
///
/// Errors: `WSCORE_RESULT_NO_TRANSMIT` when no transmit is handed out,
/// `WSCORE_RESULT_INVALID_ARGUMENT` when `written` is more than what is
/// left of it (nothing is counted).
///
/// # Safety
///
/// `conn` must be NULL or a live connection.
#[no_mangle]
pub unsafe extern "C" fn wscore_conn_transmit_written(
    conn: *mut wscore_conn,
    written: usize,
) -> wscore_result {
    // SAFETY: per the contract.
    unsafe {
        with_conn(conn, |state| {
            let Some((transmit, done)) = state.transmit.as_mut() else {
                return wscore_result::NoTransmit;
            };
            let left = transmit.len().saturating_sub(*done);
            if written > left {
                return wscore_result::InvalidArgument;
            }
            *done += written;
            if written == left {
                state.transmit = None;
            }
            wscore_result::Ok
        })
    }
}
