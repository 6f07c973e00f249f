use bytes::{Buf, Bytes};
use h3::error::Code;
use h3_quinn::{BidiStream, RecvStream, SendStream};
use tokio::sync::Mutex as AsyncMutex;

use std::sync::Arc;

use super::error::stream_error;
use super::head::{header_map, headers_of, Headers, RequestHead, ResponseHead};
use crate::close::Ending;
use crate::connection::Connection;
use crate::error::{Error, Result};

type ClientSend = h3::client::RequestStream<SendStream<Bytes>, Bytes>;
type ClientRecv = h3::client::RequestStream<RecvStream, Bytes>;
type ServerSend = h3::server::RequestStream<SendStream<Bytes>, Bytes>;
type ServerRecv = h3::server::RequestStream<RecvStream, Bytes>;

enum SendHalf {
    Client(ClientSend),
    Server { stream: ServerSend, responded: bool },
}

enum RecvHalf {
    Client {
        stream: ClientRecv,
        response: Option<ResponseHead>,
    },
    Server(ServerRecv),
}

struct Receiving {
    half: RecvHalf,
    /// What a DATA frame held beyond the caller's read size.
    pending: Bytes,
}

/// One HTTP/3 request/response exchange. Its two directions are separate
/// halves, so that a server can stream a response while still reading the
/// request body (and a client the reverse).
#[derive(Clone)]
pub struct Http3Stream {
    request: Option<RequestHead>,
    send: Arc<AsyncMutex<SendHalf>>,
    recv: Arc<AsyncMutex<Receiving>>,
    connection: quinn::Connection,
    ending: Ending,
}

impl std::fmt::Debug for Http3Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http3Stream")
            .field("request", &self.request)
            .finish()
    }
}

impl Http3Stream {
    pub(crate) fn client(
        stream: h3::client::RequestStream<BidiStream<Bytes>, Bytes>,
        connection: &Connection,
    ) -> Self {
        let (send, recv) = stream.split();
        Http3Stream::new(
            None,
            SendHalf::Client(send),
            RecvHalf::Client {
                stream: recv,
                response: None,
            },
            connection,
        )
    }

    pub(crate) fn server(
        request: RequestHead,
        stream: h3::server::RequestStream<BidiStream<Bytes>, Bytes>,
        connection: &Connection,
    ) -> Self {
        let (send, recv) = stream.split();
        Http3Stream::new(
            Some(request),
            SendHalf::Server {
                stream: send,
                responded: false,
            },
            RecvHalf::Server(recv),
            connection,
        )
    }

    fn new(
        request: Option<RequestHead>,
        send: SendHalf,
        recv: RecvHalf,
        connection: &Connection,
    ) -> Self {
        Http3Stream {
            request,
            send: Arc::new(AsyncMutex::new(send)),
            recv: Arc::new(AsyncMutex::new(Receiving {
                half: recv,
                pending: Bytes::new(),
            })),
            connection: connection.quinn().clone(),
            ending: connection.ending().clone(),
        }
    }

    fn error(&self, error: h3::error::StreamError) -> Error {
        stream_error(error, &self.connection, &self.ending)
    }

    /// The request head, on the server side.
    pub fn request_head(&self) -> Option<&RequestHead> {
        self.request.as_ref()
    }

    /// The response head, on the client side: waits for it.
    pub async fn response_head(&self) -> Result<ResponseHead> {
        let mut receiving = self.recv.lock().await;
        self.ensure_response(&mut receiving).await
    }

    async fn ensure_response(&self, receiving: &mut Receiving) -> Result<ResponseHead> {
        let RecvHalf::Client { stream, response } = &mut receiving.half else {
            return Err(Error::invalid_state(
                "a server reads the request head, not a response",
            ));
        };
        if let Some(head) = response {
            return Ok(head.clone());
        }
        let head =
            ResponseHead::from_http(&stream.recv_response().await.map_err(|e| self.error(e))?);
        *response = Some(head.clone());
        Ok(head)
    }

    /// Sends the response head (server side, once, before any body).
    pub async fn respond(&self, head: &ResponseHead) -> Result<()> {
        let response = head.to_http()?;
        let mut send = self.send.lock().await;
        let SendHalf::Server { stream, responded } = &mut *send else {
            return Err(Error::invalid_state(
                "a client sends a request, not a response",
            ));
        };
        if *responded {
            return Err(Error::invalid_state("the response head was already sent"));
        }
        stream
            .send_response(response)
            .await
            .map_err(|e| self.error(e))?;
        *responded = true;
        Ok(())
    }

