use std::fmt;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};

use quinn::udp::{RecvMeta, Transmit};
use quinn::{AsyncUdpSocket, UdpPoller};

/// A socket that a closed endpoint can give back to the operating system at
/// once. quinn drops its socket only when the last handle to the endpoint
/// and to each of its connections is gone — for a binding, whenever the
/// JavaScript objects are garbage collected — so without this a closed
/// server would keep its port indefinitely. After [`release`](Self::release)
/// sends are discarded and nothing is received.
pub(crate) struct ReleasableSocket {
    socket: RwLock<Option<Arc<dyn AsyncUdpSocket>>>,
    local: SocketAddr,
    may_fragment: bool,
    max_transmit_segments: usize,
    max_receive_segments: usize,
}

impl ReleasableSocket {
    pub(crate) fn wrap(socket: Arc<dyn AsyncUdpSocket>) -> io::Result<Arc<Self>> {
        Ok(Arc::new(ReleasableSocket {
            local: socket.local_addr()?,
            may_fragment: socket.may_fragment(),
            max_transmit_segments: socket.max_transmit_segments(),
            max_receive_segments: socket.max_receive_segments(),
            socket: RwLock::new(Some(socket)),
        }))
    }

    pub(crate) fn release(&self) {
        // Dropped outside the lock: closing a socket may take a moment.
        let socket = self.write_slot().take();
        drop(socket);
    }

    fn current(&self) -> Option<Arc<dyn AsyncUdpSocket>> {
        self.slot().clone()
    }

    /// The socket (None once released), borrowed: sends and receives run
    /// under the read lock rather than cloning the `Arc` per datagram.
    fn slot(&self) -> std::sync::RwLockReadGuard<'_, Option<Arc<dyn AsyncUdpSocket>>> {
        self.socket
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write_slot(&self) -> std::sync::RwLockWriteGuard<'_, Option<Arc<dyn AsyncUdpSocket>>> {
        self.socket
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl fmt::Debug for ReleasableSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReleasableSocket")
            .field("local", &self.local)
            .field("released", &self.slot().is_none())
            .finish()
    }
}

impl AsyncUdpSocket for ReleasableSocket {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn UdpPoller>> {
        Box::pin(ReleasablePoller {
            socket: self,
            waiting: None,
        })
    }

    fn try_send(&self, transmit: &Transmit) -> io::Result<()> {
        match &*self.slot() {
            Some(socket) => socket.try_send(transmit),
            None => Ok(()),
        }
    }

    fn poll_recv(
        &self,
        cx: &mut Context,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        match &*self.slot() {
            Some(socket) => socket.poll_recv(cx, bufs, meta),
            None => Poll::Pending,
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }

    fn may_fragment(&self) -> bool {
        self.may_fragment
    }

    fn max_transmit_segments(&self) -> usize {
        self.max_transmit_segments
    }

    fn max_receive_segments(&self) -> usize {
        self.max_receive_segments
    }
}

/// Holds the real socket's poller (and with it the socket) only while a send
/// is waiting for room, so that connections that outlive their endpoint do
/// not keep the socket open.
#[derive(Debug)]
struct ReleasablePoller {
    socket: Arc<ReleasableSocket>,
    waiting: Option<Pin<Box<dyn UdpPoller>>>,
}

impl UdpPoller for ReleasablePoller {
    fn poll_writable(mut self: Pin<&mut Self>, cx: &mut Context) -> Poll<io::Result<()>> {
        let Some(socket) = self.socket.current() else {
            self.waiting = None;
            return Poll::Ready(Ok(()));
        };
        let poller = self
            .waiting
            .get_or_insert_with(|| socket.create_io_poller());
        let ready = poller.as_mut().poll_writable(cx);
        if ready.is_ready() {
            self.waiting = None;
        }
        ready
    }
}
