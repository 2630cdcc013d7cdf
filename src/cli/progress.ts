/**
 * A progress line on stderr for long dumps: shown only on a terminal and only for maps big
 * enough to take a while, redrawn at most ten times a second, erased at the end so that the
 * terminal shows only the command's output. Ctrl-C (or SIGTERM, SIGHUP) while it shows erases it
 * too, then lets the signal end the process as it would have (exit status 130 for Ctrl-C).
 */

import { fstatSync } from 'node:fs';

/** Maps with at least this many possible entries show progress. */
export const PROGRESS_MIN_ENTRIES = 100_000;
const REDRAW_INTERVAL_MS = 100;
/** Signals that end a dump; the line is erased before the process goes. */
const ERASING_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** Counts entries and redraws `label: N entries (M/s)` on stderr. */
export class Progress {
  #count = 0;
  #lastDraw = 0;
  readonly #start = Date.now();
  readonly #enabled: boolean;
  readonly #stream: NodeJS.WriteStream | undefined;
  #drawn = false;
  readonly #onSignal = (signal: NodeJS.Signals): void => {
    this.finish();
    // The default action again: the process ends by the signal, as without a progress line.
    process.kill(process.pid, signal);
  };

  constructor(
    /** Gives process.stderr (or another stream on fd 2); called only when fd 2 may be a terminal. */
    stderr: () => NodeJS.WriteStream,
    readonly label: string,
    /** Upper bound of the count (max_entries), for a percentage; 0 when unknown. */
    readonly total: number,
  ) {
    // Creating process.stderr on a pipe or a file loads Node's stream and net modules (2-6 ms of a
    // dump's start); a terminal is a character device, so anything else is ruled out by one fstat.
    this.#stream = total >= PROGRESS_MIN_ENTRIES && isCharacterDevice(2) ? stderr() : undefined;
    this.#enabled = this.#stream?.isTTY === true;
  }

  /**
   * Adds `count` entries. Returns true when it redrew the line: the caller should then
   * `await progress.pause()` so that a Ctrl-C can be handled (signals wait for the event loop).
   */
  add(count: number): boolean {
    this.#count += count;
    if (!this.#enabled) return false;
    const now = Date.now();
    if (now - this.#lastDraw < REDRAW_INTERVAL_MS) return false;
    this.#lastDraw = now;
    const seconds = Math.max((now - this.#start) / 1000, 0.001);
    const rate = Math.round(this.#count / seconds);
    const percent = this.total > 0 ? ` (at most ${this.total})` : '';
    this.#stream?.write(`\r\x1b[K${this.label}: ${this.#count} entries${percent}, ${rate}/s`);
    if (!this.#drawn) for (const signal of ERASING_SIGNALS) process.once(signal, this.#onSignal);
    this.#drawn = true;
    return true;
  }

  /** Lets the event loop run once (at most ten times a second), so pending signals are handled. */
  pause(): Promise<void> {
    return new Promise((resolve) => setImmediate(resolve));
  }

  /** Erases the line (idempotent). */
  finish(): void {
    if (!this.#drawn) return;
    this.#drawn = false;
    for (const signal of ERASING_SIGNALS) process.off(signal, this.#onSignal);
    this.#stream?.write('\r\x1b[K');
  }
}

/** True when `fd` is a character device (a terminal, or /dev/null and the like). */
function isCharacterDevice(fd: number): boolean {
  try {
    return fstatSync(fd).isCharacterDevice();
  } catch {
    return false;
  }
}
