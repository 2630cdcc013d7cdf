/** `help` and `help COMMAND`: the grammar in bpftool's words, and what each command does. */
import type { CommandEntry } from '../command.js';

/** The definitions every usage text ends with. */
const DEFINITIONS = [
  '       MAP := { id MAP_ID | pinned FILE | name MAP_NAME }',
  '       DATA := { [hex] BYTES }      (or JSON for maps with BTF: \'{"field": 1}\', 42)',
  '       PROG := { id PROG_ID | pinned FILE | tag PROG_TAG | name PROG_NAME }',
  '       VALUE := { DATA | MAP | PROG }',
  '       UPDATE_FLAGS := { any | exist | noexist }',
  '       OPTIONS := { {-j|--json} [{-p|--pretty}] | {-f|--bpffs} | {-V|--version} }',
];

/** The `--format`/`--net` paragraph of dump, lookup, watch and events. */
const FORMAT_HELP =
  '--format FIELD=FORMAT[,...] shows BTF fields (a field path, or a type name like __be32) as\n' +
  'ipv4, ipv6, ip (IPv4 or IPv6 by size or a family field), port (__be16 in host order), be,\n' +
  'mac or hex; --net shows __be16, __be32, struct in_addr and in6_addr so (see docs/cli.md).';

/**
 * What each command does, for `bpfmap help COMMAND` and `bpfmap COMMAND --help`. Commands missing
 * here still get their usage line.
 */
const DESCRIPTIONS: Readonly<Record<string, string>> = {
  show: 'Lists maps (all of them, or the one MAP names) as bpftool map show does; -f adds their pins.',
  list: 'Same as show.',
  help: "Prints an overview of the commands, or one command's usage and what it does ('bpfmap help watch',\n" +
    "'bpfmap watch help' or 'bpfmap watch --help').",
  dump: 'Prints every entry of a map, through batch lookups; with BTF, also its decoded form ("formatted").\n' + FORMAT_HELP,
  update: 'Writes one entry. Per-CPU maps get the value on every CPU. The flag defaults to any.',
  lookup: 'Prints the value of one key; exit status 1 when the key is missing (-j prints null).\n' + FORMAT_HELP,
  getnext: 'Prints the key after KEY (or the first key) in the kernel\'s iteration order.',
  delete: 'Deletes one entry; exit status 1 when the key is missing.',
  pin: 'Pins the map at PATH, which must be on a bpf file system (mount -t bpf bpf /sys/fs/bpf).',
  event_pipe: 'Prints the records of a perf event array as bpftool map event_pipe does, until interrupted.\n' +
    'Consuming a tool\'s buffers takes the records away from the tool: bpfmap puts its own perf\n' +
    'buffers in the map in place of the tool\'s (as bpftool does), and removes them when it stops.',
  create: 'Creates a map and pins it at PATH. TYPE is a kernel map type name (hash, array, ringbuf, ...);\n' +
    'FLAGS a number or names joined by |.',
  peek: 'Prints the head of a queue or the top of a stack without removing it.',
  push: 'Pushes a value onto a queue or stack, or adds it to a bloom filter.',
  enqueue: 'Same as push.',
  pop: 'Removes and prints the head of a queue or the top of a stack.',
  dequeue: 'Same as pop.',
  freeze: 'Freezes a map: programs and bpfmap can still read it, nothing can write it from user space.',
  btf: 'Prints the C declarations of the map\'s key and value types, from its BTF (compiles as C).',
  events: 'Prints the records of a ring buffer or perf event array as they arrive, one JSON line each\n' +
    'with -j. --type NAME decodes them through a BTF struct (found in the programs using the map,\n' +
    'or in --btf FILE). Consuming a tool\'s buffer takes the records away from the tool: a ring\n' +
    'buffer\'s records go to one reader, and on a perf event array bpfmap puts its own buffers in\n' +
    'place of the tool\'s (as bpftool event_pipe does) and removes them when it stops. A ring buffer\n' +
    'that another process is seen reading is refused, naming it; --force reads it anyway.\n' + FORMAT_HELP,
  watch: 'Redraws a live table of the map every --interval seconds: each numeric field with its rate\n' +
    '(FIELD/s). No rates for fields that are not counters: enums, pointers, and fields whose name\n' +
    'says time or identity (ts, time, *_ns, *_us, *_ms, stamp, *id, pid, tid, cpu). --per-cpu adds\n' +
    'a column per CPU. Shows when no program uses the map any more (orphaned).\n' + FORMAT_HELP,
  serve: 'Serves the maps over HTTP (127.0.0.1:19655 unless --listen says otherwise): Prometheus metrics\n' +
    'at /metrics (zero-config from BTF, or ebpf_exporter metrics with --config FILE), a JSON API under\n' +
    '/api/maps, Server-Sent Events of entries (watch) and of ring buffer and perf event array records\n' +
    '(events), and a web view at /. --web-config FILE takes exporter-toolkit TLS and basic auth;\n' +
    '--allow-write allows the API\'s writes (with basic auth) and reading perf event arrays. A ring\n' +
    'buffer that another process is seen reading is refused (409), naming it; --force reads it\n' +
    'anyway, taking records away from that process. --per-cpu adds a cpu label instead of summing;\n' +
    '--series-limit N caps the label sets per map (see docs/serve.md).',
  hist: 'Draws the histograms a map holds as their tool prints them: libbpf-tools\' struct hist values\n' +
    '(one per key), bcc\'s slot keys, bpftrace\'s hist()/lhist() maps (found from the map, or\n' +
    '--layout; lhist\'s range comes from the running script, or --min --max --step). --section FIELD\n' +
    'names or picks the key fields that split histograms; --unit NAME labels the values (usecs).\n' +
    'libbpf-tools maps get their tool\'s headers, names and unit. -j gives buckets as data.',
  demo: 'Creates, writes, reads, iterates, pins and removes a map on this machine (needs root).',
};

