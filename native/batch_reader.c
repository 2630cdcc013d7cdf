/*
 * Batch readers: MAP_LOOKUP_BATCH on a thread of their own, so that the kernel copies the next
 * batches of a map while JavaScript formats the current one (a dump's two halves, which otherwise
 * take turns on one CPU).
 *
 * A reader owns everything its syscalls touch: a dup of the map's private fd (closing the map in
 * JavaScript cannot make the number mean another file mid-call), and calloc'd key, value and
 * cursor buffers sized here from the kernel's key and value sizes and the batch count. The
 * worker thread writes only those; JavaScript memory is written by batchReaderFinish alone, on
 * the JavaScript thread, from a batch the worker is done with, into buffers whose lengths it has
 * just checked. Only plain lookups run ahead: a lookup-and-delete would delete entries nobody has
 * seen yet if its consumer stopped early.
 *
 * Once started, the worker reads batch after batch into a ring of SLOTS buffers and waits while
 * they are all full, so a slow turn of JavaScript (code V8 has not optimized yet) does not leave
 * the kernel idle; it pauses after a batch that did not succeed (the end, ENOSPC, an error) until
 * the next start. The cursor advances in the worker only, after a batch that succeeded.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include "common.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* The most key and value bytes one batch may buffer (the TypeScript side's MAX_BATCH_BYTES). */
#define MAX_BATCH_BYTES ((uint64_t)1 << 30)
/* The worker only makes syscalls: a small stack is plenty. */
#define WORKER_STACK (64 * 1024)
/* Batches the worker may read ahead of JavaScript. */
#define SLOTS 2

typedef struct {
  uint8_t *keys;
  uint8_t *values;
  int rc;                   /* the batch's 0 | -errno */
  uint32_t count;           /* the batch's count as the kernel left it, at most capacity */
  int full;                 /* under `lock`: read by the worker, not yet collected by finish */
} batch_slot;

typedef struct {
  napi_env env;
  int fd;                   /* our dup of the map's private fd; -1 once released */
  uint32_t key_size;
  uint32_t wire_value_size; /* bytes the kernel writes per value (all CPUs for per-CPU maps) */
  uint32_t cursor_size;     /* max(key_size, 4): a key (arrays) or a bucket index (hashes) */
  uint32_t capacity;        /* entries per batch; every slot holds this many */
  batch_slot slots[SLOTS];
  uint8_t *in_cursor;       /* worker only (while it may run): where the next batch continues */
  uint8_t *out_cursor;
  int started;              /* worker only: a batch succeeded, in_cursor is valid */
  unsigned fill;            /* worker only: the slot it reads into next */
  unsigned take;            /* JavaScript only: the slot finish copies next */

  pthread_mutex_t lock;
  pthread_cond_t wake;      /* the worker waits: reading with an empty slot, or stopping */
  pthread_cond_t done;      /* JavaScript waits: a slot filled, or reading paused */
  int reading;              /* under `lock`: the worker fills empty slots */
  int at_end;               /* under `lock`: the kernel said ENOENT, the map is read to its end */
  int stopping;             /* under `lock` */
  int thread_started;       /* JavaScript only */
  pthread_t thread;

  int released;             /* buffers freed, fd closed, thread joined */
  int hook_registered;
  int sync_ready;           /* lock and conds initialized */
} batch_reader;

/* Reads one batch into slot s. Worker thread; touches nothing of JavaScript's. */
static void run_lookup(batch_reader *r, batch_slot *s) {
  uint8_t attr[56] = {0};
  put_ptr(attr, 0, r->started ? r->in_cursor : NULL);
  put_ptr(attr, 8, r->out_cursor);
  put_ptr(attr, 16, s->keys);
  put_ptr(attr, 24, s->values);
  put_u32(attr, 32, r->capacity);
  put_u32(attr, 36, (uint32_t)r->fd);
  long rc = sys_bpf(CMD_MAP_LOOKUP_BATCH, attr, sizeof(attr));
  int err = rc < 0 ? errno : 0;
  uint32_t count = get_u32(attr, 32);
  s->count = count > r->capacity ? r->capacity : count; /* never more than the buffers hold */
  s->rc = -err;
  if (err == 0) {
    memcpy(r->in_cursor, r->out_cursor, r->cursor_size);
    r->started = 1;
  }
}

