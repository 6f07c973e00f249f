//! Options as they arrive from JavaScript (JSON), their validation, and
//! their translation into quinn configuration. Defaults are bounded:
//! quinn's own connection receive window is unbounded, ours is not.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use quinn::congestion::{BbrConfig, CubicConfig, NewRenoConfig};
use quinn::{EndpointConfig, IdleTimeout, MtuDiscoveryConfig, TransportConfig, VarInt};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::error::{Error, ErrorCode, Result};
use crate::tls::{self, TlsContext};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

pub(crate) fn from_json<T: DeserializeOwned>(json: &str, what: &str) -> Result<T> {
    serde_json::from_str(json).map_err(|e| Error::invalid_arg(format!("{what}: {e}")))
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CongestionControl {
    #[default]
    Cubic,
    NewReno,
    Bbr,
}

/// A TLS 1.3 cipher suite, by its IANA name (what JavaScript passes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub enum CipherSuite {
    #[serde(rename = "TLS_AES_128_GCM_SHA256")]
    Aes128GcmSha256,
    #[serde(rename = "TLS_AES_256_GCM_SHA384")]
    Aes256GcmSha384,
    #[serde(rename = "TLS_CHACHA20_POLY1305_SHA256")]
    Chacha20Poly1305Sha256,
}

/// When a server makes clients prove their address with a Retry packet
/// (RFC 9000 §8.1.2) before it keeps any state or does any crypto for them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RetryPolicy {
    /// Every client whose address is not yet validated.
    Always,
    /// Only while unvalidated handshakes arrive faster than
    /// `retryThreshold` per second (a flood, likely spoofed): below that,
    /// handshakes keep their one round trip.
    #[default]
    Auto,
    /// Never: the 3x anti-amplification limit still applies, but spoofed
    /// Initials make the server hold state and sign handshakes.
    Never,
}

/// Per-connection transport limits, shared by clients and servers.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TransportOptions {
    /// Close the connection after this long without traffic (default 30 s;
    /// 0 disables).
    pub idle_timeout_ms: Option<u64>,
    /// Send keep-alives this often; unset means none.
    pub keep_alive_interval_ms: Option<u64>,
    /// Streams the peer may have open at once, per direction type.
    pub max_concurrent_bidi_streams: Option<u64>,
    pub max_concurrent_uni_streams: Option<u64>,
    /// Bytes the peer may send on one stream before we read them.
    pub stream_receive_window: Option<u64>,
    /// Bytes the peer may send on the whole connection before we read them.
    pub receive_window: Option<u64>,
    /// Bytes we buffer for sending across all streams of a connection.
    pub send_window: Option<u64>,
    /// The UDP payload size to start with (default 1200).
    pub initial_mtu: Option<u64>,
    /// Probe for a larger path MTU (default: where the socket sets
    /// don't-fragment, which is needed for the probes to mean anything).
    pub mtu_discovery: Option<bool>,
    pub congestion_control: Option<CongestionControl>,
    /// Bytes of received datagrams kept until read (default 1 MiB); 0
    /// disables receiving datagrams, which the peer learns.
    pub datagram_receive_buffer_size: Option<u64>,
    /// Bytes of datagrams queued for sending (default 1 MiB).
    pub datagram_send_buffer_size: Option<u64>,
    /// The congestion window a connection starts with, in bytes (default:
    /// the controller's own, 10 × 1200 bytes in quinn).
    pub initial_congestion_window: Option<u64>,
    /// The largest UDP payload this side sends or accepts: the upper bound
    /// of MTU discovery, and the `max_udp_payload_size` transport parameter
    /// the peer must respect (set on the endpoint, see
    /// [`EndpointOptions::endpoint_config`]). Default: 1472 both
    /// (quinn's), or a loopback socket's large datagrams.
    pub max_udp_payload_size: Option<u64>,
}

