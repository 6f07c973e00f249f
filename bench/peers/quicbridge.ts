import type { Duplex } from 'node:stream';

import type { BackendName, EarlyDataState, QuicConnection, TransportOptions } from '../../lib/index';
import { ALPN, SERVER_NAME } from '../config';
import type { BenchPki } from '../pki';
import { answer } from '../protocol';
import { shippedQuicbridge } from '../shipped';
import { datagramCounter, reportedChannel } from './datagrams';
import { duplexPipe } from './pipes';
import {
  type ConnectOptions,
  type DatagramChannel,
  type ListenOptions,
  type Peer,
  type PeerConnection,
  type PeerServer,
  type Pipe,
} from './types';

const { connect, listen } = shippedQuicbridge();

/** A QuicStream as a Pipe, read with its own iterator (`for await (const chunk of stream)`). */
function quicPipe(stream: Duplex): Pipe {
  return duplexPipe(stream, undefined, true);
}

/** Room for one 1200-byte datagram and its QUIC overhead; loopback carries far more. */
const DATAGRAM_TRANSPORT: TransportOptions = { initialMtu: 1500 };

/**
 * Whether this quicbridge has the datagram API (checked at run time, so
 * that a backend or build without it is reported n/a, not a crash).
 */
function hasDatagrams(connection: QuicConnection): boolean {
  return typeof connection.sendDatagram === 'function' && typeof connection.datagrams === 'function';
}

/** Sends datagrams on `connection` and follows the server's reports of how many arrived. */
function datagramChannel(connection: QuicConnection): DatagramChannel {
  const { channel, report } = reportedChannel(
    () => connection.maxDatagramSize,
    (data) => connection.sendDatagram(data),
  );
  void (async () => {
    for await (const datagram of connection.datagrams()) report(datagram);
  })().catch(() => {});
  return channel;
}

/** Counts a server connection's datagrams, reporting the count back every DATAGRAM_ACK_EVERY. */
async function countDatagrams(connection: QuicConnection, onDatagram: () => void): Promise<void> {
  const count = datagramCounter((report) => connection.sendDatagram(report), onDatagram);
  for await (const datagram of connection.datagrams()) count(datagram);
}

/** quicbridge itself, on one backend. */
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
    const onConnection = async (connection: QuicConnection): Promise<void> => {
      connections += 1;
      void connection.closed.then(() => {
        connections -= 1;
      });
      if (options.datagrams && hasDatagrams(connection)) {
        countDatagrams(connection, () => (datagrams += 1)).catch(() => {});
      }
      for await (const stream of connection.streams()) {
        answer(quicPipe(stream)).catch(() => stream.destroy());
      }
    };
    const server = await listen(
      {
        address: '127.0.0.1',
        port: 0,
        cert: this.#pki.chain,
        key: this.#pki.key,
        alpn: ALPN,
        backend: this.name,
        ...(options.datagrams ? { transport: DATAGRAM_TRANSPORT } : {}),
        ...(options.earlyData ? { earlyData: true } : {}),
        ...(options.maxConnections !== undefined ? { maxConnections: options.maxConnections } : {}),
      },
      onConnection,
    );
    return {
      port: server.address.port,
      connections: () => connections,
      datagramsReceived: () => datagrams,
      close: () => server.close(),
    };
  }

  async connect(port: number, options: ConnectOptions = {}): Promise<PeerConnection> {
    const connection = await connect({
      host: '127.0.0.1',
      port,
      servername: SERVER_NAME,
      ca: this.#pki.ca,
      alpn: ALPN,
      backend: this.name,
      ...(options.datagrams ? { transport: DATAGRAM_TRANSPORT } : {}),
      ...(options.earlyData ? { earlyData: true } : {}),
    });
    let channel: DatagramChannel | undefined;
    return {
      openStream: async () => quicPipe(await connection.openStream()),
      datagrams(): DatagramChannel | string {
        if (!hasDatagrams(connection)) return 'this quicbridge has no datagram API (QuicConnection.sendDatagram / datagrams())';
        channel ??= datagramChannel(connection);
        return channel;
      },
      earlyData(): Promise<EarlyDataState> | string {
        if (!('handshakeComplete' in connection)) return 'this quicbridge has no 0-RTT (no QuicConnection.handshakeComplete)';
        return connection.handshakeComplete;
      },
      close: async () => {
        await connection.close();
      },
    };
  }
}
