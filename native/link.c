/*
 * Links: attaching programs. BPF_LINK_CREATE with its per-kind fields, BPF_RAW_TRACEPOINT_OPEN,
 * perf events for kprobes, uprobes, tracepoints and sampling programs, kprobe_multi, link
 * detach/update/info, and reading an iterator.
 *
 * Every function takes tagged handles (program, link, map) and never an fd number or a pointer
 * from JavaScript. Strings (symbols, paths, tracepoint names) are copied into memory this file
 * owns before their addresses go into an attribute or a perf_event_attr. A perf event's fd is
 * closed once the link holds the event. Links onto cgroups and tcx (plain or anchored) are in
 * prog_attach.c, beside the legacy attach they share their shape with.
 */
#include "common.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

enum {
  CMD_RAW_TRACEPOINT_OPEN = 17, CMD_LINK_CREATE = 28, CMD_LINK_UPDATE = 29,
  CMD_LINK_GET_NEXT_ID = 31, CMD_ITER_CREATE = 33, CMD_LINK_DETACH = 34,
};

/* attach types with per-kind link_create fields (enum bpf_attach_type) */
enum {
  ATTACH_TRACE_RAW_TP = 23, ATTACH_LSM_MAC = 27, ATTACH_TRACE_ITER = 28, ATTACH_TRACE_UPROBE_MULTI = 48, ATTACH_PERF_EVENT = 41, ATTACH_TRACE_KPROBE_MULTI = 42,
};

/* The bytes of link_create this file passes: through the largest union member it writes. */
#define LINK_CREATE_SIZE 64
/* kprobe_multi's symbol limit (kernel MAX_KPROBE_MULTI_CNT). */
#define MAX_MULTI_COUNT (1u << 20)
/* Longest kernel symbol (KSYM_NAME_LEN). */
#define SYMBOL_MAX 512

static int arg_i32(napi_env env, napi_value v, int32_t *out) {
  return napi_get_value_int32(env, v, out) == napi_ok;
}

/* An optional string of at most size-1 bytes, copied into buf; NULL when null/undefined. */
static int arg_opt_string(napi_env env, napi_value v, char *buf, size_t size, const char **out) {
  if (is_nullish(env, v)) { *out = NULL; return 1; }
  size_t len;
  if (napi_get_value_string_utf8(env, v, buf, size, &len) != napi_ok) return 0;
  if (len >= size - 1 || strlen(buf) != len) return 0; /* too long, or an embedded NUL */
  *out = buf;
  return 1;
}

/*
 * linkCreate(prog, attachType, targetIfindex, flags, targetBtfId, cookie, iterMap|null)
 *   -> link handle | -errno.
 * targetIfindex: XDP and tcx; 0 otherwise. targetBtfId/cookie: tracing, lsm (cookie) and
 * perf-less kinds; iterMap: a map handle for iter/bpf_map_elem-style iterators.
 */
static napi_value link_create(napi_env env, napi_callback_info info) {
  ARGS(7);
  obj_handle *prog = arg_object(env, argv[0], KIND_PROG, "linkCreate: program");
  if (!prog) return NULL;
  uint32_t attach_type, ifindex, flags, btf_id;
  uint64_t cookie;
  if (!arg_u32(env, argv[1], &attach_type)) THROW(env, "linkCreate: attachType must be a u32");
  if (!arg_u32(env, argv[2], &ifindex)) THROW(env, "linkCreate: targetIfindex must be a u32");
  if (!arg_u32(env, argv[3], &flags)) THROW(env, "linkCreate: flags must be a u32");
  if (!arg_u32(env, argv[4], &btf_id)) THROW(env, "linkCreate: targetBtfId must be a u32");
  if (!arg_u64(env, argv[5], &cookie)) THROW(env, "linkCreate: cookie must be a non-negative bigint");
  obj_handle *map = NULL;
  if (!is_nullish(env, argv[6])) {
    map = arg_object(env, argv[6], KIND_MAP, "linkCreate: iterator map");
    if (!map) return NULL;
  }
  uint8_t attr[LINK_CREATE_SIZE] = {0};
  uint8_t iter_info[16] = {0}; /* union bpf_iter_link_info, built here */
  put_u32(attr, 0, (uint32_t)prog->fd);
  put_u32(attr, 4, ifindex);
  put_u32(attr, 8, attach_type);
  put_u32(attr, 12, flags);
  int tracing = attach_type >= ATTACH_TRACE_RAW_TP && attach_type <= ATTACH_LSM_MAC;
  if (map && attach_type != ATTACH_TRACE_ITER) THROW(env, "linkCreate: only iterators take a map");
  if ((btf_id != 0 || cookie != 0) && !tracing) THROW(env, "linkCreate: targetBtfId and cookie are for tracing and lsm links");
  if (attach_type == ATTACH_TRACE_ITER) {
    if (map) {
      put_u32(iter_info, 0, (uint32_t)map->fd);
      put_ptr(attr, 16, iter_info);
      put_u32(attr, 24, sizeof(iter_info));
    }
  } else if (tracing) {
    put_u32(attr, 16, btf_id); /* 0: the target given at load */
    put_u64(attr, 24, cookie);
  }
  return obj_from_result(env, KIND_LINK, sys_bpf(CMD_LINK_CREATE, attr, sizeof(attr)));
}

