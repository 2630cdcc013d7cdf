/*
 * Attaching to cgroups and tcx: the legacy BPF_PROG_ATTACH / BPF_PROG_DETACH, BPF_PROG_QUERY,
 * cgroup links, links placed relative to another program or link (the mprog `before`/`after`
 * anchors of tcx and cgroups), and freplace links onto a function of another program. Attaching
 * and linking share their arguments and their target; they differ in the command and the layout.
 *
 * A target is a cgroup path (opened here for the one call) or an interface index. An anchor is a
 * program or link handle (its private fd goes in relative_fd, with BPF_F_LINK for links) or a
 * kernel id (relative_id, with BPF_F_ID set by the caller). No fd number comes from JavaScript.
 */
#include "common.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

enum { CMD_PROG_ATTACH_PA = 8, CMD_PROG_DETACH_PA = 9, CMD_PROG_QUERY_PA = 16, CMD_LINK_CREATE_PA = 28 };
enum { F_REPLACE = 1u << 2, F_BEFORE = 1u << 3, F_AFTER = 1u << 4, F_ID = 1u << 5, F_LINK = 1u << 13 };

/*
 * The target fd or ifindex: a cgroup path (opened into *opened, to close after the call) or,
 * when the path is null, the interface index. 0 after throwing, -errno when the open failed.
 */
static int target_of(napi_env env, napi_value path_value, napi_value ifindex_value, uint32_t *target, int *opened, const char *what) {
  *opened = -1;
  if (is_nullish(env, path_value)) {
    if (!arg_u32(env, ifindex_value, target) || *target == 0) {
      char message[128];
      snprintf(message, sizeof(message), "%s: ifindex must be a positive u32 when no cgroup path is given", what);
      napi_throw_type_error(env, "ERR_BPFMAP_NATIVE", message);
      return 0;
    }
    return 1;
  }
  char path[PATH_MAX];
  if (!arg_path(env, path_value, path, sizeof(path), what)) return 0;
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -errno;
  *opened = fd;
  *target = (uint32_t)fd;
  return 1;
}

/*
 * The anchor's relative_fd: a program or link handle's private fd (setting BPF_F_LINK for a
 * link, clearing it for a program), or relativeId when the handle is null. 0 after throwing.
 */
static int anchor_of(napi_env env, napi_value handle_value, napi_value id_value, uint32_t *flags, uint32_t *relative, const char *what) {
  if (is_nullish(env, handle_value)) {
    if (!arg_u32(env, id_value, relative)) {
      napi_throw_type_error(env, "ERR_BPFMAP_NATIVE", "relativeId must be a u32");
      return 0;
    }
    return 1;
  }
  obj_handle *h = tagged_external(env, handle_value, KIND_LINK);
  if (h) *flags |= F_LINK;
  else {
    h = tagged_external(env, handle_value, KIND_PROG);
    *flags &= ~F_LINK;
  }
  if (!h) {
    char message[160];
    snprintf(message, sizeof(message), "%s: the anchor must be a program or link handle from bpfmap", what);
    napi_throw_type_error(env, "ERR_BPFMAP_HANDLE", message);
    return 0;
  }
  if (h->closed) {
    napi_throw_type_error(env, "ERR_BPFMAP_CLOSED", "the anchor program or link is closed");
    return 0;
  }
  *relative = (uint32_t)h->fd;
  return 1;
}

/* Throws a TypeError ERR_BPFMAP_NATIVE "<what>: <problem>"; returns 0. */
static int throw_arg(napi_env env, const char *what, const char *problem) {
  char message[160];
  snprintf(message, sizeof(message), "%s: %s", what, problem);
  napi_throw_type_error(env, "ERR_BPFMAP_NATIVE", message);
  return 0;
}

/*
 * What attaching and anchored links take at the same positions: attachType (3), flags (4), the
 * anchor (5, or the relative id 6) and expectedRevision (7). 0 after throwing.
 */
