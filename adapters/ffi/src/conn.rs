//! `wscore_conn`: one connection, its constructors, its inputs (bytes, the
//! end of the transport, timers), its getters and its end.

use core::ffi::c_char;
use core::time::Duration;

use wscore::{ClientRequest, Config, Connection, Event, Instant, Transmit};

use crate::boundary::{array_in, bytes_in, catch, out_view, str_in, write_out, Poisonable};
use crate::config::wscore_config;
use crate::result::wscore_result;

/// One WebSocket connection, client or server: the engine's state machine.
///
/// Made by `wscore_conn_client` or `wscore_conn_server`, owned by the
/// caller, freed with `wscore_conn_free`. A connection is not
/// thread-safe: calls on one connection must not overlap (different
/// connections may be used from different threads).
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct wscore_conn {
    pub(crate) state: Poisonable<State>,
}

/// What a connection holds besides the engine: what it has handed out to
/// C and must keep alive until C gives it back.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) engine: Connection,
    /// The event last returned by `wscore_conn_poll_event`: its views
    /// point into it.
    pub(crate) event: Option<Event>,
    /// The description of the current event's error, if it has one.
    pub(crate) event_text: String,
    /// The transmit handed out by `wscore_conn_poll_transmit`, and how many
    /// of its bytes were reported written.
    pub(crate) transmit: Option<(Transmit, usize)>,
}

impl State {
    fn new(engine: Connection) -> Self {
        State {
            engine,
            event: None,
            event_text: String::new(),
            transmit: None,
        }
    }
}

/// The engine's time from the caller's nanoseconds: any monotonic clock
/// (`CLOCK_MONOTONIC`), the same for every call on a connection.
pub(crate) fn instant(now_ns: u64) -> Instant {
    Instant::from_elapsed(Duration::from_nanos(now_ns))
}

/// Runs `body` on the connection behind `conn`, with the checks every
/// call makes: NULL, poisoned, and a panic caught at the boundary.
///
/// # Safety
///
/// `conn` must be NULL or a live connection not used elsewhere during the
/// call.
pub(crate) unsafe fn with_conn(
    conn: *mut wscore_conn,
    body: impl FnOnce(&mut State) -> wscore_result,
) -> wscore_result {
    // SAFETY: per this function's contract.
    match unsafe { conn.as_mut() } {
        Some(conn) => conn.state.run(body),
        None => wscore_result::NullArgument,
    }
}

/// The configuration behind `config`, or the defaults for NULL.
///
/// # Safety
///
/// `config` must be NULL or a live configuration.
unsafe fn config_in(config: *const wscore_config) -> Config {
    // SAFETY: per this function's contract.
    match unsafe { config.as_ref() } {
        Some(config) => config.inner.clone(),
        None => Config::default(),
    }
}

/// Stores a new connection in `*out`.
///
/// # Safety
///
/// `out` must be non-NULL and writable.
unsafe fn hand_out(engine: Connection, out: *mut *mut wscore_conn) -> wscore_result {
    let conn = Box::new(wscore_conn {
        state: Poisonable::new(State::new(engine)),
    });
    // SAFETY: per this function's contract.
    unsafe { write_out(out, Box::into_raw(conn)) };
    wscore_result::Ok
}

/// One header of a client's upgrade request
/// (`wscore_conn_client_with_headers`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct wscore_header {
    /// The field name: NUL-terminated UTF-8.
    pub name: *const c_char,
    /// The field value: `value_len` bytes (NULL when 0), without CR, LF
    /// or NUL.
    pub value: *const u8,
    /// The value's length.
    pub value_len: usize,
}

