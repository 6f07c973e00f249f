use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use quinn::{AsyncUdpSocket, Runtime, VarInt};
use tokio::sync::{mpsc, watch, Mutex as AsyncMutex, Notify};

use crate::close::{connection_error, Ending, Endings, LocalClose};
use crate::config::{ConnectOptions, EndpointOptions, RetryPolicy, ServerOptions, SocketTraits};
use crate::connection::{connection_resident_bytes, Connection, ConnectionParts};
use crate::error::{Error, ErrorCode, Result};
use crate::socket::ReleasableSocket;
use crate::tls::{KeyLogSink, TlsContext};

/// Established connections the server holds for `accept()` before it stops
/// taking new handshakes off the socket.
const ACCEPT_BACKLOG: usize = 64;

type Accepted = Arc<AsyncMutex<mpsc::Receiver<Connection>>>;

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A QUIC endpoint bound to one UDP socket. Cheap to clone; all clones are
/// the same endpoint.
#[derive(Debug, Clone)]
pub struct Endpoint {
    inner: quinn::Endpoint,
    runtime: Arc<dyn Runtime>,
    socket: SocketTraits,
    tls: TlsContext,
    endings: Endings,
    /// Set once the endpoint listens: connections for `accept()`.
    accepted: Arc<Mutex<Option<Accepted>>>,
    /// The socket in use, and after a rebind the one before it, which quinn
    /// keeps reading until traffic arrives on the new one.
    sockets: Arc<Mutex<Vec<Arc<ReleasableSocket>>>>,
    /// Set by [`release`](Self::release): ends [`wait_idle`](Self::wait_idle).
    released: Arc<watch::Sender<bool>>,
    /// What each of this endpoint's connections is estimated to hold.
    connection_bytes: usize,
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
    retry: RetryGate,
}

/// Decides which unvalidated handshakes get a Retry first. In `auto` mode a
/// token bucket admits up to `threshold` unvalidated handshakes per second
/// (bursts of up to `threshold`) without Retry; beyond that rate every
/// unvalidated client must prove its address, so a flood of spoofed
/// Initials costs the server one stateless Retry packet each (no connection
/// state, no signature) and never more than the anti-amplification limit.
#[derive(Debug, Clone)]
pub(crate) struct RetryGate {
    policy: RetryPolicy,
    threshold: f64,
    tokens: f64,
}

impl RetryGate {
    pub(crate) fn new(policy: RetryPolicy, threshold: u64) -> Self {
        RetryGate {
            policy,
            threshold: threshold as f64,
            tokens: threshold as f64,
        }
    }

