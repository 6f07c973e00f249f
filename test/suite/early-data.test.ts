import test from 'ava';

import { connect, type QuicServer } from '../../lib/index';
import { createPki, type TestCa } from '../helpers/certs';
import { listenTest, readAll } from '../helpers/echo';

// The client session cache is per process: these tests run one at a time.

async function firstVisit(server: QuicServer, ca: TestCa): Promise<void> {
  const accepted = server.accept();
  const client = await connect({ host: '127.0.0.1', port: server.address.port, servername: 'localhost', ca: ca.certPem, alpn: 'echo', earlyData: true });
  const serverSide = (await accepted)!;
  const stream = await client.openStream();
  stream.end('first');
  const incoming = await serverSide.acceptStream();
  incoming.end(await readAll(incoming));
  await readAll(stream); // the session ticket has arrived by now
  await client.close();
}

test.serial('resumed with 0-RTT: the second connection sends its request before the handshake completes', async (t) => {
  const { ca, server: leaf } = await createPki();
  const server = await listenTest(leaf, { earlyData: true });
  await firstVisit(server, ca);

  const accepted = server.accept();
  const client = await connect({ host: '127.0.0.1', port: server.address.port, servername: 'localhost', ca: ca.certPem, alpn: 'echo', earlyData: true });
  // 'pending' until the handshake completes (on the native backend it may already have).
  t.true(['pending', 'accepted'].includes(client.earlyData), client.earlyData);
  const stream = await client.openStream();
  stream.end('GET /early');
  const serverSide = (await accepted)!;
  const incoming = await serverSide.acceptStream();
  t.true(incoming.early, 'the server received the stream in 0-RTT data');
  t.is((await readAll(incoming)).toString(), 'GET /early');
  incoming.end('200 early');
  t.is((await readAll(stream)).toString(), '200 early');
  t.is(await client.handshakeComplete, 'accepted');
  t.is(client.earlyData, 'accepted');
  await client.close();
  await server.close();
});

test.serial('0-RTT rejected by a server that cannot resume the session is visible to the caller', async (t) => {
  const { ca, server: leaf } = await createPki();
  const issuer = await listenTest(leaf, { earlyData: true });
  await firstVisit(issuer, ca);
  await issuer.close();
  // Another server instance under the same name knows nothing of that ticket.
  const other = await listenTest(leaf, { earlyData: true });
  const client = await connect({ host: '127.0.0.1', port: other.address.port, servername: 'localhost', ca: ca.certPem, alpn: 'echo', earlyData: true });
  t.not(client.earlyData, 'notAttempted');
  const stream = await client.openStream();
  stream.on('error', () => {});
  stream.end('replayable?');
  t.is(await client.handshakeComplete, 'rejected');
  t.is(client.earlyData, 'rejected');
  await client.close();
  await other.close();
});

test.serial('without earlyData on the client, no 0-RTT is attempted', async (t) => {
  const { ca, server: leaf } = await createPki();
  const server = await listenTest(leaf, { earlyData: true });
  await firstVisit(server, ca);
  const client = await connect({ host: '127.0.0.1', port: server.address.port, servername: 'localhost', ca: ca.certPem, alpn: 'echo' });
  t.is(client.earlyData, 'notAttempted');
  t.is(await client.handshakeComplete, 'notAttempted');
  await client.close();
  await server.close();
});