static void *worker_main(void *arg) {
  batch_reader *r = arg;
  /* Named, so that `top -H` and /proc/PID/task/TID/comm show what it is. */
  pthread_setname_np(pthread_self(), "bpfmap-batch");
  pthread_mutex_lock(&r->lock);
  for (;;) {
    batch_slot *s = &r->slots[r->fill];
    while (!r->stopping && !(r->reading && !s->full)) pthread_cond_wait(&r->wake, &r->lock);
    if (r->stopping) break;
    pthread_mutex_unlock(&r->lock);
    run_lookup(r, s);
    pthread_mutex_lock(&r->lock);
    s->full = 1;
    if (s->rc != 0) {
      r->reading = 0; /* the end, ENOSPC or an error: JavaScript decides what comes next */
      if (s->rc == -ENOENT) r->at_end = 1;
    }
    r->fill = (r->fill + 1) % SLOTS;
    pthread_cond_broadcast(&r->done);
  }
  pthread_mutex_unlock(&r->lock);
  return NULL;
}

/* Starts the worker with every signal blocked: signals belong to Node's threads. */
static int start_worker(batch_reader *r) {
  pthread_attr_t attr;
  if (pthread_attr_init(&attr) != 0) return -ENOMEM;
  size_t stack = WORKER_STACK < PTHREAD_STACK_MIN ? PTHREAD_STACK_MIN : WORKER_STACK;
  pthread_attr_setstacksize(&attr, stack);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int rc = pthread_create(&r->thread, &attr, worker_main, r);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
  if (rc != 0) return -rc;
  r->thread_started = 1;
  return 0;
}

static void free_buffers(batch_reader *r) {
  for (int i = 0; i < SLOTS; i++) {
    free(r->slots[i].keys); free(r->slots[i].values);
    r->slots[i].keys = r->slots[i].values = NULL;
  }
  free(r->in_cursor); free(r->out_cursor);
  r->in_cursor = r->out_cursor = NULL;
}

static void cleanup_hook(void *arg);

/*
 * Stops the worker (after the syscall it may be in: one bounded batch) and joins it, closes the
 * fd, frees the buffers. JavaScript thread (close, finalizer, environment teardown). Idempotent;
 * the struct stays.
 */
static void reader_release(batch_reader *r) {
  if (r->released) return;
  r->released = 1;
  if (r->hook_registered) {
    napi_remove_env_cleanup_hook(r->env, cleanup_hook, r);
    r->hook_registered = 0;
  }
  if (r->thread_started) {
    pthread_mutex_lock(&r->lock);
    r->stopping = 1;
    pthread_cond_broadcast(&r->wake);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL);
    r->thread_started = 0;
  }
  if (r->fd >= 0) close(r->fd);
  r->fd = -1;
  free_buffers(r);
}

/* The environment is going away (a worker thread ends, or Node.js exits normally). */
static void cleanup_hook(void *arg) {
  batch_reader *r = arg;
  r->hook_registered = 0; /* it ran: nothing to remove */
  reader_release(r);
}

static void reader_finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  batch_reader *r = data;
  reader_release(r);
  if (r->sync_ready) {
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->wake);
    pthread_cond_destroy(&r->done);
  }
  free(r);
}

/* The reader v is (open or closed), or NULL after throwing ERR_BPFMAP_HANDLE. */
static batch_reader *arg_reader_any(napi_env env, napi_value v, const char *what) {
  batch_reader *r = tagged_external(env, v, KIND_BATCH_READER);
  if (r == NULL) {
    char message[128];
    snprintf(message, sizeof(message), "%s: expected a batch reader from batchReaderOpen", what);
    napi_throw_type_error(env, "ERR_BPFMAP_HANDLE", message);
  }
  return r;
}

