//! `wscore_config`: the settings a connection is built from, changed one
//! setter at a time and checked at each.

use core::ffi::c_char;
use core::time::Duration;

use wscore::{Config, Keepalive, ReceiveMode, Subprotocol};

use crate::boundary::{catch, str_in, write_out};
use crate::result::wscore_result;

/// Settings for connections: limits, timers, receive mode,
/// permessage-deflate and subprotocols.
///
/// Made by `wscore_config_new` with the engine's defaults (safe for a
/// server facing the internet), owned by the caller, freed with
/// `wscore_config_free`. Constructors copy it: it may be changed or freed
/// right after a connection was built from it.
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct wscore_config {
    pub(crate) inner: Config,
}

/// How received messages are handed out (`wscore_config_set_receive_mode`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum wscore_receive_mode {
    /// One `WSCORE_EVENT_KIND_MESSAGE` per message, reassembled from its
    /// fragments and bounded by the maximum message size. The default.
    Whole = 0,
    /// `MESSAGE_START`, any number of `MESSAGE_DATA` pieces, then
    /// `MESSAGE_END`, as bytes arrive; streams likewise as
    /// `STREAM_STARTED`, `STREAM_DATA` and `STREAM_FINISHED`.
    Incremental = 1,
}

/// How the messages of a subprotocol are carried
/// (`wscore_config_add_subprotocol`); see docs/batching.md and
/// docs/streaming.md for the wire formats.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum wscore_envelope {
    /// One logical message per WebSocket message.
    Plain = 0,
    /// Binary WebSocket messages are batches of logical messages, each
    /// prefixed with its length as a varint.
    Batched = 1,
    /// Batching plus streams: large payloads as chunked streams that
    /// interleave with other messages.
    Streamed = 2,
}

/// permessage-deflate settings (`wscore_config_set_deflate`). Start from
/// `wscore_deflate_options_default()` and change what you need.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct wscore_deflate_options {
    /// Compression level, 0 (store) to 9 (smallest). Default 1.
    pub level: u32,
    /// Messages shorter than this many bytes are sent uncompressed.
    /// Default 32.
    pub threshold: usize,
    /// Compress every message, whatever its size (`threshold` is
    /// ignored). Default false.
    pub always_compress: bool,
    /// Ask (client) or require (server) that the server compress every
    /// message on its own. Default false.
    pub server_no_context_takeover: bool,
    /// Promise (client) or require (server) that the client compress every
    /// message on its own. Default false.
    pub client_no_context_takeover: bool,
    /// The largest server window, as a base-2 logarithm in 8..=15.
    /// Default 15.
    pub server_max_window_bits: u8,
    /// The largest client window, as a base-2 logarithm in 8..=15.
    /// Default 15.
    pub client_max_window_bits: u8,
}

/// The default permessage-deflate settings.
#[no_mangle]
pub extern "C" fn wscore_deflate_options_default() -> wscore_deflate_options {
    wscore_deflate_options {
        level: 1,
        threshold: 32,
        always_compress: false,
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: 15,
        client_max_window_bits: 15,
    }
}

/// Makes a configuration with the engine's defaults and stores it in
/// `*out`. Free it with `wscore_config_free`.
///
/// # Safety
///
/// `out` must be NULL (refused with `WSCORE_RESULT_NULL_ARGUMENT`) or
/// point at writable storage for one pointer.
#[no_mangle]
pub unsafe extern "C" fn wscore_config_new(out: *mut *mut wscore_config) -> wscore_result {
    if out.is_null() {
        return wscore_result::NullArgument;
    }
    catch(|| {
        let config = Box::new(wscore_config {
            inner: Config::default(),
        });
        // SAFETY: checked non-NULL above; writable per the contract.
        unsafe { write_out(out, Box::into_raw(config)) };
        wscore_result::Ok
    })
}

/// Frees a configuration. NULL is ignored.
///
/// # Safety
///
/// `config` must be NULL or a pointer from `wscore_config_new` not freed
/// before; it must not be used after this call.
#[no_mangle]
pub unsafe extern "C" fn wscore_config_free(config: *mut wscore_config) {
    if config.is_null() {
        return;
    }
    // Dropping a `Config` frees plain data; a panic there is out of the
    // question, but it must not cross into C either.
    let _ = catch(|| {
        // SAFETY: from `Box::into_raw` in `wscore_config_new`, and not
        // freed before, per the contract.
        drop(unsafe { Box::from_raw(config) });
        wscore_result::Ok
    });
}

