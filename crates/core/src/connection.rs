use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use quinn::{ConnectionError, Runtime, SendDatagramError, VarInt, ZeroRttAccepted};
use rustls_pki_types::CertificateDer;
use serde::Serialize;
use tokio::sync::watch;

use crate::close::{CloseInfo, Ending, LocalClose};
use crate::error::{Error, ErrorCode, Result};
use crate::stats::Stats;
use crate::stream::Stream;

/// Whether this connection used 0-RTT, as far as is known yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum EarlyData {
    /// No 0-RTT on this connection.
    NotAttempted,
    /// 0-RTT was attempted (client) or is possible (server); the handshake
    /// has not completed yet.
    Pending,
    Accepted,
    Rejected,
}

impl EarlyData {
    /// The name JavaScript sees (as in the serialized form).
    pub fn as_str(self) -> &'static str {
        match self {
            EarlyData::NotAttempted => "notAttempted",
            EarlyData::Pending => "pending",
            EarlyData::Accepted => "accepted",
            EarlyData::Rejected => "rejected",
        }
    }
}

/// Where the handshake of a connection that started early stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Handshake {
    Pending,
    Complete(EarlyData),
    /// The connection ended before the handshake completed.
    Failed,
}

/// A QUIC connection; cheap to clone, all clones are the same connection.
#[derive(Debug, Clone)]
pub struct Connection {
    inner: quinn::Connection,
    endpoint: quinn::Endpoint,
    runtime: Arc<dyn Runtime>,
    ending: Ending,
    /// The name a client connected to; servers learn it from the handshake.
    server_name: Option<String>,
    handshake: watch::Receiver<Handshake>,
    resident_bytes: usize,
}

/// What a caller may want to know about a connection; read live, since
/// addresses change with migration.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionInfo {
    pub local_address: String,
    pub local_port: u16,
    pub remote_address: String,
    pub remote_port: u16,
    /// The negotiated ALPN protocol.
    pub alpn: Option<String>,
    /// The server name the client asked for (SNI).
    pub server_name: Option<String>,
    pub side: &'static str,
    pub early_data: EarlyData,
    /// Whether the TLS handshake has completed.
    pub handshake_complete: bool,
}

/// The longest close reason we send; longer ones are refused rather than
/// silently truncated.
const MAX_REASON_BYTES: usize = 1024;

/// What an endpoint hands each of its connections.
pub(crate) struct ConnectionParts {
    pub endpoint: quinn::Endpoint,
    pub runtime: Arc<dyn Runtime>,
    /// The name a client connected to; servers learn it from the handshake.
    pub server_name: Option<String>,
    pub ending: Ending,
    pub resident_bytes: usize,
}

/// What quinn holds for one connection, about: its state (the bench's
/// idle-memory workload measures some 48 KiB per server connection) and
/// its send buffer, which keeps the size of the largest transmit it made
/// (an MTU probe at least, as large as the endpoint's datagrams).
pub(crate) fn connection_resident_bytes(max_udp_payload: usize) -> usize {
    const STATE_BYTES: usize = 48 * 1024;
    STATE_BYTES + 2 * max_udp_payload
}

impl Connection {
    pub(crate) fn new(inner: quinn::Connection, parts: ConnectionParts) -> Self {
        let (_, handshake) = watch::channel(Handshake::Complete(EarlyData::NotAttempted));
        Connection::with_handshake(inner, parts, handshake)
    }

    /// A connection that is usable before its handshake completes (0-RTT on
    /// a client, 0.5-RTT on a server); `accepted` settles when it completes.
    pub(crate) fn new_early(
        inner: quinn::Connection,
        parts: ConnectionParts,
        accepted: ZeroRttAccepted,
    ) -> Self {
        let (tx, handshake) = watch::channel(Handshake::Pending);
        let connection = inner.clone();
        parts.runtime.spawn(Box::pin(async move {
            // quinn reports "not accepted" both for a rejection and for a
            // connection lost mid-handshake; the close reason tells them apart.
            let outcome = if accepted.await {
                Handshake::Complete(EarlyData::Accepted)
            } else if connection.close_reason().is_some() {
                Handshake::Failed
            } else {
                Handshake::Complete(EarlyData::Rejected)
            };
            let _ = tx.send(outcome);
        }));
        Connection::with_handshake(inner, parts, handshake)
    }

