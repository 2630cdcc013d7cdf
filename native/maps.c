/*
 * Map handles: the per-map state the element functions check every call against (the kernel's
 * key and value sizes, a staging area for the hot path), found by a numeric id; element ops,
 * batches, and the possible-CPU count that sizes per-CPU values.
 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Map types whose values are per-CPU arrays. */
static int is_percpu_type(uint32_t type) {
  return type == 5 || type == 6 || type == 10 || type == 21;
}

/* ---------- map handles ---------- */

/* What the kernel says about a map, fixed at bind time; every element op is checked against it. */
typedef struct {
  obj_handle *obj;          /* the map (a reference): its private fd, and whether it is closed */
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

handle_table *maps_table_new(void) {
  handle_table *t = calloc(1, sizeof(*t));
  if (t) t->refs = 1; /* the environment's reference */
  return t;
}

void maps_table_release(handle_table *t) { table_unref(t); }

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

/* Count CPUs in /sys/devices/system/cpu/possible ("0-3", "0,2-5", ...); -errno if unreadable. */
static int sysfs_possible_cpus(void) {
  FILE *f = fopen("/sys/devices/system/cpu/possible", "r");
  if (!f) return -errno;
  char buf[4096];
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = 0;
  long count = 0;
  char *p = buf;
  while (*p && *p != '\n') {
    char *end;
    long a = strtol(p, &end, 10);
    if (end == p || a < 0) return -EINVAL;
    long b = a;
    p = end;
    if (*p == '-') {
      p++;
      b = strtol(p, &end, 10);
      if (end == p || b < a) return -EINVAL;
      p = end;
    }
    count += b - a + 1;
    if (count > INT32_MAX) return -EINVAL;
    if (*p == ',') p++;
    else if (*p && *p != '\n') return -EINVAL;
  }
  return count > 0 ? (int)count : -EINVAL;
}

/*
 * The kernel's own possible-CPU count, without trusting sysfs (a container runtime can bind-mount
 * anything over it): a lookup in a fresh one-entry per-CPU array writes round_up(8, 8) bytes of
 * zeros per possible CPU. The lookup goes into a buffer sized for PROBE_MAX_CPUS (above every
 * in-tree NR_CPUS limit: x86 MAXSMP is 8192) filled with a canary; the zeros it wrote count the
 * CPUs. A canary that did not survive at the end means more CPUs than the buffer: -E2BIG.
 */
#define PROBE_MAX_CPUS 16384
static int kernel_possible_cpus(void) {
  uint8_t attr[48];
  memset(attr, 0, sizeof(attr));
  put_u32(attr, 0, 6);  /* BPF_MAP_TYPE_PERCPU_ARRAY */
  put_u32(attr, 4, 4);
  put_u32(attr, 8, 8);
  put_u32(attr, 12, 1);
  memcpy(attr + 28, "bpfmap_cpus", 12);
  int fd = fd_result(sys_bpf(CMD_MAP_CREATE, attr, sizeof(attr)));
  if (fd < 0) return fd;
  size_t size = (size_t)PROBE_MAX_CPUS * 8 + 8;
  uint8_t *buf = malloc(size);
  if (!buf) { close(fd); return -ENOMEM; }
  memset(buf, 0xa5, size);
  uint32_t key = 0;
  memset(attr, 0, sizeof(attr));
  put_u32(attr, 0, (uint32_t)fd);
  put_ptr(attr, 8, &key);
  put_ptr(attr, 16, buf);
  long rc = sys_bpf(CMD_MAP_LOOKUP_ELEM, attr, 32);
  int err = errno;
  close(fd);
  if (rc < 0) { free(buf); return -err; }
  size_t written = 0;
  while (written < size && buf[written] == 0) written++;
  int count = (int)(written / 8);
  /* The canary must be intact right after the written values, and the written part whole. */
  int ok = written % 8 == 0 && written < size - 8 && count > 0;
  for (size_t i = written; ok && i < size; i++) ok = buf[i] == 0xa5;
  free(buf);
  return ok ? count : -E2BIG;
}

static int possible_cpus_cached = 0; /* written once per process; a racing worker computes the same */

/*
 * The possible-CPU count per-CPU values are sized by: the kernel's, checked against sysfs (what
 * the TypeScript side decodes by). -EDOM when they disagree: the environment lies, and a buffer
 * sized from sysfs would be wrong. Without sysfs, the kernel's count.
 */
int possible_cpus_checked(void) {
  int cached = __atomic_load_n(&possible_cpus_cached, __ATOMIC_RELAXED);
  if (cached != 0) return cached;
  int kernel = kernel_possible_cpus();
  if (kernel < 0) return kernel; /* not cached: may work later (e.g. after a capability change) */
  int sysfs = sysfs_possible_cpus();
  int count = sysfs < 0 || sysfs == kernel ? kernel : -EDOM;
  __atomic_store_n(&possible_cpus_cached, count, __ATOMIC_RELAXED);
  return count;
}

/* possibleCpus() -> count | -errno (-EDOM: sysfs disagrees with the kernel) */
static napi_value possible_cpus_js(napi_env env, napi_callback_info info) {
  (void)info;
  return num(env, possible_cpus_checked());
}

int map_wire_value_size(uint32_t type, uint32_t value_size, uint32_t *out) {
  if (!is_percpu_type(type)) { *out = value_size; return 0; }
  int cpus = possible_cpus_checked();
  if (cpus < 0) return cpus;
  uint64_t total = (((uint64_t)value_size + 7) & ~(uint64_t)7) * (uint64_t)cpus;
  if (total > UINT32_MAX) return -E2BIG;
  *out = (uint32_t)total;
  return 0;
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

/* The binding object was collected: free its slot, drop its reference to the map. */
static void handle_finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  map_handle *h = data;
  obj_unref(h->obj);
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
 * mapBind(map) -> binding object | -errno. The object's `id` is what the element functions take
 * (a number: cheaper per call than unwrapping an object); `staging` and `valueOffset` describe
 * the map's staging area. The binding holds a reference to the map handle, whose private fd it
 * uses; closing the map handle (objClose or mapClose) makes every element function -EBADF.
 */
static napi_value map_bind(napi_env env, napi_callback_info info) {
  ARGS(1);
  obj_handle *obj = arg_object(env, argv[0], KIND_MAP, "mapBind: map");
  if (!obj) return NULL;
  uint8_t minfo[88];
  memset(minfo, 0, sizeof(minfo));
  uint8_t attr[16];
  memset(attr, 0, sizeof(attr));
  put_u32(attr, 0, (uint32_t)obj->fd);
  put_u32(attr, 4, sizeof(minfo));
  put_ptr(attr, 8, minfo);
  if (sys_bpf(CMD_OBJ_GET_INFO_BY_FD, attr, sizeof(attr)) < 0) return num(env, -errno);
  map_handle *h = calloc(1, sizeof(*h));
  if (!h) return num(env, -ENOMEM);
  h->type = get_u32(minfo, 0);
  h->key_size = get_u32(minfo, 8);
  h->value_size = get_u32(minfo, 12);
  int rc = map_wire_value_size(h->type, h->value_size, &h->wire_value_size);
  if (rc < 0) { free(h); return num(env, rc); }
  h->cursor_size = h->key_size > 4 ? h->key_size : 4;
  uint32_t value_offset = (h->cursor_size + 7) & ~7u;
  size_t staging_size = (size_t)value_offset + (h->wire_value_size > 0 ? h->wire_value_size : 1);
  staging *st = calloc(1, sizeof(staging) + staging_size);
  if (!st) { free(h); return num(env, -ENOMEM); }
  st->value_offset = value_offset;
  st->refs = 1; /* the handle's */
  h->staging = st;
  napi_value buffer;
  if (napi_create_external_arraybuffer(env, st->data, staging_size, staging_buffer_finalize, st, &buffer) != napi_ok) {
    free(st); free(h);
    THROW(env, "mapBind: cannot create the staging buffer (external ArrayBuffers not allowed?)");
  }
  st->refs++; /* the ArrayBuffer's */
  rc = table_insert(state->maps, h);
  if (rc < 0) { staging_unref(st); free(h); return num(env, rc); }
  h->obj = obj;
  obj_ref(obj);
  napi_value out, id, offset;
  napi_create_object(env, &out);
  napi_create_uint32(env, h->id, &id);
  napi_create_uint32(env, value_offset, &offset);
  napi_set_named_property(env, out, "id", id);
  napi_set_named_property(env, out, "staging", buffer);
  napi_set_named_property(env, out, "valueOffset", offset);
  if (napi_wrap(env, out, h, handle_finalize, NULL, NULL) != napi_ok) {
    handle_finalize(env, h, NULL);
    THROW(env, "mapBind: wrap failed");
  }
  return out;
}

/* mapClose(id) -> 0. Closes the map handle the binding uses (objClose); idempotent. */
static napi_value map_close(napi_env env, napi_callback_info info) {
  ARGS(1);
  map_handle *h = get_handle(env, state->maps, argv[0]);
  if (!h) THROW_CODE(env, "ERR_BPFMAP_HANDLE", "mapClose: not a map binding id");
  return num(env, obj_close(h->obj));
}

/* Checks a key argument: NULL allowed only when the map's key_size is 0 (queue, stack, bloom). */
static int check_key(map_handle *h, const uint8_t *key, size_t len) {
  if (h->key_size == 0) return 1;
  return key != NULL && len >= h->key_size;
}

#define GET_OPEN_HANDLE(name) \
  map_handle *h = get_handle(env, state->maps, argv[0]); \
  if (!h) THROW(env, name ": not a map handle"); \
  if (h->obj->closed) return num(env, -EBADF)

/*
 * The element commands that take a key and a value buffer: LOOKUP, LOOKUP_AND_DELETE, UPDATE.
 * (handle, key|null, value, flags) -> 0 | -errno. The key may be NULL only for keyless maps;
 * the value buffer must hold the map's whole wire value (all CPUs for per-CPU maps).
 */
static napi_value elem_with_value(napi_env env, napi_callback_info info, int cmd, const char *name) {
  ARGS(4);
  map_handle *h = get_handle(env, state->maps, argv[0]);
  char message[96];
  if (!h) { snprintf(message, sizeof(message), "%s: not a map handle", name); THROW(env, message); }
  if (h->obj->closed) return num(env, -EBADF);
  uint8_t *key, *value;
  size_t klen, vlen;
  int64_t flags;
  if (!arg_opt_bytes(env, argv[1], &key, &klen) || !check_key(h, key, klen)) { snprintf(message, sizeof(message), "%s: key buffer too small", name); THROW(env, message); }
  if (!arg_bytes(env, argv[2], &value, &vlen) || vlen < h->wire_value_size) { snprintf(message, sizeof(message), "%s: value buffer too small", name); THROW(env, message); }
  if (!arg_i64(env, argv[3], &flags)) { snprintf(message, sizeof(message), "%s: flags must be a number", name); THROW(env, message); }
  uint8_t attr[32] = {0};
  put_u32(attr, 0, (uint32_t)h->obj->fd);
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
  put_u32(attr, 0, (uint32_t)h->obj->fd);
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
  map_handle *h = get_handle(env, ((addon_state *)fn_data)->maps, argv[0]);
  if (!h) { char message[96]; snprintf(message, sizeof(message), "%s: not a map handle", name); THROW(env, message); }
  if (h->obj->closed) return num(env, -EBADF);
  uint32_t flags = 0;
  if (with_flags && !arg_u32(env, argv[1], &flags)) { char message[96]; snprintf(message, sizeof(message), "%s: flags must be a 32-bit number", name); THROW(env, message); }
  staging *st = h->staging;
  uint8_t attr[32] = {0};
  put_u32(attr, 0, (uint32_t)h->obj->fd);
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
  put_u32(attr, 0, (uint32_t)h->obj->fd);
  put_ptr(attr, 8, key);
  put_ptr(attr, 16, next);
  return num(env, result(sys_bpf(CMD_MAP_GET_NEXT_KEY, attr, 24)));
}

/* mapFreeze(handle) -> 0 | -errno */
static napi_value map_freeze(napi_env env, napi_callback_info info) {
  ARGS(1);
  GET_OPEN_HANDLE("mapFreeze");
  uint8_t attr[8] = {0};
  put_u32(attr, 0, (uint32_t)h->obj->fd);
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
  put_u32(attr, 36, (uint32_t)h->obj->fd);
  put_u64(attr, 40, (uint64_t)elem_flags);
  long rc = sys_bpf((int)cmd, attr, sizeof(attr));
  int err = rc < 0 ? errno : 0;
  uint32_t out_count = get_u32(attr, 32);
  if (out_count > count) out_count = count; /* never report more than the buffers hold */
  memcpy(count_out, &out_count, 4);
  return num(env, -err);
}


/*
 * mapUpdateStagedObject(id, object, flags) -> 0 | -errno. UPDATE_ELEM of the staged key with the
 * private fd of `object` (a map for maps of maps, a program for prog_array, a perf event for
 * perf_event_array) as the value: the fd number never passes through JavaScript, so a closed
 * object is ERR_BPFMAP_CLOSED instead of whatever reused its number.
 */
static napi_value map_update_staged_object(napi_env env, napi_callback_info info) {
  ARGS(3);
  map_handle *h = get_handle(env, state->maps, argv[0]);
  if (!h) THROW_CODE(env, "ERR_BPFMAP_HANDLE", "mapUpdateStagedObject: not a map binding id");
  if (h->obj->closed) return num(env, -EBADF);
  obj_handle *target = arg_object(env, argv[1], KIND_ANY_FD, "setFd: value");
  if (!target) return NULL;
  uint32_t flags;
  if (!arg_u32(env, argv[2], &flags)) THROW_CODE(env, "ERR_BPFMAP_FLAGS", "mapUpdateStagedObject: flags must be a 32-bit number");
  if (h->wire_value_size != 4) return num(env, -EINVAL);
  staging *st = h->staging;
  uint8_t *value = st->data + st->value_offset;
  put_u32(value, 0, (uint32_t)target->fd);
  uint8_t attr[32] = {0};
  put_u32(attr, 0, (uint32_t)h->obj->fd);
  put_ptr(attr, 8, h->key_size ? st->data : NULL);
  put_ptr(attr, 16, value);
  put_u64(attr, 24, flags);
  int rc = result(sys_bpf(CMD_MAP_UPDATE_ELEM, attr, sizeof(attr)));
  put_u32(value, 0, 0); /* the private number does not stay where JavaScript can read it */
  return num(env, rc);
}

/*
 * mapCreate(attr, innerMap|null, btf|null) -> map handle | -errno. attr: MAP_CREATE's
 * pointer-free prefix (at most 80 bytes, up to map_token_fd). The fd fields come only from
 * handles: inner_map_fd and btf_fd are the private fds of innerMap and btf (or 0), and
 * value_type_btf_obj_fd and map_token_fd are zeroed, whatever attr held.
 */
static napi_value map_create(napi_env env, napi_callback_info info) {
  ARGS(3);
  uint8_t *data;
  size_t len;
  if (!arg_bytes(env, argv[0], &data, &len)) THROW(env, "mapCreate: attr must be bytes");
  if (len > 80) THROW(env, "mapCreate: attribute longer than MAP_CREATE's pointer-free prefix (80 bytes)");
  obj_handle *inner = NULL, *btf = NULL;
  if (!is_nullish(env, argv[1]) && !(inner = arg_object(env, argv[1], KIND_MAP, "create: innerMap"))) return NULL;
  if (!is_nullish(env, argv[2]) && !(btf = arg_object(env, argv[2], KIND_BTF, "create: btf"))) return NULL;
  uint8_t attr[80];
  memset(attr, 0, sizeof(attr));
  memcpy(attr, data, len);
  size_t size = len < 56 ? 56 : len; /* always through btf_value_type_id */
  put_u32(attr, 20, inner ? (uint32_t)inner->fd : 0);
  put_u32(attr, 48, btf ? (uint32_t)btf->fd : 0);
  put_u32(attr, 72, 0);
  put_u32(attr, 76, 0);
  return obj_from_result(env, KIND_MAP, sys_bpf(CMD_MAP_CREATE, attr, (unsigned int)size));
}

void register_maps(napi_env env, napi_value exports, addon_state *state) {
  EXPORT("possibleCpus", possible_cpus_js);
  EXPORT("mapCreate", map_create);
  EXPORT("mapUpdateStagedObject", map_update_staged_object);
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
}
