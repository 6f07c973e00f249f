use js_sys::{Promise, Uint8Array};
use quicbridge_core::app_code;
use quicbridge_core::http3::{
    headers_from_json, headers_to_json, Http3Session, Http3Stream, RequestHead, ResponseHead,
};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::error::OrThrow;

#[wasm_bindgen]
pub struct WasmHttp3Session {
    inner: Http3Session,
}

impl WasmHttp3Session {
    pub(crate) fn new(inner: Http3Session) -> Self {
        WasmHttp3Session { inner }
    }
}

#[wasm_bindgen]
impl WasmHttp3Session {
    /// Sends a request head (JSON of `RequestHead`); resolves with a `WasmHttp3Stream`.
    #[wasm_bindgen(unchecked_return_type = "Promise<WasmHttp3Stream>")]
    pub fn request(&self, head: &str) -> Promise {
        let session = self.inner.clone();
        let head = RequestHead::from_json(head);
        future_to_promise(async move {
            let stream = session.request(&head.or_throw()?).await.or_throw()?;
            Ok(WasmHttp3Stream { inner: stream }.into())
        })
    }

    /// Resolves with the next request, or `null` once the client is done.
    #[wasm_bindgen(unchecked_return_type = "Promise<WasmHttp3Stream | null>")]
    pub fn accept(&self) -> Promise {
        let session = self.inner.clone();
        future_to_promise(async move {
            let stream = session.accept().await.or_throw()?;
            Ok(stream.map_or(JsValue::NULL, |inner| WasmHttp3Stream { inner }.into()))
        })
    }
}

#[wasm_bindgen]
pub struct WasmHttp3Stream {
    inner: Http3Stream,
}

#[wasm_bindgen]
impl WasmHttp3Stream {
    /// JSON of the request head (server side), else `undefined`.
    #[wasm_bindgen(js_name = requestHead)]
    pub fn request_head(&self) -> Option<String> {
        self.inner.request_head().map(RequestHead::to_json)
    }

    /// Resolves with the JSON of the response head (client side).
    #[wasm_bindgen(js_name = responseHead, unchecked_return_type = "Promise<string>")]
    pub fn response_head(&self) -> Promise {
        let stream = self.inner.clone();
        future_to_promise(
            async move { Ok(stream.response_head().await.or_throw()?.to_json().into()) },
        )
    }

    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn respond(&self, head: &str) -> Promise {
        let stream = self.inner.clone();
        let head = ResponseHead::from_json(head);
        future_to_promise(async move {
            stream.respond(&head.or_throw()?).await.or_throw()?;
            Ok(JsValue::UNDEFINED)
        })
    }

    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn write(&self, data: Vec<u8>) -> Promise {
        let stream = self.inner.clone();
        future_to_promise(async move {
            stream.write(&data).await.or_throw()?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Ends the body; `trailers` is JSON of header pairs, or `null`.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn finish(&self, trailers: Option<String>) -> Promise {
        let stream = self.inner.clone();
        future_to_promise(async move {
            let trailers = trailers
                .map(|t| headers_from_json(&t))
                .transpose()
                .or_throw()?;
            stream.finish(trailers.as_ref()).await.or_throw()?;
            Ok(JsValue::UNDEFINED)
        })
    }

    #[wasm_bindgen(unchecked_return_type = "Promise<Uint8Array | null>")]
    pub fn read(&self, max: u32) -> Promise {
        let stream = self.inner.clone();
        future_to_promise(async move {
            let chunk = stream.read(max as usize).await.or_throw()?;
            Ok(chunk.map_or(JsValue::NULL, |bytes| Uint8Array::from(&bytes[..]).into()))
        })
    }

    /// Resolves with JSON of the trailers, or `null` when there were none.
    #[wasm_bindgen(unchecked_return_type = "Promise<string | null>")]
    pub fn trailers(&self) -> Promise {
        let stream = self.inner.clone();
        future_to_promise(async move {
            let trailers = stream.trailers().await.or_throw()?;
            Ok(trailers
                .as_ref()
                .map_or(JsValue::NULL, |t| headers_to_json(t).into()))
        })
    }

    pub fn reset(&self, code: f64) -> Result<(), JsValue> {
        self.inner
            .reset(app_code(code, "code").or_throw()?.into_inner())
            .or_throw()
    }

    pub fn stop(&self, code: f64) -> Result<(), JsValue> {
        self.inner
            .stop(app_code(code, "code").or_throw()?.into_inner())
            .or_throw()
    }
}
