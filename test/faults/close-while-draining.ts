/**
 * A program for the fault tests: a client and a server (backends from
 * QUICBRIDGE_BACKEND and QUICBRIDGE_TEST_SERVER_BACKEND) connect through a
 * relay that delays each datagram 3 s each way, then both close. With a
 * 6 s round trip a closed connection drains for three probe timeouts, over
 * half a minute, longer than close() waits (10 s) before it releases the
 * socket. Once both are closed nothing of quicbridge's may keep the process
 * alive: it must exit by itself, printing `{"event":"closed"}` first. If it
 * is still running 15 s later, it prints `{"event":"still-running"}` and
 * exits with code 3.
 */
import { connect, listen } from '../../lib/index';
import { serverBackend, suiteBackend } from '../helpers/backend';
import { createPki } from '../helpers/certs';
import { startRelay } from '../helpers/relay';

const STILL_RUNNING_AFTER_MS = 15_000;

function emit(event: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(event) + '\n');
}

async function main(): Promise<void> {
  const pki = await createPki();
  const server = await listen({
    address: '127.0.0.1', port: 0, cert: pki.server.chainPem, key: pki.server.keyPem, alpn: ['echo'], backend: serverBackend(),
  });
  const delay = { delayMs: 3000 };
  const relay = await startRelay({ target: server.address, toServer: delay, toClient: delay });
  const connection = await connect({
    host: '127.0.0.1', port: relay.address.port, servername: 'localhost', ca: pki.ca.certPem, alpn: 'echo', backend: suiteBackend(),
  });
  const started = Date.now();
  await Promise.all([connection.close(0, 'done'), server.close()]);
  await relay.close();
  emit({ event: 'closed', closeMs: Date.now() - started });
  setTimeout(() => {
    emit({ event: 'still-running', resources: process.getActiveResourcesInfo() });
    process.exit(3);
  }, STILL_RUNNING_AFTER_MS).unref();
}

main().catch((error: unknown) => {
  emit({ event: 'error', error: String(error) });
  process.exit(1);
});
