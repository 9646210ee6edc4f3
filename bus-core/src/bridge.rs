//! Plumbing for bridges (the crates that connect a WebView to the bus), beyond the port
//! and the wire protocol: running a task's first poll on the thread a request arrived on.

use std::fmt::Display;
use std::future::Future;
use std::task::{Context, Waker};
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tokio::task::AbortHandle;

/// A first poll that takes longer than this is logged (a frame at 60 Hz is 16 ms).
pub const SLOW_FIRST_POLL: Duration = Duration::from_millis(4);

/// Polls `task` once on this thread, inside `runtime`'s context; if it is not done, hands it
/// to the runtime's workers (its wakers are replaced at their next poll) and returns the
/// spawned task's handle. `None`: it finished right here.
///
/// For bridges that receive a request on a thread that would otherwise just wait for the
/// answer (a UI thread): a handler that answers without waiting costs no hop to a worker
/// and back. Its code up to its first `.await` runs on this thread; a first poll longer than
/// [`SLOW_FIRST_POLL`] is logged with a `tracing` warning naming `what`.
///
/// ```
/// use bus_core::bridge::poll_here_then_spawn;
///
/// let runtime = tokio::runtime::Runtime::new().unwrap();
/// assert!(poll_here_then_spawn(runtime.handle(), async {}, &"a ready task").is_none());
/// let pending = poll_here_then_spawn(runtime.handle(), std::future::pending::<()>(), &"a waiting task");
/// pending.expect("handed to the workers").abort();
/// ```
pub fn poll_here_then_spawn<F>(runtime: &Handle, task: F, what: &dyn Display) -> Option<AbortHandle>
where
    F: Future<Output = ()> + Send + 'static,
{
    let mut task = Box::pin(task);
    let started = Instant::now();
    let poll = {
        let _context = runtime.enter();
        task.as_mut().poll(&mut Context::from_waker(Waker::noop()))
    };
    let took = started.elapsed();
    if took > SLOW_FIRST_POLL {
        tracing::warn!(
            "{what} ran {took:?} on the calling thread before its first .await: move blocking \
             work to tokio::task::spawn_blocking, or turn the bridge's inline first poll off"
        );
    }
    if poll.is_ready() {
        return None;
    }
    Some(runtime.spawn(task).abort_handle())
}
