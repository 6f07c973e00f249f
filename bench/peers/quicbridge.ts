import {
  type BackendName,
  connect,
  listen,
  type QuicConnection,
  QuicError,
  type TransportOptions,
} from '../../lib/index';
import { ALPN, SERVER_NAME } from '../config';
import type { BenchPki } from '../pki';
import { answer } from '../protocol';
import { duplexPipe } from './pipes';
import {
  type ConnectOptions,
  DATAGRAM_ACK_EVERY,
  type DatagramChannel,
  type EarlyDataState,
  type ListenOptions,
  type Peer,
  type PeerConnection,
  type PeerServer,
} from './types';

/**
 * API that quicbridge is getting (datagrams, 0-RTT): used when present, so
 * that those workloads light up once it is merged, and reported n/a until then.
 */
interface UpcomingConnectionApi {
  sendDatagram?: (data: Uint8Array) => void;
  maxDatagramSize?: number;
  datagrams?: () => AsyncIterable<Uint8Array>;
  handshakeComplete?: Promise<EarlyDataState>;
}

function upcoming(connection: QuicConnection): UpcomingConnectionApi {
  return connection as unknown as UpcomingConnectionApi;
}

/** Room for one 1200-byte datagram and its QUIC overhead; loopback carries far more. */
const DATAGRAM_MTU = 1500;

/**
 * Runs `start` with `transport.initialMtu` when datagrams are wanted, or
 * without it on a quicbridge that does not know that option (and has no
 * datagrams either; the workload then says so).
 */
async function withDatagramMtu<T>(wanted: boolean | undefined, start: (transport?: TransportOptions) => Promise<T>): Promise<T> {
  if (!wanted) return start();
  try {
    return await start({ initialMtu: DATAGRAM_MTU } as TransportOptions);
  } catch (error) {
    if (error instanceof QuicError && error.code === 'ERR_QUIC_INVALID_ARG' && error.message.includes('initialMtu')) {
      return start();
    }
    throw error;
  }
}

/** Sends datagrams on `connection` and follows the server's reports of how many arrived. */
function datagramChannel(
  connection: QuicConnection,
  send: (data: Uint8Array) => void,
  receive: () => AsyncIterable<Uint8Array>,
): DatagramChannel {
  let acked = 0;
  const waiters = new Set<() => void>();
  void (async () => {
    for await (const report of receive.call(connection)) {
      if (report.length !== 8) continue;
      acked = Math.max(acked, Number(Buffer.from(report.buffer, report.byteOffset, 8).readBigUInt64BE(0)));
      for (const wake of waiters) wake();
      waiters.clear();
    }
  })().catch(() => {});
  return {
    maxSize: () => upcoming(connection).maxDatagramSize,
    send: (data) => send.call(connection, data),
    acked: () => acked,
    nextAck: (ms) =>
      new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => {
          waiters.delete(wake);
          resolve(false);
        }, ms);
        const wake = (): void => {
          clearTimeout(timer);
          resolve(true);
        };
        waiters.add(wake);
      }),
  };
}

export class QuicbridgePeer implements Peer {
  readonly name: BackendName;
  readonly #pki: BenchPki;

  constructor(backend: BackendName, pki: BenchPki) {
    this.name = backend;
    this.#pki = pki;
  }

  async listen(options: ListenOptions = {}): Promise<PeerServer> {
    let connections = 0;
    let datagrams = 0;
    // Options this quicbridge may not have yet; older ones ignore them.
    const upcomingOptions: Record<string, unknown> = {};
    if (options.earlyData) upcomingOptions.earlyData = true;
    if (options.maxConnections !== undefined) upcomingOptions.maxConnections = options.maxConnections;
    const onConnection = async (connection: QuicConnection): Promise<void> => {
      connections += 1;
      void connection.closed.then(() => {
        connections -= 1;
      });
      const api = upcoming(connection);
      if (options.datagrams && typeof api.datagrams === 'function' && typeof api.sendDatagram === 'function') {
        const incoming = api.datagrams.call(connection);
        const send = api.sendDatagram;
        void (async () => {
          let count = 0;
          for await (const datagram of incoming) {
            if (datagram.length === 0) continue;
            datagrams += 1;
            count += 1;
            if (count % DATAGRAM_ACK_EVERY === 0) {
              const report = Buffer.alloc(8);
              report.writeBigUInt64BE(BigInt(count));
              send.call(connection, report);
            }
          }
        })().catch(() => {});
      }
      for await (const stream of connection.streams()) {
        answer(duplexPipe(stream)).catch(() => stream.destroy());
      }
    };
    const server = await withDatagramMtu(options.datagrams, (transport) =>
      listen(
        {
          address: '127.0.0.1',
          port: 0,
          cert: this.#pki.chain,
          key: this.#pki.key,
          alpn: ALPN,
          backend: this.name,
          ...(transport ? { transport } : {}),
          ...upcomingOptions,
        },
        onConnection,
      ),
    );
    return {
      port: server.address.port,
      connections: () => connections,
      datagramsReceived: () => datagrams,
      close: () => server.close(),
    };
  }

  async connect(port: number, options: ConnectOptions = {}): Promise<PeerConnection> {
    const connection = await withDatagramMtu(options.datagrams, (transport) =>
      connect({
        host: '127.0.0.1',
        port,
        servername: SERVER_NAME,
        ca: this.#pki.ca,
        alpn: ALPN,
        backend: this.name,
        ...(transport ? { transport } : {}),
        ...(options.earlyData ? { earlyData: true } : {}),
      }),
    );
    const api = upcoming(connection);
    let channel: DatagramChannel | undefined;
    return {
      openStream: async () => duplexPipe(await connection.openStream()),
      datagrams(): DatagramChannel | string {
        const { sendDatagram: send, datagrams: receive } = api;
        if (typeof send !== 'function' || typeof receive !== 'function') {
          return 'this quicbridge has no datagram API yet (no QuicConnection.sendDatagram / datagrams())';
        }
        channel ??= datagramChannel(connection, send, receive);
        return channel;
      },
      earlyData(): Promise<EarlyDataState> | string {
        if (!('handshakeComplete' in connection)) {
          return 'this quicbridge has no 0-RTT yet (connect({ earlyData }) is not an option; no QuicConnection.handshakeComplete)';
        }
        return Promise.resolve(api.handshakeComplete as Promise<EarlyDataState>);
      },
      close: async () => {
        await connection.close();
      },
    };
  }
}
