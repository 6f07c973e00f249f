//! `quicbridge-bench`: the `quinn-rust` peer of quicbridge's benchmark
//! (`npm run bench`). It runs the same workloads as the Node peers, on
//! quicbridge-core and quinn's tokio runtime, without Node, so that the
//! native backend can be compared with the library it wraps.
//!
//! Usage: `quicbridge-bench <workload> --cert F --key F --ca F [--name value]...`
//! Every line on stdout is JSON: `{"progress": "..."}` while it runs, then
//! one `{"results": [...]}` line. See `docs/performance.md`.

mod memory;
mod proto;
mod workloads;

use std::collections::HashMap;
use std::io::Write;
use std::net::{SocketAddr, UdpSocket};
use std::str::FromStr;
use std::sync::Arc;

use quicbridge_core::{ConnectOptions, Endpoint, EndpointOptions};
use quinn::{Runtime, TokioRuntime};
use serde_json::{json, Value};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type Res<T> = Result<T, BoxError>;

/// The ALPN protocol every peer of the benchmark speaks.
pub const ALPN: &str = "quicbridge-bench";
/// The name in the benchmark's server certificate.
pub const SERVER_NAME: &str = "localhost";

/// `--name value` options after the workload name.
pub struct Args {
    pub command: String,
    options: HashMap<String, String>,
}

impl Args {
    fn parse(mut argv: impl Iterator<Item = String>) -> Res<Self> {
        let command = argv
            .next()
            .ok_or("usage: quicbridge-bench <workload> [--name value]...")?;
        let mut options = HashMap::new();
        while let Some(name) = argv.next() {
            let key = name
                .strip_prefix("--")
                .ok_or_else(|| format!("expected --name, got {name:?}"))?;
            let value = argv
                .next()
                .ok_or_else(|| format!("--{key} needs a value"))?;
            options.insert(key.to_string(), value);
        }
        Ok(Args { command, options })
    }

    /// The value of `--key`, or `default` when absent.
    pub fn get<T: FromStr>(&self, key: &str, default: T) -> Res<T> {
        match self.options.get(key) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("--{key}: cannot parse {v:?}").into()),
        }
    }

    pub fn required(&self, key: &str) -> Res<String> {
        self.options
            .get(key)
            .cloned()
            .ok_or_else(|| format!("--{key} is required").into())
    }
}

/// The certificates the harness made for this run (PEM).
#[derive(Clone)]
pub struct Pki {
    pub cert: String,
    pub key: String,
    pub ca: String,
}

impl Pki {
    fn load(args: &Args) -> Res<Self> {
        let read = |key: &str| -> Res<String> {
            let path = args.required(key)?;
            std::fs::read_to_string(&path).map_err(|e| format!("--{key} {path}: {e}").into())
        };
        Ok(Pki {
            cert: read("cert")?,
            key: read("key")?,
            ca: read("ca")?,
        })
    }

    /// Server endpoint options. `transport` is the JSON of the core's
    /// TransportOptions and `extra` more fields of its ServerOptions (e.g.
    /// `earlyData`): built from JSON, as the bindings do, so that fields the
    /// core adds keep their defaults here.
    pub fn server_options(&self, transport: Value, extra: Value) -> Res<EndpointOptions> {
        let mut server =
            json!({ "cert": self.cert, "key": self.key, "alpn": [ALPN], "transport": transport });
        merge(&mut server, extra);
        Ok(EndpointOptions::from_json(
            &json!({ "server": server }).to_string(),
        )?)
    }

    /// Client options for `server`; `extra` adds fields of the core's ConnectOptions.
    pub fn connect_options(
        &self,
        server: SocketAddr,
        transport: Value,
        extra: Value,
    ) -> Res<ConnectOptions> {
        let mut options = json!({
            "address": server.ip().to_string(),
            "port": server.port(),
            "serverName": SERVER_NAME,
            "ca": self.ca,
            "alpn": [ALPN],
            "transport": transport,
        });
        merge(&mut options, extra);
        Ok(ConnectOptions::from_json(&options.to_string())?)
    }
}

fn merge(into: &mut Value, extra: Value) {
    if let (Some(into), Value::Object(extra)) = (into.as_object_mut(), extra) {
        into.extend(extra);
    }
}

/// A quicbridge-core endpoint on a new loopback UDP socket, the way the
/// napi binding makes one: quinn's tokio runtime and quinn-udp.
pub fn bind(port: u16, options: &EndpointOptions) -> Res<Endpoint> {
    let socket = UdpSocket::bind(("127.0.0.1", port))?;
    let runtime = Arc::new(TokioRuntime);
    let socket = runtime.wrap_udp_socket(socket)?;
    Ok(Endpoint::new(socket, runtime, options, None)?)
}

/// What one run reports: per metric, the samples or the reason there are none.
#[derive(Default)]
pub struct Report {
    results: Vec<Value>,
}

pub enum Better {
    Higher,
    Lower,
}

impl Report {
    pub fn samples(&mut self, metric: &str, unit: &str, better: Better, samples: Vec<f64>) {
        let better = match better {
            Better::Higher => "higher",
            Better::Lower => "lower",
        };
        self.results
            .push(json!({ "metric": metric, "unit": unit, "better": better, "samples": samples }));
    }

    pub fn na(&mut self, metric: &str, reason: impl Into<String>) {
        self.results
            .push(json!({ "metric": metric, "na": reason.into() }));
    }
}

/// One line on stdout; the harness shows it as progress.
pub fn progress(message: impl AsRef<str>) {
    emit(&json!({ "progress": message.as_ref() }));
}

pub fn emit(value: &Value) {
    let mut out = std::io::stdout().lock();
    // A harness that went away cannot be told anything more.
    let _ = writeln!(out, "{value}");
    let _ = out.flush();
}

fn main() {
    let result = Args::parse(std::env::args().skip(1)).and_then(|args| {
        // `--runtime current-thread`: the core on one thread, as a runtime
        // that drives QUIC on its event loop has it (the quinn-rust-1thread
        // peer).
        let mut builder = match args.get("runtime", String::from("multi-thread"))?.as_str() {
            "multi-thread" => tokio::runtime::Builder::new_multi_thread(),
            "current-thread" => tokio::runtime::Builder::new_current_thread(),
            other => {
                return Err(
                    format!("--runtime: multi-thread or current-thread, got {other:?}").into(),
                )
            }
        };
        builder.enable_all().build()?.block_on(run(args))
    });
    if let Err(error) = result {
        eprintln!("quicbridge-bench: {error}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> Res<()> {
    let pki = Pki::load(&args)?;
    let mut report = Report::default();
    match args.command.as_str() {
        "bulk" => workloads::bulk(&args, &pki, &mut report).await?,
        "rr" => workloads::rr(&args, &pki, &mut report).await?,
        "concurrency" => workloads::concurrency(&args, &pki, &mut report).await?,
        "handshake" => workloads::handshake(&args, &pki, &mut report).await?,
        "datagrams" => workloads::datagrams(&args, &pki, &mut report).await?,
        "churn-memory" => memory::churn(&args, &pki, &mut report).await?,
        // Long-running helpers for idle-memory, driven over stdin.
        "idle-server" => return memory::idle_server(&pki).await,
        "idle-clients" => return memory::idle_clients(&args, &pki).await,
        other => return Err(format!("unknown workload {other:?}").into()),
    }
    emit(&json!({ "results": report.results }));
    Ok(())
}
