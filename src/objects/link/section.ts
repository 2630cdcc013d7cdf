/**
 * Section names to attach targets, the way libbpf's skeleton auto-attach reads them:
 * `kprobe/FUNC[+OFFSET]`, `kretprobe/FUNC`, `ksyscall/NAME`, `kprobe.multi/PATTERN`,
 * `uprobe/BINARY:FUNC[+OFFSET]`, `uprobe.multi/BINARY:PATTERN`, `usdt/BINARY:PROVIDER:NAME`, `tracepoint/CATEGORY/NAME` (`tp/`), `raw_tracepoint/NAME`
 * (`raw_tp/`), `fentry/`, `fexit/`, `fmod_ret/`, `tp_btf/`, `lsm/`, `iter/`. Sections that name
 * no target (`xdp`, `tc`, `cgroup_skb/ingress`, bare `kprobe`, ...) cannot be auto-attached:
 * libbpf skips them, and so does {@link attachProgram}.
 */
import { BpfAttachError, type AttachSubject } from './errors.js';

/** Where a section name says a program attaches. */
export type SectionTarget =
  | { readonly kind: 'kprobe'; readonly retprobe: boolean; readonly symbol: string; readonly offset: number }
  | { readonly kind: 'ksyscall'; readonly retprobe: boolean; readonly syscall: string }
  | { readonly kind: 'kprobe_multi'; readonly retprobe: boolean; readonly pattern: string }
  | { readonly kind: 'uprobe'; readonly retprobe: boolean; readonly binary: string; readonly symbol: string; readonly offset: number }
  | { readonly kind: 'uprobe_multi'; readonly retprobe: boolean; readonly binary: string; readonly pattern: string }
  | { readonly kind: 'usdt'; readonly binary: string; readonly provider: string; readonly name: string }
  | { readonly kind: 'tracepoint'; readonly category: string; readonly name: string }
  | { readonly kind: 'raw_tracepoint'; readonly name: string }
  /** fentry, fexit, fmod_ret, tp_btf, lsm: the target was fixed at load (attach_btf_id). */
  | { readonly kind: 'tracing'; readonly target: string }
  | { readonly kind: 'iter'; readonly target: string }
  /** An freplace program: the function it was loaded to replace (of the program given at load). */
  | { readonly kind: 'freplace'; readonly target: string };

/** A section that names no target, and why it cannot be auto-attached. */
export interface NoSectionTarget {
  readonly kind: 'none';
  readonly reason: string;
}

/** The part after `prefix/`, '' for a bare `prefix`, undefined when `section` has another prefix. */
function after(section: string, prefixes: readonly string[]): string | undefined {
  for (const prefix of prefixes) {
    if (section === prefix) return '';
    if (section.startsWith(`${prefix}/`)) return section.slice(prefix.length + 1);
  }
  return undefined;
}

function malformed(subject: AttachSubject, section: string, expected: string): BpfAttachError {
  return new BpfAttachError(subject, 'ERR_BPFMAP_ATTACH_SECTION', `section '${section}' is malformed: expected ${expected}`);
}

function parseOffset(text: string | undefined): number | undefined {
  if (text === undefined) return 0;
  const value = /^0x[0-9a-f]+$/i.test(text) ? Number.parseInt(text, 16) : /^\d+$/.test(text) ? Number.parseInt(text, 10) : NaN;
  return Number.isSafeInteger(value) ? value : undefined;
}

/**
 * Reads where `section` attaches. Returns `{ kind: 'none', reason }` for sections that name no
 * target (libbpf's skeleton skips those too).
 * @throws BpfAttachError `ERR_BPFMAP_ATTACH_SECTION` when a section of a known kind is malformed
 * (`kprobe/fn+x`, `uprobe/path` without `:function`, `tp/name` without a category, ...).
 */
