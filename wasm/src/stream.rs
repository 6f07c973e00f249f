use js_sys::{Promise, Uint8Array};
use quicbridge_core::{app_code, Received, Stream, TryRead};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::error::OrThrow;

#[wasm_bindgen]
pub struct WasmStream {
    inner: Stream,
}

impl WasmStream {
    pub(crate) fn new(inner: Stream) -> Self {
        WasmStream { inner }
    }
}

#[wasm_bindgen]
impl WasmStream {
    #[wasm_bindgen(getter)]
    pub fn id(&self) -> f64 {
        self.inner.id() as f64
    }

    /// Whether the peer opened this stream in 0-RTT data.
    #[wasm_bindgen(getter)]
    pub fn early(&self) -> bool {
        self.inner.is_early()
    }

    /// Resolves when all of `data` is buffered for sending (backpressure).
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn write(&self, data: Vec<u8>) -> Promise {
        let stream = self.inner.clone();
        future_to_promise(async move {
            stream.write(&data).await.or_throw()?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Buffers what fits of `data` now; returns how many bytes it took.
    #[wasm_bindgen(js_name = tryWrite)]
    pub fn try_write(&self, data: &[u8]) -> Result<u32, JsValue> {
        Ok(self.inner.try_write(data).or_throw()? as u32)
    }

    pub fn finish(&self) -> Result<(), JsValue> {
        self.inner.finish().or_throw()
    }

    pub fn reset(&self, code: f64) -> Result<(), JsValue> {
        self.inner
            .reset(app_code(code, "code").or_throw()?)
            .or_throw()
    }

    /// Resolves with up to `max` bytes once any are available; `null` at
    /// the end.
    #[wasm_bindgen(unchecked_return_type = "Promise<Uint8Array | null>")]
    pub fn read(&self, max: u32) -> Promise {
        let stream = self.inner.clone();
        future_to_promise(async move {
            let chunk = stream.read(max as usize).await.or_throw()?;
            Ok(chunk.map_or(JsValue::NULL, |bytes| to_uint8_array(&bytes).into()))
        })
    }

    /// Up to `max` bytes already received, `null` at the end, `undefined`
    /// when nothing has arrived yet.
    #[wasm_bindgen(js_name = tryRead)]
    pub fn try_read(&self, max: u32) -> Result<JsValue, JsValue> {
        Ok(match self.inner.try_read(max as usize).or_throw()? {
            TryRead::Data(bytes) => to_uint8_array(&bytes).into(),
            TryRead::End => JsValue::NULL,
            TryRead::Blocked => JsValue::UNDEFINED,
        })
    }

    pub fn stop(&self, code: f64) -> Result<(), JsValue> {
        self.inner
            .stop(app_code(code, "code").or_throw()?)
            .or_throw()
    }
}

/// Received bytes in one JavaScript array, each chunk copied into it once
/// (one call into JavaScript when they came in one chunk, as most do).
fn to_uint8_array(received: &Received) -> Uint8Array {
    let mut chunks = received.chunks();
    if let (Some(only), None) = (chunks.next(), chunks.next()) {
        return Uint8Array::from(only);
    }
    let array = Uint8Array::new_with_length(received.len() as u32);
    let mut at = 0;
    for chunk in received.chunks() {
        let end = at + chunk.len() as u32;
        array.subarray(at, end).copy_from(chunk);
        at = end;
    }
    array
}
