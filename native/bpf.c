/*
 * bpfmap's native addon: the bpf(2) syscall on caller buffers, mmap/munmap, epoll, close.
 *
 * Everything else (argument checks, layouts, errors) lives in TypeScript. This file's one job
 * beyond making the calls is to make it impossible for JavaScript to make the kernel read or
 * write outside a buffer:
 *   - No function takes a raw pointer from JavaScript. Every pointer placed in a bpf_attr is
 *     the address of a typed array passed in, its length checked here against the size the
 *     kernel will use, or of a map's staging area, which this file allocates to those sizes.
 *   - Map element sizes come from the kernel (BPF_OBJ_GET_INFO_BY_FD at bind time), not from
 *     JavaScript; per-CPU values are roundup(value_size, 8) * possible CPUs.
 *   - Commands whose attributes carry no pointers go through bpf_plain(), which caps the
 *     attribute size at the pointer-free prefix of each command.
 * Functions return a non-negative result or -errno; they throw only on wrong argument types.
 */
#include <node_api.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef __NR_bpf
#if defined(__x86_64__)
#define __NR_bpf 321
#elif defined(__aarch64__)
#define __NR_bpf 280
#else
#error "unknown architecture: define __NR_bpf"
#endif
#endif

/* Command numbers (include/uapi/linux/bpf.h). */
enum {
  CMD_MAP_CREATE = 0, CMD_MAP_LOOKUP_ELEM = 1, CMD_MAP_UPDATE_ELEM = 2, CMD_MAP_DELETE_ELEM = 3,
  CMD_MAP_GET_NEXT_KEY = 4, CMD_PROG_LOAD = 5, CMD_OBJ_PIN = 6, CMD_OBJ_GET = 7,
  CMD_PROG_GET_NEXT_ID = 11, CMD_MAP_GET_NEXT_ID = 12, CMD_PROG_GET_FD_BY_ID = 13,
  CMD_MAP_GET_FD_BY_ID = 14, CMD_OBJ_GET_INFO_BY_FD = 15, CMD_BTF_LOAD = 18,
  CMD_BTF_GET_FD_BY_ID = 19, CMD_MAP_LOOKUP_AND_DELETE_ELEM = 21, CMD_MAP_FREEZE = 22,
  CMD_BTF_GET_NEXT_ID = 23, CMD_MAP_LOOKUP_BATCH = 24, CMD_MAP_LOOKUP_AND_DELETE_BATCH = 25,
  CMD_MAP_UPDATE_BATCH = 26, CMD_MAP_DELETE_BATCH = 27,
};

/* Map types whose values are per-CPU arrays. */
static int is_percpu_type(uint32_t type) {
  return type == 5 || type == 6 || type == 10 || type == 21;
}

/* Size of union bpf_attr that we ever pass; zero-filled beyond what a command uses. */
#define ATTR_SIZE 168

static long sys_bpf(int cmd, void *attr, unsigned int size) {
  return syscall(__NR_bpf, cmd, attr, size);
}

static void put_u32(uint8_t *attr, size_t off, uint32_t v) { memcpy(attr + off, &v, 4); }
static void put_u64(uint8_t *attr, size_t off, uint64_t v) { memcpy(attr + off, &v, 8); }
static void put_ptr(uint8_t *attr, size_t off, const void *p) { put_u64(attr, off, (uint64_t)(uintptr_t)p); }
static uint32_t get_u32(const uint8_t *attr, size_t off) { uint32_t v; memcpy(&v, attr + off, 4); return v; }

/* fds below 3 would be mistaken for stdio by child processes and other code: move them up. */
static int fix_fd(int fd) {
  if (fd < 0 || fd > 2) return fd;
  int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  int saved = errno;
  close(fd);
  if (moved < 0) { errno = saved; return -1; }
  return moved;
}

static int result(long rc) { return rc < 0 ? -errno : (int)rc; }
static int fd_result(long rc) {
  if (rc < 0) return -errno;
  int fd = fix_fd((int)rc);
  return fd < 0 ? -errno : fd;
}

/* ---------- N-API argument helpers ---------- */

#define THROW(env, msg) do { napi_throw_type_error((env), "ERR_BPFMAP_NATIVE", (msg)); return NULL; } while (0)

static napi_value num(napi_env env, double v) {
  napi_value out;
  napi_create_double(env, v, &out);
  return out;
}

static int arg_i64(napi_env env, napi_value v, int64_t *out) {
  return napi_get_value_int64(env, v, out) == napi_ok;
}

/* An fd argument: an integer in [0, INT32_MAX]. */
static int arg_fd(napi_env env, napi_value v, int64_t *out) {
  return arg_i64(env, v, out) && *out >= 0 && *out <= INT32_MAX;
}

static int arg_u32(napi_env env, napi_value v, uint32_t *out) {
  return napi_get_value_uint32(env, v, out) == napi_ok;
}

static int is_nullish(napi_env env, napi_value v) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  return t == napi_null || t == napi_undefined;
}

/*
 * A typed array (any kind) or DataView: its bytes. Returns 0 if v is neither. Tries the typed
 * array first with no type test: one N-API call on the hot path, since every extra call runs
 * code from other pages, and on kernels that flush the TLB at each syscall pages cost time.
 */
static int arg_bytes(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  napi_typedarray_type type;
  size_t length, offset;
  void *ptr;
  napi_value ab;
  if (napi_get_typedarray_info(env, v, &type, &length, &ptr, &ab, &offset) == napi_ok) {
    size_t elem = 1;
    switch (type) {
      case napi_int16_array: case napi_uint16_array: elem = 2; break;
      case napi_int32_array: case napi_uint32_array: case napi_float32_array: elem = 4; break;
      case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: elem = 8; break;
      default: elem = 1;
    }
    *data = ptr;
    *len = length * elem;
    return 1;
  }
  bool is;
  if (napi_is_dataview(env, v, &is) == napi_ok && is) {
    if (napi_get_dataview_info(env, v, &length, &ptr, &ab, &offset) != napi_ok) return 0;
    *data = ptr;
    *len = length;
    return 1;
  }
  return 0;
}

/* Optional bytes: null/undefined gives NULL with length 0. */
static int arg_opt_bytes(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  if (arg_bytes(env, v, data, len)) return 1;
  if (is_nullish(env, v)) { *data = NULL; *len = 0; return 1; }
  return 0;
}

typedef struct handle_table handle_table;

#define ARGS(n) \
  size_t argc = (n); napi_value argv[(n) > 0 ? (n) : 1]; void *fn_data = NULL; \
  if (napi_get_cb_info(env, info, &argc, argv, NULL, &fn_data) != napi_ok) return NULL; \
  handle_table *table = fn_data; (void)table; \
  if (argc < (n)) THROW(env, "native: too few arguments")

/* ---------- map handles ---------- */

