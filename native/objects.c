/*
 * Generic BPF objects: commands without pointers, pins, info structs, BTF loading, fds.
 */
#include "common.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* ---------- commands without pointers ---------- */

/*
 * bpfPlain(cmd, attr) -> result | -errno. Only the GET_NEXT_ID commands, whose attributes hold
 * neither pointers nor fds; next_id (offset 4) is written back into attr.
 */
static napi_value bpf_plain(napi_env env, napi_callback_info info) {
  ARGS(2);
  uint32_t cmd;
  uint8_t *data;
  size_t len;
  if (!arg_u32(env, argv[0], &cmd)) THROW(env, "bpfPlain: cmd must be a u32");
  if (!arg_bytes(env, argv[1], &data, &len)) THROW(env, "bpfPlain: attr must be bytes");
  if (cmd != CMD_MAP_GET_NEXT_ID && cmd != CMD_PROG_GET_NEXT_ID && cmd != CMD_BTF_GET_NEXT_ID && cmd != 31 /* LINK_GET_NEXT_ID */) THROW(env, "bpfPlain: command not allowed");
  if (len > 12) THROW(env, "bpfPlain: attribute longer than 12 bytes");
  uint8_t attr[12];
  memset(attr, 0, sizeof(attr));
  memcpy(attr, data, len);
  long rc = sys_bpf((int)cmd, attr, sizeof(attr));
  if (rc >= 0) memcpy(data, attr, len);
  return num(env, result(rc));
}

/*
 * objGetById(cmd, id, openFlags) -> handle | -errno: MAP/PROG/BTF/LINK_GET_FD_BY_ID. The handle's
 * kind follows the command.
 */
static napi_value obj_get_by_id(napi_env env, napi_callback_info info) {
  ARGS(3);
  uint32_t cmd, id, flags;
  if (!arg_u32(env, argv[0], &cmd)) THROW(env, "objGetById: cmd must be a u32");
  if (!arg_u32(env, argv[1], &id)) THROW_CODE(env, "ERR_BPFMAP_ID", "objGetById: id must be a u32");
  if (!arg_u32(env, argv[2], &flags)) THROW_CODE(env, "ERR_BPFMAP_FLAGS", "objGetById: flags must be a u32");
  obj_kind kind;
  switch (cmd) {
    case CMD_MAP_GET_FD_BY_ID: kind = KIND_MAP; break;
    case CMD_PROG_GET_FD_BY_ID: kind = KIND_PROG; break;
    case CMD_BTF_GET_FD_BY_ID: kind = KIND_BTF; break;
    case CMD_LINK_GET_FD_BY_ID: kind = KIND_LINK; break;
    default: THROW(env, "objGetById: command not allowed");
  }
  uint8_t attr[12];
  memset(attr, 0, sizeof(attr));
  put_u32(attr, 0, id);
  put_u32(attr, 8, flags);
  return obj_from_result(env, kind, sys_bpf((int)cmd, attr, sizeof(attr)));
}

/* The kind of the object behind a private fd, from its anon inode's name; 0 if none of ours. */
static obj_kind fd_kind(int fd);

/* objPin(handle, path) -> 0 | -errno */
static napi_value obj_pin_js(napi_env env, napi_callback_info info) {
  ARGS(2);
  obj_handle *h = arg_object(env, argv[0], KIND_ANY_FD, "pin");
  if (!h) return NULL;
  char path[4096];
  if (!arg_path(env, argv[1], path, sizeof(path), "pin")) return NULL;
  uint8_t attr[20] = {0};
  put_ptr(attr, 0, path);
  put_u32(attr, 8, (uint32_t)h->fd);
  return num(env, result(sys_bpf(CMD_OBJ_PIN, attr, sizeof(attr))));
}

/*
 * objGet(path, fileFlags) -> handle | -errno. The handle's kind is the object's (map, program,
 * link, BTF: see objKind); -EINVAL for a pinned object of no kind the addon knows.
 */
