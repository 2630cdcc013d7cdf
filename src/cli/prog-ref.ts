/**
 * bpftool's `PROG := id N | pinned FILE | tag TAG | name NAME`, for the values of prog_array
 * updates: parsing it, and opening the one program it names as an fd (closed on dispose). The
 * library works with maps, not programs, so this is the CLI's own small program lookup: the
 * GET_FD_BY_ID / GET_NEXT_ID commands and the first bytes of `struct bpf_prog_info`.
 */
import { explainOpenPinFailure } from '../sys/pin-path.js';
import { Command } from '../sys/commands.js';
import { BpfError, Errno } from '../sys/errors.js';
import { idAttr, progInfoLayout, StructBuffer } from '../sys/layout.js';
import { native, nativeObject, NativeKind, type NativeObject } from '../sys/native.js';
import { type Args, OperationError, UsageError, parseU32 } from './grammar.js';

/** A program as the command line names it. */
export type ProgRef =
  | { readonly kind: 'id'; readonly id: number }
  | { readonly kind: 'pinned'; readonly path: string }
  | { readonly kind: 'tag'; readonly tag: string }
  | { readonly kind: 'name'; readonly name: string };

const ENOENT = Errno.ENOENT;

/** Parses `PROG`. */
export function parseProgRef(args: Args): ProgRef {
  const word = args.peek();
  if (word === undefined) throw new UsageError("program expected: 'id N', 'pinned PATH', 'tag TAG' or 'name NAME'");
  if (args.accept('id')) {
    const id = parseU32(args.next('program id'), 'program id');
    if (id === 0) throw new UsageError('program id: 0 is not a program id');
    return { kind: 'id', id };
  }
  if (args.accept('pinned')) return { kind: 'pinned', path: args.next('pin path') };
  if (args.accept('tag')) {
    const tag = args.next('program tag');
    if (!/^[0-9a-fA-F]{16}$/.test(tag)) throw new UsageError(`program tag: '${tag}' is not 8 bytes of hex (like f0055c08993fea15)`);
    return { kind: 'tag', tag: tag.toLowerCase() };
  }
  if (args.accept('name')) return { kind: 'name', name: args.next('program name') };
  throw new UsageError(`expected 'id', 'pinned', 'tag' or 'name' for a program, got '${word}'`);
}

/** An open program: an addon handle (pass the object itself to `setFd`), closed on dispose. */
export class ProgramFd implements Disposable {
  constructor(readonly handle: NativeObject<'prog'>) {}

  /** The handle, for `setFd`. */
  get [nativeObject](): NativeObject<'prog'> {
    return this.handle;
  }

  /** Closes the handle. */
  [Symbol.dispose](): void {
    native.objClose(this.handle);
  }
}

/** PROG_GET_FD_BY_ID: a handle, or undefined when no program has the id. */
function programFdById(id: number): NativeObject<'prog'> | undefined {
  const handle = native.objGetById<'prog'>(Command.PROG_GET_FD_BY_ID, id, 0);
  if (handle === -ENOENT) return undefined;
  if (typeof handle === 'number') throw BpfError.fromErrno('PROG_GET_FD_BY_ID', -handle, undefined, `program id ${id}`);
  return handle;
}

/** Every loaded program's id (PROG_GET_NEXT_ID until ENOENT). */
function programIds(): number[] {
  const ids: number[] = [];
  let id = 0;
  for (;;) {
    const attr = new StructBuffer(idAttr).setU32('id', id);
    const rc = native.bpfPlain(Command.PROG_GET_NEXT_ID, attr.bytes);
    if (rc === -ENOENT) return ids;
    if (rc < 0) throw BpfError.fromErrno('PROG_GET_NEXT_ID', -rc);
    id = attr.u32('next_id');
    ids.push(id);
  }
}

/** The tag (hex), name and BTF id (0 for none) of an open program. */
function programInfo(fd: NativeObject<'prog'>): { tag: string; name: string; btfId: number } {
  const info = new StructBuffer(progInfoLayout);
  const rc = native.objInfo(fd, info.bytes);
  if (rc < 0) throw BpfError.fromErrno('OBJ_GET_INFO_BY_FD', -rc, undefined, 'program info');
  return { tag: Buffer.from(info.raw('tag')).toString('hex'), name: info.text('name'), btfId: info.u32('btf_id') };
}

/** Opens the one program a reference names; fails naming what was missing or ambiguous. */
export function openProgram(ref: ProgRef): ProgramFd {
  switch (ref.kind) {
    case 'id': {
      const fd = programFdById(ref.id);
      if (fd === undefined) throw new OperationError(`no program with id ${ref.id}`);
      return new ProgramFd(fd);
    }
    case 'pinned': {
      const fd = native.objGet(ref.path, 0);
      if (fd === -ENOENT) throw new OperationError(`no program pinned at ${ref.path}`);
      if (fd === -Errno.EINVAL) throw new OperationError(`${ref.path} is not a pinned program`);
      if (typeof fd === 'number') {
        const reason = explainOpenPinFailure(ref.path);
        throw reason === undefined ? BpfError.fromErrno('OBJ_GET', -fd, undefined, ref.path) : BpfError.withReason('OBJ_GET', -fd, reason);
      }
      if (native.objKind(fd) !== NativeKind.prog) {
        native.objClose(fd);
        throw new OperationError(`${ref.path} is not a pinned program`);
      }
      return new ProgramFd(fd as NativeObject<'prog'>);
    }
    case 'tag':
    case 'name': {
      const wanted = ref.kind === 'tag' ? ref.tag : ref.name;
      const matches: Array<{ id: number; fd: NativeObject<'prog'> }> = [];
      for (const id of programIds()) {
        const fd = programFdById(id);
        if (fd === undefined) continue; // unloaded since it was listed
        const info = programInfo(fd);
        if ((ref.kind === 'tag' ? info.tag : info.name) === wanted) matches.push({ id, fd });
        else native.objClose(fd);
      }
      const [first, ...others] = matches;
      for (const other of others) native.objClose(other.fd);
      if (first === undefined) throw new OperationError(`no program with ${ref.kind} ${wanted}`);
      if (others.length > 0) {
        native.objClose(first.fd);
        throw new OperationError(`several programs have ${ref.kind} ${wanted} (ids ${[first, ...others].map(({ id }) => id).join(', ')}): use 'id N' or 'pinned PATH'`);
      }
      return new ProgramFd(first.fd);
    }
  }
}