pub(crate) const DEFAULT_IDLE_TIMEOUT_MS: u64 = 30_000;
pub(crate) const DEFAULT_MAX_STREAMS: u64 = 100;
pub(crate) const DEFAULT_STREAM_RECEIVE_WINDOW: u64 = 2 * MIB;
pub(crate) const DEFAULT_RECEIVE_WINDOW: u64 = 16 * MIB;
pub(crate) const DEFAULT_SEND_WINDOW: u64 = 16 * MIB;
pub(crate) const DEFAULT_DATAGRAM_BUFFER: u64 = MIB;
/// The largest window anyone may configure: a hard cap on what a peer can
/// make us buffer, whatever the options say.
const MAX_WINDOW: u64 = 1024 * MIB;
/// The most streams a peer may have open at once, per direction type.
/// quinn sets up state for every one of them when a connection starts
/// (`StreamsState::new`): 2^31 hung the process for minutes; 2^16 takes a
/// few milliseconds and a few MiB.
pub(crate) const MAX_STREAMS: u64 = 65_536;
/// The smallest initial congestion window: one minimum-size QUIC packet.
const MIN_INITIAL_WINDOW: u64 = 1200;
/// QUIC's minimum and the largest UDP payload over IPv4.
pub(crate) const MIN_MTU: u64 = 1200;
pub(crate) const MAX_MTU: u64 = 65527;
/// quinn's default `max_udp_payload_size`, what an endpoint advertises unless told otherwise.
const QUINN_MAX_UDP_PAYLOAD: u64 = 1472;

fn bounded(value: Option<u64>, default: u64, min: u64, max: u64, field: &str) -> Result<u64> {
    let value = value.unwrap_or(default);
    if value < min || value > max {
        return Err(Error::invalid_arg(format!(
            "transport.{field} must be between {min} and {max}, got {value}"
        )));
    }
    Ok(value)
}

/// As [`bounded`], for options whose absence means "the library's default".
fn bounded_if_set(value: Option<u64>, min: u64, max: u64, field: &str) -> Result<Option<u64>> {
    value
        .map(|v| bounded(Some(v), v, min, max, field))
        .transpose()
}

fn varint(value: u64) -> VarInt {
    VarInt::from_u64(value).expect("bounded values fit in a varint")
}

/// What the socket under an endpoint can do, as far as options care.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SocketTraits {
    /// Datagrams may be fragmented (no don't-fragment bit): MTU discovery
    /// cannot work over such a socket.
    pub may_fragment: bool,
    /// The UDP payload to use by default, when larger than QUIC's 1200
    /// bytes is known to get through: see [`SocketTraits::of`].
    pub large_datagrams: Option<u16>,
}

/// quinn's congestion controllers start with this window (10 × 1200 bytes).
const QUINN_INITIAL_WINDOW: u64 = 12_000;

/// Which side of connections a transport configuration is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Client,
    Server,
}

impl SocketTraits {
    /// The traits of `socket`, bound at `local`.
    ///
    /// A socket bound to a loopback address gets `large_datagrams`: a
    /// loopback path carries datagrams of up to 64 KiB whole, and moving
    /// the same bytes in 45 times fewer datagrams takes a fraction of the
    /// work (a wasm socket makes a call into JavaScript per datagram; a
    /// native one encrypts and sends per datagram, GSO or not). Its
    /// endpoint advertises the larger `max_udp_payload_size` and its client
    /// connections start at that size, capped by what each peer
    /// advertises; MTU discovery stays on to fall back if a peer drops
    /// them. GSO batches of large datagrams are cut into sends the kernel
    /// takes, and receive batches sized by them
    /// ([`ReleasableSocket`](crate::socket::ReleasableSocket)).
    pub(crate) fn of(socket: &dyn quinn::AsyncUdpSocket, local: SocketAddr) -> Self {
        SocketTraits {
            may_fragment: socket.may_fragment(),
            large_datagrams: local
                .ip()
                .is_loopback()
                .then(|| loopback_max_udp_payload(local.ip())),
        }
    }
}

/// How close to the top MTU discovery searches on sockets with large datagrams.
const LARGE_DATAGRAM_SEARCH_STEP: u16 = 4096;

/// The largest UDP payload over a loopback interface (whose MTU is 64 KiB):
/// an IPv4 packet holds at most 65 507 bytes of UDP payload; over IPv6,
/// QUIC's own maximum.
fn loopback_max_udp_payload(ip: IpAddr) -> u16 {
    if ip.is_ipv4() {
        65_507
    } else {
        MAX_MTU as u16
    }
}

