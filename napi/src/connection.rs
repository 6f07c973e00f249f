use napi::bindgen_prelude::{Buffer, BufferSlice, PromiseRaw};
use napi::Env;
use napi_derive::napi;
use quicbridge_core::http3::Http3Session;
use quicbridge_core::{app_code, Connection};

use crate::error::OrThrow;
use crate::external_memory::ExternalMemory;
use crate::http3::NativeHttp3Session;
use crate::promise::promise;
use crate::stream::NativeStream;

#[napi]
pub struct NativeConnection {
    inner: Connection,
    _memory: ExternalMemory,
}

impl NativeConnection {
    pub(crate) fn new(inner: Connection) -> Self {
        let memory = ExternalMemory::new(inner.resident_bytes());
        NativeConnection {
            inner,
            _memory: memory,
        }
    }
}

#[napi]
impl NativeConnection {
    #[napi(ts_return_type = "Promise<NativeStream>")]
    pub fn open_bi<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, NativeStream>> {
        let connection = self.inner.clone();
        promise(env, async move {
            Ok(NativeStream::new(connection.open_bi().await.or_throw()?))
        })
    }

    #[napi(ts_return_type = "Promise<NativeStream>")]
    pub fn accept_bi<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, NativeStream>> {
        let connection = self.inner.clone();
        promise(env, async move {
            Ok(NativeStream::new(connection.accept_bi().await.or_throw()?))
        })
    }

    #[napi(ts_return_type = "Promise<NativeStream>")]
    pub fn open_uni<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, NativeStream>> {
        let connection = self.inner.clone();
        promise(env, async move {
            Ok(NativeStream::new(connection.open_uni().await.or_throw()?))
        })
    }

    #[napi(ts_return_type = "Promise<NativeStream>")]
    pub fn accept_uni<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, NativeStream>> {
        let connection = self.inner.clone();
        promise(env, async move {
            Ok(NativeStream::new(connection.accept_uni().await.or_throw()?))
        })
    }

    /// A new stream if the peer's limit allows one now, else `null`.
    #[napi]
    pub fn try_open_bi(&self) -> napi::Result<Option<NativeStream>> {
        Ok(self.inner.try_open_bi().or_throw()?.map(NativeStream::new))
    }

    /// The peer's next stream if it has arrived, else `null`.
    #[napi]
    pub fn try_accept_bi(&self) -> napi::Result<Option<NativeStream>> {
        Ok(self
            .inner
            .try_accept_bi()
            .or_throw()?
            .map(NativeStream::new))
    }

    #[napi]
    pub fn try_open_uni(&self) -> napi::Result<Option<NativeStream>> {
        Ok(self.inner.try_open_uni().or_throw()?.map(NativeStream::new))
    }

    #[napi]
    pub fn try_accept_uni(&self) -> napi::Result<Option<NativeStream>> {
        Ok(self
            .inner
            .try_accept_uni()
            .or_throw()?
            .map(NativeStream::new))
    }

    #[napi]
    pub fn send_datagram(&self, data: BufferSlice) -> napi::Result<()> {
        self.inner.send_datagram(&data).or_throw()
    }

    /// Waits for a datagram; resolves with it and every other one already
    /// received (up to `max_bytes`), framed by the core.
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn read_datagrams<'env>(
        &self,
        env: &'env Env,
        max_bytes: u32,
    ) -> napi::Result<PromiseRaw<'env, Buffer>> {
        let connection = self.inner.clone();
        promise(env, async move {
            let framed = connection.read_datagrams(max_bytes as usize).await;
            Ok(Buffer::from(framed.or_throw()?))
        })
    }

    /// The datagrams already received (up to `max_bytes`), framed by the
    /// core; empty when there are none.
    #[napi]
    pub fn try_read_datagrams(&self, max_bytes: u32) -> napi::Result<Buffer> {
        let framed = self.inner.try_read_datagrams(max_bytes as usize);
        Ok(Buffer::from(framed.or_throw()?))
    }

    /// `null` when the peer does not accept datagrams.
    #[napi]
    pub fn max_datagram_size(&self) -> Option<u32> {
        self.inner.max_datagram_size().map(|n| n as u32)
    }

    #[napi]
    pub fn close(&self, code: f64, reason: String) -> napi::Result<()> {
        let code = app_code(code, "code").or_throw()?;
        self.inner.close(code, &reason).or_throw()
    }

    /// Settles with the JSON of `CloseInfo` when the connection ends.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn closed<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, String>> {
        let connection = self.inner.clone();
        promise(env, async move { Ok(connection.closed().await.to_json()) })
    }

    /// Settles once the handshake completes with what became of 0-RTT:
    /// `notAttempted`, `accepted` or `rejected`.
    #[napi(ts_return_type = "Promise<'notAttempted' | 'pending' | 'accepted' | 'rejected'>")]
    pub fn handshake_complete<'env>(
        &self,
        env: &'env Env,
    ) -> napi::Result<PromiseRaw<'env, &'static str>> {
        let connection = self.inner.clone();
        promise(env, async move {
            let early_data = connection.handshake_complete().await.or_throw()?;
            Ok(early_data.as_str())
        })
    }

    /// JSON of `ConnectionInfo`.
    #[napi]
    pub fn info(&self) -> String {
        self.inner.info_json()
    }

    /// JSON of `Stats`.
    #[napi]
    pub fn stats(&self) -> String {
        self.inner.stats_json()
    }

    /// JSON array of the peer's certificates as PEM.
    #[napi]
    pub fn peer_certificates(&self) -> String {
        self.inner.peer_certificates_json()
    }

    /// Starts HTTP/3 on this connection as the client (`server == false`)
    /// or as the server.
    #[napi(ts_return_type = "Promise<NativeHttp3Session>")]
    pub fn http3<'env>(
        &self,
        env: &'env Env,
        server: bool,
    ) -> napi::Result<PromiseRaw<'env, NativeHttp3Session>> {
        let connection = self.inner.clone();
        promise(env, async move {
            let session = if server {
                Http3Session::server(&connection).await
            } else {
                Http3Session::client(&connection).await
            };
            Ok(NativeHttp3Session::new(session.or_throw()?))
        })
    }

    #[napi]
    pub fn force_key_update(&self) {
        self.inner.force_key_update();
    }
}
