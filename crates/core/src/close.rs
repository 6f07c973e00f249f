use std::sync::{Arc, Mutex, MutexGuard, Weak};

use quinn::{ConnectionError, TransportErrorCode};
use serde::Serialize;

use crate::error::{Error, ErrorCode, ErrorDetails};

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum CloseKind {
    /// An application closed it with an application error code.
    Application,
    /// A QUIC stack closed it with a transport error code.
    Transport,
    /// Nothing was heard from the peer for longer than the idle timeout.
    IdleTimeout,
    /// The peer sent a stateless reset (it lost the connection's state).
    StatelessReset,
    /// The peer supports none of our QUIC versions.
    VersionMismatch,
    /// The connection ran out of connection IDs.
    CidsExhausted,
}

/// The settled value of a connection's `closed` promise.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CloseInfo {
    pub kind: CloseKind,
    /// Application or transport error code; 0 when the kind has none.
    pub code: u64,
    pub reason: String,
    /// True when the peer closed (or reset) the connection.
    pub remote: bool,
}

/// The close this side initiated, remembered because quinn reports only
/// "locally closed" without the code and reason.
#[derive(Debug, Clone)]
pub(crate) struct LocalClose {
    pub code: u64,
    pub reason: String,
}

#[derive(Debug, Default)]
struct EndingState {
    local: Option<LocalClose>,
    first: Option<ConnectionError>,
}

/// What is known about how a connection ended, shared by the connection, its
/// streams and its endpoint. quinn overwrites a connection's error when its
/// endpoint is closed afterwards ("locally closed"), which would hide why it
/// really ended from reads still pending; the first error is kept here.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ending(Arc<Mutex<EndingState>>);

impl Ending {
    fn state(&self) -> MutexGuard<'_, EndingState> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Remembers a close this side makes (the first one counts).
    pub(crate) fn record_local(&self, close: LocalClose) {
        self.state().local.get_or_insert(close);
    }

    /// Remembers how the connection ended (the first report counts).
    pub(crate) fn record(&self, error: &ConnectionError) {
        self.state().first.get_or_insert_with(|| error.clone());
    }

    fn resolve(&self, error: &ConnectionError) -> (ConnectionError, Option<LocalClose>) {
        let state = self.state();
        let error = match (&state.first, error) {
            (Some(first), ConnectionError::LocallyClosed) => first.clone(),
            _ => error.clone(),
        };
        (error, state.local.clone())
    }

    pub(crate) fn error(&self, error: &ConnectionError) -> Error {
        let (error, local) = self.resolve(error);
        connection_error(&error, local.as_ref())
    }

    pub(crate) fn info(&self, error: &ConnectionError) -> CloseInfo {
        self.record(error);
        let (error, local) = self.resolve(error);
        CloseInfo::from_error(&error, local.as_ref())
    }

    fn downgrade(&self) -> Weak<Mutex<EndingState>> {
        Arc::downgrade(&self.0)
    }
}

/// The endings of an endpoint's connections, so that closing the endpoint
/// can tell each of them the code and reason it closed with.
#[derive(Debug, Clone, Default)]
pub(crate) struct Endings(Arc<Mutex<Vec<Weak<Mutex<EndingState>>>>>);

impl Endings {
    pub(crate) fn register(&self, ending: &Ending) {
        let mut endings = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if endings.len().is_power_of_two() {
            endings.retain(|weak| weak.strong_count() > 0);
        }
        endings.push(ending.downgrade());
    }

    pub(crate) fn record_local(&self, close: &LocalClose) {
        let endings = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for ending in endings.iter().filter_map(Weak::upgrade) {
            Ending(ending).record_local(close.clone());
        }
    }
}

