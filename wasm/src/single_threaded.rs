//! quinn requires `Send + Sync` runtimes, sockets and timers; JavaScript
//! handles are neither. On wasm32 without the atomics feature there is
//! exactly one thread, so asserting both is sound there.

#[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
compile_error!("quicbridge-wasm assumes a single-threaded wasm32 target");

#[derive(Debug)]
pub(crate) struct SingleThreaded<T>(pub T);

// SAFETY: see the module comment; the binding is only ever instantiated on
// single-threaded wasm32 (host builds exist for type checking only).
unsafe impl<T> Send for SingleThreaded<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for SingleThreaded<T> {}

impl<T> std::ops::Deref for SingleThreaded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}
