use napi_derive::napi;
use quicbridge_core::{app_code, Connection};

use crate::error::OrThrow;
use crate::stream::NativeStream;

#[napi]
pub struct NativeConnection {
    inner: Connection,
}

impl NativeConnection {
    pub(crate) fn new(inner: Connection) -> Self {
        NativeConnection { inner }
    }
}

#[napi]
impl NativeConnection {
    #[napi]
    pub async fn open_bi(&self) -> napi::Result<NativeStream> {
        Ok(NativeStream::new(self.inner.open_bi().await.or_throw()?))
    }

    #[napi]
    pub async fn accept_bi(&self) -> napi::Result<NativeStream> {
        Ok(NativeStream::new(self.inner.accept_bi().await.or_throw()?))
    }

    #[napi]
    pub fn close(&self, code: f64, reason: String) -> napi::Result<()> {
        let code = app_code(code, "code").or_throw()?;
        self.inner.close(code, &reason).or_throw()
    }

    /// Settles with the JSON of `CloseInfo` when the connection ends.
    #[napi]
    pub async fn closed(&self) -> String {
        self.inner.closed().await.to_json()
    }

    /// JSON of `ConnectionInfo`.
    #[napi]
    pub fn info(&self) -> String {
        self.inner.info_json()
    }
}