/* What the kernel says about a map, fixed at bind time; every element op is checked against it. */
typedef struct {
  int fd;
  uint32_t type;
  uint32_t key_size;
  uint32_t value_size;
  uint32_t wire_value_size; /* bytes the kernel reads/writes for one value */
  uint32_t cursor_size;     /* bytes of a batch cursor: max(key_size, 4) */
  uint32_t id;              /* generation << SLOT_BITS | slot: what JavaScript passes */
  handle_table *table;
  struct staging *staging;  /* the map's own key and value buffers (see map_bind) */
} map_handle;

/*
 * Open maps of one Node environment (workers each have their own), found by a numeric id:
 * cheaper per call than unwrapping an object. An id carries its slot's generation, so an id
 * that outlived its map never reaches another map that reuses the slot. The table is freed when
 * both the environment and the last handle in it are gone (refs counts them).
 */
#define SLOT_BITS 20
#define SLOT_MASK ((1u << SLOT_BITS) - 1)
#define GENERATION_MASK 0x7ffu /* ids stay below 2^31 */
struct handle_table {
  map_handle **slots;
  uint32_t capacity;
  uint32_t generation;
  uint32_t refs;
};

static void table_unref(handle_table *t) {
  if (--t->refs == 0) {
    free(t->slots);
    free(t);
  }
}

static void table_env_finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  table_unref(data);
}

/* Puts h in a free slot; returns 0 or -errno. */
static int table_insert(handle_table *t, map_handle *h) {
  uint32_t slot = 0;
  while (slot < t->capacity && t->slots[slot] != NULL) slot++;
  if (slot == t->capacity) {
    uint32_t capacity = t->capacity ? t->capacity * 2 : 64;
    if (capacity > SLOT_MASK + 1) return -EMFILE;
    map_handle **grown = realloc(t->slots, capacity * sizeof(*grown));
    if (!grown) return -ENOMEM;
    memset(grown + t->capacity, 0, (capacity - t->capacity) * sizeof(*grown));
    t->slots = grown;
    t->capacity = capacity;
  }
  t->generation = (t->generation + 1) & GENERATION_MASK;
  h->id = (t->generation << SLOT_BITS) | slot;
  h->table = t;
  t->slots[slot] = h;
  t->refs++;
  return 0;
}

static int possible_cpus_cached = 0;

/* Count CPUs in /sys/devices/system/cpu/possible ("0-3", "0,2-5", ...). */
static int read_possible_cpus(void) {
  if (possible_cpus_cached > 0) return possible_cpus_cached;
  FILE *f = fopen("/sys/devices/system/cpu/possible", "r");
  if (!f) return -errno;
  char buf[4096];
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = 0;
  int count = 0;
  char *p = buf;
  while (*p && *p != '\n') {
    char *end;
    long a = strtol(p, &end, 10);
    if (end == p) return -EINVAL;
    long b = a;
    p = end;
    if (*p == '-') {
      p++;
      b = strtol(p, &end, 10);
      if (end == p || b < a) return -EINVAL;
      p = end;
    }
    count += (int)(b - a + 1);
    if (*p == ',') p++;
  }
  if (count <= 0) return -EINVAL;
  possible_cpus_cached = count;
  return count;
}

/*
 * A map's staging area: one key (cursor_size bytes, at 0) and one value (wire_value_size bytes,
 * at value_offset), which the *Staged element functions hand to the kernel. C owns the memory;
 * JavaScript sees it through an external ArrayBuffer. Two references keep it: the handle and
 * that ArrayBuffer. So the kernel only ever writes into memory the handle keeps alive, and a
 * view that outlived the handle still points at live memory. Both finalizers run on the
 * JavaScript thread, so the count needs no atomics.
 */
typedef struct staging {
  uint32_t refs;
  uint32_t value_offset;
  _Alignas(8) uint8_t data[];
} staging;

static void staging_unref(staging *s) {
  if (--s->refs == 0) free(s);
}

static void staging_buffer_finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)data;
  staging_unref(hint);
}

/* The handle object was collected: free its slot, close the fd if close() never ran. */
static void handle_finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  map_handle *h = data;
  if (h->fd >= 0) close(h->fd);
  handle_table *t = h->table;
  uint32_t slot = h->id & SLOT_MASK;
  if (slot < t->capacity && t->slots[slot] == h) t->slots[slot] = NULL;
  if (h->staging) staging_unref(h->staging);
  free(h);
  table_unref(t);
}

/* The handle an id names, or NULL for anything that is not a live id of this environment. */
static map_handle *get_handle(napi_env env, handle_table *t, napi_value v) {
  uint32_t id;
  if (napi_get_value_uint32(env, v, &id) != napi_ok) return NULL;
  uint32_t slot = id & SLOT_MASK;
  if (slot >= t->capacity) return NULL;
  map_handle *h = t->slots[slot];
  return h != NULL && h->id == id ? h : NULL;
}

/*
 * mapBind(fd) -> handle object | -errno. Takes ownership of fd (closes it on failure too).
 * The object's `id` is what the element functions take; the object itself owns the fd: when it
 * is collected, the fd is closed (the safety net behind close()).
 */
static napi_value map_bind(napi_env env, napi_callback_info info) {
  ARGS(1);
  int64_t fd;
  if (!arg_fd(env, argv[0], &fd)) THROW(env, "mapBind: fd must be a non-negative integer");
  uint8_t minfo[88];
  memset(minfo, 0, sizeof(minfo));
  uint8_t attr[ATTR_SIZE];
  memset(attr, 0, sizeof(attr));
  put_u32(attr, 0, (uint32_t)fd);
  put_u32(attr, 4, sizeof(minfo));
  put_ptr(attr, 8, minfo);
  if (sys_bpf(CMD_OBJ_GET_INFO_BY_FD, attr, 16) < 0) {
    int e = errno;
    close((int)fd);
    return num(env, -e);
  }
  map_handle *h = calloc(1, sizeof(*h));
  if (!h) { close((int)fd); return num(env, -ENOMEM); }
  h->fd = (int)fd;
  h->type = get_u32(minfo, 0);
  h->key_size = get_u32(minfo, 8);
  h->value_size = get_u32(minfo, 12);
  h->wire_value_size = h->value_size;
  if (is_percpu_type(h->type)) {
    int cpus = read_possible_cpus();
    if (cpus < 0) { close((int)fd); free(h); return num(env, cpus); }
    uint64_t stride = ((uint64_t)h->value_size + 7) & ~(uint64_t)7;
    uint64_t total = stride * (uint64_t)cpus;
    if (total > UINT32_MAX) { close((int)fd); free(h); return num(env, -E2BIG); }
    h->wire_value_size = (uint32_t)total;
  }
  h->cursor_size = h->key_size > 4 ? h->key_size : 4;
  uint32_t value_offset = (h->cursor_size + 7) & ~7u;
  size_t staging_size = (size_t)value_offset + (h->wire_value_size > 0 ? h->wire_value_size : 1);
  staging *st = calloc(1, sizeof(staging) + staging_size);
  if (!st) { close(h->fd); free(h); return num(env, -ENOMEM); }
  st->value_offset = value_offset;
  st->refs = 1; /* the handle's */
  h->staging = st;
  napi_value buffer;
  if (napi_create_external_arraybuffer(env, st->data, staging_size, staging_buffer_finalize, st, &buffer) != napi_ok) {
    close(h->fd); free(st); free(h);
    THROW(env, "mapBind: cannot create the staging buffer (external ArrayBuffers not allowed?)");
  }
  st->refs++; /* the ArrayBuffer's */
  int rc = table_insert(table, h);
  if (rc < 0) { close(h->fd); staging_unref(st); free(h); return num(env, rc); }
  napi_value obj, id, offset;
  napi_create_object(env, &obj);
  napi_create_uint32(env, h->id, &id);
  napi_create_uint32(env, value_offset, &offset);
  napi_set_named_property(env, obj, "id", id);
  napi_set_named_property(env, obj, "staging", buffer);
  napi_set_named_property(env, obj, "valueOffset", offset);
  if (napi_wrap(env, obj, h, handle_finalize, NULL, NULL) != napi_ok) {
    table->slots[h->id & SLOT_MASK] = NULL;
    table_unref(table);
    close(h->fd);
    staging_unref(st);
    free(h);
    THROW(env, "mapBind: wrap failed");
  }
  return obj;
}

