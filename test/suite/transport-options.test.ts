// initialCongestionWindow and maxUdpPayloadSize: the transport settings the
// agentic-flow compatibility layer maps its `initialCongestionWindow` and
// `maxDatagramSize` onto. Each is shown to change what quinn does, not only
// to be accepted.
import test from 'ava';

import { connect, type QuicError, type TransportOptions } from '../../lib/index';
import { createPki } from '../helpers/certs';
import { connectedPair, startEchoServer } from '../helpers/echo';

const MIB = 1 << 20;

test('initialCongestionWindow: a connection starts with the window it was given', async (t) => {
  const big = await connectedPair({}, { transport: { initialCongestionWindow: MIB } });
  t.true(big.client.stats.congestionWindow >= MIB, `window ${big.client.stats.congestionWindow}`);
  await big.close();
  // The control: quinn's own initial window (12 000 bytes) plus what the handshake's acknowledgements added.
  const plain = await connectedPair();
  t.true(plain.client.stats.congestionWindow < MIB / 4, `window ${plain.client.stats.congestionWindow}`);
  await plain.close();
});

test('initialCongestionWindow applies to every congestion controller', async (t) => {
  for (const congestionControl of ['cubic', 'newreno', 'bbr'] as const) {
    const pair = await connectedPair({}, { transport: { initialCongestionWindow: 2 * MIB, congestionControl } });
    t.true(pair.client.stats.congestionWindow >= 2 * MIB, `${congestionControl}: window ${pair.client.stats.congestionWindow}`);
    await pair.close();
  }
});

test('maxUdpPayloadSize on the server: the client sends no larger datagrams than it advertised', async (t) => {
  const client = { transport: { initialMtu: 1400, mtuDiscovery: false } };
  const limited = await connectedPair({ transport: { maxUdpPayloadSize: 1300 } }, client);
  t.is(limited.client.stats.mtu, 1300);
  await limited.close();
  const unlimited = await connectedPair({}, client);
  t.is(unlimited.client.stats.mtu, 1400);
  await unlimited.close();
});

test("maxUdpPayloadSize on the client: the server follows the client's limit", async (t) => {
  const server = { transport: { initialMtu: 1400, mtuDiscovery: false } };
  const limited = await connectedPair(server, { transport: { maxUdpPayloadSize: 1300 } });
  t.is(limited.serverSide.stats.mtu, 1300);
  t.true((limited.serverSide.maxDatagramSize ?? Infinity) < 1300, 'datagrams shrink with the path');
  await limited.close();
  const unlimited = await connectedPair(server);
  t.is(unlimited.serverSide.stats.mtu, 1400);
  await unlimited.close();
});

test('both are range-checked, and the error names the field', async (t) => {
  const { ca, server: leaf } = await createPki();
  const server = await startEchoServer(leaf);
  const attempt = (transport: TransportOptions) =>
    connect({ host: '127.0.0.1', port: server.address.port, servername: 'localhost', ca: ca.certPem, alpn: 'echo', transport });
  const cases: [TransportOptions, RegExp][] = [
    [{ maxUdpPayloadSize: 1199 }, /maxUdpPayloadSize/],
    [{ maxUdpPayloadSize: 65528 }, /maxUdpPayloadSize/],
    [{ maxUdpPayloadSize: 0 }, /maxUdpPayloadSize/],
    [{ maxUdpPayloadSize: 1300, initialMtu: 1400 }, /initialMtu.*maxUdpPayloadSize/],
    [{ initialCongestionWindow: 0 }, /initialCongestionWindow/],
    [{ initialCongestionWindow: 1199 }, /initialCongestionWindow/],
    [{ initialCongestionWindow: 2 ** 31 }, /initialCongestionWindow/],
  ];
  for (const [transport, field] of cases) {
    const error = await t.throwsAsync<QuicError>(attempt(transport), undefined, JSON.stringify(transport));
    t.is(error?.code, 'ERR_QUIC_INVALID_ARG');
    t.regex(error?.message ?? '', field);
  }
  await server.close();
});