impl CloseInfo {
    pub(crate) fn from_error(error: &ConnectionError, local: Option<&LocalClose>) -> CloseInfo {
        let (kind, code, reason, remote) = match error {
            ConnectionError::ApplicationClosed(close) => (
                CloseKind::Application,
                close.error_code.into_inner(),
                lossy(&close.reason),
                true,
            ),
            ConnectionError::ConnectionClosed(close) => (
                CloseKind::Transport,
                u64::from(close.error_code),
                lossy(&close.reason),
                true,
            ),
            ConnectionError::TransportError(e) => (
                CloseKind::Transport,
                u64::from(e.code),
                e.reason.clone(),
                false,
            ),
            ConnectionError::LocallyClosed => {
                let local = local.cloned().unwrap_or(LocalClose {
                    code: 0,
                    reason: String::new(),
                });
                (CloseKind::Application, local.code, local.reason, false)
            }
            ConnectionError::TimedOut => (CloseKind::IdleTimeout, 0, String::new(), false),
            ConnectionError::Reset => (CloseKind::StatelessReset, 0, String::new(), true),
            ConnectionError::VersionMismatch => {
                (CloseKind::VersionMismatch, 0, String::new(), true)
            }
            ConnectionError::CidsExhausted => (CloseKind::CidsExhausted, 0, String::new(), false),
        };
        CloseInfo {
            kind,
            code,
            reason,
            remote,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("close info serializes")
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Crypto errors are transport codes 0x100..=0x1ff carrying a TLS alert.
fn tls_alert(code: u64) -> Option<String> {
    if !(0x100..=0x1ff).contains(&code) {
        return None;
    }
    let alert = rustls::AlertDescription::from((code - 0x100) as u8);
    Some(snake_case(&format!("{alert:?}")))
}

fn snake_case(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The error an operation fails with because its connection ended.
pub(crate) fn connection_error(error: &ConnectionError, local: Option<&LocalClose>) -> Error {
    let info = CloseInfo::from_error(error, local);
    let alert = match info.kind {
        CloseKind::Transport => tls_alert(info.code),
        _ => None,
    };
    let code = match info.kind {
        _ if alert.is_some() => ErrorCode::Tls,
        CloseKind::Transport if info.code == u64::from(TransportErrorCode::CONNECTION_REFUSED) => {
            ErrorCode::ConnectionRefused
        }
        CloseKind::Transport => ErrorCode::Protocol,
        CloseKind::Application => ErrorCode::ConnectionClosed,
        CloseKind::IdleTimeout => ErrorCode::Timeout,
        CloseKind::StatelessReset => ErrorCode::ConnectionReset,
        CloseKind::VersionMismatch => ErrorCode::VersionMismatch,
        CloseKind::CidsExhausted => ErrorCode::Limit,
    };
    let by = if info.remote { "peer" } else { "local side" };
    let message = match (&alert, info.kind) {
        (Some(alert), _) if info.remote => {
            format!(
                "TLS handshake failed: the peer sent alert {alert} ({})",
                info.reason
            )
        }
        (Some(_), _) => format!("TLS handshake failed: {}", info.reason),
        (None, CloseKind::IdleTimeout) => "connection timed out (idle timeout)".to_string(),
        (None, CloseKind::StatelessReset) => "connection reset by peer".to_string(),
        (None, CloseKind::VersionMismatch) => "peer supports no common QUIC version".to_string(),
        (None, CloseKind::CidsExhausted) => "connection IDs exhausted".to_string(),
        (None, _) if info.reason.is_empty() => {
            format!("connection closed by {by} with code {}", info.code)
        }
        (None, _) => format!(
            "connection closed by {by} with code {}: {}",
            info.code, info.reason
        ),
    };
    Error::new(code, message).with_details(ErrorDetails {
        quic_code: Some(info.code),
        reason: Some(info.reason).filter(|r| !r.is_empty()),
        remote: Some(info.remote),
        tls_alert: alert,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use quinn::{ApplicationClose, ConnectionClose, VarInt};

    #[test]
    fn application_close_from_peer() {
        let e = ConnectionError::ApplicationClosed(ApplicationClose {
            error_code: VarInt::from_u32(42),
            reason: "bye".into(),
        });
        let info = CloseInfo::from_error(&e, None);
        assert_eq!(info.kind, CloseKind::Application);
        assert_eq!(
            (info.code, info.reason.as_str(), info.remote),
            (42, "bye", true)
        );
        assert_eq!(
            connection_error(&e, None).code(),
            ErrorCode::ConnectionClosed
        );
    }

    #[test]
    fn local_close_reports_our_code() {
        let local = LocalClose {
            code: 7,
            reason: "done".into(),
        };
        let info = CloseInfo::from_error(&ConnectionError::LocallyClosed, Some(&local));
        assert_eq!(
            (info.code, info.reason.as_str(), info.remote),
            (7, "done", false)
        );
    }

    #[test]
    fn crypto_close_is_a_tls_error_naming_the_alert() {
        let e = ConnectionError::ConnectionClosed(ConnectionClose {
            error_code: TransportErrorCode::crypto(120),
            frame_type: None,
            reason: "peer doesn't support any known protocol".into(),
        });
        let err = connection_error(&e, None);
        assert_eq!(err.code(), ErrorCode::Tls);
        assert_eq!(
            err.details().tls_alert.as_deref(),
            Some("no_application_protocol")
        );
    }

    #[test]
    fn refused_is_its_own_code() {
        let e = ConnectionError::ConnectionClosed(ConnectionClose {
            error_code: TransportErrorCode::CONNECTION_REFUSED,
            frame_type: None,
            reason: Default::default(),
        });
        assert_eq!(
            connection_error(&e, None).code(),
            ErrorCode::ConnectionRefused
        );
    }
}