/// Applies `change` to a copy of the configuration and keeps it only if it
/// validates, so that a refused value leaves the configuration as it was.
///
/// # Safety
///
/// `config` must be NULL or a live configuration not used elsewhere
/// during the call.
unsafe fn update(config: *mut wscore_config, change: impl FnOnce(&mut Config)) -> wscore_result {
    // SAFETY: per this function's contract.
    let Some(config) = (unsafe { config.as_mut() }) else {
        return wscore_result::NullArgument;
    };
    catch(|| {
        let mut next = config.inner.clone();
        change(&mut next);
        if next.validate().is_err() {
            return wscore_result::InvalidConfig;
        }
        config.inner = next;
        wscore_result::Ok
    })
}

/// Nanoseconds as a `Duration`.
fn ns(value: u64) -> Duration {
    Duration::from_nanos(value)
}

/// The largest inbound frame payload, in bytes; a larger frame closes
/// the connection with 1009. Default 16 MiB.
///
/// Returns `WSCORE_RESULT_INVALID_CONFIG`, leaving the configuration
/// unchanged, for a value that cannot work.
///
/// # Safety
///
/// `config` must be NULL (refused with `WSCORE_RESULT_NULL_ARGUMENT`) or a
/// live configuration from `wscore_config_new`, not used by another thread
/// during the call.
#[no_mangle]
pub unsafe extern "C" fn wscore_config_set_max_frame_size(
    config: *mut wscore_config,
    value: u64,
) -> wscore_result {
    // SAFETY: forwarded contract.
    unsafe { update(config, |c| c.max_frame_size = value) }
}

/// The largest inbound message, in bytes (all fragments together); a
/// larger one closes with 1009. Default 64 MiB.
///
/// Returns `WSCORE_RESULT_INVALID_CONFIG`, leaving the configuration
/// unchanged, for a value that cannot work.
///
/// # Safety
///
/// `config` must be NULL (refused with `WSCORE_RESULT_NULL_ARGUMENT`) or a
/// live configuration from `wscore_config_new`, not used by another thread
/// during the call.
#[no_mangle]
pub unsafe extern "C" fn wscore_config_set_max_message_size(
    config: *mut wscore_config,
    value: u64,
) -> wscore_result {
    // SAFETY: forwarded contract.
    unsafe { update(config, |c| c.max_message_size = value) }
}

/// Outbound messages larger than this are written in fragments of this
/// size, so that control frames can go between them. Default 256 KiB.
///
/// Returns `WSCORE_RESULT_INVALID_CONFIG`, leaving the configuration
/// unchanged, for a value that cannot work.
///
/// # Safety
///
/// `config` must be NULL (refused with `WSCORE_RESULT_NULL_ARGUMENT`) or a
/// live configuration from `wscore_config_new`, not used by another thread
/// during the call.
#[no_mangle]
pub unsafe extern "C" fn wscore_config_set_fragment_size(
    config: *mut wscore_config,
    value: usize,
) -> wscore_result {
    // SAFETY: forwarded contract.
    unsafe { update(config, |c| c.fragment_size = value) }
}

/// The largest handshake header block accepted, in bytes (at least
/// 128). Default 16 KiB.
///
/// Returns `WSCORE_RESULT_INVALID_CONFIG`, leaving the configuration
/// unchanged, for a value that cannot work.
///
/// # Safety
///
/// `config` must be NULL (refused with `WSCORE_RESULT_NULL_ARGUMENT`) or a
/// live configuration from `wscore_config_new`, not used by another thread
/// during the call.
#[no_mangle]
pub unsafe extern "C" fn wscore_config_set_max_handshake_bytes(
    config: *mut wscore_config,
    value: usize,
) -> wscore_result {
    // SAFETY: forwarded contract.
    unsafe { update(config, |c| c.max_handshake_bytes = value) }
}

