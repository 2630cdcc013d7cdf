/**
 * `event_pipe MAP [cpu N index M]`: bpftool's `map event_pipe`, with its grammar and output, for
 * scripts that switch from bpftool. It reads a perf event array until Ctrl-C: by default a buffer
 * on every CPU, stored at the index of its number; with `cpu N index M`, one buffer on CPU N
 * stored at index M. Samples are stamped with the kernel's time (PERF_SAMPLE_TIME), as bpftool's
 * are.
 *
 * Text, per sample: `== @SECONDS.NANOSECONDS CPU: C index: I =====` and the bytes in bpftool's hex
 * layout (16 a line); a lost-samples report: `lost N events`. With `-j`, one JSON array streamed
 * item by item: `{"type":9,"cpu":C,"index":I,"timestamp":NS,"data":[...]}` per sample and
 * `{"type":2,"cpu":C,"index":I,"lost":{"id":ID,"count":N}}` per report, closed at exit.
 *
 * For ring buffers, BTF-typed records, `--count` and `--timeout`, use `events`.
 */
import type { PerfBuffer } from '../../events/perf-buffer.js';
import { PerfRecordType } from '../../events/layout.js';
import { MapType } from '../../sys/constants.js';
import { possibleCpus } from '../../sys/cpus.js';
import type { Command, CommandContext } from '../command.js';
import { hexText } from '../entries.js';
import { UsageError, parseMapRef, parseU32 } from '../grammar.js';
import { Interrupt } from '../interrupt.js';
import { mapLabel, openMap } from '../map-ref.js';
import { toJson, type JsonArrayStream } from '../output.js';

const NS_PER_SECOND = 1_000_000_000n;
/** bpftool's MMAP_PAGE_CNT: the same buffer size, so the same bursts fit or are lost. */
const BPFTOOL_PAGES_PER_CPU = 16;

async function run({ args, options, out }: CommandContext): Promise<void> {
  const ref = parseMapRef(args);
  let cpu: number | undefined;
  let index: number | undefined;
  while (!args.done) {
    if (args.accept('cpu')) cpu = parseU32(args.next('CPU number'), 'cpu');
    else if (args.accept('index')) index = parseU32(args.next('map index'), 'index');
    else throw new UsageError(`expected 'cpu N' or 'index M', got '${args.peek() ?? ''}'`);
  }
  args.end();
  options.end();
  if ((cpu === undefined) !== (index === undefined)) throw new UsageError('cpu and index must be specified together');

  // The output of a lost-samples report, set once the printer below exists.
  let reportLost: (cpu: number, lost: number, id: bigint) => void = () => {};
  let reader: PerfBuffer;
  {
    using map = openMap(ref);
    if (map.type !== MapType.perf_event_array) {
      throw new UsageError(`event_pipe needs a perf_event_array map; ${mapLabel(map)} is ${map.typeName} (use 'events' for ring buffers)`);
    }
    if (index !== undefined && index >= map.maxEntries) {
      throw new UsageError(`index ${index}: ${mapLabel(map)} has ${map.maxEntries} entries (0 to ${map.maxEntries - 1})`);
    }
    if (cpu !== undefined && cpu >= possibleCpus()) throw new UsageError(`cpu ${cpu}: this machine has CPUs 0 to ${possibleCpus() - 1}`);
    const { PerfBuffer } = await import('../../events/perf-buffer.js');
    reader = PerfBuffer.open(map, {
      timestamps: true,
      pagesPerCpu: BPFTOOL_PAGES_PER_CPU,
      ...(cpu !== undefined && index !== undefined ? { buffers: [{ cpu, index }] } : {}),
      onLost: (lostCpu, lost, id) => reportLost(lostCpu, lost, id),
    });
  }
  using events = reader;
  const indexOf = new Map(events.cpus.map((bufferCpu, i) => [bufferCpu, events.indexes[i]!]));
  const stream: JsonArrayStream | undefined = out.json ? out.jsonArray() : undefined;
  const item = (value: unknown): void => stream!.item(toJson(value, out.indent, stream!.itemDepth));
  reportLost = (lostCpu, lost, id) => {
    const lostIndex = indexOf.get(lostCpu) ?? lostCpu;
    if (stream) item({ type: PerfRecordType.lost, cpu: lostCpu, index: lostIndex, lost: { id, count: lost } });
    else out.line(`lost ${lost} events`);
  };

  using interrupt = new Interrupt();
  try {
    for await (const { data, cpu: sampleCpu = 0, time = 0n } of events.records({ signal: interrupt.signal })) {
      const sampleIndex = indexOf.get(sampleCpu) ?? sampleCpu;
      if (stream) {
        item({ type: PerfRecordType.sample, cpu: sampleCpu, index: sampleIndex, timestamp: time, data: Array.from(data) });
      } else {
        const nanoseconds = (time % NS_PER_SECOND).toString().padStart(9, '0');
        out.line(`== @${time / NS_PER_SECOND}.${nanoseconds} CPU: ${sampleCpu} index: ${sampleIndex} =====`);
        out.line(hexText(data));
      }
      // Each sample reaches the reader of the pipe as it arrives.
      out.flush();
    }
  } finally {
    stream?.close();
  }
}

/** `event_pipe MAP [cpu N index M]`. */
export const eventPipeCommand: Command = { run };
