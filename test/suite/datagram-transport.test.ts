import { randomBytes } from 'node:crypto';

import test from 'ava';

import { connect, listen, QuicBackendError, type QuicError } from '../../lib/index';
import { suiteBackend } from '../helpers/backend';
import { createPki } from '../helpers/certs';
import { readAll, sha256 } from '../helpers/echo';
import { MemoryNetwork } from '../helpers/memory-network';

const backend = suiteBackend();

if (backend === 'wasm') {
  test('two endpoints talk over an in-memory datagram transport, with no sockets at all', async (t) => {
    const { ca, server: leaf } = await createPki();
    const network = new MemoryNetwork();
    const server = await listen(
      { cert: leaf.chainPem, key: leaf.keyPem, alpn: 'echo', datagramTransport: network.transport('10.0.0.1', 4433) },
      async (connection) => {
        for await (const stream of connection.streams()) stream.pipe(stream);
      },
    );
    t.deepEqual(server.address, { address: '10.0.0.1', port: 4433 });
    t.is(server.backend, 'wasm');
    const client = await connect({
      host: '10.0.0.1', port: 4433, servername: 'localhost', ca: ca.certPem, alpn: 'echo',
      datagramTransport: network.transport('10.0.0.2', 50000),
    });
    t.deepEqual(client.localAddress, { address: '10.0.0.2', port: 50000 });
    const payload = randomBytes(1 << 20);
    const stream = await client.openStream();
    const echoed = readAll(stream);
    stream.end(payload);
    t.is(sha256(await echoed), sha256(payload));
    t.true(network.delivered > 1000 / 1.5, `${network.delivered} datagrams crossed the in-memory network`);
    await t.throwsAsync(client.rebind(), { code: 'ERR_QUIC_BACKEND_UNSUPPORTED' });
    await client.close();
    await server.close();
  });
} else {
  test('the native backend cannot run on a caller-supplied datagram transport, and says so', async (t) => {
    const { server: leaf } = await createPki();
    const network = new MemoryNetwork();
    const error = await t.throwsAsync(
      listen({ cert: leaf.chainPem, key: leaf.keyPem, alpn: 'echo', backend: 'native', datagramTransport: network.transport('10.0.0.1', 4433) }),
      { instanceOf: QuicBackendError },
    );
    t.is(error?.code, 'ERR_QUIC_BACKEND_UNSUPPORTED');
    t.regex(error?.message ?? '', /native backend owns its UDP sockets/);
  });
}

test('a malformed datagram transport is an invalid argument', async (t) => {
  const { server: leaf } = await createPki();
  const error = await t.throwsAsync<QuicError>(
    listen({ cert: leaf.chainPem, key: leaf.keyPem, alpn: 'echo', datagramTransport: { send: () => {} } as never }),
  );
  t.is(error?.code, 'ERR_QUIC_INVALID_ARG');
});
