import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';

import { listen, type ListenOptions, type QuicServer } from '../../lib/index';
import type { TestLeaf } from './certs';

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A server on 127.0.0.1 that echoes every bidirectional stream back. */
export function startEchoServer(leaf: TestLeaf, options: Partial<ListenOptions> = {}): Promise<QuicServer> {
  return listen(
    { address: '127.0.0.1', port: 0, cert: leaf.chainPem, key: leaf.keyPem, alpn: ['echo'], ...options },
    async (connection) => {
      for await (const stream of connection.streams()) stream.pipe(stream);
    },
  );
}
