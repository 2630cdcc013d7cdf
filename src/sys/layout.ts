/**
 * Attribute and info layouts, declared once as field tables (byte offset and size) and used by
 * both writers and readers, so that no offset is written twice.
 */

/**
 * Rounds up to a multiple of 8: the kernel's stride of one CPU's value in a per-CPU buffer, and
 * of one value in a memory-mapped array.
 */
export function roundUp8(size: number): number {
  return (size + 7) & ~7;
}

/** One field of a kernel struct: its byte offset and size (4 or 8; names are 16). */
export interface FieldLayout {
  readonly offset: number;
  readonly size: 4 | 8 | 16;
}

/** A struct layout: its size and its fields by name. */
export interface StructLayout<F extends string> {
  readonly size: number;
  readonly fields: Readonly<Record<F, FieldLayout>>;
}

function layout<F extends string>(size: number, fields: Record<F, FieldLayout>): StructLayout<F> {
  return { size, fields };
}

/** `union bpf_attr` for MAP_CREATE, up to map_token_fd (the pointer-free prefix). */
export const mapCreateAttr = layout(80, {
  map_type: { offset: 0, size: 4 },
  key_size: { offset: 4, size: 4 },
  value_size: { offset: 8, size: 4 },
  max_entries: { offset: 12, size: 4 },
  map_flags: { offset: 16, size: 4 },
  inner_map_fd: { offset: 20, size: 4 },
  numa_node: { offset: 24, size: 4 },
  map_name: { offset: 28, size: 16 },
  map_ifindex: { offset: 44, size: 4 },
  btf_fd: { offset: 48, size: 4 },
  btf_key_type_id: { offset: 52, size: 4 },
  btf_value_type_id: { offset: 56, size: 4 },
  btf_vmlinux_value_type_id: { offset: 60, size: 4 },
  map_extra: { offset: 64, size: 8 },
  value_type_btf_obj_fd: { offset: 72, size: 4 },
  map_token_fd: { offset: 76, size: 4 },
});

/** `union bpf_attr` for *_GET_NEXT_ID and *_GET_FD_BY_ID. */
export const idAttr = layout(12, {
  id: { offset: 0, size: 4 },
  next_id: { offset: 4, size: 4 },
  open_flags: { offset: 8, size: 4 },
});

/** `struct bpf_map_info`, through map_extra. */
export const mapInfoLayout = layout(88, {
  type: { offset: 0, size: 4 },
  id: { offset: 4, size: 4 },
  key_size: { offset: 8, size: 4 },
  value_size: { offset: 12, size: 4 },
  max_entries: { offset: 16, size: 4 },
  map_flags: { offset: 20, size: 4 },
  name: { offset: 24, size: 16 },
  ifindex: { offset: 40, size: 4 },
  btf_vmlinux_value_type_id: { offset: 44, size: 4 },
  netns_dev: { offset: 48, size: 8 },
  netns_ino: { offset: 56, size: 8 },
  btf_id: { offset: 64, size: 4 },
  btf_key_type_id: { offset: 68, size: 4 },
  btf_value_type_id: { offset: 72, size: 4 },
  btf_vmlinux_id: { offset: 76, size: 4 },
  map_extra: { offset: 80, size: 8 },
});

/**
 * `struct bpf_prog_info`, through `attach_btf_id`. Its pointer fields (jited_prog_insns, map_ids,
 * ...) are not listed: they stay zero, so the kernel writes through none of them.
 */
export const progInfoLayout = layout(232, {
  type: { offset: 0, size: 4 },
  id: { offset: 4, size: 4 },
  tag: { offset: 8, size: 8 },
  jited_prog_len: { offset: 16, size: 4 },
  xlated_prog_len: { offset: 20, size: 4 },
  load_time: { offset: 40, size: 8 },
  created_by_uid: { offset: 48, size: 4 },
  nr_map_ids: { offset: 52, size: 4 },
  name: { offset: 64, size: 16 },
  ifindex: { offset: 80, size: 4 },
  gpl_compatible: { offset: 84, size: 4 },
  btf_id: { offset: 128, size: 4 },
  nr_func_info: { offset: 144, size: 4 },
  nr_line_info: { offset: 148, size: 4 },
  run_time_ns: { offset: 192, size: 8 },
  run_cnt: { offset: 200, size: 8 },
  recursion_misses: { offset: 208, size: 8 },
  verified_insns: { offset: 216, size: 4 },
  attach_btf_obj_id: { offset: 220, size: 4 },
  attach_btf_id: { offset: 224, size: 4 },
});

/** Reads and writes the fields of one struct layout over a byte buffer (host byte order). */
export class StructBuffer<F extends string> {
  /** The struct's bytes. */
  readonly bytes: Uint8Array;
  private readonly view: DataView;

  constructor(readonly layout: StructLayout<F>, bytes: Uint8Array = new Uint8Array(layout.size)) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Reads a 32-bit unsigned field. */
  u32(field: F): number {
    return this.view.getUint32(this.layout.fields[field].offset, true);
  }

  /** Reads a 64-bit unsigned field. */
  u64(field: F): bigint {
    return this.view.getBigUint64(this.layout.fields[field].offset, true);
  }

  /** A view of a field's raw bytes (e.g. a program tag). */
  raw(field: F): Uint8Array {
    const { offset, size } = this.layout.fields[field];
    return this.bytes.subarray(offset, offset + size);
  }

  /** Reads a NUL-terminated name field. */
  text(field: F): string {
    const { offset, size } = this.layout.fields[field];
    const raw = this.bytes.subarray(offset, offset + size);
    const end = raw.indexOf(0);
    return Buffer.from(raw.subarray(0, end < 0 ? raw.length : end)).toString('latin1');
  }

  /** Writes a 32-bit unsigned field. */
  setU32(field: F, value: number): this {
    this.view.setUint32(this.layout.fields[field].offset, value >>> 0, true);
    return this;
  }

  /** Writes a 64-bit unsigned field. */
  setU64(field: F, value: bigint): this {
    this.view.setBigUint64(this.layout.fields[field].offset, value, true);
    return this;
  }

  /** Writes a name field (the caller checks that it fits with its NUL). */
  setText(field: F, value: string): this {
    const { offset, size } = this.layout.fields[field];
    this.bytes.fill(0, offset, offset + size);
    this.bytes.set(Buffer.from(value, 'latin1').subarray(0, size - 1), offset);
    return this;
  }
}

/**
 * `union bpf_attr` for PROG_LOAD through `log_true_size`: the fields JavaScript may set. The
 * pointer, count and fd fields (insns, license, log_buf, func_info, line_info, fd_array,
 * prog_btf_fd, ...) are set by the addon from the buffers and handles it is given.
 */
export const progLoadAttr = layout(144, {
  prog_type: { offset: 0, size: 4 },
  log_level: { offset: 24, size: 4 },
  kern_version: { offset: 40, size: 4 },
  prog_flags: { offset: 44, size: 4 },
  prog_name: { offset: 48, size: 16 },
  prog_ifindex: { offset: 64, size: 4 },
  expected_attach_type: { offset: 68, size: 4 },
  attach_btf_id: { offset: 108, size: 4 },
  log_true_size: { offset: 140, size: 4 },
});
