/*
 * Programs: BPF_PROG_LOAD with every pointer field built here, BPF_PROG_TEST_RUN, and programs
 * by id. Takes handles (maps for fd_array, BTF objects, programs), never fd numbers or pointers.
 *
 * BPF_PROG_LOAD's attribute comes from JavaScript only for its pointer-free fields (type, flags,
 * name, attach type, record sizes, attach BTF id, log level); this file overwrites every pointer,
 * count and fd field from buffers and handles it checked, so no JavaScript value is ever a pointer
 * or a length the kernel trusts.
 */
#include "common.h"

#include <stdlib.h>

enum { CMD_PROG_TEST_RUN = 10 };

/* union bpf_attr for PROG_LOAD, through log_true_size (what libbpf sends). */
#define PROG_LOAD_SIZE 144
enum {
  PL_PROG_TYPE = 0, PL_INSN_CNT = 4, PL_INSNS = 8, PL_LICENSE = 16, PL_LOG_LEVEL = 24, PL_LOG_SIZE = 28,
  PL_LOG_BUF = 32, PL_KERN_VERSION = 40, PL_PROG_FLAGS = 44, PL_PROG_BTF_FD = 72, PL_FUNC_INFO_REC_SIZE = 76,
  PL_FUNC_INFO = 80, PL_FUNC_INFO_CNT = 88, PL_LINE_INFO_REC_SIZE = 92, PL_LINE_INFO = 96, PL_LINE_INFO_CNT = 104,
  PL_ATTACH_BTF_OBJ_FD = 112, PL_CORE_RELO_CNT = 116, PL_FD_ARRAY = 120, PL_CORE_RELOS = 128,
  PL_CORE_RELO_REC_SIZE = 136, PL_LOG_TRUE_SIZE = 140,
};
#define FUNC_INFO_REC_SIZE 8
#define LINE_INFO_REC_SIZE 16
#define MAX_INSNS (1u << 20)       /* BPF_COMPLEXITY_LIMIT_INSNS: the kernel's own cap */
#define MAX_FD_ARRAY 65536
#define LICENSE_MAX 128
#define PROG_LOAD_ATTEMPTS 5         /* libbpf's: tries of a load the verifier cut short with EAGAIN */

/* Optional record buffer: whole records of rec_size bytes, or null. */
static int arg_records(napi_env env, napi_value v, size_t rec_size, uint8_t **data, size_t *count) {
  size_t len;
  if (!arg_opt_bytes(env, v, data, &len)) return 0;
  if (len % rec_size != 0 || len / rec_size > UINT32_MAX) return 0;
  *count = len / rec_size;
  if (*count == 0) *data = NULL;
  return 1;
}

/*
 * progLoad(attr, insns, license, log|null, funcInfo|null, lineInfo|null, maps[], btf|null,
 *          attachBtfObject|null, logTrueSize: Uint32Array(1)) -> prog handle | -errno
 * attr: at least PROG_LOAD_SIZE bytes; only its pointer-free fields are used.
 * maps: map handles; instructions name them by index (BPF_PSEUDO_MAP_IDX[_VALUE]), rewritten here
 *   to the handles' private fds; the same fds go in fd_array. BTF handles may be among them
 *   (module BTF for kfunc calls, whose insn.off is their index); no map index may name one.
 */
