/**
 * A terminal for CLI tests: a tmux server on the test's own socket (so it never touches the
 * user's tmux), one session, and helpers to read the pane and its modes. Killed when the test ends.
 */
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

/** A tmux server of the test's own (its own socket), with one 120x40 session running `command`. */
export class TmuxSession {
  readonly socket = `bpfmap-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  readonly name = 'watch';

  constructor(t: TestContext, command: string) {
    this.tmux('new-session', '-d', '-s', this.name, '-x', '120', '-y', '40', command);
    t.after(() => {
      try {
        this.tmux('kill-server');
      } catch {
        // Already gone.
      }
    });
  }

  tmux(...args: string[]): string {
    return execFileSync('tmux', ['-L', this.socket, ...args], { encoding: 'utf8' });
  }

  /** The visible pane. */
  capture(): string {
    return this.tmux('capture-pane', '-p', '-t', this.name);
  }

  /** `#{alternate_on} #{cursor_flag}` of the pane: whether the alternate screen is on and the cursor shown. */
  modes(): { alternate: boolean; cursorShown: boolean } {
    const [alternate, cursor] = this.tmux('display-message', '-p', '-t', this.name, '#{alternate_on} #{cursor_flag}').trim().split(' ');
    return { alternate: alternate === '1', cursorShown: cursor === '1' };
  }

  /** Polls the pane until `predicate` holds (or fails after `timeoutMs`), meanwhile calling `tick`. */
  async waitFor(predicate: (pane: string) => boolean, what: string, tick: () => void = () => {}, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      tick();
      const pane = this.capture();
      if (predicate(pane)) return pane;
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; the pane shows:\n${pane}`);
      await sleep(50);
    }
  }
}