static napi_value obj_get_js(napi_env env, napi_callback_info info) {
  ARGS(2);
  char path[4096];
  uint32_t flags;
  if (!arg_path(env, argv[0], path, sizeof(path), "open pinned")) return NULL;
  if (!arg_u32(env, argv[1], &flags)) THROW_CODE(env, "ERR_BPFMAP_FLAGS", "objGet: flags must be a u32");
  uint8_t attr[20] = {0};
  put_ptr(attr, 0, path);
  put_u32(attr, 12, flags);
  int fd = fd_result(sys_bpf(CMD_OBJ_GET, attr, sizeof(attr)));
  if (fd < 0) return num(env, fd);
  obj_kind kind = fd_kind(fd);
  if (kind == 0) { close(fd); return num(env, -EINVAL); }
  return obj_from_result(env, kind, fd);
}

/*
 * objInfo(handle, info) -> info_len | -errno. OBJ_GET_INFO_BY_FD into a zeroed struct in addon
 * memory (program and BTF info structs hold user pointers: zeroed, they ask the kernel to write
 * through none), then the bytes the kernel filled are copied into `info` (at most 4096).
 */
#define INFO_MAX 4096
static napi_value obj_info(napi_env env, napi_callback_info info) {
  ARGS(2);
  obj_handle *h = arg_object(env, argv[0], KIND_ANY_FD, "info");
  if (!h) return NULL;
  uint8_t *buf;
  size_t len;
  if (!arg_bytes(env, argv[1], &buf, &len)) THROW(env, "objInfo: info must be bytes");
  uint32_t asked = len > INFO_MAX ? INFO_MAX : (uint32_t)len;
  _Alignas(8) uint8_t struct_info[INFO_MAX];
  memset(struct_info, 0, asked);
  uint8_t attr[16] = {0};
  put_u32(attr, 0, (uint32_t)h->fd);
  put_u32(attr, 4, asked);
  put_ptr(attr, 8, struct_info);
  if (sys_bpf(CMD_OBJ_GET_INFO_BY_FD, attr, sizeof(attr)) < 0) return num(env, -errno);
  uint32_t filled = get_u32(attr, 4);
  if (filled > asked) filled = asked;
  memcpy(buf, struct_info, asked); /* zeros past what the kernel filled */
  return num(env, filled);
}

/*
 * OBJ_GET_INFO_BY_FD of a program asking for one of its array fields: `count` (in the unit the
 * kernel counts that field in) goes at count_offset, a zeroed buffer of this file's of `bytes`
 * bytes at ptr_offset, and on success the buffer is copied into out (which holds `bytes`). The
 * result is what the kernel wrote back at count_offset (the whole array's size, which may be
 * larger than asked), or -errno.
 */
static int64_t prog_info_array(obj_handle *h, size_t count_offset, size_t ptr_offset, uint32_t count, uint8_t *out, size_t bytes) {
  uint8_t *owned = bytes ? calloc(bytes, 1) : NULL;
  if (bytes && !owned) return -ENOMEM;
  uint8_t prog_info[232] = {0};
  put_u32(prog_info, count_offset, count);
  put_ptr(prog_info, ptr_offset, owned);
  uint8_t attr[16] = {0};
  put_u32(attr, 0, (uint32_t)h->fd);
  put_u32(attr, 4, sizeof(prog_info));
  put_ptr(attr, 8, prog_info);
  long rc = sys_bpf(CMD_OBJ_GET_INFO_BY_FD, attr, sizeof(attr));
  int err = errno;
  if (rc >= 0 && bytes) memcpy(out, owned, bytes);
  free(owned);
  if (rc < 0) return -err;
  return get_u32(prog_info, count_offset);
}

/*
 * progMapIds(prog, ids) -> nr_map_ids | -errno: the ids of the maps a program uses, written into
 * ids (at most ids.byteLength / 4 of them, up to 65536) and their total count, which may be larger.
 */