impl TransportOptions {
    pub(crate) fn to_quinn(
        &self,
        socket: SocketTraits,
        side: Side,
    ) -> Result<Arc<TransportConfig>> {
        let mut config = TransportConfig::default();
        let idle = bounded(
            self.idle_timeout_ms,
            DEFAULT_IDLE_TIMEOUT_MS,
            0,
            (1 << 62) - 1,
            "idleTimeoutMs",
        )?;
        config.max_idle_timeout(if idle == 0 {
            None
        } else {
            Some(IdleTimeout::from(varint(idle)))
        });
        if let Some(ms) = self.keep_alive_interval_ms {
            if ms == 0 {
                return Err(Error::invalid_arg(
                    "transport.keepAliveIntervalMs must be at least 1 (leave it unset for none)",
                ));
            }
            config.keep_alive_interval(Some(Duration::from_millis(ms)));
        }
        let bidi = bounded(
            self.max_concurrent_bidi_streams,
            DEFAULT_MAX_STREAMS,
            0,
            MAX_STREAMS,
            "maxConcurrentBidiStreams",
        )?;
        let uni = bounded(
            self.max_concurrent_uni_streams,
            DEFAULT_MAX_STREAMS,
            0,
            MAX_STREAMS,
            "maxConcurrentUniStreams",
        )?;
        config.max_concurrent_bidi_streams(varint(bidi));
        config.max_concurrent_uni_streams(varint(uni));
        let stream_window = bounded(
            self.stream_receive_window,
            DEFAULT_STREAM_RECEIVE_WINDOW,
            KIB,
            MAX_WINDOW,
            "streamReceiveWindow",
        )?;
        let window = bounded(
            self.receive_window,
            DEFAULT_RECEIVE_WINDOW.max(stream_window),
            KIB,
            MAX_WINDOW,
            "receiveWindow",
        )?;
        let send_window = bounded(
            self.send_window,
            DEFAULT_SEND_WINDOW,
            KIB,
            MAX_WINDOW,
            "sendWindow",
        )?;
        config.stream_receive_window(varint(stream_window));
        config.receive_window(varint(window));
        config.send_window(send_window);

        let max_payload = self.max_udp_payload_size()?;
        // A server's connections start small whatever the socket: before a
        // client's address is validated, quinn lets any remaining
        // anti-amplification budget send a full datagram, so a large first
        // MTU would let a server send far more than 3x what a (possibly
        // spoofed) client sent. They grow by MTU discovery once validated.
        let large_start = socket.large_datagrams.filter(|_| side == Side::Client);
        let default_mtu = large_start
            .map_or(MIN_MTU, u64::from)
            .min(max_payload.unwrap_or(MAX_MTU));
        let initial_mtu = bounded(
            self.initial_mtu,
            default_mtu,
            MIN_MTU,
            MAX_MTU,
            "initialMtu",
        )?;
        if let Some(max) = max_payload {
            if initial_mtu > max {
                return Err(Error::invalid_arg(format!(
                    "transport.initialMtu ({initial_mtu}) must not exceed transport.maxUdpPayloadSize ({max})"
                )));
            }
        }
        config.initial_mtu(initial_mtu as u16);
        let discovery = match self.mtu_discovery {
            Some(true) if socket.may_fragment => {
                return Err(Error::new(
                    ErrorCode::BackendUnsupported,
                    "transport.mtuDiscovery needs a socket that sets don't-fragment; \
                     this endpoint's datagram transport may fragment (the wasm backend's \
                     node:dgram socket does), so MTU probes would prove nothing",
                ));
            }
            Some(false) => false,
            _ => true,
        };
        // Unset, discovery goes as far as the endpoint itself accepts: a
        // further bound would also size the initial window below (two of
        // the largest datagrams) past what a real network should get.
        let upper = max_payload
            .or(socket.large_datagrams.map(u64::from))
            .unwrap_or(QUINN_MAX_UDP_PAYLOAD)
            .max(initial_mtu);
        let initial_window = bounded_if_set(
            self.initial_congestion_window,
            MIN_INITIAL_WINDOW,
            MAX_WINDOW,
            "initialCongestionWindow",
        )?;
        // A window that cannot hold two full-size datagrams never lets the
        // first one out: the handshake would hang.
        if let Some(w) = initial_window.filter(|&w| w < 2 * initial_mtu) {
            return Err(Error::invalid_arg(format!(
                "transport.initialCongestionWindow ({w}) must be at least twice the initial MTU ({initial_mtu})"
            )));
        }
        // Nor may an MTU probe be more than half the window: quinn sends a
        // probe whatever the window, and while it is in flight the window
        // blocks everything else, a CONNECTION_CLOSE included, which a
        // connection closed in that moment then never sends (the peer
        // idles out). By default the window makes room for the largest
        // probe; a window set explicitly caps the probes instead.
        let least_window = 2 * if discovery { upper } else { initial_mtu };
        let initial_window =
            initial_window.or((least_window > QUINN_INITIAL_WINDOW).then_some(least_window));
        let window = initial_window.unwrap_or(QUINN_INITIAL_WINDOW);
        if discovery {
            let mut mtud = MtuDiscoveryConfig::default();
            mtud.upper_bound(upper.min(window / 2).max(initial_mtu) as u16);
            if socket.large_datagrams.is_some() {
                // A binary search from 1200 bytes to 64 KiB in quinn's
                // 20-byte steps takes a dozen probes of up to 64 KiB
                // each, encrypted, on every connection; stopping within
                // 4 KiB of the top takes four.
                mtud.minimum_change(LARGE_DATAGRAM_SEARCH_STEP);
            }
            config.mtu_discovery_config(Some(mtud));
        } else {
            config.mtu_discovery_config(None);
        }
        match self.congestion_control.unwrap_or_default() {
            CongestionControl::Cubic => {
                let mut cc = CubicConfig::default();
                if let Some(w) = initial_window {
                    cc.initial_window(w);
                }
                config.congestion_controller_factory(Arc::new(cc))
            }
            CongestionControl::NewReno => {
                let mut cc = NewRenoConfig::default();
                if let Some(w) = initial_window {
                    cc.initial_window(w);
                }
                config.congestion_controller_factory(Arc::new(cc))
            }
            CongestionControl::Bbr => {
                let mut cc = BbrConfig::default();
                if let Some(w) = initial_window {
                    cc.initial_window(w);
                }
                config.congestion_controller_factory(Arc::new(cc))
            }
        };
        let datagram_receive = bounded(
            self.datagram_receive_buffer_size,
            DEFAULT_DATAGRAM_BUFFER,
            0,
            MAX_WINDOW,
            "datagramReceiveBufferSize",
        )?;
        config.datagram_receive_buffer_size(
            (datagram_receive > 0).then_some(datagram_receive as usize),
        );
        let datagram_send = bounded(
            self.datagram_send_buffer_size,
            DEFAULT_DATAGRAM_BUFFER,
            KIB,
            MAX_WINDOW,
            "datagramSendBufferSize",
        )?;
        config.datagram_send_buffer_size(datagram_send as usize);
        Ok(Arc::new(config))
    }

