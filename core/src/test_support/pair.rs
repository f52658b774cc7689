//! Two connections joined in memory, and the moves between them.

use alloc::vec::Vec;
use core::time::Duration;

use crate::config::Config;
use crate::connection::{Connection, Event};
use crate::handshake::{Accept, ClientRequest};
use crate::time::Instant;

/// Every transmit `conn` has ready, concatenated.
pub fn transmitted(conn: &mut Connection) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(transmit) = conn.poll_transmit() {
        transmit.write_to(&mut out);
    }
    out
}

/// Every event `conn` has ready.
pub fn events(conn: &mut Connection) -> Vec<Event> {
    core::iter::from_fn(|| conn.poll_event()).collect()
}

/// Moves every transmit `from` has ready into `to`, as one input at
/// `now`; returns the bytes moved.
pub fn pump(from: &mut Connection, to: &mut Connection, now: Instant) -> usize {
    let wire = transmitted(from);
    to.handle_input(now, &wire);
    wire.len()
}

/// Moves every transmit `from` has ready into `to`, one input per
/// transmit, at `now`; returns how many transmits moved.
pub fn pump_each(from: &mut Connection, to: &mut Connection, now: Instant) -> usize {
    let mut moved = 0;
    while let Some(transmit) = from.poll_transmit() {
        let mut wire = Vec::new();
        transmit.write_to(&mut wire);
        to.handle_input(now, &wire);
        moved += 1;
    }
    moved
}

/// Moves exactly `n` transmits of `from` into `to`, one input each.
///
/// # Panics
///
/// If `from` has fewer than `n` ready.
pub fn pump_n(from: &mut Connection, to: &mut Connection, now: Instant, n: usize) {
    for i in 0..n {
        let Some(transmit) = from.poll_transmit() else {
            panic!("transmit {i} of {n} is missing");
        };
        let mut wire = Vec::new();
        transmit.write_to(&mut wire);
        to.handle_input(now, &wire);
    }
}

/// A client and a server joined in memory, at the instant `now`.
#[derive(Debug)]
pub struct Pair {
    /// The client end.
    pub client: Connection,
    /// The server end.
    pub server: Connection,
    /// The time both ends are given.
    pub now: Instant,
}

impl Pair {
    /// A pair with its opening handshake done at [`Instant::ZERO`]: a
    /// request for `example.com/`, a client seed of `[7; 32]`, and a
    /// server accepting with [`Accept::new`] (so the connection chooses
    /// the subprotocol). The `Request` and `Connected` events have been
    /// taken.
    pub fn connect(client: Config, server: Config) -> Pair {
        Pair::connect_with(
            ClientRequest::new("example.com", "/"),
            client,
            server,
            [7; 32],
            Accept::new(),
        )
    }

    /// [`Pair::connect`] with the request, the client's seed and the
    /// server's answer given.
    ///
    /// # Panics
    ///
    /// If either configuration is refused, or the handshake does not end
    /// with both ends connected.
    pub fn connect_with(
        request: ClientRequest,
        client: Config,
        server: Config,
        seed: [u8; 32],
        accept: Accept,
    ) -> Pair {
        let now = Instant::ZERO;
        let (client, server) = match (
            Connection::client(client, request, seed, now),
            Connection::server(server, now),
        ) {
            (Ok(client), Ok(server)) => (client, server),
            (client, server) => panic!(
                "refused configuration: client {:?}, server {:?}",
                client.err(),
                server.err()
            ),
        };
        let mut pair = Pair {
            client,
            server,
            now,
        };
        pair.to_server();
        assert!(matches!(pair.server.poll_event(), Some(Event::Request(_))));
        if let Err(error) = pair.server.accept(now, accept) {
            panic!("accept failed: {error:?}");
        }
        pair.to_client();
        assert!(matches!(
            pair.client.poll_event(),
            Some(Event::Connected(_))
        ));
        assert!(matches!(
            pair.server.poll_event(),
            Some(Event::Connected(_))
        ));
        pair
    }

    /// The two ends, client first.
    pub fn into_connections(self) -> (Connection, Connection) {
        (self.client, self.server)
    }

    /// Moves what the client has ready to the server, as one input;
    /// returns the bytes moved.
    pub fn to_server(&mut self) -> usize {
        pump(&mut self.client, &mut self.server, self.now)
    }

    /// Moves what the server has ready to the client, as one input;
    /// returns the bytes moved.
    pub fn to_client(&mut self) -> usize {
        pump(&mut self.server, &mut self.client, self.now)
    }

    /// Moves transmits both ways until neither end has any left (events
    /// stay queued for the test to take). Returns the bytes moved.
    pub fn drive(&mut self) -> usize {
        let mut total = 0;
        loop {
            let moved = self.to_server() + self.to_client();
            if moved == 0 {
                return total;
            }
            total += moved;
        }
    }

    /// Moves the clock forward by `by` and gives both ends the new time.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        self.client.handle_timeout(self.now);
        self.server.handle_timeout(self.now);
    }
}
