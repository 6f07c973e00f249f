import { randomBytes } from 'node:crypto';

import test from 'ava';

import { QuicDatagramError } from '../../lib/index';
import { connectedPair, sha256 } from '../helpers/echo';

test('datagrams go both ways: event on one side, async iterator on the other', async (t) => {
  const { client, serverSide, close } = await connectedPair();
  // The server echoes every datagram back (event form).
  serverSide.on('datagram', (data) => serverSide.sendDatagram(data));
  const sent = Array.from({ length: 10 }, (_, i) => Buffer.concat([Buffer.from([i]), randomBytes(1000)]));
  const received = new Map<number, string>();
  const iterate = (async () => {
    for await (const datagram of client.datagrams()) {
      received.set(datagram[0]!, sha256(datagram));
      if (received.size === sent.length) return;
    }
  })();
  for (const datagram of sent) client.sendDatagram(datagram);
  await iterate;
  t.is(received.size, sent.length);
  for (const datagram of sent) t.is(received.get(datagram[0]!), sha256(datagram));
  await close();
});

test('maxDatagramSize is known, and a larger datagram is refused with a typed error', async (t) => {
  // MTU discovery off on both sides: it could raise the limit between reading it and sending.
  const transport = { mtuDiscovery: false };
  const { client, close } = await connectedPair({ transport }, { transport });
  const max = client.maxDatagramSize;
  t.is(typeof max, 'number');
  t.true(max! >= 1000 && max! < client.stats.mtu, `max datagram size ${max}, MTU ${client.stats.mtu}`);
  t.notThrows(() => client.sendDatagram(Buffer.alloc(max!)));
  const error = t.throws(() => client.sendDatagram(Buffer.alloc(max! + 1)), { instanceOf: QuicDatagramError });
  t.is(error?.code, 'ERR_QUIC_DATAGRAM_TOO_LARGE');
  await close();
});

test('a peer that did not enable datagrams: typed error and no max size', async (t) => {
  const { client, close } = await connectedPair({ transport: { datagramReceiveBufferSize: 0 } });
  t.is(client.maxDatagramSize, undefined);
  const error = t.throws(() => client.sendDatagram('hello'), { instanceOf: QuicDatagramError });
  t.is(error?.code, 'ERR_QUIC_DATAGRAM_UNSUPPORTED');
  await close();
});

test('the datagram iterator ends when the connection closes', async (t) => {
  const { client, serverSide, close } = await connectedPair();
  const iterate = (async () => {
    let count = 0;
    for await (const _ of serverSide.datagrams()) count++;
    return count;
  })();
  client.sendDatagram('one');
  await new Promise((resolve) => serverSide.once('datagram', resolve));
  await client.close(0, 'done');
  t.true((await iterate) >= 1);
  await close();
});
