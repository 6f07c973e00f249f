import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';

import { isMeasured, type Measured } from './results';

export const REPO_ROOT = path.resolve(__dirname, '..');

/**
 * Arguments that run a TypeScript file of this repository in a new Node
 * process. QUICBRIDGE_BENCH_NODE_ARGS adds Node options to every such
 * process (e.g. `--cpu-prof --cpu-prof-dir=prof` to profile the peers).
 */
export function nodeArgs(file: string, args: string[], options: { exposeGc?: boolean; plain?: boolean } = {}): string[] {
  const extra = options.plain ? [] : (process.env.QUICBRIDGE_BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  return [...extra, ...(options.exposeGc ? ['--expose-gc'] : []), '--import', 'tsx', path.join(REPO_ROOT, file), ...args];
}

/** A child process that speaks JSON lines on stdout. */
export class LineProcess {
  readonly child: ChildProcess;
  readonly #lines: unknown[] = [];
  readonly #waiters = new Set<() => void>();
  #stderr = '';
  #exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  readonly exited: Promise<void>;

  constructor(command: string, args: string[], onLine?: (line: unknown) => void) {
    this.child = spawn(command, args, { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    readline.createInterface({ input: this.child.stdout! }).on('line', (text) => {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        return; // not ours (a library printing)
      }
      onLine?.(value);
      this.#lines.push(value);
      this.#wake();
    });
    this.child.stderr!.on('data', (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString()).slice(-4000);
    });
    // Writing to a child that died is reported by `exited`, not thrown.
    this.child.stdin!.on('error', () => {});
    this.exited = new Promise((resolve) => {
      this.child.once('close', (code, signal) => {
        this.#exited = { code, signal };
        this.#wake();
        resolve();
      });
      this.child.once('error', (error) => {
        this.#stderr += `\n${error.message}`;
        this.#exited = { code: null, signal: null };
        this.#wake();
        resolve();
      });
    });
  }

  #wake(): void {
    for (const waiter of this.#waiters) waiter();
  }

  /** Why the process ended, in a line. */
  describeExit(): string {
    const tail = this.#stderr.trim().split('\n').slice(-3).join(' | ');
    const how = this.#exited
      ? this.#exited.signal
        ? `killed by ${this.#exited.signal}`
        : `exited with code ${this.#exited.code}`
      : 'still running';
    return tail ? `${how}: ${tail}` : how;
  }

  send(line: string): void {
    this.child.stdin!.write(line + '\n');
  }

  /** The next line (from now on, or already received and not taken) that `accept` takes. */
  next<T>(accept: (line: unknown) => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const check = (): boolean => {
        while (this.#lines.length > 0) {
          let found: T | undefined;
          try {
            found = accept(this.#lines.shift());
          } catch (error) {
            done();
            reject(error instanceof Error ? error : new Error(String(error)));
            return true;
          }
          if (found !== undefined) {
            done();
            resolve(found);
            return true;
          }
        }
        if (this.#exited) {
          done();
          reject(new Error(`${what}: the process ${this.describeExit()}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${what}: no answer within ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      const waiter = (): void => {
        check();
      };
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(waiter);
      };
      if (!check()) this.#waiters.add(waiter);
    });
  }

  /** Kills the process (it is ours) unless it has ended. */
  async stop(): Promise<void> {
    if (!this.#exited) this.child.kill('SIGKILL');
    await this.exited;
  }
}

export type Outcome = { results: Measured[] } | { error: string };

/**
 * Runs a measuring process to its end: progress lines go to `onProgress`,
 * and its `{"results"}` or `{"error"}` line is the outcome. A process that
 * takes longer than `timeoutMs` is killed.
 */
export async function runMeasuring(
  command: string,
  args: string[],
  timeoutMs: number,
  onProgress: (message: string) => void,
): Promise<Outcome> {
  let lastProgress = '';
  const child = new LineProcess(command, args, (line) => {
    if (typeof line === 'object' && line !== null && typeof (line as { progress?: unknown }).progress === 'string') {
      lastProgress = (line as { progress: string }).progress;
      onProgress(lastProgress);
    }
  });
  try {
    return await child.next<Outcome>(
      (line) => {
        if (typeof line !== 'object' || line === null) return undefined;
        const value = line as { results?: unknown; error?: unknown };
        if (typeof value.error === 'string') return { error: value.error };
        if (Array.isArray(value.results)) {
          const list: unknown[] = value.results;
          const bad = list.find((r) => !isMeasured(r));
          if (bad !== undefined) return { error: `malformed result ${JSON.stringify(bad)}` };
          return { results: list as Measured[] };
        }
        return undefined;
      },
      timeoutMs,
      'killed after a timeout',
    );
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { error: lastProgress && !message.includes(lastProgress) ? `${message} (during: ${lastProgress})` : message };
  } finally {
    // It exits by itself after reporting (writing a --cpu-prof profile, say);
    // one that does not is killed.
    await Promise.race([child.exited, new Promise((resolve) => setTimeout(resolve, 10_000).unref())]);
    await child.stop();
  }
}
