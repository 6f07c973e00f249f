use std::fmt;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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
    /// Replaced by a rebind: see [`retire`](Self::retire).
    retired: AtomicBool,
    local: SocketAddr,
    may_fragment: bool,
    max_transmit_segments: usize,
    /// What the OS coalesces (GRO), fitted to the endpoint's datagrams: see
    /// [`fit_receive_segments`](Self::fit_receive_segments).
    max_receive_segments: AtomicUsize,
}

impl ReleasableSocket {
    pub(crate) fn wrap(socket: Arc<dyn AsyncUdpSocket>) -> io::Result<Arc<Self>> {
        let local = socket.local_addr()?;
        Ok(Arc::new(ReleasableSocket {
            local,
            // Nothing on a loopback path fragments a datagram: its MTU (64
            // KiB) is the largest UDP datagram there is, so MTU discovery
            // works there whether or not the socket sets don't-fragment.
            may_fragment: socket.may_fragment() && !local.ip().is_loopback(),
            max_transmit_segments: socket.max_transmit_segments(),
            max_receive_segments: AtomicUsize::new(socket.max_receive_segments()),
            socket: RwLock::new(Some(socket)),
            retired: AtomicBool::new(false),
        }))
    }

    /// Marks the socket as the one a rebind replaced. quinn (0.11) goes on
    /// reading it until traffic arrives on the new one, but when its
    /// per-poll receive budget cuts that read short it drops the "more to
    /// do" and does not poll again; as the read returned data rather than
    /// `Pending`, no waker is registered either, so what the peer still
    /// sent to the old address would wait in the socket's buffer until
    /// something else happened to wake the endpoint (seen: a reply to the
    /// old port unread for seconds). A retired socket therefore asks to be
    /// polled again after every read that returned data, until one comes
    /// back `Pending`.
    pub(crate) fn retire(&self) {
        self.retired.store(true, Ordering::Relaxed);
    }

    /// Sizes receive batches for datagrams of up to `max_udp_payload`
    /// bytes; call before quinn sizes its buffer (at endpoint creation).
    /// quinn gives every receive slot payload × segments bytes, which
    /// for 64 KiB datagrams and GRO's 64 segments would be 134 MiB an
    /// endpoint. What GRO coalesces into one slot is 64 KiB at most,
    /// so fewer, larger segments fill it just as well: a slot holds at
    /// least what quinn's defaults give it (64 × 1 472 bytes), and at least
    /// one coalesced read.
    pub(crate) fn fit_receive_segments(&self, max_udp_payload: usize) {
        let max_udp_payload = max_udp_payload.max(1);
        let needed =
            (DEFAULT_RECEIVE_SLOT / max_udp_payload).max(GRO_MAX_BYTES.div_ceil(max_udp_payload));
        self.max_receive_segments
            .fetch_min(needed.max(1), Ordering::Relaxed);
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
        let slot = self.slot();
        let Some(socket) = &*slot else {
            return Ok(());
        };
        // A failure part way through makes quinn send the whole transmit
        // again: the peer drops the packets it already has.
        kernel_sized(transmit).try_for_each(|batch| socket.try_send(&batch))
    }

    fn poll_recv(
        &self,
        cx: &mut Context,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        let received = match &*self.slot() {
            Some(socket) => socket.poll_recv(cx, bufs, meta),
            None => Poll::Pending,
        };
        if received.is_ready() && self.retired.load(Ordering::Relaxed) {
            cx.waker().wake_by_ref();
        }
        received
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
        self.max_receive_segments.load(Ordering::Relaxed)
    }
}

/// A receive slot as quinn sizes it by default: 64 GRO segments of its
/// default 1 472-byte datagrams.
const DEFAULT_RECEIVE_SLOT: usize = 64 * 1_472;
/// The most one GRO read coalesces.
const GRO_MAX_BYTES: usize = 65_536;

/// The most UDP payload one send may carry: an IPv4 datagram's 65 535
/// bytes less its IP and UDP headers (an IPv6 one has 20 bytes more room).
const MAX_SEND_PAYLOAD: usize = 65_535 - 20 - 8;