    fn with_handshake(
        inner: quinn::Connection,
        parts: ConnectionParts,
        handshake: watch::Receiver<Handshake>,
    ) -> Self {
        Connection {
            inner,
            endpoint: parts.endpoint,
            runtime: parts.runtime,
            ending: parts.ending,
            server_name: parts.server_name,
            handshake,
            resident_bytes: parts.resident_bytes,
        }
    }

    /// About how much memory this connection holds until its last handle
    /// is dropped: for a garbage-collected host to weigh the handle by.
    pub fn resident_bytes(&self) -> usize {
        self.resident_bytes
    }

    pub(crate) fn quinn(&self) -> &quinn::Connection {
        &self.inner
    }

    pub(crate) fn runtime(&self) -> &Arc<dyn Runtime> {
        &self.runtime
    }

    pub(crate) fn ending(&self) -> &Ending {
        &self.ending
    }

    fn error(&self, e: &ConnectionError) -> Error {
        self.ending.error(e)
    }

    pub async fn open_bi(&self) -> Result<Stream> {
        let (send, recv) = self.inner.open_bi().await.map_err(|e| self.error(&e))?;
        Ok(Stream::new(Some(send), Some(recv), self.ending.clone()))
    }

    /// The next bidirectional stream the peer opens; fails once the
    /// connection is closed.
    pub async fn accept_bi(&self) -> Result<Stream> {
        let (send, recv) = self.inner.accept_bi().await.map_err(|e| self.error(&e))?;
        Ok(Stream::new(Some(send), Some(recv), self.ending.clone()))
    }

    /// A new bidirectional stream if the peer's stream limit allows one
    /// now; `None` means wait with [`Connection::open_bi`].
    pub fn try_open_bi(&self) -> Result<Option<Stream>> {
        poll_now(self.inner.open_bi())
            .transpose()
            .map_err(|e| self.error(&e))
            .map(|opened| opened.map(|(send, recv)| self.stream(Some(send), Some(recv))))
    }

    /// The peer's next bidirectional stream if it has already arrived.
    pub fn try_accept_bi(&self) -> Result<Option<Stream>> {
        poll_now(self.inner.accept_bi())
            .transpose()
            .map_err(|e| self.error(&e))
            .map(|accepted| accepted.map(|(send, recv)| self.stream(Some(send), Some(recv))))
    }

    pub fn try_open_uni(&self) -> Result<Option<Stream>> {
        poll_now(self.inner.open_uni())
            .transpose()
            .map_err(|e| self.error(&e))
            .map(|opened| opened.map(|send| self.stream(Some(send), None)))
    }

    pub fn try_accept_uni(&self) -> Result<Option<Stream>> {
        poll_now(self.inner.accept_uni())
            .transpose()
            .map_err(|e| self.error(&e))
            .map(|accepted| accepted.map(|recv| self.stream(None, Some(recv))))
    }

    fn stream(&self, send: Option<quinn::SendStream>, recv: Option<quinn::RecvStream>) -> Stream {
        Stream::new(send, recv, self.ending.clone())
    }

    pub async fn open_uni(&self) -> Result<Stream> {
        let send = self.inner.open_uni().await.map_err(|e| self.error(&e))?;
        Ok(Stream::new(Some(send), None, self.ending.clone()))
    }

    pub async fn accept_uni(&self) -> Result<Stream> {
        let recv = self.inner.accept_uni().await.map_err(|e| self.error(&e))?;
        Ok(Stream::new(None, Some(recv), self.ending.clone()))
    }

