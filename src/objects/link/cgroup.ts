/**
 * cgroup programs (`SEC("cgroup_skb/ingress")`, `cgroup/sock_create`, `cgroup/connect4`, ...):
 * attached to a cgroup v2 directory through a bpf_link, so that they detach on close and
 * several programs coexist (links are always multi-attach).
 */
import { statfsSync, statSync } from 'node:fs';
import path from 'node:path';
import { native } from '../../sys/native.js';
import { Errno, argumentError } from '../../sys/errors.js';
import { AttachType, attachTypeName } from '../../sys/program-types.js';
import type { BpfProgram } from '../program.js';
import { BpfAttachError, type AttachSubject } from './errors.js';
import { Link, linkOrThrow, subjectOf, withProgramHandle } from './link.js';
import { encodeAnchor, linkAnchored, type AnchorOptions } from './prog-attach.js';

/** statfs f_type of cgroup v2. */
const CGROUP2_SUPER_MAGIC = 0x63677270;

/** Where to attach a cgroup program; `before`/`after` order it among the cgroup's programs (Linux 6.16+). */
export interface CgroupOptions extends AnchorOptions {
  /** A cgroup v2 directory (`/sys/fs/cgroup/my.slice`). */
  readonly cgroup: string;
  /** The attach type (`'cgroup_inet_ingress'` or its number); defaults to the program's. */
  readonly attachType?: keyof typeof AttachType | number;
}

/** @internal The absolute path of a cgroup v2 directory, or a BpfAttachError saying why it is not one. */
export function checkCgroup(cgroup: string, subject: AttachSubject): string {
  const absolute = path.resolve(cgroup);
  let isDirectory = false;
  try {
    isDirectory = statSync(absolute).isDirectory();
  } catch {
    throw new BpfAttachError(subject, 'ERR_BPFMAP_ATTACH_CGROUP', `no cgroup at ${absolute}`);
  }
  if (!isDirectory) throw new BpfAttachError(subject, 'ERR_BPFMAP_ATTACH_CGROUP', `${absolute} is not a directory, so not a cgroup`);
  const type = statfsSync(absolute).type;
  if (type !== CGROUP2_SUPER_MAGIC) {
    throw new BpfAttachError(subject, 'ERR_BPFMAP_ATTACH_CGROUP', `${absolute} is not on a cgroup v2 file system (statfs type 0x${type.toString(16)}); BPF attaches to cgroup v2 only (mount -t cgroup2)`);
  }
  return absolute;
}

/**
 * Attaches a cgroup program to a cgroup.
 * @throws BpfAttachError `ERR_BPFMAP_ATTACH_CGROUP` when the path is not a cgroup v2 directory.
 *
 * @example
 * using link = attachCgroup(program, { cgroup: '/sys/fs/cgroup/unified/app' });
 */
export function attachCgroup(program: BpfProgram, options: CgroupOptions): Link {
  if (options === null || typeof options !== 'object' || typeof options.cgroup !== 'string' || options.cgroup === '') {
    throw argumentError(TypeError, 'ERR_BPFMAP_OPTIONS', 'attachCgroup: options must be { cgroup, attachType? }');
  }
  let attachType: number | undefined;
  if (typeof options.attachType === 'string') {
    attachType = (AttachType as unknown as Record<string, number | undefined>)[options.attachType];
    if (attachType === undefined) throw argumentError(TypeError, 'ERR_BPFMAP_ATTACH_TYPE', `unknown attach type ${JSON.stringify(options.attachType)}`);
  } else {
    attachType = options.attachType ?? program.attachType;
  }
  if (attachType === undefined) {
    throw argumentError(TypeError, 'ERR_BPFMAP_ATTACH_TYPE', `program '${program.name}' carries no attach type (opened from a pin?): pass attachType, e.g. 'cgroup_inet_ingress'`);
  }
  const subject = subjectOf(program, `cgroup (${attachTypeName(attachType)})`, options.cgroup);
  const cgroup = checkCgroup(options.cgroup, subject);
  const anchor = encodeAnchor(options, 'attachCgroup');
  const result = anchor.flags || anchor.expectedRevision
    ? linkAnchored(program, cgroup, 0, attachType, anchor)
    : withProgramHandle(program, (prog) => native.linkCreateCgroup(prog, cgroup, attachType, 0));
  return linkOrThrow(result, subject, 'BPF_LINK_CREATE (cgroup)', 'LINK_CREATE', (errno) =>
    errno === Errno.EINVAL && anchor.flags ? `the kernel may predate cgroup ordering (before/after: Linux 6.16), or the program (${program.typeName}) was not loaded for attach type ${attachTypeName(attachType)}`
      : errno === Errno.EINVAL ? `the program (${program.typeName}) was not loaded for attach type ${attachTypeName(attachType)}`
        : errno === Errno.ENOENT && anchor.flags ? 'the anchor is not attached to this cgroup for this attach type'
          : errno === Errno.ESTALE ? 'the attach point changed since expectedRevision' : undefined,
  );
}
