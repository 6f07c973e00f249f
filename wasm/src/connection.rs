use js_sys::Promise;
use quicbridge_core::{app_code, Connection};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::error::OrThrow;
use crate::stream::WasmStream;

#[wasm_bindgen]
pub struct WasmConnection {
    inner: Connection,
}

impl WasmConnection {
    pub(crate) fn new(inner: Connection) -> Self {
        WasmConnection { inner }
    }
}

#[wasm_bindgen]
impl WasmConnection {
    /// Resolves with a `WasmStream`.
    #[wasm_bindgen(js_name = openBi)]
    pub fn open_bi(&self) -> Promise {
        let connection = self.inner.clone();
        future_to_promise(async move {
            let stream = connection.open_bi().await.or_throw()?;
            Ok(WasmStream::new(stream).into())
        })
    }

    /// Resolves with the peer's next `WasmStream`.
    #[wasm_bindgen(js_name = acceptBi)]
    pub fn accept_bi(&self) -> Promise {
        let connection = self.inner.clone();
        future_to_promise(async move {
            let stream = connection.accept_bi().await.or_throw()?;
            Ok(WasmStream::new(stream).into())
        })
    }

    pub fn close(&self, code: f64, reason: &str) -> Result<(), JsValue> {
        let code = app_code(code, "code").or_throw()?;
        self.inner.close(code, reason).or_throw()
    }

    /// Resolves with the JSON of `CloseInfo` when the connection ends.
    pub fn closed(&self) -> Promise {
        let connection = self.inner.clone();
        future_to_promise(async move { Ok(connection.closed().await.to_json().into()) })
    }

    /// JSON of `ConnectionInfo`.
    pub fn info(&self) -> String {
        self.inner.info_json()
    }
}
