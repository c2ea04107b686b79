//! The one async runtime `lab` builds: a current-thread tokio runtime, started only where a
//! command reaches the network (registries, later the cluster). Everything else stays
//! synchronous; this is the edge where async begins and ends.

use std::future::Future;

/// The operating system refused what a runtime needs (threads, a timer, an event queue).
#[derive(Debug, thiserror::Error)]
#[error("cannot start the async runtime: {0}; the system is short of threads or file descriptors")]
pub struct RuntimeUnavailable(#[source] pub std::io::Error);

/// Runs `future` to completion on a fresh current-thread runtime with I/O and timers.
pub fn block_on<F: Future>(future: F) -> Result<F::Output, RuntimeUnavailable> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(RuntimeUnavailable)?;
    Ok(runtime.block_on(future))
}
