/*
 * Memory mappings of maps (array maps with BPF_F_MMAPABLE, ring buffers, perf buffers): an
 * ArrayBuffer over the mapping and a tagged token to unmap it.
 */
#include "common.h"

#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/*
 * One mapping. Two holders keep the record: the ArrayBuffer (its backing-store finalizer) and
 * the token external (its finalizer); whichever goes last frees it, so a token used after its
 * buffer was detached and collected still reads a live record. `buffer` is a weak reference to
 * the ArrayBuffer, the one munmap detaches: a holder naming any other buffer is refused.
 */
typedef struct {
  void *addr;
  size_t len;
  int unmapped;
  uint32_t refs;
  napi_ref buffer;
  napi_env env;
} mapping;

static void mapping_unref(mapping *m) {
  if (--m->refs > 0) return;
  if (!m->unmapped) munmap(m->addr, m->len);
  free(m);
}

/* The ArrayBuffer's memory is released: nothing can read the mapping any more. */
static void mapping_buffer_finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)data;
  mapping *m = hint;
  if (!m->unmapped) {
    munmap(m->addr, m->len);
    m->unmapped = 1;
  }
  mapping_unref(m);
}

static void mapping_token_finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  mapping *m = data;
  if (m->buffer) { napi_delete_reference(env, m->buffer); m->buffer = NULL; }
  mapping_unref(m);
}

/*
 * mmap(handle, length, writable, offset) -> { buffer, token } | -errno. The ArrayBuffer is the
 * mapping of the handle's private fd; munmap({ buffer, token }) detaches it (every view becomes
 * empty) before unmapping, so no JavaScript access can reach unmapped memory. Unreferenced
 * mappings are unmapped by the garbage collector.
 */
static napi_value do_mmap(napi_env env, napi_callback_info info) {
  ARGS(4);
  obj_handle *h = arg_object(env, argv[0], KIND_ANY_FD, "mmap");
  if (!h) return NULL;
  int64_t length, offset;
  bool writable;
  if (!arg_i64(env, argv[1], &length) || length <= 0) THROW_CODE(env, "ERR_BPFMAP_MMAP", "mmap: length must be positive");
  if (napi_get_value_bool(env, argv[2], &writable) != napi_ok) THROW_CODE(env, "ERR_BPFMAP_MMAP", "mmap: writable must be a boolean");
  if (!arg_i64(env, argv[3], &offset) || offset < 0) THROW_CODE(env, "ERR_BPFMAP_MMAP", "mmap: offset must be non-negative");
  void *addr = mmap(NULL, (size_t)length, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, h->fd, (off_t)offset);
  if (addr == MAP_FAILED) return num(env, -errno);
  mapping *m = calloc(1, sizeof(*m));
  if (!m) { munmap(addr, (size_t)length); return num(env, -ENOMEM); }
  m->addr = addr;
  m->len = (size_t)length;
  m->env = env;
  m->refs = 1; /* the ArrayBuffer's */
  napi_value ab;
  if (napi_create_external_arraybuffer(env, addr, (size_t)length, mapping_buffer_finalize, m, &ab) != napi_ok) {
    munmap(addr, (size_t)length);
    free(m);
    THROW(env, "mmap: could not wrap the mapping (external buffers disabled?)");
  }
  napi_create_reference(env, ab, 0, &m->buffer);
  m->refs++; /* the token's */
  napi_value token = make_tagged_external(env, m, KIND_MAPPING, mapping_token_finalize, NULL);
  if (!token) { m->refs--; THROW(env, "mmap: could not create the token"); }
  napi_value holder;
  napi_create_object(env, &holder);
  napi_set_named_property(env, holder, "buffer", ab);
  napi_set_named_property(env, holder, "token", token);
  return holder;
}

/*
 * munmap({ buffer, token }) -> 0 | -errno. Idempotent. The token must be a mapping token and the
 * buffer the very ArrayBuffer that mmap returned with it (ERR_BPFMAP_HANDLE otherwise).
 */
static napi_value do_munmap(napi_env env, napi_callback_info info) {
  ARGS(1);
  napi_valuetype type;
  if (napi_typeof(env, argv[0], &type) != napi_ok || type != napi_object) THROW_CODE(env, "ERR_BPFMAP_HANDLE", "munmap: expected a mapping from mmap");
  napi_value given, token;
  if (napi_get_named_property(env, argv[0], "buffer", &given) != napi_ok ||
      napi_get_named_property(env, argv[0], "token", &token) != napi_ok) {
    /* A getter threw: the holder is not what mmap returned. */
    napi_value ignored;
    napi_get_and_clear_last_exception(env, &ignored);
    THROW_CODE(env, "ERR_BPFMAP_HANDLE", "munmap: expected a mapping from mmap");
  }
  mapping *m = tagged_external(env, token, KIND_MAPPING);
  if (m == NULL) THROW_CODE(env, "ERR_BPFMAP_HANDLE", "munmap: the token is not a mapping token from mmap");
  if (m->unmapped) return num(env, 0);
  napi_value ab = NULL;
  if (m->buffer) napi_get_reference_value(env, m->buffer, &ab);
  bool same = false;
  if (ab == NULL || napi_strict_equals(env, ab, given, &same) != napi_ok || !same) {
    THROW_CODE(env, "ERR_BPFMAP_HANDLE", "munmap: the buffer is not the one mmap returned with this token");
  }
  /*
   * Detached by someone else (transferred to a worker): the memory now belongs to the buffer's
   * new owner and is unmapped by the finalizer when that goes. Leave it.
   */
  bool detached = false;
  if (napi_is_detached_arraybuffer(env, ab, &detached) != napi_ok || detached) return num(env, 0);
  /* Unmap only once no view can reach the memory: detach first. */
  m->unmapped = 1; /* before detaching: the buffer's finalizer must not unmap too */
  if (napi_detach_arraybuffer(env, ab) != napi_ok) { m->unmapped = 0; THROW(env, "munmap: could not detach"); }
  return num(env, munmap(m->addr, m->len) < 0 ? -errno : 0);
}

void register_mmap(napi_env env, napi_value exports, addon_state *state) {
  EXPORT("mmap", do_mmap);
  EXPORT("munmap", do_munmap);
}
