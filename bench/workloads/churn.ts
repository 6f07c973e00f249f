import type { Params } from '../config';
import type { Peer } from '../peers/types';
import { exchange, requestBytes } from '../protocol';
import type { Report } from '../results';
import { collectGarbage, errorMessage, inParallel, type Progress, sleep, withTimeout } from './common';

const MiB = 1024 * 1024;
/** Each stream carries a 64-byte request and a 64-byte response. */
const TINY = 64;

/**
 * Opens and closes streams on one connection, `parallel` at a time, and
 * reports this process's RSS (client and server endpoints both live here)
 * after `small` and after `large` streams, each after full garbage collection.
 */
export async function churn(peer: Peer, params: Params, report: Report, progress: Progress): Promise<void> {
  const { small, large, parallel, budgetMs } = params.churn;
  const request = requestBytes(TINY, TINY);
  const server = await peer.listen();
  const connection = await peer.connect(server.port);
  try {
    let done = 0;
    const runTo = async (target: number): Promise<void> => {
      progress(`streams ${done}..${target}`);
      const count = target - done;
      let last = performance.now();
      await inParallel(count, parallel, async () => {
        await exchange(() => connection.openStream(), request, TINY);
        done += 1;
        if (performance.now() - last > 1000) {
          last = performance.now();
          progress(`streams ${done} of ${target}`);
        }
      });
    };
    const rssAfterGc = async (): Promise<number> => {
      await sleep(200);
      await collectGarbage();
      return process.memoryUsage().rss / MiB;
    };
    const start = performance.now();
    await withTimeout(runTo(small), budgetMs, `${small} streams`);
    const atSmall = await rssAfterGc();
    report.samples(`rss@${small}`, 'MiB', 'lower', [atSmall]);
    try {
      await withTimeout(runTo(large), budgetMs - (performance.now() - start), `${large} streams`);
    } catch (error) {
      const reason = `${errorMessage(error)}: ${done} of ${large} streams were done in ${Math.round(budgetMs / 1000)} s`;
      report.na(`rss@${large}`, reason);
      report.na('growth', reason);
      return;
    }
    const atLarge = await rssAfterGc();
    report.samples(`rss@${large}`, 'MiB', 'lower', [atLarge]);
    report.samples('growth', 'MiB', 'lower', [atLarge - atSmall]);
  } finally {
    await connection.close().catch(() => {});
    await server.close().catch(() => {});
  }
}
