/*
 * Memory mappings of maps (array maps with BPF_F_MMAPABLE, ring buffers, perf buffers): an
 * ArrayBuffer over the mapping and a tagged token to unmap it.
 */
#include "common.h"

#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

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


void register_mmap(napi_env env, napi_value exports, addon_state *state) {
  EXPORT("mmap", do_mmap);
  EXPORT("munmap", do_munmap);
}
