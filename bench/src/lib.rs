//! Shared pieces of the wscore benchmark suite: a harness that alternates
//! implementations on identical work and reports medians, Markdown tables,
//! wire builders, in-memory streams, a counting allocator, and a raw
//! WebSocket load generator that verifies every echoed byte, and a swarm of
//! counting clients that runs in a process of its own.
//!
//! The benchmarks themselves live in `benches/`; run them with
//! `cargo bench -p wscore-bench` (or `scripts/bench.sh` for the whole
//! table). Knobs are environment variables, listed in [`harness::Settings`].

pub mod alloc;
pub mod harness;
pub mod raw;
pub mod report;
pub mod swarm;
pub mod wire;