/* mapClose(id) -> 0 | -errno. Idempotent; the slot stays taken (EBADF) until the handle object is collected. */
static napi_value map_close(napi_env env, napi_callback_info info) {
  ARGS(1);
  map_handle *h = get_handle(env, table, argv[0]);
  if (!h) THROW(env, "mapClose: not a map handle");
  if (h->fd < 0) return num(env, 0);
  int rc = close(h->fd);
  h->fd = -1;
  return num(env, rc < 0 ? -errno : 0);
}

/* Checks a key argument: NULL allowed only when the map's key_size is 0 (queue, stack, bloom). */
static int check_key(map_handle *h, const uint8_t *key, size_t len) {
  if (h->key_size == 0) return 1;
  return key != NULL && len >= h->key_size;
}

#define GET_OPEN_HANDLE(name) \
  map_handle *h = get_handle(env, table, argv[0]); \
  if (!h) THROW(env, name ": not a map handle"); \
  if (h->fd < 0) return num(env, -EBADF)

/*
 * The element commands that take a key and a value buffer: LOOKUP, LOOKUP_AND_DELETE, UPDATE.
 * (handle, key|null, value, flags) -> 0 | -errno. The key may be NULL only for keyless maps;
 * the value buffer must hold the map's whole wire value (all CPUs for per-CPU maps).
 */
static napi_value elem_with_value(napi_env env, napi_callback_info info, int cmd, const char *name) {
  ARGS(4);
  map_handle *h = get_handle(env, table, argv[0]);
  char message[96];
  if (!h) { snprintf(message, sizeof(message), "%s: not a map handle", name); THROW(env, message); }
  if (h->fd < 0) return num(env, -EBADF);
  uint8_t *key, *value;
  size_t klen, vlen;
  int64_t flags;
  if (!arg_opt_bytes(env, argv[1], &key, &klen) || !check_key(h, key, klen)) { snprintf(message, sizeof(message), "%s: key buffer too small", name); THROW(env, message); }
  if (!arg_bytes(env, argv[2], &value, &vlen) || vlen < h->wire_value_size) { snprintf(message, sizeof(message), "%s: value buffer too small", name); THROW(env, message); }
  if (!arg_i64(env, argv[3], &flags)) { snprintf(message, sizeof(message), "%s: flags must be a number", name); THROW(env, message); }
  uint8_t attr[32] = {0};
  put_u32(attr, 0, (uint32_t)h->fd);
  put_ptr(attr, 8, h->key_size ? key : NULL);
  put_ptr(attr, 16, value);
  put_u64(attr, 24, (uint64_t)flags);
  return num(env, result(sys_bpf(cmd, attr, sizeof(attr))));
}

static napi_value map_lookup(napi_env env, napi_callback_info info) {
  return elem_with_value(env, info, CMD_MAP_LOOKUP_ELEM, "mapLookup");
}

static napi_value map_lookup_and_delete(napi_env env, napi_callback_info info) {
  return elem_with_value(env, info, CMD_MAP_LOOKUP_AND_DELETE_ELEM, "mapLookupAndDelete");
}

static napi_value map_update(napi_env env, napi_callback_info info) {
  return elem_with_value(env, info, CMD_MAP_UPDATE_ELEM, "mapUpdate");
}

/* mapDelete(handle, key) -> 0 | -errno */
static napi_value map_delete(napi_env env, napi_callback_info info) {
  ARGS(2);
  GET_OPEN_HANDLE("mapDelete");
  uint8_t *key;
  size_t klen;
  if (!arg_opt_bytes(env, argv[1], &key, &klen) || !check_key(h, key, klen)) THROW(env, "mapDelete: key buffer too small");
  uint8_t attr[32] = {0};
  put_u32(attr, 0, (uint32_t)h->fd);
  put_ptr(attr, 8, h->key_size ? key : NULL);
  return num(env, result(sys_bpf(CMD_MAP_DELETE_ELEM, attr, sizeof(attr))));
}

/*
 * The staged element functions: the same commands on the map's own staging buffers, so that
 * the hot path passes one number instead of two buffers. Each N-API call runs code on pages of
 * its own, and on kernels that flush the TLB at every syscall (page-table isolation without
 * PCID) each of those pages costs a page walk per operation.
 * (handle[, flags]) -> 0 | -errno. Keyless maps (key_size 0) pass a NULL key, as the kernel wants.
 */
static napi_value staged_elem(napi_env env, napi_callback_info info, int cmd, int with_value, int with_flags, const char *name) {
  size_t argc = 2;
  napi_value argv[2];
  void *fn_data = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, &fn_data) != napi_ok) return NULL;
  if (argc < (size_t)(1 + with_flags)) THROW(env, "native: too few arguments");
  map_handle *h = get_handle(env, fn_data, argv[0]);
  if (!h) { char message[96]; snprintf(message, sizeof(message), "%s: not a map handle", name); THROW(env, message); }
  if (h->fd < 0) return num(env, -EBADF);
  uint32_t flags = 0;
  if (with_flags && !arg_u32(env, argv[1], &flags)) { char message[96]; snprintf(message, sizeof(message), "%s: flags must be a 32-bit number", name); THROW(env, message); }
  staging *st = h->staging;
  uint8_t attr[32] = {0};
  put_u32(attr, 0, (uint32_t)h->fd);
  put_ptr(attr, 8, h->key_size ? st->data : NULL);
  if (with_value) put_ptr(attr, 16, st->data + st->value_offset);
  put_u64(attr, 24, flags);
  napi_value out;
  napi_create_int32(env, result(sys_bpf(cmd, attr, sizeof(attr))), &out);
  return out;
}

