/**
 * A progress line on stderr for long dumps: shown only on a terminal and only for maps big
 * enough to take a while, redrawn at most ten times a second, erased at the end so that the
 * terminal shows only the command's output.
 */

/** Maps with at least this many possible entries show progress. */
export const PROGRESS_MIN_ENTRIES = 100_000;
const REDRAW_INTERVAL_MS = 100;

/** Counts entries and redraws `label: N entries (M/s)` on stderr. */
export class Progress {
  #count = 0;
  #lastDraw = 0;
  readonly #start = Date.now();
  readonly #enabled: boolean;
  #drawn = false;

  constructor(
    readonly stream: NodeJS.WriteStream,
    readonly label: string,
    /** Upper bound of the count (max_entries), for a percentage; 0 when unknown. */
    readonly total: number,
  ) {
    this.#enabled = stream.isTTY === true && total >= PROGRESS_MIN_ENTRIES;
  }

  /** Adds `count` entries. */
  add(count: number): void {
    this.#count += count;
    if (!this.#enabled) return;
    const now = Date.now();
    if (now - this.#lastDraw < REDRAW_INTERVAL_MS) return;
    this.#lastDraw = now;
    const seconds = Math.max((now - this.#start) / 1000, 0.001);
    const rate = Math.round(this.#count / seconds);
    const percent = this.total > 0 ? ` (at most ${this.total})` : '';
    this.stream.write(`\r\x1b[K${this.label}: ${this.#count} entries${percent}, ${rate}/s`);
    this.#drawn = true;
  }

  /** Erases the line. */
  finish(): void {
    if (this.#drawn) this.stream.write('\r\x1b[K');
  }
}
