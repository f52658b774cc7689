//! Building blocks for tests of the engine and of code built on it: frames
//! as a peer would write them, and a connected client/server [`Pair`]
//! that moves transmits between its two ends.
//!
//! Compiled for the crate's own unit tests and, outside them, only with
//! the non-default feature `test-support`, which the workspace's test,
//! benchmark and fuzz crates enable. It lives in this crate rather than in
//! a crate of its own because the unit tests beside the code use it too,
//! and they cannot depend on another crate of the workspace that depends
//! on this one.
//!
//! These helpers assert what a test expects (a handshake that completes, a
//! transmit that is there) and panic otherwise; never build a production
//! binary with the feature.
//!
//! ```
//! use wscore::test_support::{FrameSpec, Pair, KEY};
//! use wscore::{Config, Event, Message};
//!
//! let mut pair = Pair::connect(Config::default(), Config::default());
//! pair.client.send(Message::text("hi")).unwrap();
//! pair.to_server();
//! assert_eq!(pair.server.poll_event(), Some(Event::Message(Message::text("hi"))));
//!
//! // The same message, written by hand as a client writes it.
//! let frame = FrameSpec::text("hi").masked(KEY).encode();
//! pair.server.handle_input(pair.now, &frame);
//! assert_eq!(pair.server.poll_event(), Some(Event::Message(Message::text("hi"))));
//! ```

mod frames;
mod pair;

pub use frames::{client_frame, encode_frame, fragmented, FrameSpec, LenForm, KEY};
pub use pair::{events, pump, pump_each, pump_n, transmitted, Pair};

#[cfg(test)]
mod tests;
