use std::future::poll_fn;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::Mutex as AsyncMutex;

use super::error::connection_error;
use super::head::RequestHead;
use super::stream::Http3Stream;
use crate::connection::Connection;
use crate::error::{Error, Result};

type ClientHandle = h3::client::SendRequest<h3_quinn::OpenStreams, Bytes>;
type ServerConnection = h3::server::Connection<h3_quinn::Connection, Bytes>;

#[derive(Clone)]
enum Side {
    Client(ClientHandle),
    Server(Arc<AsyncMutex<ServerConnection>>),
}

/// HTTP/3 on one QUIC connection: a client sends requests, a server
/// accepts them.
#[derive(Clone)]
pub struct Http3Session {
    connection: Connection,
    side: Side,
}

impl std::fmt::Debug for Http3Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let side = match self.side {
            Side::Client(_) => "client",
            Side::Server(_) => "server",
        };
        f.debug_struct("Http3Session").field("side", &side).finish()
    }
}

impl Http3Session {
    /// Starts HTTP/3 as a client (control streams, SETTINGS) on `connection`.
    pub async fn client(connection: &Connection) -> Result<Self> {
        let quinn = connection.quinn().clone();
        let (mut driver, handle) = h3::client::new(h3_quinn::Connection::new(quinn.clone()))
            .await
            .map_err(|e| connection_error(e, &quinn, connection.ending()))?;
        // The client's control streams need polling for as long as it lives.
        connection.runtime().spawn(Box::pin(async move {
            let _ = poll_fn(|cx| driver.poll_close(cx)).await;
        }));
        Ok(Http3Session {
            connection: connection.clone(),
            side: Side::Client(handle),
        })
    }

    /// Starts HTTP/3 as a server on an accepted `connection`.
    pub async fn server(connection: &Connection) -> Result<Self> {
        let quinn = connection.quinn().clone();
        let server = h3::server::Connection::new(h3_quinn::Connection::new(quinn.clone()))
            .await
            .map_err(|e| connection_error(e, &quinn, connection.ending()))?;
        Ok(Http3Session {
            connection: connection.clone(),
            side: Side::Server(Arc::new(AsyncMutex::new(server))),
        })
    }

    /// Sends a request head; the body and the response go through the
    /// returned stream. Requests run concurrently.
    pub async fn request(&self, head: &RequestHead) -> Result<Http3Stream> {
        let Side::Client(handle) = &self.side else {
            return Err(Error::invalid_state(
                "a server session accepts requests, it does not send them",
            ));
        };
        let request = head.to_http()?;
        let quinn = self.connection.quinn();
        let stream = handle
            .clone()
            .send_request(request)
            .await
            .map_err(|e| super::error::stream_error(e, quinn, self.connection.ending()))?;
        Ok(Http3Stream::client(stream, &self.connection))
    }

    /// The next request; `None` when the client has gone away cleanly.
    pub async fn accept(&self) -> Result<Option<Http3Stream>> {
        let Side::Server(server) = &self.side else {
            return Err(Error::invalid_state(
                "a client session sends requests, it does not accept them",
            ));
        };
        let quinn = self.connection.quinn();
        let ending = self.connection.ending();
        let resolver = {
            let mut server = server.lock().await;
            match server.accept().await {
                Ok(Some(resolver)) => resolver,
                Ok(None) => return Ok(None),
                Err(e) if e.is_h3_no_error() => return Ok(None),
                Err(e) => return Err(connection_error(e, quinn, ending)),
            }
        };
        let (request, stream) = resolver
            .resolve_request()
            .await
            .map_err(|e| super::error::stream_error(e, quinn, ending))?;
        Ok(Some(Http3Stream::server(
            RequestHead::from_http(&request),
            stream,
            &self.connection,
        )))
    }
}