/// The most header lines accepted in a handshake (at least 4).
/// Default 64.
///
/// Returns `WSCORE_RESULT_INVALID_CONFIG`, leaving the configuration
/// unchanged, for a value that cannot work.
///
/// # Safety
///
/// `config` must be NULL (refused with `WSCORE_RESULT_NULL_ARGUMENT`) or a
/// live configuration from `wscore_config_new`, not used by another thread
/// during the call.
#[no_mangle]
pub unsafe extern "C" fn wscore_config_set_max_headers(
    config: *mut wscore_config,
    value: usize,
) -> wscore_result {
    // SAFETY: forwarded contract.
    unsafe { update(config, |c| c.max_headers = value) }
}

/// A handshake not completed within this many nanoseconds fails.
/// Default 10 s.
///
/// Returns `WSCORE_RESULT_INVALID_CONFIG`, leaving the configuration
/// unchanged, for a value that cannot work.
///
/// # Safety
///
/// `config` must be NULL (refused with `WSCORE_RESULT_NULL_ARGUMENT`) or a
/// live configuration from `wscore_config_new`, not used by another thread
/// during the call.
#[no_mangle]
pub unsafe extern "C" fn wscore_config_set_handshake_timeout_ns(
    config: *mut wscore_config,
    value: u64,
) -> wscore_result {
    // SAFETY: forwarded contract.
    unsafe { update(config, |c| c.handshake_timeout = ns(value)) }
}

/// After sending a close frame, how long to wait for the peer's, in
/// nanoseconds. Default 5 s.
///
/// Returns `WSCORE_RESULT_INVALID_CONFIG`, leaving the configuration
/// unchanged, for a value that cannot work.
///
/// # Safety
///
/// `config` must be NULL (refused with `WSCORE_RESULT_NULL_ARGUMENT`) or a
/// live configuration from `wscore_config_new`, not used by another thread
/// during the call.
#[no_mangle]
pub unsafe extern "C" fn wscore_config_set_close_timeout_ns(
    config: *mut wscore_config,
    value: u64,
) -> wscore_result {
    // SAFETY: forwarded contract.
    unsafe { update(config, |c| c.close_timeout = ns(value)) }
}

/// Close the connection (1001) after this many nanoseconds without a
/// text or binary message received; 0 turns it off (the default).
///
/// Returns `WSCORE_RESULT_INVALID_CONFIG`, leaving the configuration
/// unchanged, for a value that cannot work.
///
/// # Safety
///
/// `config` must be NULL (refused with `WSCORE_RESULT_NULL_ARGUMENT`) or a
/// live configuration from `wscore_config_new`, not used by another thread
/// during the call.
#[no_mangle]
pub unsafe extern "C" fn wscore_config_set_idle_timeout_ns(
    config: *mut wscore_config,
    value: u64,
) -> wscore_result {
    // SAFETY: forwarded contract.
    unsafe { update(config, |c| c.idle_timeout = (value != 0).then(|| ns(value))) }
}

/// Outbound batches are closed before the message that would take them
/// past this many bytes. Default 256 KiB.
///
/// Returns `WSCORE_RESULT_INVALID_CONFIG`, leaving the configuration
/// unchanged, for a value that cannot work.
///
/// # Safety
///
/// `config` must be NULL (refused with `WSCORE_RESULT_NULL_ARGUMENT`) or a
/// live configuration from `wscore_config_new`, not used by another thread
/// during the call.
#[no_mangle]
pub unsafe extern "C" fn wscore_config_set_batch_cap(
    config: *mut wscore_config,
    value: usize,
) -> wscore_result {
    // SAFETY: forwarded contract.
    unsafe { update(config, |c| c.batch.cap = value) }
}

/// The most logical messages in one batch, sent or received. Default
/// 16384.
///
/// Returns `WSCORE_RESULT_INVALID_CONFIG`, leaving the configuration
/// unchanged, for a value that cannot work.
///
/// # Safety
///
/// `config` must be NULL (refused with `WSCORE_RESULT_NULL_ARGUMENT`) or a
/// live configuration from `wscore_config_new`, not used by another thread
/// during the call.
#[no_mangle]
pub unsafe extern "C" fn wscore_config_set_batch_max_messages(
    config: *mut wscore_config,
    value: usize,
) -> wscore_result {
    // SAFETY: forwarded contract.
    unsafe { update(config, |c| c.batch.max_messages = value) }
}

