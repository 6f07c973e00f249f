use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use quinn::udp::{RecvMeta, Transmit};
use quinn::{AsyncUdpSocket, UdpPoller};
use wasm_bindgen::JsValue;

use crate::single_threaded::SingleThreaded;

/// Datagrams received but not yet taken by quinn. Beyond this the oldest
/// are kept and new ones dropped, as a full kernel socket buffer would.
const RECEIVE_QUEUE_LIMIT: usize = 4096;

/// A UDP socket owned by the JavaScript host: quinn's transmits go out
/// through the host's `send(bytes, address, port)` and the host delivers
/// what arrives with [`HostSocket::deliver`].
#[derive(Debug)]
pub(crate) struct HostSocket {
    local: SocketAddr,
    /// `None` once detached. The host's function holds (through its
    /// transport's receiver) the JavaScript endpoint object, which holds
    /// this socket: held here for good, from wasm-bindgen's table of
    /// JavaScript references, neither side could ever be collected.
    send: SingleThreaded<RefCell<Option<js_sys::Function>>>,
    received: SingleThreaded<RefCell<Received>>,
}

#[derive(Debug, Default)]
struct Received {
    queue: VecDeque<(Vec<u8>, SocketAddr)>,
    waker: Option<Waker>,
    dropped: u64,
}

impl HostSocket {
    pub(crate) fn new(local: SocketAddr, send: js_sys::Function) -> Self {
        HostSocket {
            local,
            send: SingleThreaded(RefCell::new(Some(send))),
            received: SingleThreaded(RefCell::new(Received::default())),
        }
    }

    /// Lets go of the host's `send`: what quinn sends after is dropped.
    pub(crate) fn detach(&self) {
        self.send.borrow_mut().take();
    }

    pub(crate) fn deliver(&self, datagram: Vec<u8>, from: SocketAddr) {
        let waker = {
            let mut received = self.received.borrow_mut();
            if received.queue.len() >= RECEIVE_QUEUE_LIMIT {
                received.dropped += 1;
                return;
            }
            received.queue.push_back((datagram, from));
            received.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl AsyncUdpSocket for HostSocket {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn UdpPoller>> {
        Box::pin(AlwaysWritable)
    }

    fn try_send(&self, transmit: &Transmit) -> io::Result<()> {
        let send = self.send.borrow();
        let Some(send) = send.as_ref() else {
            return Ok(());
        };
        let bytes = js_sys::Uint8Array::from(transmit.contents);
        let address = JsValue::from_str(&transmit.destination.ip().to_string());
        let port = JsValue::from(transmit.destination.port());
        send.call3(&JsValue::NULL, &bytes, &address, &port)
            .map(|_| ())
            .map_err(|e| io::Error::other(format!("datagram transport send failed: {e:?}")))
    }

    fn poll_recv(
        &self,
        cx: &mut Context,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        let mut received = self.received.borrow_mut();
        let mut count = 0;
        while count < bufs.len().min(meta.len()) {
            let Some((datagram, from)) = received.queue.pop_front() else {
                break;
            };
            // quinn's buffers are sized for the largest UDP payload it
            // accepts; anything longer is not a datagram it could parse.
            let len = datagram.len().min(bufs[count].len());
            bufs[count][..len].copy_from_slice(&datagram[..len]);
            meta[count] = RecvMeta {
                addr: from,
                len,
                stride: len,
                ecn: None,
                dst_ip: None,
            };
            count += 1;
        }
        if count == 0 {
            received.waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        Poll::Ready(Ok(count))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }
}

/// The host's `send` never blocks (it queues), so the socket is always
/// writable from quinn's point of view.
#[derive(Debug)]
struct AlwaysWritable;

impl UdpPoller for AlwaysWritable {
    fn poll_writable(self: Pin<&mut Self>, _cx: &mut Context) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
