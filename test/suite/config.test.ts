import { randomBytes } from 'node:crypto';

import test from 'ava';

import { connect, QuicConnectionError, type CongestionControl } from '../../lib/index';
import type { QuicError } from '../../lib/index';
import { serverBackend, suiteBackend } from '../helpers/backend';
import { createPki } from '../helpers/certs';
import { connectedPair, readAll, sha256, startEchoServer } from '../helpers/echo';
import { settle } from '../helpers/settle';

test('maxConnections: a client beyond the limit sees CONNECTION_REFUSED as a typed error', async (t) => {
  const { ca, server: leaf } = await createPki();
  const server = await startEchoServer(leaf, { maxConnections: 1 });
  const options = { host: '127.0.0.1', port: server.address.port, servername: 'localhost', ca: ca.certPem, alpn: 'echo' };
  const first = await connect(options);
  const error = await t.throwsAsync<QuicError>(connect(options), { instanceOf: QuicConnectionError });
  t.is(error?.code, 'ERR_QUIC_CONNECTION_REFUSED');
  t.is(server.connectionCount, 1);
  await first.close();
  await first.closed;
  await server.close();
});

for (const congestionControl of ['cubic', 'newreno', 'bbr'] satisfies CongestionControl[]) {
  test(`congestion controller ${congestionControl} moves 2 MiB byte-exact`, async (t) => {
    const transport = { congestionControl };
    const { client, serverSide, close } = await connectedPair({ transport }, { transport });
    const payload = randomBytes(2 << 20);
    (await client.openUniStream()).end(payload);
    t.is(sha256(await readAll(await serverSide.acceptUniStream())), sha256(payload));
    t.true(client.stats.congestionWindow > 0);
    await close();
  });
}

test('initialMtu sets the starting UDP payload size', async (t) => {
  const transport = { initialMtu: 1400, mtuDiscovery: false };
  const { client, close } = await connectedPair({ transport: { initialMtu: 1400 } }, { transport });
  t.is(client.stats.mtu, 1400);
  await close();
});

test("mtuDiscovery: on loopback (nothing fragments there) and where the socket sets don't-fragment; a typed error where datagrams may be fragmented", async (t) => {
  const { ca, server: leaf } = await createPki();
  const server = await startEchoServer(leaf);
  const options = {
    host: '127.0.0.1', port: server.address.port, servername: 'localhost', ca: ca.certPem, alpn: 'echo', transport: { mtuDiscovery: true },
  };
  const loopback = await connect(options);
  t.is(loopback.alpn, 'echo');
  await loopback.close();
  // A socket bound to every address: the wasm backend's node:dgram socket
  // cannot set don't-fragment, so probes there would prove nothing.
  const anyAddress = connect({ ...options, localAddress: '0.0.0.0' });
  if (suiteBackend() === 'native') {
    const client = await anyAddress;
    t.is(client.alpn, 'echo');
    await client.close();
  } else {
    const error = await t.throwsAsync<QuicError>(anyAddress);
    t.is(error?.code, 'ERR_QUIC_BACKEND_UNSUPPORTED');
    t.regex(error?.message ?? '', /don't-fragment/);
  }
  await server.close();
});

test('on loopback a client sends datagrams of up to 64 KiB from its first packet, as far as the server accepts them; none lost', async (t) => {
  const { client, serverSide, close } = await connectedPair();
  const payload = randomBytes(4 << 20);
  (await client.openUniStream()).end(payload);
  t.is(sha256(await readAll(await serverSide.acceptUniStream())), sha256(payload));
  const sent = client.stats;
  // Servers on loopback advertise 65 507 bytes (the largest IPv4 UDP
  // payload), on either backend; a native client's GSO batches of such
  // datagrams are cut into sends of at most 64 KiB.
  t.is(sent.mtu, 65_507);
  // From the first packet on, not only after a search.
  t.true(sent.datagramsSent <= Math.ceil(payload.length / (sent.mtu - 100)) + 100, `${sent.datagramsSent} datagrams for 4 MiB at MTU ${sent.mtu}`);
  t.is(sent.packetsLost, 0);
  await close();
});

test('with jumbo-sized datagrams (9000 bytes) the native GSO batches still arrive whole: byte-exact, none lost', async (t) => {
  // 10 x 9000 bytes is more than one send can carry: before the socket cut
  // batches, every full one was refused by the kernel and lost.
  const transport = { maxUdpPayloadSize: 9000, initialMtu: 9000 };
  const { client, serverSide, close } = await connectedPair({ transport }, { transport });
  const payload = randomBytes(8 << 20);
  (await client.openUniStream()).end(payload);
  t.is(sha256(await readAll(await serverSide.acceptUniStream())), sha256(payload));
  t.is(client.stats.mtu, 9000);
  t.is(client.stats.packetsLost, 0);
  await close();
});

test('receive windows bound what a peer that never reads can make us buffer', async (t) => {
  const { client, serverSide, close } = await connectedPair({ transport: { streamReceiveWindow: 64 * 1024, receiveWindow: 64 * 1024 } });
  const stream = await client.openStream();
  stream.on('error', () => {}); // the write is cut short when the test closes the connection
  stream.write(Buffer.alloc(2 << 20)); // far more than the window; the server never reads
  await serverSide.acceptStream();
  const received = await settle(() => serverSide.stats.bytesReceived);
  // The window, plus packet overhead, the handshake and MTU discovery's
  // probes (padding, up to 64 KiB in all): not the 2 MiB offered.
  t.true(received < 64 * 1024 + 96 * 1024, `server received ${received} UDP bytes`);
  await close();
});

test('the server backend and client backend are the ones this run is for', async (t) => {
  const { client, server, close } = await connectedPair();
  t.is(client.backend, suiteBackend());
  t.is(server.backend, serverBackend());
  await close();
});
