use crate::close::Ending;
use crate::error::{Error, ErrorCode, ErrorDetails};

/// An h3 error as ours: a peer's stream reset keeps its code, a dead
/// connection is reported as the connection's own end, the rest are
/// HTTP/3 protocol errors with their H3 code.
pub(crate) fn stream_error(
    error: h3::error::StreamError,
    connection: &quinn::Connection,
    ending: &Ending,
) -> Error {
    use h3::error::StreamError;
    match error {
        StreamError::RemoteTerminate { code, .. } => Error::new(
            ErrorCode::StreamReset,
            format!("the peer reset the HTTP/3 stream with {code}"),
        )
        .with_details(ErrorDetails {
            quic_code: Some(code.value()),
            remote: Some(true),
            ..Default::default()
        }),
        StreamError::StreamError { code, reason, .. } => http3_error(code.value(), reason),
        StreamError::HeaderTooBig {
            actual_size,
            max_size,
            ..
        } => Error::new(
            ErrorCode::Limit,
            format!("header section of {actual_size} bytes exceeds the peer's limit of {max_size}"),
        ),
        other => match connection.close_reason() {
            Some(closed) => ending.error(&closed),
            None => Error::new(ErrorCode::Http3, other.to_string()),
        },
    }
}

pub(crate) fn connection_error(
    error: h3::error::ConnectionError,
    connection: &quinn::Connection,
    ending: &Ending,
) -> Error {
    match connection.close_reason() {
        Some(closed) => ending.error(&closed),
        None => Error::new(ErrorCode::Http3, error.to_string()),
    }
}

fn http3_error(code: u64, reason: String) -> Error {
    Error::new(
        ErrorCode::Http3,
        format!("HTTP/3 error 0x{code:x}: {reason}"),
    )
    .with_details(ErrorDetails {
        quic_code: Some(code),
        reason: Some(reason),
        ..Default::default()
    })
}