/* rawTracepointOpen(prog, name|null, cookie) -> link handle | -errno. name null: the program's own target (tracing, lsm). */
static napi_value raw_tracepoint_open(napi_env env, napi_callback_info info) {
  ARGS(3);
  obj_handle *prog = arg_object(env, argv[0], KIND_PROG, "rawTracepointOpen: program");
  if (!prog) return NULL;
  char name_buf[SYMBOL_MAX];
  const char *name;
  uint64_t cookie;
  if (!arg_opt_string(env, argv[1], name_buf, sizeof(name_buf), &name)) THROW(env, "rawTracepointOpen: name must be a string of under 512 bytes without NUL, or null");
  if (!arg_u64(env, argv[2], &cookie)) THROW(env, "rawTracepointOpen: cookie must be a non-negative bigint");
  uint8_t attr[24] = {0};
  put_ptr(attr, 0, name);
  put_u32(attr, 8, (uint32_t)prog->fd);
  put_u64(attr, 16, cookie);
  /* Kernels before the cookie field reject a 24-byte attribute only if its tail is non-zero. */
  return obj_from_result(env, KIND_LINK, sys_bpf(CMD_RAW_TRACEPOINT_OPEN, attr, cookie ? 24 : 16));
}

/* A failure of a multi-step call: [stage, errno]. */
static napi_value stage_error(napi_env env, int stage, int err) {
  napi_value arr;
  napi_create_array_with_length(env, 2, &arr);
  napi_set_element(env, arr, 0, num(env, stage));
  napi_set_element(env, arr, 1, num(env, err));
  return arr;
}

enum { STAGE_PERF_OPEN = 1, STAGE_LINK_CREATE = 2, STAGE_PERF_ENABLE = 3 };

/*
 * perfLinkCreate(prog, type, config, name|null, config2, pid, cpu, samplePeriod, frequency, cookie)
 *   -> link handle | [stage, errno].
 * Opens one perf event, links the program to it (BPF_LINK_CREATE, BPF_PERF_EVENT), enables it,
 * and closes the event's fd: the link holds the event, so it lives as long as the link (and its
 * pins). `name` becomes config1 (kprobe function, uprobe path: the kernel copies the string
 * during the call); `config2` is the probe offset or address. pid -1 with cpu N: every process
 * on CPU N; pid P with cpu -1: process P on any CPU. samplePeriod 0 for probes and tracepoints;
 * for sampling events it is the period, or the frequency when `frequency` is true.
 */
