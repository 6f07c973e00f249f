/**
 * Polls `read` until its value stops changing (the same for `stableFor`
 * consecutive polls): how a test tells that a transfer has stalled, without
 * asserting anything about time.
 */
export async function settle(read: () => number, stableFor = 6, intervalMs = 50): Promise<number> {
  let last = read();
  let stable = 0;
  while (stable < stableFor) {
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
    const now = read();
    stable = now === last ? stable + 1 : 0;
    last = now;
  }
  return last;
}
