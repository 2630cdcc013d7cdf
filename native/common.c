/*
 * The shared helpers of common.h, and the tagged object handle: the only way an fd reaches the
 * addon from JavaScript.
 */
#include "common.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
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

long sys_bpf(int cmd, void *attr, unsigned int size) {
  return syscall(__NR_bpf, cmd, attr, size);
}

int result(long rc) { return rc < 0 ? -errno : (int)rc; }

/* fds below 3 would be mistaken for stdio by child processes and other code: move them up. */
static int fix_fd(int fd) {
  if (fd < 0) return fd;
  if (fd > 2) {
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) { int e = errno; close(fd); errno = e; return -1; }
    return fd;
  }
  int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  int saved = errno;
  close(fd);
  if (moved < 0) { errno = saved; return -1; }
  return moved;
}

int fd_result(long rc) {
  if (rc < 0) return -errno;
  int fd = fix_fd((int)rc);
  return fd < 0 ? -errno : fd;
}

/* ---------- arguments ---------- */

napi_value num(napi_env env, double v) {
  napi_value out;
  napi_create_double(env, v, &out);
  return out;
}

int arg_i64(napi_env env, napi_value v, int64_t *out) {
  return napi_get_value_int64(env, v, out) == napi_ok;
}

int arg_fd(napi_env env, napi_value v, int64_t *out) {
  return arg_i64(env, v, out) && *out >= 0 && *out <= INT32_MAX;
}

int arg_u32(napi_env env, napi_value v, uint32_t *out) {
  return napi_get_value_uint32(env, v, out) == napi_ok;
}

int arg_u64(napi_env env, napi_value v, uint64_t *out) {
  bool lossless;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return 0;
  if (t == napi_bigint) return napi_get_value_bigint_uint64(env, v, out, &lossless) == napi_ok && lossless;
  int64_t n;
  if (!arg_i64(env, v, &n) || n < 0) return 0;
  *out = (uint64_t)n;
  return 1;
}

int is_nullish(napi_env env, napi_value v) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return 0;
  return t == napi_null || t == napi_undefined;
}

/*
 * Tries the typed array first with no type test: one N-API call on the hot path, since every
 * extra call runs code from other pages, and on kernels that flush the TLB at each syscall pages
 * cost time. The length is what V8 reports for the view (a subclass's `length` getter is not
 * consulted), and a detached buffer reports 0.
 */
int arg_bytes(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  napi_typedarray_type type;
  size_t length, offset;
  void *ptr;
  napi_value ab;
  if (napi_get_typedarray_info(env, v, &type, &length, &ptr, &ab, &offset) == napi_ok) {
    size_t elem;
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

int arg_opt_bytes(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  if (arg_bytes(env, v, data, len)) return 1;
  if (is_nullish(env, v)) { *data = NULL; *len = 0; return 1; }
  return 0;
}

int arg_path(napi_env env, napi_value v, char *buf, size_t size, const char *what) {
  size_t len;
  char message[128];
  if (napi_get_value_string_utf8(env, v, buf, size, &len) != napi_ok) {
    snprintf(message, sizeof(message), "%s: path must be a string", what);
    napi_throw_type_error(env, "ERR_BPFMAP_PATH", message);
    return 0;
  }
  if (len >= size - 1) {
    snprintf(message, sizeof(message), "%s: path longer than %zu bytes", what, size - 2);
    napi_throw_range_error(env, "ERR_BPFMAP_PATH", message);
    return 0;
  }
  if (strlen(buf) != len) {
    snprintf(message, sizeof(message), "%s: path contains a NUL character", what);
    napi_throw_type_error(env, "ERR_BPFMAP_PATH", message);
    return 0;
  }
  return 1;
}

/* ---------- tags ---------- */

/* upper: "bpfmap" + a version byte; lower: a marker and the kind. Unique to this addon. */
#define TAG(kind) { 0xb9f0000000000000ull | (uint64_t)(kind), 0x6270666d61700001ull }
static const napi_type_tag tags[KIND_COUNT] = {
  TAG(0), TAG(1), TAG(2), TAG(3), TAG(4), TAG(5), TAG(6), TAG(7), TAG(8), TAG(9), TAG(10),
  TAG(11), TAG(12), TAG(13), TAG(14), TAG(15), TAG(16), TAG(17), TAG(18),
};
_Static_assert(KIND_COUNT == 19, "add a TAG() for the new kind");

const napi_type_tag *kind_tag(obj_kind kind) {
  return &tags[(unsigned)kind < KIND_COUNT ? kind : 0];
}

const char *kind_name(obj_kind kind) {
  switch (kind) {
    case KIND_MAP: return "map";
    case KIND_PROG: return "program";
    case KIND_LINK: return "link";
    case KIND_BTF: return "BTF object";
    case KIND_PERF_EVENT: return "perf event";
    case KIND_EPOLL: return "epoll instance";
    case KIND_WATCHER: return "fd watcher";
    case KIND_MAPPING: return "memory mapping";
    case KIND_BATCH_READER: return "batch reader";
    default: return "object";
  }
}

napi_value make_tagged_external(napi_env env, void *data, obj_kind kind, napi_finalize finalize, void *hint) {
  napi_value ext;
  if (napi_create_external(env, data, finalize, hint, &ext) != napi_ok) return NULL;
  if (napi_type_tag_object(env, ext, kind_tag(kind)) != napi_ok) return NULL; /* finalize runs at GC */
  return ext;
}

static int has_tag(napi_env env, napi_value v, obj_kind kind) {
  bool ok = false;
  return napi_check_object_type_tag(env, v, kind_tag(kind), &ok) == napi_ok && ok;
}

void *tagged_external(napi_env env, napi_value v, obj_kind kind) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external) return NULL;
  if (!has_tag(env, v, kind)) return NULL;
  void *data = NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok) return NULL;
  return data;
}

