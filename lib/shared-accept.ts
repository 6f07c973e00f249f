import { raceAbort } from './abort';

/**
 * One backend accept at a time, however many callers wait on it: a caller
 * that aborts leaves the accept under way for the next, so nothing the
 * backend accepts is lost.
 */
export class SharedAccept<T> {
  readonly #start: () => Promise<T>;
  #pending: Promise<T> | undefined;

  constructor(start: () => Promise<T>) {
    this.#start = start;
  }

  /** Whether a caller is waiting (one that arrives now must queue behind it). */
  get waiting(): boolean {
    return this.#pending !== undefined;
  }

  async next(signal: AbortSignal | undefined): Promise<T> {
    for (;;) {
      const pending = (this.#pending ??= this.#start());
      const value = await raceAbort(pending, signal, () => {});
      if (this.#pending !== pending) continue; // another caller claimed it
      this.#pending = undefined;
      return value;
    }
  }
}