static napi_value prog_load(napi_env env, napi_callback_info info) {
  ARGS(10);
  uint8_t *js_attr; size_t js_attr_len;
  if (!arg_bytes(env, argv[0], &js_attr, &js_attr_len) || js_attr_len < PROG_LOAD_SIZE)
    THROW_CODE(env, "ERR_BPFMAP_PROGRAM", "progLoad: attr must be at least 144 bytes");
  uint8_t *insns; size_t insns_len;
  if (!arg_bytes(env, argv[1], &insns, &insns_len) || insns_len == 0 || insns_len % 8 != 0 || insns_len / 8 > MAX_INSNS)
    THROW_CODE(env, "ERR_BPFMAP_PROGRAM", "progLoad: insns must be 1 to 1048576 whole 8-byte instructions");
  char license[LICENSE_MAX];
  if (!arg_path(env, argv[2], license, sizeof(license), "progLoad: license")) return NULL;
  uint8_t *log = NULL; size_t log_len = 0;
  if (!arg_opt_bytes(env, argv[3], &log, &log_len) || log_len > UINT32_MAX)
    THROW_CODE(env, "ERR_BPFMAP_PROGRAM", "progLoad: log must be bytes (at most 4 GiB) or null");
  uint8_t *func_info; size_t func_info_cnt;
  if (!arg_records(env, argv[4], FUNC_INFO_REC_SIZE, &func_info, &func_info_cnt))
    THROW_CODE(env, "ERR_BPFMAP_PROGRAM", "progLoad: funcInfo must be whole 8-byte records or null");
  uint8_t *line_info; size_t line_info_cnt;
  if (!arg_records(env, argv[5], LINE_INFO_REC_SIZE, &line_info, &line_info_cnt))
    THROW_CODE(env, "ERR_BPFMAP_PROGRAM", "progLoad: lineInfo must be whole 16-byte records or null");
  bool is_array;
  uint32_t map_count = 0;
  if (napi_is_array(env, argv[6], &is_array) != napi_ok || !is_array || napi_get_array_length(env, argv[6], &map_count) != napi_ok || map_count > MAX_FD_ARRAY)
    THROW_CODE(env, "ERR_BPFMAP_PROGRAM", "progLoad: maps must be an array of at most 65536 map handles");
  obj_handle *btf = NULL, *attach_btf = NULL;
  if (!is_nullish(env, argv[7]) && !(btf = arg_object(env, argv[7], KIND_BTF, "progLoad: btf"))) return NULL;
  /* The attach target object: a module's BTF (fentry & co.) or, for freplace, the target program. */
  if (!is_nullish(env, argv[8])) {
    attach_btf = tagged_external(env, argv[8], KIND_PROG);
    if (attach_btf && attach_btf->closed) THROW_CODE(env, "ERR_BPFMAP_CLOSED", "progLoad: the attach target program is closed");
    if (!attach_btf && !(attach_btf = arg_object(env, argv[8], KIND_BTF, "progLoad: attach BTF object or program"))) return NULL;
  }
  uint8_t *true_size_out; size_t true_size_len;
  if (!arg_bytes(env, argv[9], &true_size_out, &true_size_len) || true_size_len < 4)
    THROW_CODE(env, "ERR_BPFMAP_PROGRAM", "progLoad: logTrueSize must be a Uint32Array(1)");

  /*
   * fd_array: the private fds of the map handles, in addon memory, and of BTF handles (module
   * BTF a kfunc call names by its index in insn.off). Only map entries may be named by a map
   * index in an instruction; is_btf marks the others.
   */
  uint32_t *fd_array = NULL;
  uint8_t *is_btf = NULL;
  if (map_count > 0) {
    fd_array = calloc(map_count, sizeof(uint32_t));
    is_btf = calloc(map_count, 1);
    if (!fd_array || !is_btf) { free(fd_array); free(is_btf); return num(env, -ENOMEM); }
    for (uint32_t i = 0; i < map_count; i++) {
      napi_value element;
      if (napi_get_element(env, argv[6], i, &element) != napi_ok) { free(fd_array); free(is_btf); THROW(env, "progLoad: cannot read maps"); }
      obj_handle *map = tagged_external(env, element, KIND_BTF);
      if (map && map->closed) { free(fd_array); free(is_btf); THROW_CODE(env, "ERR_BPFMAP_CLOSED", "progLoad: a BTF object of fd_array is closed"); }
      if (map) is_btf[i] = 1;
      else if (!(map = arg_object(env, element, KIND_MAP, "progLoad: map or BTF object"))) { free(fd_array); free(is_btf); return NULL; }
      fd_array[i] = (uint32_t)map->fd;
    }
  }

  /*
   * The instructions, copied into addon memory (a JavaScript buffer may change under a
   * concurrent writer), with each map reference by index (BPF_PSEUDO_MAP_IDX[_VALUE], which
   * JavaScript writes) turned into a reference by this call's private fd (BPF_PSEUDO_MAP_FD /
   * _VALUE): the kernel then computes the same program tag as for a libbpf load, and no fd number
   * from JavaScript ever reaches an instruction. Out-of-range indexes are refused here.
   */
  uint8_t *code = malloc(insns_len);
  if (!code) { free(fd_array); free(is_btf); return num(env, -ENOMEM); }
  memcpy(code, insns, insns_len);
  for (size_t i = 0; i + 1 < insns_len / 8; i++) {
    uint8_t *insn = code + i * 8;
    if (insn[0] != 0x18) continue; /* BPF_LD | BPF_IMM | BPF_DW */
    uint8_t src = insn[1] >> 4;
    if (src == 5 || src == 6) {
      uint32_t index = get_u32(insn, 4);
      if (index >= map_count || is_btf[index]) {
        free(code); free(fd_array); free(is_btf);
        THROW_CODE(env, "ERR_BPFMAP_PROGRAM", "progLoad: an instruction names a map index beyond the maps given, or a BTF object");
      }
      insn[1] = (uint8_t)((insn[1] & 0x0f) | ((src == 5 ? 1 : 2) << 4));
      put_u32(insn, 4, fd_array[index]);
    }
    i++; /* the second half of the 16-byte load */
  }
  insns = code;

  uint8_t attr[ATTR_SIZE];
  memset(attr, 0, sizeof(attr));
  memcpy(attr, js_attr, PROG_LOAD_SIZE);
  /* Every pointer, count and fd below is this call's own: whatever JavaScript put there is gone. */
  put_u32(attr, PL_INSN_CNT, (uint32_t)(insns_len / 8));
  put_ptr(attr, PL_INSNS, insns);
  put_ptr(attr, PL_LICENSE, license);
  put_u32(attr, PL_LOG_SIZE, log ? (uint32_t)log_len : 0);
  put_ptr(attr, PL_LOG_BUF, log);
  if (!log) put_u32(attr, PL_LOG_LEVEL, 0);
  put_u32(attr, PL_PROG_BTF_FD, btf ? (uint32_t)btf->fd : 0);
  put_u32(attr, PL_FUNC_INFO_REC_SIZE, func_info ? FUNC_INFO_REC_SIZE : 0);
  put_ptr(attr, PL_FUNC_INFO, func_info);
  put_u32(attr, PL_FUNC_INFO_CNT, (uint32_t)func_info_cnt);
  put_u32(attr, PL_LINE_INFO_REC_SIZE, line_info ? LINE_INFO_REC_SIZE : 0);
  put_ptr(attr, PL_LINE_INFO, line_info);
  put_u32(attr, PL_LINE_INFO_CNT, (uint32_t)line_info_cnt);
  put_u32(attr, PL_ATTACH_BTF_OBJ_FD, attach_btf ? (uint32_t)attach_btf->fd : 0); /* or attach_prog_fd: the same field */
  put_u32(attr, PL_CORE_RELO_CNT, 0);
  put_ptr(attr, PL_FD_ARRAY, fd_array);
  put_ptr(attr, PL_CORE_RELOS, NULL);
  put_u32(attr, PL_CORE_RELO_REC_SIZE, 0);
  put_u32(attr, PL_LOG_TRUE_SIZE, 0);
  /*
   * The verifier gives up with EAGAIN when a signal is pending (a profiler's SIGPROF, a timer):
   * try again, as libbpf does (PROG_LOAD_ATTEMPTS, 5 tries), rather than report a refusal.
   */
  long rc;
  int attempts = PROG_LOAD_ATTEMPTS;
  do {
    rc = sys_bpf(CMD_PROG_LOAD, attr, PROG_LOAD_SIZE);
  } while (rc < 0 && errno == EAGAIN && --attempts > 0);
  int saved = errno;
  free(fd_array);
  free(is_btf);
  free(code);
  uint32_t true_size = get_u32(attr, PL_LOG_TRUE_SIZE);
  memcpy(true_size_out, &true_size, 4);
  errno = saved;
  return obj_from_result(env, KIND_PROG, rc);
}

