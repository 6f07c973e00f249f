//! The core on quinn's tokio runtime over real loopback sockets: the same
//! code paths both bindings drive, without JavaScript in the way.

#[path = "support/pki.rs"]
mod pki;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use pki::{pki, Pki};
use quicbridge_core::{ConnectOptions, EarlyData, Endpoint, EndpointOptions};
use quinn::{Runtime, TokioRuntime};

fn endpoint(options: serde_json::Value) -> Endpoint {
    let socket = UdpSocket::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).unwrap();
    let socket = TokioRuntime.wrap_udp_socket(socket).unwrap();
    let options = EndpointOptions::from_json(&options.to_string()).unwrap();
    Endpoint::new(socket, Arc::new(TokioRuntime), &options, None).unwrap()
}

fn server(pki: &Pki, extra: serde_json::Value) -> Endpoint {
    let mut server =
        serde_json::json!({ "cert": pki.chain_pem, "key": pki.key_pem, "alpn": ["t"] });
    server
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    endpoint(serde_json::json!({ "server": server }))
}

fn connect_options(pki: &Pki, server: &Endpoint, early_data: bool) -> ConnectOptions {
    ConnectOptions::from_json(
        &serde_json::json!({
            "address": "127.0.0.1", "port": server.local_addr().unwrap().port(),
            "serverName": "localhost", "ca": pki.ca_pem, "alpn": ["t"], "earlyData": early_data,
        })
        .to_string(),
    )
    .unwrap()
}

async fn echo_once(
    server: &Endpoint,
    client: &quicbridge_core::Connection,
    message: &[u8],
) -> bool {
    let stream = client.open_bi().await.unwrap();
    stream.write(message).await.unwrap();
    stream.finish().unwrap();
    let accepted = server.accept().await.unwrap().unwrap();
    let incoming = accepted.accept_bi().await.unwrap();
    let early = incoming.is_early();
    let mut got = Vec::<u8>::new();
    while let Some(chunk) = incoming.read(65536).await.unwrap() {
        got.extend(chunk.chunks().flatten());
    }
    incoming.write(&got).await.unwrap();
    incoming.finish().unwrap();
    let mut back = Vec::<u8>::new();
    while let Some(chunk) = stream.read(65536).await.unwrap() {
        back.extend(chunk.chunks().flatten());
    }
    assert_eq!(back, message);
    early
}

#[tokio::test]
async fn zero_rtt_on_the_second_connection() {
    let pki = pki();
    let server = server(&pki, serde_json::json!({ "earlyData": true }));
    let client_endpoint = endpoint(serde_json::json!({}));

    let first = client_endpoint
        .connect(&connect_options(&pki, &server, true))
        .await
        .unwrap();
    assert_eq!(first.info().early_data, EarlyData::NotAttempted);
    assert!(!echo_once(&server, &first, b"first").await);
    first.close(0u32.into(), "").unwrap();

    let second = client_endpoint
        .connect(&connect_options(&pki, &server, true))
        .await
        .unwrap();
    // Pending, or already accepted if the handshake raced ahead on another thread.
    assert_ne!(second.info().early_data, EarlyData::NotAttempted);
    assert!(
        echo_once(&server, &second, b"early").await,
        "the server saw 0-RTT"
    );
    assert_eq!(
        second.handshake_complete().await.unwrap(),
        EarlyData::Accepted
    );
}

