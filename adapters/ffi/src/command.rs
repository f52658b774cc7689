//! Commands: messages, control frames, the close handshake, the server's
//! answer to an upgrade request, and streams. Every byte a command takes
//! is copied before it returns.

use core::ffi::c_char;

use bytes::Bytes;
use wscore::{Accept, CloseCode, Message, Reject};

use crate::boundary::{bytes_in, str_in, text_in, write_out};
use crate::conn::{instant, with_conn, wscore_conn};
use crate::result::{code, wscore_result};

/// Copies `len` bytes from C, or answers the code for a NULL pointer.
///
/// # Safety
///
/// As for [`bytes_in`].
unsafe fn copied(ptr: *const u8, len: usize) -> Result<Bytes, wscore_result> {
    // SAFETY: forwarded contract.
    unsafe { bytes_in(ptr, len) }.map(Bytes::copy_from_slice)
}

/// Queues a text message of `len` bytes of UTF-8 (checked:
/// `WSCORE_RESULT_INVALID_UTF8` otherwise), written after every message
/// queued before it. `data` may be NULL when `len` is 0.
///
/// Errors: `WSCORE_RESULT_NOT_OPEN` before the handshake completed,
/// `WSCORE_RESULT_CLOSING` after a close frame was queued,
/// `WSCORE_RESULT_CLOSED`. The connection is unharmed by any of them.
///
/// # Safety
///
/// `conn` must be NULL or a live connection; `data` NULL or `len`
/// readable bytes.
#[no_mangle]
pub unsafe extern "C" fn wscore_conn_send_text(
    conn: *mut wscore_conn,
    data: *const u8,
    len: usize,
) -> wscore_result {
    // SAFETY: per the contract.
    unsafe {
        with_conn(conn, |state| match text_in(data, len) {
            Ok(text) => code(state.engine.send(Message::from(String::from(text)))),
            Err(error) => error,
        })
    }
}

/// Queues a binary message of `len` bytes, like `wscore_conn_send_text`.
/// On a streamed subprotocol a message over the stream threshold goes out
/// as a stream.
///
/// # Safety
///
/// As for `wscore_conn_send_text`.
#[no_mangle]
pub unsafe extern "C" fn wscore_conn_send_binary(
    conn: *mut wscore_conn,
    data: *const u8,
    len: usize,
) -> wscore_result {
    // SAFETY: per the contract.
    unsafe {
        with_conn(conn, |state| match copied(data, len) {
            Ok(bytes) => code(state.engine.send(Message::binary(bytes))),
            Err(error) => error,
        })
    }
}

/// Queues a ping with a payload of at most 125 bytes
/// (`WSCORE_RESULT_CONTROL_PAYLOAD_TOO_LONG` otherwise). Pings go ahead of
/// queued data.
///
/// # Safety
///
/// As for `wscore_conn_send_text`.
#[no_mangle]
pub unsafe extern "C" fn wscore_conn_ping(
    conn: *mut wscore_conn,
    data: *const u8,
    len: usize,
) -> wscore_result {
    // SAFETY: per the contract.
    unsafe {
        with_conn(conn, |state| match copied(data, len) {
            Ok(bytes) => code(state.engine.ping(bytes)),
            Err(error) => error,
        })
    }
}

/// Queues an unsolicited pong (a one-way heartbeat) with a payload of at
/// most 125 bytes. Pings received are answered without this call.
///
/// # Safety
///
/// As for `wscore_conn_send_text`.
#[no_mangle]
pub unsafe extern "C" fn wscore_conn_pong(
    conn: *mut wscore_conn,
    data: *const u8,
    len: usize,
) -> wscore_result {
    // SAFETY: per the contract.
    unsafe {
        with_conn(conn, |state| match copied(data, len) {
            Ok(bytes) => code(state.engine.pong(bytes)),
            Err(error) => error,
        })
    }
}

