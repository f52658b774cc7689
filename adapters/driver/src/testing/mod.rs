//! An in-memory transport and a hand-driven clock, for testing code built
//! on the socket without a runtime, a network or wall-clock time
//! (feature `test-util`).
//!
//! - [`pipe`]: two connected [`PipeEnd`]s implementing
//!   [`futures_io::AsyncRead`] + [`futures_io::AsyncWrite`], with knobs for
//!   the peers a test needs: one that stops reading
//!   ([`PipeEnd::stop_reading`]), one that vanishes
//!   ([`PipeEnd::hang_up`], or dropping the end), small buffers
//!   (the capacity of [`pipe`]) and short writes
//!   ([`PipeEnd::limit_writes`]).
//! - [`ManualTimer`]: a [`Timer`](crate::Timer) on a clock that moves only
//!   when the test moves it ([`advance`]), or when [`block_on`] finds
//!   nothing else to do and jumps to the next armed deadline, the way a
//!   paused runtime clock does. Deadlines are then exact: a keepalive of
//!   5 s + 2 s ends the connection at 7 s on this clock, however loaded
//!   the machine is.
//!
//! The clock belongs to the thread: every test (each runs on its own
//! thread) has its own, and a [`ManualTimer`] is used on the thread that
//! created it. Run the futures with [`block_on`], joining the ends of a
//! test with `futures::join!` rather than spawning them elsewhere.
//!
//! ```
//! use std::time::Duration;
//! use wscore_driver::testing::{self, ManualTimer, PipeEnd};
//! use wscore_driver::{ClientRequest, Config, Message, Socket};
//!
//! type Ws = Socket<PipeEnd, ManualTimer>;
//!
//! testing::block_on(async {
//!     let (a, b) = testing::pipe(4096);
//!     let request = ClientRequest::new("localhost", "/");
//!     let (server, client) = futures::join!(
//!         Ws::accept(a, Config::default()),
//!         Ws::client(b, request, Config::default()),
//!     );
//!     let (mut server, mut client) = (server.unwrap(), client.unwrap().0);
//!     client.send(Message::text("hi")).await.unwrap();
//!     assert_eq!(server.recv().await.unwrap().unwrap(), Message::text("hi"));
//!     // Nothing answers: the sleep ends when the clock is moved to it.
//!     let start = testing::now();
//!     testing::sleep(Duration::from_secs(30)).await;
//!     assert_eq!(testing::now() - start, Duration::from_secs(30));
//! });
//! ```

mod clock;
mod pipe;
mod run;

pub use clock::{advance, next_deadline, now, sleep, timeout, Elapsed, ManualTimer, Sleep};
pub use pipe::{pipe, PipeEnd};
pub use run::block_on;