    /// `maxUdpPayloadSize`, range-checked; `None` when unset.
    pub(crate) fn max_udp_payload_size(&self) -> Result<Option<u64>> {
        bounded_if_set(
            self.max_udp_payload_size,
            MIN_MTU,
            MAX_MTU,
            "maxUdpPayloadSize",
        )
    }
}

/// Client certificates a server asks for (mutual TLS).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientAuthOptions {
    /// PEM CA certificate(s) client certificates must chain to.
    pub ca: String,
    /// Refuse clients without a certificate (default true).
    #[serde(default = "yes")]
    pub required: bool,
}

fn yes() -> bool {
    true
}

pub(crate) const DEFAULT_MAX_CONNECTIONS: u64 = 10_000;
/// Unvalidated handshakes per second a server takes without Retry in
/// `auto` mode. Below it handshakes keep their single round trip; a flood
/// of spoofed Initials (cheap to send at hundreds of thousands per second)
/// is far above it.
pub(crate) const DEFAULT_RETRY_THRESHOLD: u64 = 1000;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServerOptions {
    /// PEM certificate chain, leaf first.
    pub cert: String,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: String,
    pub alpn: Vec<String>,
    #[serde(default)]
    pub transport: TransportOptions,
    pub client_auth: Option<ClientAuthOptions>,
    /// Issue session tickets so that clients can resume.
    #[serde(default)]
    pub resumption: bool,
    /// Accept 0-RTT data from resuming clients (implies resumption). Such
    /// data can be replayed by an attacker: only for idempotent requests.
    #[serde(default)]
    pub early_data: bool,
    /// Connections beyond this are refused with CONNECTION_REFUSED.
    pub max_connections: Option<u64>,
    /// When to validate client addresses with Retry (default `auto`).
    pub retry: Option<RetryPolicy>,
    /// Unvalidated handshakes per second above which `auto` sends Retry.
    pub retry_threshold: Option<u64>,
    /// TLS 1.3 cipher suites to accept (default: all three rustls offers).
    pub cipher_suites: Option<Vec<CipherSuite>>,
}

