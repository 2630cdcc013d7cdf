/** What kind of BPF object an fd refers to, from /proc (the kernel names its anon inodes `bpf-KIND`). */
import { readlinkSync } from 'node:fs';

/**
 * The kind of BPF object behind `fd` (`'map'`, `'prog'`, `'link'`, `'btf'`, ...), the fd's
 * /proc target for other files, or undefined when /proc cannot tell. OBJ_GET and
 * OBJ_GET_INFO_BY_FD accept any BPF object, so this is how a pin or fd of the wrong kind is told
 * apart before its info is misread.
 */
export function bpfObjectKind(fd: number): string | undefined {
  let target: string;
  try {
    target = readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
  return target.startsWith('anon_inode:bpf-') ? target.slice('anon_inode:bpf-'.length) : target;
}
