//! The function's side of the emulator: the Runtime API it polls and answers, the relay of a
//! streamed answer, and the state every front shares with it (queue, invocations, slots).

mod answer;
pub(crate) mod api;
mod deadline;
pub(crate) mod instances;
pub(crate) mod metadata;
pub(crate) mod output;
mod relay;
mod reply;
pub(crate) mod state;

/// The largest head, or trailer section, a function may send the Runtime API: 64 KiB, four
/// times hyper's default, so that another runtime's large error trailers are still read
/// (and reported) rather than cutting the response. Ours caps its own well below.
pub(crate) const RUNTIME_MAX_HEADER_SIZE: usize = 64 * 1024;

/// Locks a mutex whose data stays consistent even if a holder panicked (every critical section
/// of the runtime side is a single map, queue or counter operation).
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
