/**
 * The command-line grammar, shared by every command: bpftool's `MAP` and `DATA` rules, its
 * keyword matching (any prefix of a keyword selects it, as bpftool's `is_prefix` does), its
 * number syntax (strtoul base 0), and the global options. Parsing never touches a map: commands
 * parse everything first and act after, so a command that fails to parse changes nothing.
 */

/** A mistake in the command line: exit status 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** An operation that failed for a reason other than a syscall error: exit status 1. */
export class OperationError extends Error {
  override readonly name = 'OperationError';
  /**
   * What `-j` prints instead of `{"error": ...}`, where bpftool prints something else: `null`
   * for a missing key or an empty queue.
   */
  readonly jsonDocument: unknown;

  constructor(message: string, options: { jsonDocument?: unknown } = {}) {
    super(message);
    this.jsonDocument = 'jsonDocument' in options ? options.jsonDocument : undefined;
  }
}

/** bpftool's keyword test: `word` selects `keyword` when it is a non-empty prefix of it. */
export function isPrefix(word: string | undefined, keyword: string): boolean {
  return word !== undefined && word.length > 0 && keyword.startsWith(word);
}

/**
 * Parses an unsigned integer the way strtoul(…, 0) reads it: `0x` hex, leading-`0` octal,
 * decimal otherwise; the whole word must be consumed. Returns a bigint so that 64-bit values stay
 * exact; `max` bounds it.
 */
export function parseUnsigned(text: string, what: string, max: bigint = 0xffffffffn): bigint {
  let digits: string;
  let radix: number;
  if (/^0[xX][0-9a-fA-F]+$/.test(text)) {
    digits = text.slice(2);
    radix = 16;
  } else if (/^0[0-7]*$/.test(text)) {
    digits = text;
    radix = 8;
  } else if (/^[1-9][0-9]*$/.test(text)) {
    digits = text;
    radix = 10;
  } else {
    throw new UsageError(`${what}: can't parse '${text}' as a number`);
  }
  const value = radix === 10 ? BigInt(digits) : BigInt((radix === 16 ? '0x' : '0o') + digits);
  if (value > max) throw new UsageError(`${what}: ${text} is out of range (at most ${max})`);
  return value;
}

/** `parseUnsigned` for values that fit in a JavaScript number (32-bit fields). */
export function parseU32(text: string, what: string): number {
  return Number(parseUnsigned(text, what, 0xffffffffn));
}

/** The words of a command line after the global options, consumed left to right. */
export class Args {
  #position = 0;

  constructor(readonly words: readonly string[]) {}

