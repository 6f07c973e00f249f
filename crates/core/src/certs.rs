//! Self-signed certificates, for development servers and tools that need a
//! certificate when none was given. Never used implicitly: callers ask.

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, SanType};
use rustls_pki_types::ServerName;
use serde::Serialize;
use time::{Duration, OffsetDateTime};

use crate::error::{Error, Result};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GeneratedCertificate {
    pub cert: String,
    pub key: String,
}

/// A fresh ECDSA P-256 key and a self-signed certificate for `names` (DNS
/// names and IP addresses), valid from a day before `now_unix` (the
/// caller's clock: wasm has none of its own) for `valid_days`.
pub fn generate_self_signed(
    names: &[String],
    now_unix: i64,
    valid_days: u32,
) -> Result<GeneratedCertificate> {
    if names.is_empty() {
        return Err(Error::invalid_arg(
            "names: at least one DNS name or IP address",
        ));
    }
    if !(1..=3650).contains(&valid_days) {
        return Err(Error::invalid_arg(format!(
            "validDays must be between 1 and 3650, got {valid_days}"
        )));
    }
    let now = OffsetDateTime::from_unix_timestamp(now_unix)
        .map_err(|_| Error::invalid_arg(format!("now: {now_unix} is not a valid time")))?;
    let mut params = CertificateParams::default();
    params.subject_alt_names = names
        .iter()
        .map(|name| {
            let invalid =
                || Error::invalid_arg(format!("names: {name:?} is not a DNS name or IP address"));
            match ServerName::try_from(name.as_str()).map_err(|_| invalid())? {
                ServerName::IpAddress(_) => {
                    Ok(SanType::IpAddress(name.parse().map_err(|_| invalid())?))
                }
                ServerName::DnsName(_) => name
                    .clone()
                    .try_into()
                    .map(SanType::DnsName)
                    .map_err(|_| invalid()),
                _ => Err(invalid()),
            }
        })
        .collect::<Result<_>>()?;
    let mut subject = DistinguishedName::new();
    subject.push(DnType::CommonName, names[0].as_str());
    params.distinguished_name = subject;
    // X.509 times have four-digit years (RFC 5280 §4.1.2.5.2): rcgen
    // panics on a year before 0, and `time` on one past 9999.
    let not_before = now.checked_sub(Duration::days(1)).filter(|t| t.year() >= 0);
    let not_after = now.checked_add(Duration::days(i64::from(valid_days)));
    let (Some(not_before), Some(not_after)) = (not_before, not_after) else {
        return Err(Error::invalid_arg(format!(
            "now: {now_unix} puts the certificate's validity outside the years 0 to 9999"
        )));
    };
    params.not_before = not_before;
    params.not_after = not_after;
    let key = KeyPair::generate()
        .map_err(|e| Error::invalid_state(format!("key generation failed: {e}")))?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| Error::invalid_state(format!("certificate generation failed: {e}")))?;
    Ok(GeneratedCertificate {
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}

/// `generate_self_signed` with its arguments and result as JSON, as the
/// bindings pass them: `{"names": [...], "now": secs, "validDays": n}`.
pub fn generate_self_signed_json(options: &str) -> Result<String> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Options {
        names: Vec<String>,
        now: i64,
        valid_days: u32,
    }
    let options: Options = crate::config::from_json(options, "certificate options")?;
    let generated = generate_self_signed(&options.names, options.now, options.valid_days)?;
    Ok(serde_json::to_string(&generated).expect("certificate serializes"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls_pki_types::pem::PemObject;

    #[test]
    fn generates_a_usable_certificate_and_key() {
        let generated =
            generate_self_signed(&["localhost".into(), "127.0.0.1".into()], 1_800_000_000, 30)
                .unwrap();
        let certs = crate::tls::parse_certs(&generated.cert, "cert").unwrap();
        assert_eq!(certs.len(), 1);
        assert!(rustls_pki_types::PrivateKeyDer::from_pem_slice(generated.key.as_bytes()).is_ok());
    }

    #[test]
    fn refuses_bad_names_and_validity() {
        assert!(generate_self_signed(&[], 0, 30).is_err());
        assert!(generate_self_signed(&["bad name!".into()], 0, 30).is_err());
        assert!(generate_self_signed(&["localhost".into()], 0, 0).is_err());
    }

    #[test]
    fn refuses_a_validity_outside_four_digit_years() {
        const YEAR_0: i64 = -62_167_219_200;
        const END_OF_9999: i64 = 253_402_300_799;
        for (now, days) in [
            (END_OF_9999, 1),
            (END_OF_9999 - 86_400 * 10, 30),
            (YEAR_0, 1),
            (-377_705_116_800, 1),
        ] {
            let err = generate_self_signed(&["localhost".into()], now, days).unwrap_err();
            assert_eq!(err.code(), crate::ErrorCode::InvalidArg, "{now}");
            assert!(err.message().starts_with("now:"), "{}", err.message());
        }
        assert!(generate_self_signed(&["localhost".into()], YEAR_0 + 86_400, 1).is_ok());
        assert!(generate_self_signed(&["localhost".into()], END_OF_9999 - 86_400, 1).is_ok());
    }
}