/// The largest inbound batch, in bytes. Default 64 MiB.
///
/// Returns `WSCORE_RESULT_INVALID_CONFIG`, leaving the configuration
/// unchanged, for a value that cannot work.
///
/// # Safety
///
/// `config` must be NULL (refused with `WSCORE_RESULT_NULL_ARGUMENT`) or a
/// live configuration from `wscore_config_new`, not used by another thread
/// during the call.
#[no_mangle]
pub unsafe extern "C" fn wscore_config_set_batch_max_bytes(
    config: *mut wscore_config,
    value: usize,
) -> wscore_result {
    // SAFETY: forwarded contract.
    unsafe { update(config, |c| c.batch.max_bytes = value) }
}

/// How long a partial batch may wait for more messages before it is
/// written, in nanoseconds; 0 (the default) writes it at the next
/// transmit.
///
/// Returns `WSCORE_RESULT_INVALID_CONFIG`, leaving the configuration
/// unchanged, for a value that cannot work.
///
/// # Safety
///
/// `config` must be NULL (refused with `WSCORE_RESULT_NULL_ARGUMENT`) or a
/// live configuration from `wscore_config_new`, not used by another thread
/// during the call.
#[no_mangle]
pub unsafe extern "C" fn wscore_config_set_batch_linger_ns(
    config: *mut wscore_config,
    value: u64,
) -> wscore_result {
    // SAFETY: forwarded contract.
    unsafe { update(config, |c| c.batch.linger = ns(value)) }
}

/// Binary messages larger than this many bytes are sent as streams on
/// a streamed subprotocol; 0 sends streams only when asked with
/// `wscore_conn_send_stream`. Default 512 KiB.
///
/// Returns `WSCORE_RESULT_INVALID_CONFIG`, leaving the configuration
/// unchanged, for a value that cannot work.
///
/// # Safety
///
/// `config` must be NULL (refused with `WSCORE_RESULT_NULL_ARGUMENT`) or a
/// live configuration from `wscore_config_new`, not used by another thread
/// during the call.
#[no_mangle]
pub unsafe extern "C" fn wscore_config_set_stream_send_threshold(
    config: *mut wscore_config,
    value: usize,
) -> wscore_result {
    // SAFETY: forwarded contract.
    unsafe {
        update(config, |c| {
            c.stream.send_threshold = (value != 0).then_some(value)
        })
    }
}

/// Data bytes per chunk record, at most. Default 256 KiB.
///
/// Returns `WSCORE_RESULT_INVALID_CONFIG`, leaving the configuration
/// unchanged, for a value that cannot work.
///
/// # Safety
///
/// `config` must be NULL (refused with `WSCORE_RESULT_NULL_ARGUMENT`) or a
/// live configuration from `wscore_config_new`, not used by another thread
/// during the call.
#[no_mangle]
pub unsafe extern "C" fn wscore_config_set_stream_chunk_size(
    config: *mut wscore_config,
    value: usize,
) -> wscore_result {
    // SAFETY: forwarded contract.
    unsafe { update(config, |c| c.stream.chunk_size = value) }
}

/// Chunks a stream may send in a row before other messages get their
/// turn. Default 64.
///
/// Returns `WSCORE_RESULT_INVALID_CONFIG`, leaving the configuration
/// unchanged, for a value that cannot work.
///
/// # Safety
///
/// `config` must be NULL (refused with `WSCORE_RESULT_NULL_ARGUMENT`) or a
/// live configuration from `wscore_config_new`, not used by another thread
/// during the call.
#[no_mangle]
pub unsafe extern "C" fn wscore_config_set_stream_chunks_per_turn(
    config: *mut wscore_config,
    value: usize,
) -> wscore_result {
    // SAFETY: forwarded contract.
    unsafe { update(config, |c| c.stream.chunks_per_turn = value) }
}

/// Inbound streams open at once. Default 16.
///
/// Returns `WSCORE_RESULT_INVALID_CONFIG`, leaving the configuration
/// unchanged, for a value that cannot work.
///
/// # Safety
///
/// `config` must be NULL (refused with `WSCORE_RESULT_NULL_ARGUMENT`) or a
/// live configuration from `wscore_config_new`, not used by another thread
/// during the call.
#[no_mangle]
pub unsafe extern "C" fn wscore_config_set_stream_max_streams(
    config: *mut wscore_config,
    value: usize,
) -> wscore_result {
    // SAFETY: forwarded contract.
    unsafe { update(config, |c| c.stream.max_streams = value) }
}

