#![no_main]
//! A client connection, from its upgrade request, driven by arbitrary reads
//! (the server's response and frames), timer jumps and commands.

use libfuzzer_sys::fuzz_target;
use wscore::{ClientRequest, Connection, Instant, Role};
use wscore_fuzz::{run, Op, Setup};

fuzz_target!(|input: (Setup, bool, Vec<Op>)| {
    let (setup, upgraded, ops) = input;
    let conn = if upgraded {
        Connection::upgraded(Role::Client, setup.config(), [1; 32], Instant::ZERO).unwrap()
    } else {
        let request = ClientRequest::new("example.com", "/").subprotocol("chat");
        Connection::client(setup.config(), request, [1; 32], Instant::ZERO).unwrap()
    };
    run(conn, ops);
});
