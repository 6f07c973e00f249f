use std::cell::RefCell;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use js_sys::Promise;
use quicbridge_core::{
    app_code, ConnectOptions, Endpoint, EndpointOptions, Error, KeyLogSink, ServerOptions,
};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::connection::WasmConnection;
use crate::error::OrThrow;
use crate::runtime::JsRuntime;
use crate::single_threaded::SingleThreaded;
use crate::socket::HostSocket;

fn socket_addr(address: &str, port: u32) -> quicbridge_core::Result<SocketAddr> {
    let ip: IpAddr = address
        .parse()
        .map_err(|_| Error::invalid_arg(format!("address: {address:?} is not an IP address")))?;
    let port = u16::try_from(port)
        .map_err(|_| Error::invalid_arg(format!("port: must be 0 to 65535, got {port}")))?;
    Ok(SocketAddr::new(ip, port))
}

#[wasm_bindgen]
pub struct WasmEndpoint {
    inner: Endpoint,
    /// The socket datagrams from the host go to; replaced by `rebind`.
    socket: RefCell<Arc<HostSocket>>,
}

fn host_socket(
    send: js_sys::Function,
    address: &str,
    port: u32,
) -> quicbridge_core::Result<Arc<HostSocket>> {
    Ok(Arc::new(HostSocket::new(socket_addr(address, port)?, send)))
}

#[wasm_bindgen]
impl WasmEndpoint {
    /// An endpoint on a datagram transport owned by the host: `send(bytes,
    /// address, port)` transmits one datagram; the host passes each datagram
    /// it receives to `receive`. `local_address:local_port` is where the
    /// transport is bound; `options` is the JSON of `EndpointOptions`;
    /// `keylog` receives TLS secrets in SSLKEYLOGFILE format.
    #[wasm_bindgen(constructor)]
    pub fn new(
        send: js_sys::Function,
        local_address: &str,
        local_port: u32,
        options: &str,
        keylog: Option<js_sys::Function>,
    ) -> Result<WasmEndpoint, JsValue> {
        let options = EndpointOptions::from_json(options).or_throw()?;
        let socket = host_socket(send, local_address, local_port).or_throw()?;
        let keylog = keylog.map(|callback| -> KeyLogSink {
            let callback = SingleThreaded(callback);
            Arc::new(move |line| {
                // A throwing callback loses its line, not the connection.
                let _ = callback.call1(&JsValue::NULL, &JsValue::from_str(&line));
            })
        });
        let inner =
            Endpoint::new(socket.clone(), Arc::new(JsRuntime), &options, keylog).or_throw()?;
        Ok(WasmEndpoint {
            inner,
            socket: RefCell::new(socket),
        })
    }

    /// Hands the endpoint one datagram received from `address:port`.
    pub fn receive(&self, datagram: Vec<u8>, address: &str, port: u32) -> Result<(), JsValue> {
        let from = socket_addr(address, port).or_throw()?;
        self.socket.borrow().deliver(datagram, from);
        Ok(())
    }

    /// Moves the endpoint to another host transport (bound at
    /// `local_address:local_port`); its connections migrate.
    pub fn rebind(
        &self,
        send: js_sys::Function,
        local_address: &str,
        local_port: u32,
    ) -> Result<(), JsValue> {
        let socket = host_socket(send, local_address, local_port).or_throw()?;
        self.inner.rebind(socket.clone()).or_throw()?;
        *self.socket.borrow_mut() = socket;
        Ok(())
    }

    #[wasm_bindgen(js_name = openConnections)]
    pub fn open_connections(&self) -> u32 {
        self.inner.open_connections() as u32
    }

    #[wasm_bindgen(js_name = localAddress)]
    pub fn local_address(&self) -> Result<String, JsValue> {
        let addr = self.inner.local_addr().or_throw()?;
        Ok(format!(
            r#"{{"address":"{}","port":{}}}"#,
            addr.ip(),
            addr.port()
        ))
    }

    /// Resolves with a `WasmConnection`.
    #[wasm_bindgen(unchecked_return_type = "Promise<WasmConnection>")]
    pub fn connect(&self, options: &str) -> Promise {
        let endpoint = self.inner.clone();
        let options = ConnectOptions::from_json(options);
        future_to_promise(async move {
            let connection = endpoint.connect(&options.or_throw()?).await.or_throw()?;
            Ok(WasmConnection::new(connection).into())
        })
    }

    /// Starts accepting connections; `options` is the JSON of `ServerOptions`.
    pub fn listen(&self, options: &str) -> Result<(), JsValue> {
        let options = ServerOptions::from_json(options).or_throw()?;
        self.inner.listen(&options).or_throw()
    }

    /// Resolves with the next incoming `WasmConnection`, or `null` once the
    /// endpoint is closed.
    #[wasm_bindgen(unchecked_return_type = "Promise<WasmConnection | null>")]
    pub fn accept(&self) -> Promise {
        let endpoint = self.inner.clone();
        future_to_promise(async move {
            let connection = endpoint.accept().await.or_throw()?;
            Ok(connection.map_or(JsValue::NULL, |c| WasmConnection::new(c).into()))
        })
    }

    pub fn close(&self, code: f64, reason: &str) -> Result<(), JsValue> {
        self.inner.close(app_code(code, "code").or_throw()?, reason);
        Ok(())
    }

    /// Stops using the host's socket (after `close` and `waitIdle`).
    pub fn release(&self) {
        self.inner.release();
        self.socket.borrow().detach();
    }

    #[wasm_bindgen(js_name = waitIdle, unchecked_return_type = "Promise<void>")]
    pub fn wait_idle(&self) -> Promise {
        let endpoint = self.inner.clone();
        future_to_promise(async move {
            endpoint.wait_idle().await;
            Ok(JsValue::UNDEFINED)
        })
    }
}
