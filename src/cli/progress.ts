/**
 * A one-line progress report on stderr: done, bytes, rate and ETA. Redrawn in place on a terminal,
 * a line every few seconds otherwise (logs, CI). Hand-written: a dozen lines, where a progress-bar
 * library would bring its own terminal handling for what one `\r` does.
 */
export class Progress {
  readonly #label: string;
  readonly #started = performance.now();
  readonly #tty = process.stderr.isTTY === true;
  #total: number | null;
  #records = 0;
  #bytes = 0;
  #lastDrawn = 0;

  constructor(label: string, total: number | null) {
    this.#label = label;
    this.#total = total;
  }

  add(records: number, bytes: number): void {
    this.#records += records;
    this.#bytes += bytes;
    const now = performance.now();
    if (now - this.#lastDrawn >= (this.#tty ? 200 : 5000)) {
      this.#lastDrawn = now;
      this.#draw(false);
    }
  }

  done(): { records: number; bytes: number; seconds: number } {
    this.#draw(true);
    return {
      records: this.#records,
      bytes: this.#bytes,
      seconds: (performance.now() - this.#started) / 1000,
    };
  }

  #draw(last: boolean): void {
    const seconds = Math.max((performance.now() - this.#started) / 1000, 0.001);
    const rate = this.#records / seconds;
    const total = this.#total;
    const share = total ? ` of ${total} (${Math.min(100, (100 * this.#records) / total).toFixed(0)}%)` : '';
    const eta =
      !last && total && rate > 0 ? `, ETA ${Math.max(0, Math.ceil((total - this.#records) / rate))} s` : '';
    const line = `${this.#label}: ${this.#records} records${share}, ${(this.#bytes / 1024 ** 2).toFixed(1)} MiB, ${Math.round(rate)} records/s${eta}${last ? `, ${seconds.toFixed(1)} s` : ''}`;
    process.stderr.write(this.#tty ? `\r\u001b[2K${line}${last ? '\n' : ''}` : `${line}\n`);
  }
}
