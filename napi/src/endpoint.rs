use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use napi::bindgen_prelude::PromiseRaw;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Env;
use napi_derive::napi;
use quicbridge_core::{
    app_code, ConnectOptions, Endpoint, EndpointOptions, Error, KeyLogSink, ServerOptions,
};
use quinn::{AsyncUdpSocket, Runtime};
use socket2::{Domain, Protocol, Socket, Type};

use crate::connection::NativeConnection;
use crate::error::OrThrow;
use crate::event_loop::LoopRuntime;
use crate::promise::promise;

/// A JavaScript `(line: string) => void`, queued to JavaScript rather than
/// called from inside quinn's handshake (where a callback that called back
/// into the binding would find the endpoint mid-poll); weak, so that it does
/// not keep the process alive by itself.
type LineCallback = ThreadsafeFunction<String, (), String, napi::Status, false, true>;

#[napi]
pub struct NativeEndpoint {
    inner: Endpoint,
}

fn bind_socket(address: &str, port: u32) -> quicbridge_core::Result<Arc<dyn AsyncUdpSocket>> {
    let ip: IpAddr = address
        .parse()
        .map_err(|_| Error::invalid_arg(format!("address: {address:?} is not an IP address")))?;
    let port = u16::try_from(port)
        .map_err(|_| Error::invalid_arg(format!("port: must be 0 to 65535, got {port}")))?;
    let addr = SocketAddr::new(ip, port);
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    // Room for a burst of a congestion window's worth of datagrams: the
    // kernel's default (~200 KiB) drops packets at loopback speeds. Best
    // effort, the OS caps it (net.core.rmem_max).
    let _ = socket.set_recv_buffer_size(SOCKET_BUFFER_BYTES);
    let _ = socket.set_send_buffer_size(SOCKET_BUFFER_BYTES);
    socket.bind(&addr.into())?;
    Ok(LoopRuntime.wrap_udp_socket(socket.into())?)
}

const SOCKET_BUFFER_BYTES: usize = 4 * 1024 * 1024;

#[napi]
impl NativeEndpoint {
    /// Binds a UDP socket on `address:port` (port 0 picks one) and starts an
    /// endpoint on it; `options` is the JSON of `EndpointOptions`; `keylog`
    /// receives TLS secrets in SSLKEYLOGFILE format.
    #[napi(ts_return_type = "Promise<NativeEndpoint>")]
    pub fn bind<'env>(
        env: &'env Env,
        address: String,
        port: u32,
        options: String,
        #[napi(ts_arg_type = "(line: string) => void")] keylog: Option<LineCallback>,
    ) -> napi::Result<PromiseRaw<'env, NativeEndpoint>> {
        let options = EndpointOptions::from_json(&options).or_throw()?;
        let keylog = keylog.map(|callback| -> KeyLogSink {
            Arc::new(move |line| {
                callback.call(line, ThreadsafeFunctionCallMode::NonBlocking);
            })
        });
        promise(env, async move {
            let socket = bind_socket(&address, port).or_throw()?;
            let inner =
                Endpoint::new(socket, Arc::new(LoopRuntime), &options, keylog).or_throw()?;
            Ok(NativeEndpoint { inner })
        })
    }

    /// JSON `{ address, port }` of the bound socket.
    #[napi]
    pub fn local_address(&self) -> napi::Result<String> {
        let addr = self.inner.local_addr().or_throw()?;
        Ok(format!(
            r#"{{"address":"{}","port":{}}}"#,
            addr.ip(),
            addr.port()
        ))
    }

    #[napi(ts_return_type = "Promise<NativeConnection>")]
    pub fn connect<'env>(
        &self,
        env: &'env Env,
        options: String,
    ) -> napi::Result<PromiseRaw<'env, NativeConnection>> {
        let options = ConnectOptions::from_json(&options).or_throw()?;
        let endpoint = self.inner.clone();
        promise(env, async move {
            let connection = endpoint.connect(&options).await.or_throw()?;
            Ok(NativeConnection::new(connection))
        })
    }

    /// Starts accepting connections; `options` is the JSON of `ServerOptions`.
    #[napi]
    pub fn listen(&self, options: String) -> napi::Result<()> {
        let options = ServerOptions::from_json(&options).or_throw()?;
        self.inner.listen(&options).or_throw()
    }

    /// The next incoming connection, or `null` once the endpoint is closed.
    #[napi(ts_return_type = "Promise<NativeConnection | null>")]
    pub fn accept<'env>(
        &self,
        env: &'env Env,
    ) -> napi::Result<PromiseRaw<'env, Option<NativeConnection>>> {
        let endpoint = self.inner.clone();
        promise(env, async move {
            let connection = endpoint.accept().await.or_throw()?;
            Ok(connection.map(NativeConnection::new))
        })
    }

    /// Moves the endpoint to a new socket on `address:port`; its
    /// connections migrate.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn rebind<'env>(
        &self,
        env: &'env Env,
        address: String,
        port: u32,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let endpoint = self.inner.clone();
        promise(env, async move {
            let socket = bind_socket(&address, port).or_throw()?;
            endpoint.rebind(socket).or_throw()
        })
    }

    #[napi]
    pub fn open_connections(&self) -> u32 {
        self.inner.open_connections() as u32
    }

    #[napi]
    pub fn close(&self, code: f64, reason: String) -> napi::Result<()> {
        let code = app_code(code, "code").or_throw()?;
        self.inner.close(code, &reason);
        Ok(())
    }

    /// Closes the UDP socket now (after `close` and `waitIdle`) instead of
    /// when the last connection object is garbage collected.
    #[napi]
    pub fn release(&self) {
        self.inner.release();
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn wait_idle<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        let endpoint = self.inner.clone();
        promise(env, async move {
            endpoint.wait_idle().await;
            Ok(())
        })
    }
}
