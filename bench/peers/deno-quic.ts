import { ALPN, SERVER_NAME } from '../config';
import type { BenchPki } from '../pki';
import { answer } from '../protocol';
import { datagramCounter, reportedChannel } from './datagrams';
import { type DenoNetAddr, type DenoQuicApi, type DenoQuicConn, type DenoQuicEndpoint, denoQuic } from './deno-quic-api';
import { webPipe } from './pipes';
import type { ConnectOptions, DatagramChannel, EarlyDataState, ListenOptions, Peer, PeerConnection, PeerServer } from './types';

const ignore = (): void => {};

const addressKey = (addr: DenoNetAddr): string => `${addr.hostname}:${addr.port}`;

/** Reads a connection's datagrams until it closes. */
async function readDatagrams(connection: DenoQuicConn, onDatagram: (datagram: Uint8Array) => void): Promise<void> {
  for (;;) onDatagram(await connection.readDatagram());
}

/**
 * Deno's QUIC (`Deno.QuicEndpoint`, `Deno.connectQuic`), client and server
 * in a Deno process.
 *
 * 0-RTT: Deno's client cannot say whether the server accepted its early
 * data (`handshake` drops quinn's answer). This peer's server, in the same
 * process, can: a server that accepts with `zeroRtt` gets the connection
 * before its handshake completes, and a stream that reaches it before then
 * can only have come as 0-RTT data (RFC 9001 §5.7: 1-RTT data is not
 * processed before the handshake completes). A stream that comes after is
 * counted as rejected, which errs only towards "not accepted".
 */
export class DenoQuicPeer implements Peer {
  readonly name = 'deno-quic' as const;
  readonly #pki: BenchPki;
  #api: DenoQuicApi | undefined;
  /** The one client endpoint that 0-RTT connections share: it keeps the session tickets. */
  #resuming: DenoQuicEndpoint | undefined;
  /** What a 0-RTT-enabled server saw of the latest connection from each client address. */
  readonly #earlyData = new Map<string, EarlyDataState>();

  constructor(pki: BenchPki) {
    this.#pki = pki;
  }

  get #deno(): DenoQuicApi {
    this.#api ??= denoQuic();
    return this.#api;
  }

  listen(options: ListenOptions = {}): Promise<PeerServer> {
    const endpoint = new this.#deno.QuicEndpoint({ hostname: '127.0.0.1', port: 0 });
    const listener = endpoint.listen({ alpnProtocols: [ALPN], key: this.#pki.key, cert: this.#pki.chain });
    let connections = 0;
    let datagrams = 0;
    const serve = (connection: DenoQuicConn): void => {
      connections += 1;
      void connection.closed.catch(ignore).finally(() => (connections -= 1));
      let handshakeDone = false;
      void connection.handshake.then(() => (handshakeDone = true), ignore);
      if (options.datagrams) {
        const count = datagramCounter(
          (report) => void connection.sendDatagram(report).catch(ignore),
          () => (datagrams += 1),
        );
        readDatagrams(connection, count).catch(ignore);
      }
      void (async () => {
        let first = true;
        for await (const stream of connection.incomingBidirectionalStreams) {
          if (first && options.earlyData) this.#earlyData.set(addressKey(connection.remoteAddr), handshakeDone ? 'rejected' : 'accepted');
          first = false;
          answer(webPipe(stream)).catch(ignore);
        }
      })().catch(ignore);
    };
    void (async () => {
      for await (const incoming of listener) {
        if (options.earlyData) serve(incoming.accept({ zeroRtt: true }));
        else incoming.accept().then(serve, ignore);
      }
    })().catch(ignore);
    return Promise.resolve({
      port: endpoint.addr.port,
      connections: () => connections,
      datagramsReceived: () => datagrams,
      close: () => {
        listener.stop();
        endpoint.close();
        return Promise.resolve();
      },
    });
  }

  async connect(port: number, options: ConnectOptions = {}): Promise<PeerConnection> {
    const endpoint = options.earlyData ? (this.#resuming ??= new this.#deno.QuicEndpoint({ hostname: '127.0.0.1', port: 0 })) : undefined;
    const attempt = this.#deno.connectQuic({
      hostname: '127.0.0.1',
      port,
      serverName: SERVER_NAME,
      alpnProtocols: [ALPN],
      caCerts: [this.#pki.ca],
      ...(endpoint ? { endpoint, zeroRtt: true } : {}),
    });
    // A connection returned at once is sending 0-RTT data; a promise is a
    // full handshake, and settles when it is complete.
    const sentEarly = !(attempt instanceof Promise);
    const connection = await attempt;
    let channel: DatagramChannel | undefined;
    return {
      // Waits for stream credit rather than failing at the peer's limit, as the other peers do.
      openStream: async () => webPipe(await connection.createBidirectionalStream({ waitUntilAvailable: true })),
      datagrams(): DatagramChannel {
        if (!channel) {
          const reported = reportedChannel(
            () => connection.maxDatagramSize,
            (data) => void connection.sendDatagram(data).catch(ignore),
          );
          readDatagrams(connection, reported.report).catch(ignore);
          channel = reported.channel;
        }
        return channel;
      },
      earlyData: async (): Promise<EarlyDataState> => {
        await connection.handshake;
        if (!sentEarly || !endpoint) return 'notAttempted';
        return this.#earlyData.get(addressKey(endpoint.addr)) ?? 'pending';
      },
      close: () => {
        connection.close();
        return connection.closed.then(ignore, ignore);
      },
    };
  }
}
