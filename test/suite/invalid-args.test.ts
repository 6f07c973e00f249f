import test from 'ava';

import { connect, listen, QuicEndpoint, QuicError, type QuicConnection, type QuicErrorCode, type QuicServer, type QuicStream } from '../../lib/index';
import type { TestCa, TestLeaf } from '../helpers/certs';
import { connectedPair } from '../helpers/echo';

/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-assignment -- wrong types on purpose */

interface Fixture {
  ca: TestCa;
  leaf: TestLeaf;
  server: QuicServer;
  client: QuicConnection;
  stream: QuicStream;
  closedClient: QuicConnection;
}

type Case = [name: string, call: (f: Fixture) => unknown, code?: QuicErrorCode];

const ok = (f: Fixture) => ({ cert: f.leaf.chainPem, key: f.leaf.keyPem, alpn: 'echo' });
const to = (f: Fixture) => ({ host: '127.0.0.1', port: f.server.address.port, servername: 'localhost', ca: f.ca.certPem, alpn: 'echo' });

const cases: Case[] = [
  ['listen(null)', () => listen(null as any)],
  ['listen("x")', () => listen('x' as any)],
  ['listen address not an IP', (f) => listen({ ...ok(f), address: 'example.com' })],
  ['listen port -1', (f) => listen({ ...ok(f), port: -1 })],
  ['listen port 70000', (f) => listen({ ...ok(f), port: 70000 })],
  ['listen port 1.5', (f) => listen({ ...ok(f), port: 1.5 })],
  ['listen port "80"', (f) => listen({ ...ok(f), port: '80' as any })],
  ['listen cert missing', (f) => listen({ ...ok(f), cert: undefined as any })],
  ['listen cert not PEM', (f) => listen({ ...ok(f), cert: 'not a certificate' })],
  ['listen key a number', (f) => listen({ ...ok(f), key: 42 as any })],
  ['listen key not PEM', (f) => listen({ ...ok(f), key: '-----BEGIN NOTHING-----' })],
  ['listen alpn []', (f) => listen({ ...ok(f), alpn: [] })],
  ['listen alpn [""]', (f) => listen({ ...ok(f), alpn: [''] })],
  ['listen alpn 300 bytes', (f) => listen({ ...ok(f), alpn: ['x'.repeat(300)] })],
  ['listen transport unknown field', (f) => listen({ ...ok(f), transport: { idleTimeout: 5 } as any })],
  ['listen transport negative', (f) => listen({ ...ok(f), transport: { idleTimeoutMs: -1 } })],
  ['listen transport initialMtu 100', (f) => listen({ ...ok(f), transport: { initialMtu: 100 } })],
  ['listen transport window 2^40', (f) => listen({ ...ok(f), transport: { receiveWindow: 2 ** 40 } })],
  ['listen transport congestionControl vegas', (f) => listen({ ...ok(f), transport: { congestionControl: 'vegas' as any } })],
  ['listen transport keepAlive 0', (f) => listen({ ...ok(f), transport: { keepAliveIntervalMs: 0 } })],
  ['listen clientAuth not an object', (f) => listen({ ...ok(f), clientAuth: 'yes' as any })],
  ['listen clientAuth ca not PEM', (f) => listen({ ...ok(f), clientAuth: { ca: 'nope' } })],
  ['listen maxConnections 0', (f) => listen({ ...ok(f), maxConnections: 0 })],
  ['listen earlyData "yes"', (f) => listen({ ...ok(f), earlyData: 'yes' as any })],
  ['listen keylog 5', (f) => listen({ ...ok(f), keylog: 5 as any })],
  ['listen backend quantum', (f) => listen({ ...ok(f), backend: 'quantum' as any })],
  ['listen onConnection 5', (f) => listen(ok(f), 5 as any)],
  ['connect(undefined)', () => connect(undefined as any)],
  ['connect host ""', (f) => connect({ ...to(f), host: '' })],
  ['connect host 5', (f) => connect({ ...to(f), host: 5 as any })],
  ['connect port 0', (f) => connect({ ...to(f), port: 0 })],
  ['connect port 65536', (f) => connect({ ...to(f), port: 65536 })],
  ['connect family 5', (f) => connect({ ...to(f), family: 5 as any })],
  ['connect no ca', (f) => connect({ ...to(f), ca: undefined })],
  ['connect ca 5', (f) => connect({ ...to(f), ca: 5 as any })],
  ['connect ca not PEM', (f) => connect({ ...to(f), ca: 'garbage' })],
  ['connect servername ""', (f) => connect({ ...to(f), servername: '' })],
  ['connect servername invalid', (f) => connect({ ...to(f), servername: 'a b\u0000c' })],
  ['connect alpn 5', (f) => connect({ ...to(f), alpn: 5 as any })],
  ['connect cert without key', (f) => connect({ ...to(f), cert: f.leaf.certPem })],
  ['connect insecureSkipVerify "true"', (f) => connect({ ...to(f), insecureSkipVerify: 'true' as any })],
  ['connect signal "x"', (f) => connect({ ...to(f), signal: 'x' as any })],
  ['connect localAddress bad', (f) => connect({ ...to(f), localAddress: 'nowhere' })],
  ['connect transport mtuDiscovery "on"', (f) => connect({ ...to(f), transport: { mtuDiscovery: 'on' as any } })],
  ['connect reuseEndpoint "no"', (f) => connect({ ...to(f), reuseEndpoint: 'no' as any })],
  ['QuicEndpoint.bind address bad', () => QuicEndpoint.bind({ address: 'nowhere' })],
  ['QuicEndpoint.bind port 70000', () => QuicEndpoint.bind({ port: 70000 })],
  ['QuicEndpoint.bind maxUdpPayloadSize 1000', () => QuicEndpoint.bind({ maxUdpPayloadSize: 1000 })],
  ['QuicEndpoint.bind backend "gpu"', () => QuicEndpoint.bind({ backend: 'gpu' as any })],
  ['QuicEndpoint.bind options 5', () => QuicEndpoint.bind(5 as any)],
  ['server.accept signal 5', (f) => f.server.accept({ signal: 5 as any })],
  ['server.close(-1)', (f) => f.server.close(-1)],
  ['server.close(0, 5)', (f) => f.server.close(0, 5 as any)],
  ['connection.close(-1)', (f) => f.client.close(-1)],
  ['connection.close(1.5)', (f) => f.client.close(1.5)],
  ['connection.close(2^53)', (f) => f.client.close(2 ** 53)],
  ['connection.close(0, 5)', (f) => f.client.close(0, 5 as any)],
  ['connection.close reason too long', (f) => f.client.close(0, 'x'.repeat(2000))],
  ['connection.openStream signal 1', (f) => f.client.openStream({ signal: 1 as any })],
  ['connection.openUniStream(null)', (f) => f.client.openUniStream(null as any)],
  ['connection.acceptStream signal {}', (f) => f.client.acceptStream({ signal: {} as any })],
  ['connection.streams signal 1', (f) => f.client.streams({ signal: 1 as any })],
  ['connection.sendDatagram(5)', (f) => f.client.sendDatagram(5 as any)],
  ['connection.rebind port -1', (f) => f.client.rebind({ port: -1 })],
  ['connection.rebind address bad', (f) => f.client.rebind({ address: 'x' })],
  ['stream.reset(-1)', (f) => f.stream.reset(-1)],
  ['stream.reset("x")', (f) => f.stream.reset('x' as any)],
  ['stream.stopSending(1.5)', (f) => f.stream.stopSending(1.5)],
  ['closed connection: openStream', (f) => f.closedClient.openStream(), 'ERR_QUIC_CONNECTION_CLOSED'],
  ['closed connection: openUniStream', (f) => f.closedClient.openUniStream(), 'ERR_QUIC_CONNECTION_CLOSED'],
  ['closed connection: acceptStream', (f) => f.closedClient.acceptStream(), 'ERR_QUIC_CONNECTION_CLOSED'],
  ['closed connection: sendDatagram', (f) => f.closedClient.sendDatagram('x'), 'ERR_QUIC_CONNECTION_CLOSED'],
  ['closed connection: rebind', (f) => f.closedClient.rebind(), 'ERR_QUIC_INVALID_STATE'],
];

let fixture: Fixture;

test.before(async () => {
  const pair = await connectedPair();
  const stream = await pair.client.openStream();
  const other = await connectedPair();
  await other.client.close(0, 'closed for the test');
  await other.server.close();
  fixture = { ca: pair.ca, leaf: pair.leaf, server: pair.server, client: pair.client, stream, closedClient: other.client };
});

for (const [name, call, code = 'ERR_QUIC_INVALID_ARG' as QuicErrorCode] of cases) {
  test(`${name} → ${code}`, async (t) => {
    let outcome: unknown;
    try {
      outcome = await call(fixture);
    } catch (error) {
      t.true(error instanceof QuicError, `a QuicError, got ${String(error)}`);
      t.is((error as QuicError).code, code, (error as Error).message);
      return;
    }
    t.fail(`expected ${code}, but it succeeded with ${String(outcome)}`);
  });
}

test.after.always(async () => {
  await fixture?.server.close();
});
