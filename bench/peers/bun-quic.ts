import { createPrivateKey } from 'node:crypto';

import { ALPN, SERVER_NAME } from '../config';
import type { BenchPki } from '../pki';
import { answer } from '../protocol';
import {
  type BunQuicModule,
  type BunQuicSession,
  type BunQuicStream,
  type BunTransportParams,
  DRAINABLE,
  loadBunQuic,
} from './bun-quic-api';
import { datagramCounter, reportedChannel } from './datagrams';
import type { ConnectOptions, DatagramChannel, EarlyDataState, ListenOptions, Peer, PeerConnection, PeerServer, Pipe } from './types';

/**
 * Room for one 1200-byte datagram in a DATAGRAM frame: the default
 * maxDatagramFrameSize is 1200, which leaves less than that for the payload.
 */
const DATAGRAM_PARAMS: BunTransportParams = { maxDatagramFrameSize: 1500 };

/**
 * Every client of the benchmark comes from 127.0.0.1: Bun's defaults (at
 * most 100 connections and 50 new sessions a second from one address) would
 * refuse the handshake and idle-memory workloads' connections.
 */
const ONE_HOST_LIMITS = { maxConnectionsPerHost: 0, sessionCreationRate: 1e6, sessionCreationBurst: 1e6 };
/** Bun's largest connection limit. */
const MAX_CONNECTIONS = 65535;

const ignore = (): void => {};

/** A Bun QuicStream as a Pipe. */
function bunPipe(stream: BunQuicStream): Pipe {
  return {
    async write(chunk: Uint8Array): Promise<void> {
      const writer = stream.writer;
      while (!writer.writeSync(chunk)) {
        const drained = writer[DRAINABLE]();
        if (drained === null) throw new Error(`the stream took no more data (desiredSize ${String(writer.desiredSize)})`);
        await drained;
      }
    },
    async end(): Promise<void> {
      await stream.writer.end();
    },
    async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
      for await (const batch of stream) yield* batch;
    },
  };
}

function earlyDataState(session: BunQuicSession): Promise<EarlyDataState> {
  return session.opened.then(({ earlyDataAttempted, earlyDataAccepted }) =>
    earlyDataAccepted ? 'accepted' : earlyDataAttempted ? 'rejected' : 'notAttempted',
  );
}

/** Bun's built-in `node:quic`, client and server in a Bun process. */
export class BunQuicPeer implements Peer {
  readonly name = 'bun-quic' as const;
  readonly datagramSizeLimit =
    `Bun ${process.versions.bun ?? '?'} sends QUIC packets of at most 1200 bytes on this path ` +
    '(raising maxDatagramFrameSize, maxUdpPayloadSize and maxPayloadSize to 1500 leaves maxDatagramSize at 1150; 1150-byte datagrams do arrive)';
  readonly #pki: BenchPki;
  #quic: Promise<BunQuicModule> | undefined;
  /** The latest session ticket from each server (by port), for resuming with 0-RTT. */
  readonly #tickets = new Map<number, Uint8Array>();

  constructor(pki: BenchPki) {
    this.#pki = pki;
  }

  #module(): Promise<BunQuicModule> {
    this.#quic ??= loadBunQuic();
    return this.#quic;
  }

  async listen(options: ListenOptions = {}): Promise<PeerServer> {
    const quic = await this.#module();
    let connections = 0;
    let datagrams = 0;
    const endpoint = await quic.listen(
      (session) => {
        connections += 1;
        // A client that goes away only ends its own session.
        session.onerror = ignore;
        void session.closed.catch(ignore).finally(() => (connections -= 1));
        session.onstream = (stream) => {
          answer(bunPipe(stream)).catch(() => stream.destroy());
        };
        if (options.datagrams) {
          session.ondatagram = datagramCounter(
            (report) => void session.sendDatagram(report).catch(ignore),
            () => (datagrams += 1),
          );
        }
      },
      {
        endpoint: {
          address: '127.0.0.1:0',
          ...ONE_HOST_LIMITS,
          ...(options.maxConnections !== undefined ? { maxConnectionsTotal: Math.min(options.maxConnections, MAX_CONNECTIONS) } : {}),
        },
        alpn: [ALPN],
        sni: { '*': { keys: [createPrivateKey(this.#pki.key)], certs: [Buffer.from(this.#pki.chain)] } },
        ...(options.datagrams ? { transportParams: DATAGRAM_PARAMS } : {}),
      },
    );
    const port = endpoint.address?.port;
    if (port === undefined) throw new Error('the endpoint is not bound');
    return {
      port,
      connections: () => connections,
      datagramsReceived: () => datagrams,
      close: async () => {
        endpoint.destroy();
        await endpoint.closed.catch(ignore);
      },
    };
  }

  async connect(port: number, options: ConnectOptions = {}): Promise<PeerConnection> {
    const quic = await this.#module();
    const ticket = options.earlyData ? this.#tickets.get(port) : undefined;
    const session = await quic.connect(`127.0.0.1:${port}`, {
      alpn: ALPN,
      servername: SERVER_NAME,
      ca: [Buffer.from(this.#pki.ca)],
      verifyPeer: 'strict',
      ...(ticket ? { sessionTicket: ticket } : {}),
      ...(options.datagrams ? { transportParams: DATAGRAM_PARAMS } : {}),
    });
    // Errors after the handshake surface on the streams.
    session.onerror = ignore;
    if (options.earlyData) session.onsessionticket = (next) => this.#tickets.set(port, next);
    // connect() resolves before the handshake; with a ticket the request
    // is to go out as 0-RTT data, so only a full handshake is waited for.
    if (!ticket) await session.opened;
    let channel: DatagramChannel | undefined;
    return {
      openStream: async () => bunPipe(await session.createBidirectionalStream()),
      datagrams(): DatagramChannel {
        if (!channel) {
          const reported = reportedChannel(
            () => session.maxDatagramSize,
            (data) => void session.sendDatagram(data).catch(ignore),
          );
          session.ondatagram = reported.report;
          channel = reported.channel;
        }
        return channel;
      },
      earlyData: () => earlyDataState(session),
      close: () => session.close().catch(ignore),
    };
  }
}
