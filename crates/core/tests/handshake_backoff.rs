//! The client's probe backoff through a lossy handshake, on an in-memory
//! network under a paused clock: probe timeouts of minutes take no time,
//! and every run loses the same datagrams.

#[path = "support/memory_network.rs"]
mod memory_network;
#[path = "support/pki.rs"]
mod pki;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use memory_network::{packet_types, MemoryNetwork, PacketType, FIRST_PORT};
use pki::pki;
use quicbridge_core::{ConnectOptions, Endpoint, EndpointOptions};
use quinn::TokioRuntime;

const ONE_WAY_DELAY: Duration = Duration::from_millis(50);
const IDLE_TIMEOUT_MS: u64 = 20_000;

/// RFC 9002 §6.2.2 and Appendix A.11: when Initial or Handshake keys are
/// discarded the probe backoff restarts, as that is forward progress.
/// quinn-proto 0.11.19 does not restart it (patches/ has the fix). Here the
/// client's first Initial and the probes of its first three probe timeouts
/// are lost, so its backoff is 2^4 when the server's flight arrives. Then
/// the Finished and its repeats are lost six times. With the backoff
/// restarted the client repeats it at 0.3 s and doubling, and the server
/// completes some 6 s later; without, the repeats come at 4.8 s and
/// doubling, and the server idles out (20 s) first.
#[tokio::test(start_paused = true)]
async fn a_lost_finished_is_repeated_promptly_after_a_slow_initial_exchange() {
    let pki = pki();
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let started = tokio::time::Instant::now();
    let network = {
        let log = log.clone();
        let (mut to_server, mut handshakes_lost) = (0, 0);
        MemoryNetwork::new(ONE_WAY_DELAY, move |datagram| {
            let types = packet_types(datagram.contents);
            // The server's socket is the first one made.
            let towards_server = datagram.to.port() == FIRST_PORT;
            let lost = towards_server && {
                to_server += 1;
                // The first Initial and the probes of three probe timeouts.
                let initial_lost = to_server <= 7;
                let handshake_lost =
                    !initial_lost && handshakes_lost < 6 && types.contains(&PacketType::Handshake);
                handshakes_lost += usize::from(handshake_lost);
                initial_lost || handshake_lost
            };
            log.lock().unwrap().push(format!(
                "{:>8} ms {} {types:?}{}",
                started.elapsed().as_millis(),
                if towards_server { "->" } else { "<-" },
                if lost { " lost" } else { "" }
            ));
            lost
        })
    };
    let transport = serde_json::json!({ "idleTimeoutMs": IDLE_TIMEOUT_MS });
    let server_options = serde_json::json!({ "server": {
        "cert": pki.chain_pem, "key": pki.key_pem, "alpn": ["t"], "transport": transport,
    }});
    let server = Endpoint::new(
        network.socket(),
        Arc::new(TokioRuntime),
        &EndpointOptions::from_json(&server_options.to_string()).unwrap(),
        None,
    )
    .unwrap();
    let client = Endpoint::new(
        network.socket(),
        Arc::new(TokioRuntime),
        &EndpointOptions::from_json("{}").unwrap(),
        None,
    )
    .unwrap();
    let options = serde_json::json!({
        "address": "127.0.0.1", "port": server.local_addr().unwrap().port(),
        "serverName": "localhost", "ca": pki.ca_pem, "alpn": ["t"], "transport": transport,
    });
    let options = ConnectOptions::from_json(&options.to_string()).unwrap();
    let timeline = || log.lock().unwrap().join("\n");
    let connection = client.connect(&options).await.unwrap();
    // The client's side is done once it has sent its Finished; the server's
    // only when that arrives. On the paused clock, waiting takes no time.
    tokio::select! {
        accepted = server.accept() => assert!(accepted.unwrap().is_some(), "{}", timeline()),
        closed = connection.closed() => panic!("closed before the server accepted: {closed:?}\n{}", timeline()),
    }
}
