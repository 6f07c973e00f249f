//! rustls configuration for both sides: TLS 1.3 only, ring as the crypto
//! provider (the one provider that does QUIC on wasm32 as well), and
//! certificate verification on unless the caller names the risk.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ClientSessionMemoryCache, Resumption};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use crate::config::{CipherSuite, ConnectOptions, ServerOptions};
use crate::error::{Error, Result};

/// Receives key log lines (SSLKEYLOGFILE format, newline included).
pub type KeyLogSink = Arc<dyn Fn(String) + Send + Sync>;

/// What TLS configurations of one endpoint share.
#[derive(Clone, Default)]
pub struct TlsContext {
    pub keylog: Option<KeyLogSink>,
}

impl fmt::Debug for TlsContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsContext")
            .field("keylog", &self.keylog.is_some())
            .finish()
    }
}

struct SinkKeyLog(KeyLogSink);

impl fmt::Debug for SinkKeyLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SinkKeyLog")
    }
}

impl rustls::KeyLog for SinkKeyLog {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        (self.0)(format!("{label} {} {}\n", hex(client_random), hex(secret)));
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn provider() -> Arc<CryptoProvider> {
    let mut provider = rustls::crypto::ring::default_provider();
    if PREFER_CHACHA20 {
        chacha20_first(&mut provider.cipher_suites);
    }
    Arc::new(provider)
}

fn chacha20_first(suites: &mut [rustls::SupportedCipherSuite]) {
    // Stable: the AES suites keep their order after ChaCha20.
    suites
        .sort_by_key(|suite| suite.suite() != rustls::CipherSuite::TLS13_CHACHA20_POLY1305_SHA256);
}

/// wasm32 has no AES instructions, so ring falls back to bitsliced software
/// AES-GCM, which took half the CPU of a wasm bulk transfer
/// (docs/performance.md); ChaCha20-Poly1305 is fast in portable code. A
/// client offers its suites in this order and rustls servers follow the
/// client's order, except a wasm server, which picks by its own.
const PREFER_CHACHA20: bool = cfg!(target_arch = "wasm32");

/// ring's provider restricted to `suites`, in the caller's order (all of
/// them, in [`provider`]'s order, when `None`).
fn provider_with(suites: Option<&[CipherSuite]>) -> Result<Arc<CryptoProvider>> {
    use rustls::crypto::ring::cipher_suite;
    let Some(suites) = suites else {
        return Ok(provider());
    };
    if suites.is_empty() {
        return Err(Error::invalid_arg(
            "cipherSuites: at least one cipher suite is needed (or leave it unset for all)",
        ));
    }
    let mut chosen: Vec<rustls::SupportedCipherSuite> = Vec::new();
    for suite in suites {
        let suite = match suite {
            CipherSuite::Aes128GcmSha256 => cipher_suite::TLS13_AES_128_GCM_SHA256,
            CipherSuite::Aes256GcmSha384 => cipher_suite::TLS13_AES_256_GCM_SHA384,
            CipherSuite::Chacha20Poly1305Sha256 => cipher_suite::TLS13_CHACHA20_POLY1305_SHA256,
        };
        if !chosen.iter().any(|c| c.suite() == suite.suite()) {
            chosen.push(suite);
        }
    }
    Ok(Arc::new(CryptoProvider {
        cipher_suites: chosen,
        ..rustls::crypto::ring::default_provider()
    }))
}

/// The suite QUIC's Initial packets are protected with (RFC 9001 §5.2:
/// always AES-128-GCM, whatever the handshake then negotiates). Given to
/// quinn explicitly so that a configuration without AES-128-GCM among its
/// negotiable suites (ChaCha20 only, say) still works.
fn initial_suite() -> rustls::quic::Suite {
    rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256
        .tls13()
        .and_then(|suite| suite.quic_suite())
        .expect("ring's AES-128-GCM suite does QUIC")
}

/// Sessions of every client of this process (per backend instance), so that
/// a new connection to a server can resume an earlier one's session.
fn client_sessions() -> Arc<ClientSessionMemoryCache> {
    static SESSIONS: OnceLock<Arc<ClientSessionMemoryCache>> = OnceLock::new();
    SESSIONS
        .get_or_init(|| Arc::new(ClientSessionMemoryCache::new(1024)))
        .clone()
}

pub(crate) fn parse_certs(pem: &str, field: &str) -> Result<Vec<CertificateDer<'static>>> {
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

fn root_store(pem: &str, field: &str) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    for cert in parse_certs(pem, field)? {
        roots
            .add(cert)
            .map_err(|e| Error::invalid_arg(format!("{field}: unusable certificate ({e})")))?;
    }
    Ok(roots)
}

fn alpn_protocols(alpn: &[String]) -> Result<Vec<Vec<u8>>> {
    if alpn.is_empty() {
        return Err(Error::invalid_arg(
            "alpn: QUIC requires at least one ALPN protocol",
        ));
    }
    alpn.iter()
        .map(|p| {
            if p.is_empty() || p.len() > 255 {
                Err(Error::invalid_arg(format!(
                    "alpn: each protocol must be 1 to 255 bytes, got {p:?}"
                )))
            } else {
                Ok(p.as_bytes().to_vec())
            }
        })
        .collect()
}

