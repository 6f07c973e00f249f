/**
 * A progress bar on stderr: redrawn in place on a terminal, or (forced with
 * QUICBRIDGE_PROGRESS=1, e.g. for logs) printed as a line per 10 %.
 */
export class Progress {
  readonly #label: string;
  readonly #total: number | undefined;
  readonly #started = process.hrtime.bigint();
  readonly #tty = process.stderr.isTTY;
  readonly #enabled = process.stderr.isTTY || process.env.QUICBRIDGE_PROGRESS === '1';
  #done = 0;
  #lastDrawn = 0;
  #lastDecile = -1;

  constructor(label: string, total: number | undefined) {
    this.#label = label;
    this.#total = total;
  }

  add(bytes: number): void {
    this.#done += bytes;
    if (!this.#enabled) return;
    const now = Date.now();
    if (this.#tty && now - this.#lastDrawn < 100) return;
    this.#lastDrawn = now;
    this.#draw(false);
  }

  get bytes(): number {
    return this.#done;
  }

  finish(): void {
    if (this.#enabled) this.#draw(true);
  }

  #rate(): number {
    const seconds = Number(process.hrtime.bigint() - this.#started) / 1e9;
    return seconds > 0 ? this.#done / seconds : 0;
  }

  #draw(final: boolean): void {
    const mb = (n: number) => (n / 1e6).toFixed(1);
    const fraction = this.#total ? Math.min(1, this.#done / this.#total) : undefined;
    const percent = fraction === undefined ? '' : `${Math.floor(fraction * 100).toString().padStart(3)}% `;
    const width = 24;
    const bar = fraction === undefined ? '' : `[${'='.repeat(Math.round(fraction * width)).padEnd(width)}] `;
    const size = this.#total ? `${mb(this.#done)}/${mb(this.#total)} MB` : `${mb(this.#done)} MB`;
    const line = `${this.#label} ${percent}${bar}${size} ${mb(this.#rate())} MB/s`;
    if (this.#tty) {
      process.stderr.write(`\r${line}${final ? '\n' : ''}`);
      return;
    }
    const decile = fraction === undefined ? -1 : Math.floor(fraction * 10);
    if (decile > this.#lastDecile || (final && decile < 10)) {
      this.#lastDecile = decile;
      process.stderr.write(`${line}\n`);
    }
  }
}