/// Starts the close handshake with `code` and a UTF-8 `reason` of at most
/// 123 bytes, or answers the peer's close if it has arrived. The close
/// frame follows every message already queued; nothing may be sent after
/// it. Code 1005 with an empty reason sends a close frame without a code.
///
/// Errors: `WSCORE_RESULT_INVALID_CLOSE_CODE` (a code that may not be
/// sent, such as 1006 or 999), `WSCORE_RESULT_CONTROL_PAYLOAD_TOO_LONG`,
/// `WSCORE_RESULT_INVALID_UTF8`, and those of `wscore_conn_send_text`.
///
/// # Safety
///
/// `conn` must be NULL or a live connection; `reason` NULL or
/// `reason_len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn wscore_conn_close(
    conn: *mut wscore_conn,
    now_ns: u64,
    code_value: u16,
    reason: *const u8,
    reason_len: usize,
) -> wscore_result {
    // SAFETY: per the contract.
    unsafe {
        with_conn(conn, |state| match text_in(reason, reason_len) {
            Ok(reason) => code(
                state
                    .engine
                    .close(instant(now_ns), CloseCode(code_value), reason),
            ),
            Err(error) => error,
        })
    }
}

/// Server: accepts the pending upgrade request, choosing `subprotocol`
/// (NUL-terminated; it must be one the client offered), or when NULL the
/// first subprotocol of the configuration that the client offered. The
/// `101` response is the next transmit, and messages may be sent at once.
///
/// Errors: `WSCORE_RESULT_NO_PENDING_REQUEST`,
/// `WSCORE_RESULT_HANDSHAKE_ANSWER` (a subprotocol the client did not
/// offer), `WSCORE_RESULT_INVALID_UTF8`.
///
/// # Safety
///
/// `conn` must be NULL or a live connection; `subprotocol` NULL or a
/// NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn wscore_conn_accept(
    conn: *mut wscore_conn,
    now_ns: u64,
    subprotocol: *const c_char,
) -> wscore_result {
    let accept = if subprotocol.is_null() {
        Accept::new()
    } else {
        // SAFETY: non-NULL, NUL-terminated per the contract.
        match unsafe { str_in(subprotocol) } {
            Ok(name) => Accept::new().subprotocol(name),
            Err(error) => return error,
        }
    };
    // SAFETY: per the contract.
    unsafe {
        with_conn(conn, |state| {
            code(state.engine.accept(instant(now_ns), accept))
        })
    }
}

/// Server: rejects the pending upgrade request with HTTP `status` (in
/// 100..=599, not 101) and a body of `body_len` bytes (NULL when 0). The
/// response is the next transmit; the connection then ends with a
/// `CLOSED` event whose cause is `WSCORE_CLOSE_CAUSE_REJECTED`.
///
/// Errors: `WSCORE_RESULT_NO_PENDING_REQUEST`,
/// `WSCORE_RESULT_HANDSHAKE_ANSWER` (a status that cannot be sent).
///
/// # Safety
///
/// `conn` must be NULL or a live connection; `body` NULL or `body_len`
/// readable bytes.
#[no_mangle]
pub unsafe extern "C" fn wscore_conn_reject(
    conn: *mut wscore_conn,
    status: u16,
    body: *const u8,
    body_len: usize,
) -> wscore_result {
    // SAFETY: per the contract.
    unsafe {
        with_conn(conn, |state| match copied(body, body_len) {
            Ok(body) => code(state.engine.reject(Reject::new(status).body(body))),
            Err(error) => error,
        })
    }
}

/// Sends `len` bytes as one stream with `metadata` for the receiver (for
/// example a content type), on a connection whose subprotocol names the
/// streamed envelope, and stores its id in `*out_id`. The bytes are copied
/// and cut into chunk records as they are written, interleaved with other
/// messages.
///
/// Errors: `WSCORE_RESULT_STREAMS_NOT_NEGOTIATED`,
/// `WSCORE_RESULT_STREAM_TOO_LARGE`, and those of `wscore_conn_send_text`.
///
/// # Safety
///
/// `conn` must be NULL or a live connection; `data` and `metadata` NULL
/// or readable for their lengths; `out_id` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn wscore_conn_send_stream(
    conn: *mut wscore_conn,
    data: *const u8,
    len: usize,
    metadata: *const u8,
    metadata_len: usize,
    out_id: *mut u32,
) -> wscore_result {
    if out_id.is_null() {
        return wscore_result::NullArgument;
    }
    // SAFETY: per the contract.
    unsafe {
        with_conn(conn, |state| {
            let (data, metadata) = match (copied(data, len), copied(metadata, metadata_len)) {
                (Ok(data), Ok(metadata)) => (data, metadata),
                (Err(error), _) | (_, Err(error)) => return error,
            };
            match state.engine.send_stream(data, metadata) {
                Ok(id) => {
                    write_out(out_id, id);
                    wscore_result::Ok
                }
                Err(error) => error.into(),
            }
        })
    }
}

