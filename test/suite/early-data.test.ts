import test from 'ava';

import { connect, type QuicError, type QuicServer } from '../../lib/index';
import { createPki, type TestCa } from '../helpers/certs';
import { listenTest, readAll } from '../helpers/echo';
import { startRelay, type Relay } from '../helpers/relay';

// The client session cache is per process: these tests run one at a time.
// Traffic goes through a relay adding 25 ms each way, so that the handshake
// takes long enough for a request to be written before it completes (on
// bare loopback a threaded backend may finish it before JavaScript writes).

async function firstVisit(server: QuicServer, relay: Relay, ca: TestCa): Promise<void> {
  const accepted = server.accept();
  const client = await connect({ host: '127.0.0.1', port: relay.address.port, servername: 'localhost', ca: ca.certPem, alpn: 'echo', earlyData: true });
  t0Check(client.earlyData);
  const serverSide = (await accepted)!;
  const stream = await client.openStream();
  stream.end('first');
  const incoming = await serverSide.acceptStream();
  incoming.end(await readAll(incoming));
  await readAll(stream); // the session ticket has arrived by now
  await client.close();
}

function t0Check(state: string): void {
  if (state !== 'notAttempted') throw new Error(`a first visit cannot use 0-RTT, got ${state}`);
}

async function delayedServer(earlyData: boolean) {
  const { ca, server: leaf } = await createPki();
  const server = await listenTest(leaf, { earlyData });
  const relay = await startRelay({ target: server.address, toServer: { delayMs: 25 }, toClient: { delayMs: 25 } });
  return { ca, leaf, server, relay };
}

test.serial('resumed with 0-RTT: the second connection sends its request in 0-RTT packets', async (t) => {
  const { ca, server, relay } = await delayedServer(true);
  await firstVisit(server, relay, ca);
  const zeroRttBefore = relay.stats().toServer.types['0-RTT'] ?? 0;

  const accepted = server.accept();
  const client = await connect({ host: '127.0.0.1', port: relay.address.port, servername: 'localhost', ca: ca.certPem, alpn: 'echo', earlyData: true });
  t.is(client.earlyData, 'pending', 'connect() resolved before the handshake completed');
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
  const zeroRttPackets = (relay.stats().toServer.types['0-RTT'] ?? 0) - zeroRttBefore;
  t.true(zeroRttPackets >= 1, `0-RTT datagrams on the wire: ${zeroRttPackets}`);
  await client.close();
  await relay.close();
  await server.close();
});

test.serial('0-RTT rejected by a server that cannot resume the session is visible to the caller', async (t) => {
  const issuer = await delayedServer(true);
  await firstVisit(issuer.server, issuer.relay, issuer.ca);
  await issuer.relay.close();
  await issuer.server.close();
  // Another server instance under the same name knows nothing of that ticket.
  const other = await listenTest(issuer.leaf, { earlyData: true });
  const relay = await startRelay({ target: other.address, toServer: { delayMs: 25 }, toClient: { delayMs: 25 } });
  const client = await connect({ host: '127.0.0.1', port: relay.address.port, servername: 'localhost', ca: issuer.ca.certPem, alpn: 'echo', earlyData: true });
  t.is(client.earlyData, 'pending');
  const stream = await client.openStream();
  stream.end('replayable?');
  const reply = readAll(stream);
  t.is(await client.handshakeComplete, 'rejected');
  t.is(client.earlyData, 'rejected');
  // The stream was discarded with the rejected 0-RTT data: the caller must resend.
  const error = await t.throwsAsync<QuicError>(reply);
  t.is(error?.code, 'ERR_QUIC_EARLY_DATA_REJECTED');
  await client.close();
  await relay.close();
  await other.close();
});

test.serial('without earlyData on the client, no 0-RTT is attempted', async (t) => {
  const { ca, server, relay } = await delayedServer(true);
  await firstVisit(server, relay, ca);
  const client = await connect({ host: '127.0.0.1', port: relay.address.port, servername: 'localhost', ca: ca.certPem, alpn: 'echo' });
  t.is(client.earlyData, 'notAttempted');
  t.is(await client.handshakeComplete, 'notAttempted');
  await client.close();
  await relay.close();
  await server.close();
});
