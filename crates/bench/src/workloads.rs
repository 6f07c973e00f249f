//! The timed workloads, with client and server endpoints in this process.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use quicbridge_core::EndpointOptions;
use quinn::VarInt;
use serde_json::json;
use tokio::sync::Notify;

use crate::proto::{self, request_bytes, Serve};
use crate::{bind, progress, Args, Better, Pki, Report, Res};

const SMALL: usize = 1024;
/// Datagrams a sender keeps in flight (unreported by the server): well inside a 1 MiB send queue.
const DATAGRAM_WINDOW: u64 = 256;
/// A sender that hears nothing for this long writes off what it has in flight.
const DATAGRAM_STALL: Duration = Duration::from_millis(20);

fn size_label(bytes: u64) -> String {
    if bytes % (1 << 20) == 0 {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{} KiB", bytes >> 10)
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The `q` quantile (0..=1) of `values`, nearest rank.
pub fn quantile(values: &mut [f64], q: f64) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    values[rank - 1]
}

struct Rounds {
    samples: usize,
    warmup: usize,
}

impl Rounds {
    fn from(args: &Args, samples: usize, warmup: usize) -> Res<Self> {
        Ok(Rounds {
            samples: args.get("samples", samples)?,
            warmup: args.get("warmup", warmup)?,
        })
    }

    /// (round number, whether it is a warm-up) for every round.
    fn iter(&self) -> impl Iterator<Item = (usize, bool)> + '_ {
        (0..self.warmup + self.samples).map(move |i| (i, i < self.warmup))
    }

    fn label(&self, i: usize) -> String {
        if i < self.warmup {
            format!("warm-up {}/{}", i + 1, self.warmup)
        } else {
            format!("sample {}/{}", i - self.warmup + 1, self.samples)
        }
    }
}

/// A server endpoint and one client connection to it.
async fn pair(
    pki: &Pki,
) -> Res<(
    proto::Server,
    quicbridge_core::Endpoint,
    quicbridge_core::Connection,
)> {
    let server = proto::serve(pki, Serve::default())?;
    let client = bind(0, &EndpointOptions::default())?;
    let connection = client
        .connect(&pki.connect_options(server.addr, json!({}), json!({}))?)
        .await?;
    Ok((server, client, connection))
}

pub async fn bulk(args: &Args, pki: &Pki, report: &mut Report) -> Res<()> {
    let bytes: u64 = args.get("bytes", 256 << 20)?;
    let warmup_bytes: u64 = args.get("warmup-bytes", bytes.min(32 << 20))?;
    let rounds = Rounds::from(args, 5, 1)?;
    let (_server, _client, connection) = pair(pki).await?;
    let mut samples = Vec::new();
    for (i, warmup) in rounds.iter() {
        let size = if warmup {
            bytes.min(warmup_bytes)
        } else {
            bytes
        };
        progress(format!("{} ({})", rounds.label(i), size_label(size)));
        let elapsed = proto::bulk(&connection, size).await?;
        if !warmup {
            samples.push(size as f64 / 1e6 / elapsed.as_secs_f64());
        }
    }
    report.samples("throughput", "MB/s", Better::Higher, samples);
    connection.close(VarInt::from_u32(0), "")?;
    Ok(())
}

pub async fn rr(args: &Args, pki: &Pki, report: &mut Report) -> Res<()> {
    let requests: usize = args.get("requests", 1000)?;
    let rounds = Rounds::from(args, 5, 1)?;
    let (_server, _client, connection) = pair(pki).await?;
    let request = request_bytes(SMALL, SMALL as u32);
    let (mut p50s, mut p99s) = (Vec::new(), Vec::new());
    for (i, warmup) in rounds.iter() {
        progress(format!("{} ({requests} requests)", rounds.label(i)));
        let mut latencies = Vec::with_capacity(requests);
        for _ in 0..requests {
            latencies.push(ms(proto::exchange(&connection, &request, SMALL)
                .await?
                .total));
        }
        if !warmup {
            p50s.push(quantile(&mut latencies, 0.5));
            p99s.push(quantile(&mut latencies, 0.99));
        }
    }
    report.samples("p50", "ms", Better::Lower, p50s);
    report.samples("p99", "ms", Better::Lower, p99s);
    connection.close(VarInt::from_u32(0), "")?;
    Ok(())
}

