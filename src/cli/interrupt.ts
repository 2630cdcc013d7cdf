/**
 * Ctrl-C for long-running commands (`events`, `watch`): SIGINT, SIGTERM and SIGHUP abort a signal instead
 * of killing the process, so the command can close its readers and restore the terminal before
 * exiting with status 0. Disposing puts the default handling back.
 */

/** An abort signal raised by SIGINT or SIGTERM while the object lives. */
export class Interrupt implements Disposable {
  readonly #controller = new AbortController();
  readonly #onSignal = (): void => this.#controller.abort();

  constructor() {
    process.on('SIGINT', this.#onSignal);
    process.on('SIGTERM', this.#onSignal);
    // A closed terminal window (SIGHUP) ends the command the same way, so `watch` gives back the
    // alternate screen and the cursor to a terminal that survives (tmux, screen, a re-attach).
    process.on('SIGHUP', this.#onSignal);
  }

  /** Aborted on the first SIGINT or SIGTERM (or `abort()`). */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Aborts from inside the program (a `q` key press). */
  abort(): void {
    this.#controller.abort();
  }

  /** Stops catching the signals: a second Ctrl-C after this kills the process as usual. */
  [Symbol.dispose](): void {
    process.off('SIGINT', this.#onSignal);
    process.off('SIGTERM', this.#onSignal);
    process.off('SIGHUP', this.#onSignal);
  }
}