static napi_value map_lookup_staged(napi_env env, napi_callback_info info) {
  return staged_elem(env, info, CMD_MAP_LOOKUP_ELEM, 1, 1, "mapLookupStaged");
}

static napi_value map_lookup_and_delete_staged(napi_env env, napi_callback_info info) {
  return staged_elem(env, info, CMD_MAP_LOOKUP_AND_DELETE_ELEM, 1, 1, "mapLookupAndDeleteStaged");
}

static napi_value map_update_staged(napi_env env, napi_callback_info info) {
  return staged_elem(env, info, CMD_MAP_UPDATE_ELEM, 1, 1, "mapUpdateStaged");
}

static napi_value map_delete_staged(napi_env env, napi_callback_info info) {
  return staged_elem(env, info, CMD_MAP_DELETE_ELEM, 0, 0, "mapDeleteStaged");
}

/* mapNextKey(handle, key|null, nextKey) -> 0 | -errno */
static napi_value map_next_key(napi_env env, napi_callback_info info) {
  ARGS(3);
  GET_OPEN_HANDLE("mapNextKey");
  uint8_t *key, *next;
  size_t klen, nlen;
  if (!arg_opt_bytes(env, argv[1], &key, &klen) || (key && klen < h->key_size)) THROW(env, "mapNextKey: key buffer too small");
  if (!arg_bytes(env, argv[2], &next, &nlen) || nlen < h->key_size) THROW(env, "mapNextKey: next key buffer too small");
  uint8_t attr[32] = {0};
  put_u32(attr, 0, (uint32_t)h->fd);
  put_ptr(attr, 8, key);
  put_ptr(attr, 16, next);
  return num(env, result(sys_bpf(CMD_MAP_GET_NEXT_KEY, attr, 24)));
}

/* mapFreeze(handle) -> 0 | -errno */
static napi_value map_freeze(napi_env env, napi_callback_info info) {
  ARGS(1);
  GET_OPEN_HANDLE("mapFreeze");
  uint8_t attr[8] = {0};
  put_u32(attr, 0, (uint32_t)h->fd);
  return num(env, result(sys_bpf(CMD_MAP_FREEZE, attr, 4)));
}

/*
 * mapBatch(handle, cmd, inBatch|null, outBatch|null, keys, values|null, count, elemFlags, countOut)
 *   -> 0 | -errno; countOut[0] receives the kernel's count (valid on every errno but EFAULT).
 * cmd is one of the four batch commands. Cursors must hold max(key_size, 4) bytes; keys
 * count * key_size; values count * wire_value_size (not needed for DELETE_BATCH).
 */
static napi_value map_batch(napi_env env, napi_callback_info info) {
  ARGS(9);
  GET_OPEN_HANDLE("mapBatch");
  uint32_t cmd, count;
  int64_t elem_flags;
  uint8_t *in_batch, *out_batch, *keys, *values, *count_out;
  size_t in_len, out_len, keys_len, values_len, count_out_len;
  if (!arg_u32(env, argv[1], &cmd) || cmd < CMD_MAP_LOOKUP_BATCH || cmd > CMD_MAP_DELETE_BATCH) THROW(env, "mapBatch: bad command");
  if (!arg_opt_bytes(env, argv[2], &in_batch, &in_len) || (in_batch && in_len < h->cursor_size)) THROW(env, "mapBatch: in cursor too small");
  if (!arg_opt_bytes(env, argv[3], &out_batch, &out_len) || (out_batch && out_len < h->cursor_size)) THROW(env, "mapBatch: out cursor too small");
  if (!arg_u32(env, argv[6], &count)) THROW(env, "mapBatch: count must be a u32");
  if (!arg_opt_bytes(env, argv[4], &keys, &keys_len) || keys_len < (uint64_t)count * h->key_size) THROW(env, "mapBatch: keys buffer too small");
  if (!arg_opt_bytes(env, argv[5], &values, &values_len)) THROW(env, "mapBatch: values must be bytes or null");
  if (cmd != CMD_MAP_DELETE_BATCH && values_len < (uint64_t)count * h->wire_value_size) THROW(env, "mapBatch: values buffer too small");
  if (!arg_i64(env, argv[7], &elem_flags)) THROW(env, "mapBatch: flags must be a number");
  if (!arg_bytes(env, argv[8], &count_out, &count_out_len) || count_out_len < 4) THROW(env, "mapBatch: countOut must hold a u32");
  if ((cmd == CMD_MAP_LOOKUP_BATCH || cmd == CMD_MAP_LOOKUP_AND_DELETE_BATCH) && out_batch == NULL) THROW(env, "mapBatch: lookup needs an out cursor");
  uint8_t attr[56] = {0};
  if (cmd == CMD_MAP_LOOKUP_BATCH || cmd == CMD_MAP_LOOKUP_AND_DELETE_BATCH) {
    put_ptr(attr, 0, in_batch);
    put_ptr(attr, 8, out_batch);
  }
  put_ptr(attr, 16, keys);
  put_ptr(attr, 24, cmd == CMD_MAP_DELETE_BATCH ? NULL : values);
  put_u32(attr, 32, count);
  put_u32(attr, 36, (uint32_t)h->fd);
  put_u64(attr, 40, (uint64_t)elem_flags);
  long rc = sys_bpf((int)cmd, attr, sizeof(attr));
  int err = rc < 0 ? errno : 0;
  uint32_t out_count = get_u32(attr, 32);
  if (out_count > count) out_count = count; /* never report more than the buffers hold */
  memcpy(count_out, &out_count, 4);
  return num(env, -err);
}

/* ---------- commands without pointers ---------- */

/*
 * bpfPlain(cmd, attr) -> result | -errno. Only commands whose attribute prefix holds no
 * pointers; the bytes passed are capped at that prefix so no pointer field can reach the kernel.
 * Commands that return an fd get it moved above 2.
 */
