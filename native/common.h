/*
 * What every file of the addon shares: the bpf(2) call, little-endian attribute writers, N-API
 * argument helpers, and the tagged object handle that owns every fd the addon acts on.
 * Read native/README.md before adding a function.
 */
#ifndef BPFMAP_COMMON_H
#define BPFMAP_COMMON_H

#include <node_api.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Command numbers (include/uapi/linux/bpf.h). */
enum {
  CMD_MAP_CREATE = 0, CMD_MAP_LOOKUP_ELEM = 1, CMD_MAP_UPDATE_ELEM = 2, CMD_MAP_DELETE_ELEM = 3,
  CMD_MAP_GET_NEXT_KEY = 4, CMD_PROG_LOAD = 5, CMD_OBJ_PIN = 6, CMD_OBJ_GET = 7,
  CMD_PROG_GET_NEXT_ID = 11, CMD_MAP_GET_NEXT_ID = 12, CMD_PROG_GET_FD_BY_ID = 13,
  CMD_MAP_GET_FD_BY_ID = 14, CMD_OBJ_GET_INFO_BY_FD = 15, CMD_BTF_LOAD = 18,
  CMD_BTF_GET_FD_BY_ID = 19, CMD_MAP_LOOKUP_AND_DELETE_ELEM = 21, CMD_MAP_FREEZE = 22,
  CMD_BTF_GET_NEXT_ID = 23, CMD_MAP_LOOKUP_BATCH = 24, CMD_MAP_LOOKUP_AND_DELETE_BATCH = 25,
  CMD_MAP_UPDATE_BATCH = 26, CMD_MAP_DELETE_BATCH = 27, CMD_LINK_GET_FD_BY_ID = 30,
};

/* Size of union bpf_attr that we ever pass; zero-filled beyond what a command uses. */
#define ATTR_SIZE 168

long sys_bpf(int cmd, void *attr, unsigned int size);

static inline void put_u32(uint8_t *b, size_t off, uint32_t v) { memcpy(b + off, &v, 4); }
static inline void put_u64(uint8_t *b, size_t off, uint64_t v) { memcpy(b + off, &v, 8); }
static inline void put_ptr(uint8_t *b, size_t off, const void *p) { put_u64(b, off, (uint64_t)(uintptr_t)p); }
static inline uint32_t get_u32(const uint8_t *b, size_t off) { uint32_t v; memcpy(&v, b + off, 4); return v; }
static inline uint64_t get_u64(const uint8_t *b, size_t off) { uint64_t v; memcpy(&v, b + off, 8); return v; }

/* A syscall's return value: itself, or -errno. */
int result(long rc);
/* An fd a syscall returned, moved above 2 and close-on-exec, or -errno. */
int fd_result(long rc);

/* ---------- N-API arguments ---------- */

/* Throws a TypeError with a stable code and returns NULL from the calling function. */
#define THROW_CODE(env, code, msg) do { napi_throw_type_error((env), (code), (msg)); return NULL; } while (0)
#define THROW(env, msg) THROW_CODE(env, "ERR_BPFMAP_NATIVE", msg)

napi_value num(napi_env env, double v);
int arg_i64(napi_env env, napi_value v, int64_t *out);
int arg_u32(napi_env env, napi_value v, uint32_t *out);
/* A u64: a bigint that fits, or a non-negative integral number. */
int arg_u64(napi_env env, napi_value v, uint64_t *out);
/* An fd number: an integer in [0, INT32_MAX]. Only for fds the addon does not keep (see README). */
int arg_fd(napi_env env, napi_value v, int64_t *out);
int is_nullish(napi_env env, napi_value v);
/* A typed array (any kind) or DataView: its bytes. 0 if v is neither. */
int arg_bytes(napi_env env, napi_value v, uint8_t **data, size_t *len);
/* Optional bytes: null/undefined gives NULL with length 0. */
int arg_opt_bytes(napi_env env, napi_value v, uint8_t **data, size_t *len);
/* A path string (NUL-free, shorter than PATH_MAX) into buf; 0 and a typed throw otherwise. */
int arg_path(napi_env env, napi_value v, char *buf, size_t size, const char *what);

/* Per-environment state, handed to every function as its callback data. */
typedef struct addon_state addon_state;

#define ARGS(n) \
  size_t argc = (n); napi_value argv[(n) > 0 ? (n) : 1]; void *fn_data = NULL; \
  if (napi_get_cb_info(env, info, &argc, argv, NULL, &fn_data) != napi_ok) return NULL; \
  addon_state *state = fn_data; (void)state; \
  if (argc < (n)) THROW(env, "native: too few arguments")

/* ---------- tagged handles ---------- */

/*
 * Kinds of external the addon hands to JavaScript. Each has its own napi type tag, so a value of
 * one kind never passes for another. Kinds up to KIND_LAST_FD are obj_handles (they own an fd).
 * Add a kind at the end of its group; never reuse a number.
 */