pub async fn concurrency(args: &Args, pki: &Pki, report: &mut Report) -> Res<()> {
    let streams: usize = args.get("streams", 100)?;
    let requests: usize = args.get("requests", 10_000)?;
    let rounds = Rounds::from(args, 5, 1)?;
    let (_server, _client, connection) = pair(pki).await?;
    let request = Arc::new(request_bytes(SMALL, SMALL as u32));
    let mut samples = Vec::new();
    for (i, warmup) in rounds.iter() {
        progress(format!(
            "{} ({requests} requests, {streams} at a time)",
            rounds.label(i)
        ));
        let next = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        let workers: Vec<_> = (0..streams)
            .map(|_| {
                let (connection, request, next) =
                    (connection.clone(), request.clone(), next.clone());
                tokio::spawn(async move {
                    while next.fetch_add(1, Ordering::Relaxed) < requests {
                        proto::exchange(&connection, &request, SMALL).await?;
                    }
                    Res::Ok(())
                })
            })
            .collect();
        for worker in workers {
            worker.await??;
        }
        if !warmup {
            samples.push(requests as f64 / start.elapsed().as_secs_f64());
        }
    }
    report.samples("throughput", "req/s", Better::Higher, samples);
    connection.close(VarInt::from_u32(0), "")?;
    Ok(())
}

pub async fn handshake(args: &Args, pki: &Pki, report: &mut Report) -> Res<()> {
    let connections: usize = args.get("connections", 200)?;
    let parallel: usize = args.get("parallel", 10)?;
    let rounds = Rounds::from(args, 5, 1)?;
    let server = proto::serve(pki, Serve::default())?;
    let client = bind(0, &EndpointOptions::default())?;
    let options = Arc::new(pki.connect_options(server.addr, json!({}), json!({}))?);

    // New connections per second: `parallel` handshakes in flight at a time.
    let mut rates = Vec::new();
    for (i, warmup) in rounds.iter() {
        progress(format!(
            "connections/s {} ({connections} connections, {parallel} at a time)",
            rounds.label(i)
        ));
        let next = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        let workers: Vec<_> = (0..parallel)
            .map(|_| {
                let (client, options, next) = (client.clone(), options.clone(), next.clone());
                tokio::spawn(async move {
                    while next.fetch_add(1, Ordering::Relaxed) < connections {
                        let connection = client.connect(&options).await?;
                        connection.close(VarInt::from_u32(0), "")?;
                    }
                    Res::Ok(())
                })
            })
            .collect();
        for worker in workers {
            worker.await??;
        }
        if !warmup {
            rates.push(connections as f64 / start.elapsed().as_secs_f64());
        }
    }
    report.samples("conn/s", "conn/s", Better::Higher, rates);

    // Time to the first response byte on a new connection, full handshake.
    let request = request_bytes(SMALL, SMALL as u32);
    let mut full = Vec::new();
    for (i, warmup) in rounds.iter() {
        progress(format!(
            "first byte, full handshake {} ({connections} connections)",
            rounds.label(i)
        ));
        let mut times = Vec::with_capacity(connections);
        for _ in 0..connections {
            let start = Instant::now();
            let connection = client.connect(&options).await?;
            let stream = connection.open_bi().await?;
            stream.write(&request).await?;
            stream.finish()?;
            let exchange = proto::read_response(&stream, start, SMALL).await?;
            times.push(ms(exchange.first_byte));
            connection.close(VarInt::from_u32(0), "")?;
        }
        if !warmup {
            full.push(quantile(&mut times, 0.5));
        }
    }
    report.samples("ttfb-full", "ms", Better::Lower, full);

    // The same, resuming a session and sending the request as 0-RTT data.
    let early = proto::serve(
        pki,
        Serve {
            early_data: true,
            ..Default::default()
        },
    )?;
    let options = pki.connect_options(early.addr, json!({}), json!({ "earlyData": true }))?;
    let tickets = request_bytes(4, 0);
    // A first, full handshake leaves session tickets behind.
    let first = client.connect(&options).await?;
    proto::exchange(&first, &request, SMALL).await?;
    first.close(VarInt::from_u32(0), "")?;
    let mut zero_rtt = Vec::new();
    let mut states: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, warmup) in rounds.iter() {
        progress(format!(
            "first byte, 0-RTT {} ({connections} connections)",
            rounds.label(i)
        ));
        let mut times = Vec::with_capacity(connections);
        for _ in 0..connections {
            let start = Instant::now();
            let connection = client.connect(&options).await?;
            let exchange = proto::exchange_from(&connection, &request, SMALL, start).await?;
            times.push(ms(exchange.first_byte));
            *states
                .entry(connection.handshake_complete().await?.as_str())
                .or_default() += 1;
            // The server sends session tickets once the handshake is
            // complete, which with 0-RTT is after the response: one more
            // exchange (not timed) lets them arrive, so that the next
            // connection can resume again.
            proto::exchange(&connection, &tickets, 0).await?;
            connection.close(VarInt::from_u32(0), "")?;
        }
        if !warmup {
            zero_rtt.push(quantile(&mut times, 0.5));
        }
    }
    if states.keys().any(|state| *state != "accepted") {
        let summary: Vec<String> = states
            .iter()
            .map(|(state, n)| format!("{n} {state}"))
            .collect();
        report.na(
            "ttfb-0rtt",
            format!(
                "0-RTT was not accepted on every resumed connection ({}; notAttempted: the client had no session it could resume)",
                summary.join(", ")
            ),
        );
    } else {
        report.samples("ttfb-0rtt", "ms", Better::Lower, zero_rtt);
    }
    early.endpoint.close(VarInt::from_u32(0), "");
    client.close(VarInt::from_u32(0), "");
    client.wait_idle().await;
    Ok(())
}