static napi_value bpf_plain(napi_env env, napi_callback_info info) {
  ARGS(2);
  uint32_t cmd;
  uint8_t *data;
  size_t len;
  if (!arg_u32(env, argv[0], &cmd)) THROW(env, "bpfPlain: cmd must be a u32");
  if (!arg_bytes(env, argv[1], &data, &len)) THROW(env, "bpfPlain: attr must be bytes");
  size_t max;
  int returns_fd = 0;
  switch (cmd) {
    case CMD_MAP_CREATE: max = 80; returns_fd = 1; break; /* through map_token_fd; excl_prog_hash is a pointer */
    case CMD_MAP_GET_NEXT_ID: case CMD_PROG_GET_NEXT_ID: case CMD_BTF_GET_NEXT_ID: max = 12; break;
    case CMD_MAP_GET_FD_BY_ID: case CMD_PROG_GET_FD_BY_ID: max = 12; returns_fd = 1; break;
    case CMD_BTF_GET_FD_BY_ID: max = 16; returns_fd = 1; break;
    default: THROW(env, "bpfPlain: command not allowed");
  }
  if (len > max) THROW(env, "bpfPlain: attribute longer than the command's pointer-free prefix");
  uint8_t attr[ATTR_SIZE];
  memset(attr, 0, sizeof(attr));
  memcpy(attr, data, len);
  long rc = sys_bpf((int)cmd, attr, (unsigned int)len);
  napi_value ret = num(env, returns_fd ? fd_result(rc) : result(rc));
  /* GET_NEXT_ID writes next_id at offset 4: hand it back. */
  if (rc >= 0 && !returns_fd) memcpy(data, attr, len);
  return ret;
}

/* objPin(fd, path) -> 0 | -errno */
static napi_value obj_pin(napi_env env, napi_callback_info info) {
  ARGS(2);
  int64_t fd;
  char path[4096];
  size_t plen;
  if (!arg_fd(env, argv[0], &fd)) THROW(env, "objPin: fd must be a non-negative integer");
  if (napi_get_value_string_utf8(env, argv[1], path, sizeof(path), &plen) != napi_ok) THROW(env, "objPin: path must be a string");
  if (plen >= sizeof(path) - 1) return num(env, -ENAMETOOLONG);
  uint8_t attr[20] = {0};
  put_ptr(attr, 0, path);
  put_u32(attr, 8, (uint32_t)fd);
  return num(env, result(sys_bpf(CMD_OBJ_PIN, attr, sizeof(attr))));
}

/* objGet(path, fileFlags) -> fd | -errno */
static napi_value obj_get(napi_env env, napi_callback_info info) {
  ARGS(2);
  char path[4096];
  size_t plen;
  uint32_t flags;
  if (napi_get_value_string_utf8(env, argv[0], path, sizeof(path), &plen) != napi_ok) THROW(env, "objGet: path must be a string");
  if (plen >= sizeof(path) - 1) return num(env, -ENAMETOOLONG);
  if (!arg_u32(env, argv[1], &flags)) THROW(env, "objGet: flags must be a u32");
  uint8_t attr[20] = {0};
  put_ptr(attr, 0, path);
  put_u32(attr, 12, flags);
  return num(env, fd_result(sys_bpf(CMD_OBJ_GET, attr, sizeof(attr))));
}

/*
 * objInfo(fd, info) -> info_len | -errno. The buffer is zeroed here first: the info structs of
 * programs and BTF hold user pointers, and a zeroed struct asks the kernel to write through none.
 */
static napi_value obj_info(napi_env env, napi_callback_info info) {
  ARGS(2);
  int64_t fd;
  uint8_t *buf;
  size_t len;
  if (!arg_fd(env, argv[0], &fd)) THROW(env, "objInfo: fd must be a non-negative integer");
  if (!arg_bytes(env, argv[1], &buf, &len) || len > UINT32_MAX) THROW(env, "objInfo: info must be bytes");
  memset(buf, 0, len);
  uint8_t attr[16] = {0};
  put_u32(attr, 0, (uint32_t)fd);
  put_u32(attr, 4, (uint32_t)len);
  put_ptr(attr, 8, buf);
  long rc = sys_bpf(CMD_OBJ_GET_INFO_BY_FD, attr, sizeof(attr));
  if (rc < 0) return num(env, -errno);
  return num(env, get_u32(attr, 4));
}

/*
 * progMapIds(fd, ids) -> nr_map_ids | -errno: the ids of the maps a program uses, written into
 * ids (a Uint32Array; the kernel writes at most ids.length of them) and their total count, which
 * may be larger. The info struct is built here, so its one user pointer is always ids.
 */
static napi_value prog_map_ids(napi_env env, napi_callback_info info) {
  ARGS(2);
  int64_t fd;
  uint8_t *ids;
  size_t len;
  if (!arg_fd(env, argv[0], &fd)) THROW(env, "progMapIds: fd must be a non-negative integer");
  if (!arg_bytes(env, argv[1], &ids, &len)) THROW(env, "progMapIds: ids must be a Uint32Array");
  uint8_t prog_info[232] = {0};
  size_t capacity = len / 4;
  if (capacity > 65536) capacity = 65536;
  put_u32(prog_info, 52, (uint32_t)capacity); /* nr_map_ids */
  put_ptr(prog_info, 56, capacity ? ids : NULL); /* map_ids */
  uint8_t attr[16] = {0};
  put_u32(attr, 0, (uint32_t)fd);
  put_u32(attr, 4, sizeof(prog_info));
  put_ptr(attr, 8, prog_info);
  if (sys_bpf(CMD_OBJ_GET_INFO_BY_FD, attr, sizeof(attr)) < 0) return num(env, -errno);
  return num(env, get_u32(prog_info, 52));
}

/*
 * btfInfo(fd, data|null, name|null) -> [btf_size, id, kernel_btf, name_len] | -errno.
 * Fills data with the raw BTF blob when given (it must be at least btf_size bytes to get all of
 * it; the kernel reports ENOSPC otherwise) and name with the object's name.
 */
static napi_value btf_info(napi_env env, napi_callback_info info) {
  ARGS(3);
  int64_t fd;
  uint8_t *data, *name;
  size_t dlen, nlen;
  if (!arg_fd(env, argv[0], &fd)) THROW(env, "btfInfo: fd must be a non-negative integer");
  if (!arg_opt_bytes(env, argv[1], &data, &dlen) || dlen > UINT32_MAX) THROW(env, "btfInfo: data must be bytes or null");
  if (!arg_opt_bytes(env, argv[2], &name, &nlen) || nlen > UINT32_MAX) THROW(env, "btfInfo: name must be bytes or null");
  uint8_t binfo[32] = {0};
  put_ptr(binfo, 0, data);
  put_u32(binfo, 8, (uint32_t)dlen);
  put_ptr(binfo, 16, name);
  put_u32(binfo, 24, (uint32_t)nlen);
  uint8_t attr[16] = {0};
  put_u32(attr, 0, (uint32_t)fd);
  put_u32(attr, 4, sizeof(binfo));
  put_ptr(attr, 8, binfo);
  if (sys_bpf(CMD_OBJ_GET_INFO_BY_FD, attr, sizeof(attr)) < 0) return num(env, -errno);
  napi_value arr;
  napi_create_array_with_length(env, 4, &arr);
  napi_set_element(env, arr, 0, num(env, get_u32(binfo, 8)));
  napi_set_element(env, arr, 1, num(env, get_u32(binfo, 12)));
  napi_set_element(env, arr, 2, num(env, get_u32(binfo, 28)));
  napi_set_element(env, arr, 3, num(env, get_u32(binfo, 24)));
  return arr;
}

