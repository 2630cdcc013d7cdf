/**
 * Errors of object loading. `ObjectError` names the object, program, section and instruction a
 * problem is about, with a stable `code`:
 * - `ERR_BPFMAP_OBJECT_ELF`: the file is not a BPF ELF object, or its tables are malformed;
 * - `ERR_BPFMAP_OBJECT_SECTION`: a program's section name matches no known program type;
 * - `ERR_BPFMAP_OBJECT_RELOCATION`: a relocation the loader does not support, or that points nowhere;
 * - `ERR_BPFMAP_OBJECT_MAP`: a map definition that cannot be read (unknown field, bad shape);
 * - `ERR_BPFMAP_OBJECT_KSYM`: an extern kernel symbol (or kconfig value) that cannot be resolved;
 * - `ERR_BPFMAP_OBJECT_NAME`: a program, map or variable name the object does not have;
 * - `ERR_BPFMAP_OBJECT_STATE`: an operation at the wrong time (editing a spec after load);
 * A program the verifier rejects is a `VerifierError` (a `BpfError` with the verifier's log).
 */
import { BpfError } from '../sys/errors.js';

/** Codes of `ObjectError`. */
export type ObjectErrorCode =
  | 'ERR_BPFMAP_OBJECT_ELF'
  | 'ERR_BPFMAP_OBJECT_SECTION'
  | 'ERR_BPFMAP_OBJECT_RELOCATION'
  | 'ERR_BPFMAP_OBJECT_MAP'
  | 'ERR_BPFMAP_OBJECT_KSYM'
  | 'ERR_BPFMAP_OBJECT_NAME'
  | 'ERR_BPFMAP_OBJECT_STATE'
  | 'ERR_BPFMAP_OBJECT_VALUE';

/** Where in an object a problem is. */
export interface ObjectLocation {
  /** The program (C function) name. */
  readonly program?: string;
  /** The ELF section. */
  readonly section?: string;
  /** The instruction index, counted in the program (or section) as the message says. */
  readonly instruction?: number;
  /** The map name. */
  readonly map?: string;
  /** The symbol a relocation or extern names. */
  readonly symbol?: string;
}

function where(location: ObjectLocation): string {
  const parts: string[] = [];
  if (location.program !== undefined) parts.push(`program '${location.program}'`);
  if (location.map !== undefined) parts.push(`map '${location.map}'`);
  if (location.section !== undefined) parts.push(`section '${location.section}'`);
  if (location.instruction !== undefined) parts.push(`instruction ${location.instruction}`);
  return parts.length ? `${parts.join(', ')}: ` : '';
}

/** A BPF object that cannot be read, relocated or prepared for loading. */
export class ObjectError extends Error {
  /** Always `'ObjectError'`. */
  override readonly name = 'ObjectError';
  readonly code: ObjectErrorCode;
  readonly program: string | undefined;
  readonly section: string | undefined;
  readonly instruction: number | undefined;
  readonly map: string | undefined;
  readonly symbol: string | undefined;

  constructor(code: ObjectErrorCode, message: string, location: ObjectLocation = {}, options?: { cause?: unknown }) {
    super(`${where(location)}${message}`, options);
    this.code = code;
    this.program = location.program;
    this.section = location.section;
    this.instruction = location.instruction;
    this.map = location.map;
    this.symbol = location.symbol;
  }
}

/** The verifier refused a program: `log` holds what it said. */
export class VerifierError extends BpfError {
  /** The verifier's log (the end of it when it did not fit even the biggest buffer). */
  readonly log: string;
  /** True when the log was cut because the buffer was too small. */
  readonly truncated: boolean;
  /** The program's name and section. */
  readonly program: string;
  readonly section: string;

  /**
   * `logAsked`: the failed attempt had a log buffer. An empty log then means the kernel refused
   * the program before verifying it (permissions, a refused attach target, a trampoline ftrace
   * will not give), which the message says instead of blaming the verifier.
   */
  constructor(program: string, section: string, errno: number, code: string, log: string, truncated: boolean, logAsked = false) {
    const lines = log.trimEnd().split('\n');
    const tail = lines.slice(-12).join('\n');
    const what = tail || !logAsked ? 'the verifier refused it' : 'the kernel refused it before verifying it (no verifier log)';
    super(
      `PROG_LOAD of program '${program}' (section '${section}') failed with ${code}: ${what}` +
        (tail ? `${lines.length > 12 ? ` (last 12 of ${lines.length} log lines; see error.log)` : ''}:\n${tail}` : logAsked ? '' : ' (no log: pass logLevel: 1 for one)'),
      { code, errno, command: 'PROG_LOAD' },
    );
    // BpfError's `name` is a literal; this class names itself so that logs tell the two apart.
    Object.defineProperty(this, 'name', { value: 'VerifierError', enumerable: false });
    this.log = log;
    this.truncated = truncated;
    this.program = program;
    this.section = section;
  }
}
