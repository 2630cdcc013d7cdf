/**
 * Memory layouts of the kernel's event buffers, written down once.
 *
 * BPF ring buffers (`ringbuf`, `user_ringbuf`) map as: page 0 the consumer position, page 1 the
 * producer position, then the data area twice in a row, so that a record that runs past the end
 * of the data area continues in the second copy and never wraps in memory. Each record is an
 * 8-byte header `{u32 len; u32 pg_off}` followed by `len` bytes, padded to 8.
 *
 * Perf buffers map as: one `struct perf_event_mmap_page` then a power-of-two number of data
 * pages that records do wrap around in.
 */
import { native } from '../sys/native.js';

/** Bit 31 of a ring buffer record's `len`: the producer has reserved it but not yet committed. */
export const RINGBUF_BUSY_BIT = 0x8000_0000;
/** Bit 30 of a ring buffer record's `len`: committed as discarded; consumers skip it. */
export const RINGBUF_DISCARD_BIT = 0x4000_0000;
/** Bytes of a ring buffer record header. */
export const RINGBUF_HEADER_SIZE = 8;
/** The largest record length the header's 30 length bits can hold. */
export const RINGBUF_MAX_RECORD = RINGBUF_DISCARD_BIT - 1;

/** Bytes a ring buffer record of `length` data bytes occupies: header plus data, rounded up to 8. */
export function ringbufRecordSpan(length: number): number {
  return (length + RINGBUF_HEADER_SIZE + 7) & ~7;
}

/** Byte offsets in `struct perf_event_mmap_page` (include/uapi/linux/perf_event.h). */
export const PerfMmapPage = {
  dataHead: 1024,
  dataTail: 1032,
  dataOffset: 1040,
  dataSize: 1048,
} as const;

/** `perf_event_header.type` values the reader handles. */
export const PerfRecordType = {
  lost: 2,
  sample: 9,
} as const;

/** Bytes of `struct perf_event_header` ({u32 type; u16 misc; u16 size}). */
export const PERF_HEADER_SIZE = 8;

let cachedPageSize: number | undefined;

/** The system's page size, which the buffer layouts are counted in. */
export function pageSize(): number {
  if (cachedPageSize === undefined) {
    const size = native.pageSize();
    cachedPageSize = size > 0 ? size : 4096;
  }
  return cachedPageSize;
}

/** 2^32: positions are u64, stored as a low and a high u32 word. */
export const TWO_POW_32 = 0x1_0000_0000;
