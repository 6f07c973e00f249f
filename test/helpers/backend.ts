import type { BackendName } from '../../lib/index';

function backendFrom(variable: string, value: string | undefined): BackendName {
  if (value !== 'native' && value !== 'wasm') {
    throw new Error(`run the suite with ${variable}=native or ${variable}=wasm (npm test does every combination)`);
  }
  return value;
}

/**
 * The backend this run of the suite is for: QUICBRIDGE_BACKEND, which the
 * loader itself honours, so every connect() in the suite uses it.
 */
export function suiteBackend(): BackendName {
  return backendFrom('QUICBRIDGE_BACKEND', process.env.QUICBRIDGE_BACKEND);
}

/**
 * The backend servers run on: the suite's own, or in a cross-backend run
 * the other one (QUICBRIDGE_TEST_SERVER_BACKEND), so that the same tests
 * prove a native client talks to a wasm server and back.
 */
export function serverBackend(): BackendName {
  const cross = process.env.QUICBRIDGE_TEST_SERVER_BACKEND;
  return cross === undefined || cross === '' ? suiteBackend() : backendFrom('QUICBRIDGE_TEST_SERVER_BACKEND', cross);
}