/// quinn's own stop and reset assume nothing is waiting on the stream;
/// ours may be (JavaScript stops a stream while a read is outstanding).
#[tokio::test]
async fn stopping_or_resetting_a_stream_ends_the_read_or_write_waiting_on_it() {
    let pki = pki();
    let server = server(&pki, serde_json::json!({}));
    let client_endpoint = endpoint(serde_json::json!({}));
    let client = client_endpoint
        .connect(&connect_options(&pki, &server, false))
        .await
        .unwrap();
    let stream = client.open_bi().await.unwrap();
    stream.write(b"hello").await.unwrap();
    let accepted = server.accept().await.unwrap().unwrap();
    let _unread = accepted.accept_bi().await.unwrap();

    let reader = stream.clone();
    let read = tokio::spawn(async move { reader.read(65536).await });
    // More than the peer's stream window: the write waits for a reader that never comes.
    let writer = stream.clone();
    let write = tokio::spawn(async move { writer.write(&vec![0u8; 64 << 20]).await });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(!read.is_finished() && !write.is_finished());

    stream.stop(0u32.into()).unwrap();
    stream.reset(0u32.into()).unwrap();
    let limit = std::time::Duration::from_secs(5);
    let read = tokio::time::timeout(limit, read)
        .await
        .expect("the read ended");
    assert_eq!(
        read.unwrap().unwrap(),
        None,
        "a stopped stream reads as ended"
    );
    let write = tokio::time::timeout(limit, write)
        .await
        .expect("the write ended");
    assert_eq!(
        write.unwrap().unwrap_err().code(),
        quicbridge_core::ErrorCode::InvalidState
    );
}

/// quinn sets up state for every stream the peer may open as a connection
/// starts; at the largest limits the options allow that must stay quick.
#[tokio::test]
async fn a_connection_at_the_largest_stream_limits_starts_promptly() {
    let limits = serde_json::json!({ "maxConcurrentBidiStreams": 65_536, "maxConcurrentUniStreams": 65_536 });
    let pki = pki();
    let server = server(&pki, serde_json::json!({ "transport": limits }));
    let client_endpoint = endpoint(serde_json::json!({}));
    let options = serde_json::json!({
        "address": "127.0.0.1", "port": server.local_addr().unwrap().port(),
        "serverName": "localhost", "ca": pki.ca_pem, "alpn": ["t"], "transport": limits,
    });
    let options = ConnectOptions::from_json(&options.to_string()).unwrap();
    let client = tokio::time::timeout(Duration::from_secs(20), client_endpoint.connect(&options))
        .await
        .expect("connected in time")
        .unwrap();
    echo_once(&server, &client, b"many streams allowed").await;
}

/// A closed connection drains for three probe timeouts, which loss can
/// stretch to minutes; once the socket is released there is nothing left to
/// send, and waiting on must not hold a binding (and its process) open.
#[tokio::test]
async fn releasing_the_socket_ends_a_wait_for_draining_connections() {
    // A peer that never answers: the handshake stays in flight, so the
    // closed connection drains for three of its one-second probe timeouts.
    let silent = UdpSocket::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).unwrap();
    let client_endpoint = endpoint(serde_json::json!({}));
    let options = serde_json::json!({
        "address": "127.0.0.1", "port": silent.local_addr().unwrap().port(),
        "serverName": "localhost", "ca": pki().ca_pem, "alpn": ["t"],
    });
    let options = ConnectOptions::from_json(&options.to_string()).unwrap();
    let connecting = {
        let endpoint = client_endpoint.clone();
        tokio::spawn(async move { endpoint.connect(&options).await.map(|_| ()) })
    };
    while client_endpoint.open_connections() == 0 {
        assert!(!connecting.is_finished(), "the handshake ended by itself");
        tokio::task::yield_now().await;
    }
    client_endpoint.close(0u32.into(), "");
    assert!(
        connecting.await.unwrap().is_err(),
        "closing ends the handshake"
    );

    let waiter = {
        let endpoint = client_endpoint.clone();
        tokio::spawn(async move { endpoint.wait_idle().await })
    };
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    assert!(!waiter.is_finished(), "still draining");
    assert_eq!(client_endpoint.open_connections(), 1);
    client_endpoint.release();
    for _ in 0..100 {
        if waiter.is_finished() {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(waiter.is_finished(), "released: nothing left to wait for");
    assert_eq!(
        client_endpoint.open_connections(),
        1,
        "drained by release, not by time"
    );
}
