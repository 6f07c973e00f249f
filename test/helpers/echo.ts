import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';

import test from 'ava';

import { connect, listen, type ConnectOptions, type ListenOptions, type QuicConnection, type QuicServer } from '../../lib/index';
import { serverBackend } from './backend';
import { createPki, type TestCa, type TestLeaf } from './certs';

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const openServers = new Set<QuicServer>();

// A test that fails midway leaves its server open, and an open server keeps
// the worker process alive; close whatever is left once the file is done.
test.after.always('close the servers tests left open', async () => {
  await Promise.all([...openServers].map((server) => server.close()));
});

/** Listens on 127.0.0.1 with the suite's server backend. */
export async function listenTest(
  leaf: TestLeaf,
  options: Partial<ListenOptions> = {},
  onConnection?: (connection: QuicConnection) => void | Promise<void>,
): Promise<QuicServer> {
  const server = await listen(
    { address: '127.0.0.1', port: 0, cert: leaf.chainPem, key: leaf.keyPem, alpn: ['echo'], backend: serverBackend(), ...options },
    onConnection,
  );
  openServers.add(server);
  return server;
}

/** A server that echoes every bidirectional stream back. */
export function startEchoServer(leaf: TestLeaf, options: Partial<ListenOptions> = {}): Promise<QuicServer> {
  return listenTest(leaf, options, async (connection) => {
    for await (const stream of connection.streams()) stream.pipe(stream);
  });
}

export interface Pair {
  ca: TestCa;
  leaf: TestLeaf;
  server: QuicServer;
  client: QuicConnection;
  /** The server's side of `client`. */
  serverSide: QuicConnection;
  close: () => Promise<void>;
}

/** A server (no handler: the test drives the server side) and one client connected to it. */
export async function connectedPair(
  serverOptions: Partial<ListenOptions> = {},
  clientOptions: Partial<ConnectOptions> = {},
): Promise<Pair> {
  const { ca, server: leaf } = await createPki();
  const server = await listenTest(leaf, serverOptions);
  const accepted = server.accept();
  const client = await connect({
    host: '127.0.0.1', port: server.address.port, servername: 'localhost', ca: ca.certPem, alpn: 'echo', ...clientOptions,
  });
  const serverSide = await accepted;
  if (!serverSide) throw new Error('server closed before accepting');
  return {
    ca, leaf, server, client, serverSide,
    close: async () => {
      await client.close().catch(() => undefined);
      await server.close();
    },
  };
}
