#![no_main]
//! A server connection, from the first handshake byte, driven by arbitrary
//! reads, timer jumps and commands.

use libfuzzer_sys::fuzz_target;
use wscore::{Connection, Instant, Role};
use wscore_fuzz::{run, Op, Setup};

fuzz_target!(|input: (Setup, bool, Vec<Op>)| {
    let (setup, upgraded, ops) = input;
    let conn = if upgraded {
        Connection::upgraded(Role::Server, setup.config(), [0; 32], Instant::ZERO)
    } else {
        Connection::server(setup.config(), Instant::ZERO)
    };
    run(conn.unwrap(), ops);
});