/* ---------- object handles ---------- */

static void close_fd_once(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

void obj_ref(obj_handle *h) { h->refs++; }

static int same_open_file(int public_fd, int private_fd);

void obj_unref(obj_handle *h) {
  if (--h->refs > 0) return;
  /* The last holder (collected without objClose): nobody can hold the fd open any more. */
  if (h->public_fd >= 0 && h->fd >= 0 && same_open_file(h->public_fd, h->fd)) close(h->public_fd);
  h->public_fd = -1;
  close_fd_once(&h->fd);
  free(h);
}

void obj_hold_fd(obj_handle *h) { h->pins++; }

void obj_release_fd(obj_handle *h) {
  if (--h->pins == 0 && h->closed) close_fd_once(&h->fd);
}

/*
 * Whether `public_fd` still refers to the private fd's open file, so that closing it closes our
 * dup and not something the number came to mean after the application closed it. kcmp compares
 * the struct file; without kcmp (CONFIG_KCMP off) the object ids are compared instead.
 */
static int same_open_file(int public_fd, int private_fd) {
#ifdef SYS_kcmp
  pid_t pid = getpid();
  long rc = syscall(SYS_kcmp, pid, pid, 0 /* KCMP_FILE */, public_fd, private_fd);
  if (rc >= 0) return rc == 0;
  if (errno == EBADF) return 0;
#endif
  uint8_t a[16] = {0}, b[16] = {0}, attr[16];
  memset(attr, 0, sizeof(attr));
  put_u32(attr, 0, (uint32_t)public_fd); put_u32(attr, 4, sizeof(a)); put_ptr(attr, 8, a);
  if (sys_bpf(CMD_OBJ_GET_INFO_BY_FD, attr, sizeof(attr)) < 0) return 0;
  memset(attr, 0, sizeof(attr));
  put_u32(attr, 0, (uint32_t)private_fd); put_u32(attr, 4, sizeof(b)); put_ptr(attr, 8, b);
  if (sys_bpf(CMD_OBJ_GET_INFO_BY_FD, attr, sizeof(attr)) < 0) return 0;
  return memcmp(a, b, 8) == 0; /* type and id (maps), type and id (progs): the first 8 bytes */
}

int obj_close(obj_handle *h) {
  if (h->closed) return 0;
  h->closed = 1;
  if (h->public_fd >= 0) {
    if (h->fd >= 0 && same_open_file(h->public_fd, h->fd)) close(h->public_fd);
    h->public_fd = -1;
  }
  if (h->pins == 0) close_fd_once(&h->fd);
  return 0;
}

static void obj_finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  obj_unref(data);
}

napi_value obj_from_result(napi_env env, obj_kind kind, long rc) {
  int fd = fd_result(rc);
  if (fd < 0) return num(env, fd);
  obj_handle *h = calloc(1, sizeof(*h));
  if (!h) { close(fd); return num(env, -ENOMEM); }
  h->kind = kind;
  h->fd = fd;
  h->public_fd = -1;
  h->refs = 1;
  napi_value ext;
  if (napi_create_external(env, h, obj_finalize, NULL, &ext) != napi_ok) {
    close(fd); free(h);
    THROW(env, "native: cannot create a handle");
  }
  if (napi_type_tag_object(env, ext, kind_tag(kind)) != napi_ok) THROW(env, "native: cannot tag a handle");
  return ext;
}

obj_handle *arg_object_any(napi_env env, napi_value v, obj_kind kind, const char *what) {
  obj_handle *h = NULL;
  if (kind == KIND_ANY_FD) {
    for (int k = 1; k <= KIND_LAST_FD && !h; k++) h = tagged_external(env, v, (obj_kind)k);
  } else {
    h = tagged_external(env, v, kind);
  }
  if (h == NULL) {
    char message[160];
    snprintf(message, sizeof(message), "%s: expected a %s handle from bpfmap", what, kind == KIND_ANY_FD ? "BPF object" : kind_name(kind));
    napi_throw_type_error(env, "ERR_BPFMAP_HANDLE", message);
  }
  return h;
}

obj_handle *arg_object(napi_env env, napi_value v, obj_kind kind, const char *what) {
  obj_handle *h = arg_object_any(env, v, kind, what);
  if (h && h->closed) {
    char message[160];
    snprintf(message, sizeof(message), "%s: the %s is closed", what, kind_name(h->kind));
    napi_throw_type_error(env, "ERR_BPFMAP_CLOSED", message);
    return NULL;
  }
  return h;
}

void export_function(napi_env env, napi_value exports, addon_state *state, const char *name, napi_callback fn) {
  napi_value f;
  if (napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, state, &f) == napi_ok) napi_set_named_property(env, exports, name, f);
}
