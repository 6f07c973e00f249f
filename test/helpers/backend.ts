import type { BackendName } from '../../lib/index';

/** The backend this run of the suite is for (QUICBRIDGE_BACKEND). */
export function suiteBackend(): BackendName {
  const name = process.env.QUICBRIDGE_BACKEND;
  if (name !== 'native' && name !== 'wasm') {
    throw new Error('run the suite with QUICBRIDGE_BACKEND=native or QUICBRIDGE_BACKEND=wasm (npm test does both)');
  }
  return name;
}