/// Makes a client connection for `ws://host/path` and stores it in `*out`;
/// its upgrade request is the first transmit. The same as
/// `wscore_conn_client_with_headers` without headers.
///
/// # Safety
///
/// As for `wscore_conn_client_with_headers`.
#[no_mangle]
pub unsafe extern "C" fn wscore_conn_client(
    config: *const wscore_config,
    host: *const c_char,
    path: *const c_char,
    subprotocols: *const *const c_char,
    subprotocols_len: usize,
    seed: *const u8,
    seed_len: usize,
    now_ns: u64,
    out: *mut *mut wscore_conn,
) -> wscore_result {
    // SAFETY: forwarded contract; no headers.
    unsafe {
        wscore_conn_client_with_headers(
            config,
            host,
            path,
            subprotocols,
            subprotocols_len,
            core::ptr::null(),
            0,
            seed,
            seed_len,
            now_ns,
            out,
        )
    }
}

/// Makes a client connection for `ws://host/path` whose upgrade request
/// carries `headers` (an `Origin`, an `Authorization`, cookies), and
/// stores it in `*out`; its upgrade request is the first transmit.
///
/// `config` may be NULL for the defaults; it is copied. `host` (with a
/// `:port` when not 80) and `path` (with its query) are NUL-terminated
/// UTF-8. `subprotocols` is an array of `subprotocols_len` NUL-terminated
/// names offered besides those of the configuration, `headers` an array
/// of `headers_len` headers (each NULL when its length is 0). `seed` is
/// `seed_len` bytes, which must be 32, from the operating system's random
/// source: it feeds the handshake nonce and the masking keys. Everything
/// is copied; nothing is kept after the call.
///
/// Errors: `WSCORE_RESULT_NULL_ARGUMENT`, `WSCORE_RESULT_INVALID_UTF8`,
/// `WSCORE_RESULT_INVALID_ARGUMENT` (a seed that is not 32 bytes),
/// `WSCORE_RESULT_INVALID_CONFIG`, `WSCORE_RESULT_INVALID_REQUEST` (a
/// request that cannot be written: a line break in the host or a header
/// value, a header the handshake writes itself such as
/// `Sec-WebSocket-Key`).
///
/// # Safety
///
/// Every pointer must be NULL or valid as described; `out` must point at
/// writable storage for one pointer.
#[no_mangle]
pub unsafe extern "C" fn wscore_conn_client_with_headers(
    config: *const wscore_config,
    host: *const c_char,
    path: *const c_char,
    subprotocols: *const *const c_char,
    subprotocols_len: usize,
    headers: *const wscore_header,
    headers_len: usize,
    seed: *const u8,
    seed_len: usize,
    now_ns: u64,
    out: *mut *mut wscore_conn,
) -> wscore_result {
    if out.is_null() || seed.is_null() {
        return wscore_result::NullArgument;
    }
    catch(|| {
        // SAFETY: the pointers' contracts are the caller's (see above).
        let (host, path) = match unsafe { (str_in(host), str_in(path)) } {
            (Ok(host), Ok(path)) => (host, path),
            (Err(code), _) | (_, Err(code)) => return code,
        };
        // SAFETY: non-NULL, `seed_len` readable bytes per the contract.
        let seed = match unsafe { bytes_in(seed, seed_len) }.map(<[u8; 32]>::try_from) {
            Ok(Ok(seed)) => seed,
            Ok(Err(_)) => return wscore_result::InvalidArgument,
            Err(code) => return code,
        };
        // SAFETY: arrays of `subprotocols_len` pointers and `headers_len`
        // headers, per the contract.
        let arrays = unsafe {
            (
                array_in(subprotocols, subprotocols_len),
                array_in(headers, headers_len),
            )
        };
        let (names, headers) = match arrays {
            (Ok(names), Ok(headers)) => (names, headers),
            (Err(code), _) | (_, Err(code)) => return code,
        };
        let mut request = ClientRequest::new(host, path);
        for &name in names {
            // SAFETY: each a NUL-terminated string per the contract.
            match unsafe { str_in(name) } {
                Ok(name) => request = request.subprotocol(name),
                Err(code) => return code,
            }
        }
        for header in headers {
            // SAFETY: each header's pointers per the contract.
            let (name, value) = unsafe {
                (
                    str_in(header.name),
                    bytes_in(header.value, header.value_len),
                )
            };
            match (name, value) {
                (Ok(name), Ok(value)) => request = request.header(name, value),
                (Err(code), _) | (_, Err(code)) => return code,
            }
        }
        // SAFETY: per the contract.
        let config = unsafe { config_in(config) };
        match Connection::client(config, request, seed, instant(now_ns)) {
            // SAFETY: `out` checked non-NULL above.
            Ok(engine) => unsafe { hand_out(engine, out) },
            Err(error) => error.into(),
        }
    })
}

