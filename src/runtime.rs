//! The one async runtime `lab` builds: a current-thread tokio runtime, started only where a
//! command reaches the network (registries, later the cluster). Everything else stays
//! synchronous; this is the edge where async begins and ends.

use std::future::Future;
use std::rc::Rc;

/// The operating system refused what a runtime needs (threads, a timer, an event queue).
#[derive(Debug, thiserror::Error)]
#[error("cannot start the async runtime: {0}; the system is short of threads or file descriptors")]
pub struct RuntimeUnavailable(#[source] pub std::io::Error);

impl RuntimeUnavailable {
    /// The machine is short of what a runtime needs, as a missing tool is: exit 3.
    pub fn exit_code(&self) -> u8 {
        crate::exit_code::UNREACHABLE
    }
}

/// Runs `future` to completion on a fresh current-thread runtime with I/O and timers.
pub fn block_on<F: Future>(future: F) -> Result<F::Output, RuntimeUnavailable> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(RuntimeUnavailable)?;
    Ok(runtime.block_on(future))
}

/// A runtime built once for this thread and kept: for work that leaves nothing running on
/// it between calls, done many times over (a grading thread opens thousands of submissions,
/// and building a runtime costs more than grading a small one).
pub fn this_thread() -> Result<Rc<tokio::runtime::Runtime>, RuntimeUnavailable> {
    thread_local! {
        static RUNTIME: std::cell::OnceCell<Rc<tokio::runtime::Runtime>> = const { std::cell::OnceCell::new() };
    }
    RUNTIME.with(|cell| {
        if let Some(runtime) = cell.get() {
            return Ok(Rc::clone(runtime));
        }
        let runtime = Rc::new(
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(RuntimeUnavailable)?,
        );
        Ok(Rc::clone(cell.get_or_init(|| runtime)))
    })
}

/// [`block_on`] on [`this_thread`]'s runtime.
pub fn block_on_this_thread<F: Future>(future: F) -> Result<F::Output, RuntimeUnavailable> {
    Ok(this_thread()?.block_on(future))
}

/// Ctrl-C (SIGINT), SIGTERM or SIGHUP arrived while a future ran.
#[derive(Debug, Clone, Copy)]
pub struct Interrupted;

/// Runs `future` until it finishes or the user presses Ctrl-C (or `lab` is sent SIGTERM or
/// SIGHUP), whichever is first. The signal handlers are registered before `future` is first
/// polled, so an interrupt at any point of it is seen (and the process is not killed half-way
/// through writing its state). SIGTERM and SIGHUP are here too because a solution run
/// (`crate::backend::shell::Interrupts`) catches them for the rest of the process's life.
pub async fn until_interrupted<F: Future>(future: F) -> Result<F::Output, Interrupted> {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut interrupt), Ok(mut terminate), Ok(mut hangup)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        // Without a handler, the default action (ending the process) still applies.
        return Ok(future.await);
    };
    tokio::select! {
        biased;
        _ = interrupt.recv() => Err(Interrupted),
        _ = terminate.recv() => Err(Interrupted),
        _ = hangup.recv() => Err(Interrupted),
        output = future => Ok(output),
    }
}