pub(crate) fn server_crypto(
    options: &ServerOptions,
    context: &TlsContext,
) -> Result<QuicServerConfig> {
    let certs = parse_certs(&options.cert, "cert")?;
    let key = parse_key(&options.key, "key")?;
    let builder = rustls::ServerConfig::builder_with_provider(provider_with(
        options.cipher_suites.as_deref(),
    )?)
    .with_protocol_versions(&[&rustls::version::TLS13])
    .map_err(|e| Error::invalid_arg(e.to_string()))?;
    let builder = match &options.client_auth {
        None => builder.with_no_client_auth(),
        Some(auth) => {
            let roots = Arc::new(root_store(&auth.ca, "clientAuth.ca")?);
            let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider());
            let verifier = if auth.required {
                verifier
            } else {
                verifier.allow_unauthenticated()
            };
            let verifier = verifier
                .build()
                .map_err(|e| Error::invalid_arg(format!("clientAuth: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut tls = builder
        .with_single_cert(certs, key)
        .map_err(|e| Error::invalid_arg(format!("cert/key: {e}")))?;
    tls.alpn_protocols = alpn_protocols(&options.alpn)?;
    tls.ignore_client_order = PREFER_CHACHA20;
    if !(options.resumption || options.early_data) {
        tls.send_tls13_tickets = 0;
    }
    if options.early_data {
        // QUIC's 0-RTT is governed by this value being exactly u32::MAX.
        tls.max_early_data_size = u32::MAX;
    }
    if let Some(sink) = &context.keylog {
        tls.key_log = Arc::new(SinkKeyLog(sink.clone()));
    }
    QuicServerConfig::with_initial(Arc::new(tls), initial_suite())
        .map_err(|e| Error::invalid_arg(e.to_string()))
}

/// What identifies a client's verification and authentication setup.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ClientIdentityKey {
    cipher_suites: Option<Vec<CipherSuite>>,
    ca: Option<String>,
    insecure_skip_verify: bool,
    pinned_sha256: Vec<String>,
    cert: Option<String>,
    key: Option<String>,
}

/// Client configurations that differ only per connection (ALPN, 0-RTT,
/// key log) are cloned from one shared base, because rustls resumes a
/// session only with the very verifier and certificate resolver (the same
/// `Arc`s) that made it.
fn base_client_config(options: &ConnectOptions) -> Result<Arc<rustls::ClientConfig>> {
    const MAX_CACHED: usize = 64;
    static BASES: OnceLock<Mutex<HashMap<ClientIdentityKey, Arc<rustls::ClientConfig>>>> =
        OnceLock::new();
    let key = ClientIdentityKey {
        cipher_suites: options.cipher_suites.clone(),
        ca: options.ca.clone(),
        insecure_skip_verify: options.insecure_skip_verify,
        pinned_sha256: options.pinned_sha256.clone(),
        cert: options.cert.clone(),
        key: options.key.clone(),
    };
    let bases = BASES.get_or_init(Default::default);
    if let Some(base) = bases.lock().expect("config cache lock").get(&key) {
        return Ok(base.clone());
    }
    let base = Arc::new(new_base_client_config(options)?);
    let mut bases = bases.lock().expect("config cache lock");
    if bases.len() >= MAX_CACHED {
        bases.clear();
    }
    bases.insert(key, base.clone());
    Ok(base)
}

fn new_base_client_config(options: &ConnectOptions) -> Result<rustls::ClientConfig> {
    let builder = rustls::ClientConfig::builder_with_provider(provider_with(
        options.cipher_suites.as_deref(),
    )?)
    .with_protocol_versions(&[&rustls::version::TLS13])
    .map_err(|e| Error::invalid_arg(e.to_string()))?;
    let builder = match (&options.ca, options.insecure_skip_verify) {
        _ if !options.pinned_sha256.is_empty() => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PolicyVerifier::pinned(
                &options.pinned_sha256,
            )?)),
        (_, true) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PolicyVerifier::accept_any())),
        (Some(ca), false) => builder.with_root_certificates(root_store(ca, "ca")?),
        (None, false) => {
            return Err(Error::invalid_arg(
                "ca: a PEM CA certificate to verify the server against is required",
            ))
        }
    };
    match (&options.cert, &options.key) {
        (None, None) => Ok(builder.with_no_client_auth()),
        (Some(cert), Some(key)) => builder
            .with_client_auth_cert(parse_certs(cert, "cert")?, parse_key(key, "key")?)
            .map_err(|e| Error::invalid_arg(format!("cert/key: {e}"))),
        _ => Err(Error::invalid_arg(
            "cert and key: a client certificate needs both",
        )),
    }
}