    /// Queues an unreliable datagram (RFC 9221). When the send buffer is
    /// full the oldest queued datagrams are dropped, as UDP would.
    pub fn send_datagram(&self, data: &[u8]) -> Result<()> {
        self.inner
            .send_datagram(Bytes::copy_from_slice(data))
            .map_err(|e| match e {
                SendDatagramError::UnsupportedByPeer => Error::new(
                    ErrorCode::DatagramUnsupported,
                    "the peer does not accept datagrams (it did not enable RFC 9221)",
                ),
                SendDatagramError::Disabled => Error::new(
                    ErrorCode::DatagramUnsupported,
                    "datagrams are disabled on this connection",
                ),
                SendDatagramError::TooLarge => Error::new(
                    ErrorCode::DatagramTooLarge,
                    format!(
                        "a {} byte datagram exceeds the current maximum of {} bytes",
                        data.len(),
                        self.inner.max_datagram_size().unwrap_or(0)
                    ),
                ),
                SendDatagramError::ConnectionLost(e) => self.error(&e),
            })
    }

    /// The next datagram the peer sent.
    pub async fn read_datagram(&self) -> Result<Vec<u8>> {
        let datagram = self
            .inner
            .read_datagram()
            .await
            .map_err(|e| self.error(&e))?;
        Ok(Vec::from(datagram))
    }

    /// Waits for the peer's next datagram and returns it with every other
    /// one already received, up to `max_bytes` in all (at least one), in
    /// the framing of [`encode_datagrams`]: one call per burst instead of
    /// one per datagram.
    pub async fn read_datagrams(&self, max_bytes: usize) -> Result<Vec<u8>> {
        let first = self
            .inner
            .read_datagram()
            .await
            .map_err(|e| self.error(&e))?;
        Ok(self.drain_datagrams(Some(first), max_bytes))
    }

    /// The datagrams already received, up to `max_bytes` in all (at least
    /// one), framed as by [`Connection::read_datagrams`]; empty when there
    /// are none. Fails only when there are none and the connection is gone.
    pub fn try_read_datagrams(&self, max_bytes: usize) -> Result<Vec<u8>> {
        match poll_now(self.inner.read_datagram()) {
            None => Ok(Vec::new()),
            Some(Err(e)) => Err(self.error(&e)),
            Some(Ok(first)) => Ok(self.drain_datagrams(Some(first), max_bytes)),
        }
    }

    fn drain_datagrams(&self, mut next: Option<Bytes>, max_bytes: usize) -> Vec<u8> {
        let mut framed = Vec::new();
        while let Some(datagram) = next.take() {
            encode_datagram(&mut framed, &datagram);
            if framed.len() >= max_bytes {
                break;
            }
            // An error here (the connection ended) is reported by the next
            // call, once these datagrams are handed over.
            next = poll_now(self.inner.read_datagram()).and_then(|d| d.ok());
        }
        framed
    }

    /// The largest datagram that can be sent now; `None` when the peer
    /// does not accept datagrams.
    pub fn max_datagram_size(&self) -> Option<usize> {
        self.inner.max_datagram_size()
    }

    pub fn close(&self, code: VarInt, reason: &str) -> Result<()> {
        if reason.len() > MAX_REASON_BYTES {
            return Err(Error::invalid_arg(format!(
                "reason must be at most {MAX_REASON_BYTES} bytes, got {}",
                reason.len()
            )));
        }
        self.ending.record_local(LocalClose {
            code: code.into_inner(),
            reason: reason.to_string(),
        });
        self.inner.close(code, reason.as_bytes());
        Ok(())
    }

    /// Settles when the connection ends, however it ends.
    pub async fn closed(&self) -> CloseInfo {
        let error = self.inner.closed().await;
        self.ending.info(&error)
    }