impl ServerOptions {
    pub(crate) fn to_quinn(
        &self,
        socket: SocketTraits,
        tls: &TlsContext,
    ) -> Result<quinn::ServerConfig> {
        let crypto = tls::server_crypto(self, tls)?;
        let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
        config.transport_config(self.transport.to_quinn(socket, Side::Server)?);
        Ok(config)
    }

    pub(crate) fn max_connections(&self) -> Result<usize> {
        let max = self.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS);
        if max == 0 || max > 1_000_000 {
            return Err(Error::invalid_arg(format!(
                "maxConnections must be between 1 and 1000000, got {max}"
            )));
        }
        Ok(max as usize)
    }

    /// The retry policy and, for `auto`, its threshold (handshakes per second).
    pub(crate) fn retry(&self) -> Result<(RetryPolicy, u64)> {
        let threshold = self.retry_threshold.unwrap_or(DEFAULT_RETRY_THRESHOLD);
        if threshold == 0 || threshold > 1_000_000 {
            return Err(Error::invalid_arg(format!(
                "retryThreshold must be between 1 and 1000000 handshakes per second, got {threshold}"
            )));
        }
        Ok((self.retry.unwrap_or_default(), threshold))
    }
}

/// Options for creating an endpoint; a server endpoint accepts connections.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EndpointOptions {
    pub server: Option<ServerOptions>,
    /// For endpoints without server options (a client's own endpoint): the
    /// largest UDP payload accepted, as the client's
    /// `transport.maxUdpPayloadSize`. A server takes it from
    /// `server.transport`.
    pub max_udp_payload_size: Option<u64>,
}

impl EndpointOptions {
    pub fn from_json(json: &str) -> Result<Self> {
        from_json(json, "endpoint options")
    }

