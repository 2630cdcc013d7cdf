/**
 * `bpfmap/memory`: the in-memory map and what code around it needs (codecs, records, BTF, errors),
 * without the native addon. A unit test imports this instead of `bpfmap` to run where bpf(2)
 * is not available: no root, no kernel support, a package installed without its addon build.
 * Nothing imported here loads the addon.
 */
export { MemoryMap, type MemoryMapOptions } from './map/memory-map.js';
export { type BpfMapLike } from './map/map-like.js';
export { type SetFlags, type GetFlags } from './map/flags.js';
export { type AnyMapKind, type MapKindOf, type KindFor, type KeyedMapKind, type PerCpuMapType, type MapValue, type MapCodecs } from './map/map-kinds.js';
export { type BatchPage } from './map/batch-ops.js';
export { type MapSpec, type MapFlagName } from './map/spec.js';
export { type MapInfo } from './map/info.js';
export { BatchCursor, type MapBatch, type BatchOptions } from './map/batch.js';
export { perCpuCodec, lpmKeyCodec, type LpmKey } from './map/codecs.js';
export { type Codec, type CodecValue, bytesCodec } from './codec/codec.js';
export { BpfError, BpfBatchError, errnoName, type BpfErrorCode, type ErrnoName, type ErrnoCode } from './sys/errors.js';
export { MapType, MapFlags, UpdateFlags, ENOTSUPP, mapTypeName, type MapTypeName, type UpdateFlag } from './sys/constants.js';
export { BpfRecord, type BpfRecordOptions, type RecordObject, type RecordValue } from './codec/record/record.js';
export { arrayOf, type Template, type FieldTemplate, type ArrayTemplate } from './codec/record/template.js';
export { Btf, type BtfParseOptions } from './codec/btf/btf.js';
export { BtfError, type BtfErrorCode } from './codec/btf/errors.js';
export { btfCodec } from './codec/btf/codec.js';
export { BtfBuilder, type BtfTypeInput } from './codec/btf/writer.js';
export { btfForRecords } from './codec/btf/from-record.js';
