/*
 * struct_ops: writing a struct_ops map's one value (the kernel's `bpf_struct_ops_<name>` struct,
 * whose function-pointer members hold program fds) and registering it through a bpf_link.
 *
 * The value's bytes come from JavaScript, but the program fds do not: JavaScript names each
 * function-pointer slot by its offset and the program by its handle, and this file writes the
 * handle's private fd at that offset of its own copy of the value. The kernel reads each slot as
 * a u64 fd (bpf_struct_ops_map_update_elem), so a slot is 8 aligned bytes inside the value.
 */
#include "common.h"

#include <stdlib.h>

enum { CMD_MAP_UPDATE_ELEM_SO = 2, CMD_LINK_CREATE_SO = 28 };
enum { ATTACH_STRUCT_OPS = 44 };
/* The kernel caps a struct_ops value at a page (it lives in one image page with the trampolines). */
#define STRUCT_OPS_VALUE_MAX 65536

/*
 * structOpsUpdate(map, value, slots: Uint32Array, programs: prog handle[]) -> 0 | -errno.
 * slots[i]: the byte offset in value where programs[i]'s fd goes (8-aligned, inside the value).
 */
static napi_value struct_ops_update(napi_env env, napi_callback_info info) {
  ARGS(4);
  obj_handle *map = arg_object(env, argv[0], KIND_MAP, "structOpsUpdate: map");
  if (!map) return NULL;
  uint8_t *value; size_t value_len;
  if (!arg_bytes(env, argv[1], &value, &value_len) || value_len == 0 || value_len > STRUCT_OPS_VALUE_MAX)
    THROW_CODE(env, "ERR_BPFMAP_STRUCT_OPS", "structOpsUpdate: value must be 1 to 65536 bytes");
  uint8_t *slot_bytes; size_t slot_len;
  if (!arg_bytes(env, argv[2], &slot_bytes, &slot_len) || slot_len % 4 != 0)
    THROW_CODE(env, "ERR_BPFMAP_STRUCT_OPS", "structOpsUpdate: slots must be a Uint32Array");
  bool is_array;
  uint32_t count = 0;
  if (napi_is_array(env, argv[3], &is_array) != napi_ok || !is_array || napi_get_array_length(env, argv[3], &count) != napi_ok || count != slot_len / 4)
    THROW_CODE(env, "ERR_BPFMAP_STRUCT_OPS", "structOpsUpdate: programs must be an array of program handles, one per slot");
  uint8_t *copy = malloc(value_len);
  if (!copy) return num(env, -ENOMEM);
  memcpy(copy, value, value_len);
  for (uint32_t i = 0; i < count; i++) {
    uint32_t offset = get_u32(slot_bytes, (size_t)i * 4);
    if (offset % 8 != 0 || (size_t)offset + 8 > value_len) {
      free(copy);
      THROW_CODE(env, "ERR_BPFMAP_STRUCT_OPS", "structOpsUpdate: a slot is not 8 aligned bytes inside the value");
    }
    napi_value element;
    if (napi_get_element(env, argv[3], i, &element) != napi_ok) { free(copy); THROW(env, "structOpsUpdate: cannot read programs"); }
    obj_handle *prog = arg_object(env, element, KIND_PROG, "structOpsUpdate: program");
    if (!prog) { free(copy); return NULL; }
    put_u64(copy, offset, (uint64_t)prog->fd);
  }
  uint32_t key = 0;
  uint8_t attr[32] = {0};
  put_u32(attr, 0, (uint32_t)map->fd);
  put_ptr(attr, 8, &key);
  put_ptr(attr, 16, copy);
  put_u64(attr, 24, 0);
  long rc = sys_bpf(CMD_MAP_UPDATE_ELEM_SO, attr, sizeof(attr));
  int saved = errno;
  free(copy);
  errno = saved;
  return num(env, result(rc));
}

/* structOpsLinkCreate(map) -> link handle | -errno: registers a BPF_F_LINK struct_ops map. */
static napi_value struct_ops_link_create(napi_env env, napi_callback_info info) {
  ARGS(1);
  obj_handle *map = arg_object(env, argv[0], KIND_MAP, "structOpsLinkCreate: map");
  if (!map) return NULL;
  uint8_t attr[16] = {0};
  put_u32(attr, 0, (uint32_t)map->fd); /* link_create.map_fd shares prog_fd's place */
  put_u32(attr, 8, ATTACH_STRUCT_OPS);
  return obj_from_result(env, KIND_LINK, sys_bpf(CMD_LINK_CREATE_SO, attr, sizeof(attr)));
}

/*
 * structOpsLinkUpdate(link, newMap, oldMap|null) -> 0 | -errno: BPF_LINK_UPDATE of a struct_ops
 * link to another registered-ready BPF_F_LINK struct_ops map (Linux 6.4+). With oldMap, only if
 * that map is the one the link holds now (BPF_F_REPLACE).
 */
static napi_value struct_ops_link_update(napi_env env, napi_callback_info info) {
  ARGS(3);
  return link_update_to(env, argv, KIND_MAP, "structOpsLinkUpdate: link", "structOpsLinkUpdate: new map", "structOpsLinkUpdate: old map");
}

void register_struct_ops(napi_env env, napi_value exports, addon_state *state) {
  EXPORT("structOpsUpdate", struct_ops_update);
  EXPORT("structOpsLinkCreate", struct_ops_link_create);
  EXPORT("structOpsLinkUpdate", struct_ops_link_update);
}
