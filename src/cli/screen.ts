/**
 * A full-screen view on a terminal for `watch`: the alternate screen (so the shell's scrollback
 * comes back untouched), a hidden cursor, raw keyboard input for `q`, and redraws from the top
 * left. `close()` restores every one of them, also when the command fails, and a process `exit`
 * hook restores them if something ends the process first.
 */
import { writeFully } from './output.js';

const ENTER_ALTERNATE_SCREEN = '\x1b[?1049h';
const LEAVE_ALTERNATE_SCREEN = '\x1b[?1049l';
const HIDE_CURSOR = '\x1b[?25l';
const SHOW_CURSOR = '\x1b[?25h';
const CURSOR_HOME = '\x1b[H';
const CLEAR_TO_LINE_END = '\x1b[K';
const CLEAR_TO_SCREEN_END = '\x1b[J';
/** Ctrl-C as raw mode delivers it: a byte, not SIGINT. */
const CTRL_C = 0x03;

/** Draws frames on a terminal (fd 1) and reports quit keys. */
export class Screen implements Disposable {
  #open = true;
  readonly #stdin: NodeJS.ReadStream;
  readonly #rawMode: boolean;
  readonly #onData: (chunk: Buffer) => void;
  readonly #restoreOnExit = (): void => this.#restoreTerminal();

  /**
   * Takes over the terminal. `onQuit` runs when `q`, `Q` or Ctrl-C is typed (in raw mode the
   * terminal sends Ctrl-C as a byte instead of raising SIGINT).
   */
  constructor(onQuit: () => void, stdin: NodeJS.ReadStream = process.stdin) {
    this.#stdin = stdin;
    this.#onData = (chunk) => {
      if (chunk.includes(CTRL_C) || chunk.includes(0x71) || chunk.includes(0x51)) onQuit();
    };
    this.#rawMode = stdin.isTTY === true && typeof stdin.setRawMode === 'function';
    if (this.#rawMode) {
      stdin.setRawMode(true);
      stdin.on('data', this.#onData);
      stdin.resume();
    }
    process.on('exit', this.#restoreOnExit);
    this.#write(ENTER_ALTERNATE_SCREEN + HIDE_CURSOR);
  }

  /** Terminal rows (24 when unknown). */
  get rows(): number {
    return process.stdout.rows ?? 24;
  }

  /** Terminal columns (80 when unknown). */
  get columns(): number {
    return process.stdout.columns ?? 80;
  }

  /** Replaces the screen's content with `lines`, clipped to the terminal's size. */
  draw(lines: readonly string[]): void {
    const visible = lines.slice(0, this.rows).map((line) => line.slice(0, this.columns) + CLEAR_TO_LINE_END);
    this.#write(CURSOR_HOME + visible.join('\r\n') + CLEAR_TO_SCREEN_END);
  }

  #write(text: string): void {
    writeFully(1, Buffer.from(text, 'utf8'));
  }

  #restoreTerminal(): void {
    if (!this.#open) return;
    this.#open = false;
    if (this.#rawMode) {
      this.#stdin.off('data', this.#onData);
      try {
        this.#stdin.setRawMode(false);
      } catch {
        // (The terminal hung up: see below.)
      }
      this.#stdin.pause();
    }
    try {
      this.#write(SHOW_CURSOR + LEAVE_ALTERNATE_SCREEN);
    } catch {
      // A terminal that hung up (SIGHUP) takes no more output: there is nothing left to restore.
    }
  }

  /** Gives the terminal back as it was: cursor shown, main screen, cooked input. Idempotent. */
  close(): void {
    this.#restoreTerminal();
    process.off('exit', this.#restoreOnExit);
  }

  /** `using screen = new Screen(...)`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