static int placement_args(napi_env env, napi_value *argv, const char *what, uint32_t *attach_type, uint32_t *flags, uint32_t *relative, uint64_t *revision) {
  *relative = 0;
  if (!arg_u32(env, argv[3], attach_type)) return throw_arg(env, what, "attachType must be a u32");
  if (!arg_u32(env, argv[4], flags)) return throw_arg(env, what, "flags must be a u32");
  if (!arg_u64(env, argv[7], revision)) return throw_arg(env, what, "expectedRevision must be a non-negative integer");
  return anchor_of(env, argv[5], argv[6], flags, relative, what);
}

/* The command on a target, then the cgroup opened for it (opened >= 0) closed; errno kept. */
static long bpf_on_target(int cmd, uint8_t *attr, unsigned int size, int opened) {
  long rc = sys_bpf(cmd, attr, size);
  int saved = errno;
  if (opened >= 0) close(opened);
  errno = saved;
  return rc;
}

/*
 * BPF_LINK_CREATE of prog onto target (a cgroup fd or an ifindex; `opened`, the cgroup fd to
 * close after the call or -1): link_create.tcx / .cgroup, relative at 16, expected_revision at
 * 24 (zero for a plain cgroup link). -> link handle | -errno.
 */
static napi_value link_on_target(napi_env env, obj_handle *prog, uint32_t target, int opened, uint32_t attach_type, uint32_t flags, uint32_t relative, uint64_t revision) {
  uint8_t attr[64] = {0};
  put_u32(attr, 0, (uint32_t)prog->fd);
  put_u32(attr, 4, target);
  put_u32(attr, 8, attach_type);
  put_u32(attr, 12, flags);
  put_u32(attr, 16, relative);
  put_u64(attr, 24, revision);
  return obj_from_result(env, KIND_LINK, bpf_on_target(CMD_LINK_CREATE_PA, attr, sizeof(attr), opened));
}

/*
 * progAttach(prog, cgroupPath|null, ifindex, attachType, flags, anchor|null, relativeId, expectedRevision, replace|null)
 * progDetach(prog|null, cgroupPath|null, ifindex, attachType, flags, anchor|null, relativeId, expectedRevision, null)
 *   -> 0 | -errno. BPF_PROG_ATTACH / BPF_PROG_DETACH: target at 0, program at 4, attach type at
 *   8, flags at 12, replace_bpf_fd at 16 (with BPF_F_REPLACE), relative_fd/id at 20, revision at 24.
 */
static napi_value attach_or_detach(napi_env env, napi_callback_info info, int cmd, const char *what) {
  ARGS(9);
  obj_handle *prog = NULL;
  if (cmd == CMD_PROG_ATTACH_PA || !is_nullish(env, argv[0])) {
    prog = arg_object(env, argv[0], KIND_PROG, what);
    if (!prog) return NULL;
  }
  uint32_t attach_type, flags, relative, target;
  uint64_t revision;
  if (!placement_args(env, argv, what, &attach_type, &flags, &relative, &revision)) return NULL;
  obj_handle *replace = NULL;
  if (!is_nullish(env, argv[8])) {
    if (cmd != CMD_PROG_ATTACH_PA) THROW(env, "progDetach: replace must be null");
    if (!(replace = arg_object(env, argv[8], KIND_PROG, "progAttach: program to replace"))) return NULL;
  }
  if (replace) flags |= F_REPLACE;
  else flags &= ~F_REPLACE;
  int opened;
  int ok = target_of(env, argv[1], argv[2], &target, &opened, what);
  if (ok == 0) return NULL;
  if (ok < 0) return num(env, ok);
  uint8_t attr[32] = {0};
  put_u32(attr, 0, target);
  put_u32(attr, 4, prog ? (uint32_t)prog->fd : 0);
  put_u32(attr, 8, attach_type);
  put_u32(attr, 12, flags);
  put_u32(attr, 16, replace ? (uint32_t)replace->fd : 0);
  put_u32(attr, 20, relative);
  put_u64(attr, 24, revision);
  return num(env, result(bpf_on_target(cmd, attr, sizeof(attr), opened)));
}

