/**
 * `events MAP [--count N] [--timeout S] [--type NAME [--btf FILE]]`: prints the records a ring
 * buffer or perf event array receives, one per line, as they arrive (like `bpftool map
 * event_pipe`, for ring buffers too). Ends after `--count` records, after `--timeout` seconds
 * without one, or on Ctrl-C, always with exit status 0.
 *
 * Lines: text `01 02 ... 08  09 ...` (perf: `cpu 1: ...`); `-j` one object a line, `{"data":
 * [1,2,...]}` with bytes as decimal numbers like bpftool's event_pipe (perf adds `"cpu"`); with
 * `--type`, the record decoded through that BTF type instead (`{"formatted": {...}}`; text: its
 * compact JSON), found in `--btf FILE`, the map's BTF, or the BTF of the programs using the map.
 * Perf samples lost to a full buffer print as `{"cpu":1,"lost":12}` / `lost 12 samples on cpu 1`.
 * With `--type`, `--format FIELD=FORMAT[,...]` and `--net` show fields as addresses and ports.
 */
import type { Btf } from '../../codec/btf/btf.js';
import type { EventReader } from '../../events/event-reader.js';
import type { BpfMap } from '../../map/bpf-map.js';
import { MapType } from '../../sys/constants.js';
import type { Command, CommandContext } from '../command.js';
import { hexLine } from '../entries.js';
import { fieldFormatOptionOf, planOrUsageError, typeIdByName } from '../formatter.js';
import type { FieldFormatOptions } from '../../codec/btf/field-format.js';
import { OperationError, UsageError, parseMapRef, parseSeconds, parseU32 } from '../grammar.js';
import { Interrupt } from '../interrupt.js';
import { mapLabel, openMap } from '../map-ref.js';
import { toJson, type Output } from '../output.js';

/** How records print: as bytes, or decoded through a BTF type. */
type RecordPrinter = (data: Uint8Array, cpu: number | undefined) => void;

/** A BTF and the id of the `--type` type in it. */
interface RecordType {
  readonly btf: Btf;
  readonly typeId: number;
}

/**
 * Where `--type` finds its type: in `--btf FILE` (an object or raw BTF) when given; else in the
 * map's own BTF, then in the BTF of each loaded program that uses the map (libbpf creates ring
 * buffers and perf event arrays without BTF, but the programs that write them carry their
 * object's BTF, which declares the record type when the source names it in a global).
 */
async function findRecordType(map: BpfMap, btfFile: string | undefined, typeName: string): Promise<RecordType> {
  if (btfFile !== undefined) {
    const { btfFromFile } = await import('../../codec/btf/sources.js');
    let btf: Btf;
    try {
      btf = btfFromFile(btfFile);
    } catch (error) {
      throw new OperationError(`--btf ${btfFile}: ${error instanceof Error ? error.message : String(error)}`);
    }
    return { btf, typeId: typeIdByName(btf, typeName) };
  }
  // The library's search: the map's own BTF, then that of each loaded program using the map.
  const { findRecordType: findInMapAndPrograms } = await import('../../map/map-users.js');
  try {
    const { btf, typeId } = findInMapAndPrograms(map, typeName);
    return { btf, typeId };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code !== 'ERR_BPFMAP_RECORD_TYPE' && code !== 'ERR_BPFMAP_TYPE_NAME') throw error;
    const hint = code === 'ERR_BPFMAP_RECORD_TYPE' ? '; name the BPF object (or a BTF file) with --btf FILE' : '';
    throw new UsageError(`--type: ${(error as Error).message}${hint}`);
  }
}

/** The printer of raw records. */
function bytesPrinter(out: Output): RecordPrinter {
  if (out.json) return (data, cpu) => out.document(cpu === undefined ? { data: Array.from(data) } : { cpu, data: Array.from(data) });
  return (data, cpu) => out.line(cpu === undefined ? hexLine(data) : `cpu ${cpu}: ${hexLine(data)}`);
}

/** A struct's last member when it is an array: the part of a record whose length varies. */
interface TrailingArray {
  readonly name: string;
  /** Byte offset of the array in the struct. */
  readonly offset: number;
  readonly elementSize: number;
  /** Elements of one byte that hold characters: decoded as text. */
  readonly chars: boolean;
}

/** The trailing array of a struct type (execsnoop's `char args[FULL_MAX_ARGS_ARR]`), if any. */
function trailingArrayOf(btf: Btf, typeId: number): TrailingArray | undefined {
  const type = btf.resolve(typeId);
  if (type.kind !== 'struct' || type.members.length === 0) return undefined;
  const last = type.members.reduce((a, b) => (b.bitOffset > a.bitOffset ? b : a));
  const array = btf.resolve(last.type);
  if (array.kind !== 'array' || last.bitOffset % 8 !== 0 || last.name === '') return undefined;
  const element = btf.resolve(array.type);
  const elementSize = btf.size(array.type);
  return { name: last.name, offset: last.bitOffset / 8, elementSize, chars: element.kind === 'int' && elementSize === 1 };
}

/**
 * The printer of records decoded through BTF type `typeId`. Records as long as the type decode
 * whole (perf samples are padded to 8 bytes, so they may be longer). Records shorter than the
 * type whose last member is an array (a variable-length tail: execsnoop sends `args` only as far
 * as it is filled) decode their fixed part and the elements present of the array, and say so:
 * `"partial":{"member":"args","bytes":12,"of":7680}`. Other short records are an error.
 */