/// Makes a server connection, which starts by reading the client's
/// upgrade request, and stores it in `*out`. `config` may be NULL for the
/// defaults; it is copied.
///
/// # Safety
///
/// `config` must be NULL or a live configuration; `out` must point at
/// writable storage for one pointer.
#[no_mangle]
pub unsafe extern "C" fn wscore_conn_server(
    config: *const wscore_config,
    now_ns: u64,
    out: *mut *mut wscore_conn,
) -> wscore_result {
    if out.is_null() {
        return wscore_result::NullArgument;
    }
    catch(|| {
        // SAFETY: per the contract.
        let config = unsafe { config_in(config) };
        match Connection::server(config, instant(now_ns)) {
            // SAFETY: `out` checked non-NULL above.
            Ok(engine) => unsafe { hand_out(engine, out) },
            Err(error) => error.into(),
        }
    })
}

/// Frees a connection, with everything it handed out: the views of its
/// current event and transmit die with it. NULL is ignored; a poisoned
/// connection is freed like any other.
///
/// # Safety
///
/// `conn` must be NULL or a pointer from a constructor not freed before;
/// neither it nor any view it handed out may be used after this call.
#[no_mangle]
pub unsafe extern "C" fn wscore_conn_free(conn: *mut wscore_conn) {
    if conn.is_null() {
        return;
    }
    let _ = catch(|| {
        // SAFETY: from `Box::into_raw` in a constructor, and not freed
        // before, per the contract.
        drop(unsafe { Box::from_raw(conn) });
        wscore_result::Ok
    });
}

/// Feeds `len` bytes read from the transport. The bytes are copied: the
/// buffer is the caller's again when the call returns. `bytes` may be
/// NULL when `len` is 0 (which does nothing; the end of the transport is
/// `wscore_conn_eof`).
///
/// A peer's protocol violation is not an error of this call: the
/// connection queues the close frame with the RFC's code and ends with a
/// `WSCORE_EVENT_KIND_CLOSED` event. After this call, drain transmits and
/// events, then read `wscore_conn_timeout_ns`.
///
/// # Safety
///
/// `conn` must be NULL or a live connection; `bytes` must be NULL or
/// point at `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn wscore_conn_recv(
    conn: *mut wscore_conn,
    now_ns: u64,
    bytes: *const u8,
    len: usize,
) -> wscore_result {
    // SAFETY: per the contract.
    unsafe {
        with_conn(conn, |state| match bytes_in(bytes, len) {
            Ok(bytes) => {
                state.engine.handle_input(instant(now_ns), bytes);
                wscore_result::Ok
            }
            Err(code) => code,
        })
    }
}

/// Tells the connection that the transport ended (a read returned 0 bytes,
/// or the socket failed). The connection ends with a `CLOSED` event (code
/// 1006, cause `WSCORE_CLOSE_CAUSE_EOF`) after the events decoded before,
/// unless the close handshake had already got that far.
///
/// # Safety
///
/// `conn` must be NULL or a live connection.
#[no_mangle]
pub unsafe extern "C" fn wscore_conn_eof(conn: *mut wscore_conn, now_ns: u64) -> wscore_result {
    // SAFETY: per the contract.
    unsafe {
        with_conn(conn, |state| {
            state.engine.handle_eof(instant(now_ns));
            wscore_result::Ok
        })
    }
}