static napi_value prog_attach(napi_env env, napi_callback_info info) {
  return attach_or_detach(env, info, CMD_PROG_ATTACH_PA, "progAttach");
}

static napi_value prog_detach(napi_env env, napi_callback_info info) {
  return attach_or_detach(env, info, CMD_PROG_DETACH_PA, "progDetach");
}

/*
 * progQuery(cgroupPath|null, ifindex, attachType, queryFlags, progIds: Uint32Array,
 *           progFlags: Uint32Array|null, linkIds: Uint32Array|null, out: Float64Array(3)) -> 0 | -errno.
 * out: [count, attach_flags, revision]. At most progIds.length ids are written (the kernel
 * answers ENOSPC with the full count when there are more); progFlags and linkIds, when given,
 * must be as long as progIds.
 */
static napi_value prog_query(napi_env env, napi_callback_info info) {
  ARGS(8);
  uint32_t attach_type, query_flags, target;
  if (!arg_u32(env, argv[2], &attach_type)) THROW(env, "progQuery: attachType must be a u32");
  if (!arg_u32(env, argv[3], &query_flags)) THROW(env, "progQuery: queryFlags must be a u32");
  uint8_t *ids; size_t ids_len;
  if (!arg_bytes(env, argv[4], &ids, &ids_len) || ids_len % 4 != 0 || ids_len / 4 > 65536) THROW(env, "progQuery: progIds must be a Uint32Array of at most 65536");
  uint32_t capacity = (uint32_t)(ids_len / 4);
  uint8_t *prog_flags = NULL, *link_ids = NULL; size_t prog_flags_len = 0, link_ids_len = 0;
  if (!arg_opt_bytes(env, argv[5], &prog_flags, &prog_flags_len) || (prog_flags && prog_flags_len != ids_len)) THROW(env, "progQuery: progFlags must be as long as progIds, or null");
  if (!arg_opt_bytes(env, argv[6], &link_ids, &link_ids_len) || (link_ids && link_ids_len != ids_len)) THROW(env, "progQuery: linkIds must be as long as progIds, or null");
  uint8_t *out; size_t out_len;
  if (!arg_bytes(env, argv[7], &out, &out_len) || out_len < 24) THROW(env, "progQuery: out must be a Float64Array(3)");
  int opened;
  int ok = target_of(env, argv[0], argv[1], &target, &opened, "progQuery");
  if (ok == 0) return NULL;
  if (ok < 0) return num(env, ok);
  /* The kernel writes into buffers of this file's, sized from capacity, then they are copied out. */
  uint32_t *id_buf = calloc(capacity ? capacity : 1, 4), *flag_buf = calloc(capacity ? capacity : 1, 4), *link_buf = calloc(capacity ? capacity : 1, 4);
  if (!id_buf || !flag_buf || !link_buf) { free(id_buf); free(flag_buf); free(link_buf); if (opened >= 0) close(opened); return num(env, -ENOMEM); }
  uint8_t attr[64] = {0};
  put_u32(attr, 0, target);
  put_u32(attr, 4, attach_type);
  put_u32(attr, 8, query_flags);
  put_ptr(attr, 16, capacity ? id_buf : NULL);
  put_u32(attr, 24, capacity);
  put_ptr(attr, 32, capacity && prog_flags ? flag_buf : NULL);
  put_ptr(attr, 40, capacity && link_ids ? link_buf : NULL);
  long rc = bpf_on_target(CMD_PROG_QUERY_PA, attr, sizeof(attr), opened);
  int saved = errno;
  uint32_t count = get_u32(attr, 24);
  uint32_t written = count < capacity ? count : capacity;
  memcpy(ids, id_buf, (size_t)written * 4);
  if (prog_flags) memcpy(prog_flags, flag_buf, (size_t)written * 4);
  if (link_ids) memcpy(link_ids, link_buf, (size_t)written * 4);
  free(id_buf); free(flag_buf); free(link_buf);
  double results[3] = { (double)count, (double)get_u32(attr, 12), (double)get_u64(attr, 56) };
  memcpy(out, results, sizeof(results));
  errno = saved;
  return num(env, result(rc));
}

