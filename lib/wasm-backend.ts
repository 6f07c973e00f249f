import fs from 'node:fs';
import path from 'node:path';

import type { Backend, BackendEndpoint, BoundEndpoint } from './backend';
import { createUdpTransport, type DatagramTransport } from './datagram-transport';
import { packageRoot } from './package-root';

interface WasmEndpoint extends BackendEndpoint {
  receive(datagram: Uint8Array, address: string, port: number): void;
}

interface WasmBinding {
  version(): string;
  WasmEndpoint: new (
    send: (data: Uint8Array, address: string, port: number) => void,
    localAddress: string,
    localPort: number,
    options: string,
  ) => WasmEndpoint;
}

export const defaultWasmPath = path.join(packageRoot, 'wasm', 'pkg', 'quicbridge_wasm.js');

/** A wasm endpoint on any datagram transport. */
export function endpointOnTransport(binding: WasmBinding, transport: DatagramTransport, options: string): BoundEndpoint {
  const endpoint = new binding.WasmEndpoint(
    (data, address, port) => transport.send(data, address, port),
    transport.localAddress.address,
    transport.localAddress.port,
    options,
  );
  transport.onDatagram((data, address, port) => endpoint.receive(data, address, port));
  return { endpoint, release: () => transport.close() };
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
    async bind(address: string, port: number, options: string): Promise<BoundEndpoint> {
      const transport = await createUdpTransport(address, port);
      try {
        return endpointOnTransport(binding, transport, options);
      } catch (error) {
        await transport.close();
        throw error;
      }
    },
  };
}
