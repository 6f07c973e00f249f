use std::future::Future;
use std::pin::Pin;

use quinn::{AsyncTimer, Runtime};
use web_time::Instant;

use crate::timer::JsTimer;

/// Runs quinn's tasks on the JavaScript event loop.
#[derive(Debug)]
pub(crate) struct JsRuntime;

impl Runtime for JsRuntime {
    fn new_timer(&self, deadline: Instant) -> Pin<Box<dyn AsyncTimer>> {
        Box::pin(JsTimer::new(deadline))
    }

    fn spawn(&self, future: Pin<Box<dyn Future<Output = ()> + Send>>) {
        wasm_bindgen_futures::spawn_local(future);
    }

    // Host builds exist only for type checking; real sockets there belong to
    // the native binding.
    #[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
    fn wrap_udp_socket(
        &self,
        _socket: std::net::UdpSocket,
    ) -> std::io::Result<std::sync::Arc<dyn quinn::AsyncUdpSocket>> {
        Err(std::io::ErrorKind::Unsupported.into())
    }

    fn now(&self) -> Instant {
        Instant::now()
    }
}
