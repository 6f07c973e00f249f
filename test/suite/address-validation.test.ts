/**
 * Address validation (RFC 9000 §8.1): Retry on demand (`retry: 'always'`),
 * automatically above a rate of unvalidated handshakes (`retry: 'auto'`,
 * `retryThreshold`), or never; and in every case the anti-amplification
 * limit: before a client's address is validated the server sends it at most
 * three times what it received, as the relay's byte log shows.
 */
import test from 'ava';

import { connect, type ListenOptions, type QuicConnection } from '../../lib/index';
import { createCa, createPki, issueLeaf, type TestCa, type TestLeaf } from '../helpers/certs';
import { readAll, startEchoServer } from '../helpers/echo';
import { bytesBeforeValidation, startRelay, type LogEntry, type Relay } from '../helpers/relay';

async function setup(options: Partial<ListenOptions>, leaf?: TestLeaf, ca?: TestCa) {
  const pki = leaf && ca ? { ca, server: leaf } : await createPki();
  const server = await startEchoServer(pki.server, options);
  const relay = await startRelay({ target: server.address });
  const dial = () =>
    connect({ host: '127.0.0.1', port: relay.address.port, servername: 'localhost', ca: pki.ca.certPem, alpn: 'echo' });
  return { server, relay, dial, close: async () => (await relay.close(), await server.close()) };
}

async function echoOnce(client: QuicConnection, text: string): Promise<string> {
  const stream = await client.openStream();
  stream.end(text);
  return (await readAll(stream)).toString();
}

const retries = (relay: Relay) => relay.stats().toClient.types.Retry ?? 0;

/** Every client seen by the relay, with its pre-validation byte counts. */
function budgets(log: readonly LogEntry[]) {
  const clients = [...new Set(log.map((e) => e.client))];
  return clients.map((client) => ({ client, ...bytesBeforeValidation(log, client) }));
}

test("retry: 'always' answers a new client with Retry, and the client gets through", async (t) => {
  const { relay, dial, close } = await setup({ retry: 'always' });
  const client = await dial();
  t.is(await echoOnce(client, 'validated'), 'validated');
  t.is(retries(relay), 1);
  for (const b of budgets(relay.log)) t.true(b.toClient <= 3 * b.toServer, `${b.client}: ${b.toClient} B sent for ${b.toServer} B received`);
  await client.close();
  await close();
});

test("the default ('auto' at 1000 handshakes per second) does not retry a lone client", async (t) => {
  const { relay, dial, close } = await setup({});
  const client = await dial();
  t.is(await echoOnce(client, 'one round trip'), 'one round trip');
  t.is(retries(relay), 0);
  await client.close();
  await close();
});

test("retry: 'auto' switches Retry on for handshakes above retryThreshold per second", async (t) => {
  const { relay, dial, close } = await setup({ retry: 'auto', retryThreshold: 2 });
  // 20 handshakes at once: the first two fit the budget, most of the rest
  // arrive within the same second and must prove their address first.
  const clients = await Promise.all(Array.from({ length: 20 }, dial));
  const echoes = await Promise.all(clients.map((c, i) => echoOnce(c, `client ${i}`)));
  t.deepEqual(echoes, clients.map((_, i) => `client ${i}`));
  const seen = retries(relay);
  t.true(seen >= 1 && seen <= 18, `${seen} of 20 handshakes were retried`);
  for (const b of budgets(relay.log)) t.true(b.toClient <= 3 * b.toServer, `${b.client}: ${b.toClient} B sent for ${b.toServer} B received`);
  await Promise.all(clients.map((c) => c.close()));
  await close();
});

test("retry: 'never' sends no Retry even in a burst", async (t) => {
  const { relay, dial, close } = await setup({ retry: 'never', retryThreshold: 1 });
  const clients = await Promise.all(Array.from({ length: 10 }, dial));
  t.is(retries(relay), 0);
  await Promise.all(clients.map((c) => c.close()));
  await close();
});

test('anti-amplification: with a certificate chain too big for 3x, the server waits for validation', async (t) => {
  // ~6 KiB of certificate: the server's first flight is more than three
  // times the client's 1200-byte Initial, so the limit actually binds.
  const ca = await createCa();
  const names = ['localhost', ...Array.from({ length: 150 }, (_, i) => `name-${i}.amplification.quicbridge.test`)];
  const leaf = await issueLeaf(ca, names);
  const { relay, dial, close } = await setup({ retry: 'never' }, leaf, ca);
  const client = await dial();
  t.is(await echoOnce(client, 'big chain'), 'big chain');
  const [b] = budgets(relay.log);
  t.truthy(b);
  const handshakeToClient = relay.log
    .filter((e) => e.dir === 'toClient' && e.packets.some((p) => p === 'Initial' || p === 'Handshake'))
    .reduce((sum, e) => sum + e.size, 0);
  t.true(handshakeToClient > 3 * 1200, `the server's handshake flight is ${handshakeToClient} B`);
  t.true(b!.toClient <= 3 * b!.toServer, `before validation: ${b!.toClient} B sent for ${b!.toServer} B received`);
  await client.close();
  await close();
});

test('retry and retryThreshold are checked', async (t) => {
  const { server: leaf } = await createPki();
  for (const bad of [{ retry: 'sometimes' }, { retry: true }, { retryThreshold: 0 }, { retryThreshold: 1.5 }, { retryThreshold: 2e6 }]) {
    await t.throwsAsync(startEchoServer(leaf, bad as Partial<ListenOptions>), { code: 'ERR_QUIC_INVALID_ARG' }, JSON.stringify(bad));
  }
});
