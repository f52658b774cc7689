//! The driver's timer on tokio's clock, so paused time in tests moves the
//! connection's deadlines too.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::time::{Instant, Sleep};
use wscore_driver as driver;

/// [`driver::Timer`] on tokio's timer wheel and clock.
#[derive(Debug)]
pub struct TokioTimer(Pin<Box<Sleep>>);

impl driver::Timer for TokioTimer {
    fn now() -> std::time::Instant {
        Instant::now().into_std()
    }

    fn new(deadline: std::time::Instant) -> Self {
        TokioTimer(Box::pin(tokio::time::sleep_until(Instant::from_std(
            deadline,
        ))))
    }

    fn reset(&mut self, deadline: std::time::Instant) {
        self.0.as_mut().reset(Instant::from_std(deadline));
    }

    fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.0.as_mut().poll(cx)
    }
}
