//! Memory the core holds for a JavaScript object, reported to V8 so that
//! its garbage collector weighs the object by it. A closed connection's
//! state is freed only when its JavaScript wrapper is collected, and V8,
//! seeing a few hundred bytes per wrapper, collected so rarely that
//! thousands of closed connections (tens of KiB each, more with 64 KiB
//! datagrams) stayed resident at once (test/fuzz/leaks.test.ts).

use napi::sys;

use crate::js_thread;

/// Reported while it lives; on the JavaScript thread (where wrappers are
/// made and finalized).
pub(crate) struct ExternalMemory(i64);

impl ExternalMemory {
    pub(crate) fn new(bytes: usize) -> Self {
        let bytes = i64::try_from(bytes).unwrap_or(i64::MAX);
        adjust(bytes);
        ExternalMemory(bytes)
    }
}

impl Drop for ExternalMemory {
    fn drop(&mut self) {
        adjust(-self.0);
    }
}

fn adjust(change: i64) {
    js_thread::with(|thread| {
        let mut total = 0;
        // SAFETY: a valid env, on its own thread. A failure only means V8
        // does not learn of this memory: nothing to undo.
        unsafe { sys::napi_adjust_external_memory(thread.env, change, &mut total) };
    });
}
