//! The thread's manual clock and the timers armed on it.

use std::cell::RefCell;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::Timer;

/// One armed timer: its deadline and the task waiting for it.
struct Slot {
    deadline: Instant,
    waker: Option<Waker>,
}

/// The thread's clock: an origin read once, the time advanced since, and
/// the timers (a slab indexed by [`ManualTimer::slot`]).
struct Clock {
    origin: Instant,
    elapsed: Duration,
    timers: Vec<Option<Slot>>,
}

impl Clock {
    fn now(&self) -> Instant {
        self.origin + self.elapsed
    }
}

thread_local! {
    static CLOCK: RefCell<Clock> = RefCell::new(Clock {
        // The origin only gives the manual instants a base; they move
        // with `advance`, never with the wall clock.
        #[allow(clippy::disallowed_methods)]
        origin: Instant::now(),
        elapsed: Duration::ZERO,
        timers: Vec::new(),
    });
}

fn with_clock<R>(f: impl FnOnce(&mut Clock) -> R) -> R {
    CLOCK.with(|clock| f(&mut clock.borrow_mut()))
}

/// The current time on this thread's manual clock.
pub fn now() -> Instant {
    with_clock(|clock| clock.now())
}

/// Moves this thread's manual clock forward by `by` and wakes every timer
/// whose deadline has been reached.
pub fn advance(by: Duration) {
    let due: Vec<Waker> = with_clock(|clock| {
        clock.elapsed += by;
        let now = clock.now();
        clock
            .timers
            .iter_mut()
            .flatten()
            .filter(|slot| slot.deadline <= now)
            .filter_map(|slot| slot.waker.take())
            .collect()
    });
    // Woken outside the borrow: a waker may poll, and so read the clock.
    due.into_iter().for_each(Waker::wake);
}

/// The earliest deadline still ahead among the timers armed on this
/// thread, if any.
pub fn next_deadline() -> Option<Instant> {
    with_clock(|clock| {
        let now = clock.now();
        clock
            .timers
            .iter()
            .flatten()
            .map(|slot| slot.deadline)
            .filter(|&deadline| deadline > now)
            .min()
    })
}

/// A [`Timer`] on this thread's manual clock: it expires when the clock
/// is advanced to its deadline ([`advance`], or [`block_on`](super::block_on)
/// when nothing else can progress).
///
/// Not `Send`: the clock it sleeps on is the creating thread's.
#[derive(Debug)]
pub struct ManualTimer {
    slot: usize,
    _thread_bound: PhantomData<*const ()>,
}

impl ManualTimer {
    fn deadline(&self) -> Option<Instant> {
        with_clock(|clock| {
            clock
                .timers
                .get(self.slot)
                .and_then(Option::as_ref)
                .map(|slot| slot.deadline)
        })
    }
}

impl Timer for ManualTimer {
    fn now() -> Instant {
        now()
    }

    fn new(deadline: Instant) -> Self {
        let slot = with_clock(|clock| {
            let slot = Slot {
                deadline,
                waker: None,
            };
            match clock.timers.iter().position(Option::is_none) {
                Some(free) => {
                    clock.timers[free] = Some(slot);
                    free
                }
                None => {
                    clock.timers.push(Some(slot));
                    clock.timers.len() - 1
                }
            }
        });
        ManualTimer {
            slot,
            _thread_bound: PhantomData,
        }
    }

    fn reset(&mut self, deadline: Instant) {
        with_clock(|clock| {
            if let Some(Some(slot)) = clock.timers.get_mut(self.slot) {
                slot.deadline = deadline;
            }
        });
    }

    fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        with_clock(|clock| {
            let now = clock.now();
            match clock.timers.get_mut(self.slot) {
                Some(Some(slot)) if slot.deadline > now => {
                    slot.waker = Some(cx.waker().clone());
                    Poll::Pending
                }
                _ => Poll::Ready(()),
            }
        })
    }
}

impl Drop for ManualTimer {
    fn drop(&mut self) {
        // The thread's clock may already be gone when a timer outlives it
        // in another thread-local; then there is nothing to free.
        let _ = CLOCK.try_with(|clock| {
            if let Some(slot) = clock.borrow_mut().timers.get_mut(self.slot) {
                *slot = None;
            }
        });
    }
}

/// A future that ends at a deadline on the manual clock.
#[derive(Debug)]
pub struct Sleep {
    timer: ManualTimer,
}

impl Sleep {
    /// The instant this sleep ends.
    pub fn deadline(&self) -> Instant {
        self.timer.deadline().unwrap_or_else(now)
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.get_mut().timer.poll_expired(cx)
    }
}

/// Sleeps for `duration` on the manual clock.
pub fn sleep(duration: Duration) -> Sleep {
    Sleep {
        timer: ManualTimer::new(now() + duration),
    }
}

/// The error of [`timeout`]: the deadline came first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed;

impl std::fmt::Display for Elapsed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("deadline elapsed on the manual clock")
    }
}

impl std::error::Error for Elapsed {}

/// Runs `future` until it completes or `duration` passes on the manual
/// clock, whichever comes first. Under [`block_on`](super::block_on), a
/// future that cannot progress ends in `Err(Elapsed)` exactly at the
/// deadline, unless an earlier deadline lets it move on.
pub async fn timeout<F: Future>(duration: Duration, future: F) -> Result<F::Output, Elapsed> {
    let mut future = std::pin::pin!(future);
    let mut sleep = sleep(duration);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(output) = future.as_mut().poll(cx) {
            return Poll::Ready(Ok(output));
        }
        match Pin::new(&mut sleep).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed)),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}
