//! # wscore
//!
//! A sans-IO WebSocket protocol engine (RFC 6455).
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod close;
pub mod config;
pub mod connection;
pub mod error;
pub mod frame;
pub mod handshake;
pub mod message;
mod rng;
pub mod time;
mod timer;
pub mod utf8;

pub use time::Instant;
