/** The progress display on stderr: one updating line on a terminal, plain lines otherwise. */
export class ProgressDisplay {
  readonly #total: number;
  readonly #start = performance.now();
  readonly #tty = process.stderr.isTTY === true;
  #index = 0;
  #cell = '';

  constructor(total: number) {
    this.#total = total;
  }

  #elapsed(): string {
    const s = Math.round((performance.now() - this.#start) / 1000);
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
  }

  #prefix(): string {
    return `[${String(this.#index).padStart(String(this.#total).length)}/${this.#total} ${this.#elapsed()}] ${this.#cell}`;
  }

  #write(line: string, final: boolean): void {
    if (this.#tty) {
      const width = process.stderr.columns || 120;
      process.stderr.write(`\r\x1b[K${line.slice(0, width - 1)}${final ? '\n' : ''}`);
    } else {
      process.stderr.write(line + '\n');
    }
  }

  start(cell: string): void {
    this.#index += 1;
    this.#cell = cell;
    this.#write(`${this.#prefix()}: starting`, false);
  }

  update(message: string): void {
    this.#write(`${this.#prefix()}: ${message}`, false);
  }

  finish(summary: string): void {
    this.#write(`${this.#prefix()}: ${summary}`, true);
  }

  note(message: string): void {
    this.#write(message, true);
  }
}
