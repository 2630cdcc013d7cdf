/**
 * Run counts and run time of the programs that use the exported maps (`struct bpf_prog_info`'s
 * run_cnt and run_time_ns), which the kernel counts only while `kernel.bpf_stats_enabled` is 1.
 */
import { readFileSync } from 'node:fs';
import { Command } from '../../sys/commands.js';
import { Errno } from '../../sys/errors.js';
import { idAttr, progInfoLayout, StructBuffer } from '../../sys/layout.js';
import { native } from '../../sys/native.js';

/** One program's statistics. */
export interface ProgramStats {
  readonly id: number;
  readonly name: string;
  readonly tag: string;
  readonly runCount: number;
  readonly runTimeSeconds: number;
}

/** `kernel.bpf_stats_enabled`: true, false, or undefined when it cannot be read. */
export function bpfStatsEnabled(): boolean | undefined {
  try {
    return readFileSync('/proc/sys/kernel/bpf_stats_enabled', 'utf8').trim() !== '0';
  } catch {
    return undefined;
  }
}

function nextProgramId(id: number): number | undefined {
  const attr = new StructBuffer(idAttr).setU32('id', id);
  const rc = native.bpfPlain(Command.PROG_GET_NEXT_ID, attr.bytes);
  if (rc === -Errno.ENOENT || rc < 0) return undefined;
  return attr.u32('next_id');
}

/**
 * The statistics of every loaded program that uses one of `mapIds`, in program id order. Programs
 * that unload while we look are skipped; programs we may not open are skipped too.
 */
export function programsUsingMaps(mapIds: ReadonlySet<number>): ProgramStats[] {
  const stats: ProgramStats[] = [];
  if (mapIds.size === 0) return stats;
  let ids = new Uint32Array(64);
  for (let id = nextProgramId(0); id !== undefined; id = nextProgramId(id)) {
    const fd = native.objGetById<'prog'>(Command.PROG_GET_FD_BY_ID, id, 0);
    if (typeof fd === 'number') continue;
    try {
      let count = native.progMapIds(fd, ids);
      if (count > ids.length) {
        ids = new Uint32Array(count);
        count = native.progMapIds(fd, ids);
      }
      if (count <= 0) continue;
      let uses = false;
      for (let i = 0; i < Math.min(count, ids.length) && !uses; i++) uses = mapIds.has(ids[i] as number);
      if (!uses) continue;
      const info = new StructBuffer(progInfoLayout);
      if (native.objInfo(fd, info.bytes) < 0) continue;
      stats.push({
        id,
        name: info.text('name'),
        tag: Buffer.from(info.raw('tag')).toString('hex'),
        runCount: Number(info.u64('run_cnt')),
        runTimeSeconds: Number(info.u64('run_time_ns')) / 1e9,
      });
    } finally {
      native.objClose(fd);
    }
  }
  return stats;
}

/**
 * BTF ids of the loaded programs that use map `mapId` (their objects' BTF declares the records a
 * program writes to a ring buffer, which libbpf creates without BTF of its own).
 */
export function programBtfIdsUsing(mapId: number): number[] {
  const btfIds = new Set<number>();
  let ids = new Uint32Array(64);
  for (let id = nextProgramId(0); id !== undefined; id = nextProgramId(id)) {
    const fd = native.objGetById<'prog'>(Command.PROG_GET_FD_BY_ID, id, 0);
    if (typeof fd === 'number') continue;
    try {
      let count = native.progMapIds(fd, ids);
      if (count > ids.length) {
        ids = new Uint32Array(count);
        count = native.progMapIds(fd, ids);
      }
      if (count <= 0 || !ids.subarray(0, count).includes(mapId)) continue;
      const info = new StructBuffer(progInfoLayout);
      if (native.objInfo(fd, info.bytes) < 0) continue;
      const btfId = info.u32('btf_id');
      if (btfId !== 0) btfIds.add(btfId);
    } finally {
      native.objClose(fd);
    }
  }
  return [...btfIds];
}
