#![no_main]
//! A server connection after an in-memory handshake that chose a plain,
//! batched or streamed subprotocol, driven by arbitrary frames, reads,
//! timer jumps and commands: the batching decoder, the stream records and
//! the reassembly bounds and time-to-live under hostile input.

use libfuzzer_sys::fuzz_target;
use wscore_fuzz::{negotiated, run, Op, Setup};

fuzz_target!(|input: (Setup, Vec<Op>)| {
    let (setup, ops) = input;
    run(negotiated(&setup), ops);
});
