use napi::bindgen_prelude::Buffer;
use napi_derive::napi;
use quicbridge_core::app_code;
use quicbridge_core::http3::{
    headers_from_json, headers_to_json, Http3Session, Http3Stream, RequestHead, ResponseHead,
};

use crate::error::OrThrow;

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
    #[napi]
    pub async fn request(&self, head: String) -> napi::Result<NativeHttp3Stream> {
        let head = RequestHead::from_json(&head).or_throw()?;
        let stream = self.inner.request(&head).await.or_throw()?;
        Ok(NativeHttp3Stream { inner: stream })
    }

    /// The next request, or `null` once the client is done.
    #[napi]
    pub async fn accept(&self) -> napi::Result<Option<NativeHttp3Stream>> {
        let stream = self.inner.accept().await.or_throw()?;
        Ok(stream.map(|inner| NativeHttp3Stream { inner }))
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
    #[napi]
    pub async fn response_head(&self) -> napi::Result<String> {
        Ok(self.inner.response_head().await.or_throw()?.to_json())
    }

    #[napi]
    pub async fn respond(&self, head: String) -> napi::Result<()> {
        let head = ResponseHead::from_json(&head).or_throw()?;
        self.inner.respond(&head).await.or_throw()
    }

    #[napi]
    pub async fn write(&self, data: Buffer) -> napi::Result<()> {
        self.inner.write(&data).await.or_throw()
    }

    /// Ends the body; `trailers` is JSON of header pairs, or `null`.
    #[napi]
    pub async fn finish(&self, trailers: Option<String>) -> napi::Result<()> {
        let trailers = trailers
            .map(|t| headers_from_json(&t))
            .transpose()
            .or_throw()?;
        self.inner.finish(trailers.as_ref()).await.or_throw()
    }

    #[napi]
    pub async fn read(&self, max: u32) -> napi::Result<Option<Buffer>> {
        let chunk = self.inner.read(max as usize).await.or_throw()?;
        Ok(chunk.map(Buffer::from))
    }

    /// Settles with JSON of the trailers, or `null` when there were none.
    #[napi]
    pub async fn trailers(&self) -> napi::Result<Option<String>> {
        let trailers = self.inner.trailers().await.or_throw()?;
        Ok(trailers.as_ref().map(headers_to_json))
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
