use std::net::SocketAddr;
use std::sync::Arc;

use quinn::{AsyncUdpSocket, EndpointConfig, Runtime, VarInt};
use tokio::sync::{mpsc, Mutex as AsyncMutex, Notify};

use crate::close::connection_error;
use crate::config::{ConnectOptions, EndpointOptions};
use crate::connection::Connection;
use crate::error::{Error, ErrorCode, Result};

/// Established connections the server holds for `accept()` before it stops
/// taking new handshakes off the socket.
const ACCEPT_BACKLOG: usize = 64;

/// A QUIC endpoint bound to one UDP socket. Cheap to clone; all clones are
/// the same endpoint.
#[derive(Debug, Clone)]
pub struct Endpoint {
    inner: quinn::Endpoint,
    accepted: Option<Arc<AsyncMutex<mpsc::Receiver<Connection>>>>,
    _accept_loop_guard: Arc<StopOnDrop>,
}

/// Stops the accept loop when the last handle to the endpoint goes away, so
/// that the loop's own handle does not keep the endpoint alive forever.
#[derive(Debug, Default)]
struct StopOnDrop(Arc<Notify>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.notify_one();
    }
}

impl Endpoint {
    /// An endpoint on `socket`, driven by `runtime`. With `options.server`
    /// it accepts connections.
    pub fn new(
        socket: Arc<dyn AsyncUdpSocket>,
        runtime: Arc<dyn Runtime>,
        options: &EndpointOptions,
    ) -> Result<Self> {
        let server_config = options.server.as_ref().map(|s| s.to_quinn()).transpose()?;
        let is_server = server_config.is_some();
        let inner = quinn::Endpoint::new_with_abstract_socket(
            EndpointConfig::default(),
            server_config,
            socket,
            runtime.clone(),
        )?;
        let stop_accepting = Arc::new(StopOnDrop::default());
        let accepted = is_server.then(|| {
            let (tx, rx) = mpsc::channel(ACCEPT_BACKLOG);
            let stop = stop_accepting.0.clone();
            runtime.spawn(Box::pin(accept_loop(
                inner.clone(),
                tx,
                runtime.clone(),
                stop,
            )));
            Arc::new(AsyncMutex::new(rx))
        });
        Ok(Endpoint {
            inner,
            accepted,
            _accept_loop_guard: stop_accepting,
        })
    }

    pub fn local_addr(&self) -> Result<SocketAddr> {
        Ok(self.inner.local_addr()?)
    }

    pub async fn connect(&self, options: &ConnectOptions) -> Result<Connection> {
        let remote = options.remote()?;
        let config = options.to_quinn()?;
        let connecting = self
            .inner
            .connect_with(config, remote, &options.server_name)
            .map_err(|e| match e {
                quinn::ConnectError::InvalidServerName(name) => {
                    Error::invalid_arg(format!("serverName: {name:?} is not a valid server name"))
                }
                quinn::ConnectError::InvalidRemoteAddress(addr) => Error::invalid_arg(format!(
                    "address: cannot reach {addr} from this endpoint (address family?)"
                )),
                quinn::ConnectError::EndpointStopping => {
                    Error::invalid_state("the endpoint is closed")
                }
                other => Error::new(ErrorCode::Limit, other.to_string()),
            })?;
        match connecting.await {
            Ok(conn) => Ok(Connection::new(conn, Some(options.server_name.clone()))),
            Err(e) => Err(connection_error(&e, None)),
        }
    }

    /// The next established incoming connection; `None` once the endpoint
    /// is closed. Handshakes that fail are dropped here, not reported.
    pub async fn accept(&self) -> Result<Option<Connection>> {
        let Some(accepted) = &self.accepted else {
            return Err(Error::invalid_state(
                "this endpoint was created without server options",
            ));
        };
        Ok(accepted.lock().await.recv().await)
    }

    pub fn close(&self, code: VarInt, reason: &str) {
        self.inner.close(code, reason.as_bytes());
    }

    /// Settles when every connection of this endpoint has been closed and
    /// drained (so the socket can be released without losing a close).
    pub async fn wait_idle(&self) {
        self.inner.wait_idle().await;
    }
}

async fn accept_loop(
    endpoint: quinn::Endpoint,
    accepted: mpsc::Sender<Connection>,
    runtime: Arc<dyn Runtime>,
    stop: Arc<Notify>,
) {
    loop {
        let incoming = tokio::select! {
            biased;
            incoming = endpoint.accept() => incoming,
            _ = stop.notified() => None,
        };
        let Some(incoming) = incoming else { break };
        let accepted = accepted.clone();
        runtime.spawn(Box::pin(async move {
            if let Ok(conn) = incoming.await {
                // The receiver is gone only when the endpoint is; then the
                // connection simply drops (and closes).
                let _ = accepted.send(Connection::new(conn, None)).await;
            }
        }));
    }
}
