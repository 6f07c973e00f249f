import type { NodePeerName } from '../config';
import type { BenchPki } from '../pki';
import { Http2Peer } from './http2';
import { MatrixaiPeer } from './matrixai';
import { QuicbridgePeer } from './quicbridge';
import type { Peer } from './types';

export function makePeer(name: NodePeerName, pki: BenchPki): Peer {
  switch (name) {
    case 'native':
    case 'wasm':
      return new QuicbridgePeer(name, pki);
    case 'node-http2':
      return new Http2Peer(pki);
    case 'matrixai-quic':
      return new MatrixaiPeer(pki);
  }
}
