import dgram from 'node:dgram';
import net from 'node:net';

/**
 * What the wasm backend needs from the host to move UDP datagrams. The
 * default is a `node:dgram` socket (createUdpTransport); any other runtime's
 * UDP, or a relay, fits by implementing this.
 */
export interface DatagramTransport {
  /**
   * Where this transport is bound. A loopback address (127.0.0.0/8, ::1)
   * tells QUIC that datagrams of up to 64 KiB get through whole, and it
   * uses them (falling back to 1200 bytes if they are dropped).
   */
  readonly localAddress: { address: string; port: number };
  /** Sends one datagram. Must not throw for network errors: UDP may drop. */
  send(data: Uint8Array, address: string, port: number): void;
  /** Registers the (single) receiver of incoming datagrams. */
  onDatagram(receiver: (data: Uint8Array, address: string, port: number) => void): void;
  /** Releases the socket. */
  close(): Promise<void>;
}

/** Socket buffers large enough for a full congestion window of datagrams. */
const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;

export async function createUdpTransport(address: string, port: number): Promise<DatagramTransport> {
  const type = net.isIPv6(address) ? 'udp6' : 'udp4';
  const socket = dgram.createSocket({ type, ipv6Only: type === 'udp6' });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ address, port, exclusive: true }, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  for (const set of [(n: number) => socket.setRecvBufferSize(n), (n: number) => socket.setSendBufferSize(n)]) {
    try {
      set(SOCKET_BUFFER_BYTES);
    } catch {
      // The OS caps buffer sizes (net.core.rmem_max); smaller ones still work.
    }
  }
  // Errors after binding (e.g. ICMP unreachable) are losses to QUIC, which
  // recovers or times out by itself.
  socket.on('error', () => {});
  const bound = socket.address();
  let closed = false;
  return {
    localAddress: { address: bound.address, port: bound.port },
    send(data, toAddress, toPort) {
      if (!closed) socket.send(data, toPort, toAddress);
    },
    onDatagram(receiver) {
      socket.on('message', (message, remote) => receiver(message, remote.address, remote.port));
    },
    close() {
      if (closed) return Promise.resolve();
      closed = true;
      return new Promise((resolve) => socket.close(() => resolve()));
    },
  };
}