/// Opens a stream of `total_len` bytes whose data is pushed later with
/// `wscore_conn_push_stream`, and stores its id in `*out_id`. Nothing is
/// written until the first bytes are pushed; the end record follows the
/// last of the `total_len` bytes by itself.
///
/// Errors: as for `wscore_conn_send_stream`.
///
/// # Safety
///
/// `conn` must be NULL or a live connection; `metadata` NULL or readable
/// for `metadata_len`; `out_id` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn wscore_conn_open_stream(
    conn: *mut wscore_conn,
    total_len: u64,
    metadata: *const u8,
    metadata_len: usize,
    out_id: *mut u32,
) -> wscore_result {
    if out_id.is_null() {
        return wscore_result::NullArgument;
    }
    // SAFETY: per the contract.
    unsafe {
        with_conn(conn, |state| {
            let metadata = match copied(metadata, metadata_len) {
                Ok(metadata) => metadata,
                Err(error) => return error,
            };
            match state.engine.open_stream(total_len, metadata) {
                Ok(id) => {
                    write_out(out_id, id);
                    wscore_result::Ok
                }
                Err(error) => error.into(),
            }
        })
    }
}

/// Queues the next `len` bytes (copied) of stream `id`, opened with
/// `wscore_conn_open_stream`. They count in `wscore_conn_queued_bytes`
/// until written: push while that is under your limit.
///
/// Errors: `WSCORE_RESULT_UNKNOWN_STREAM`, `WSCORE_RESULT_NOT_PUSHED` (a
/// stream from `wscore_conn_send_stream`), `WSCORE_RESULT_PUSH_PAST_END`
/// (nothing queued).
///
/// # Safety
///
/// `conn` must be NULL or a live connection; `data` NULL or readable for
/// `len`.
#[no_mangle]
pub unsafe extern "C" fn wscore_conn_push_stream(
    conn: *mut wscore_conn,
    id: u32,
    data: *const u8,
    len: usize,
) -> wscore_result {
    // SAFETY: per the contract.
    unsafe {
        with_conn(conn, |state| match copied(data, len) {
            Ok(data) => code(state.engine.push_stream(id, data)),
            Err(error) => error,
        })
    }
}

/// Stops sending stream `id` with a UTF-8 `reason` for the peer; the peer
/// is told if it has heard of the stream. Chunks already written stay
/// written. Errors: `WSCORE_RESULT_UNKNOWN_STREAM`,
/// `WSCORE_RESULT_INVALID_UTF8`.
///
/// # Safety
///
/// `conn` must be NULL or a live connection; `reason` NULL or readable
/// for `reason_len`.
#[no_mangle]
pub unsafe extern "C" fn wscore_conn_abort_stream(
    conn: *mut wscore_conn,
    id: u32,
    reason: *const u8,
    reason_len: usize,
) -> wscore_result {
    // SAFETY: per the contract.
    unsafe {
        with_conn(conn, |state| match text_in(reason, reason_len) {
            Ok(reason) => code(state.engine.abort_stream(id, reason)),
            Err(error) => error,
        })
    }
}

/// Panics inside the boundary, for the tests of the boundary itself.
///
/// # Safety
///
/// `conn` must be NULL or a live connection.
#[cfg(any(test, feature = "test-hooks"))]
#[doc(hidden)]
#[no_mangle]
pub unsafe extern "C" fn wscore_test_panic(conn: *mut wscore_conn) -> wscore_result {
    // SAFETY: per the contract.
    unsafe {
        with_conn(conn, |_| {
            #[allow(clippy::panic)]
            {
                panic!("a panic inside the boundary, asked for by a test")
            }
        })
    }
}
