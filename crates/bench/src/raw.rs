//! quinn used directly, for what quicbridge-core does not offer at this
//! revision: 0-RTT session resumption and datagrams. The configuration
//! mirrors the core's (TLS 1.3 only, ring, the same transport limits), and
//! the protocol is the same as in `proto`.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use quinn::{
    ClientConfig, Connection, EndpointConfig, IdleTimeout, ServerConfig, TokioRuntime,
    TransportConfig, VarInt,
};
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::proto::{request_bytes, response_bytes, READ_CHUNK};
use crate::{Pki, Res, ALPN, SERVER_NAME};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// quicbridge-core's default transport limits, optionally with a larger first MTU.
fn transport(initial_mtu: Option<u16>) -> Arc<TransportConfig> {
    let mut config = TransportConfig::default();
    config.max_idle_timeout(Some(IdleTimeout::from(VarInt::from_u32(30_000))));
    config.max_concurrent_bidi_streams(VarInt::from_u32(100));
    config.max_concurrent_uni_streams(VarInt::from_u32(100));
    config.stream_receive_window(VarInt::from_u32(2 << 20));
    config.receive_window(VarInt::from_u32(16 << 20));
    config.send_window(16 << 20);
    if let Some(mtu) = initial_mtu {
        config.initial_mtu(mtu);
    }
    Arc::new(config)
}

fn server_config(pki: &Pki, initial_mtu: Option<u16>) -> Res<ServerConfig> {
    let certs =
        CertificateDer::pem_slice_iter(pki.cert.as_bytes()).collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_slice(pki.key.as_bytes())?;
    let mut tls = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    tls.alpn_protocols = vec![ALPN.as_bytes().to_vec()];
    // QUIC allows 0 or u32::MAX here; u32::MAX accepts 0-RTT.
    tls.max_early_data_size = u32::MAX;
    let mut config = ServerConfig::with_crypto(Arc::new(QuicServerConfig::try_from(tls)?));
    config.transport_config(transport(initial_mtu));
    Ok(config)
}

fn client_config(pki: &Pki, initial_mtu: Option<u16>) -> Res<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pki.ca.as_bytes()) {
        roots.add(cert?)?;
    }
    let mut tls = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![ALPN.as_bytes().to_vec()];
    // Session tickets are kept in memory by default; this lets them carry 0-RTT.
    tls.enable_early_data = true;
    let mut config = ClientConfig::new(Arc::new(QuicClientConfig::try_from(tls)?));
    config.transport_config(transport(initial_mtu));
    Ok(config)
}

fn endpoint(server: Option<ServerConfig>) -> Res<quinn::Endpoint> {
    let socket = UdpSocket::bind(("127.0.0.1", 0))?;
    Ok(quinn::Endpoint::new(
        EndpointConfig::default(),
        server,
        socket,
        Arc::new(TokioRuntime),
    )?)
}

/// The server reports how many datagrams it has received from a connection
/// (8 bytes, big-endian, in a datagram back) after every this many.
pub const DATAGRAM_ACK_EVERY: u64 = 16;

/// A raw quinn server answering the protocol, counting the datagrams it receives.
pub struct RawServer {
    pub endpoint: quinn::Endpoint,
    pub addr: SocketAddr,
    pub datagrams: Arc<AtomicU64>,
}

impl RawServer {
    pub fn start(pki: &Pki, initial_mtu: Option<u16>) -> Res<Self> {
        let endpoint = endpoint(Some(server_config(pki, initial_mtu)?))?;
        let addr = endpoint.local_addr()?;
        let datagrams = Arc::new(AtomicU64::new(0));
        let accepting = endpoint.clone();
        let counter = datagrams.clone();
        tokio::spawn(async move {
            while let Some(incoming) = accepting.accept().await {
                let counter = counter.clone();
                tokio::spawn(async move {
                    // 0-RTT data is accepted as it comes (the server side of into_0rtt).
                    let Ok(connecting) = incoming.accept() else {
                        return;
                    };
                    let connection = match connecting.into_0rtt() {
                        Ok((connection, _)) => connection,
                        Err(connecting) => match connecting.await {
                            Ok(connection) => connection,
                            Err(_) => return,
                        },
                    };
                    let datagram_connection = connection.clone();
                    tokio::spawn(async move {
                        // Report the count back every DATAGRAM_ACK_EVERY datagrams.
                        let mut count: u64 = 0;
                        while datagram_connection.read_datagram().await.is_ok() {
                            counter.fetch_add(1, Ordering::Relaxed);
                            count += 1;
                            if count % DATAGRAM_ACK_EVERY == 0 {
                                let report = Bytes::copy_from_slice(&count.to_be_bytes());
                                let _ = datagram_connection.send_datagram(report);
                            }
                        }
                    });
                    while let Ok((send, recv)) = connection.accept_bi().await {
                        tokio::spawn(async move {
                            let _ = answer(send, recv).await;
                        });
                    }
                });
            }
        });
        Ok(RawServer {
            endpoint,
            addr,
            datagrams,
        })
    }
}

