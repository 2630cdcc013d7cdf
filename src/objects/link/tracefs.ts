/**
 * tracefs: where the kernel publishes tracepoint ids (`events/CATEGORY/NAME/id`), which
 * `perf_event_open(PERF_TYPE_TRACEPOINT)` takes as its config. Looked up at the usual places
 * (`/sys/kernel/tracing`, `/sys/kernel/debug/tracing`), then at any tracefs mount listed in
 * `/proc/self/mounts`, so a tracefs mounted elsewhere works too.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { BpfAttachError, type AttachSubject } from './errors.js';

const usualPlaces = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];

/** Undoes the octal escapes of /proc/self/mounts (`\040` for a space). */
function unescapeMountPath(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** Mount points of tracefs in this mount namespace, in /proc/self/mounts order. */
function tracefsMounts(): string[] {
  let text: string;
  try {
    text = readFileSync('/proc/self/mounts', 'utf8');
  } catch {
    return [];
  }
  const mounts: string[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    if (fields[2] === 'tracefs' && fields[1] !== undefined) mounts.push(unescapeMountPath(fields[1]));
  }
  return mounts;
}

/**
 * The root of a mounted tracefs (a folder with `events/`), or undefined when none is mounted.
 * Checked on every call: a tracefs mounted or unmounted since is seen.
 */
export function tracefsRoot(): string | undefined {
  const mounts = tracefsMounts();
  const candidates = [...usualPlaces.filter((place) => mounts.includes(place)), ...mounts];
  return candidates.find((root) => existsSync(path.join(root, 'events')));
}

const tracepointPart = /^[A-Za-z0-9_.-]+$/;

/**
 * The id of tracepoint `category/name` (for `perf_event_open`).
 * @throws BpfAttachError `ERR_BPFMAP_TRACEFS` when tracefs is not mounted, `ERR_BPFMAP_ATTACH_SYMBOL`
 * when the kernel has no such tracepoint.
 */
export function tracepointId(category: string, name: string, subject: AttachSubject): number {
  for (const part of [category, name]) {
    if (!tracepointPart.test(part) || part === '.' || part === '..') {
      throw new BpfAttachError(subject, 'ERR_BPFMAP_ATTACH_SYMBOL', `'${part}' is not a tracepoint category or name (expected letters, digits, '_', '.' or '-')`);
    }
  }
  const root = tracefsRoot();
  if (root === undefined) {
    throw new BpfAttachError(
      subject,
      'ERR_BPFMAP_TRACEFS',
      'tracefs is not mounted, so tracepoint ids cannot be read (mount it: mount -t tracefs nodev /sys/kernel/tracing)',
    );
  }
  const idPath = path.join(root, 'events', category, name, 'id');
  let text: string;
  try {
    text = readFileSync(idPath, 'utf8');
  } catch {
    const categoryExists = existsSync(path.join(root, 'events', category));
    throw new BpfAttachError(
      subject,
      'ERR_BPFMAP_ATTACH_SYMBOL',
      categoryExists
        ? `the kernel has no tracepoint '${name}' in category '${category}' (no ${idPath})`
        : `the kernel has no tracepoint category '${category}' (no ${path.join(root, 'events', category)})`,
    );
  }
  const id = Number.parseInt(text.trim(), 10);
  if (!Number.isSafeInteger(id) || id < 0) {
    throw new BpfAttachError(subject, 'ERR_BPFMAP_ATTACH_SYMBOL', `${idPath} holds '${text.trim()}', not a tracepoint id`);
  }
  return id;
}