async function typedPrinter(out: Output, btf: Btf, typeId: number, typeName: string, format: FieldFormatOptions | undefined): Promise<RecordPrinter> {
  const [{ formatWithPlan }, { planFieldFormats }] = await Promise.all([import('../../codec/btf/format.js'), import('../../codec/btf/field-format.js')]);
  const [plan] = format === undefined ? [] : planOrUsageError(() => planFieldFormats(btf, [{ typeId }], format));
  const size = btf.size(typeId);
  const trailing = trailingArrayOf(btf, typeId);
  const padded = new Uint8Array(size);
  const decode = (data: Uint8Array): { formatted: unknown; partial?: { member: string; bytes: number; of: number } } => {
    if (data.length >= size) return { formatted: formatWithPlan(btf, typeId, data, 0, plan) };
    if (trailing === undefined || data.length < trailing.offset) {
      throw new OperationError(`a record of ${data.length} bytes is shorter than ${typeName} (${size} bytes)${trailing !== undefined ? `, even without its last member '${trailing.name}' (from byte ${trailing.offset})` : ''}`);
    }
    padded.fill(0);
    padded.set(data.subarray(0, size));
    const formatted = formatWithPlan(btf, typeId, padded, 0, plan) as Record<string, unknown>;
    const present = data.length - trailing.offset;
    const count = Math.floor(present / trailing.elementSize);
    if (trailing.chars) {
      // The bytes present, as text; NULs inside stay (execsnoop's arguments are NUL-separated).
      let end = trailing.offset + count;
      while (end > trailing.offset && data[end - 1] === 0) end--;
      formatted[trailing.name] = String.fromCharCode(...data.subarray(trailing.offset, end));
    } else {
      const elements = formatted[trailing.name];
      if (Array.isArray(elements)) formatted[trailing.name] = elements.slice(0, count);
    }
    return { formatted, partial: { member: trailing.name, bytes: present, of: size - trailing.offset } };
  };
  return (data, cpu) => {
    const { formatted, partial } = decode(data);
    if (out.json) {
      out.document({ ...(cpu !== undefined ? { cpu } : {}), formatted, ...(partial !== undefined ? { partial } : {}) });
      return;
    }
    const note = partial === undefined ? '' : ` (partial: ${partial.member} has ${partial.bytes} of ${partial.of} bytes)`;
    out.line(`${cpu === undefined ? '' : `cpu ${cpu}: `}${toJson(formatted)}${note}`);
  };
}

async function run({ args, options, out }: CommandContext): Promise<void> {
  const ref = parseMapRef(args);
  args.end();
  const countOption = options.value('count');
  const count = countOption === undefined ? undefined : parseU32(countOption, '--count');
  if (count === 0) throw new UsageError('--count: must be at least 1');
  const timeoutOption = options.value('timeout');
  const idleTimeoutMs = timeoutOption === undefined ? undefined : parseSeconds(timeoutOption, '--timeout');
  const typeOption = options.value('type');
  const btfFile = options.value('btf');
  if (btfFile !== undefined && typeOption === undefined) throw new UsageError('--btf FILE goes with --type NAME');
  const format = await fieldFormatOptionOf(options);
  // A ring buffer another process reads (a running tool) is refused, naming it, unless --force.
  const force = options.flag('force');
  if (format !== undefined && typeOption === undefined) throw new UsageError('--format/--net go with --type NAME: raw records have no fields');
  options.end();

  // Read-write: a ring buffer's consumer page is mapped writable, a perf reader stores its fds.
  let reader: EventReader<Uint8Array>;
  let print: RecordPrinter;
  {
    using map = openMap(ref);
    if (map.type !== MapType.ringbuf && map.type !== MapType.perf_event_array) {
      throw new UsageError(`events needs a ringbuf or perf_event_array map; ${mapLabel(map)} is ${map.typeName}`);
    }
    if (typeOption !== undefined) {
      const { btf, typeId } = await findRecordType(map, btfFile, typeOption);
      print = await typedPrinter(out, btf, typeId, typeOption.trim(), format);
    } else {
      print = bytesPrinter(out);
    }
    if (map.type === MapType.ringbuf) {
      const { RingBuffer } = await import('../../events/ring-buffer.js');
      reader = RingBuffer.open(map, { ignoreOtherProcesses: force });
    } else {
      const { PerfBuffer } = await import('../../events/perf-buffer.js');
      reader = PerfBuffer.open(map, {
        onLost: (cpu, lost) => {
          if (out.json) out.document({ cpu, lost });
          else out.line(`lost ${lost} sample${lost === 1 ? '' : 's'} on cpu ${cpu}`);
        },
      });
    }
  }
  using interrupt = new Interrupt();
  using events = reader;
  const iterate = {
    signal: interrupt.signal,
    ...(count !== undefined ? { count } : {}),
    ...(idleTimeoutMs !== undefined ? { idleTimeoutMs } : {}),
  };
  for await (const { data, cpu } of events.records(iterate)) {
    print(data, cpu);
    // Each record reaches the reader of the pipe (jq, a log) as it arrives.
    out.flush();
  }
}

/** `events MAP [--count N] [--timeout S] [--force] [--type NAME [--btf FILE] [--format RULES] [--net]]`. */
export const eventsCommand: Command = { run };