/* btfLoad(data, log|null, logLevel) -> fd | -errno. The kernel writes its verifier log into log. */
static napi_value btf_load(napi_env env, napi_callback_info info) {
  ARGS(3);
  uint8_t *data, *log;
  size_t dlen, llen;
  uint32_t level;
  if (!arg_bytes(env, argv[0], &data, &dlen) || dlen > UINT32_MAX) THROW(env, "btfLoad: data must be bytes");
  if (!arg_opt_bytes(env, argv[1], &log, &llen) || llen > UINT32_MAX) THROW(env, "btfLoad: log must be bytes or null");
  if (!arg_u32(env, argv[2], &level)) THROW(env, "btfLoad: logLevel must be a u32");
  if (log == NULL) level = 0;
  uint8_t attr[40] = {0};
  put_ptr(attr, 0, data);
  put_ptr(attr, 8, log);
  put_u32(attr, 16, (uint32_t)dlen);
  put_u32(attr, 20, (uint32_t)llen);
  put_u32(attr, 24, level);
  return num(env, fd_result(sys_bpf(CMD_BTF_LOAD, attr, 28)));
}

/* ---------- fds ---------- */

/* closeFd(fd) -> 0 | -errno */
static napi_value close_fd(napi_env env, napi_callback_info info) {
  ARGS(1);
  int64_t fd;
  if (!arg_fd(env, argv[0], &fd)) THROW(env, "closeFd: fd must be a non-negative integer");
  return num(env, close((int)fd) < 0 ? -errno : 0);
}

/* dupFd(fd) -> new close-on-exec fd above 2 | -errno */
static napi_value dup_fd(napi_env env, napi_callback_info info) {
  ARGS(1);
  int64_t fd;
  if (!arg_fd(env, argv[0], &fd)) THROW(env, "dupFd: fd must be a non-negative integer");
  int nfd = fcntl((int)fd, F_DUPFD_CLOEXEC, 3);
  return num(env, nfd < 0 ? -errno : nfd);
}

/* possibleCpus() -> count | -errno */
static napi_value possible_cpus(napi_env env, napi_callback_info info) {
  (void)info;
  return num(env, read_possible_cpus());
}

/* ---------- mmap ---------- */

typedef struct {
  void *addr;
  size_t len;
  int unmapped;
} mapping;

static void mapping_finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)data;
  mapping *m = hint;
  if (!m->unmapped) munmap(m->addr, m->len);
  free(m);
}

/*
 * mmap(fd, length, writable, offset) -> ArrayBuffer | -errno. The ArrayBuffer is the mapping;
 * munmap(arrayBuffer) detaches it (every view becomes empty) before unmapping, so no JavaScript
 * access can reach unmapped memory. Unreferenced mappings are unmapped by the garbage collector.
 */
static napi_value do_mmap(napi_env env, napi_callback_info info) {
  ARGS(4);
  int64_t fd, length, offset;
  bool writable;
  if (!arg_fd(env, argv[0], &fd)) THROW(env, "mmap: fd must be a non-negative integer");
  if (!arg_i64(env, argv[1], &length) || length <= 0) THROW(env, "mmap: length must be positive");
  if (napi_get_value_bool(env, argv[2], &writable) != napi_ok) THROW(env, "mmap: writable must be a boolean");
  if (!arg_i64(env, argv[3], &offset) || offset < 0) THROW(env, "mmap: offset must be non-negative");
  void *addr = mmap(NULL, (size_t)length, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, (int)fd, (off_t)offset);
  if (addr == MAP_FAILED) return num(env, -errno);
  mapping *m = calloc(1, sizeof(*m));
  if (!m) { munmap(addr, (size_t)length); return num(env, -ENOMEM); }
  m->addr = addr;
  m->len = (size_t)length;
  napi_value ab;
  if (napi_create_external_arraybuffer(env, addr, (size_t)length, mapping_finalize, m, &ab) != napi_ok) {
    munmap(addr, (size_t)length);
    free(m);
    THROW(env, "mmap: could not wrap the mapping (external buffers disabled?)");
  }
  napi_value holder;
  napi_create_object(env, &holder);
  /* Keep the mapping record reachable from JavaScript so munmap() can find it. */
  napi_value ext;
  napi_create_external(env, m, NULL, NULL, &ext);
  napi_set_named_property(env, holder, "buffer", ab);
  napi_set_named_property(env, holder, "token", ext);
  return holder;
}

/* munmap({buffer, token}) -> 0 | -errno. Idempotent. */
static napi_value do_munmap(napi_env env, napi_callback_info info) {
  ARGS(1);
  napi_value ab, ext;
  if (napi_get_named_property(env, argv[0], "buffer", &ab) != napi_ok) THROW(env, "munmap: not a mapping");
  if (napi_get_named_property(env, argv[0], "token", &ext) != napi_ok) THROW(env, "munmap: not a mapping");
  mapping *m = NULL;
  if (napi_get_value_external(env, ext, (void **)&m) != napi_ok || m == NULL) THROW(env, "munmap: not a mapping");
  bool detached = false;
  napi_is_detached_arraybuffer(env, ab, &detached);
  if (m->unmapped || detached) return num(env, 0);
  /* Unmap only once no view can reach the memory: detach first. */
  void *addr = m->addr;
  size_t len = m->len;
  m->unmapped = 1;
  if (napi_detach_arraybuffer(env, ab) != napi_ok) { m->unmapped = 0; THROW(env, "munmap: could not detach"); }
  return num(env, munmap(addr, len) < 0 ? -errno : 0);
}

/* ---------- epoll ---------- */

/* epollCreate() -> fd | -errno */
static napi_value epoll_create_js(napi_env env, napi_callback_info info) {
  (void)info;
  int fd = epoll_create1(EPOLL_CLOEXEC);
  return num(env, fd < 0 ? -errno : fd);
}

/* epollCtl(epfd, op, fd, events, data) -> 0 | -errno. op: 1 add, 2 del, 3 mod. */
static napi_value epoll_ctl_js(napi_env env, napi_callback_info info) {
  ARGS(5);
  int64_t epfd, fd;
  uint32_t op, events, data;
  if (!arg_i64(env, argv[0], &epfd) || !arg_u32(env, argv[1], &op) || !arg_i64(env, argv[2], &fd) ||
      !arg_u32(env, argv[3], &events) || !arg_u32(env, argv[4], &data)) THROW(env, "epollCtl: bad arguments");
  struct epoll_event ev = {0};
  ev.events = events;
  ev.data.u32 = data;
  return num(env, epoll_ctl((int)epfd, (int)op, (int)fd, &ev) < 0 ? -errno : 0);
}

