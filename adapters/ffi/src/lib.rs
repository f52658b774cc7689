//! # wscore-ffi
//!
//! The C ABI of the [`wscore`] engine, for C, C++ and game-engine code that
//! owns its sockets and its frame loop and wants a state machine to feed.
//! The header `include/wscore.h` is generated from this crate by cbindgen;
//! `include/wscore.hpp` wraps it for C++17. `docs/c-api.md` in the
//! repository shows the loop in C and how to link.
//!
//! ## The loop
//!
//! Bytes read from the socket go in with [`wscore_conn_recv`] (the end of
//! the stream with [`wscore_conn_eof`]); after every input or command the
//! caller drains [`wscore_conn_poll_transmit`] (reporting what it wrote
//! with [`wscore_conn_transmit_written`]) and [`wscore_conn_poll_event`]
//! until each answers [`wscore_result::Done`], then sleeps until
//! [`wscore_conn_timeout_ns`] and calls [`wscore_conn_on_timeout`]. Time is
//! nanoseconds on any monotonic clock the caller picks.
//!
//! ## Conventions
//!
//! - Handles are opaque ([`wscore_conn`], [`wscore_config`]), made by a
//!   constructor that writes an out-parameter and freed by their `_free`
//!   function (NULL is ignored).
//! - Every fallible call returns a [`wscore_result`]: 0 is OK, `DONE` means
//!   "nothing more", anything else names the mistake. Out-parameters are
//!   written only on OK (and `DONE` for events).
//! - Every pointer is checked for NULL; data pointers may be NULL when
//!   their length is 0. Bytes passed in are copied before the call returns.
//! - Views handed out (transmits, events, request headers) belong to the
//!   connection, and each function says until when they are valid.
//! - A panic never unwinds into C: it is caught at the boundary, the call
//!   returns [`wscore_result::Panic`] and the connection is poisoned: every
//!   later call but `wscore_conn_free` returns [`wscore_result::Poisoned`].
//!   Running out of memory aborts the process, as in Rust.
//! - Calls on one connection must not overlap; connections are
//!   independent of each other.
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]
// Every unsafe operation sits in its own block with the reason it is sound.
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]
// The exported names are the C names, as C programs spell them.
#![allow(non_camel_case_types)]

mod boundary;
mod command;
mod config;
mod conn;
mod event;
mod result;
mod transmit;

pub use command::*;
pub use config::*;
pub use conn::{
    wscore_conn, wscore_conn_client, wscore_conn_client_with_headers, wscore_conn_eof,
    wscore_conn_free, wscore_conn_is_done, wscore_conn_is_open, wscore_conn_on_timeout,
    wscore_conn_queued_bytes, wscore_conn_recv, wscore_conn_server, wscore_conn_subprotocol,
    wscore_conn_timeout_ns, wscore_header,
};
pub use event::*;
pub use result::{wscore_result, wscore_result_name, wscore_version};
pub use transmit::*;

#[cfg(test)]
mod tests;