static napi_value prog_map_ids(napi_env env, napi_callback_info info) {
  ARGS(2);
  obj_handle *h = arg_object(env, argv[0], KIND_PROG, "progMapIds");
  if (!h) return NULL;
  uint8_t *ids;
  size_t len;
  if (!arg_bytes(env, argv[1], &ids, &len)) THROW(env, "progMapIds: ids must be a Uint32Array");
  size_t capacity = len / 4;
  if (capacity > 65536) capacity = 65536;
  /* nr_map_ids at 52, map_ids at 56 */
  return num(env, (double)prog_info_array(h, 52, 56, (uint32_t)capacity, ids, capacity * 4));
}

/*
 * progXlatedInsns(prog, insns) -> xlated_prog_len | -errno: the program's instructions as the
 * verifier left them (map references rewritten to map ids), the first insns.byteLength bytes of
 * them (whole instructions, at most 1 MiB) copied into insns, and their whole length in bytes.
 */
static napi_value prog_xlated_insns(napi_env env, napi_callback_info info) {
  ARGS(2);
  obj_handle *h = arg_object(env, argv[0], KIND_PROG, "progXlatedInsns");
  if (!h) return NULL;
  uint8_t *insns;
  size_t len;
  if (!arg_bytes(env, argv[1], &insns, &len)) THROW(env, "progXlatedInsns: insns must be bytes");
  size_t capacity = len & ~(size_t)7;
  if (capacity > (1u << 20)) capacity = 1u << 20;
  /* xlated_prog_len at 20 (in bytes), xlated_prog_insns at 32 */
  return num(env, (double)prog_info_array(h, 20, 32, (uint32_t)capacity, insns, capacity));
}

/*
 * btfInfo(btf, data|null, name|null) -> [btf_size, id, kernel_btf, name_len] | -errno.
 * Fills data with the raw BTF blob when given (it must be at least btf_size bytes to get all of
 * it; the kernel reports ENOSPC otherwise) and name with the object's name. The info struct is
 * addon memory; its pointers are the two buffers, with their checked byte lengths.
 */
static napi_value btf_info(napi_env env, napi_callback_info info) {
  ARGS(3);
  obj_handle *h = arg_object(env, argv[0], KIND_BTF, "btfInfo");
  if (!h) return NULL;
  uint8_t *data, *name;
  size_t dlen, nlen;
  if (!arg_opt_bytes(env, argv[1], &data, &dlen) || dlen > UINT32_MAX) THROW(env, "btfInfo: data must be bytes or null");
  if (!arg_opt_bytes(env, argv[2], &name, &nlen) || nlen > UINT32_MAX) THROW(env, "btfInfo: name must be bytes or null");
  uint8_t binfo[32] = {0};
  put_ptr(binfo, 0, dlen ? data : NULL);
  put_u32(binfo, 8, (uint32_t)dlen);
  put_ptr(binfo, 16, nlen ? name : NULL);
  put_u32(binfo, 24, (uint32_t)nlen);
  uint8_t attr[16] = {0};
  put_u32(attr, 0, (uint32_t)h->fd);
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

/* btfLoad(data, log|null, logLevel) -> BTF handle | -errno. The kernel writes its log into log. */
static napi_value btf_load(napi_env env, napi_callback_info info) {
  ARGS(3);
  uint8_t *data, *log;
  size_t dlen, llen;
  uint32_t level;
  if (!arg_bytes(env, argv[0], &data, &dlen) || dlen > UINT32_MAX) THROW(env, "btfLoad: data must be bytes");
  if (!arg_opt_bytes(env, argv[1], &log, &llen) || llen > UINT32_MAX) THROW(env, "btfLoad: log must be bytes or null");
  if (!arg_u32(env, argv[2], &level)) THROW(env, "btfLoad: logLevel must be a u32");
  if (log == NULL || llen == 0) { log = NULL; llen = 0; level = 0; }
  uint8_t attr[40] = {0};
  put_ptr(attr, 0, data);
  put_ptr(attr, 8, log);
  put_u32(attr, 16, (uint32_t)dlen);
  put_u32(attr, 20, (uint32_t)llen);
  put_u32(attr, 24, level);
  return obj_from_result(env, KIND_BTF, sys_bpf(CMD_BTF_LOAD, attr, 28));
}

/* ---------- object handles ---------- */

/* What /proc/self/fd/N reads for each kind's anon inode. */
static const char *kind_inode(obj_kind kind) {
  switch (kind) {
    case KIND_MAP: return "anon_inode:bpf-map";
    case KIND_PROG: return "anon_inode:bpf-prog";
    case KIND_LINK: return "anon_inode:bpf_link";
    case KIND_BTF: return "anon_inode:btf";
    case KIND_PERF_EVENT: return "anon_inode:[perf_event]";
    case KIND_EPOLL: return "anon_inode:[eventpoll]";
    default: return NULL;
  }
}

static obj_kind fd_kind(int fd) {
  char link[64], target[64];
  snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, target, sizeof(target) - 1);
  if (n < 0) return 0;
  target[n] = 0;
  for (int k = 1; k <= KIND_LAST_FD; k++) {
    const char *name = kind_inode((obj_kind)k);
    if (name && strcmp(name, target) == 0) return (obj_kind)k;
  }
  /* The kernel names a link's inode bpf_link when it makes the link, but bpf-link when the link
   * is opened again from a pin or an id. */
  if (strcmp(target, "anon_inode:bpf-link") == 0) return KIND_LINK;
  return 0;
}

