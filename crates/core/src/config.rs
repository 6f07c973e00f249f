//! Options as they arrive from JavaScript (JSON), their validation, and
//! their translation into quinn configuration. Defaults are bounded:
//! quinn's own connection receive window is unbounded, ours is not.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use quinn::{IdleTimeout, TransportConfig, VarInt};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::tls;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

pub(crate) fn from_json<T: DeserializeOwned>(json: &str, what: &str) -> Result<T> {
    serde_json::from_str(json).map_err(|e| Error::invalid_arg(format!("{what}: {e}")))
}

/// Per-connection transport limits, shared by clients and servers.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TransportOptions {
    /// Close the connection after this long without traffic (default 30 s).
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
}

pub(crate) const DEFAULT_IDLE_TIMEOUT_MS: u64 = 30_000;
pub(crate) const DEFAULT_MAX_STREAMS: u64 = 100;
pub(crate) const DEFAULT_STREAM_RECEIVE_WINDOW: u64 = 2 * MIB;
pub(crate) const DEFAULT_RECEIVE_WINDOW: u64 = 16 * MIB;
pub(crate) const DEFAULT_SEND_WINDOW: u64 = 16 * MIB;
/// The largest window anyone may configure: a hard cap on what a peer can
/// make us buffer, whatever the options say.
const MAX_WINDOW: u64 = 1024 * MIB;

fn bounded(value: Option<u64>, default: u64, min: u64, max: u64, field: &str) -> Result<u64> {
    let value = value.unwrap_or(default);
    if value < min || value > max {
        return Err(Error::invalid_arg(format!(
            "transport.{field} must be between {min} and {max}, got {value}"
        )));
    }
    Ok(value)
}

fn varint(value: u64) -> VarInt {
    VarInt::from_u64(value).expect("bounded values fit in a varint")
}

impl TransportOptions {
    pub(crate) fn to_quinn(&self) -> Result<Arc<TransportConfig>> {
        let mut config = TransportConfig::default();
        let idle = bounded(
            self.idle_timeout_ms,
            DEFAULT_IDLE_TIMEOUT_MS,
            0,
            (1 << 62) - 1,
            "idleTimeoutMs",
        )?;
        // 0 disables the idle timeout, as in the QUIC transport parameter.
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
            1 << 60,
            "maxConcurrentBidiStreams",
        )?;
        let uni = bounded(
            self.max_concurrent_uni_streams,
            DEFAULT_MAX_STREAMS,
            0,
            1 << 60,
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
        Ok(Arc::new(config))
    }
}

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
}

impl ServerOptions {
    pub(crate) fn to_quinn(&self) -> Result<quinn::ServerConfig> {
        let crypto = tls::server_crypto(self)?;
        let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
        config.transport_config(self.transport.to_quinn()?);
        Ok(config)
    }
}

/// Options for creating an endpoint; a server endpoint accepts connections.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EndpointOptions {
    pub server: Option<ServerOptions>,
}

impl EndpointOptions {
    pub fn from_json(json: &str) -> Result<Self> {
        from_json(json, "endpoint options")
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
    pub alpn: Vec<String>,
    #[serde(default)]
    pub transport: TransportOptions,
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

    pub(crate) fn to_quinn(&self) -> Result<quinn::ClientConfig> {
        let crypto = tls::client_crypto(self)?;
        let mut config = quinn::ClientConfig::new(Arc::new(crypto));
        config.transport_config(self.transport.to_quinn()?);
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_rejected_by_name() {
        let err = EndpointOptions::from_json(r#"{"sever":{}}"#).unwrap_err();
        assert!(err.message().contains("sever"), "{}", err.message());
    }

    #[test]
    fn windows_are_bounded_by_default_and_checked() {
        assert!(TransportOptions::default().to_quinn().is_ok());
        let huge = TransportOptions {
            receive_window: Some(u64::MAX >> 2),
            ..Default::default()
        };
        let err = huge.to_quinn().unwrap_err();
        assert!(err.message().contains("receiveWindow"));
    }
}
