//! Driving a hub's members beside a test's body on one thread: the body
//! runs while a stream of `(MemberId, HubEvent)` is polled, and every
//! event is handed to the test to record.

#![allow(dead_code)]

use std::future::Future;
use std::task::{Context, Poll};

use futures::future::{select, Either};
use wscore_driver::hub::{HubEvent, MemberId};

/// Runs `body` while `next` is polled for the members' events, each
/// handed to `note`; returns `body`'s output.
pub(crate) async fn while_driven<F: Future>(
    mut next: impl FnMut(&mut Context<'_>) -> Poll<Option<(MemberId, HubEvent)>>,
    mut note: impl FnMut(MemberId, HubEvent),
    body: F,
) -> F::Output {
    let drive = async {
        while let Some((id, event)) = std::future::poll_fn(&mut next).await {
            note(id, event);
        }
        std::future::pending::<()>().await;
    };
    futures::pin_mut!(body);
    futures::pin_mut!(drive);
    match select(body, drive).await {
        Either::Left((out, _)) => out,
        Either::Right(((), _)) => unreachable!("the drive never ends"),
    }
}

/// Lets the other futures of the test run once.
pub(crate) async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await;
}

/// Lets the other futures run a few times without moving the clock.
pub(crate) async fn settle() {
    for _ in 0..8 {
        yield_now().await;
    }
}
