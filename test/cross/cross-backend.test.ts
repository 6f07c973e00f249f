import { randomBytes } from 'node:crypto';

import test from 'ava';

import { connect, listen, type BackendName, type QuicConnection } from '../../lib/index';
import { createPki } from '../helpers/certs';
import { readAll, sha256, startEchoServer } from '../helpers/echo';

const pairs: [client: BackendName, server: BackendName][] = [
  ['native', 'wasm'],
  ['wasm', 'native'],
];

for (const [clientBackend, serverBackend] of pairs) {
  const label = `${clientBackend} client ↔ ${serverBackend} server`;

  test(`${label}: 8 MiB echo and 20 concurrent streams, byte-exact`, async (t) => {
    const { ca, server: leaf } = await createPki();
    const server = await startEchoServer(leaf, { backend: serverBackend });
    t.is(server.backend, serverBackend);
    const connection = await connect({
      host: '127.0.0.1', port: server.address.port, servername: 'localhost', ca: ca.certPem, alpn: 'echo', backend: clientBackend,
    });
    t.is(connection.backend, clientBackend);
    t.is(connection.alpn, 'echo');

    const big = randomBytes(8 * 1024 * 1024);
    const stream = await connection.openStream();
    const received = readAll(stream);
    stream.end(big);
    t.is(sha256(await received), sha256(big));

    const payloads = Array.from({ length: 20 }, () => randomBytes(64 * 1024));
    const echoed = await Promise.all(
      payloads.map(async (payload) => {
        const s = await connection.openStream();
        const back = readAll(s);
        s.end(payload);
        return back;
      }),
    );
    echoed.forEach((bytes, i) => t.is(sha256(bytes), sha256(payloads[i]!)));

    await connection.close();
    await server.close();
  });

  test(`${label}: close code and reason cross over`, async (t) => {
    const { ca, server: leaf } = await createPki();
    let accepted!: (c: QuicConnection) => void;
    const serverSide = new Promise<QuicConnection>((resolve) => (accepted = resolve));
    const server = await listen(
      { address: '127.0.0.1', cert: leaf.chainPem, key: leaf.keyPem, alpn: 'x', backend: serverBackend },
      accepted,
    );
    const client = await connect({
      host: '127.0.0.1', port: server.address.port, servername: 'localhost', ca: ca.certPem, alpn: 'x', backend: clientBackend,
    });
    await client.close(1234, `from the ${clientBackend} client`);
    t.deepEqual(await (await serverSide).closed, {
      kind: 'application', code: 1234, reason: `from the ${clientBackend} client`, remote: true,
    });
    await server.close();
  });
}