/*
 * objFromFd(fd, kind) -> handle | -errno. Duplicates an fd the caller owns (the caller keeps
 * its own) and checks that the duplicate is an object of `kind`: -EBADF for a closed fd,
 * -EINVAL for any other file. The handle owns only the duplicate, so closing or
 * reusing the caller's number later changes nothing here.
 */
static napi_value obj_from_fd(napi_env env, napi_callback_info info) {
  ARGS(2);
  int64_t fd;
  uint32_t kind;
  if (!arg_fd(env, argv[0], &fd)) THROW_CODE(env, "ERR_BPFMAP_FD", "objFromFd: fd must be a non-negative integer");
  if (!arg_u32(env, argv[1], &kind) || kind < 1 || kind > KIND_LAST_FD || kind_inode((obj_kind)kind) == NULL) THROW(env, "objFromFd: unknown kind");
  int dup = fcntl((int)fd, F_DUPFD_CLOEXEC, 3);
  if (dup < 0) return num(env, -errno);
  if (fd_kind(dup) != (obj_kind)kind) { close(dup); return num(env, -EINVAL); }
  return obj_from_result(env, (obj_kind)kind, dup);
}

/* objKindOfFd(fd) -> kind number | 0: what objFromFd would accept the fd as (for messages). */
static napi_value obj_kind_of_fd(napi_env env, napi_callback_info info) {
  ARGS(1);
  int64_t fd;
  if (!arg_fd(env, argv[0], &fd)) THROW_CODE(env, "ERR_BPFMAP_FD", "objKindOfFd: fd must be a non-negative integer");
  return num(env, fd_kind((int)fd));
}

/* objClose(handle) -> 0. Idempotent; a closed handle passed to any function is ERR_BPFMAP_CLOSED. */
static napi_value obj_close_js(napi_env env, napi_callback_info info) {
  ARGS(1);
  obj_handle *h = arg_object_any(env, argv[0], KIND_ANY_FD, "objClose");
  if (!h) return NULL;
  return num(env, obj_close(h));
}

/* objIsOpen(handle) -> boolean */
static napi_value obj_is_open(napi_env env, napi_callback_info info) {
  ARGS(1);
  obj_handle *h = arg_object_any(env, argv[0], KIND_ANY_FD, "objIsOpen");
  if (!h) return NULL;
  napi_value out;
  napi_get_boolean(env, !h->closed, &out);
  return out;
}