/* The open reader v is, or NULL after throwing (ERR_BPFMAP_HANDLE, ERR_BPFMAP_CLOSED). */
static batch_reader *arg_reader(napi_env env, napi_value v, const char *what) {
  batch_reader *r = arg_reader_any(env, v, what);
  if (r && r->released) {
    char message[128];
    snprintf(message, sizeof(message), "%s: the batch reader is closed", what);
    napi_throw_type_error(env, "ERR_BPFMAP_CLOSED", message);
    return NULL;
  }
  return r;
}

/* Capacity in [1, 2^32) whose buffers fit MAX_BATCH_BYTES; 0 and a RangeError otherwise. */
static int arg_capacity(napi_env env, napi_value v, const batch_reader *r, uint32_t *out, const char *what) {
  double given;
  char message[160];
  napi_valuetype type;
  /* Strictly an integer: napi_get_value_uint32 would wrap -1 and truncate 1.5. */
  if (napi_typeof(env, v, &type) != napi_ok || type != napi_number || napi_get_value_double(env, v, &given) != napi_ok ||
      !(given >= 1 && given <= UINT32_MAX) || given != (double)(uint32_t)given) {
    snprintf(message, sizeof(message), "%s: capacity must be an integer from 1 to 4294967295", what);
    napi_throw_range_error(env, "ERR_BPFMAP_BATCH", message);
    return 0;
  }
  uint32_t capacity = (uint32_t)given;
  if ((uint64_t)capacity * ((uint64_t)r->key_size + r->wire_value_size) > MAX_BATCH_BYTES) {
    snprintf(message, sizeof(message), "%s: %u entries need more than %llu bytes of buffers", what, capacity, (unsigned long long)MAX_BATCH_BYTES);
    napi_throw_range_error(env, "ERR_BPFMAP_BATCH", message);
    return 0;
  }
  *out = capacity;
  return 1;
}

/*
 * (Re)allocates every slot's key and value buffers for `capacity` entries: 0 | -ENOMEM (the old
 * ones kept). Only while the worker is paused with every slot empty. Zeroed: no stale heap bytes
 * could ever reach JavaScript, and valgrind, which cannot see the kernel's writes, sees defined
 * bytes (big callocs are fresh zero pages: no cost).
 */
static int size_buffers(batch_reader *r, uint32_t capacity) {
  size_t keys_size = (size_t)capacity * r->key_size, values_size = (size_t)capacity * r->wire_value_size;
  uint8_t *keys[SLOTS] = {0}, *values[SLOTS] = {0};
  int ok = 1;
  for (int i = 0; i < SLOTS; i++) {
    keys[i] = calloc(1, keys_size ? keys_size : 1);
    values[i] = calloc(1, values_size ? values_size : 1);
    ok = ok && keys[i] && values[i];
  }
  if (!ok) {
    for (int i = 0; i < SLOTS; i++) { free(keys[i]); free(values[i]); }
    return -ENOMEM;
  }
  for (int i = 0; i < SLOTS; i++) {
    free(r->slots[i].keys); free(r->slots[i].values);
    r->slots[i].keys = keys[i];
    r->slots[i].values = values[i];
  }
  r->capacity = capacity;
  return 0;
}

/*
 * batchReaderOpen(map, capacity) -> reader | -errno. A reader of `capacity` entries per batch
 * over a dup of the map's private fd; key and value sizes come from the kernel.
 */
