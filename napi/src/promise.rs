//! Binding calls that have to wait return a JavaScript promise that a task
//! on the event loop settles when the core's future completes: no thread,
//! threadsafe function or async work item per call.

use std::future::Future;
use std::ptr;

use napi::bindgen_prelude::{PromiseRaw, ToNapiValue};
use napi::{check_status, sys, Env, JsError};

use crate::event_loop;
use crate::js_thread;

/// A promise of what `future` produces. The future is polled at once, so a
/// call the core can answer without waiting settles before this returns.
pub(crate) fn promise<'env, T, F>(env: &'env Env, future: F) -> napi::Result<PromiseRaw<'env, T>>
where
    T: ToNapiValue + 'static,
    F: Future<Output = napi::Result<T>> + 'static,
{
    js_thread::enter(env.raw())?;
    let mut deferred = ptr::null_mut();
    let mut promise = ptr::null_mut();
    // SAFETY: a valid env, inside a call from JavaScript.
    check_status!(
        unsafe { sys::napi_create_promise(env.raw(), &mut deferred, &mut promise) },
        "could not create a promise"
    )?;
    let spawned = event_loop::spawn(async move {
        let result = future.await;
        js_thread::with(|thread| {
            // SAFETY: tasks run on the env's thread, inside a call from
            // JavaScript or a libuv callback's scope, and settle once.
            unsafe { settle(thread.env, deferred, result) }
        });
    });
    if !spawned {
        return Err(napi::Error::from_reason(
            "the binding's event loop is gone (the environment is shutting down)",
        ));
    }
    event_loop::drain_now();
    Ok(PromiseRaw::new(env.raw(), promise))
}

/// # Safety
/// On the env's thread, in a handle scope; `deferred` is settled once.
unsafe fn settle<T: ToNapiValue>(
    env: sys::napi_env,
    deferred: sys::napi_deferred,
    result: napi::Result<T>,
) {
    match result.and_then(|value| T::to_napi_value(env, value)) {
        Ok(value) => {
            sys::napi_resolve_deferred(env, deferred, value);
        }
        Err(error) => {
            sys::napi_reject_deferred(env, deferred, JsError::from(error).into_value(env));
        }
    }
}
