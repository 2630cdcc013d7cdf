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
 */
import type { Btf } from '../../codec/btf/btf.js';
import type { EventReader } from '../../events/event-reader.js';
import type { BpfMap } from '../../map/bpf-map.js';
import { MapType } from '../../sys/constants.js';
import type { Command, CommandContext } from '../command.js';
import { hexLine } from '../entries.js';
import { typeIdByName } from '../formatter.js';
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

/** The printer of records decoded through BTF type `typeId`. */
async function typedPrinter(out: Output, btf: Btf, typeId: number, typeName: string): Promise<RecordPrinter> {
  const { formatBtfValue } = await import('../../codec/btf/format.js');
  const size = btf.size(typeId);
  return (data, cpu) => {
    // Perf samples are padded to 8 bytes, so a record may be longer than its type, never shorter.
    if (data.length < size) throw new OperationError(`a record of ${data.length} bytes is shorter than ${typeName} (${size} bytes)`);
    const formatted = formatBtfValue(btf, typeId, data, 0);
    if (out.json) out.document(cpu === undefined ? { formatted } : { cpu, formatted });
    else out.line(cpu === undefined ? toJson(formatted) : `cpu ${cpu}: ${toJson(formatted)}`);
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
      print = await typedPrinter(out, btf, typeId, typeOption.trim());
    } else {
      print = bytesPrinter(out);
    }
    if (map.type === MapType.ringbuf) {
      const { RingBuffer } = await import('../../events/ring-buffer.js');
      reader = RingBuffer.open(map);
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

/** `events MAP [--count N] [--timeout S] [--type NAME [--btf FILE]]`. */
export const eventsCommand: Command = { run };
