//! The few libuv calls the binding makes on Node.js's own event loop. Node
//! exports libuv's symbols to addons; handles are allocated with the size
//! libuv reports, so no struct layout is assumed except `data`, the first
//! field of every handle.

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::ffi::{c_int, c_void};
use std::sync::OnceLock;

use napi::sys;

pub(crate) type Loop = sys::uv_loop_s;

#[repr(C)]
pub(crate) struct Handle {
    pub(crate) data: *mut c_void,
}

const UV_ASYNC: c_int = 1;
const UV_POLL: c_int = 8;
const UV_TIMER: c_int = 13;

pub(crate) const UV_READABLE: c_int = 1;
pub(crate) const UV_WRITABLE: c_int = 2;

pub(crate) type HandleCallback = unsafe extern "C" fn(*mut Handle);
pub(crate) type PollCallback = unsafe extern "C" fn(*mut Handle, c_int, c_int);

extern "C" {
    fn uv_handle_size(kind: c_int) -> usize;
    fn uv_close(handle: *mut Handle, on_close: Option<HandleCallback>);
    pub(crate) fn uv_unref(handle: *mut Handle);
    pub(crate) fn uv_async_init(lp: *mut Loop, handle: *mut Handle, cb: HandleCallback) -> c_int;
    pub(crate) fn uv_async_send(handle: *mut Handle) -> c_int;
    pub(crate) fn uv_timer_init(lp: *mut Loop, handle: *mut Handle) -> c_int;
    pub(crate) fn uv_timer_start(
        handle: *mut Handle,
        cb: HandleCallback,
        timeout_ms: u64,
        repeat_ms: u64,
    ) -> c_int;
    #[cfg(unix)]
    pub(crate) fn uv_poll_init(lp: *mut Loop, handle: *mut Handle, fd: c_int) -> c_int;
    pub(crate) fn uv_poll_start(handle: *mut Handle, events: c_int, cb: PollCallback) -> c_int;
    pub(crate) fn uv_poll_stop(handle: *mut Handle) -> c_int;
}

/// One size for every handle the binding makes (the largest of the three),
/// so that freeing one needs no record of its kind.
fn layout() -> Layout {
    static LAYOUT: OnceLock<Layout> = OnceLock::new();
    *LAYOUT.get_or_init(|| {
        // SAFETY: libuv queries without side effects.
        let size = [UV_ASYNC, UV_POLL, UV_TIMER]
            .into_iter()
            .map(|kind| unsafe { uv_handle_size(kind) })
            .max()
            .unwrap_or(0);
        Layout::from_size_align(size.max(std::mem::size_of::<Handle>()), 16)
            .expect("libuv handle sizes are small")
    })
}

/// Zeroed memory for a handle, to be initialized by a `uv_*_init` and
/// given back by [`close`] (or [`free`] if initializing failed).
pub(crate) fn allocate() -> *mut Handle {
    // SAFETY: the layout has a non-zero size.
    let handle = unsafe { alloc_zeroed(layout()) }.cast::<Handle>();
    assert!(!handle.is_null(), "out of memory allocating a libuv handle");
    handle
}

/// Closes an initialized handle; its memory is freed once libuv is done
/// with it.
///
/// # Safety
/// `handle` came from [`allocate`], was initialized, and is not used after
/// this call.
pub(crate) unsafe fn close(handle: *mut Handle) {
    unsafe extern "C" fn on_closed(handle: *mut Handle) {
        free(handle);
    }
    uv_close(handle, Some(on_closed));
}

/// Frees a handle that was never initialized, or that libuv has closed.
///
/// # Safety
/// `handle` came from [`allocate`] and libuv does not hold it.
pub(crate) unsafe fn free(handle: *mut Handle) {
    dealloc(handle.cast(), layout());
}

/// The event loop of the thread `env` belongs to.
pub(crate) fn event_loop(env: sys::napi_env) -> napi::Result<*mut Loop> {
    let mut lp = std::ptr::null_mut();
    // SAFETY: a valid env, on its own thread.
    napi::check_status!(
        unsafe { sys::napi_get_uv_event_loop(env, &mut lp) },
        "could not get the event loop"
    )?;
    Ok(lp)
}
