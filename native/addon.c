/*
 * bpfmap's native addon: the bpf(2) syscall on addon-owned structs, mmap/munmap, epoll, perf
 * events, fd watches. Everything else (argument checks, layouts, errors) lives in TypeScript.
 * This addon's job beyond making the calls is to hold its own invariants against any JavaScript
 * (see native/README.md):
 *   - No function takes a pointer or an fd number from JavaScript: objects are tagged externals
 *     (common.h: obj_handle) that own a private fd; every pointer placed in an attribute is the
 *     address of addon memory or of a typed array whose length was checked against what the
 *     kernel will use.
 *   - Map element sizes come from the kernel (BPF_OBJ_GET_INFO_BY_FD at bind time), not from
 *     JavaScript; per-CPU values are roundup(value_size, 8) * the kernel's possible CPUs.
 * Functions return a non-negative result or -errno; they throw (a TypeError with a code) only on
 * wrong arguments.
 */
#include "common.h"

#include <stdlib.h>

static void state_finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  addon_state *state = data;
  maps_table_release(state->maps);
  free(state);
}

static napi_value init(napi_env env, napi_value exports) {
  addon_state *state = calloc(1, sizeof(*state));
  if (!state) return NULL;
  state->maps = maps_table_new();
  if (!state->maps) { free(state); return NULL; }
  if (napi_set_instance_data(env, state, state_finalize, NULL) != napi_ok) {
    maps_table_release(state->maps);
    free(state);
    return NULL;
  }
  register_maps(env, exports, state);
  register_objects(env, exports, state);
  register_mmap(env, exports, state);
  register_events(env, exports, state);
  register_prog(env, exports, state);
  register_links(env, exports, state);
  register_struct_ops(env, exports, state);
  register_prog_attach(env, exports, state);
  register_batch_reader(env, exports, state);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
