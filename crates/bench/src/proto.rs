//! The benchmark's request/response protocol over quicbridge-core streams,
//! the same one the Node peers speak (bench/protocol.ts): a request is a
//! 4-byte big-endian response length followed by any bytes, up to FIN; the
//! server counts every request byte and answers with that many response
//! bytes, the first 8 of which (when there is room) are the big-endian count.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use quicbridge_core::{Connection, Endpoint, Stream};
use serde_json::{json, Value};

use crate::{bind, Pki, Res};

/// Bytes asked of a stream per read: what lib/stream.ts asks for too.
pub const READ_CHUNK: usize = 64 * 1024;
/// Bytes per write when sending a large body.
pub const WRITE_CHUNK: usize = 64 * 1024;

/// The server reports how many datagrams it has received from a connection
/// (8 bytes, big-endian, in a datagram back) after every this many, as the
/// Node peers' servers do (bench/peers/types.ts).
pub const DATAGRAM_ACK_EVERY: u64 = 16;

/// How to start a server.
#[derive(Default)]
pub struct Serve {
    /// The core's TransportOptions as JSON (`{}` for its defaults).
    pub transport: Option<Value>,
    /// Accept 0-RTT data.
    pub early_data: bool,
    /// Count datagrams and report the count back.
    pub datagrams: bool,
}

/// A server endpoint that answers the protocol on every stream of every connection.
pub struct Server {
    pub endpoint: Endpoint,
    pub addr: SocketAddr,
    /// Datagrams received over all connections.
    pub datagrams: Arc<AtomicU64>,
}

pub fn serve(pki: &Pki, how: Serve) -> Res<Server> {
    let extra = if how.early_data {
        json!({ "earlyData": true })
    } else {
        json!({})
    };
    let endpoint = bind(
        0,
        &pki.server_options(how.transport.unwrap_or_else(|| json!({})), extra)?,
    )?;
    let addr = endpoint.local_addr()?;
    let datagrams = Arc::new(AtomicU64::new(0));
    let (server, counter, count_datagrams) = (endpoint.clone(), datagrams.clone(), how.datagrams);
    tokio::spawn(async move {
        while let Ok(Some(connection)) = server.accept().await {
            if count_datagrams {
                tokio::spawn(report_datagrams(connection.clone(), counter.clone()));
            }
            tokio::spawn(serve_connection(connection));
        }
    });
    Ok(Server {
        endpoint,
        addr,
        datagrams,
    })
}

async fn report_datagrams(connection: Connection, total: Arc<AtomicU64>) {
    let mut count: u64 = 0;
    while connection.read_datagram().await.is_ok() {
        total.fetch_add(1, Ordering::Relaxed);
        count += 1;
        if count % DATAGRAM_ACK_EVERY == 0 {
            // A report that does not fit or is dropped is made up for by the next.
            let _ = connection.send_datagram(&count.to_be_bytes());
        }
    }
}

async fn serve_connection(connection: Connection) {
    while let Ok(stream) = connection.accept_bi().await {
        tokio::spawn(async move {
            // A stream that fails (its connection closed) has nothing more to answer.
            let _ = answer(stream).await;
        });
    }
}

/// Reads one request to its end and writes the response.
pub async fn answer(stream: Stream) -> Res<()> {
    let mut header = [0u8; 4];
    let mut total: u64 = 0;
    while let Some(chunk) = stream.read(READ_CHUNK).await? {
        if total < 4 {
            chunk.copy_prefix(&mut header[total as usize..]);
        }
        total += chunk.len() as u64;
    }
    if total < 4 {
        return Err("request shorter than its 4-byte header".into());
    }
    let response = response_bytes(u32::from_be_bytes(header) as usize, total);
    stream.write(&response).await?;
    stream.finish()?;
    Ok(())
}

pub fn response_bytes(len: usize, request_bytes: u64) -> Vec<u8> {
    let mut response = vec![0u8; len];
    if len >= 8 {
        response[..8].copy_from_slice(&request_bytes.to_be_bytes());
    }
    response
}

/// A request of `request_len` bytes in all (header included) asking for `response_len` bytes.
pub fn request_bytes(request_len: usize, response_len: u32) -> Vec<u8> {
    let mut request = vec![0u8; request_len.max(4)];
    request[..4].copy_from_slice(&response_len.to_be_bytes());
    request
}

/// What a client learns from one exchange.
pub struct Exchange {
    /// From opening the stream to the first response byte.
    pub first_byte: Duration,
    /// From opening the stream to the end of the response.
    pub total: Duration,
    /// The request byte count the server reported (when the response had room for it).
    pub server_count: Option<u64>,
}

/// Sends `request` on a new stream and reads the whole response, which must
/// be `response_len` bytes; times are from now.
pub async fn exchange(
    connection: &Connection,
    request: &[u8],
    response_len: usize,
) -> Res<Exchange> {
    exchange_from(connection, request, response_len, Instant::now()).await
}

/// The same, with times from `start` (e.g. before connecting).
pub async fn exchange_from(
    connection: &Connection,
    request: &[u8],
    response_len: usize,
    start: Instant,
) -> Res<Exchange> {
    let stream = connection.open_bi().await?;
    stream.write(request).await?;
    stream.finish()?;
    read_response(&stream, start, response_len).await
}

pub async fn read_response(stream: &Stream, start: Instant, response_len: usize) -> Res<Exchange> {
    let mut first_byte = None;
    let mut head = [0u8; 8];
    let mut received = 0usize;
    while let Some(chunk) = stream.read(READ_CHUNK).await? {
        first_byte.get_or_insert_with(|| start.elapsed());
        if received < head.len() {
            chunk.copy_prefix(&mut head[received..]);
        }
        received += chunk.len();
    }
    if received != response_len {
        return Err(
            format!("expected a {response_len}-byte response, got {received} bytes").into(),
        );
    }
    Ok(Exchange {
        first_byte: first_byte.unwrap_or_else(|| start.elapsed()),
        total: start.elapsed(),
        server_count: (received >= head.len()).then(|| u64::from_be_bytes(head)),
    })
}

/// Sends `total` bytes (header included) on one stream and waits for the
/// server's count; returns the elapsed time.
pub async fn bulk(connection: &Connection, total: u64) -> Res<Duration> {
    let start = Instant::now();
    let stream = connection.open_bi().await?;
    let mut chunk = vec![0u8; WRITE_CHUNK];
    chunk[..4].copy_from_slice(&8u32.to_be_bytes());
    let mut sent = 0u64;
    while sent < total {
        let n = (total - sent).min(WRITE_CHUNK as u64) as usize;
        stream.write(&chunk[..n]).await?;
        if sent == 0 {
            chunk[..4].fill(0);
        }
        sent += n as u64;
    }
    stream.finish()?;
    let exchange = read_response(&stream, start, 8).await?;
    if exchange.server_count != Some(total) {
        return Err(format!(
            "the server counted {:?} bytes, {total} were sent",
            exchange.server_count
        )
        .into());
    }
    Ok(exchange.total)
}