async fn answer(mut send: quinn::SendStream, mut recv: quinn::RecvStream) -> Res<()> {
    let mut buf = vec![0u8; READ_CHUNK];
    let mut header = [0u8; 4];
    let mut total: u64 = 0;
    while let Some(n) = recv.read(&mut buf).await? {
        let have = total.min(4) as usize;
        let take = (4 - have).min(n);
        header[have..have + take].copy_from_slice(&buf[..take]);
        total += n as u64;
    }
    send.write_all(&response_bytes(u32::from_be_bytes(header) as usize, total))
        .await?;
    send.finish()?;
    Ok(())
}

/// A raw quinn client endpoint that keeps session tickets for resumption.
pub struct RawClient {
    endpoint: quinn::Endpoint,
}

impl RawClient {
    pub fn new(pki: &Pki, initial_mtu: Option<u16>) -> Res<Self> {
        let mut endpoint = endpoint(None)?;
        endpoint.set_default_client_config(client_config(pki, initial_mtu)?);
        Ok(RawClient { endpoint })
    }

    pub async fn connect(&self, server: SocketAddr) -> Res<Connection> {
        Ok(self.endpoint.connect(server, SERVER_NAME)?.await?)
    }

    /// Connects resuming a session with 0-RTT and exchanges one request
    /// (`request_len` bytes, `response_len` back) as early data. Returns
    /// the time from connecting to the first response byte, and how 0-RTT
    /// went: `accepted`, `rejected` by the server, or `notAttempted` (no
    /// usable session ticket).
    pub async fn zero_rtt_exchange(
        &self,
        server: SocketAddr,
        request_len: usize,
        response_len: u32,
    ) -> Res<(Duration, &'static str)> {
        let start = Instant::now();
        let connecting = self.endpoint.connect(server, SERVER_NAME)?;
        let (connection, accepted) = match connecting.into_0rtt() {
            Ok((connection, accepted)) => (connection, Some(accepted)),
            Err(connecting) => (connecting.await?, None),
        };
        let (mut send, mut recv) = connection.open_bi().await?;
        send.write_all(&request_bytes(request_len, response_len))
            .await?;
        send.finish()?;
        let mut buf = vec![0u8; READ_CHUNK];
        let mut first_byte = None;
        let mut received = 0usize;
        while let Some(n) = recv.read(&mut buf).await? {
            first_byte.get_or_insert_with(|| start.elapsed());
            received += n;
        }
        if received != response_len as usize {
            return Err(format!("expected {response_len} response bytes, got {received}").into());
        }
        let state = match accepted {
            Some(accepted) => {
                if accepted.await {
                    "accepted"
                } else {
                    "rejected"
                }
            }
            None => "notAttempted",
        };
        // The server sends session tickets once the handshake is complete,
        // which with 0-RTT is after the response: one more exchange (not
        // timed) makes sure they arrived, as on any connection that lives a
        // little longer, so that the next connection can resume again.
        let (mut send, mut recv) = connection.open_bi().await?;
        send.write_all(&request_bytes(4, 0)).await?;
        send.finish()?;
        while recv.read(&mut buf).await?.is_some() {}
        connection.close(VarInt::from_u32(0), b"");
        Ok((first_byte.unwrap_or_else(|| start.elapsed()), state))
    }

    pub async fn shutdown(&self) {
        self.endpoint.close(VarInt::from_u32(0), b"");
        self.endpoint.wait_idle().await;
    }
}
