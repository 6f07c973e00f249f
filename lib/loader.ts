import type { Backend, BackendName } from './backend';
import { quicError } from './errors';
import { loadNativeBackend } from './native-backend';
import { packageVersion } from './package-root';
import { loadWasmBackend } from './wasm-backend';

const loaders: Record<BackendName, () => Backend> = {
  native: loadNativeBackend,
  wasm: loadWasmBackend,
};

const hints: Record<BackendName, string> = {
  native:
    'reinstall quicbridge for this platform (npm installs the prebuilt addon it ships), build it from source with `npm run build:native`, ' +
    'point QUICBRIDGE_NATIVE_PATH at a quicbridge .node file, or use the WebAssembly backend (QUICBRIDGE_BACKEND=wasm)',
  wasm: 'reinstall quicbridge, build it with `npm run build:wasm`, or point QUICBRIDGE_WASM_PATH at wasm/pkg/quicbridge_wasm.js',
};

/** Addons were switched off on purpose (`node --no-addons`): no need to tell. */
function addonsDisabled(error: Error): boolean {
  return (error as NodeJS.ErrnoException).code === 'ERR_DLOPEN_DISABLED' || process.execArgv.includes('--no-addons');
}

let noticed = false;

/**
 * Falling back from native to wasm costs speed: say so, once, in one line.
 * QUICBRIDGE_BACKEND=wasm (a deliberate choice) or QUICBRIDGE_QUIET=1 silence it.
 */
function noticeFallback(cause: Error): void {
  if (noticed || addonsDisabled(cause) || process.env.QUICBRIDGE_QUIET === '1') return;
  noticed = true;
  process.stderr.write(`quicbridge: using the wasm backend, the native one does not load (${describe(cause)}); QUICBRIDGE_QUIET=1 silences this\n`);
}

const loaded = new Map<BackendName, Backend>();
const failed = new Map<BackendName, Error>();

function describe(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0] ?? message;
}

function tryLoad(name: BackendName): Backend | Error {
  const cached = loaded.get(name) ?? failed.get(name);
  if (cached) return cached;
  try {
    const backend = loaders[name]();
    if (backend.version !== packageVersion) {
      throw new Error(`${backend.path} is version ${backend.version}, this package is ${packageVersion}; rebuild it`);
    }
    loaded.set(name, backend);
    return backend;
  } catch (error) {
    const failure = error instanceof Error ? error : new Error(String(error));
    failed.set(name, failure);
    return failure;
  }
}

function isBackendName(value: string): value is BackendName {
  return value === 'native' || value === 'wasm';
}

/** The backend `QUICBRIDGE_BACKEND` asks for, if any. */
function forcedBackend(): BackendName | undefined {
  const value = process.env.QUICBRIDGE_BACKEND;
  if (value === undefined || value === '') return undefined;
  if (!isBackendName(value)) {
    throw quicError('ERR_QUIC_INVALID_ARG', `QUICBRIDGE_BACKEND must be "native" or "wasm", got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * Loads a backend. With a name (or QUICBRIDGE_BACKEND set) exactly that
 * one, or an error saying why not; otherwise native first, then wasm.
 */
export function loadBackend(name?: BackendName): Backend {
  if (name !== undefined && !isBackendName(name)) {
    throw quicError('ERR_QUIC_INVALID_ARG', `backend must be "native" or "wasm", got ${JSON.stringify(name)}`);
  }
  const wanted = name ?? forcedBackend();
  if (wanted) {
    const result = tryLoad(wanted);
    if (result instanceof Error) {
      throw quicError(
        'ERR_QUIC_BACKEND_UNAVAILABLE',
        `the ${wanted} backend could not be loaded: ${describe(result)}; ${hints[wanted]}`,
        {},
        { cause: result },
      );
    }
    return result;
  }
  const causes: string[] = [];
  for (const candidate of ['native', 'wasm'] as const) {
    const result = tryLoad(candidate);
    if (!(result instanceof Error)) {
      const native = failed.get('native');
      if (candidate === 'wasm' && native) noticeFallback(native);
      return result;
    }
    causes.push(`  - ${candidate}: ${describe(result)} (${hints[candidate]})`);
  }
  throw quicError(
    'ERR_QUIC_NO_BACKEND',
    `no quicbridge backend could be loaded on ${process.platform}-${process.arch} (node ${process.version}):\n${causes.join('\n')}`,
  );
}

export interface BackendStatus {
  name: BackendName;
  loaded: boolean;
  path?: string;
  error?: string;
}

/** Which backends load here, and why the others do not. */
export function backendStatus(): BackendStatus[] {
  return (['native', 'wasm'] as const).map((name) => {
    const result = tryLoad(name);
    return result instanceof Error
      ? { name, loaded: false, error: describe(result) }
      : { name, loaded: true, path: result.path };
  });
}
