import { randomBytes, X509Certificate } from 'node:crypto';

import test from 'ava';

import { connectedPair, readAll } from '../helpers/echo';

test('both sides agree on addresses, ALPN and side', async (t) => {
  const { server, client, serverSide, close } = await connectedPair();
  t.deepEqual(client.remoteAddress, server.address);
  t.deepEqual(serverSide.remoteAddress, client.localAddress);
  t.is(serverSide.localAddress.port, server.address.port);
  t.is(client.alpn, 'echo');
  t.is(serverSide.alpn, 'echo');
  t.is(serverSide.servername, 'localhost');
  t.is(client.side, 'client');
  t.is(serverSide.side, 'server');
  t.is(client.earlyData, 'notAttempted');
  t.is(await client.handshakeComplete, 'notAttempted');
  await close();
});

test('the client sees the server certificate chain the server presented', async (t) => {
  const { client, serverSide, leaf, ca, close } = await connectedPair();
  const chain = client.peerCertificates;
  t.is(chain.length, 2);
  t.is(chain[0]!.fingerprint256, new X509Certificate(leaf.certPem).fingerprint256);
  t.is(chain[1]!.fingerprint256, new X509Certificate(ca.certPem).fingerprint256);
  t.deepEqual(serverSide.peerCertificates, [], 'no client certificate was asked for');
  await close();
});

test('stats are real: bytes and packets match what moved, RTT and window are set', async (t) => {
  const { client, serverSide, close } = await connectedPair();
  const payload = randomBytes(4 << 20);
  const stream = await client.openUniStream();
  stream.end(payload);
  const accepted = await serverSide.acceptUniStream();
  t.is((await readAll(accepted)).length, payload.length);

  const sent = client.stats;
  const received = serverSide.stats;
  t.true(sent.bytesSent >= payload.length, `sent ${sent.bytesSent} UDP bytes for ${payload.length} payload bytes`);
  t.true(sent.bytesSent < payload.length * 1.1 + sent.bytesLost + 100_000, 'overhead is QUIC headers, tags and retransmissions, not more');
  t.true(received.bytesReceived >= payload.length);
  // The largest datagram the two ends allow: on loopback both backends
  // advertise 65 507 bytes. The MTU can fall back during the transfer, so
  // the bound is on the whole of it.
  const ceiling = 65_507;
  // Each side's receive count is the other's send count (nothing is lost on loopback, but allow in-flight packets).
  t.true(Math.abs(received.bytesReceived - sent.bytesSent) <= sent.bytesLost + 10 * ceiling);
  t.true(sent.packetsSent >= payload.length / ceiling, 'one packet carries at most one MTU');
  t.true(sent.bytesSent / sent.datagramsSent <= ceiling, `${sent.bytesSent} bytes in ${sent.datagramsSent} datagrams`);
  t.true(sent.datagramsSent <= sent.packetsSent + 10);
  t.true(sent.smoothedRttMs > 0 && sent.minRttMs > 0);
  t.true(sent.minRttMs <= sent.smoothedRttMs);
  t.true(sent.congestionWindow > 0);
  t.true(sent.mtu >= 1200);
  t.is(sent.packetsLost === 0, sent.bytesLost === 0);
  await close();
});
