//! UDP between sockets in memory, on tokio's clock: every datagram arrives
//! a fixed one-way delay after it was sent, unless a rule says it is lost.
//! Under a paused clock (`#[tokio::test(start_paused = true)]`) tokio skips
//! ahead whenever everything waits on a timer, so probe timeouts of minutes
//! take no real time and every run sees the same sequence of datagrams.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, IoSliceMut};
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use quinn::udp::{RecvMeta, Transmit};
use quinn::{AsyncUdpSocket, UdpPoller};
use tokio::sync::mpsc;

/// One datagram on its way, as a loss rule sees it.
pub struct Datagram<'a> {
    pub to: SocketAddr,
    pub contents: &'a [u8],
}

/// The port of the first socket a network makes.
pub const FIRST_PORT: u16 = 10_000;

type LossRule = Box<dyn FnMut(&Datagram) -> bool + Send>;
type Inbox = mpsc::UnboundedSender<(SocketAddr, Vec<u8>)>;

pub struct MemoryNetwork {
    delay: Duration,
    lost: Mutex<LossRule>,
    sockets: Mutex<HashMap<SocketAddr, Inbox>>,
}

impl MemoryNetwork {
    /// `lost` is asked about every datagram, in the order they are sent.
    pub fn new(delay: Duration, lost: impl FnMut(&Datagram) -> bool + Send + 'static) -> Arc<Self> {
        Arc::new(MemoryNetwork {
            delay,
            lost: Mutex::new(Box::new(lost)),
            sockets: Mutex::new(HashMap::new()),
        })
    }

    /// A socket on 127.0.0.1 with the next free port, from [`FIRST_PORT`] up.
    pub fn socket(self: &Arc<Self>) -> Arc<MemorySocket> {
        let mut sockets = self.sockets.lock().unwrap();
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, FIRST_PORT + sockets.len() as u16));
        let (tx, rx) = mpsc::unbounded_channel();
        sockets.insert(addr, tx);
        Arc::new(MemorySocket {
            addr,
            network: self.clone(),
            inbox: Mutex::new(rx),
        })
    }

    fn send(&self, from: SocketAddr, to: SocketAddr, contents: &[u8]) {
        let datagram = Datagram { to, contents };
        if (self.lost.lock().unwrap())(&datagram) {
            return;
        }
        // A datagram to an address nobody has is lost, as on a real network.
        let Some(inbox) = self.sockets.lock().unwrap().get(&to).cloned() else {
            return;
        };
        let contents = contents.to_vec();
        let delay = self.delay;
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = inbox.send((from, contents));
        });
    }
}

pub struct MemorySocket {
    addr: SocketAddr,
    network: Arc<MemoryNetwork>,
    inbox: Mutex<mpsc::UnboundedReceiver<(SocketAddr, Vec<u8>)>>,
}

impl fmt::Debug for MemorySocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemorySocket")
            .field("addr", &self.addr)
            .finish()
    }
}

/// Sending never waits: the network holds whatever it is given.
#[derive(Debug)]
struct AlwaysWritable;

impl UdpPoller for AlwaysWritable {
    fn poll_writable(self: Pin<&mut Self>, _: &mut Context) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl AsyncUdpSocket for MemorySocket {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn UdpPoller>> {
        Box::pin(AlwaysWritable)
    }

    fn try_send(&self, transmit: &Transmit) -> io::Result<()> {
        let segment = transmit.segment_size.unwrap_or(transmit.contents.len());
        for datagram in transmit.contents.chunks(segment.max(1)) {
            self.network.send(self.addr, transmit.destination, datagram);
        }
        Ok(())
    }

    fn poll_recv(
        &self,
        cx: &mut Context,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        let Poll::Ready(Some((from, contents))) = self.inbox.lock().unwrap().poll_recv(cx) else {
            return Poll::Pending;
        };
        let len = contents.len().min(bufs[0].len());
        bufs[0][..len].copy_from_slice(&contents[..len]);
        meta[0] = RecvMeta {
            addr: from,
            len,
            stride: len,
            ecn: None,
            dst_ip: Some(self.addr.ip()),
        };
        Poll::Ready(Ok(1))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.addr)
    }
}

/// The long-header packet types in a datagram, coalesced ones included
/// (RFC 9000 §17.2); a short-header packet ends the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketType {
    Initial,
    ZeroRtt,
    Handshake,
    Retry,
    Short,
}

pub fn packet_types(mut datagram: &[u8]) -> Vec<PacketType> {
    let mut types = Vec::new();
    while let Some(&first) = datagram.first() {
        if first & 0x80 == 0 {
            types.push(PacketType::Short);
            break;
        }
        let kind = [
            PacketType::Initial,
            PacketType::ZeroRtt,
            PacketType::Handshake,
            PacketType::Retry,
        ][usize::from((first >> 4) & 0x03)];
        types.push(kind);
        let Some(length) = long_packet_length(datagram, kind) else {
            break;
        };
        datagram = &datagram[length.min(datagram.len())..];
    }
    types
}

/// The length of the long-header packet at the start of `packet`.
fn long_packet_length(packet: &[u8], kind: PacketType) -> Option<usize> {
    let mut at = 5; // first byte, version
    for _ in 0..2 {
        at += 1 + usize::from(*packet.get(at)?); // connection ID length, ID
    }
    if kind == PacketType::Retry {
        return Some(packet.len());
    }
    if kind == PacketType::Initial {
        let (token_length, size) = varint(packet.get(at..)?)?;
        at += size + token_length;
    }
    let (length, size) = varint(packet.get(at..)?)?;
    Some(at + size + length)
}

fn varint(bytes: &[u8]) -> Option<(usize, usize)> {
    let first = *bytes.first()?;
    let size = 1 << (first >> 6);
    let mut value = u64::from(first & 0x3f);
    for &byte in bytes.get(1..size)? {
        value = (value << 8) | u64::from(byte);
    }
    Some((usize::try_from(value).ok()?, size))
}
