import path from 'node:path';

import type * as Quicbridge from '../lib/index';

/**
 * quicbridge as it ships: the compiled JavaScript in dist/ that `npm pack`
 * packs, not lib/'s TypeScript run through tsx, whose transform wraps every
 * function it creates in a naming helper — a per-closure cost (about 15 %
 * of an in-process request/response) that users never pay.
 */
export function shippedQuicbridge(): typeof Quicbridge {
  const entry = path.join(__dirname, '..', 'dist', 'index.js');
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(entry) as typeof Quicbridge;
  } catch (error) {
    throw new Error(`could not load ${entry} (${(error as Error).message}): run \`npm run build:ts\` (scripts/bench.sh does)`);
  }
}
