import { setTimeout as sleep } from 'node:timers/promises';

export { sleep };

/** Tells the harness what is going on (one JSON line on stdout). */
export type Progress = (message: string) => void;

export const stdoutProgress: Progress = (message) => {
  process.stdout.write(JSON.stringify({ progress: message }) + '\n');
};

export interface Round {
  index: number;
  warmup: boolean;
  label: string;
}

/** `warmup` discarded rounds, then `samples` measured ones. */
export function rounds({ samples, warmup }: { samples: number; warmup: number }): Round[] {
  return Array.from({ length: warmup + samples }, (_, index) => ({
    index,
    warmup: index < warmup,
    label: index < warmup ? `warm-up ${index + 1}/${warmup}` : `sample ${index - warmup + 1}/${samples}`,
  }));
}

export class StallError extends Error {}

/** `promise`, or a StallError once `ms` have passed. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StallError(`${what} did not finish within ${ms / 1000} s (stalled)`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function errorMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0] ?? message;
}

/** Full garbage collections (the process runs with --expose-gc), then a pause. */
export async function collectGarbage(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  for (let i = 0; i < 3; i++) {
    gc();
    await sleep(50);
  }
}

/** Runs `task` `count` times, `parallel` at a time. */
export async function inParallel(count: number, parallel: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, worker));
}

export function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${bytes / (1024 * 1024)} MiB` : `${bytes / 1024} KiB`;
}