/*
 * linkCreateCgroup(prog, cgroupPath, attachType, flags) -> link handle | -errno.
 * Opens the cgroup directory for the call only (the link holds the cgroup itself).
 */
static napi_value link_create_cgroup(napi_env env, napi_callback_info info) {
  ARGS(4);
  obj_handle *prog = arg_object(env, argv[0], KIND_PROG, "linkCreateCgroup: program");
  if (!prog) return NULL;
  char path[PATH_MAX];
  if (!arg_path(env, argv[1], path, sizeof(path), "linkCreateCgroup: cgroup path")) return NULL;
  uint32_t attach_type, flags;
  if (!arg_u32(env, argv[2], &attach_type)) THROW(env, "linkCreateCgroup: attachType must be a u32");
  if (!arg_u32(env, argv[3], &flags)) THROW(env, "linkCreateCgroup: flags must be a u32");
  int cgroup = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cgroup < 0) return num(env, -errno);
  return link_on_target(env, prog, (uint32_t)cgroup, cgroup, attach_type, flags, 0, 0);
}

/*
 * linkCreateAnchored(prog, cgroupPath|null, ifindex, attachType, flags, anchor|null, relativeId,
 *                    expectedRevision) -> link handle | -errno. A tcx or cgroup link placed
 * before/after an anchor.
 */
static napi_value link_create_anchored(napi_env env, napi_callback_info info) {
  ARGS(8);
  obj_handle *prog = arg_object(env, argv[0], KIND_PROG, "linkCreateAnchored: program");
  if (!prog) return NULL;
  uint32_t attach_type, flags, relative, target;
  uint64_t revision;
  if (!placement_args(env, argv, "linkCreateAnchored", &attach_type, &flags, &relative, &revision)) return NULL;
  int opened;
  int ok = target_of(env, argv[1], argv[2], &target, &opened, "linkCreateAnchored");
  if (ok == 0) return NULL;
  if (ok < 0) return num(env, ok);
  return link_on_target(env, prog, target, opened, attach_type, flags, relative, revision);
}

/*
 * linkCreateFreplace(prog, targetProg|null, targetBtfId) -> link handle | -errno. An extension
 * program replacing the function `targetBtfId` (an id in the target's BTF) of targetProg; with
 * null and 0, the function it was loaded for (the kernel lets that be used once).
 */
static napi_value link_create_freplace(napi_env env, napi_callback_info info) {
  ARGS(3);
  obj_handle *prog = arg_object(env, argv[0], KIND_PROG, "linkCreateFreplace: program");
  if (!prog) return NULL;
  obj_handle *target = NULL;
  if (!is_nullish(env, argv[1]) && !(target = arg_object(env, argv[1], KIND_PROG, "linkCreateFreplace: target program"))) return NULL;
  uint32_t btf_id;
  if (!arg_u32(env, argv[2], &btf_id) || (!target) != (btf_id == 0)) THROW(env, "linkCreateFreplace: targetBtfId must be a u32, non-zero exactly when a target program is given");
  uint8_t attr[64] = {0};
  put_u32(attr, 0, (uint32_t)prog->fd);
  put_u32(attr, 4, target ? (uint32_t)target->fd : 0); /* 0 and 0: the target given at load */
  put_u32(attr, 8, 0);
  put_u32(attr, 16, btf_id); /* link_create.target_btf_id */
  return obj_from_result(env, KIND_LINK, sys_bpf(CMD_LINK_CREATE_PA, attr, sizeof(attr)));
}

void register_prog_attach(napi_env env, napi_value exports, addon_state *state) {
  EXPORT("progAttach", prog_attach);
  EXPORT("progDetach", prog_detach);
  EXPORT("progQuery", prog_query);
  EXPORT("linkCreateCgroup", link_create_cgroup);
  EXPORT("linkCreateAnchored", link_create_anchored);
  EXPORT("linkCreateFreplace", link_create_freplace);
}
