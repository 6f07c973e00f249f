use std::ptr;

use napi::bindgen_prelude::{
    Buffer, BufferSlice, Either3, Null, PromiseRaw, ToNapiValue, Undefined,
};
use napi::{check_status, sys, Env};
use napi_derive::napi;
use quicbridge_core::{app_code, Received, Stream, TryRead};

use crate::error::OrThrow;
use crate::promise::promise;

/// Received bytes as a Node `Buffer` that Node allocates, the chunks copied
/// into it once. (A `Buffer` over Rust memory would spare that copy but
/// costs more: each is an external buffer whose finalizer runs on the
/// JavaScript thread, and at bulk rates their garbage collection took
/// a fifth of the process's CPU.)
pub struct ReceivedBuffer(Received);

impl ToNapiValue for ReceivedBuffer {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        let mut data = ptr::null_mut();
        let mut buffer = ptr::null_mut();
        check_status!(
            sys::napi_create_buffer(env, val.0.len(), &mut data, &mut buffer),
            "could not allocate a Buffer for received data"
        )?;
        if !val.0.is_empty() {
            // SAFETY: Node just allocated `len` writable bytes at `data`.
            val.0
                .copy_to(std::slice::from_raw_parts_mut(data.cast(), val.0.len()));
        }
        Ok(buffer)
    }
}

#[napi]
pub struct NativeStream {
    inner: Stream,
}

impl NativeStream {
    pub(crate) fn new(inner: Stream) -> Self {
        NativeStream { inner }
    }
}

#[napi]
impl NativeStream {
    #[napi(getter)]
    pub fn id(&self) -> f64 {
        self.inner.id() as f64
    }

    /// Whether the peer opened this stream in 0-RTT data.
    #[napi(getter)]
    pub fn early(&self) -> bool {
        self.inner.is_early()
    }

    /// Resolves when all of `data` is buffered for sending (backpressure).
    #[napi(ts_return_type = "Promise<void>")]
    pub fn write<'env>(&self, env: &'env Env, data: Buffer) -> napi::Result<PromiseRaw<'env, ()>> {
        let stream = self.inner.clone();
        promise(env, async move { stream.write(&data).await.or_throw() })
    }

    /// Buffers what fits of `data` now; returns how many bytes it took.
    #[napi]
    pub fn try_write(&self, data: BufferSlice) -> napi::Result<u32> {
        Ok(self.inner.try_write(&data).or_throw()? as u32)
    }

    #[napi]
    pub fn finish(&self) -> napi::Result<()> {
        self.inner.finish().or_throw()
    }

    #[napi]
    pub fn reset(&self, code: f64) -> napi::Result<()> {
        self.inner
            .reset(app_code(code, "code").or_throw()?)
            .or_throw()
    }

    /// Up to `max` bytes once any are available; `null` at the end.
    #[napi(ts_return_type = "Promise<Buffer | null>")]
    pub fn read<'env>(
        &self,
        env: &'env Env,
        max: u32,
    ) -> napi::Result<PromiseRaw<'env, Option<ReceivedBuffer>>> {
        let stream = self.inner.clone();
        promise(env, async move {
            let chunk = stream.read(max as usize).await.or_throw()?;
            Ok(chunk.map(ReceivedBuffer))
        })
    }

    /// Up to `max` bytes already received, `null` at the end, `undefined`
    /// when nothing has arrived yet.
    #[napi]
    pub fn try_read(&self, max: u32) -> napi::Result<Either3<ReceivedBuffer, Null, Undefined>> {
        Ok(match self.inner.try_read(max as usize).or_throw()? {
            TryRead::Data(bytes) => Either3::A(ReceivedBuffer(bytes)),
            TryRead::End => Either3::B(Null),
            TryRead::Blocked => Either3::C(()),
        })
    }

    #[napi]
    pub fn stop(&self, code: f64) -> napi::Result<()> {
        self.inner
            .stop(app_code(code, "code").or_throw()?)
            .or_throw()
    }
}
