import { createHash, randomBytes } from 'node:crypto';

import test from 'ava';

import { connectedPair } from '../helpers/echo';
import { settle } from '../helpers/settle';

const TOTAL = 256 << 20;
const CHUNK = 64 * 1024;
const MiB = 1 << 20;

test('a paused reader stalls a writer pushing 256 MiB; memory does not grow; everything arrives byte-exact', async (t) => {
  t.timeout(10 * 60_000);
  const { client, serverSide, close } = await connectedPair();
  const baseline = process.memoryUsage.rss();
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);

  // 256 MiB generated from one random block with a counter, hashed as written.
  const block = randomBytes(CHUNK);
  const sentHash = createHash('sha256');
  let accepted = 0;
  const stream = await client.openUniStream();
  const writer = (async () => {
    for (let offset = 0; offset < TOTAL; offset += CHUNK) {
      const chunk = Buffer.from(block);
      chunk.writeUInt32BE(offset / CHUNK, 0);
      sentHash.update(chunk);
      const more = stream.write(chunk, () => (accepted += CHUNK));
      if (!more) await new Promise((resolve) => stream.once('drain', resolve));
    }
    await new Promise<void>((resolve) => stream.end(resolve));
  })();

  const incoming = await serverSide.acceptUniStream();
  incoming.pause();
  const stalledAt = await settle(() => accepted, 10);
  const stalledRss = process.memoryUsage.rss();
  // Windows (16 MiB send + 2 MiB stream receive) and stream buffers, not 256 MiB.
  t.true(stalledAt < 40 * MiB, `writer stalled after ${stalledAt / MiB} MiB`);
  t.true(stalledAt > 0);
  t.true(stalledRss - baseline < 128 * MiB, `RSS grew ${((stalledRss - baseline) / MiB).toFixed(1)} MiB while stalled`);

  const receivedHash = createHash('sha256');
  let received = 0;
  for await (const chunk of incoming) {
    receivedHash.update(chunk as Buffer);
    received += (chunk as Buffer).length;
  }
  await writer;
  clearInterval(sampler);
  t.is(received, TOTAL);
  t.is(receivedHash.digest('hex'), sentHash.digest('hex'));
  t.true(peak - baseline < 192 * MiB, `RSS peaked ${((peak - baseline) / MiB).toFixed(1)} MiB above the start for a 256 MiB transfer`);
  await close();
});
