#![no_main]
//! permessage-deflate: negotiation on arbitrary header text never panics and
//! what a server accepts a client accepts back; inflating arbitrary bytes
//! never panics and never grows the output past the limit; compressing and
//! inflating arbitrary messages round-trips under every agreement.

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use wscore::wire::{client_offer, negotiate_client, negotiate_server, Deflate};
use wscore::{DeflateConfig, DeflateParams, Role};

/// One run's input, decoded in field order.
#[derive(Arbitrary, Debug)]
struct Input {
    /// A client's `Sec-WebSocket-Extensions` offer.
    offer: String,
    server_bits: u8,
    client_bits: u8,
    no_takeover: bool,
    /// Bytes inflated as if they were compressed messages.
    garbage: Vec<Vec<u8>>,
    /// Messages compressed and inflated back.
    messages: Vec<Vec<u8>>,
}

fuzz_target!(|input: Input| {
    let Input {
        offer,
        server_bits,
        client_bits,
        no_takeover,
        garbage,
        messages,
    } = input;
    let config = DeflateConfig::default()
        .server_max_window_bits(8 + server_bits % 8)
        .client_max_window_bits(8 + client_bits % 8)
        .server_no_context_takeover(no_takeover)
        .threshold(0);

    let offers = vec![offer];
    if let Some(params) = negotiate_server(&offers, &config) {
        let answer = vec![params.to_header_value()];
        let _ = negotiate_client(&answer, &config);
    }
    let own = vec![client_offer(&config)];
    let params =
        negotiate_server(&own, &DeflateConfig::default()).expect("our offer is acceptable");
    let agreed = negotiate_client(&[params.to_header_value()], &config)
        .expect("the answer to our offer is acceptable")
        .expect("accepted");

    let limit = 1 << 16;
    let mut server = Deflate::new(&DeflateParams::default(), Role::Server, &config);
    let mut out = Vec::new();
    for chunk in &garbage {
        let _ = server.inflate(chunk, true, &mut out, limit);
        assert!(out.len() <= limit, "inflated past the limit");
        out.clear();
    }

    let mut client = Deflate::new(&agreed, Role::Client, &config);
    let mut server = Deflate::new(&agreed, Role::Server, &config);
    for message in &messages {
        let Some(wire) = client.compress(message) else {
            continue;
        };
        let mut out = Vec::new();
        server
            .inflate(&wire, true, &mut out, usize::MAX)
            .expect("our own output inflates");
        assert_eq!(&out, message);
    }
});
