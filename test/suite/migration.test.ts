import { randomBytes } from 'node:crypto';

import test, { type ExecutionContext } from 'ava';

import type { PathChange } from '../../lib/index';
import { connectedPair, readAll, sha256 } from '../helpers/echo';

async function transferWithRebind(t: ExecutionContext, rebindTo: { address?: string }) {
  const { client, serverSide, close } = await connectedPair();
  const changes: PathChange[] = [];
  serverSide.on('pathChange', (change) => changes.push(change));
  const before = client.localAddress;

  const payload = randomBytes(10 << 20);
  const stream = await client.openUniStream();
  const received = serverSide.acceptUniStream().then(readAll);
  const half = payload.length / 2;
  await new Promise<void>((resolve, reject) => stream.write(payload.subarray(0, half), (e) => (e ? reject(e) : resolve())));
  const after = await client.rebind(rebindTo);
  stream.end(payload.subarray(half));
  t.is(sha256(await received), sha256(payload), 'the transfer completed byte-exact across the rebinding');

  t.not(after.port, before.port);
  if (rebindTo.address) t.is(after.address, rebindTo.address);
  // The server's view follows the client to its new path.
  for (let i = 0; i < 50 && changes.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
  t.deepEqual(serverSide.remoteAddress, after);
  t.true(changes.length >= 1, 'the server saw a path change');
  t.deepEqual(changes.at(-1)?.current, after);
  t.deepEqual(changes[0]?.previous, before);
  await close();
}

test('the client rebinds to a new local port mid-transfer; the server sees the path change', (t) => transferWithRebind(t, {}));

test('the client moves to a new local address (127.0.0.2) mid-transfer', (t) => transferWithRebind(t, { address: '127.0.0.2' }));

test('only connections that own their socket can rebind', async (t) => {
  const { serverSide, close } = await connectedPair();
  await t.throwsAsync(serverSide.rebind(), { code: 'ERR_QUIC_INVALID_STATE' });
  await close();
});