/* epollWait(epfd, out Uint32Array, timeoutMs) -> n | -errno. out receives the data of each ready fd. */
static napi_value epoll_wait_js(napi_env env, napi_callback_info info) {
  ARGS(3);
  int64_t epfd, timeout;
  uint8_t *out;
  size_t olen;
  if (!arg_i64(env, argv[0], &epfd) || !arg_bytes(env, argv[1], &out, &olen) || !arg_i64(env, argv[2], &timeout)) THROW(env, "epollWait: bad arguments");
  size_t max = olen / 4;
  if (max == 0) THROW(env, "epollWait: out must hold at least one u32");
  if (max > 64) max = 64;
  struct epoll_event evs[64];
  int n = epoll_wait((int)epfd, evs, (int)max, (int)timeout);
  if (n < 0) return num(env, -errno);
  for (int i = 0; i < n; i++) memcpy(out + 4 * i, &evs[i].data.u32, 4);
  return num(env, n);
}

/* ---------- events (perf_event_open, async waits) ---------- */

#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <uv.h>

/* pageSize() -> bytes of a page (ring buffer and perf buffer layouts are in pages). */
static napi_value page_size_js(napi_env env, napi_callback_info info) {
  (void)info;
  long size = sysconf(_SC_PAGESIZE);
  return num(env, size < 0 ? -errno : (double)size);
}

/*
 * perfEventOpen(cpu, wakeupEvents, sampleTime) -> fd | -errno. A PERF_COUNT_SW_BPF_OUTPUT event
 * on one CPU, any process, sampling PERF_SAMPLE_RAW (and PERF_SAMPLE_TIME when asked): the target
 * bpf_perf_event_output() writes to once its fd is stored in a perf_event_array. Every field
 * comes from here; JavaScript picks only the CPU, how many samples wake a poller, and whether
 * samples carry a time.
 */
static napi_value perf_event_open_js(napi_env env, napi_callback_info info) {
  ARGS(3);
  uint32_t cpu, wakeup;
  bool sample_time;
  if (!arg_u32(env, argv[0], &cpu) || cpu > INT32_MAX) THROW(env, "perfEventOpen: cpu must be a non-negative integer");
  if (!arg_u32(env, argv[1], &wakeup) || wakeup == 0) THROW(env, "perfEventOpen: wakeupEvents must be a positive integer");
  if (napi_get_value_bool(env, argv[2], &sample_time) != napi_ok) THROW(env, "perfEventOpen: sampleTime must be a boolean");
  struct perf_event_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.size = sizeof(attr);
  attr.type = PERF_TYPE_SOFTWARE;
  attr.config = PERF_COUNT_SW_BPF_OUTPUT;
  attr.sample_type = PERF_SAMPLE_RAW | (sample_time ? PERF_SAMPLE_TIME : 0);
  attr.sample_period = 1;
  attr.wakeup_events = wakeup;
  long fd = syscall(__NR_perf_event_open, &attr, -1, (int)cpu, -1, PERF_FLAG_FD_CLOEXEC);
  return num(env, fd_result(fd));
}

/* perfEventEnable(fd) -> 0 | -errno */
static napi_value perf_event_enable_js(napi_env env, napi_callback_info info) {
  ARGS(1);
  int64_t fd;
  if (!arg_fd(env, argv[0], &fd)) THROW(env, "perfEventEnable: fd must be a non-negative integer");
  return num(env, ioctl((int)fd, PERF_EVENT_IOC_ENABLE, 0) < 0 ? -errno : 0);
}

/*
 * Async waits: a libuv poll handle on one fd, armed one-shot by watchStart() and disarmed before
 * its callback runs, so that a ready fd nobody is reading never spins the loop, and an idle
 * watcher never keeps the process alive. The JavaScript object holds a box that outlives the
 * watcher, so a closed or collected watcher is never touched again.
 *
 * Latched watchers (for perf event fds) are polled for their whole life instead: a perf event's
 * poll() returns its readiness once and clears it (perf_poll: xchg(&rb->poll, 0)), and
 * epoll_ctl ADD/MOD polls the fd, so re-registering a one-shot handle after a wakeup would spend
 * that wakeup and never report it. A latched handle is registered once; a readiness event while
 * nobody waits is latched here (no JavaScript runs) and reported by the next watchStart(); the
 * handle is unreferenced unless armed, so it does not keep the process alive. Such fds do not
 * stay ready, so the persistent handle does not spin the loop.
 */
typedef struct fd_watcher fd_watcher;
typedef struct { fd_watcher *watcher; } watcher_box;

struct fd_watcher {
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;        /* strong only while armed */
  napi_async_context async;
  watcher_box *box;
  int armed;
  int latched;              /* persistent handle: readiness while disarmed sets `pending` */
  int pending;
  int polling;              /* uv_poll_start succeeded and no error stopped it since */
};

static void watcher_freed(uv_handle_t *handle) {
  free(handle->data);
}

static void watcher_cleanup_hook(void *arg);

/* Stops and releases a watcher; the memory goes once libuv has closed the handle. */
static void watcher_close(fd_watcher *w, int from_cleanup_hook) {
  if (w->box) w->box->watcher = NULL;
  w->box = NULL;
  uv_poll_stop(&w->poll);
  if (!from_cleanup_hook) napi_remove_env_cleanup_hook(w->env, watcher_cleanup_hook, w);
  if (w->callback) { napi_delete_reference(w->env, w->callback); w->callback = NULL; }
  if (w->async) { napi_async_destroy(w->env, w->async); w->async = NULL; }
  uv_close((uv_handle_t *)&w->poll, watcher_freed);
}

static void watcher_cleanup_hook(void *arg) { watcher_close(arg, 1); }

static void box_finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  watcher_box *box = data;
  if (box->watcher) watcher_close(box->watcher, 0);
  free(box);
}

static void watcher_disarm(fd_watcher *w) {
  if (!w->armed) return;
  w->armed = 0;
  if (w->latched) uv_unref((uv_handle_t *)&w->poll);
  else uv_poll_stop(&w->poll);
  uint32_t count;
  napi_reference_unref(w->env, w->callback, &count);
}

static void watcher_on_event(uv_poll_t *poll, int status, int events) {
  fd_watcher *w = poll->data;
  napi_env env = w->env;
  if (w->latched && status < 0) {
    /* An error repeats on every loop turn: stop polling; this event is reported, then -EIO. */
    uv_poll_stop(&w->poll);
    w->polling = 0;
  }
  if (!w->armed) {
    w->pending = 1;
    return;
  }
  watcher_disarm(w);
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value callback = NULL, recv, argv[2];
  napi_get_reference_value(env, w->callback, &callback);
  if (callback != NULL) {
    napi_get_global(env, &recv); /* make_callback needs an object receiver */
    argv[0] = num(env, status);
    argv[1] = num(env, events);
    /* make_callback, not call_function: promises resolved in the callback settle right away. */
    if (napi_make_callback(env, w->async, recv, callback, 2, argv, NULL) == napi_pending_exception) {
      napi_value error;
      napi_get_and_clear_last_exception(env, &error);
      napi_fatal_exception(env, error);
    }
  }
  napi_close_handle_scope(env, scope);
}