  /** The next word, not consumed. */
  peek(): string | undefined {
    return this.words[this.#position];
  }

  /** The word `ahead` places after the next one, not consumed. */
  peekAhead(ahead: number): string | undefined {
    return this.words[this.#position + ahead];
  }

  /** True when every word was consumed. */
  get done(): boolean {
    return this.#position >= this.words.length;
  }

  /** How many words are left. */
  get remaining(): number {
    return this.words.length - this.#position;
  }

  /** Consumes the next word; `what` names it in the usage error when it is missing. */
  next(what: string): string {
    const word = this.words[this.#position];
    if (word === undefined) throw new UsageError(`${what} expected`);
    this.#position++;
    return word;
  }

  /** Consumes the next word when it selects `keyword`; true when it did. */
  accept(keyword: string): boolean {
    if (!isPrefix(this.peek(), keyword)) return false;
    this.#position++;
    return true;
  }

  /** Consumes `keyword` or fails naming what was found instead. */
  expect(keyword: string): void {
    const word = this.peek();
    if (!this.accept(keyword)) throw new UsageError(word === undefined ? `'${keyword}' expected` : `'${keyword}' expected, got '${word}'`);
  }

  /** Fails when words are left over. */
  end(): void {
    const word = this.peek();
    if (word !== undefined) throw new UsageError(`unexpected argument '${word}'`);
  }
}

/** `MAP := id N | pinned PATH | name NAME`. */
export type MapRef =
  | { readonly kind: 'id'; readonly id: number }
  | { readonly kind: 'pinned'; readonly path: string }
  | { readonly kind: 'name'; readonly name: string };

/** The longest map name the kernel keeps (BPF_OBJ_NAME_LEN - 1). */
const MAX_NAME_LENGTH = 15;

/**
 * Parses a duration in seconds (`2`, `0.5`) from an option; `what` names it in errors. Returns
 * milliseconds. Zero is allowed only with `allowZero`.
 */
export function parseSeconds(text: string, what: string, options: { allowZero?: boolean } = {}): number {
  if (!/^([0-9]+(\.[0-9]*)?|\.[0-9]+)$/.test(text)) throw new UsageError(`${what}: '${text}' is not a number of seconds`);
  const milliseconds = Math.round(Number(text) * 1000);
  if (milliseconds <= 0 && !(options.allowZero && milliseconds === 0)) throw new UsageError(`${what}: must be more than 0 seconds`);
  if (milliseconds > 0x7fffffff) throw new UsageError(`${what}: ${text} seconds is too long`);
  return milliseconds;
}

/** Parses `MAP`. */
export function parseMapRef(args: Args): MapRef {
  const word = args.peek();
  if (word === undefined) throw new UsageError("map expected: 'id N', 'pinned PATH' or 'name NAME'");
  if (args.accept('id')) {
    const id = parseU32(args.next('map id'), 'map id');
    if (id === 0) throw new UsageError('map id: 0 is not a map id');
    return { kind: 'id', id };
  }
  if (args.accept('pinned')) return { kind: 'pinned', path: args.next('pin path') };
  if (args.accept('name')) {
    const name = args.next('map name');
    if (name.length > MAX_NAME_LENGTH) throw new UsageError(`map name: '${name}' is longer than ${MAX_NAME_LENGTH} characters`);
    return { kind: 'name', name };
  }
  throw new UsageError(`expected 'id', 'pinned' or 'name', got '${word}'`);
}

/** How a `MapRef` reads in messages. */
export function describeMapRef(ref: MapRef): string {
  switch (ref.kind) {
    case 'id':
      return `id ${ref.id}`;
    case 'pinned':
      return `pinned ${ref.path}`;
    case 'name':
      return `name ${ref.name}`;
  }
}

/** One byte of `DATA`: strtoul base 0, or bare hex after the `hex` keyword. */
function parseByte(word: string, hex: boolean, what: string): number {
  let value: bigint;
  if (hex) {
    if (!/^(0[xX])?[0-9a-fA-F]{1,2}$/.test(word)) throw new UsageError(`${what}: error parsing byte: ${word}`);
    value = BigInt(`0x${word.replace(/^0[xX]/, '')}`);
  } else {
    try {
      value = parseUnsigned(word, what, 0xffn);
    } catch (error) {
      // bpftool silently truncates 256 to 0; a byte out of range is a mistake worth naming.
      if (/^(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.test(word)) throw new UsageError(`${what}: byte ${word} is out of range (0-255)`);
      throw new UsageError(`${what}: error parsing byte: ${word}`);
    }
  }
  return Number(value);
}

/**
 * Parses `DATA := [hex] BYTES` of exactly `size` bytes, as bpftool does: it takes at most `size`
 * words, so the grammar continues right after them. Fails with bpftool's message
 * `key expected 4 bytes, got 3` when fewer bytes follow.
 */
export function parseBytes(args: Args, what: string, size: number): Uint8Array {
  const hex = args.accept('hex');
  const bytes = new Uint8Array(size);
  let count = 0;
  while (count < size && !args.done) {
    const word = args.peek() as string;
    if (!/^(0[xX])?[0-9a-fA-F]+$/.test(word) && isDataTerminator(word)) break;
    bytes[count++] = parseByte(args.next(what), hex, what);
  }
  if (count !== size) throw new UsageError(`${what} expected ${size} bytes, got ${count}`);
  return bytes;
}

/** Words that end a short `DATA` so that the size error names the bytes, not the keyword. */
function isDataTerminator(word: string): boolean {
  return ['key', 'value', 'any', 'exist', 'noexist'].some((keyword) => isPrefix(word, keyword));
}

/** Options that apply to every command. */
export interface GlobalOptions {
  /** `-j`/`--json`: bpftool's JSON shapes. */
  readonly json: boolean;
  /** `-p`/`--pretty`: indented JSON (implies `json`, as in bpftool). */
  readonly pretty: boolean;
  /** `-f`/`--bpffs`: show the paths each map is pinned at. */
  readonly bpffs: boolean;
  /** `-h`/`--help`. */
  readonly help: boolean;
  /** `-V`/`--version`. */
  readonly version: boolean;
}

/** A command line split into global options, command options (`--name[=value]`) and words. */
export interface CommandLine {
  readonly global: GlobalOptions;
  /** Long options other than the global ones, for the command to take (`--interval 2`). */
  readonly options: CommandOptions;
  /** The command and its arguments. */
  readonly words: string[];
}

/** Long options that take a value (all others are switches). */
const VALUED_OPTIONS = new Set(['interval', 'section', 'count', 'batch', 'timeout', 'type', 'btf', 'format', 'listen', 'config', 'web-config', 'series-limit', 'layout', 'min', 'max', 'step', 'unit']);

/** Long options a command accepts; whatever a command does not take is a usage error. */
export class CommandOptions {
  readonly #values = new Map<string, string | true>();
  readonly #taken = new Set<string>();

  /** Records an option (the parser calls this). */
  add(name: string, value: string | true): void {
    this.#values.set(name, value);
  }

  /** True when the switch `--name` was given. */
  flag(name: string): boolean {
    this.#taken.add(name);
    const value = this.#values.get(name);
    if (typeof value === 'string') throw new UsageError(`--${name} takes no value`);
    return value === true;
  }

  /** The value of `--name VALUE`, or undefined. */
  value(name: string): string | undefined {
    this.#taken.add(name);
    const value = this.#values.get(name);
    return typeof value === 'string' ? value : undefined;
  }

  /** Fails on options no command step asked for. */
  end(): void {
    for (const name of this.#values.keys()) {
      if (!this.#taken.has(name)) throw new UsageError(`unknown option '--${name}' for this command`);
    }
  }
}

const SHORT_OPTIONS: Record<string, keyof GlobalOptions | 'ignored'> = {
  j: 'json', p: 'pretty', f: 'bpffs', h: 'help', V: 'version', d: 'ignored', n: 'ignored',
};
const LONG_OPTIONS: Record<string, keyof GlobalOptions | 'ignored'> = {
  json: 'json', pretty: 'pretty', bpffs: 'bpffs', help: 'help', version: 'version', debug: 'ignored', nomount: 'ignored',
};

/**
 * Splits argv like GNU getopt (which bpftool uses): options may come anywhere, short ones may be
 * grouped (`-jp`), and `--` ends them. Words that look like negative numbers are left as words.
 */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  const global = { json: false, pretty: false, bpffs: false, help: false, version: false };
  const options = new CommandOptions();
  const words: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i] as string;
    if (word === '--') {
      words.push(...argv.slice(i + 1));
      break;
    }
    if (word.startsWith('--')) {
      const [name = '', inline] = word.slice(2).split(/=(.*)/s, 2);
      // Own properties only: '--constructor' or '--toString' must not find Object.prototype's.
      const known = Object.hasOwn(LONG_OPTIONS, name) ? LONG_OPTIONS[name] : undefined;
      if (known !== undefined) {
        if (inline !== undefined) throw new UsageError(`option '--${name}' takes no value`);
        if (known !== 'ignored') global[known] = true;
      } else if (VALUED_OPTIONS.has(name)) {
        const value = inline ?? argv[++i];
        if (value === undefined) throw new UsageError(`option '--${name}' needs a value`);
        options.add(name, value);
      } else {
        if (inline !== undefined) throw new UsageError(`option '--${name}' takes no value`);
        options.add(name, true);
      }
      continue;
    }
    if (/^-[A-Za-z]+$/.test(word)) {
      for (const letter of word.slice(1)) {
        const known = Object.hasOwn(SHORT_OPTIONS, letter) ? SHORT_OPTIONS[letter] : undefined;
        if (known === undefined) throw new UsageError(`unknown option '-${letter}'`);
        if (known !== 'ignored') global[known] = true;
      }
      continue;
    }
    words.push(word);
  }
  if (global.pretty) global.json = true;
  return { global, options, words };
}