static napi_value reader_open(napi_env env, napi_callback_info info) {
  ARGS(2);
  obj_handle *map = arg_object(env, argv[0], KIND_MAP, "batchReaderOpen: map");
  if (!map) return NULL;
  int fd = fcntl(map->fd, F_DUPFD_CLOEXEC, 3);
  if (fd < 0) return num(env, -errno);
  uint8_t minfo[88] = {0};
  uint8_t attr[16] = {0};
  put_u32(attr, 0, (uint32_t)fd);
  put_u32(attr, 4, sizeof(minfo));
  put_ptr(attr, 8, minfo);
  if (sys_bpf(CMD_OBJ_GET_INFO_BY_FD, attr, sizeof(attr)) < 0) { int e = errno; close(fd); return num(env, -e); }
  batch_reader *r = calloc(1, sizeof(*r));
  if (!r) { close(fd); return num(env, -ENOMEM); }
  r->env = env;
  r->fd = fd;
  r->key_size = get_u32(minfo, 8);
  int rc = map_wire_value_size(get_u32(minfo, 0), get_u32(minfo, 12), &r->wire_value_size);
  if (rc < 0) { close(fd); free(r); return num(env, rc); }
  r->cursor_size = r->key_size > 4 ? r->key_size : 4;
  uint32_t capacity;
  if (!arg_capacity(env, argv[1], r, &capacity, "batchReaderOpen")) { close(fd); free(r); return NULL; }
  r->in_cursor = calloc(1, r->cursor_size);
  r->out_cursor = calloc(1, r->cursor_size);
  if (!r->in_cursor || !r->out_cursor || size_buffers(r, capacity) < 0) {
    close(fd);
    free_buffers(r);
    free(r);
    return num(env, -ENOMEM);
  }
  pthread_mutex_init(&r->lock, NULL);
  pthread_cond_init(&r->wake, NULL);
  pthread_cond_init(&r->done, NULL);
  r->sync_ready = 1;
  napi_value ext = make_tagged_external(env, r, KIND_BATCH_READER, reader_finalize, NULL);
  if (!ext) {
    /* A created but untagged external still finalizes at GC; an uncreated one does not. */
    THROW(env, "batchReaderOpen: could not create the reader");
  }
  if (napi_add_env_cleanup_hook(env, cleanup_hook, r) == napi_ok) r->hook_registered = 1;
  return ext;
}

/*
 * batchReaderStart(reader) -> 0 | -errno. Starts reading ahead (or resumes it after a batch that
 * did not succeed, ENOSPC say, once that batch is collected); returns at once. Nothing to do while
 * reading, while a batch is not collected (after a pause: the one that caused it, which would
 * only be read again), or once the map is read to its end.
 */
static napi_value reader_start(napi_env env, napi_callback_info info) {
  ARGS(1);
  batch_reader *r = arg_reader(env, argv[0], "batchReaderStart");
  if (!r) return NULL;
  if (!r->thread_started) {
    int rc = start_worker(r);
    if (rc < 0) return num(env, rc);
  }
  pthread_mutex_lock(&r->lock);
  int pending = 0;
  for (int i = 0; i < SLOTS; i++) pending = pending || r->slots[i].full;
  if (!r->reading && !r->at_end && !pending) {
    r->reading = 1;
    pthread_cond_broadcast(&r->wake);
  }
  pthread_mutex_unlock(&r->lock);
  return num(env, 0);
}

/*
 * batchReaderFinish(reader, keys, values, countOut) -> 0 | -errno of the batch. Waits for the
 * next batch in order, then copies its entries into keys (capacity * keySize bytes at least) and
 * values (capacity * valueStride), and its count into countOut[0], as mapBatch does; at the end of
 * the map, -ENOENT with a count of 0. Buffers too small: a RangeError, nothing written, the batch
 * still there for a call with the right buffers. Nothing read or being read: ERR_BPFMAP_BATCH.
 */