pub(crate) fn client_crypto(
    options: &ConnectOptions,
    context: &TlsContext,
) -> Result<QuicClientConfig> {
    let mut tls = (*base_client_config(options)?).clone();
    tls.alpn_protocols = alpn_protocols(&options.alpn)?;
    tls.resumption = if options.resumption || options.early_data {
        Resumption::store(client_sessions())
    } else {
        Resumption::disabled()
    };
    tls.enable_early_data = options.early_data;
    if let Some(sink) = &context.keylog {
        tls.key_log = Arc::new(SinkKeyLog(sink.clone()));
    }
    QuicClientConfig::with_initial(Arc::new(tls), initial_suite())
        .map_err(|e| Error::invalid_arg(e.to_string()))
}

/// The server certificates a client accepts without a CA. Either way the
/// server must still prove, by its handshake signature, that it holds the
/// key of the certificate it sent.
#[derive(Debug)]
enum CertificatePolicy {
    /// Exactly the end-entity certificates with these SHA-256 fingerprints
    /// (a self-signed development server's, say).
    Pinned(Vec<[u8; 32]>),
    /// Any certificate at all: `insecureSkipVerify`.
    AcceptAny,
}

#[derive(Debug)]
struct PolicyVerifier {
    policy: CertificatePolicy,
    provider: Arc<CryptoProvider>,
}

impl PolicyVerifier {
    fn accept_any() -> Self {
        PolicyVerifier {
            policy: CertificatePolicy::AcceptAny,
            provider: provider(),
        }
    }

    fn pinned(pins: &[String]) -> Result<Self> {
        let fingerprints = pins
            .iter()
            .map(|pin| {
                let hex: String = pin.chars().filter(|c| *c != ':').collect();
                let invalid = || {
                    Error::invalid_arg(format!(
                        "pinnedSha256: {pin:?} is not a SHA-256 fingerprint (64 hex digits)"
                    ))
                };
                // Digits only: from_str_radix alone would take a sign ("+f").
                if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(invalid());
                }
                let mut fingerprint = [0u8; 32];
                for (i, byte) in fingerprint.iter_mut().enumerate() {
                    *byte =
                        u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| invalid())?;
                }
                Ok(fingerprint)
            })
            .collect::<Result<_>>()?;
        Ok(PolicyVerifier {
            policy: CertificatePolicy::Pinned(fingerprints),
            provider: provider(),
        })
    }
}

impl ServerCertVerifier for PolicyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let accepted = match &self.policy {
            CertificatePolicy::AcceptAny => true,
            CertificatePolicy::Pinned(fingerprints) => {
                let digest = ring::digest::digest(&ring::digest::SHA256, end_entity.as_ref());
                fingerprints.iter().any(|pin| pin[..] == *digest.as_ref())
            }
        };
        if accepted {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// DER certificates as PEM text.
pub(crate) fn to_pem(certs: &[CertificateDer<'_>]) -> Vec<String> {
    certs
        .iter()
        .map(|cert| {
            let encoded = crate::base64::encode(cert.as_ref());
            let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
            for line in encoded.as_bytes().chunks(64) {
                pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
                pem.push('\n');
            }
            pem.push_str("-----END CERTIFICATE-----\n");
            pem
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use rustls::CipherSuite;

    #[test]
    fn pins_are_64_hex_digits_with_optional_colons() {
        let pin = "D7:6C:AE:CF:7D:43:21:73:F0:4B:1D:CB:0A:6A:D3:90:AA:58:FE:D2:3F:E5:A0:16:96:18:3B:68:60:BD:3E:00";
        assert!(
            super::PolicyVerifier::pinned(&[pin.into(), pin.replace(':', "").to_lowercase()])
                .is_ok()
        );
        for bad in ["+f".repeat(32), format!("{pin}0"), "g".repeat(64)] {
            let err = super::PolicyVerifier::pinned(std::slice::from_ref(&bad)).unwrap_err();
            assert!(
                err.message().starts_with("pinnedSha256"),
                "{bad}: {}",
                err.message()
            );
        }
    }

    #[test]
    fn chacha20_moves_first_and_the_rest_keep_their_order() {
        let mut suites = rustls::crypto::ring::default_provider().cipher_suites;
        let before: Vec<CipherSuite> = suites.iter().map(|s| s.suite()).collect();
        assert_ne!(before[0], CipherSuite::TLS13_CHACHA20_POLY1305_SHA256);
        super::chacha20_first(&mut suites);
        let after: Vec<CipherSuite> = suites.iter().map(|s| s.suite()).collect();
        assert_eq!(after[0], CipherSuite::TLS13_CHACHA20_POLY1305_SHA256);
        let others = |list: &[CipherSuite]| -> Vec<CipherSuite> {
            list.iter()
                .copied()
                .filter(|s| *s != CipherSuite::TLS13_CHACHA20_POLY1305_SHA256)
                .collect()
        };
        assert_eq!(others(&after), others(&before));
        assert_eq!(after.len(), before.len());
    }
}
