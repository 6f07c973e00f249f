import fs from 'node:fs';
import path from 'node:path';

import type { Backend, BackendEndpoint, BackendMessageCodec, BoundEndpoint, KeyLogCallback } from './backend';
import { createUdpTransport, type DatagramTransport } from './datagram-transport';
import { quicError } from './errors';
import { packageRoot } from './package-root';

type Send = (data: Uint8Array, address: string, port: number) => void;

export interface WasmEndpoint extends BackendEndpoint {
  receive(datagram: Uint8Array, address: string, port: number): void;
  rebind(send: Send, localAddress: string, localPort: number): void;
}

export interface WasmBinding extends BackendMessageCodec {
  version(): string;
  generateCertificate(options: string): string;
  WasmEndpoint: new (send: Send, localAddress: string, localPort: number, options: string, keylog?: KeyLogCallback) => WasmEndpoint;
}

export const defaultWasmPath = path.join(packageRoot, 'wasm', 'pkg', 'quicbridge_wasm.js');

/**
 * A wasm endpoint on any datagram transport; `openTransport` supplies the
 * transports it rebinds to.
 */
export function endpointOnTransport(
  binding: WasmBinding,
  transport: DatagramTransport,
  options: string,
  keylog: KeyLogCallback | undefined,
  openTransport: (address: string, port: number) => Promise<DatagramTransport>,
): BoundEndpoint {
  const send = (t: DatagramTransport): Send => (data, address, port) => t.send(data, address, port);
  const endpoint = new binding.WasmEndpoint(send(transport), transport.localAddress.address, transport.localAddress.port, options, keylog);
  const receive = (data: Uint8Array, address: string, port: number) => endpoint.receive(data, address, port);
  transport.onDatagram(receive);
  let current = transport;
  // The transport before the last rebind stays open, and what arrives on it
  // still reaches the endpoint: the peer goes on sending to our old address
  // until a packet from the new one reaches it, and closing at once lost
  // that whole flight. quinn peers resend it; quiche 0.18 never declares
  // lost what it sent on a path it has since left, so the stream stalled
  // for good. This is the lifetime core gives the native binding's previous
  // socket: until the next rebind or the release.
  let previous: DatagramTransport | undefined;
  return {
    endpoint,
    async rebind(address, port) {
      const next = await openTransport(address, port);
      try {
        endpoint.rebind(send(next), next.localAddress.address, next.localAddress.port);
      } catch (error) {
        await next.close();
        throw error;
      }
      next.onDatagram(receive);
      const retired = previous;
      previous = current;
      current = next;
      await retired?.close();
    },
    release: async () => {
      endpoint.release();
      await Promise.all([current.close(), previous?.close()]);
    },
  };
}

/**
 * Loads the wasm module (wasm-bindgen's Node.js glue, which compiles the
 * module synchronously): from `QUICBRIDGE_WASM_PATH` when set, else from
 * wasm/pkg/. Throws what loading threw; the loader adds context.
 */
export function loadWasmBackend(): Backend {
  const file = process.env.QUICBRIDGE_WASM_PATH ?? defaultWasmPath;
  if (!fs.existsSync(file)) {
    throw new Error(`${file} does not exist (build it with \`npm run build:wasm\`)`);
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const binding = require(file) as WasmBinding;
  if (typeof binding.version !== 'function' || typeof binding.WasmEndpoint !== 'function') {
    throw new Error(`${file} is not the quicbridge wasm module (no WasmEndpoint)`);
  }
  return {
    name: 'wasm',
    path: file,
    version: binding.version(),
    messages: binding,
    generateCertificate: (options) => binding.generateCertificate(options),
    async bind(address, port, options, keylog): Promise<BoundEndpoint> {
      const transport = await createUdpTransport(address, port);
      try {
        return endpointOnTransport(binding, transport, options, keylog, createUdpTransport);
      } catch (error) {
        await transport.close();
        throw error;
      }
    },
    bindTransport(transport, options, keylog): BoundEndpoint {
      return endpointOnTransport(binding, transport, options, keylog, () =>
        Promise.reject(quicError('ERR_QUIC_BACKEND_UNSUPPORTED', 'rebind() needs a socket quicbridge opens itself; this endpoint runs on a caller-supplied datagram transport')),
      );
    },
  };
}
