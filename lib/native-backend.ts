import path from 'node:path';

import type { Backend, BackendEndpoint, BackendMessageCodec, BoundEndpoint, KeyLogCallback } from './backend';
import { packageRoot } from './package-root';

export interface NativeEndpoint extends BackendEndpoint {
  rebind(address: string, port: number): Promise<void>;
}

export interface NativeBinding extends BackendMessageCodec {
  version(): string;
  generateCertificate(options: string): string;
  NativeEndpoint: {
    bind(address: string, port: number, options: string, keylog?: KeyLogCallback | null): Promise<NativeEndpoint>;
  };
}

/** The C library this Linux process runs on, as prebuild file names tag it. */
function libc(): 'glibc' | 'musl' | undefined {
  if (process.platform !== 'linux') return undefined;
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return report?.header?.glibcVersionRuntime ? 'glibc' : 'musl';
}

/** The prebuild this platform needs, in node-gyp-build's layout. */
export function expectedPrebuild(): { file: string; platform: string; arch: string; libc: string | undefined } {
  const c = libc();
  const name = ['quicbridge', 'napi', ...(c ? [c] : []), 'node'].join('.');
  return {
    file: path.join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`, name),
    platform: process.platform,
    arch: process.arch,
    libc: c,
  };
}

/**
 * Loads the napi addon: from `QUICBRIDGE_NATIVE_PATH` when set, else through
 * node-gyp-build from prebuilds/<platform>-<arch>/. Throws what loading
 * threw; the loader adds context.
 */
export function loadNativeBackend(): Backend {
  const override = process.env.QUICBRIDGE_NATIVE_PATH;
  let file: string;
  let binding: NativeBinding;
  if (override) {
    file = override;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    binding = require(override) as NativeBinding;
  } else {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const nodeGypBuild = require('node-gyp-build') as { (dir: string): NativeBinding; resolve(dir: string): string };
    try {
      file = nodeGypBuild.resolve(packageRoot);
    } catch {
      const expected = expectedPrebuild();
      throw new Error(
        `no prebuilt addon for ${expected.platform}-${expected.arch}${expected.libc ? ` (${expected.libc})` : ''}: looked for ${expected.file}`,
      );
    }
    binding = nodeGypBuild(packageRoot);
  }
  if (typeof binding.version !== 'function' || typeof binding.NativeEndpoint?.bind !== 'function') {
    throw new Error(`${file} is not a quicbridge addon (no NativeEndpoint.bind)`);
  }
  return {
    name: 'native',
    path: file,
    version: binding.version(),
    messages: binding,
    generateCertificate: (options) => binding.generateCertificate(options),
    async bind(address, port, options, keylog): Promise<BoundEndpoint> {
      const endpoint = await binding.NativeEndpoint.bind(address, port, options, keylog ?? null);
      return {
        endpoint,
        rebind: (newAddress, newPort) => endpoint.rebind(newAddress, newPort),
        release: () => Promise.resolve(endpoint.release()),
      };
    },
  };
}