static fd_watcher *get_watcher(napi_env env, napi_value v) {
  watcher_box *box = NULL;
  if (napi_get_value_external(env, v, (void **)&box) != napi_ok || box == NULL) return NULL;
  return box->watcher;
}

/*
 * watchFd(fd, callback(status, events), latched) -> watcher | -errno. The fd must stay open until
 * watchClose. `latched`: poll readability for the watcher's whole life (see above).
 */
static napi_value watch_fd_js(napi_env env, napi_callback_info info) {
  ARGS(3);
  int64_t fd;
  bool latched;
  napi_valuetype type;
  if (!arg_fd(env, argv[0], &fd)) THROW(env, "watchFd: fd must be a non-negative integer");
  if (napi_typeof(env, argv[1], &type) != napi_ok || type != napi_function) THROW(env, "watchFd: callback must be a function");
  if (napi_get_value_bool(env, argv[2], &latched) != napi_ok) THROW(env, "watchFd: latched must be a boolean");
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) THROW(env, "watchFd: no event loop");
  fd_watcher *w = calloc(1, sizeof(*w));
  watcher_box *box = calloc(1, sizeof(*box));
  if (!w || !box) { free(w); free(box); return num(env, -ENOMEM); }
  int rc = uv_poll_init(loop, &w->poll, (int)fd);
  if (rc < 0) { free(w); free(box); return num(env, rc); }
  w->poll.data = w;
  w->env = env;
  w->box = box;
  box->watcher = w;
  napi_value name, ext;
  napi_create_string_utf8(env, "bpfmap:EventWait", NAPI_AUTO_LENGTH, &name);
  if (napi_create_reference(env, argv[1], 0, &w->callback) != napi_ok ||
      napi_async_init(env, NULL, name, &w->async) != napi_ok ||
      napi_create_external(env, box, box_finalize, NULL, &ext) != napi_ok) {
    box->watcher = NULL;
    free(box);
    watcher_close(w, 1);
    THROW(env, "watchFd: could not create the watcher");
  }
  napi_add_env_cleanup_hook(env, watcher_cleanup_hook, w);
  if (latched) {
    w->latched = 1;
    rc = uv_poll_start(&w->poll, UV_READABLE, watcher_on_event);
    if (rc < 0) {
      /* The box (and with it the watcher) goes when `ext` is collected. */
      return num(env, rc);
    }
    w->polling = 1;
    uv_unref((uv_handle_t *)&w->poll);
  }
  return ext;
}

/*
 * watchStart(watcher, writable) -> 0 | 1 | -errno. Arms for one readiness event (readable, or
 * writable). A latched watcher (readable only) returns 1 instead of arming when readiness was
 * latched since the last event it reported (the caller treats that as ready), and -EIO once an
 * error has stopped its polling.
 */
static napi_value watch_start_js(napi_env env, napi_callback_info info) {
  ARGS(2);
  bool writable;
  fd_watcher *w = get_watcher(env, argv[0]);
  if (napi_get_value_bool(env, argv[1], &writable) != napi_ok) THROW(env, "watchStart: writable must be a boolean");
  if (!w) return num(env, -EBADF);
  if (w->armed) return num(env, 0);
  uint32_t count;
  if (w->latched) {
    if (writable) return num(env, -EINVAL);
    if (w->pending) {
      w->pending = 0;
      return num(env, 1);
    }
    if (!w->polling) return num(env, -EIO);
    uv_ref((uv_handle_t *)&w->poll);
  } else {
    int rc = uv_poll_start(&w->poll, writable ? UV_WRITABLE : UV_READABLE, watcher_on_event);
    if (rc < 0) return num(env, rc);
  }
  napi_reference_ref(env, w->callback, &count);
  w->armed = 1;
  return num(env, 0);
}

/* watchStop(watcher) -> 0. Disarms without closing. */
static napi_value watch_stop_js(napi_env env, napi_callback_info info) {
  ARGS(1);
  fd_watcher *w = get_watcher(env, argv[0]);
  if (w) watcher_disarm(w);
  return num(env, 0);
}

/* watchClose(watcher) -> 0. Idempotent; close the fd only after this. */
static napi_value watch_close_js(napi_env env, napi_callback_info info) {
  ARGS(1);
  fd_watcher *w = get_watcher(env, argv[0]);
  if (w) watcher_close(w, 0);
  return num(env, 0);
}

/* ---------- module ---------- */

#define EXPORT(name, fn) do { \
  napi_value f; napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, table, &f); \
  napi_set_named_property(env, exports, name, f); } while (0)

static napi_value init(napi_env env, napi_value exports) {
  handle_table *table = calloc(1, sizeof(*table));
  if (!table) return NULL;
  table->refs = 1; /* the environment's reference */
  if (napi_set_instance_data(env, table, table_env_finalize, NULL) != napi_ok) { free(table); return NULL; }
  EXPORT("mapBind", map_bind);
  EXPORT("mapClose", map_close);
  EXPORT("mapLookup", map_lookup);
  EXPORT("mapLookupAndDelete", map_lookup_and_delete);
  EXPORT("mapUpdate", map_update);
  EXPORT("mapDelete", map_delete);
  EXPORT("mapLookupStaged", map_lookup_staged);
  EXPORT("mapLookupAndDeleteStaged", map_lookup_and_delete_staged);
  EXPORT("mapUpdateStaged", map_update_staged);
  EXPORT("mapDeleteStaged", map_delete_staged);
  EXPORT("mapNextKey", map_next_key);
  EXPORT("mapFreeze", map_freeze);
  EXPORT("mapBatch", map_batch);
  EXPORT("bpfPlain", bpf_plain);
  EXPORT("objPin", obj_pin);
  EXPORT("objGet", obj_get);
  EXPORT("objInfo", obj_info);
  EXPORT("progMapIds", prog_map_ids);
  EXPORT("btfInfo", btf_info);
  EXPORT("btfLoad", btf_load);
  EXPORT("closeFd", close_fd);
  EXPORT("dupFd", dup_fd);
  EXPORT("possibleCpus", possible_cpus);
  EXPORT("mmap", do_mmap);
  EXPORT("munmap", do_munmap);
  EXPORT("epollCreate", epoll_create_js);
  EXPORT("epollCtl", epoll_ctl_js);
  EXPORT("epollWait", epoll_wait_js);
  EXPORT("pageSize", page_size_js);
  EXPORT("perfEventOpen", perf_event_open_js);
  EXPORT("perfEventEnable", perf_event_enable_js);
  EXPORT("watchFd", watch_fd_js);
  EXPORT("watchStart", watch_start_js);
  EXPORT("watchStop", watch_stop_js);
  EXPORT("watchClose", watch_close_js);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