/* union bpf_attr for PROG_TEST_RUN, through batch_size. */
#define TEST_RUN_SIZE 76
enum {
  TR_PROG_FD = 0, TR_RETVAL = 4, TR_DATA_SIZE_IN = 8, TR_DATA_SIZE_OUT = 12, TR_DATA_IN = 16, TR_DATA_OUT = 24,
  TR_REPEAT = 32, TR_DURATION = 36, TR_CTX_SIZE_IN = 40, TR_CTX_SIZE_OUT = 44, TR_CTX_IN = 48, TR_CTX_OUT = 56,
  TR_FLAGS = 64, TR_CPU = 68, TR_BATCH_SIZE = 72,
};

/*
 * progTestRun(prog, dataIn|null, dataOut|null, ctxIn|null, ctxOut|null, repeat, flags, cpu, batchSize,
 *             out: Uint32Array(4)) -> 0 | -errno
 * out receives retval, data_size_out, ctx_size_out, duration (ns per run). The kernel writes at
 * most dataOut.byteLength / ctxOut.byteLength bytes (it answers ENOSPC when the output is larger).
 */
static napi_value prog_test_run(napi_env env, napi_callback_info info) {
  ARGS(10);
  obj_handle *prog = arg_object(env, argv[0], KIND_PROG, "progTestRun: program");
  if (!prog) return NULL;
  uint8_t *data_in, *data_out, *ctx_in, *ctx_out;
  size_t data_in_len, data_out_len, ctx_in_len, ctx_out_len;
  if (!arg_opt_bytes(env, argv[1], &data_in, &data_in_len) || !arg_opt_bytes(env, argv[2], &data_out, &data_out_len) ||
      !arg_opt_bytes(env, argv[3], &ctx_in, &ctx_in_len) || !arg_opt_bytes(env, argv[4], &ctx_out, &ctx_out_len) ||
      data_in_len > UINT32_MAX || data_out_len > UINT32_MAX || ctx_in_len > UINT32_MAX || ctx_out_len > UINT32_MAX)
    THROW_CODE(env, "ERR_BPFMAP_PROGRAM", "progTestRun: data and context must be bytes (at most 4 GiB) or null");
  uint32_t repeat, flags, cpu, batch_size;
  if (!arg_u32(env, argv[5], &repeat) || !arg_u32(env, argv[6], &flags) || !arg_u32(env, argv[7], &cpu) || !arg_u32(env, argv[8], &batch_size))
    THROW_CODE(env, "ERR_BPFMAP_PROGRAM", "progTestRun: repeat, flags, cpu and batchSize must be 32-bit unsigned integers");
  uint8_t *out; size_t out_len;
  if (!arg_bytes(env, argv[9], &out, &out_len) || out_len < 16) THROW_CODE(env, "ERR_BPFMAP_PROGRAM", "progTestRun: out must be a Uint32Array(4)");
  uint8_t attr[ATTR_SIZE];
  memset(attr, 0, sizeof(attr));
  put_u32(attr, TR_PROG_FD, (uint32_t)prog->fd);
  put_u32(attr, TR_DATA_SIZE_IN, (uint32_t)data_in_len);
  put_ptr(attr, TR_DATA_IN, data_in);
  put_u32(attr, TR_DATA_SIZE_OUT, (uint32_t)data_out_len);
  put_ptr(attr, TR_DATA_OUT, data_out);
  put_u32(attr, TR_CTX_SIZE_IN, (uint32_t)ctx_in_len);
  put_ptr(attr, TR_CTX_IN, ctx_in);
  put_u32(attr, TR_CTX_SIZE_OUT, (uint32_t)ctx_out_len);
  put_ptr(attr, TR_CTX_OUT, ctx_out);
  put_u32(attr, TR_REPEAT, repeat);
  put_u32(attr, TR_FLAGS, flags);
  put_u32(attr, TR_CPU, cpu);
  put_u32(attr, TR_BATCH_SIZE, batch_size);
  long rc = sys_bpf(CMD_PROG_TEST_RUN, attr, TEST_RUN_SIZE);
  int saved = errno;
  uint32_t results[4] = { get_u32(attr, TR_RETVAL), get_u32(attr, TR_DATA_SIZE_OUT), get_u32(attr, TR_CTX_SIZE_OUT), get_u32(attr, TR_DURATION) };
  memcpy(out, results, sizeof(results));
  errno = saved;
  return num(env, result(rc));
}

/* progFromId(id) -> prog handle | -errno */
static napi_value prog_from_id(napi_env env, napi_callback_info info) {
  ARGS(1);
  uint32_t id;
  if (!arg_u32(env, argv[0], &id)) THROW_CODE(env, "ERR_BPFMAP_ID", "progFromId: id must be a 32-bit unsigned integer");
  uint8_t attr[ATTR_SIZE];
  memset(attr, 0, sizeof(attr));
  put_u32(attr, 0, id);
  return obj_from_result(env, KIND_PROG, sys_bpf(CMD_PROG_GET_FD_BY_ID, attr, 12));
}

void register_prog(napi_env env, napi_value exports, addon_state *state) {
  EXPORT("progLoad", prog_load);
  EXPORT("progTestRun", prog_test_run);
  EXPORT("progFromId", prog_from_id);
}
