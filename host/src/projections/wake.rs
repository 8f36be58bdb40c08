//! Waiting on watch channels from plain threads, without an async runtime.
//!
//! Runners and `wait_for` callers are ordinary threads, while the store announces its
//! head and runners announce their progress on `tokio::sync::watch` channels. A watch
//! future needs only a waker, so this parks the thread until the future's waker
//! unparks it, optionally until a deadline: no polling loop, no runtime.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::Instant;

struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Run `future` on this thread until it completes or `deadline` passes (`None`: no
/// deadline). Returns `None` at the deadline.
pub(super) fn block_on<F: Future>(future: F, deadline: Option<Instant>) -> Option<F::Output> {
    let mut future = pin!(future);
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut context = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return Some(output);
        }
        match deadline {
            None => thread::park(),
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return None;
                }
                thread::park_timeout(left);
            }
        }
    }
}

/// The first of two futures to complete; `true` when it is `first`.
pub(super) async fn either<A: Future, B: Future>(first: A, second: B) -> bool {
    let mut first = pin!(first);
    let mut second = pin!(second);
    std::future::poll_fn(|context| {
        if first.as_mut().poll(context).is_ready() {
            Poll::Ready(true)
        } else if second.as_mut().poll(context).is_ready() {
            Poll::Ready(false)
        } else {
            Poll::Pending
        }
    })
    .await
}