/// Bytes held for reassembly across all inbound streams. Default 64 MiB.
///
/// Returns `WSCORE_RESULT_INVALID_CONFIG`, leaving the configuration
/// unchanged, for a value that cannot work.
///
/// # Safety
///
/// `config` must be NULL (refused with `WSCORE_RESULT_NULL_ARGUMENT`) or a
/// live configuration from `wscore_config_new`, not used by another thread
/// during the call.
#[no_mangle]
pub unsafe extern "C" fn wscore_config_set_stream_max_buffered(
    config: *mut wscore_config,
    value: usize,
) -> wscore_result {
    // SAFETY: forwarded contract.
    unsafe { update(config, |c| c.stream.max_buffered = value) }
}

/// The largest inbound stream, in bytes. Default 1 GiB.
///
/// Returns `WSCORE_RESULT_INVALID_CONFIG`, leaving the configuration
/// unchanged, for a value that cannot work.
///
/// # Safety
///
/// `config` must be NULL (refused with `WSCORE_RESULT_NULL_ARGUMENT`) or a
/// live configuration from `wscore_config_new`, not used by another thread
/// during the call.
#[no_mangle]
pub unsafe extern "C" fn wscore_config_set_stream_max_size(
    config: *mut wscore_config,
    value: u64,
) -> wscore_result {
    // SAFETY: forwarded contract.
    unsafe { update(config, |c| c.stream.max_stream_size = value) }
}

/// The largest outbound stream, in bytes. Default 1 GiB.
///
/// Returns `WSCORE_RESULT_INVALID_CONFIG`, leaving the configuration
/// unchanged, for a value that cannot work.
///
/// # Safety
///
/// `config` must be NULL (refused with `WSCORE_RESULT_NULL_ARGUMENT`) or a
/// live configuration from `wscore_config_new`, not used by another thread
/// during the call.
#[no_mangle]
pub unsafe extern "C" fn wscore_config_set_stream_max_send_size(
    config: *mut wscore_config,
    value: u64,
) -> wscore_result {
    // SAFETY: forwarded contract.
    unsafe { update(config, |c| c.stream.max_send_size = value) }
}

/// The largest metadata of an inbound stream, in bytes. Default 4 KiB.
///
/// Returns `WSCORE_RESULT_INVALID_CONFIG`, leaving the configuration
/// unchanged, for a value that cannot work.
///
/// # Safety
///
/// `config` must be NULL (refused with `WSCORE_RESULT_NULL_ARGUMENT`) or a
/// live configuration from `wscore_config_new`, not used by another thread
/// during the call.
#[no_mangle]
pub unsafe extern "C" fn wscore_config_set_stream_max_metadata(
    config: *mut wscore_config,
    value: usize,
) -> wscore_result {
    // SAFETY: forwarded contract.
    unsafe { update(config, |c| c.stream.max_metadata = value) }
}

/// An inbound stream with no chunk for this many nanoseconds is
/// evicted. Default 60 s.
///
/// Returns `WSCORE_RESULT_INVALID_CONFIG`, leaving the configuration
/// unchanged, for a value that cannot work.
///
/// # Safety
///
/// `config` must be NULL (refused with `WSCORE_RESULT_NULL_ARGUMENT`) or a
/// live configuration from `wscore_config_new`, not used by another thread
/// during the call.
#[no_mangle]
pub unsafe extern "C" fn wscore_config_set_stream_ttl_ns(
    config: *mut wscore_config,
    value: u64,
) -> wscore_result {
    // SAFETY: forwarded contract.
    unsafe { update(config, |c| c.stream.ttl = ns(value)) }
}

