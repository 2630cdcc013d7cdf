/**
 * Why a pin path failed, in words: the kernel answers EPERM for a pin outside bpffs, EACCES for
 * opening a file that is not a pin (or a folder), and ENOENT for a pin into a missing folder, and
 * none of those errnos says so. Looked at only after a failure, so the common path pays nothing.
 */
import { statSync, statfsSync } from 'node:fs';
import path from 'node:path';

/** BPF_FS_MAGIC from linux/magic.h: the f_type of a bpf file system. */
const BPF_FS_MAGIC = 0xcafe4a11;

/** True when `file` lives on a bpf file system; undefined when that cannot be told. */
function onBpffs(file: string): boolean | undefined {
  try {
    return statfsSync(file).type === BPF_FS_MAGIC;
  } catch {
    return undefined;
  }
}

function isDirectory(file: string): boolean | undefined {
  try {
    return statSync(file).isDirectory();
  } catch {
    return undefined;
  }
}

/** Where pins go, for the messages below. */
const BPFFS_HINT = 'pins live on a bpf file system (mount -t bpf bpf /sys/fs/bpf)';

/**
 * Why pinning at `pinPath` failed, when the path explains it (missing folder, not bpffs); undefined
 * when it does not (then the errno's own explanation stands).
 */
export function explainPinFailure(pinPath: string): string | undefined {
  const folder = path.dirname(path.resolve(pinPath));
  const folderIsDirectory = isDirectory(folder);
  if (folderIsDirectory === undefined) return `the folder ${folder} does not exist (create it first: mkdir -p ${folder}; ${BPFFS_HINT})`;
  if (!folderIsDirectory) return `${folder} is not a folder`;
  if (onBpffs(folder) === false) return `${folder} is not on a bpf file system: ${BPFFS_HINT}`;
  return undefined;
}

/**
 * Why opening `pinPath` as a pinned object failed, when the path explains it (a folder, a file
 * outside bpffs); undefined when it does not.
 */
export function explainOpenPinFailure(pinPath: string): string | undefined {
  const directory = isDirectory(pinPath);
  if (directory === true) return `${pinPath} is a folder, not a pinned object`;
  if (directory === false && onBpffs(pinPath) === false) return `${pinPath} is not on a bpf file system, so it is not a pinned object: ${BPFFS_HINT}`;
  return undefined;
}
