//! Memory workloads: stream churn (in this process) and the two halves of
//! idle-memory (a server process the harness measures, and a client process
//! that holds connections to any QUIC server of the benchmark).

use std::collections::HashMap;
use std::io::BufRead;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use quicbridge_core::{Connection, EndpointOptions};
use quinn::VarInt;
use serde_json::json;
use tokio::sync::mpsc;

use crate::proto::{self, request_bytes, Serve};
use crate::{bind, emit, progress, Args, Better, Pki, Report, Res};

/// This process's resident set size in bytes (Linux: /proc/self/status).
pub fn rss() -> Res<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .ok_or("no VmRSS in /proc/self/status")?;
    Ok(kib * 1024)
}

const MIB: f64 = 1024.0 * 1024.0;

/// Opens and closes streams on one connection (`parallel` at a time, each a
/// small request and response) and reports RSS after `small` and after
/// `large` streams.
pub async fn churn(args: &Args, pki: &Pki, report: &mut Report) -> Res<()> {
    let small: usize = args.get("small", 1000)?;
    let large: usize = args.get("large", 100_000)?;
    let parallel: usize = args.get("parallel", 10)?;
    let server = proto::serve(pki, Serve::default())?;
    let client = bind(0, &EndpointOptions::default())?;
    let connection = client
        .connect(&pki.connect_options(server.addr, json!({}), json!({}))?)
        .await?;
    let request = Arc::new(request_bytes(64, 64));
    let mut done = 0;
    let mut at = Vec::new();
    for target in [small, large] {
        progress(format!("streams {done}..{target}"));
        run_streams(&connection, &request, target - done, parallel).await?;
        done = target;
        tokio::time::sleep(Duration::from_millis(200)).await;
        at.push(rss()? as f64 / MIB);
    }
    report.samples(&format!("rss@{small}"), "MiB", Better::Lower, vec![at[0]]);
    report.samples(&format!("rss@{large}"), "MiB", Better::Lower, vec![at[1]]);
    report.samples("growth", "MiB", Better::Lower, vec![at[1] - at[0]]);
    connection.close(VarInt::from_u32(0), "")?;
    Ok(())
}

async fn run_streams(
    connection: &Connection,
    request: &Arc<Vec<u8>>,
    count: usize,
    parallel: usize,
) -> Res<()> {
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..parallel)
        .map(|_| {
            let (connection, request, next) = (connection.clone(), request.clone(), next.clone());
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < count {
                    proto::exchange(&connection, &request, 64).await?;
                }
                Res::Ok(())
            })
        })
        .collect();
    for worker in workers {
        worker.await??;
    }
    Ok(())
}

/// Reads commands from stdin on a thread of its own.
fn stdin_lines() -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The measured half of idle-memory: a server that accepts and holds
/// connections. Prints `{"ready":true,"port":P}`; answers `measure` with
/// `{"connections":n,"rss":bytes}`; exits on `quit` or end of input.
pub async fn idle_server(pki: &Pki) -> Res<()> {
    // The core refuses connections beyond maxConnections (10 000 by default).
    let endpoint = bind(
        0,
        &pki.server_options(json!({}), json!({ "maxConnections": 1_000_000 }))?,
    )?;
    // The open connections, each dropped once it has closed.
    let held: Arc<Mutex<HashMap<u64, Connection>>> = Arc::default();
    let accepting = (endpoint.clone(), held.clone());
    tokio::spawn(async move {
        let (endpoint, held) = accepting;
        let mut next_id = 0u64;
        while let Ok(Some(connection)) = endpoint.accept().await {
            let id = next_id;
            next_id += 1;
            held.lock()
                .expect("held connections")
                .insert(id, connection.clone());
            let held = held.clone();
            tokio::spawn(async move {
                connection.closed().await;
                held.lock().expect("held connections").remove(&id);
            });
        }
    });
    emit(&json!({ "ready": true, "port": endpoint.local_addr()?.port() }));
    let mut commands = stdin_lines();
    while let Some(command) = commands.recv().await {
        match command.trim() {
            "measure" => {
                let connections = held.lock().expect("held connections").len();
                emit(&json!({ "connections": connections, "rss": rss()? }));
            }
            "quit" => break,
            other => emit(&json!({ "error": format!("unknown command {other:?}") })),
        }
    }
    endpoint.close(VarInt::from_u32(0), "");
    Ok(())
}

/// The other half: one client endpoint holding connections to `--port`
/// (ALPN `--alpn`), with keep-alives so that none idles out. `connect N`
/// opens connections until N are held (printing `{"connecting":n}` every
/// second meanwhile) and answers `{"connected":n,"failed":f}`; `drop`
/// closes them all (`{"dropped":n}`); exits on `quit` or end of input.
pub async fn idle_clients(args: &Args, pki: &Pki) -> Res<()> {
    let port: u16 = args.get("port", 0)?;
    let parallel: usize = args.get("parallel", 32)?;
    let alpn: String = args.get("alpn", crate::ALPN.to_string())?;
    let client = bind(0, &EndpointOptions::default())?;
    let mut options = pki.connect_options(
        SocketAddr::from(([127, 0, 0, 1], port)),
        json!({ "idleTimeoutMs": 120_000, "keepAliveIntervalMs": 5_000 }),
        json!({}),
    )?;
    options.alpn = vec![alpn];
    let options = Arc::new(options);
    let held = Arc::new(Mutex::new(Vec::new()));
    emit(&json!({ "ready": true }));
    let mut commands = stdin_lines();
    while let Some(command) = commands.recv().await {
        let words: Vec<&str> = command.split_whitespace().collect();
        match words.as_slice() {
            ["connect", n] => {
                let target: usize = n.parse()?;
                let missing = target.saturating_sub(held.lock().expect("held").len());
                let next = Arc::new(AtomicUsize::new(0));
                let failed = Arc::new(AtomicUsize::new(0));
                // Progress for the harness while it waits.
                let ticker = {
                    let held = held.clone();
                    tokio::spawn(async move {
                        loop {
                            tokio::time::sleep(Duration::from_secs(1)).await;
                            let n = held.lock().expect("held").len();
                            emit(&json!({ "connecting": n }));
                        }
                    })
                };
                let workers: Vec<_> = (0..parallel.min(missing.max(1)))
                    .map(|_| {
                        let (client, options, held) =
                            (client.clone(), options.clone(), held.clone());
                        let (next, failed) = (next.clone(), failed.clone());
                        tokio::spawn(async move {
                            while next.fetch_add(1, Ordering::Relaxed) < missing {
                                match client.connect(&options).await {
                                    Ok(connection) => held.lock().expect("held").push(connection),
                                    // Give up after many failures rather than spin.
                                    Err(_) if failed.fetch_add(1, Ordering::Relaxed) > 100 => {
                                        return
                                    }
                                    Err(_) => {}
                                }
                            }
                        })
                    })
                    .collect();
                for worker in workers {
                    worker.await?;
                }
                ticker.abort();
                let connected = held.lock().expect("held").len();
                emit(&json!({ "connected": connected, "failed": failed.load(Ordering::Relaxed) }));
            }
            ["drop"] => {
                let dropped: Vec<Connection> = std::mem::take(&mut *held.lock().expect("held"));
                for connection in &dropped {
                    let _ = connection.close(VarInt::from_u32(0), "");
                }
                emit(&json!({ "dropped": dropped.len() }));
            }
            ["quit"] => break,
            _ => emit(&json!({ "error": format!("unknown command {command:?}") })),
        }
    }
    for connection in held.lock().expect("held").iter() {
        let _ = connection.close(VarInt::from_u32(0), "");
    }
    Ok(())
}
