//! Node-API binding: quicbridge-core driven on Node.js's event loop, with
//! real UDP sockets (quinn-udp: GSO/GRO where the OS has them). Only
//! translation and the runtime live here; protocol decisions are made in
//! the core.

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod allocator;
mod connection;
mod endpoint;
mod error;
mod event_loop;
mod external_memory;
mod http3;
mod js_thread;
pub mod message;
mod promise;
mod stream;
mod uv;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[global_allocator]
static ALLOCATOR: allocator::LargeBlocksMapped = allocator::LargeBlocksMapped;

/// The core version this addon was built from.
#[napi_derive::napi]
pub fn version() -> &'static str {
    quicbridge_core::VERSION
}

/// A self-signed certificate: JSON `{names, now, validDays}` in, JSON
/// `{cert, key}` (PEM) out.
#[napi_derive::napi]
pub fn generate_certificate(options: String) -> napi::Result<String> {
    quicbridge_core::generate_self_signed_json(&options).map_err(error::to_napi)
}