static napi_value reader_finish(napi_env env, napi_callback_info info) {
  ARGS(4);
  batch_reader *r = arg_reader(env, argv[0], "batchReaderFinish");
  if (!r) return NULL;
  uint8_t *keys, *values, *count_out;
  size_t keys_len, values_len, count_out_len;
  char message[160];
  if (!arg_bytes(env, argv[1], &keys, &keys_len) || !arg_bytes(env, argv[2], &values, &values_len) || !arg_bytes(env, argv[3], &count_out, &count_out_len)) {
    THROW_CODE(env, "ERR_BPFMAP_BATCH", "batchReaderFinish: keys, values and countOut must be typed arrays");
  }
  /* The capacity only changes by a resize on this thread, never with a batch pending. */
  if (keys_len < (uint64_t)r->capacity * r->key_size || values_len < (uint64_t)r->capacity * r->wire_value_size || count_out_len < 4) {
    snprintf(message, sizeof(message), "batchReaderFinish: buffers must hold %u keys of %u bytes, %u values of %u bytes and a u32 count",
             r->capacity, r->key_size, r->capacity, r->wire_value_size);
    napi_throw_range_error(env, "ERR_BPFMAP_BATCH", message);
    return NULL;
  }
  batch_slot *s = &r->slots[r->take];
  pthread_mutex_lock(&r->lock);
  while (!s->full && r->reading) pthread_cond_wait(&r->done, &r->lock);
  int full = s->full, at_end = r->at_end;
  pthread_mutex_unlock(&r->lock);
  if (!full) {
    if (!at_end) THROW_CODE(env, "ERR_BPFMAP_BATCH", "batchReaderFinish: no batch started (call batchReaderStart)");
    uint32_t zero = 0;
    memcpy(count_out, &zero, 4);
    return num(env, -ENOENT);
  }
  /* A full slot is JavaScript's until it is marked empty: the worker fills only empty ones. */
  memcpy(keys, s->keys, (size_t)s->count * r->key_size);
  memcpy(values, s->values, (size_t)s->count * r->wire_value_size);
  memcpy(count_out, &s->count, 4);
  int rc = s->rc;
  pthread_mutex_lock(&r->lock);
  s->full = 0;
  pthread_cond_broadcast(&r->wake);
  pthread_mutex_unlock(&r->lock);
  r->take = (r->take + 1) % SLOTS;
  return num(env, rc);
}

/*
 * batchReaderResize(reader, capacity) -> 0 | -ENOMEM. New buffers for `capacity` entries per
 * batch (a hash bucket that did not fit: ENOSPC), keeping the cursor. Only while paused with
 * every batch collected.
 */
static napi_value reader_resize(napi_env env, napi_callback_info info) {
  ARGS(2);
  batch_reader *r = arg_reader(env, argv[0], "batchReaderResize");
  if (!r) return NULL;
  uint32_t capacity;
  if (!arg_capacity(env, argv[1], r, &capacity, "batchReaderResize")) return NULL;
  pthread_mutex_lock(&r->lock);
  int busy = r->reading;
  for (int i = 0; i < SLOTS; i++) busy = busy || r->slots[i].full;
  pthread_mutex_unlock(&r->lock);
  /* Paused with every slot empty: the worker waits for a start, which only this thread makes. */
  if (busy) THROW_CODE(env, "ERR_BPFMAP_BATCH", "batchReaderResize: batches are being read or not collected; resize after a batch that did not succeed, once finished");
  return num(env, size_buffers(r, capacity));
}

/* batchReaderClose(reader) -> 0. Waits for a batch in flight; idempotent. */
static napi_value reader_close(napi_env env, napi_callback_info info) {
  ARGS(1);
  batch_reader *r = arg_reader_any(env, argv[0], "batchReaderClose");
  if (!r) return NULL;
  reader_release(r);
  return num(env, 0);
}

void register_batch_reader(napi_env env, napi_value exports, addon_state *state) {
  EXPORT("batchReaderOpen", reader_open);
  EXPORT("batchReaderStart", reader_start);
  EXPORT("batchReaderFinish", reader_finish);
  EXPORT("batchReaderResize", reader_resize);
  EXPORT("batchReaderClose", reader_close);
}