    /// Whether a handshake arriving `elapsed` after the previous one must
    /// be answered with Retry. Validated addresses (a Retry token came
    /// back) never are.
    pub(crate) fn must_retry(&mut self, elapsed: Duration, validated: bool) -> bool {
        if validated {
            return false;
        }
        match self.policy {
            RetryPolicy::Always => true,
            RetryPolicy::Never => false,
            RetryPolicy::Auto => {
                self.tokens =
                    (self.tokens + elapsed.as_secs_f64() * self.threshold).min(self.threshold);
                if self.tokens >= 1.0 {
                    self.tokens -= 1.0;
                    false
                } else {
                    true
                }
            }
        }
    }
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
        let socket = ReleasableSocket::wrap(socket)?;
        let traits = SocketTraits::of(&*socket, socket.local_addr()?);
        let tls = TlsContext { keylog };
        let endpoint_config = options.endpoint_config(traits)?;
        let max_udp_payload = endpoint_config.get_max_udp_payload_size() as usize;
        socket.fit_receive_segments(max_udp_payload);
        let inner = quinn::Endpoint::new_with_abstract_socket(
            endpoint_config,
            None,
            socket.clone(),
            runtime.clone(),
        )?;
        let endpoint = Endpoint {
            inner,
            runtime,
            socket: traits,
            tls,
            endings: Endings::default(),
            accepted: Arc::new(Mutex::new(None)),
            sockets: Arc::new(Mutex::new(vec![socket])),
            released: Arc::new(watch::Sender::new(false)),
            connection_bytes: connection_resident_bytes(max_udp_payload),
            _accept_loop_guard: Arc::new(StopOnDrop::default()),
        };
        if let Some(server) = &options.server {
            endpoint.listen(server)?;
        }
        Ok(endpoint)
    }

    /// Starts accepting connections with `server`'s certificate, ALPN and
    /// limits, on an endpoint that may already have client connections.
    /// The largest UDP payload the endpoint advertises stays what it was
    /// created with; `server.transport` bounds its server connections.
    pub fn listen(&self, server: &ServerOptions) -> Result<()> {
        let mut accepted = lock(&self.accepted);
        if accepted.is_some() {
            return Err(Error::invalid_state("this endpoint is already listening"));
        }
        let config = server.to_quinn(self.socket, &self.tls)?;
        let (retry, threshold) = server.retry()?;
        let policy = AcceptPolicy {
            max_connections: server.max_connections()?,
            early_data: server.early_data,
            retry: RetryGate::new(retry, threshold),
        };
        self.inner.set_server_config(Some(config));
        let (tx, rx) = mpsc::channel(ACCEPT_BACKLOG);
        self.runtime.spawn(Box::pin(accept_loop(
            self.inner.clone(),
            tx,
            self.runtime.clone(),
            self._accept_loop_guard.0.clone(),
            policy,
            self.endings.clone(),
            self.connection_bytes,
        )));
        *accepted = Some(Arc::new(AsyncMutex::new(rx)));
        Ok(())
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
            resident_bytes: self.connection_bytes,
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
        let Some(accepted) = lock(&self.accepted).clone() else {
            return Err(Error::invalid_state("this endpoint is not listening"));
        };
        let next = accepted.lock().await.recv().await;
        Ok(next)
    }

    /// Moves the endpoint to another socket (a new local port or address);
    /// its connections migrate to the new path.
    pub fn rebind(&self, socket: Arc<dyn AsyncUdpSocket>) -> Result<()> {
        let socket = ReleasableSocket::wrap(socket)?;
        self.inner.rebind_abstract(socket.clone())?;
        let mut sockets = self.sockets();
        // Older than the previous socket: quinn no longer reads it.
        while sockets.len() > 1 {
            sockets.remove(0).release();
        }
        if let Some(previous) = sockets.last() {
            previous.retire();
        }
        sockets.push(socket);
        Ok(())
    }

    /// Gives the socket back to the operating system now, rather than when
    /// the last handle to this endpoint and its connections is dropped.
    /// Meant for after [`close`](Self::close) and [`wait_idle`](Self::wait_idle):
    /// the endpoint sends and receives nothing more.
    pub fn release(&self) {
        for socket in self.sockets().drain(..) {
            socket.release();
        }
        self.released.send_replace(true);
    }

    fn sockets(&self) -> std::sync::MutexGuard<'_, Vec<Arc<ReleasableSocket>>> {
        lock(&self.sockets)
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
    /// drained (so the socket can be released without losing a close), or
    /// when the socket is released. A connection drains for three probe
    /// timeouts, which heavy loss can stretch to minutes; a caller that stops
    /// waiting releases the socket, after which nothing more is sent, and a
    /// wait still pending would hold the native binding's event loop open.
    pub async fn wait_idle(&self) {
        let mut released = self.released.subscribe();
        tokio::select! {
            _ = self.inner.wait_idle() => {}
            _ = released.wait_for(|released| *released) => {}
        }
    }
}

async fn accept_loop(
    endpoint: quinn::Endpoint,
    accepted: mpsc::Sender<Connection>,
    runtime: Arc<dyn Runtime>,
    stop: Arc<Notify>,
    mut policy: AcceptPolicy,
    endings: Endings,
    connection_bytes: usize,
) {
    let mut last = runtime.now();
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
        let now = runtime.now();
        let elapsed = now.saturating_duration_since(last);
        last = now;
        let incoming = if policy
            .retry
            .must_retry(elapsed, incoming.remote_address_validated())
        {
            // Unvalidated means a Retry is allowed (quinn guarantees it);
            // should that ever change, the handshake simply goes ahead.
            match incoming.retry() {
                Ok(()) => continue,
                Err(e) => e.into_incoming(),
            }
        } else {
            incoming
        };
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
            resident_bytes: connection_bytes,
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

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn always_and_never_ignore_the_rate() {
        let mut always = RetryGate::new(RetryPolicy::Always, 1);
        let mut never = RetryGate::new(RetryPolicy::Never, 1);
        for _ in 0..100 {
            assert!(always.must_retry(Duration::ZERO, false));
            assert!(!never.must_retry(Duration::ZERO, false));
        }
        // A client that came back with a Retry token is never retried again.
        assert!(!always.must_retry(Duration::ZERO, true));
    }

    #[test]
    fn auto_retries_only_above_the_threshold() {
        let mut gate = RetryGate::new(RetryPolicy::Auto, 10);
        // A burst of 10 within a millisecond each passes, the 11th does not.
        for i in 0..10 {
            assert!(!gate.must_retry(MS, false), "handshake {i}");
        }
        assert!(gate.must_retry(MS, false));
        assert!(!gate.must_retry(MS, true), "validated addresses pass");
        // A tenth of a second later one more fits (10 per second).
        assert!(!gate.must_retry(100 * MS, false));
        assert!(gate.must_retry(MS, false));
        // At a steady rate below the threshold nothing is retried.
        let mut steady = RetryGate::new(RetryPolicy::Auto, 10);
        for _ in 0..1000 {
            assert!(!steady.must_retry(110 * MS, false));
        }
    }
}
