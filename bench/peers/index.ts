import type { JsPeerName } from '../config';
import type { BenchPki } from '../pki';
import type { Peer } from './types';

/**
 * The peer called `name`. Each peer's module is loaded only when asked for:
 * a child runs in the peer's own runtime (Bun, Deno), which must not load
 * the others' (quicbridge's addon, @matrixai/quic). The `.js` names are what
 * an ES import of a TypeScript file is spelled as here; Node (tsx), Bun and
 * Deno all map them to the `.ts` files.
 */
export async function makePeer(name: JsPeerName, pki: BenchPki): Promise<Peer> {
  switch (name) {
    case 'native':
    case 'wasm':
      return new (await import('./quicbridge.js')).QuicbridgePeer(name, pki);
    case 'node-http2':
      return new (await import('./http2.js')).Http2Peer(pki);
    case 'matrixai-quic':
      return new (await import('./matrixai.js')).MatrixaiPeer(pki);
    case 'bun-quic':
      return new (await import('./bun-quic.js')).BunQuicPeer(pki);
    case 'deno-quic':
      return new (await import('./deno-quic.js')).DenoQuicPeer(pki);
  }
}
