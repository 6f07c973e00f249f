use serde::Serialize;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Stable error codes; the JavaScript error's `code` property carries these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidArg,
    InvalidState,
    Tls,
    ConnectionClosed,
    ConnectionRefused,
    ConnectionReset,
    Timeout,
    Limit,
    StreamReset,
    StreamStopped,
    Protocol,
    VersionMismatch,
    Io,
    DatagramUnsupported,
    DatagramTooLarge,
    EarlyDataRejected,
    BackendUnsupported,
    Http3,
    BadFrame,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidArg => "ERR_QUIC_INVALID_ARG",
            ErrorCode::InvalidState => "ERR_QUIC_INVALID_STATE",
            ErrorCode::Tls => "ERR_QUIC_TLS",
            ErrorCode::ConnectionClosed => "ERR_QUIC_CONNECTION_CLOSED",
            ErrorCode::ConnectionRefused => "ERR_QUIC_CONNECTION_REFUSED",
            ErrorCode::ConnectionReset => "ERR_QUIC_CONNECTION_RESET",
            ErrorCode::Timeout => "ERR_QUIC_TIMEOUT",
            ErrorCode::Limit => "ERR_QUIC_LIMIT",
            ErrorCode::StreamReset => "ERR_QUIC_STREAM_RESET",
            ErrorCode::StreamStopped => "ERR_QUIC_STREAM_STOPPED",
            ErrorCode::Protocol => "ERR_QUIC_PROTOCOL",
            ErrorCode::VersionMismatch => "ERR_QUIC_VERSION_MISMATCH",
            ErrorCode::Io => "ERR_QUIC_IO",
            ErrorCode::DatagramUnsupported => "ERR_QUIC_DATAGRAM_UNSUPPORTED",
            ErrorCode::DatagramTooLarge => "ERR_QUIC_DATAGRAM_TOO_LARGE",
            ErrorCode::EarlyDataRejected => "ERR_QUIC_EARLY_DATA_REJECTED",
            ErrorCode::BackendUnsupported => "ERR_QUIC_BACKEND_UNSUPPORTED",
            ErrorCode::Http3 => "ERR_QUIC_HTTP3",
            ErrorCode::BadFrame => "ERR_QUIC_BAD_FRAME",
        }
    }
}

/// Facts about an error that callers branch on, beyond its code.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetails {
    /// The QUIC error code (application or transport) carried by a close,
    /// reset or stop.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quic_code: Option<u64>,
    /// The reason phrase sent by the peer, when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Whether the peer (rather than this side) caused the error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote: Option<bool>,
    /// The TLS alert, for handshake failures that carry one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_alert: Option<String>,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    code: ErrorCode,
    message: String,
    details: ErrorDetails,
}

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
            details: ErrorDetails::default(),
        }
    }

    pub fn invalid_arg(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::InvalidArg, message)
    }

    pub fn invalid_state(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::InvalidState, message)
    }

    pub fn with_details(mut self, details: ErrorDetails) -> Self {
        self.details = details;
        self
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn details(&self) -> &ErrorDetails {
        &self.details
    }

    /// The error as one JSON string, `{"code", "message", "details"}`:
    /// the form in which both bindings hand errors to JavaScript, where
    /// `lib/` turns it back into a typed error. (napi-rs rejects promises
    /// only with its own fixed status codes, so the code has to travel in
    /// the message.)
    pub fn to_envelope(&self) -> String {
        #[derive(Serialize)]
        struct Envelope<'a> {
            code: &'static str,
            message: &'a str,
            details: &'a ErrorDetails,
        }
        serde_json::to_string(&Envelope {
            code: self.code.as_str(),
            message: &self.message,
            details: &self.details,
        })
        .expect("error envelope serializes")
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::new(ErrorCode::Io, e.to_string())
    }
}
