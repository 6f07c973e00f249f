use std::net::SocketAddr;
use std::sync::Arc;

use quinn::{AsyncUdpSocket, EndpointConfig, Runtime, VarInt};
use tokio::sync::{mpsc, Mutex as AsyncMutex, Notify};

use crate::close::{connection_error, Ending, Endings, LocalClose};
use crate::config::{ConnectOptions, EndpointOptions, SocketTraits};
use crate::connection::{Connection, ConnectionParts};
use crate::error::{Error, ErrorCode, Result};
use crate::tls::{KeyLogSink, TlsContext};

/// Established connections the server holds for `accept()` before it stops
/// taking new handshakes off the socket.
const ACCEPT_BACKLOG: usize = 64;

/// A QUIC endpoint bound to one UDP socket. Cheap to clone; all clones are
/// the same endpoint.
#[derive(Debug, Clone)]
pub struct Endpoint {
    inner: quinn::Endpoint,
    runtime: Arc<dyn Runtime>,
    socket: SocketTraits,
    tls: TlsContext,
    endings: Endings,
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

/// How the accept loop treats each incoming connection attempt.
struct AcceptPolicy {
    max_connections: usize,
    early_data: bool,
}

impl Endpoint {
    /// An endpoint on `socket`, driven by `runtime`. With `options.server`
    /// it accepts connections. `keylog`, when given, receives the TLS
    /// secrets of every connection of this endpoint.
    pub fn new(
        socket: Arc<dyn AsyncUdpSocket>,
        runtime: Arc<dyn Runtime>,
        options: &EndpointOptions,
        keylog: Option<KeyLogSink>,
    ) -> Result<Self> {
        let traits = SocketTraits {
            may_fragment: socket.may_fragment(),
        };
        let tls = TlsContext { keylog };
        let server_config = options
            .server
            .as_ref()
            .map(|s| s.to_quinn(traits, &tls))
            .transpose()?;
        let policy = options
            .server
            .as_ref()
            .map(|s| {
                Ok::<_, Error>(AcceptPolicy {
                    max_connections: s.max_connections()?,
                    early_data: s.early_data,
                })
            })
            .transpose()?;
        let inner = quinn::Endpoint::new_with_abstract_socket(
            EndpointConfig::default(),
            server_config,
            socket,
            runtime.clone(),
        )?;
        let stop_accepting = Arc::new(StopOnDrop::default());
        let endings = Endings::default();
        let accepted = policy.map(|policy| {
            let (tx, rx) = mpsc::channel(ACCEPT_BACKLOG);
            runtime.spawn(Box::pin(accept_loop(
                inner.clone(),
                tx,
                runtime.clone(),
                stop_accepting.0.clone(),
                policy,
                endings.clone(),
            )));
            Arc::new(AsyncMutex::new(rx))
        });
        Ok(Endpoint {
            inner,
            runtime,
            socket: traits,
            tls,
            endings,
            accepted,
            _accept_loop_guard: stop_accepting,
        })
    }

    pub fn local_addr(&self) -> Result<SocketAddr> {
        Ok(self.inner.local_addr()?)
    }

    pub async fn connect(&self, options: &ConnectOptions) -> Result<Connection> {
        let remote = options.remote()?;
        let config = options.to_quinn(self.socket, &self.tls)?;
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
        let ending = Ending::default();
        self.endings.register(&ending);
        let parts = ConnectionParts {
            endpoint: self.inner.clone(),
            runtime: self.runtime.clone(),
            server_name: Some(options.server_name.clone()),
            ending,
        };
        let connecting = if options.early_data {
            match connecting.into_0rtt() {
                Ok((conn, accepted)) => return Ok(Connection::new_early(conn, parts, accepted)),
                // No session to resume yet: a full handshake.
                Err(connecting) => connecting,
            }
        } else {
            connecting
        };
        match connecting.await {
            Ok(conn) => Ok(Connection::new(conn, parts)),
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

    /// Moves the endpoint to another socket (a new local port or address);
    /// its connections migrate to the new path.
    pub fn rebind(&self, socket: Arc<dyn AsyncUdpSocket>) -> Result<()> {
        Ok(self.inner.rebind_abstract(socket)?)
    }

    /// Connections open on this endpoint, handshaking ones included.
    pub fn open_connections(&self) -> usize {
        self.inner.open_connections()
    }

    /// Closes every connection with `code` and `reason`, and stops
    /// accepting.
    pub fn close(&self, code: VarInt, reason: &str) {
        self.endings.record_local(&LocalClose {
            code: code.into_inner(),
            reason: reason.to_string(),
        });
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
    policy: AcceptPolicy,
    endings: Endings,
) {
    loop {
        let incoming = tokio::select! {
            biased;
            incoming = endpoint.accept() => incoming,
            _ = stop.notified() => None,
        };
        let Some(incoming) = incoming else { break };
        // Handshaking connections count; this attempt does not yet.
        if endpoint.open_connections() >= policy.max_connections {
            incoming.refuse();
            continue;
        }
        let Ok(connecting) = incoming.accept() else {
            continue;
        };
        let accepted = accepted.clone();
        let endpoint = endpoint.clone();
        let early_data = policy.early_data;
        let ending = Ending::default();
        endings.register(&ending);
        let parts = ConnectionParts {
            endpoint: endpoint.clone(),
            runtime: runtime.clone(),
            server_name: None,
            ending,
        };
        runtime.spawn(Box::pin(async move {
            let connection = if early_data {
                match connecting.into_0rtt() {
                    Ok((conn, zero_rtt)) => Some(Connection::new_early(conn, parts, zero_rtt)),
                    Err(connecting) => connecting
                        .await
                        .ok()
                        .map(|conn| Connection::new(conn, parts)),
                }
            } else {
                connecting
                    .await
                    .ok()
                    .map(|conn| Connection::new(conn, parts))
            };
            if let Some(connection) = connection {
                // The receiver is gone only when the endpoint is; then the
                // connection simply drops (and closes).
                let _ = accepted.send(connection).await;
            }
        }));
    }
}
