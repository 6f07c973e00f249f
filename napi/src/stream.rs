use napi::bindgen_prelude::Buffer;
use napi_derive::napi;
use quicbridge_core::{app_code, Stream};

use crate::error::OrThrow;

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
    #[napi]
    pub async fn write(&self, data: Buffer) -> napi::Result<()> {
        self.inner.write(&data).await.or_throw()
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
    #[napi]
    pub async fn read(&self, max: u32) -> napi::Result<Option<Buffer>> {
        let chunk = self.inner.read(max as usize).await.or_throw()?;
        Ok(chunk.map(|mut bytes| {
            // The buffer keeps its allocation alive until garbage collection:
            // do not let a short read pin a large one.
            if bytes.len() < bytes.capacity() / 2 {
                bytes.shrink_to_fit();
            }
            Buffer::from(bytes)
        }))
    }

    #[napi]
    pub fn stop(&self, code: f64) -> napi::Result<()> {
        self.inner
            .stop(app_code(code, "code").or_throw()?)
            .or_throw()
    }
}