    /// quinn's endpoint configuration: the largest UDP payload the endpoint
    /// accepts (and advertises to peers) when the options set one, else the
    /// socket's large datagrams where it has them.
    pub(crate) fn endpoint_config(&self, socket: SocketTraits) -> Result<EndpointConfig> {
        let max = match &self.server {
            Some(server) => server.transport.max_udp_payload_size()?,
            None => TransportOptions {
                max_udp_payload_size: self.max_udp_payload_size,
                ..Default::default()
            }
            .max_udp_payload_size()?,
        }
        .or(socket.large_datagrams.map(u64::from));
        let mut config = EndpointConfig::default();
        if let Some(max) = max {
            config
                .max_udp_payload_size(max as u16)
                .map_err(|e| Error::invalid_arg(format!("transport.maxUdpPayloadSize: {e}")))?;
        }
        Ok(config)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectOptions {
    /// The server's IP address (names are resolved before this point).
    pub address: String,
    pub port: u16,
    /// The name the server's certificate must carry (SNI).
    pub server_name: String,
    /// PEM CA certificate(s) the server's chain must lead to.
    pub ca: Option<String>,
    /// Accept any server certificate. Makes the connection open to
    /// interception; for tests against throwaway certificates only.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// Trust exactly the server certificates with these SHA-256
    /// fingerprints (hex, colons allowed), instead of a CA.
    #[serde(default)]
    pub pinned_sha256: Vec<String>,
    /// PEM client certificate chain and key, for servers that ask for one.
    pub cert: Option<String>,
    pub key: Option<String>,
    pub alpn: Vec<String>,
    #[serde(default)]
    pub transport: TransportOptions,
    /// Keep session tickets and resume with them.
    #[serde(default)]
    pub resumption: bool,
    /// Send 0-RTT data when resuming (implies resumption).
    #[serde(default)]
    pub early_data: bool,
    /// TLS 1.3 cipher suites to offer (default: all three rustls offers).
    pub cipher_suites: Option<Vec<CipherSuite>>,
}

impl ServerOptions {
    pub fn from_json(json: &str) -> Result<Self> {
        from_json(json, "server options")
    }
}

impl ConnectOptions {
    pub fn from_json(json: &str) -> Result<Self> {
        from_json(json, "connect options")
    }

    pub(crate) fn remote(&self) -> Result<SocketAddr> {
        let ip: IpAddr = self.address.parse().map_err(|_| {
            Error::invalid_arg(format!("address: {:?} is not an IP address", self.address))
        })?;
        if self.port == 0 {
            return Err(Error::invalid_arg("port: must be between 1 and 65535"));
        }
        Ok(SocketAddr::new(ip, self.port))
    }

    pub(crate) fn to_quinn(
        &self,
        socket: SocketTraits,
        tls: &TlsContext,
    ) -> Result<quinn::ClientConfig> {
        let crypto = tls::client_crypto(self, tls)?;
        let mut config = quinn::ClientConfig::new(Arc::new(crypto));
        config.transport_config(self.transport.to_quinn(socket, Side::Client)?);
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAGMENTING: SocketTraits = SocketTraits {
        may_fragment: true,
        large_datagrams: None,
    };
    const DONT_FRAGMENT: SocketTraits = SocketTraits {
        may_fragment: false,
        large_datagrams: None,
    };
    const LOOPBACK: SocketTraits = SocketTraits {
        may_fragment: false,
        large_datagrams: Some(65_507),
    };

    #[test]
    fn unknown_fields_are_rejected_by_name() {
        let err = EndpointOptions::from_json(r#"{"sever":{}}"#).unwrap_err();
        assert!(err.message().contains("sever"), "{}", err.message());
    }

    #[test]
    fn windows_are_bounded_by_default_and_checked() {
        assert!(TransportOptions::default()
            .to_quinn(DONT_FRAGMENT, Side::Client)
            .is_ok());
        let huge = TransportOptions {
            receive_window: Some(u64::MAX >> 2),
            ..Default::default()
        };
        let err = huge.to_quinn(DONT_FRAGMENT, Side::Client).unwrap_err();
        assert!(err.message().contains("receiveWindow"));
    }

    #[test]
    fn stream_limits_are_bounded() {
        for (field, options) in [
            (
                "maxConcurrentBidiStreams",
                TransportOptions {
                    max_concurrent_bidi_streams: Some(MAX_STREAMS + 1),
                    ..Default::default()
                },
            ),
            (
                "maxConcurrentUniStreams",
                TransportOptions {
                    max_concurrent_uni_streams: Some(1 << 31),
                    ..Default::default()
                },
            ),
        ] {
            let err = options.to_quinn(DONT_FRAGMENT, Side::Client).unwrap_err();
            assert!(err.message().contains(field), "{}", err.message());
        }
    }

    #[test]
    fn mtu_discovery_needs_a_dont_fragment_socket() {
        let asked = TransportOptions {
            mtu_discovery: Some(true),
            ..Default::default()
        };
        assert!(asked.to_quinn(DONT_FRAGMENT, Side::Client).is_ok());
        let err = asked.to_quinn(FRAGMENTING, Side::Client).unwrap_err();
        assert_eq!(err.code(), ErrorCode::BackendUnsupported);
        // Unset means "where possible": fine on either socket.
        assert!(TransportOptions::default()
            .to_quinn(FRAGMENTING, Side::Client)
            .is_ok());
    }

    #[test]
    fn initial_mtu_is_range_checked() {
        for bad in [0, 1199, 65528] {
            let options = TransportOptions {
                initial_mtu: Some(bad),
                ..Default::default()
            };
            let err = options.to_quinn(DONT_FRAGMENT, Side::Client).unwrap_err();
            assert!(err.message().contains("initialMtu"), "{}", err.message());
        }
    }

    #[test]
    fn initial_congestion_window_is_range_checked_and_parsed() {
        for bad in [0, 1199, MAX_WINDOW + 1] {
            let options = TransportOptions {
                initial_congestion_window: Some(bad),
                ..Default::default()
            };
            let err = options.to_quinn(DONT_FRAGMENT, Side::Client).unwrap_err();
            assert!(
                err.message().contains("initialCongestionWindow"),
                "{}",
                err.message()
            );
        }
        for cc in ["cubic", "newreno", "bbr"] {
            let options: TransportOptions = from_json(
                &format!(r#"{{"initialCongestionWindow":1000000,"congestionControl":"{cc}"}}"#),
                "t",
            )
            .unwrap();
            assert_eq!(options.initial_congestion_window, Some(1_000_000));
            assert!(options.to_quinn(DONT_FRAGMENT, Side::Client).is_ok());
        }
    }

    #[test]
    fn max_udp_payload_size_is_range_checked_and_bounds_the_initial_mtu() {
        for bad in [0, 1199, 65528] {
            let options = TransportOptions {
                max_udp_payload_size: Some(bad),
                ..Default::default()
            };
            let err = options.to_quinn(DONT_FRAGMENT, Side::Client).unwrap_err();
            assert!(
                err.message().contains("maxUdpPayloadSize"),
                "{}",
                err.message()
            );
            let endpoint = EndpointOptions {
                max_udp_payload_size: Some(bad),
                ..Default::default()
            };
            let err = endpoint.endpoint_config(DONT_FRAGMENT).unwrap_err();
            assert!(err.message().contains("maxUdpPayloadSize"));
        }
        let options: TransportOptions =
            from_json(r#"{"maxUdpPayloadSize":1300,"initialMtu":1400}"#, "t").unwrap();
        let err = options.to_quinn(DONT_FRAGMENT, Side::Client).unwrap_err();
        assert!(err.message().contains("initialMtu"), "{}", err.message());
        assert!(err.message().contains("maxUdpPayloadSize"));
        for ok in [1200, 1300, 65527] {
            let endpoint = EndpointOptions {
                max_udp_payload_size: Some(ok),
                ..Default::default()
            };
            assert_eq!(
                endpoint
                    .endpoint_config(LOOPBACK)
                    .unwrap()
                    .get_max_udp_payload_size(),
                ok
            );
        }
        // Unset: quinn's default is advertised.
        assert_eq!(
            EndpointOptions::default()
                .endpoint_config(DONT_FRAGMENT)
                .unwrap()
                .get_max_udp_payload_size(),
            EndpointConfig::default().get_max_udp_payload_size()
        );
    }

    #[test]
    fn large_datagrams_are_the_default_where_the_socket_has_them() {
        let endpoint = EndpointOptions::default();
        assert_eq!(
            endpoint
                .endpoint_config(LOOPBACK)
                .unwrap()
                .get_max_udp_payload_size(),
            65_507
        );
        assert!(TransportOptions::default()
            .to_quinn(LOOPBACK, Side::Client)
            .is_ok());
        // An explicit limit wins over the socket's.
        let limited = EndpointOptions {
            max_udp_payload_size: Some(1400),
            ..Default::default()
        };
        assert_eq!(
            limited
                .endpoint_config(LOOPBACK)
                .unwrap()
                .get_max_udp_payload_size(),
            1400
        );
        let options: TransportOptions = from_json(r#"{"maxUdpPayloadSize":1400}"#, "t").unwrap();
        assert!(options.to_quinn(LOOPBACK, Side::Client).is_ok());
        assert!(TransportOptions::default()
            .to_quinn(LOOPBACK, Side::Server)
            .is_ok());
    }

    #[test]
    fn the_initial_window_holds_two_full_size_datagrams() {
        let options: TransportOptions = from_json(
            r#"{"initialMtu":9000,"initialCongestionWindow":12000}"#,
            "t",
        )
        .unwrap();
        let err = options.to_quinn(DONT_FRAGMENT, Side::Client).unwrap_err();
        assert!(
            err.message().contains("initialCongestionWindow"),
            "{}",
            err.message()
        );
        assert!(err.message().contains("initial MTU"), "{}", err.message());
        let options: TransportOptions = from_json(r#"{"initialMtu":20000}"#, "t").unwrap();
        assert!(options.to_quinn(DONT_FRAGMENT, Side::Client).is_ok());
    }

    #[test]
    fn congestion_controllers_parse() {
        for (name, expected) in [
            ("cubic", CongestionControl::Cubic),
            ("newreno", CongestionControl::NewReno),
            ("bbr", CongestionControl::Bbr),
        ] {
            let options: TransportOptions =
                from_json(&format!(r#"{{"congestionControl":"{name}"}}"#), "t").unwrap();
            assert_eq!(options.congestion_control, Some(expected));
        }
        assert!(from_json::<TransportOptions>(r#"{"congestionControl":"vegas"}"#, "t").is_err());
    }
}
