//! What the binding needs to call into JavaScript from a libuv callback on
//! the thread that loaded it: its env, its event loop, and an async context
//! for callback scopes (closing one runs the microtasks that settling
//! promises queued, as Node does after any callback).

use std::cell::RefCell;
use std::ptr;

use napi::{check_status, sys};

use crate::uv;

pub(crate) struct JsThread {
    pub(crate) env: sys::napi_env,
    pub(crate) event_loop: *mut uv::Loop,
    context: sys::napi_async_context,
    /// The resource object callback scopes are opened for, made once
    /// rather than per libuv callback.
    resource: sys::napi_ref,
}

thread_local! {
    static CURRENT: RefCell<Option<JsThread>> = const { RefCell::new(None) };
}

/// Records the calling thread's env (once per thread; Node runs one env per
/// thread, and worker threads load the addon again).
pub(crate) fn enter(env: sys::napi_env) -> napi::Result<()> {
    CURRENT.with(|current| {
        if current.borrow().is_some() {
            return Ok(());
        }
        let event_loop = uv::event_loop(env)?;
        let mut name = ptr::null_mut();
        let mut context = ptr::null_mut();
        let mut object = ptr::null_mut();
        let mut resource = ptr::null_mut();
        // SAFETY: a valid env, on its own thread.
        unsafe {
            check_status!(sys::napi_create_string_utf8(
                env,
                c"quicbridge".as_ptr(),
                10,
                &mut name
            ))?;
            check_status!(sys::napi_async_init(
                env,
                ptr::null_mut(),
                name,
                &mut context
            ))?;
            check_status!(sys::napi_create_object(env, &mut object))?;
            check_status!(sys::napi_create_reference(env, object, 1, &mut resource))?;
        }
        // SAFETY: as above.
        check_status!(unsafe {
            sys::napi_add_env_cleanup_hook(env, Some(on_env_cleanup), ptr::null_mut())
        })?;
        *current.borrow_mut() = Some(JsThread {
            env,
            event_loop,
            context,
            resource,
        });
        Ok(())
    })
}

/// Runs `f` with this thread's env, if the binding was entered on it and
/// the env is not shutting down.
pub(crate) fn with<R>(f: impl FnOnce(&JsThread) -> R) -> Option<R> {
    CURRENT
        .try_with(|current| current.borrow().as_ref().map(f))
        .ok()
        .flatten()
}

/// A worker thread's env ends before its thread: the binding's libuv
/// handles must be closed while its loop still runs, or the loop is torn
/// down with them open (and their later use crashes the process).
unsafe extern "C" fn on_env_cleanup(_arg: *mut std::ffi::c_void) {
    crate::event_loop::shutdown();
    let thread = CURRENT.with(|current| current.borrow_mut().take());
    if let Some(thread) = thread {
        // SAFETY: the env is still valid while its cleanup hooks run.
        unsafe {
            sys::napi_delete_reference(thread.env, thread.resource);
            sys::napi_async_destroy(thread.env, thread.context);
        }
    }
}

/// Runs `f` from a libuv callback as Node runs a callback into JavaScript:
/// in a handle scope and a callback scope, so that promises `f` settles
/// have their reactions run when it returns.
pub(crate) fn callback_scope(f: impl FnOnce(sys::napi_env)) {
    with(|thread| {
        let env = thread.env;
        let mut handles = ptr::null_mut();
        let mut resource = ptr::null_mut();
        let mut scope = ptr::null_mut();
        // SAFETY: on the env's thread, from a libuv callback (not inside
        // another call into JavaScript's engine).
        unsafe {
            sys::napi_open_handle_scope(env, &mut handles);
            sys::napi_get_reference_value(env, thread.resource, &mut resource);
            sys::napi_open_callback_scope(env, resource, thread.context, &mut scope);
            f(env);
            sys::napi_close_callback_scope(env, scope);
            sys::napi_close_handle_scope(env, handles);
        }
    });
}
