//! WebAssembly binding: quicbridge-core on the JavaScript event loop.
//!
//! The runtime spawns tasks as microtasks and arms timers with
//! `setTimeout`; the UDP socket is whatever datagram transport the host
//! hands in (by default `lib/` supplies a `node:dgram` socket). Only
//! translation lives here; protocol decisions are made in the core.

mod connection;
mod endpoint;
mod error;
mod http3;
pub mod message;
mod runtime;
mod single_threaded;
mod socket;
mod stream;
mod timer;

/// The core version this module was built from.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn version() -> String {
    quicbridge_core::VERSION.to_string()
}

/// A self-signed certificate: JSON `{names, now, validDays}` in, JSON
/// `{cert, key}` (PEM) out.
#[wasm_bindgen::prelude::wasm_bindgen(js_name = generateCertificate)]
pub fn generate_certificate(options: &str) -> Result<String, wasm_bindgen::JsValue> {
    quicbridge_core::generate_self_signed_json(options).map_err(error::to_js)
}
