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
  return num(env, possible_cpus_checked());
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

/* The kind of the object behind a private fd, from its anon inode's name; 0 if none of ours. */
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


void register_objects(napi_env env, napi_value exports, addon_state *state) {
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
  EXPORT("objFromFd", obj_from_fd);
  EXPORT("objKindOfFd", obj_kind_of_fd);
  EXPORT("objClose", obj_close_js);
  EXPORT("objIsOpen", obj_is_open);
  EXPORT("objPublicFd", obj_public_fd);
}
