//! quinn on Node.js's own event loop: tasks polled on the JavaScript thread,
//! timers on one libuv timer, the UDP socket watched by libuv. No thread is
//! crossed between a binding call and the core, as with node:quic (ngtcp2)
//! and Bun (lsquic).

mod executor;
mod runtime;
mod socket;
mod timer;

pub(crate) use executor::{drain_now, spawn};
pub(crate) use runtime::LoopRuntime;

/// Closes the thread's libuv handles and drops its tasks: its env is ending.
pub(crate) fn shutdown() {
    socket::shutdown();
    executor::shutdown();
    timer::shutdown();
}