/**
 * The overview's groups, in order, with a one-line summary per command. Aliases share a line with
 * the command they repeat. A command of the table missing here is listed under "Other commands"
 * with the first sentence of its description, so a new command is never left out.
 */
const GROUPS: ReadonlyArray<{ readonly title: string; readonly lines: ReadonlyArray<readonly [names: string, summary: string]> }> = [
  {
    title: 'Maps (bpftool map)',
    lines: [
      ['show, list', 'list maps, or the one MAP names'],
      ['dump', 'print every entry of a map'],
      ['lookup', 'print the value of one key'],
      ['getnext', 'print the key after a key'],
      ['update', 'write one entry'],
      ['delete', 'delete one entry'],
      ['create', 'create a map and pin it'],
      ['pin', 'pin a map on bpffs'],
      ['freeze', 'make a map read-only for user space'],
      ['btf', "print the C types of a map's key and value"],
    ],
  },
  {
    title: 'Queues, stacks, bloom filters',
    lines: [
      ['push, enqueue', 'push a value (bloom filters: add it)'],
      ['pop, dequeue', 'remove and print the next value'],
      ['peek', 'print the next value'],
    ],
  },
  {
    title: 'Events',
    lines: [
      ['events', 'print the records of a ring buffer or perf event array'],
      ['event_pipe', 'print a perf event array as bpftool map event_pipe'],
    ],
  },
  {
    title: 'Live views',
    lines: [
      ['watch', 'redraw a live table of a map, with rates'],
      ['hist', 'draw the histograms a map holds'],
      ['serve', 'serve maps as Prometheus metrics, an HTTP API and a web view'],
    ],
  },
  {
    title: 'Objects and programs',
    lines: [
      ['load', 'load a BPF object, pin its programs and maps'],
      ['gen', 'generate a TypeScript skeleton of an object'],
      ['prog', 'list loaded programs (prog show)'],
    ],
  },
  {
    title: 'This tool',
    lines: [
      ['help', 'this overview, or a command\'s usage and what it does'],
      ['demo', 'create, use and remove a map on this machine'],
    ],
  },
];

/** The first sentence of a command's description, for commands the groups do not list. */
function firstSentence(name: string): string {
  const description = Object.hasOwn(DESCRIPTIONS, name) ? DESCRIPTIONS[name] : undefined;
  if (description === undefined) return '';
  const sentence = description.split('\n').join(' ').split(/(?<=\.)\s/)[0] ?? '';
  return sentence.replace(/\.$/, '');
}

/**
 * The overview of `bpfmap help` (and `bpfmap --help`): the commands grouped, one line each, the
 * common definitions, and how to get a command's full usage.
 */
export function usageText(commands: readonly CommandEntry[]): string {
  const known = new Set(commands.map((command) => command.name));
  const listed = new Set<string>();
  const groups = GROUPS.map(({ title, lines }) => ({
    title,
    lines: lines.flatMap(([names, summary]) => {
      const present = names.split(', ').filter((name) => known.has(name));
      for (const name of present) listed.add(name);
      return present.length === 0 ? [] : [[present.join(', '), summary] as const];
    }),
  }));
  const others = commands.filter((command) => !listed.has(command.name)).map((command) => [command.name, firstSentence(command.name)] as const);
  if (others.length > 0) groups.push({ title: 'Other commands', lines: others });
  const width = Math.max(...groups.flatMap((group) => group.lines.map(([names]) => names.length)));
  return [
    'Usage: bpfmap [OPTIONS] COMMAND ...',
    ...groups.filter((group) => group.lines.length > 0).flatMap((group) => [
      '',
      `${group.title}:`,
      ...group.lines.map(([names, summary]) => `  ${names.padEnd(width)}  ${summary}`.trimEnd()),
    ]),
    '',
    ...DEFINITIONS.filter((line) => /^\s*(MAP|OPTIONS) :=/.test(line)).map((line) => `  ${line.trim()}`),
    '',
    "'bpfmap help COMMAND' or 'bpfmap COMMAND help' prints a command's usage and what it does.",
    'Exit status: 0 on success, 1 when an operation fails, 2 for a usage error.',
  ].join('\n');
}

/** The short usage for a command line without a command. */
export function shortUsage(commands: readonly CommandEntry[]): string {
  return `no command given: bpfmap [OPTIONS] COMMAND ... with COMMAND one of ${commands.map((command) => command.name).join(', ')} ('bpfmap help' for an overview)`;
}

/** The help of one command: its usage line, what it does, and the definitions. */
export function commandHelpText(command: CommandEntry): string {
  const description = Object.hasOwn(DESCRIPTIONS, command.name) ? DESCRIPTIONS[command.name] : undefined;
  return [
    `Usage: bpfmap [OPTIONS] ${command.usage}`,
    ...(description === undefined ? [] : ['', ...description.split('\n').map((line) => `       ${line}`)]),
    '',
    ...DEFINITIONS,
  ].join('\n');
}