    /// Settles when the handshake has completed, with what became of 0-RTT;
    /// fails if the connection ended first.
    pub async fn handshake_complete(&self) -> Result<EarlyData> {
        let mut handshake = self.handshake.clone();
        let outcome = *handshake
            .wait_for(|state| *state != Handshake::Pending)
            .await
            .map_err(|_| Error::invalid_state("handshake outcome lost"))?;
        match outcome {
            Handshake::Complete(early_data) => Ok(early_data),
            _ => Err(match self.inner.close_reason() {
                Some(error) => self.error(&error),
                None => Error::invalid_state("handshake did not complete"),
            }),
        }
    }

    fn local_address(&self) -> SocketAddr {
        let bound = self
            .endpoint
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        match self.inner.local_ip() {
            Some(ip) if bound.ip().is_unspecified() => SocketAddr::new(ip, bound.port()),
            _ => bound,
        }
    }

    pub fn info(&self) -> ConnectionInfo {
        let remote = self.inner.remote_address();
        let local = self.local_address();
        let tls = self
            .inner
            .handshake_data()
            .and_then(|data| data.downcast::<quinn::crypto::rustls::HandshakeData>().ok());
        let handshake = *self.handshake.borrow();
        let early_data = match handshake {
            Handshake::Pending => EarlyData::Pending,
            Handshake::Complete(early_data) => early_data,
            Handshake::Failed => EarlyData::Rejected,
        };
        ConnectionInfo {
            local_address: local.ip().to_string(),
            local_port: local.port(),
            remote_address: remote.ip().to_string(),
            remote_port: remote.port(),
            alpn: tls
                .as_ref()
                .and_then(|h| h.protocol.as_ref())
                .map(|p| String::from_utf8_lossy(p).into_owned()),
            server_name: tls
                .and_then(|h| h.server_name)
                .or_else(|| self.server_name.clone()),
            side: if self.inner.side().is_client() {
                "client"
            } else {
                "server"
            },
            early_data,
            handshake_complete: matches!(handshake, Handshake::Complete(_)),
        }
    }

    pub fn info_json(&self) -> String {
        serde_json::to_string(&self.info()).expect("connection info serializes")
    }

    /// The peer's certificate chain as PEM, leaf first (empty when the peer
    /// sent none, as clients without a certificate do).
    pub fn peer_certificates(&self) -> Vec<String> {
        self.inner
            .peer_identity()
            .and_then(|identity| identity.downcast::<Vec<CertificateDer<'static>>>().ok())
            .map(|certs| crate::tls::to_pem(&certs))
            .unwrap_or_default()
    }

    pub fn peer_certificates_json(&self) -> String {
        serde_json::to_string(&self.peer_certificates()).expect("strings serialize")
    }

    pub fn stats(&self) -> Stats {
        Stats::from_quinn(&self.inner.stats(), self.inner.rtt())
    }

    pub fn stats_json(&self) -> String {
        serde_json::to_string(&self.stats()).expect("stats serialize")
    }

    /// Starts a TLS key update (new 1-RTT keys); the peer follows.
    pub fn force_key_update(&self) {
        self.inner.force_key_update();
    }
}

/// Frames one datagram for [`Connection::read_datagrams`]: a 4-byte
/// little-endian length, then the bytes. One buffer for a burst of
/// datagrams crosses the binding boundary far more cheaply than one object
/// per datagram.
fn encode_datagram(framed: &mut Vec<u8>, datagram: &[u8]) {
    framed.extend_from_slice(&(datagram.len() as u32).to_le_bytes());
    framed.extend_from_slice(datagram);
}

/// Polls `future` once without a waker: its value if it is ready now. Used
/// with quinn futures that are cancel-safe (dropping one after a pending
/// poll loses nothing), so that a binding can answer synchronously and only
/// fall back to a promise when quinn would really wait.
pub(crate) fn poll_now<F: Future>(future: F) -> Option<F::Output> {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(value) => Some(value),
        Poll::Pending => None,
    }
}
