//! An executor for one future on the current thread, with the manual
//! clock auto-advancing.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use super::clock;

/// Whether the future was woken since it was last polled.
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Runs `future` to completion on this thread.
///
/// Whenever the future is pending and nothing has woken it, no pipe byte
/// and no timer can move it on but the clock: the manual clock then jumps
/// to the next armed deadline ([`next_deadline`](clock::next_deadline)),
/// which wakes that timer. Time passes only this way, so the instants the
/// test observes are exact.
///
/// # Panics
///
/// When the future is pending, nothing woke it and no timer is armed: it
/// would wait forever (a deadlock in the test, reported instead of hung).
/// Wakes from other threads are not waited for; run only futures over
/// [`pipe`](super::pipe) ends and [`ManualTimer`](super::ManualTimer)s.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let flag = Arc::new(Flag(AtomicBool::new(false)));
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    loop {
        flag.0.store(false, Ordering::SeqCst);
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        if flag.0.load(Ordering::SeqCst) {
            continue;
        }
        match clock::next_deadline() {
            Some(deadline) => clock::advance(deadline - clock::now()),
            None => {
                panic!("the future waits for nothing: no wake is pending and no timer is armed")
            }
        }
    }
}
