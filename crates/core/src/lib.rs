//! The QUIC core of quicbridge.
//!
//! Everything that decides protocol behaviour lives here; the napi and wasm
//! bindings only supply a [`quinn::Runtime`] and a [`quinn::AsyncUdpSocket`]
//! and translate values. Structured values cross the binding boundary as
//! JSON strings (parsed and validated here, once), bytes as byte buffers.

mod base64;
mod certs;
mod close;
mod config;
mod connection;
mod endpoint;
mod error;
#[cfg(test)]
mod fuzz_replay;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod http3;
pub mod message;
mod socket;
mod stats;
mod stream;
mod tls;

pub use certs::{generate_self_signed, generate_self_signed_json, GeneratedCertificate};
pub use close::{CloseInfo, CloseKind};
pub use config::{
    CipherSuite, ClientAuthOptions, CongestionControl, ConnectOptions, EndpointOptions,
    RetryPolicy, ServerOptions, TransportOptions,
};
pub use connection::{Connection, ConnectionInfo, EarlyData};
pub use endpoint::Endpoint;
pub use error::{Error, ErrorCode, Result};
pub use stats::Stats;
pub use stream::{Received, Stream, TryRead, MAX_READ_BYTES};
pub use tls::KeyLogSink;

/// Checks an application error code coming from JavaScript (a `number`).
pub fn app_code(value: f64, what: &str) -> Result<quinn::VarInt> {
    const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;
    if !(value.is_finite() && value.fract() == 0.0 && (0.0..=MAX_SAFE_INTEGER).contains(&value)) {
        return Err(Error::invalid_arg(format!(
            "{what} must be an integer between 0 and 2^53-1, got {value}"
        )));
    }
    Ok(quinn::VarInt::from_u64(value as u64).expect("2^53-1 fits in a QUIC varint"))
}

/// The crate version; the loader checks that a binding matches its package.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
