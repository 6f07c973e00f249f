//! rustls configuration for both sides: TLS 1.3 only, ring as the crypto
//! provider (the one provider that does QUIC on wasm32 as well), and
//! certificate verification on unless the caller names the risk.

use std::sync::Arc;

use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::{ConnectOptions, ServerOptions};
use crate::error::{Error, Result};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn parse_certs(pem: &str, field: &str) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::invalid_arg(format!("{field}: not valid PEM certificates ({e})")))?;
    if certs.is_empty() {
        return Err(Error::invalid_arg(format!(
            "{field}: no PEM \"CERTIFICATE\" block found"
        )));
    }
    Ok(certs)
}

fn parse_key(pem: &str, field: &str) -> Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| Error::invalid_arg(format!("{field}: no usable PEM private key ({e})")))
}

fn alpn_protocols(alpn: &[String], field: &str) -> Result<Vec<Vec<u8>>> {
    if alpn.is_empty() {
        return Err(Error::invalid_arg(format!(
            "{field}: QUIC requires at least one ALPN protocol"
        )));
    }
    alpn.iter()
        .map(|p| {
            if p.is_empty() || p.len() > 255 {
                Err(Error::invalid_arg(format!(
                    "{field}: each ALPN protocol must be 1 to 255 bytes, got {:?}",
                    p
                )))
            } else {
                Ok(p.as_bytes().to_vec())
            }
        })
        .collect()
}

pub(crate) fn server_crypto(options: &ServerOptions) -> Result<QuicServerConfig> {
    let certs = parse_certs(&options.cert, "cert")?;
    let key = parse_key(&options.key, "key")?;
    let mut tls = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| Error::invalid_arg(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| Error::invalid_arg(format!("cert/key: {e}")))?;
    tls.alpn_protocols = alpn_protocols(&options.alpn, "alpn")?;
    QuicServerConfig::try_from(tls).map_err(|e| Error::invalid_arg(e.to_string()))
}

pub(crate) fn client_crypto(options: &ConnectOptions) -> Result<QuicClientConfig> {
    let Some(ca) = options.ca.as_deref() else {
        return Err(Error::invalid_arg(
            "ca: a PEM CA certificate to verify the server against is required",
        ));
    };
    let mut roots = RootCertStore::empty();
    for cert in parse_certs(ca, "ca")? {
        roots
            .add(cert)
            .map_err(|e| Error::invalid_arg(format!("ca: unusable certificate ({e})")))?;
    }
    let mut tls = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| Error::invalid_arg(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = alpn_protocols(&options.alpn, "alpn")?;
    QuicClientConfig::try_from(tls).map_err(|e| Error::invalid_arg(e.to_string()))
}