/// Stores in `*out_deadline_ns` when `wscore_conn_on_timeout` should next
/// be called, on the clock of the `now_ns` arguments; `WSCORE_RESULT_DONE`
/// (with `*out_deadline_ns` untouched) when no timer is armed. Read it
/// after every drain: inputs and commands move it.
///
/// # Safety
///
/// `conn` must be NULL or a live connection; `out_deadline_ns` must be
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn wscore_conn_timeout_ns(
    conn: *mut wscore_conn,
    out_deadline_ns: *mut u64,
) -> wscore_result {
    if out_deadline_ns.is_null() {
        return wscore_result::NullArgument;
    }
    // SAFETY: per the contract.
    unsafe {
        with_conn(conn, |state| match state.engine.poll_timeout() {
            Some(deadline) => {
                let nanos = deadline.elapsed_since_epoch().as_nanos();
                write_out(out_deadline_ns, u64::try_from(nanos).unwrap_or(u64::MAX));
                wscore_result::Ok
            }
            None => wscore_result::Done,
        })
    }
}

/// Fires every deadline that has passed at `now_ns`. Calls before the
/// deadline do nothing, so a timer that fires early is harmless.
///
/// # Safety
///
/// `conn` must be NULL or a live connection.
#[no_mangle]
pub unsafe extern "C" fn wscore_conn_on_timeout(
    conn: *mut wscore_conn,
    now_ns: u64,
) -> wscore_result {
    // SAFETY: per the contract.
    unsafe {
        with_conn(conn, |state| {
            state.engine.handle_timeout(instant(now_ns));
            wscore_result::Ok
        })
    }
}

/// Stores in `*out` whether the connection is over and every byte it had
/// to write was reported written: the transport can be closed and the
/// connection freed.
///
/// # Safety
///
/// `conn` must be NULL or a live connection; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn wscore_conn_is_done(
    conn: *mut wscore_conn,
    out: *mut bool,
) -> wscore_result {
    if out.is_null() {
        return wscore_result::NullArgument;
    }
    // SAFETY: per the contract.
    unsafe {
        with_conn(conn, |state| {
            write_out(out, state.engine.is_done() && state.transmit.is_none());
            wscore_result::Ok
        })
    }
}

/// Stores in `*out` whether messages can be sent: the handshake is done
/// and no close frame has been queued.
///
/// # Safety
///
/// `conn` must be NULL or a live connection; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn wscore_conn_is_open(
    conn: *mut wscore_conn,
    out: *mut bool,
) -> wscore_result {
    if out.is_null() {
        return wscore_result::NullArgument;
    }
    // SAFETY: per the contract.
    unsafe {
        with_conn(conn, |state| {
            write_out(out, state.engine.is_open());
            wscore_result::Ok
        })
    }
}

/// Stores in `*out` the payload bytes accepted by sends and not yet handed
/// out as transmits: stop producing while it is over your limit
/// (back-pressure).
///
/// # Safety
///
/// `conn` must be NULL or a live connection; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn wscore_conn_queued_bytes(
    conn: *mut wscore_conn,
    out: *mut usize,
) -> wscore_result {
    if out.is_null() {
        return wscore_result::NullArgument;
    }
    // SAFETY: per the contract.
    unsafe {
        with_conn(conn, |state| {
            write_out(out, state.engine.queued_bytes());
            wscore_result::Ok
        })
    }
}

/// Stores the negotiated subprotocol in `*out_name` and `*out_len` (not
/// NUL-terminated), or answers `WSCORE_RESULT_DONE` when none was agreed.
/// The view belongs to the connection and stays valid until it is freed.
///
/// # Safety
///
/// `conn` must be NULL or a live connection; `out_name` and `out_len`
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn wscore_conn_subprotocol(
    conn: *mut wscore_conn,
    out_name: *mut *const u8,
    out_len: *mut usize,
) -> wscore_result {
    if out_name.is_null() || out_len.is_null() {
        return wscore_result::NullArgument;
    }
    // SAFETY: per the contract.
    unsafe {
        with_conn(conn, |state| match state.engine.subprotocol() {
            Some(name) => {
                let (ptr, len) = out_view(name.as_bytes());
                write_out(out_name, ptr);
                write_out(out_len, len);
                wscore_result::Ok
            }
            None => wscore_result::Done,
        })
    }
}