export function sectionTarget(section: string, program = '?'): SectionTarget | NoSectionTarget {
  const subject: AttachSubject = { program, kind: 'auto', target: section };
  const none = (reason: string): NoSectionTarget => ({ kind: 'none', reason });

  for (const [prefixes, retprobe] of [[['kprobe'], false], [['kretprobe'], true]] as const) {
    const rest = after(section, prefixes);
    if (rest === undefined) continue;
    if (rest === '') return none(`a bare '${section}' section names no kernel function`);
    const match = /^([A-Za-z0-9_.]+)(?:\+(.+))?$/.exec(rest);
    const offset = parseOffset(match?.[2]);
    if (!match || offset === undefined) throw malformed(subject, section, `${prefixes[0]}/FUNCTION[+OFFSET]`);
    if (retprobe && offset !== 0) throw malformed(subject, section, 'no offset: kretprobes attach at function entry');
    return { kind: 'kprobe', retprobe, symbol: match[1]!, offset };
  }
  for (const [prefixes, retprobe] of [[['ksyscall'], false], [['kretsyscall'], true]] as const) {
    const rest = after(section, prefixes);
    if (rest === undefined) continue;
    if (rest === '') return none(`a bare '${section}' section names no system call`);
    if (!/^[A-Za-z0-9_]+$/.test(rest)) throw malformed(subject, section, `${prefixes[0]}/SYSCALL`);
    return { kind: 'ksyscall', retprobe, syscall: rest };
  }
  for (const [prefixes, retprobe] of [[['kprobe.multi'], false], [['kretprobe.multi'], true]] as const) {
    const rest = after(section, prefixes);
    if (rest === undefined) continue;
    if (rest === '') return none(`a bare '${section}' section names no function pattern`);
    return { kind: 'kprobe_multi', retprobe, pattern: rest };
  }
  for (const [prefixes, retprobe] of [[['uprobe.multi', 'uprobe.multi.s'], false], [['uretprobe.multi', 'uretprobe.multi.s'], true]] as const) {
    const rest = after(section, prefixes);
    if (rest === undefined) continue;
    if (rest === '') return none(`a bare '${section}' section names no binary and functions`);
    const colon = rest.lastIndexOf(':');
    if (colon <= 0 || colon === rest.length - 1) throw malformed(subject, section, `${prefixes[0]}/BINARY:PATTERN`);
    return { kind: 'uprobe_multi', retprobe, binary: rest.slice(0, colon), pattern: rest.slice(colon + 1) };
  }
  for (const [prefixes, retprobe] of [[['uprobe', 'uprobe.s'], false], [['uretprobe', 'uretprobe.s'], true]] as const) {
    const rest = after(section, prefixes);
    if (rest === undefined) continue;
    if (rest === '') return none(`a bare '${section}' section names no binary and function`);
    const colon = rest.lastIndexOf(':');
    if (colon <= 0 || colon === rest.length - 1) throw malformed(subject, section, 'uprobe/BINARY:FUNCTION[+OFFSET]');
    const binary = rest.slice(0, colon);
    let symbol = rest.slice(colon + 1);
    let offset = 0;
    const plus = symbol.lastIndexOf('+');
    if (plus > 0) {
      const parsed = parseOffset(symbol.slice(plus + 1));
      if (parsed !== undefined) {
        offset = parsed;
        symbol = symbol.slice(0, plus);
      }
    }
    if (retprobe && offset !== 0) throw malformed(subject, section, 'no offset: uretprobes attach at function entry');
    return { kind: 'uprobe', retprobe, binary, symbol, offset };
  }
  {
    const rest = after(section, ['usdt', 'usdt.s']);
    if (rest !== undefined) {
      if (rest === '') return none(`a bare '${section}' section names no binary and probe (attachUsdt)`);
      // libbpf reads usdt/%[^:]:%[^:]:%[^:]: the path holds no colon.
      const parts = rest.split(':');
      if (parts.length !== 3 || parts.some((p) => p === '')) throw malformed(subject, section, 'usdt/BINARY:PROVIDER:NAME');
      return { kind: 'usdt', binary: parts[0]!, provider: parts[1]!, name: parts[2]! };
    }
  }
  {
    const rest = after(section, ['tracepoint', 'tp', 'tracepoint.s', 'tp.s']);
    if (rest !== undefined) {
      if (rest === '') return none(`a bare '${section}' section names no tracepoint`);
      const slash = rest.indexOf('/');
      if (slash <= 0 || slash === rest.length - 1) throw malformed(subject, section, 'tracepoint/CATEGORY/NAME');
      return { kind: 'tracepoint', category: rest.slice(0, slash), name: rest.slice(slash + 1) };
    }
  }
  {
    const rest = after(section, ['raw_tracepoint', 'raw_tp', 'raw_tracepoint.w', 'raw_tp.w', 'raw_tracepoint.s', 'raw_tp.s']);
    if (rest !== undefined) {
      if (rest === '') return none(`a bare '${section}' section names no raw tracepoint`);
      return { kind: 'raw_tracepoint', name: rest };
    }
  }
  {
    const rest = after(section, ['fentry', 'fexit', 'fmod_ret', 'fentry.s', 'fexit.s', 'fmod_ret.s', 'tp_btf', 'tp_btf.s', 'lsm', 'lsm.s']);
    if (rest !== undefined) {
      if (rest === '') return none(`a bare '${section}' section names no kernel function`);
      return { kind: 'tracing', target: rest };
    }
  }
  {
    const rest = after(section, ['iter', 'iter.s']);
    if (rest !== undefined) {
      if (rest === '') return none(`a bare '${section}' section names no iterator`);
      return { kind: 'iter', target: rest };
    }
  }
  {
    const rest = after(section, ['freplace']);
    if (rest !== undefined) {
      if (rest === '') return none(`a bare '${section}' section names no function to replace`);
      return { kind: 'freplace', target: rest };
    }
  }
  const kind = section.split('/')[0] ?? section;
  const needs: Record<string, string> = {
    xdp: 'an interface (attachXdp)',
    'xdp.frags': 'an interface (attachXdp)',
    tc: 'an interface (attachTcx)',
    tcx: 'an interface (attachTcx)',
    classifier: 'an interface (attachTcx)',
    cgroup: 'a cgroup (attachCgroup)',
    cgroup_skb: 'a cgroup (attachCgroup)',
    sockops: 'a cgroup (attachCgroup)',
    perf_event: 'a perf event (attachPerfEvent)',
  };
  return none(needs[kind] ? `'${section}' programs need ${needs[kind]}, which a section name cannot say` : `'${section}' programs have no auto-attach target`);
}