static napi_value perf_link_create(napi_env env, napi_callback_info info) {
  ARGS(10);
  obj_handle *prog = arg_object(env, argv[0], KIND_PROG, "perfLinkCreate: program");
  if (!prog) return NULL;
  uint32_t type;
  uint64_t config, config2, sample, cookie;
  int32_t pid, cpu;
  bool frequency;
  char name_buf[PATH_MAX];
  const char *name;
  if (!arg_u32(env, argv[1], &type)) THROW(env, "perfLinkCreate: type must be a u32");
  if (!arg_u64(env, argv[2], &config)) THROW(env, "perfLinkCreate: config must be a non-negative bigint");
  if (!arg_opt_string(env, argv[3], name_buf, sizeof(name_buf), &name)) THROW(env, "perfLinkCreate: name must be a string shorter than PATH_MAX without NUL, or null");
  if (!arg_u64(env, argv[4], &config2)) THROW(env, "perfLinkCreate: config2 must be a non-negative bigint");
  if (!arg_i32(env, argv[5], &pid) || pid < -1) THROW(env, "perfLinkCreate: pid must be -1 or a process id");
  if (!arg_i32(env, argv[6], &cpu) || cpu < -1) THROW(env, "perfLinkCreate: cpu must be -1 or a CPU number");
  if (pid == -1 && cpu == -1) THROW(env, "perfLinkCreate: pid and cpu cannot both be -1");
  if (!arg_u64(env, argv[7], &sample)) THROW(env, "perfLinkCreate: samplePeriod must be a non-negative bigint");
  if (napi_get_value_bool(env, argv[8], &frequency) != napi_ok) THROW(env, "perfLinkCreate: frequency must be a boolean");
  if (!arg_u64(env, argv[9], &cookie)) THROW(env, "perfLinkCreate: cookie must be a non-negative bigint");

  struct perf_event_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.size = sizeof(attr);
  attr.type = type;
  attr.config = config;
  attr.config1 = (uint64_t)(uintptr_t)name;
  attr.config2 = config2;
  if (sample) {
    attr.sample_period = sample; /* the same field as sample_freq */
    attr.freq = frequency ? 1 : 0;
  }
  long pfd = syscall(__NR_perf_event_open, &attr, (pid_t)pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
  if (pfd < 0) return stage_error(env, STAGE_PERF_OPEN, errno);

  uint8_t link_attr[LINK_CREATE_SIZE] = {0};
  put_u32(link_attr, 0, (uint32_t)prog->fd);
  put_u32(link_attr, 4, (uint32_t)pfd);
  put_u32(link_attr, 8, ATTACH_PERF_EVENT);
  put_u64(link_attr, 16, cookie);
  long link = sys_bpf(CMD_LINK_CREATE, link_attr, sizeof(link_attr));
  if (link < 0) {
    int err = errno;
    close((int)pfd);
    return stage_error(env, STAGE_LINK_CREATE, err);
  }
  /* Events are created enabled, but a sampling event may start disabled: enable as libbpf does. */
  if (ioctl((int)pfd, PERF_EVENT_IOC_ENABLE, 0) < 0) {
    int err = errno;
    close((int)link);
    close((int)pfd);
    return stage_error(env, STAGE_PERF_ENABLE, err);
  }
  close((int)pfd);
  return obj_from_result(env, KIND_LINK, link);
}

/*
 * kprobeMultiLinkCreate(prog, symbols: string[], retprobe, cookies: BigUint64Array|null)
 *   -> link handle | -errno. The symbol strings and the pointer array are built here.
 */
static napi_value kprobe_multi_link_create(napi_env env, napi_callback_info info) {
  ARGS(4);
  obj_handle *prog = arg_object(env, argv[0], KIND_PROG, "kprobeMultiLinkCreate: program");
  if (!prog) return NULL;
  bool is_array, retprobe;
  uint32_t count;
  if (napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array) THROW(env, "kprobeMultiLinkCreate: symbols must be an array of strings");
  if (napi_get_array_length(env, argv[1], &count) != napi_ok || count == 0 || count > MAX_MULTI_COUNT) THROW(env, "kprobeMultiLinkCreate: symbols must hold 1 to 2^20 names");
  if (napi_get_value_bool(env, argv[2], &retprobe) != napi_ok) THROW(env, "kprobeMultiLinkCreate: retprobe must be a boolean");
  uint8_t *cookies = NULL;
  size_t cookies_len = 0;
  if (!arg_opt_bytes(env, argv[3], &cookies, &cookies_len) || (cookies && cookies_len != (size_t)count * 8)) THROW(env, "kprobeMultiLinkCreate: cookies must hold one u64 per symbol, or be null");
  /* First pass: the bytes every name needs, so the names go in one block of exactly that size. */
  size_t total = 0;
  for (uint32_t i = 0; i < count; i++) {
    napi_value element;
    size_t len;
    if (napi_get_element(env, argv[1], i, &element) != napi_ok ||
        napi_get_value_string_utf8(env, element, NULL, 0, &len) != napi_ok || len == 0 || len >= SYMBOL_MAX) {
      THROW(env, "kprobeMultiLinkCreate: every symbol must be a string of 1 to 511 bytes");
    }
    total += len + 1;
  }
  const char **syms = calloc(count, sizeof(*syms));
  char *names = malloc(total);
  uint64_t *cookie_copy = cookies ? malloc((size_t)count * 8) : NULL;
  if (!syms || !names || (cookies && !cookie_copy)) { free(syms); free(names); free(cookie_copy); return num(env, -ENOMEM); }
  size_t at = 0;
  for (uint32_t i = 0; i < count; i++) {
    napi_value element;
    size_t len;
    /* Re-read with the room the first pass measured; a getter that changed its answer is refused. */
    if (napi_get_element(env, argv[1], i, &element) != napi_ok ||
        napi_get_value_string_utf8(env, element, names + at, total - at, &len) != napi_ok ||
        at + len + 1 > total || strlen(names + at) != len) {
      free(syms); free(names); free(cookie_copy);
      THROW(env, "kprobeMultiLinkCreate: every symbol must be a string of 1 to 511 bytes without NUL");
    }
    syms[i] = names + at;
    at += len + 1;
  }
  if (cookies) memcpy(cookie_copy, cookies, (size_t)count * 8);
  uint8_t attr[LINK_CREATE_SIZE] = {0};
  put_u32(attr, 0, (uint32_t)prog->fd);
  put_u32(attr, 8, ATTACH_TRACE_KPROBE_MULTI);
  put_u32(attr, 16, retprobe ? 1 : 0); /* BPF_F_KPROBE_MULTI_RETURN */
  put_u32(attr, 20, count);
  put_ptr(attr, 24, syms);
  put_ptr(attr, 40, cookie_copy);
  long rc = sys_bpf(CMD_LINK_CREATE, attr, sizeof(attr));
  int saved = errno;
  free(syms);
  free(names);
  free(cookie_copy);
  errno = saved;
  return obj_from_result(env, KIND_LINK, rc);
}

/* A BigUint64Array (or null) of exactly count u64s, copied into addon memory; 0 on a wrong size. */
static int copy_u64s(napi_env env, napi_value v, uint32_t count, uint64_t **out) {
  uint8_t *bytes;
  size_t len;
  *out = NULL;
  if (!arg_opt_bytes(env, v, &bytes, &len)) return 0;
  if (!bytes) return 1;
  if (len != (size_t)count * 8) return 0;
  *out = malloc(len);
  if (!*out) return -1;
  memcpy(*out, bytes, len);
  return 1;
}

/*
 * uprobeMultiLinkCreate(prog, path, offsets, refCtrOffsets|null, cookies|null, pid, retprobe)
 *   -> link handle | -errno. One link probing many file offsets of one binary
 * (BPF_TRACE_UPROBE_MULTI, Linux 6.6+). Every array is copied here; the path too.
 */
static napi_value uprobe_multi_link_create(napi_env env, napi_callback_info info) {
  ARGS(7);
  obj_handle *prog = arg_object(env, argv[0], KIND_PROG, "uprobeMultiLinkCreate: program");
  if (!prog) return NULL;
  char path[PATH_MAX];
  if (!arg_path(env, argv[1], path, sizeof(path), "uprobeMultiLinkCreate: path")) return NULL;
  uint8_t *offset_bytes;
  size_t offset_len;
  if (!arg_bytes(env, argv[2], &offset_bytes, &offset_len) || offset_len == 0 || offset_len % 8 || offset_len / 8 > MAX_MULTI_COUNT) THROW(env, "uprobeMultiLinkCreate: offsets must hold 1 to 2^20 u64s");
  uint32_t count = (uint32_t)(offset_len / 8);
  int32_t pid;
  bool retprobe;
  if (!arg_i32(env, argv[5], &pid) || pid < 0) THROW(env, "uprobeMultiLinkCreate: pid must be 0 (every process) or a process id");
  if (napi_get_value_bool(env, argv[6], &retprobe) != napi_ok) THROW(env, "uprobeMultiLinkCreate: retprobe must be a boolean");
  uint64_t *offsets = malloc(offset_len), *ref_ctr = NULL, *cookies = NULL;
  if (!offsets) return num(env, -ENOMEM);
  memcpy(offsets, offset_bytes, offset_len);
  int ok_ref = copy_u64s(env, argv[3], count, &ref_ctr);
  int ok_cookies = ok_ref == 1 ? copy_u64s(env, argv[4], count, &cookies) : 0;
  if (ok_ref != 1 || ok_cookies != 1) {
    free(offsets); free(ref_ctr); free(cookies);
    if (ok_ref < 0 || ok_cookies < 0) return num(env, -ENOMEM);
    THROW(env, "uprobeMultiLinkCreate: refCtrOffsets and cookies must hold one u64 per offset, or be null");
  }
  uint8_t attr[LINK_CREATE_SIZE] = {0};
  put_u32(attr, 0, (uint32_t)prog->fd);
  put_u32(attr, 8, ATTACH_TRACE_UPROBE_MULTI);
  put_ptr(attr, 16, path);
  put_ptr(attr, 24, offsets);
  put_ptr(attr, 32, ref_ctr);
  put_ptr(attr, 40, cookies);
  put_u32(attr, 48, count);
  put_u32(attr, 52, retprobe ? 1 : 0); /* BPF_F_UPROBE_MULTI_RETURN */
  put_u32(attr, 56, (uint32_t)pid);
  long rc = sys_bpf(CMD_LINK_CREATE, attr, sizeof(attr));
  int saved = errno;
  free(offsets); free(ref_ctr); free(cookies);
  errno = saved;
  return obj_from_result(env, KIND_LINK, rc);
}

/* linkDetach(link) -> 0 | -errno. The link stays open (and pinned, if it was) but attaches nothing. */
static napi_value link_detach(napi_env env, napi_callback_info info) {
  ARGS(1);
  obj_handle *link = arg_object(env, argv[0], KIND_LINK, "linkDetach: link");
  if (!link) return NULL;
  uint8_t attr[4] = {0};
  put_u32(attr, 0, (uint32_t)link->fd);
  return num(env, result(sys_bpf(CMD_LINK_DETACH, attr, sizeof(attr))));
}

napi_value link_update_to(napi_env env, napi_value *argv, obj_kind kind, const char *link_what, const char *new_what, const char *old_what) {
  obj_handle *link = arg_object(env, argv[0], KIND_LINK, link_what);
  if (!link) return NULL;
  obj_handle *replacement = arg_object(env, argv[1], kind, new_what);
  if (!replacement) return NULL;
  obj_handle *old = NULL;
  if (!is_nullish(env, argv[2])) {
    old = arg_object(env, argv[2], kind, old_what);
    if (!old) return NULL;
  }
  uint8_t attr[16] = {0};
  put_u32(attr, 0, (uint32_t)link->fd);
  put_u32(attr, 4, (uint32_t)replacement->fd); /* new_prog_fd, or new_map_fd in its place */
  if (old) {
    put_u32(attr, 8, 1u << 2); /* BPF_F_REPLACE */
    put_u32(attr, 12, (uint32_t)old->fd); /* old_prog_fd, or old_map_fd in its place */
  }
  return num(env, result(sys_bpf(CMD_LINK_UPDATE, attr, sizeof(attr))));
}

/* linkUpdate(link, newProg, oldProg|null) -> 0 | -errno. With oldProg, only if it is the one attached (BPF_F_REPLACE). */
static napi_value link_update(napi_env env, napi_callback_info info) {
  ARGS(3);
  return link_update_to(env, argv, KIND_PROG, "linkUpdate: link", "linkUpdate: new program", "linkUpdate: old program");
}

/* struct bpf_link_info: 64 bytes through its largest union member today. */
#define LINK_INFO_SIZE 64
#define LINK_NAME_MAX PATH_MAX

/* Where a link type's name pointer and length live in bpf_link_info, or 0 when it has none. */
static int link_name_fields(const uint8_t *info, size_t *ptr_off, size_t *len_off) {
  uint32_t type = get_u32(info, 0);
  switch (type) {
    case 1: /* raw_tracepoint: tp_name, tp_name_len */
    case 4: /* iter: target_name, target_name_len */
      *ptr_off = 16; *len_off = 24; return 1;
    case 7: { /* perf_event: kprobe func_name / uprobe file_name / tracepoint tp_name */
      uint32_t perf_type = get_u32(info, 16);
      if (perf_type == 0) return 0; /* BPF_PERF_EVENT_UNSPEC */
      if (perf_type == 6) return 0; /* BPF_PERF_EVENT_EVENT: no name */
      *ptr_off = 24; *len_off = 32; return 1;
    }
    case 12: /* uprobe_multi: path, path_size */
      *ptr_off = 16; *len_off = 48; return 1;
    default:
      return 0;
  }
}

/*
 * linkInfo(link, info) -> name string ('' when the type has none) | -errno. info (at least 64
 * bytes) receives struct bpf_link_info with every pointer field zero. The first query has no
 * pointers; a second one points the name field at a buffer of this file's.
 */
static napi_value link_info(napi_env env, napi_callback_info info) {
  ARGS(2);
  obj_handle *link = arg_object(env, argv[0], KIND_LINK, "linkInfo: link");
  if (!link) return NULL;
  uint8_t *out;
  size_t out_len;
  if (!arg_bytes(env, argv[1], &out, &out_len) || out_len < LINK_INFO_SIZE) THROW(env, "linkInfo: info must hold at least 64 bytes");
  _Alignas(8) uint8_t linfo[LINK_INFO_SIZE];
  memset(linfo, 0, sizeof(linfo));
  uint8_t attr[16] = {0};
  put_u32(attr, 0, (uint32_t)link->fd);
  put_u32(attr, 4, sizeof(linfo));
  put_ptr(attr, 8, linfo);
  if (sys_bpf(CMD_OBJ_GET_INFO_BY_FD, attr, sizeof(attr)) < 0) return num(env, -errno);
  size_t ptr_off, len_off;
  napi_value name;
  if (link_name_fields(linfo, &ptr_off, &len_off)) {
    char *buf = calloc(1, LINK_NAME_MAX);
    if (!buf) return num(env, -ENOMEM);
    /* Only the name pointer and its length are inputs; everything else stays zero. */
    _Alignas(8) uint8_t named[LINK_INFO_SIZE];
    memset(named, 0, sizeof(named));
    put_ptr(named, ptr_off, buf);
    put_u32(named, len_off, LINK_NAME_MAX);
    put_ptr(attr, 8, named);
    if (sys_bpf(CMD_OBJ_GET_INFO_BY_FD, attr, sizeof(attr)) == 0) {
      buf[LINK_NAME_MAX - 1] = 0;
      /* Report the second answer (same link, same fields), with the pointer wiped. */
      memcpy(linfo, named, sizeof(linfo));
      memset(linfo + ptr_off, 0, 8);
    } else {
      buf[0] = 0;
    }
    napi_create_string_utf8(env, buf, NAPI_AUTO_LENGTH, &name);
    free(buf);
  } else {
    napi_create_string_utf8(env, "", 0, &name);
  }
  memset(out, 0, out_len);
  memcpy(out, linfo, sizeof(linfo));
  return name;
}

/*
 * iterRead(link, maxBytes) -> ArrayBuffer | -errno. Creates an iterator from an iter link
 * (BPF_ITER_CREATE), reads it to its end into memory of this file's (growing up to maxBytes:
 * -E2BIG past that), closes it, and returns a copy.
 */
static napi_value iter_read(napi_env env, napi_callback_info info) {
  ARGS(2);
  obj_handle *link = arg_object(env, argv[0], KIND_LINK, "iterRead: link");
  if (!link) return NULL;
  int64_t max_bytes;
  if (!arg_i64(env, argv[1], &max_bytes) || max_bytes <= 0 || max_bytes > (int64_t)1 << 31) THROW(env, "iterRead: maxBytes must be in 1..2^31");
  uint8_t attr[8] = {0};
  put_u32(attr, 0, (uint32_t)link->fd);
  long fd = sys_bpf(CMD_ITER_CREATE, attr, sizeof(attr));
  if (fd < 0) return num(env, -errno);
  size_t capacity = max_bytes < 4096 ? (size_t)max_bytes : 4096, used = 0;
  uint8_t *data = malloc(capacity);
  if (!data) { close((int)fd); return num(env, -ENOMEM); }
  for (;;) {
    if (used == capacity) {
      if (capacity >= (size_t)max_bytes) {
        /* Full at the limit: one more byte means the output is longer than allowed. */
        uint8_t probe;
        ssize_t more;
        do more = read((int)fd, &probe, 1); while (more < 0 && errno == EINTR);
        if (more == 0) break;
        free(data);
        close((int)fd);
        return num(env, more < 0 ? -errno : -E2BIG);
      }
      size_t grown = capacity * 2 > (size_t)max_bytes ? (size_t)max_bytes : capacity * 2;
      uint8_t *bigger = realloc(data, grown);
      if (!bigger) { free(data); close((int)fd); return num(env, -ENOMEM); }
      data = bigger;
      capacity = grown;
    }
    ssize_t n = read((int)fd, data + used, capacity - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      free(data);
      close((int)fd);
      return num(env, -err);
    }
    if (n == 0) break;
    used += (size_t)n;
  }
  close((int)fd);
  napi_value buffer;
  void *copy;
  if (napi_create_arraybuffer(env, used, &copy, &buffer) != napi_ok) { free(data); THROW(env, "iterRead: cannot allocate the result"); }
  if (used) memcpy(copy, data, used);
  free(data);
  return buffer;
}

/* linkPin(link, path) -> 0 | -errno */
static napi_value link_pin(napi_env env, napi_callback_info info) {
  ARGS(2);
  obj_handle *link = arg_object(env, argv[0], KIND_LINK, "linkPin: link");
  if (!link) return NULL;
  char path[PATH_MAX];
  if (!arg_path(env, argv[1], path, sizeof(path), "linkPin: path")) return NULL;
  uint8_t attr[20] = {0};
  put_ptr(attr, 0, path);
  put_u32(attr, 8, (uint32_t)link->fd);
  return num(env, result(sys_bpf(CMD_OBJ_PIN, attr, sizeof(attr))));
}

/*
 * Whether fd is a BPF link. The kernel names a link's anon inode "bpf_link" when it creates the
 * link (bpf_link_prime) but "bpf-link" when it opens one from a pin or an id (bpf_link_new_fd).
 */
static int is_link_fd(int fd) {
  char proc[64], target[64];
  snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
  ssize_t n = readlink(proc, target, sizeof(target) - 1);
  if (n < 0) return 0;
  target[n] = 0;
  return strcmp(target, "anon_inode:bpf_link") == 0 || strcmp(target, "anon_inode:bpf-link") == 0;
}

/* A link handle for a kernel fd result, or -EMEDIUMTYPE when the object is not a link. */
static napi_value link_from_fd_result(napi_env env, long rc) {
  if (rc < 0) return num(env, -errno);
  if (!is_link_fd((int)rc)) { close((int)rc); return num(env, -EMEDIUMTYPE); }
  return obj_from_result(env, KIND_LINK, rc);
}

/* linkGetPinned(path) -> link handle | -errno (-EMEDIUMTYPE: the pin is not a link) */
static napi_value link_get_pinned(napi_env env, napi_callback_info info) {
  ARGS(1);
  char path[PATH_MAX];
  if (!arg_path(env, argv[0], path, sizeof(path), "linkGetPinned: path")) return NULL;
  uint8_t attr[20] = {0};
  put_ptr(attr, 0, path);
  return link_from_fd_result(env, sys_bpf(CMD_OBJ_GET, attr, sizeof(attr)));
}

/* linkFromId(id) -> link handle | -errno */
static napi_value link_from_id(napi_env env, napi_callback_info info) {
  ARGS(1);
  uint32_t id;
  if (!arg_u32(env, argv[0], &id)) THROW(env, "linkFromId: id must be a u32");
  uint8_t attr[12] = {0};
  put_u32(attr, 0, id);
  return link_from_fd_result(env, sys_bpf(CMD_LINK_GET_FD_BY_ID, attr, sizeof(attr)));
}

/* linkNextId(id) -> the next link id above id | -errno (-ENOENT past the last) */
static napi_value link_next_id(napi_env env, napi_callback_info info) {
  ARGS(1);
  uint32_t id;
  if (!arg_u32(env, argv[0], &id)) THROW(env, "linkNextId: id must be a u32");
  uint8_t attr[12] = {0};
  put_u32(attr, 0, id);
  if (sys_bpf(CMD_LINK_GET_NEXT_ID, attr, sizeof(attr)) < 0) return num(env, -errno);
  return num(env, get_u32(attr, 4));
}

void register_links(napi_env env, napi_value exports, addon_state *state) {
  EXPORT("linkCreate", link_create);
  EXPORT("rawTracepointOpen", raw_tracepoint_open);
  EXPORT("perfLinkCreate", perf_link_create);
  EXPORT("kprobeMultiLinkCreate", kprobe_multi_link_create);
  EXPORT("uprobeMultiLinkCreate", uprobe_multi_link_create);
  EXPORT("linkDetach", link_detach);
  EXPORT("linkUpdate", link_update);
  EXPORT("linkInfo", link_info);
  EXPORT("iterRead", iter_read);
  EXPORT("linkPin", link_pin);
  EXPORT("linkGetPinned", link_get_pinned);
  EXPORT("linkFromId", link_from_id);
  EXPORT("linkNextId", link_next_id);
}
