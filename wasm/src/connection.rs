use js_sys::{Promise, Uint8Array};
use quicbridge_core::http3::Http3Session;
use quicbridge_core::{app_code, Connection};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::error::OrThrow;
use crate::http3::WasmHttp3Session;
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

/// A promise of the stream an async core call yields.
fn stream_promise<F>(future: F) -> Promise
where
    F: std::future::Future<Output = quicbridge_core::Result<quicbridge_core::Stream>> + 'static,
{
    future_to_promise(async move { Ok(WasmStream::new(future.await.or_throw()?).into()) })
}

#[wasm_bindgen]
impl WasmConnection {
    /// Resolves with a `WasmStream`.
    #[wasm_bindgen(js_name = openBi, unchecked_return_type = "Promise<WasmStream>")]
    pub fn open_bi(&self) -> Promise {
        let connection = self.inner.clone();
        stream_promise(async move { connection.open_bi().await })
    }

    /// Resolves with the peer's next bidirectional `WasmStream`.
    #[wasm_bindgen(js_name = acceptBi, unchecked_return_type = "Promise<WasmStream>")]
    pub fn accept_bi(&self) -> Promise {
        let connection = self.inner.clone();
        stream_promise(async move { connection.accept_bi().await })
    }

    #[wasm_bindgen(js_name = openUni, unchecked_return_type = "Promise<WasmStream>")]
    pub fn open_uni(&self) -> Promise {
        let connection = self.inner.clone();
        stream_promise(async move { connection.open_uni().await })
    }

    #[wasm_bindgen(js_name = acceptUni, unchecked_return_type = "Promise<WasmStream>")]
    pub fn accept_uni(&self) -> Promise {
        let connection = self.inner.clone();
        stream_promise(async move { connection.accept_uni().await })
    }

    /// A new stream if the peer's limit allows one now, else `undefined`.
    #[wasm_bindgen(js_name = tryOpenBi)]
    pub fn try_open_bi(&self) -> Result<Option<WasmStream>, JsValue> {
        Ok(self.inner.try_open_bi().or_throw()?.map(WasmStream::new))
    }

    /// The peer's next stream if it has arrived, else `undefined`.
    #[wasm_bindgen(js_name = tryAcceptBi)]
    pub fn try_accept_bi(&self) -> Result<Option<WasmStream>, JsValue> {
        Ok(self.inner.try_accept_bi().or_throw()?.map(WasmStream::new))
    }

    #[wasm_bindgen(js_name = tryOpenUni)]
    pub fn try_open_uni(&self) -> Result<Option<WasmStream>, JsValue> {
        Ok(self.inner.try_open_uni().or_throw()?.map(WasmStream::new))
    }

    #[wasm_bindgen(js_name = tryAcceptUni)]
    pub fn try_accept_uni(&self) -> Result<Option<WasmStream>, JsValue> {
        Ok(self.inner.try_accept_uni().or_throw()?.map(WasmStream::new))
    }

    #[wasm_bindgen(js_name = sendDatagram)]
    pub fn send_datagram(&self, data: &[u8]) -> Result<(), JsValue> {
        self.inner.send_datagram(data).or_throw()
    }

    /// Waits for a datagram; resolves with it and every other one already
    /// received (up to `max_bytes`), framed by the core.
    #[wasm_bindgen(js_name = readDatagrams, unchecked_return_type = "Promise<Uint8Array>")]
    pub fn read_datagrams(&self, max_bytes: u32) -> Promise {
        let connection = self.inner.clone();
        future_to_promise(async move {
            let framed = connection.read_datagrams(max_bytes as usize).await;
            Ok(Uint8Array::from(&framed.or_throw()?[..]).into())
        })
    }

    /// The datagrams already received (up to `max_bytes`), framed by the
    /// core; empty when there are none.
    #[wasm_bindgen(js_name = tryReadDatagrams)]
    pub fn try_read_datagrams(&self, max_bytes: u32) -> Result<Uint8Array, JsValue> {
        let framed = self.inner.try_read_datagrams(max_bytes as usize);
        Ok(Uint8Array::from(&framed.or_throw()?[..]))
    }

    /// `undefined` when the peer does not accept datagrams.
    #[wasm_bindgen(js_name = maxDatagramSize)]
    pub fn max_datagram_size(&self) -> Option<u32> {
        self.inner.max_datagram_size().map(|n| n as u32)
    }

    pub fn close(&self, code: f64, reason: &str) -> Result<(), JsValue> {
        let code = app_code(code, "code").or_throw()?;
        self.inner.close(code, reason).or_throw()
    }

    /// Resolves with the JSON of `CloseInfo` when the connection ends.
    #[wasm_bindgen(unchecked_return_type = "Promise<string>")]
    pub fn closed(&self) -> Promise {
        let connection = self.inner.clone();
        future_to_promise(async move { Ok(connection.closed().await.to_json().into()) })
    }

    /// Resolves once the handshake completes with what became of 0-RTT:
    /// `notAttempted`, `accepted` or `rejected`.
    #[wasm_bindgen(js_name = handshakeComplete, unchecked_return_type = "Promise<'notAttempted' | 'pending' | 'accepted' | 'rejected'>")]
    pub fn handshake_complete(&self) -> Promise {
        let connection = self.inner.clone();
        future_to_promise(async move {
            let early_data = connection.handshake_complete().await.or_throw()?;
            Ok(early_data.as_str().into())
        })
    }

    /// JSON of `ConnectionInfo`.
    pub fn info(&self) -> String {
        self.inner.info_json()
    }

    /// JSON of `Stats`.
    pub fn stats(&self) -> String {
        self.inner.stats_json()
    }

    /// JSON array of the peer's certificates as PEM.
    #[wasm_bindgen(js_name = peerCertificates)]
    pub fn peer_certificates(&self) -> String {
        self.inner.peer_certificates_json()
    }

    /// Starts HTTP/3 on this connection as the client (`server == false`)
    /// or as the server; resolves with a `WasmHttp3Session`.
    #[wasm_bindgen(unchecked_return_type = "Promise<WasmHttp3Session>")]
    pub fn http3(&self, server: bool) -> Promise {
        let connection = self.inner.clone();
        future_to_promise(async move {
            let session = if server {
                Http3Session::server(&connection).await
            } else {
                Http3Session::client(&connection).await
            };
            Ok(WasmHttp3Session::new(session.or_throw()?).into())
        })
    }

    #[wasm_bindgen(js_name = forceKeyUpdate)]
    pub fn force_key_update(&self) {
        self.inner.force_key_update();
    }
}