/// `transmit` cut, on segment boundaries, into sends the kernel accepts.
/// quinn fills a GSO batch up to its segment count (10) whatever the
/// segment size, so past 6 550-byte datagrams (MTU discovery reaches them
/// on loopback and on jumbo-frame links) a batch exceeds what one `sendmsg`
/// may carry; the kernel refuses it with EMSGSIZE, and quinn-udp drops
/// the error, so every such batch was lost.
fn kernel_sized<'a>(transmit: &Transmit<'a>) -> impl Iterator<Item = Transmit<'a>> {
    let Transmit {
        destination,
        ecn,
        contents,
        segment_size,
        src_ip,
    } = *transmit;
    let per_send = match segment_size {
        Some(segment) if contents.len() > MAX_SEND_PAYLOAD => {
            (MAX_SEND_PAYLOAD / segment).max(1) * segment
        }
        _ => contents.len().max(1),
    };
    contents.chunks(per_send).map(move |contents| Transmit {
        destination,
        ecn,
        contents,
        segment_size: segment_size.filter(|&size| contents.len() > size),
        src_ip,
    })
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::task::{Wake, Waker};

    use super::*;

    fn transmit(contents: &[u8], segment_size: Option<usize>) -> Transmit<'_> {
        Transmit {
            destination: SocketAddr::from(([127, 0, 0, 1], 4433)),
            ecn: None,
            contents,
            segment_size,
            src_ip: None,
        }
    }

    #[test]
    fn a_gso_batch_over_the_kernel_limit_is_cut_on_segment_boundaries() {
        // Ten 6 553-byte datagrams: what quinn batched once MTU discovery
        // reached 6 553 bytes on loopback.
        let data: Vec<u8> = (0..65_530).map(|i| i as u8).collect();
        let batches: Vec<_> = kernel_sized(&transmit(&data, Some(6_553))).collect();
        assert_eq!(batches.len(), 2);
        assert!(batches.iter().all(|b| b.contents.len() <= MAX_SEND_PAYLOAD));
        assert!(batches.iter().all(|b| b.contents.len() % 6_553 == 0));
        assert_eq!(batches[0].segment_size, Some(6_553));
        assert_eq!(
            batches
                .iter()
                .flat_map(|b| b.contents)
                .copied()
                .collect::<Vec<_>>(),
            data
        );
    }

    #[test]
    fn a_batch_within_the_limit_and_a_single_datagram_go_unchanged() {
        let batch = vec![7u8; 10 * 1_452];
        let sends: Vec<_> = kernel_sized(&transmit(&batch, Some(1_452))).collect();
        assert_eq!(sends.len(), 1);
        assert_eq!(sends[0].contents.len(), batch.len());
        assert_eq!(sends[0].segment_size, Some(1_452));
        let single = vec![1u8; 1_200];
        let sends: Vec<_> = kernel_sized(&transmit(&single, None)).collect();
        assert_eq!(sends.len(), 1);
        assert_eq!(sends[0].segment_size, None);
    }

    #[test]
    fn a_last_batch_of_one_datagram_is_sent_without_a_segment_size() {
        // 11 segments of 6 000: 10 fit one send, the eleventh goes alone.
        let data = vec![3u8; 11 * 6_000];
        let sends: Vec<_> = kernel_sized(&transmit(&data, Some(6_000))).collect();
        assert_eq!(
            sends.iter().map(|s| s.contents.len()).collect::<Vec<_>>(),
            [60_000, 6_000]
        );
        assert_eq!(
            sends.iter().map(|s| s.segment_size).collect::<Vec<_>>(),
            [Some(6_000), None]
        );
    }

    /// A socket that always has one datagram waiting.
    #[derive(Debug)]
    struct AlwaysReadable;

    impl AsyncUdpSocket for AlwaysReadable {
        fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn UdpPoller>> {
            unreachable!("not sent on")
        }

        fn try_send(&self, _transmit: &Transmit) -> io::Result<()> {
            Ok(())
        }

        fn poll_recv(
            &self,
            _cx: &mut Context,
            bufs: &mut [IoSliceMut<'_>],
            meta: &mut [RecvMeta],
        ) -> Poll<io::Result<usize>> {
            bufs[0][0] = 1;
            meta[0] = RecvMeta {
                addr: self.local_addr()?,
                len: 1,
                stride: 1,
                ecn: None,
                dst_ip: None,
            };
            Poll::Ready(Ok(1))
        }

        fn local_addr(&self) -> io::Result<SocketAddr> {
            Ok(SocketAddr::from(([127, 0, 0, 1], 4433)))
        }
    }

    #[derive(Default)]
    struct CountingWaker(AtomicUsize);

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }

        fn wake_by_ref(self: &Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn wakes_after_one_read(socket: &ReleasableSocket) -> usize {
        let counter = Arc::new(CountingWaker::default());
        let waker = Waker::from(counter.clone());
        let mut cx = Context::from_waker(&waker);
        let mut buf = [0u8; 16];
        let mut bufs = [IoSliceMut::new(&mut buf)];
        let mut meta = [RecvMeta::default()];
        assert!(matches!(
            socket.poll_recv(&mut cx, &mut bufs, &mut meta),
            Poll::Ready(Ok(1))
        ));
        counter.0.load(Ordering::Relaxed)
    }

    #[test]
    fn a_retired_socket_asks_to_be_read_again_after_data() {
        let socket = ReleasableSocket::wrap(Arc::new(AlwaysReadable)).unwrap();
        assert_eq!(
            wakes_after_one_read(&socket),
            0,
            "the socket in use relies on quinn's own budget"
        );
        socket.retire();
        assert_eq!(wakes_after_one_read(&socket), 1);
    }
}