/// Keepalive: after `interval_ns` nanoseconds with nothing received, ping
/// the peer, and close the connection if nothing arrives within
/// `timeout_ns` after that. Both 0 turn keepalive off (the default); one
/// of them 0 is `WSCORE_RESULT_INVALID_CONFIG`.
///
/// # Safety
///
/// `config` must be NULL or a live configuration, as for the other
/// setters.
#[no_mangle]
pub unsafe extern "C" fn wscore_config_set_keepalive_ns(
    config: *mut wscore_config,
    interval_ns: u64,
    timeout_ns: u64,
) -> wscore_result {
    let keepalive = (interval_ns != 0 || timeout_ns != 0).then(|| Keepalive {
        interval: ns(interval_ns),
        timeout: ns(timeout_ns),
    });
    // SAFETY: forwarded contract.
    unsafe { update(config, |c| c.keepalive = keepalive) }
}

/// Whole messages or pieces: `mode` is a `wscore_receive_mode`. Any other
/// value is `WSCORE_RESULT_INVALID_ARGUMENT`.
///
/// # Safety
///
/// As for the other setters.
#[no_mangle]
pub unsafe extern "C" fn wscore_config_set_receive_mode(
    config: *mut wscore_config,
    mode: u32,
) -> wscore_result {
    let mode = match mode {
        0 => ReceiveMode::Whole,
        1 => ReceiveMode::Incremental,
        _ => return wscore_result::InvalidArgument,
    };
    // SAFETY: forwarded contract.
    unsafe { update(config, |c| c.receive_mode = mode) }
}

/// Turns permessage-deflate on with `options`, or off when `options` is
/// NULL. A client offers it; a server accepts an offer. Out-of-range
/// options are `WSCORE_RESULT_INVALID_CONFIG`; a library built without
/// deflate answers `WSCORE_RESULT_INVALID_CONFIG` to any non-NULL options.
///
/// # Safety
///
/// `config` as for the other setters; `options` must be NULL or point at
/// a readable `wscore_deflate_options`, which is copied.
#[no_mangle]
pub unsafe extern "C" fn wscore_config_set_deflate(
    config: *mut wscore_config,
    options: *const wscore_deflate_options,
) -> wscore_result {
    // SAFETY: NULL or readable, per the contract.
    let options = unsafe { options.as_ref() }.copied();
    #[cfg(feature = "deflate")]
    {
        let deflate = options.map(|o| {
            wscore::DeflateConfig::default()
                .level(o.level)
                .threshold(o.threshold)
                .always_compress(o.always_compress)
                .server_no_context_takeover(o.server_no_context_takeover)
                .client_no_context_takeover(o.client_no_context_takeover)
                .server_max_window_bits(o.server_max_window_bits)
                .client_max_window_bits(o.client_max_window_bits)
        });
        // SAFETY: forwarded contract.
        unsafe { update(config, |c| c.deflate = deflate) }
    }
    #[cfg(not(feature = "deflate"))]
    match options {
        // SAFETY: forwarded contract.
        None => unsafe { update(config, |_| ()) },
        Some(_) => wscore_result::InvalidConfig,
    }
}

/// Adds a subprotocol this endpoint speaks, after those added before (the
/// order is the preference order), with the envelope it names: `envelope`
/// is a `wscore_envelope`; any other value is
/// `WSCORE_RESULT_INVALID_ARGUMENT`. A client offers every one; a server
/// picks the first of its list that the client offered.
///
/// # Safety
///
/// `config` as for the other setters; `name` must be NULL or a
/// NUL-terminated string, which is copied.
#[no_mangle]
pub unsafe extern "C" fn wscore_config_add_subprotocol(
    config: *mut wscore_config,
    name: *const c_char,
    envelope: u32,
) -> wscore_result {
    // SAFETY: forwarded contract.
    let name = match unsafe { str_in(name) } {
        Ok(name) => name,
        Err(code) => return code,
    };
    let subprotocol = match envelope {
        0 => Subprotocol::plain(name),
        1 => Subprotocol::batched(name),
        2 => Subprotocol::streamed(name),
        _ => return wscore_result::InvalidArgument,
    };
    // SAFETY: forwarded contract.
    unsafe { update(config, |c| c.subprotocols.push(subprotocol)) }
}

/// Removes every subprotocol added with `wscore_config_add_subprotocol`.
///
/// # Safety
///
/// As for the other setters.
#[no_mangle]
pub unsafe extern "C" fn wscore_config_clear_subprotocols(
    config: *mut wscore_config,
) -> wscore_result {
    // SAFETY: forwarded contract.
    unsafe { update(config, |c| c.subprotocols.clear()) }
}
