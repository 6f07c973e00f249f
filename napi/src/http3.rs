use napi::bindgen_prelude::{Buffer, PromiseRaw};
use napi::Env;
use napi_derive::napi;
use quicbridge_core::app_code;
use quicbridge_core::http3::{
    headers_from_json, headers_to_json, Http3Session, Http3Stream, RequestHead, ResponseHead,
};

use crate::error::OrThrow;
use crate::promise::promise;

#[napi]
pub struct NativeHttp3Session {
    inner: Http3Session,
}

impl NativeHttp3Session {
    pub(crate) fn new(inner: Http3Session) -> Self {
        NativeHttp3Session { inner }
    }
}

#[napi]
impl NativeHttp3Session {
    /// Sends a request head (JSON of `RequestHead`).
    #[napi(ts_return_type = "Promise<NativeHttp3Stream>")]
    pub fn request<'env>(
        &self,
        env: &'env Env,
        head: String,
    ) -> napi::Result<PromiseRaw<'env, NativeHttp3Stream>> {
        let head = RequestHead::from_json(&head).or_throw()?;
        let session = self.inner.clone();
        promise(env, async move {
            let stream = session.request(&head).await.or_throw()?;
            Ok(NativeHttp3Stream { inner: stream })
        })
    }

    /// The next request, or `null` once the client is done.
    #[napi(ts_return_type = "Promise<NativeHttp3Stream | null>")]
    pub fn accept<'env>(
        &self,
        env: &'env Env,
    ) -> napi::Result<PromiseRaw<'env, Option<NativeHttp3Stream>>> {
        let session = self.inner.clone();
        promise(env, async move {
            let stream = session.accept().await.or_throw()?;
            Ok(stream.map(|inner| NativeHttp3Stream { inner }))
        })
    }
}

#[napi]
pub struct NativeHttp3Stream {
    inner: Http3Stream,
}

#[napi]
impl NativeHttp3Stream {
    /// JSON of the request head (server side), else `null`.
    #[napi]
    pub fn request_head(&self) -> Option<String> {
        self.inner.request_head().map(RequestHead::to_json)
    }

    /// Settles with the JSON of the response head (client side).
    #[napi(ts_return_type = "Promise<string>")]
    pub fn response_head<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, String>> {
        let stream = self.inner.clone();
        promise(env, async move {
            Ok(stream.response_head().await.or_throw()?.to_json())
        })
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn respond<'env>(
        &self,
        env: &'env Env,
        head: String,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let head = ResponseHead::from_json(&head).or_throw()?;
        let stream = self.inner.clone();
        promise(env, async move { stream.respond(&head).await.or_throw() })
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn write<'env>(&self, env: &'env Env, data: Buffer) -> napi::Result<PromiseRaw<'env, ()>> {
        let stream = self.inner.clone();
        promise(env, async move { stream.write(&data).await.or_throw() })
    }

    /// Ends the body; `trailers` is JSON of header pairs, or `null`.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn finish<'env>(
        &self,
        env: &'env Env,
        trailers: Option<String>,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let trailers = trailers
            .map(|t| headers_from_json(&t))
            .transpose()
            .or_throw()?;
        let stream = self.inner.clone();
        promise(env, async move {
            stream.finish(trailers.as_ref()).await.or_throw()
        })
    }

    #[napi(ts_return_type = "Promise<Buffer | null>")]
    pub fn read<'env>(
        &self,
        env: &'env Env,
        max: u32,
    ) -> napi::Result<PromiseRaw<'env, Option<Buffer>>> {
        let stream = self.inner.clone();
        promise(env, async move {
            let chunk = stream.read(max as usize).await.or_throw()?;
            Ok(chunk.map(Buffer::from))
        })
    }

    /// Settles with JSON of the trailers, or `null` when there were none.
    #[napi(ts_return_type = "Promise<string | null>")]
    pub fn trailers<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Option<String>>> {
        let stream = self.inner.clone();
        promise(env, async move {
            let trailers = stream.trailers().await.or_throw()?;
            Ok(trailers.as_ref().map(headers_to_json))
        })
    }

    #[napi]
    pub fn reset(&self, code: f64) -> napi::Result<()> {
        self.inner
            .reset(app_code(code, "code").or_throw()?.into_inner())
            .or_throw()
    }

    #[napi]
    pub fn stop(&self, code: f64) -> napi::Result<()> {
        self.inner
            .stop(app_code(code, "code").or_throw()?.into_inner())
            .or_throw()
    }
}