    /// Sends body bytes (a DATA frame).
    pub async fn write(&self, data: &[u8]) -> Result<()> {
        let data = Bytes::copy_from_slice(data);
        let mut send = self.send.lock().await;
        match &mut *send {
            SendHalf::Client(stream) => stream.send_data(data).await,
            SendHalf::Server {
                responded: false, ..
            } => {
                return Err(Error::invalid_state(
                    "respond() with a status before sending a body",
                ))
            }
            SendHalf::Server { stream, .. } => stream.send_data(data).await,
        }
        .map_err(|e| self.error(e))
    }

    /// Ends the body, with trailers when given.
    pub async fn finish(&self, trailers: Option<&Headers>) -> Result<()> {
        let trailers = trailers.map(|t| header_map(t, "trailers")).transpose()?;
        let mut send = self.send.lock().await;
        // Trailers are a last HEADERS frame; the stream still has to be
        // finished after them. (Client and server request streams are
        // different types with the same methods.)
        macro_rules! finish_with_trailers {
            ($stream:expr) => {{
                if let Some(trailers) = trailers {
                    $stream
                        .send_trailers(trailers)
                        .await
                        .map_err(|e| self.error(e))?;
                }
                $stream.finish().await
            }};
        }
        let result = match &mut *send {
            SendHalf::Server {
                responded: false, ..
            } => {
                return Err(Error::invalid_state(
                    "respond() with a status before finishing",
                ))
            }
            SendHalf::Client(stream) => finish_with_trailers!(stream),
            SendHalf::Server { stream, .. } => finish_with_trailers!(stream),
        };
        result.map_err(|e| self.error(e))
    }

    /// Up to `max` body bytes; `None` at the end of the body.
    pub async fn read(&self, max: usize) -> Result<Option<Vec<u8>>> {
        if max == 0 {
            return Err(Error::invalid_arg("read size must be at least 1"));
        }
        let mut receiving = self.recv.lock().await;
        if receiving.pending.is_empty() {
            let chunk = match &mut receiving.half {
                RecvHalf::Server(stream) => stream.recv_data().await.map(|c| c.map(into_bytes)),
                RecvHalf::Client { .. } => {
                    self.ensure_response(&mut receiving).await?;
                    let RecvHalf::Client { stream, .. } = &mut receiving.half else {
                        unreachable!("checked above")
                    };
                    stream.recv_data().await.map(|c| c.map(into_bytes))
                }
            }
            .map_err(|e| self.error(e))?;
            match chunk {
                Some(chunk) => receiving.pending = chunk,
                None => return Ok(None),
            }
        }
        let n = max.min(receiving.pending.len());
        Ok(Some(receiving.pending.split_to(n).to_vec()))
    }

    /// The trailers after the body, if the peer sent any (read the body first).
    pub async fn trailers(&self) -> Result<Option<Headers>> {
        let mut receiving = self.recv.lock().await;
        let trailers = match &mut receiving.half {
            RecvHalf::Server(stream) => stream.recv_trailers().await,
            RecvHalf::Client { stream, .. } => stream.recv_trailers().await,
        }
        .map_err(|e| self.error(e))?;
        Ok(trailers.as_ref().map(headers_of))
    }

    /// Abandons sending with an HTTP/3 error code (e.g. H3_REQUEST_CANCELLED 0x10c).
    pub fn reset(&self, code: u64) -> Result<()> {
        let mut send = self
            .send
            .try_lock()
            .map_err(|_| Error::invalid_state("a write is in progress"))?;
        let code = Code::from(code);
        match &mut *send {
            SendHalf::Client(stream) => stream.stop_stream(code),
            SendHalf::Server { stream, .. } => stream.stop_stream(code),
        }
        Ok(())
    }

    /// Asks the peer to stop sending, with an HTTP/3 error code.
    pub fn stop(&self, code: u64) -> Result<()> {
        let mut receiving = self
            .recv
            .try_lock()
            .map_err(|_| Error::invalid_state("a read is in progress"))?;
        let code = Code::from(code);
        match &mut receiving.half {
            RecvHalf::Client { stream, .. } => stream.stop_sending(code),
            RecvHalf::Server(stream) => stream.stop_sending(code),
        }
        Ok(())
    }
}

fn into_bytes(mut chunk: impl Buf) -> Bytes {
    chunk.copy_to_bytes(chunk.remaining())
}