pub async fn datagrams(args: &Args, pki: &Pki, report: &mut Report) -> Res<()> {
    let size: usize = args.get("size", 1200)?;
    let duration = Duration::from_millis(args.get("duration-ms", 2000)?);
    let rounds = Rounds::from(args, 5, 1)?;
    // A 1200-byte datagram needs packets larger than QUIC's minimum 1200;
    // loopback carries far more.
    let transport = json!({ "initialMtu": 1500 });
    let server = proto::serve(
        pki,
        Serve {
            transport: Some(transport.clone()),
            datagrams: true,
            ..Default::default()
        },
    )?;
    let client = bind(0, &EndpointOptions::default())?;
    let connection = client
        .connect(&pki.connect_options(server.addr, transport, json!({}))?)
        .await?;
    let max = connection.max_datagram_size().unwrap_or(0);
    if max < size {
        report.na(
            "delivered",
            format!("the connection's largest datagram is {max} bytes, below {size}"),
        );
        report.na(
            "loss",
            format!("the connection's largest datagram is {max} bytes, below {size}"),
        );
        return Ok(());
    }
    let payload = vec![7u8; size];
    // The server's reports of how many datagrams it has received.
    let acked = Arc::new(AtomicU64::new(0));
    let reported = Arc::new(Notify::new());
    let reader = {
        let (connection, acked, reported) = (connection.clone(), acked.clone(), reported.clone());
        tokio::spawn(async move {
            while let Ok(report) = connection.read_datagram().await {
                if let Ok(count) = <[u8; 8]>::try_from(&report[..]) {
                    acked.fetch_max(u64::from_be_bytes(count), Ordering::Relaxed);
                    reported.notify_one();
                }
            }
        })
    };
    let (mut rates, mut losses) = (Vec::new(), Vec::new());
    let mut sent: u64 = 0;
    // Datagrams the sender has given up waiting for (lost, or their report was).
    let mut written_off: u64 = 0;
    for (i, warmup) in rounds.iter() {
        progress(format!("{} ({} ms)", rounds.label(i), duration.as_millis()));
        let before = server.datagrams.load(Ordering::Relaxed);
        let sent_before = sent;
        let start = Instant::now();
        while start.elapsed() < duration {
            let in_flight = sent - acked.load(Ordering::Relaxed).max(written_off).min(sent);
            if in_flight < DATAGRAM_WINDOW {
                // A bounded number in flight, so that the send queue (whose
                // oldest datagrams a full queue drops) does not overflow.
                for _ in 0..(DATAGRAM_WINDOW - in_flight).min(64) {
                    connection.send_datagram(&payload)?;
                    sent += 1;
                }
                tokio::task::yield_now().await;
            } else if tokio::time::timeout(DATAGRAM_STALL, reported.notified())
                .await
                .is_err()
            {
                written_off = sent;
            }
        }
        // Let what is in flight arrive.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let received = server.datagrams.load(Ordering::Relaxed) - before;
        let offered = sent - sent_before;
        if !warmup {
            rates.push(received as f64 / duration.as_secs_f64());
            losses.push(100.0 * (offered - received.min(offered)) as f64 / offered as f64);
        }
    }
    reader.abort();
    report.samples("delivered", "dgram/s", Better::Higher, rates);
    report.samples("loss", "%", Better::Lower, losses);
    connection.close(VarInt::from_u32(0), "")?;
    client.close(VarInt::from_u32(0), "");
    client.wait_idle().await;
    Ok(())
}
