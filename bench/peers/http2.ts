import { once } from 'node:events';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';

import { SERVER_NAME } from '../config';
import type { BenchPki } from '../pki';
import { answer } from '../protocol';
import { duplexPipe } from './pipes';
import type { Peer, PeerConnection, PeerServer } from './types';

/**
 * HTTP/2's flow-control windows set to quicbridge's defaults (2 MiB per
 * stream, 16 MiB per connection) rather than HTTP/2's 64 KiB, so that bulk
 * transfer is not limited by a window the QUIC peers do not have.
 */
const STREAM_WINDOW = 2 * 1024 * 1024;
const CONNECTION_WINDOW = 16 * 1024 * 1024;
const settings: http2.Settings = { initialWindowSize: STREAM_WINDOW };

/** Node's http2 over TLS over TCP, the same certificate: what most users pick today. */
export class Http2Peer implements Peer {
  readonly name = 'node-http2' as const;
  readonly noDatagrams = 'HTTP/2 runs over TCP: it has no unreliable datagrams';
  readonly noEarlyData =
    "Node's TLS has no TLS 1.3 early data (0-RTT); a resumed TLS session over TCP still waits for the TCP and TLS round trips";
  readonly #pki: BenchPki;

  constructor(pki: BenchPki) {
    this.#pki = pki;
  }

  async listen(): Promise<PeerServer> {
    const server = http2.createSecureServer({ key: this.#pki.key, cert: this.#pki.chain, settings });
    const sessions = new Set<http2.ServerHttp2Session>();
    server.on('session', (session) => {
      sessions.add(session);
      session.once('close', () => sessions.delete(session));
      session.once('connect', () => session.setLocalWindowSize(CONNECTION_WINDOW));
    });
    server.on('stream', (stream) => {
      answer(duplexPipe(stream, () => stream.respond({ ':status': 200 }))).catch(() => stream.destroy());
    });
    // A session that fails (the client went away) only ends itself.
    server.on('sessionError', () => {});
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return {
      port: (server.address() as AddressInfo).port,
      connections: () => sessions.size,
      datagramsReceived: () => 0,
      close: async () => {
        for (const session of sessions) session.destroy();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      },
    };
  }

  async connect(port: number): Promise<PeerConnection> {
    const session = http2.connect(`https://127.0.0.1:${port}`, { ca: this.#pki.ca, servername: SERVER_NAME, settings });
    await new Promise<void>((resolve, reject) => {
      session.once('connect', () => resolve());
      session.once('error', reject);
    });
    session.setLocalWindowSize(CONNECTION_WINDOW);
    // Later errors surface on the streams.
    session.on('error', () => {});
    return {
      openStream: () => Promise.resolve(duplexPipe(session.request({ ':method': 'POST', ':path': '/' }))),
      datagrams: () => this.noDatagrams,
      earlyData: () => this.noEarlyData,
      close: () =>
        new Promise<void>((resolve) => {
          if (session.closed || session.destroyed) resolve();
          else session.close(() => resolve());
        }),
    };
  }
}
