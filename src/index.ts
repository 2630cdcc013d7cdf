/**
 * bpfmap: Linux BPF maps from Node.js.
 *
 * Public exports only; each line names where its concept lives.
 */
export { BpfMap, type AnyMapKind, type MapKindOf, type KindFor, type KeyedMapKind, type PerCpuMapType, type MapValue, type MapCodecs, type OpenOptions, type SetFlags, type GetFlags, type BatchPage } from './map/bpf-map.js';
export { type MapSpec, type MapBtfSpec, type MapFlagName, type HasFd } from './map/spec.js';
export { type MapInfo } from './map/info.js';
export { MappedArray } from './map/mapped-array.js';
export { BatchCursor, type MapBatch, type BatchOptions } from './map/batch.js';
export { perCpuCodec, lpmKeyCodec, type LpmKey } from './map/codecs.js';
export { supportedMethods, type UnsupportedMethodError } from './map/map-methods.js';
export { type Codec, type CodecValue, bytesCodec } from './codec/codec.js';
export { BpfError, BpfBatchError, errnoName, type BpfErrorCode, type ErrnoName, type ErrnoCode, type BpfLibraryErrorCode } from './sys/errors.js';
export { MapType, MapFlags, UpdateFlags, ENOTSUPP, mapTypeName, type MapTypeName, type UpdateFlag } from './sys/constants.js';
export { possibleCpus } from './sys/cpus.js';
export { BpfRecord, type BpfRecordOptions, type RecordObject, type RecordValue } from './codec/record/record.js';
export { arrayOf, type Template, type FieldTemplate, type ArrayTemplate } from './codec/record/template.js';
export { type InferRecord, type InferOptions } from './codec/record/infer.js';
export { type ByteOrder } from './codec/record/format.js';
export { RingBuffer, type RingBufferOptions } from './events/ring-buffer.js';
export { EventReader, type EventHandler, type IterateOptions, type Delivery } from './events/event-reader.js';
export { RecordView, type RecordDecoder, type EventRecord, type DecodeOptions } from './events/record.js';
export { type EventMapSource } from './events/source.js';
export { mergeEventReaders, type MergedEventRecord, type MergedRecordOf } from './events/merge.js';
export { subscribeEvents, eventSubscribers, EventSubscription, type SubscribeOptions } from './events/fan-out.js';
export { FilteredMap, type FilteredMapOptions, type FieldAccess, type AccessMask, type Visible, type ValuePatch } from './map/filtered-map.js';
export { Btf, type BtfHeader, type BtfParseOptions, type BtfMemberLocation } from './codec/btf/btf.js';
export { BtfError, type BtfErrorCode } from './codec/btf/errors.js';
export * from './codec/btf/types.js';
export { btfCodec, isCharArray, placeMember } from './codec/btf/codec.js';
export { kernelBtf, btfFromBytes, btfFromFile, btfFromFd, btfFromId, type LoadedBtf } from './codec/btf/sources.js';
export { elfSections, elfSection, type ElfSection } from './codec/btf/elf.js';
export { formatBtfValue, formatMapEntry, btfValueFormatter, type FormattedEntry, type FormatMapInfo } from './codec/btf/format.js';
export { parseFieldFormats, FIELD_FORMATS, type FieldFormat, type FieldFormatOptions } from './codec/btf/field-format.js';
export { ipv4Text, ipv6Text, macText } from './codec/net-address.js';
export { formatToJson, type FormattedValue } from './codec/btf/json.js';
export { BtfBuilder, type BtfTypeInput, type BtfBuildOptions } from './codec/btf/writer.js';
export { loadBtfIntoKernel } from './codec/btf/load.js';
export { loadMapBtf, btfCodecsForMap, typedMap, openTyped, formatEntry, createWithBtf, type MapBtfCodecs, type MapTypesSpec } from './map/btf-map.js';
export { UserRingBuffer, UserRingBufferReservation, type UserRingBufferOptions } from './events/user-ring-buffer.js';
export { BpfInUseError, findOtherRingUsers, type RingUser } from './events/exclusive.js';
export { PerfBuffer, type PerfBufferOptions, type PerfBufferPlacement } from './events/perf-buffer.js';
export { printC } from './codec/btf/c-printer.js';
export { btfTypeShape } from './codec/btf/shape.js';
export { generateTypeScript, typeScriptExpressions } from './codec/btf/typescript.js';
export { btfForRecords, RecordBtfWriter, type RecordBtf, type RecordBtfOptions, type RecordShape } from './codec/btf/from-record.js';
export { createWithRecords, type MapRecordsSpec, type SpecWithoutTypes } from './map/btf-map.js';
export {
  parseBtfExt, programExtInfo, coreRelocationsIn, encodeFuncInfo, encodeLineInfo, CORE_RELOCATION_KINDS,
  type BtfExt, type BtfExtSection, type BtfExtParseOptions, type FuncInfoRecord, type LineInfoRecord, type CoreRelocationRecord,
  type CoreRelocationKind, type PlacedRange, type ProgramExtInfo,
} from './objects/btf-ext.js';
export { CoreRelocator, type CoreRelocatorOptions, type CoreRelocationContext, type AppliedCoreRelocation } from './objects/core/relocator.js';
export { CoreRelocationError, type CoreRelocationErrorCode, type CoreRelocationPlace } from './objects/core/errors.js';
export { formatSpec, type CoreSpec, type CoreAccessor } from './objects/core/spec.js';
export { type CoreTargetBtf } from './objects/core/candidates.js';
export { generateSkeleton, skeletonTypePrefix, type SkeletonOptions } from './objects/skeleton.js';
export { KsymResolver, applyKsym, type KsymResolution, type KsymRequest, type KsymResolverOptions, type KsymPlace } from './objects/ksym.js';
export { BpfProgram, type ProgramOrigin } from './objects/program.js';
export { type ProgramInfo } from './objects/program-info.js';
export { ProgramType, AttachType, ProgramFlags, programTypeName, attachTypeName, type ProgramTypeName, type AttachTypeName } from './sys/program-types.js';
export { sectionDefinition, sectionPatterns, type SectionDefinition } from './objects/section-names.js';
export {
  Link, LinkType, linkTypeName, BpfAttachError, IterLink, attachProgram, attachXdp, attachTcx, attachTracepoint, attachRawTracepoint,
  attachKprobe, attachKsyscall, attachKprobeMulti, attachUprobe, attachUprobeMulti, elfFunctions, attachTracing, attachCgroup, attachIter, attachPerfEvent,
  kprobeUnsupportedReason, kprobeMultiUnsupportedReason, sectionTarget, tracefsRoot, findElfFunction,
  type LinkInfo, type LinkOrigin, type AttachErrorCode, type AttachSubject, type XdpOptions, type XdpMode, type TcxOptions,
  type TracepointOptions, type KprobeOptions, type KprobeMultiOptions, type UprobeOptions, type UprobeMultiOptions, type CgroupOptions, type IterMap,
  type PerfEventOptions, type AutoAttachOptions, type SectionTarget, type NoSectionTarget, type ElfFunction, type NetworkInterface,
} from './objects/link/index.js';
export {
  attachFreplace, attachProgramLegacy, queryPrograms, ProgramAttachment, AttachFlags,
  type FreplaceOptions, type AttachAnchor, type AnchorOptions, type AttachPoint, type ProgAttachOptions, type AttachedProgram, type ProgramQuery,
} from './objects/link/index.js';
export { BpfObject, GlobalVariables, type LoadOptions } from './objects/object.js';
export {
  attachPrograms, requiredTarget, type ProgramTarget, type RequiredTarget, type InterfaceTarget, type CgroupTarget, type ProcessTarget,
} from './objects/skeleton-attach.js';
export { ObjectSpec, type OpenOptions as ObjectOpenOptions, type VariableSpec } from './objects/object-spec.js';
export { ObjectMapSpec, type ObjectMapKind, type MapPinning, type MapSlot } from './objects/map-spec.js';
export { ProgramSpec } from './objects/program-spec.js';
export { arenaMemory } from './objects/arena.js';
export { usdtProbes, parseUsdtArgument, attachUsdt, type UsdtProbe, type UsdtArgument, type UsdtOptions } from './objects/link/index.js';
export { layoutStructOps, StructOpsSpec, type StructOpsMember, type StructOpsLayout } from './objects/struct-ops.js';
export { attachStructOps, updateStructOps, StructOpsRegistration } from './objects/link/struct-ops.js';
export { ObjectError, VerifierError, type ObjectErrorCode, type ObjectLocation } from './objects/errors.js';
export { PinMismatchError, btfDifferences, type PinDifference } from './map/pinned.js';
export { type RunOptions, type RunResult } from './objects/program.js';
export { MapExporter, type MapExporterOptions } from './serve/metrics/exporter.js';
export { type ExportSelector } from './serve/metrics/selectors.js';
export { parseMetricsConfig, loadMetricsConfig, ConfigError, type MetricsConfig, type CounterConfig, type HistogramConfig, type LabelConfig, type MapSelector } from './serve/metrics/ebpf-config.js';
export { CONTENT_TYPES, negotiateFormat, type ExpositionFormat } from './serve/metrics/exposition.js';
export { registerWithPromClient } from './serve/metrics/prom-client.js';
export { BpfmapServer, DEFAULT_PORT, DEFAULT_HOST, type ServeOptions } from './serve/http/server.js';
export { Router, type Route, type RouteContext, type Method } from './serve/http/router.js';
export { HttpError } from './serve/http/errors.js';
export { parseWebConfig, loadWebConfig, type WebConfig } from './serve/http/web-config.js';
export { histogramTool, diskName, requestFlagsName, softirqNames, type HistogramTool } from './map/histogram-tool.js';
export { bpftraceLayoutOf, type BpftraceLayoutFound } from './map/bpftrace-layout.js';
export { readHistograms, histogramOf, histogramBucket, checkHistogramLayout, type Histogram, type HistogramBucket, type HistogramLayout, type HistogramLayoutName, type LhistLayout, type HistogramSource, type MapHistograms, type ReadHistogramsOptions } from './map/histogram.js';
export { programsUsingMap, findRecordType, findBtfType, type FoundRecordType } from './map/map-users.js';
export { sumPerCpu, type Summable } from './map/per-cpu-sum.js';
export { MemoryMap, type MemoryMapOptions } from './map/memory-map.js';
export { type BpfMapLike } from './map/map-like.js';
