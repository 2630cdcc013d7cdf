/**
 * Links: attaching loaded programs. `link.ts` holds `Link` (pin, unpin, detach, update, info,
 * close); each attach kind has its own file; `attach.ts` attaches by section name.
 */
export { Link, type LinkOrigin } from './link.js';
export { LinkType, linkTypeName, type LinkInfo } from './link-info.js';
export { BpfAttachError, type AttachErrorCode, type AttachSubject } from './errors.js';
export { attachXdp, type XdpOptions, type XdpMode } from './xdp.js';
export { attachTcx, type TcxOptions } from './tcx.js';
export { attachTracepoint, type TracepointOptions } from './tracepoint.js';
export { attachRawTracepoint } from './raw-tracepoint.js';
export { attachKprobe, attachKsyscall, kprobeUnsupportedReason, type KprobeOptions } from './kprobe.js';
export { attachKprobeMulti, kprobeMultiUnsupportedReason, type KprobeMultiOptions } from './kprobe-multi.js';
export { attachUprobe, type UprobeOptions } from './uprobe.js';
export { attachUprobeMulti, type UprobeMultiOptions } from './uprobe-multi.js';
export { attachTracing } from './tracing.js';
export { attachFreplace, type FreplaceOptions } from './freplace.js';
export { usdtProbes, parseUsdtArgument, type UsdtProbe, type UsdtArgument } from './usdt-notes.js';
export { attachUsdt, type UsdtOptions } from './usdt.js';
export {
  attachProgramLegacy, queryPrograms, ProgramAttachment, AttachFlags,
  type AttachAnchor, type AnchorOptions, type AttachPoint, type ProgAttachOptions, type AttachedProgram, type ProgramQuery,
} from './prog-attach.js';
export { attachCgroup, type CgroupOptions } from './cgroup.js';
export { attachIter, IterLink, type IterMap } from './iter.js';
export { attachPerfEvent, type PerfEventOptions } from './perf-event.js';
export { attachProgram, type AutoAttachOptions } from './attach.js';
export { sectionTarget, type SectionTarget, type NoSectionTarget } from './section.js';
export { tracefsRoot } from './tracefs.js';
export { findElfFunction, elfFunctions, type ElfFunction } from './elf-symbols.js';
export { type NetworkInterface } from './netdev.js';