/*
 * objPublicFd(handle) -> fd | -errno. The fd number JavaScript may see (`map.fd`): a dup of the
 * private fd, made on first use and owned by the handle; objClose closes it only if it still
 * refers to the same open file (the application may have closed it and the number been reused).
 * Closing it does not affect the handle, whose private fd is separate.
 */
static napi_value obj_public_fd(napi_env env, napi_callback_info info) {
  ARGS(1);
  obj_handle *h = arg_object(env, argv[0], KIND_ANY_FD, "objPublicFd");
  if (!h) return NULL;
  if (h->public_fd < 0) {
    int fd = fcntl(h->fd, F_DUPFD_CLOEXEC, 3);
    if (fd < 0) return num(env, -errno);
    h->public_fd = fd;
  }
  return num(env, h->public_fd);
}


/*
 * objExportFd(handle) -> fd | -errno: a new fd on the object that the caller owns and must close
 * (the handle forgets it), for public functions that return fd numbers.
 */
static napi_value obj_export_fd(napi_env env, napi_callback_info info) {
  ARGS(1);
  obj_handle *h = arg_object(env, argv[0], KIND_ANY_FD, "objExportFd");
  if (!h) return NULL;
  int fd = fcntl(h->fd, F_DUPFD_CLOEXEC, 3);
  return num(env, fd < 0 ? -errno : fd);
}

/* objKind(handle) -> kind number (NativeKind in src/sys/native.ts) */
static napi_value obj_kind_js(napi_env env, napi_callback_info info) {
  ARGS(1);
  obj_handle *h = arg_object_any(env, argv[0], KIND_ANY_FD, "objKind");
  if (!h) return NULL;
  return num(env, h->kind);
}

/* objDup(handle) -> a new handle on the same object, with its own private fd | -errno */
static napi_value obj_dup(napi_env env, napi_callback_info info) {
  ARGS(1);
  obj_handle *h = arg_object(env, argv[0], KIND_ANY_FD, "objDup");
  if (!h) return NULL;
  return obj_from_result(env, h->kind, fcntl(h->fd, F_DUPFD_CLOEXEC, 3));
}

/* objFdInfo(handle) -> the text of /proc/self/fdinfo of the private fd | -errno */
static napi_value obj_fd_info(napi_env env, napi_callback_info info) {
  ARGS(1);
  obj_handle *h = arg_object(env, argv[0], KIND_ANY_FD, "objFdInfo");
  if (!h) return NULL;
  char path[64], text[4096];
  snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", h->fd);
  FILE *f = fopen(path, "r");
  if (!f) return num(env, -errno);
  size_t n = fread(text, 1, sizeof(text) - 1, f);
  fclose(f);
  napi_value out;
  napi_create_string_utf8(env, text, n, &out);
  return out;
}

void register_objects(napi_env env, napi_value exports, addon_state *state) {
  EXPORT("bpfPlain", bpf_plain);
  EXPORT("objGetById", obj_get_by_id);
  EXPORT("objPin", obj_pin_js);
  EXPORT("objGet", obj_get_js);
  EXPORT("objInfo", obj_info);
  EXPORT("progMapIds", prog_map_ids);
  EXPORT("progXlatedInsns", prog_xlated_insns);
  EXPORT("btfInfo", btf_info);
  EXPORT("btfLoad", btf_load);
  EXPORT("objKind", obj_kind_js);
  EXPORT("objDup", obj_dup);
  EXPORT("objExportFd", obj_export_fd);
  EXPORT("objFdInfo", obj_fd_info);
  EXPORT("objFromFd", obj_from_fd);
  EXPORT("objKindOfFd", obj_kind_of_fd);
  EXPORT("objClose", obj_close_js);
  EXPORT("objIsOpen", obj_is_open);
  EXPORT("objPublicFd", obj_public_fd);
}
