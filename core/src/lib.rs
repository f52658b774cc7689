//! # wscore
//!
//! A sans-IO WebSocket protocol engine ([RFC 6455]) for both roles.
//!
//! [`Connection`] is a pure state machine: bytes read from a transport and
//! the current time go in; bytes to write, events and the next deadline come
//! out. It never reads a clock, opens a socket, spawns a task or draws
//! entropy on its own, so it runs inside any IO runtime (the `wscore-tokio`
//! and `wscore-async-std` crates are thin bindings), in simulations, in
//! fuzzers and on `no_std` targets with `alloc`.
//!
//! ## The loop
//!
//! ```
//! use wscore::{Config, Connection, Event, Instant, Message};
//!
//! // A server whose handshake happened elsewhere, fed one masked text frame.
//! let now = Instant::ZERO;
//! let mut conn = Connection::upgraded(wscore::Role::Server, Config::default(), [0; 32], now)?;
//! conn.handle_input(now, &[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
//!
//! // 1. Drain transmits and write them to the transport.
//! while let Some(transmit) = conn.poll_transmit() {
//!     let _bytes = (transmit.header(), transmit.payload());
//! }
//! // 2. Drain events.
//! while let Some(event) = conn.poll_event() {
//!     if let Event::Message(message) = event {
//!         assert_eq!(message, Message::text("Hello"));
//!         conn.send(message)?; // echo
//!     }
//! }
//! // 3. Sleep until the next deadline (if any), then call `handle_timeout`.
//! if let Some(deadline) = conn.poll_timeout() {
//!     conn.handle_timeout(deadline);
//! }
//! let echo = conn.poll_transmit().unwrap();
//! assert_eq!(echo.header(), &[0x81, 0x05]);
//! assert_eq!(echo.payload().as_ref(), b"Hello");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A read that returns no bytes is the end of the transport: call
//! [`Connection::handle_eof`] instead, and the connection ends with
//! [`Event::Closed`] (code 1006, [`CloseCause::Eof`]) after the events
//! decoded before it, unless the close handshake had already got that far.
//!
//! ## Modules
//!
//! - [`handshake`]: the HTTP/1.1 upgrade for both roles.
//! - [`frame`]: the frame header codec and masking.
//! - [`message`] and [`utf8`]: messages and incremental UTF-8 validation.
//! - [`close`]: close codes and close payloads.
//! - [`connection`]: the state machine that ties them together.
//! - [`envelope`]: payload layouts chosen by subprotocol (batching).
//! - [`config`], [`error`], [`time`]: limits, errors, the clock-free instant.
//!
//! ## Features
//!
//! - `std` (default): `std::error::Error` impls and run-time SIMD detection
//!   for UTF-8 validation. Without it the crate is `no_std` + `alloc`.
//! - `deflate` (default): permessage-deflate ([RFC 7692]) in [`extension`],
//!   enabled per connection with [`Config::deflate`]. Needs `std`.
//! - `test-support` (not default, for tests only): the `test_support`
//!   module, frames written by hand and a connected client/server pair,
//!   shared by this crate's unit tests and the workspace's test, benchmark
//!   and fuzz crates.
//!
//! [RFC 7692]: https://www.rfc-editor.org/rfc/rfc7692
//!
//! [RFC 6455]: https://www.rfc-editor.org/rfc/rfc6455
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(unsafe_code)]
// Peer input must never reach a panic (see the crate's rules): indexing,
// `unwrap`, `expect` and `panic!` are refused outside tests, and a path that
// cannot fail says so with a fallback and a `debug_assert!`.
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod close;
pub mod config;
pub mod connection;
pub mod envelope;
pub mod error;
#[cfg(feature = "deflate")]
pub mod extension;
pub mod frame;
pub mod handshake;
pub mod message;
mod rng;
#[cfg(any(test, feature = "test-support"))]
// Test support asserts what a test expects and panics otherwise; it is
// never built into a production binary (see the module documentation).
#[allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]
pub mod test_support;
pub mod time;
mod timer;
pub mod utf8;

pub use close::{CloseCode, CloseFrame};
pub use config::{Config, ReceiveMode};
pub use connection::{CloseCause, Closed, Connection, Event, Role, Transmit};
pub use message::{Message, MessageKind};
pub use time::Instant;
pub use utf8::Utf8Bytes;
