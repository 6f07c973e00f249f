import { webcrypto } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import type * as LoggerModule from '@matrixai/logger' with { 'resolution-mode': 'import' };
import type * as QuicModule from '@matrixai/quic' with { 'resolution-mode': 'import' };

import { ALPN, SERVER_NAME } from '../config';
import type { BenchPki } from '../pki';
import { answer } from '../protocol';
import { webPipe } from './pipes';
import type { Peer, PeerConnection, PeerServer } from './types';

// @matrixai/quic is an ES module; this file is loaded as CommonJS.
async function modules(): Promise<{ quic: typeof QuicModule; logger: typeof LoggerModule }> {
  const [quic, logger] = await Promise.all([import('@matrixai/quic'), import('@matrixai/logger')]);
  return { quic, logger };
}

/** HMAC over webcrypto: what the server signs its retry tokens with. */
const hmac = { name: 'HMAC', hash: 'SHA-256' } as const;

async function hmacKey(raw: ArrayBuffer): Promise<webcrypto.CryptoKey> {
  return webcrypto.subtle.importKey('raw', raw, hmac, false, ['sign', 'verify']);
}

/** @matrixai/quic 2.0.9 from npm: quiche (Rust) through napi-rs, with its UDP socket in JavaScript (node:dgram). */
export class MatrixaiPeer implements Peer {
  readonly name = 'matrixai-quic' as const;
  readonly noDatagrams =
    '@matrixai/quic 2.0.9 has no datagram API: QUICConnection cannot send or receive RFC 9221 datagrams (only its internal quiche binding has dgramSend)';
  readonly noEarlyData =
    '@matrixai/quic 2.0.9 has no session-ticket API: QUICClient cannot resume a session, so it cannot send 0-RTT data';
  readonly #pki: BenchPki;

  constructor(pki: BenchPki) {
    this.#pki = pki;
  }

  async listen(): Promise<PeerServer> {
    const { quic, logger } = await modules();
    const secret = (await webcrypto.subtle.generateKey(hmac, true, ['sign', 'verify'])) as webcrypto.CryptoKey;
    const key = await webcrypto.subtle.exportKey('raw', secret);
    const server = new quic.QUICServer({
      crypto: {
        key,
        ops: {
          sign: async (k: ArrayBuffer, data: ArrayBuffer) => webcrypto.subtle.sign('HMAC', await hmacKey(k), data),
          verify: async (k: ArrayBuffer, data: ArrayBuffer, sig: ArrayBuffer) =>
            webcrypto.subtle.verify('HMAC', await hmacKey(k), sig, data),
        },
      },
      config: { key: this.#pki.key, cert: this.#pki.chain, verifyPeer: false, applicationProtos: [ALPN] },
      logger: new logger.default('matrixai-server', logger.LogLevel.SILENT),
    });
    let connections = 0;
    server.addEventListener(quic.events.EventQUICServerConnection.name, (event: Event) => {
      const connection = (event as InstanceType<typeof quic.events.EventQUICServerConnection>).detail;
      connections += 1;
      void connection.closedP.then(() => {
        connections -= 1;
      });
      connection.addEventListener(quic.events.EventQUICConnectionStream.name, (streamEvent: Event) => {
        const stream = (streamEvent as InstanceType<typeof quic.events.EventQUICConnectionStream>).detail;
        answer(webPipe(stream)).catch(() => {
          stream.cancel();
        });
      });
    });
    await server.start({ host: '127.0.0.1', port: 0 });
    return {
      port: server.port,
      connections: () => connections,
      datagramsReceived: () => 0,
      close: () => server.stop({ force: true }),
    };
  }

  async connect(port: number): Promise<PeerConnection> {
    const { quic, logger } = await modules();
    const client = await quic.QUICClient.createQUICClient({
      host: '127.0.0.1',
      port,
      serverName: SERVER_NAME,
      localHost: '127.0.0.1',
      crypto: {
        ops: {
          randomBytes: (data: ArrayBuffer) => {
            webcrypto.getRandomValues(new Uint8Array(data));
            return Promise.resolve();
          },
        },
      },
      config: { ca: this.#pki.ca, verifyPeer: true, applicationProtos: [ALPN] },
      logger: new logger.default('matrixai-client', logger.LogLevel.SILENT),
    });
    let limited: string | undefined;
    return {
      openStream: async () => {
        // newStream() throws at the peer's stream limit instead of waiting
        // for more credit (quicbridge and http2 wait): retry, as a caller must.
        for (;;) {
          try {
            return webPipe(client.connection.newStream('bidi'));
          } catch (error) {
            if (error instanceof quic.errors.ErrorQUICStreamLimit) {
              limited = error.message;
              await sleep(1);
              continue;
            }
            if (limited === undefined || !(error instanceof Error)) throw error;
            throw new Error(`newStream() threw "${limited}", and once retried: "${error.message}"`, { cause: error });
          }
        }
      },
      datagrams: () => this.noDatagrams,
      earlyData: () => this.noEarlyData,
      close: () => client.destroy({ force: true }),
    };
  }
}
