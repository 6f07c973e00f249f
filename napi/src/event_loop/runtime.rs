use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use quinn::{AsyncTimer, AsyncUdpSocket, Runtime};

use super::executor;
use super::socket::LoopSocket;
use super::timer::LoopTimer;

/// quinn's tasks, timers and sockets on the event loop of the JavaScript
/// thread that creates the endpoint.
#[derive(Debug)]
pub(crate) struct LoopRuntime;

impl Runtime for LoopRuntime {
    fn new_timer(&self, deadline: Instant) -> Pin<Box<dyn AsyncTimer>> {
        Box::pin(LoopTimer::new(deadline))
    }

    fn spawn(&self, future: Pin<Box<dyn Future<Output = ()> + Send>>) {
        // quinn spawns from the endpoint's own tasks and calls, all on the
        // thread whose executor runs them; there is no other to use.
        let spawned = executor::spawn(future);
        debug_assert!(spawned, "quinn spawned a task off its event loop");
    }

    fn wrap_udp_socket(
        &self,
        socket: std::net::UdpSocket,
    ) -> std::io::Result<Arc<dyn AsyncUdpSocket>> {
        Ok(LoopSocket::new(socket)?)
    }

    fn now(&self) -> Instant {
        Instant::now()
    }
}