typedef enum {
  KIND_MAP = 1,
  KIND_PROG = 2,
  KIND_LINK = 3,
  KIND_BTF = 4,
  KIND_PERF_EVENT = 5,
  KIND_EPOLL = 6,
  KIND_LAST_FD = 15,    /* kinds 1..15 own an fd: room for more */
  KIND_WATCHER = 16,    /* events.c: an fd watcher box */
  KIND_MAPPING = 17,    /* mmap.c: a memory mapping token */
  KIND_BATCH_READER = 18, /* batch_reader.c: a map reader with a batch lookup thread */
  KIND_COUNT
} obj_kind;

#define KIND_ANY_FD 0   /* arg_object: any kind that owns an fd */

/*
 * An fd the addon owns privately: close-on-exec, above 2, never given to JavaScript as a number
 * (objPublicFd hands out a separate dup). JavaScript holds it as a tagged external; C holders
 * (a map binding, a watcher) take references, so the struct outlives every user.
 * `closed`: objClose ran; the fd is closed at once unless a pin (a user that needs the fd
 * number to stay this object, e.g. a libuv poll handle) holds it until the last unpin.
 */
typedef struct obj_handle {
  obj_kind kind;
  int fd;            /* -1 once closed */
  int public_fd;     /* the dup objPublicFd handed out, -1 until asked (and after close) */
  int closed;
  uint32_t refs;     /* the external's + obj_ref()s */
  uint32_t pins;
} obj_handle;

/* The tag of a kind (for napi_type_tag_object / napi_check_object_type_tag). */
const napi_type_tag *kind_tag(obj_kind kind);
const char *kind_name(obj_kind kind);

/*
 * A new handle of `kind` owning the fd a syscall returned (rc < 0: returns -errno as a number).
 * Moves the fd above 2, sets close-on-exec. On failure the fd is closed.
 */
napi_value obj_from_result(napi_env env, obj_kind kind, long rc);

/*
 * The open handle of `kind` (KIND_ANY_FD: any fd-owning kind) that v is, or NULL after throwing
 * a TypeError: ERR_BPFMAP_HANDLE (not such a handle), ERR_BPFMAP_CLOSED (closed). `what` names
 * the argument in the message ("setInnerMap: inner map").
 */
obj_handle *arg_object(napi_env env, napi_value v, obj_kind kind, const char *what);
/* The same, but a closed handle is returned too (for close and finalizers). */
obj_handle *arg_object_any(napi_env env, napi_value v, obj_kind kind, const char *what);
/* The external of `kind` (any kind, fd-owning or not) that v is, or NULL (no throw). */
void *tagged_external(napi_env env, napi_value v, obj_kind kind);
/* Creates an external tagged with `kind`; NULL on failure (data is not finalized then). */
napi_value make_tagged_external(napi_env env, void *data, obj_kind kind, napi_finalize finalize, void *hint);

void obj_ref(obj_handle *h);
void obj_unref(obj_handle *h);
void obj_hold_fd(obj_handle *h);
void obj_release_fd(obj_handle *h);
/* Marks the handle closed and closes its fds (the private one once unpinned). Idempotent. */
int obj_close(obj_handle *h);

/*
 * link.c: BPF_LINK_UPDATE of the link argv[0] to argv[1], an open handle of `kind` (a program; a
 * struct_ops map for struct_ops links, in the same place), with BPF_F_REPLACE when argv[2] is not
 * null and names the one the link holds now. The *_what strings name the arguments in errors.
 */
napi_value link_update_to(napi_env env, napi_value *argv, obj_kind kind, const char *link_what, const char *new_what, const char *old_what);

/* ---------- per-file registration ---------- */

/* Adds fn to exports under name, with the environment's state as its callback data. */
void export_function(napi_env env, napi_value exports, addon_state *state, const char *name, napi_callback fn);
#define EXPORT(name, fn) export_function(env, exports, state, name, fn)
void register_objects(napi_env env, napi_value exports, addon_state *state);
void register_maps(napi_env env, napi_value exports, addon_state *state);
void register_mmap(napi_env env, napi_value exports, addon_state *state);
void register_events(napi_env env, napi_value exports, addon_state *state);
void register_prog(napi_env env, napi_value exports, addon_state *state);
void register_links(napi_env env, napi_value exports, addon_state *state);
void register_struct_ops(napi_env env, napi_value exports, addon_state *state);
void register_prog_attach(napi_env env, napi_value exports, addon_state *state);
void register_batch_reader(napi_env env, napi_value exports, addon_state *state);

/* maps.c's per-environment table (see there). */
typedef struct handle_table handle_table;
struct addon_state {
  handle_table *maps;
};
handle_table *maps_table_new(void);
void maps_table_release(handle_table *t);

/* The number of possible CPUs, as the kernel counts them for per-CPU values (see maps.c). */
int possible_cpus_checked(void);
/*
 * Bytes the kernel reads or writes for one value of a map of `type` with `value_size`-byte
 * values: the value itself, or roundup(value_size, 8) per possible CPU. 0 | -errno.
 */
int map_wire_value_size(uint32_t type, uint32_t value_size, uint32_t *out);

#endif
