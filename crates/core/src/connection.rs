use std::sync::{Arc, Mutex};

use quinn::{ConnectionError, VarInt};
use serde::Serialize;

use crate::close::{connection_error, CloseInfo, LocalClose};
use crate::error::{Error, Result};
use crate::stream::Stream;

/// The close this side initiated, shared with the connection's streams so
/// that their errors can name it.
#[derive(Debug, Clone, Default)]
pub(crate) struct LocalCloseCell(Arc<Mutex<Option<LocalClose>>>);

impl LocalCloseCell {
    fn set(&self, close: LocalClose) {
        let mut slot = self.0.lock().expect("close lock");
        slot.get_or_insert(close);
    }

    fn get(&self) -> Option<LocalClose> {
        self.0.lock().expect("close lock").clone()
    }

    pub(crate) fn error(&self, e: &ConnectionError) -> Error {
        connection_error(e, self.get().as_ref())
    }
}

/// A QUIC connection; cheap to clone, all clones are the same connection.
#[derive(Debug, Clone)]
pub struct Connection {
    inner: quinn::Connection,
    local_close: LocalCloseCell,
    /// The name a client connected to; servers learn it from the handshake.
    server_name: Option<String>,
}

/// What a caller may want to know about an established connection.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionInfo {
    pub remote_address: String,
    pub remote_port: u16,
    /// The negotiated ALPN protocol.
    pub alpn: Option<String>,
    /// The server name the client asked for (SNI).
    pub server_name: Option<String>,
}

/// The longest close reason we send; longer ones are refused rather than
/// silently truncated.
const MAX_REASON_BYTES: usize = 1024;

impl Connection {
    pub(crate) fn new(inner: quinn::Connection, server_name: Option<String>) -> Self {
        Connection {
            inner,
            local_close: LocalCloseCell::default(),
            server_name,
        }
    }

    pub async fn open_bi(&self) -> Result<Stream> {
        let (send, recv) = self
            .inner
            .open_bi()
            .await
            .map_err(|e| self.local_close.error(&e))?;
        Ok(Stream::new(
            Some(send),
            Some(recv),
            self.local_close.clone(),
        ))
    }

    /// The next bidirectional stream the peer opens; fails once the
    /// connection is closed.
    pub async fn accept_bi(&self) -> Result<Stream> {
        let (send, recv) = self
            .inner
            .accept_bi()
            .await
            .map_err(|e| self.local_close.error(&e))?;
        Ok(Stream::new(
            Some(send),
            Some(recv),
            self.local_close.clone(),
        ))
    }

    pub fn close(&self, code: VarInt, reason: &str) -> Result<()> {
        if reason.len() > MAX_REASON_BYTES {
            return Err(Error::invalid_arg(format!(
                "reason must be at most {MAX_REASON_BYTES} bytes, got {}",
                reason.len()
            )));
        }
        self.local_close.set(LocalClose {
            code: code.into_inner(),
            reason: reason.to_string(),
        });
        self.inner.close(code, reason.as_bytes());
        Ok(())
    }

    /// Settles when the connection ends, however it ends.
    pub async fn closed(&self) -> CloseInfo {
        let error = self.inner.closed().await;
        CloseInfo::from_error(&error, self.local_close.get().as_ref())
    }

    pub fn info(&self) -> ConnectionInfo {
        let remote = self.inner.remote_address();
        let handshake = self
            .inner
            .handshake_data()
            .and_then(|data| data.downcast::<quinn::crypto::rustls::HandshakeData>().ok());
        ConnectionInfo {
            remote_address: remote.ip().to_string(),
            remote_port: remote.port(),
            alpn: handshake
                .as_ref()
                .and_then(|h| h.protocol.as_ref())
                .map(|p| String::from_utf8_lossy(p).into_owned()),
            server_name: handshake
                .and_then(|h| h.server_name)
                .or_else(|| self.server_name.clone()),
        }
    }

    pub fn info_json(&self) -> String {
        serde_json::to_string(&self.info()).expect("connection info serializes")
    }
}
