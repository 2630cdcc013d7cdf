/*
 * Batch readers: MAP_LOOKUP_BATCH on a thread of their own, so that the kernel copies the next
 * batch of a map while JavaScript formats the current one (a dump's two halves, which otherwise
 * take turns on one CPU).
 *
 * A reader owns everything the in-flight syscall touches: a dup of the map's private fd (closing
 * the map in JavaScript cannot make the number mean another file mid-call), and malloc'd key,
 * value and cursor buffers sized here from the kernel's key and value sizes and the batch count.
 * The worker thread writes only those; JavaScript memory is written by batchReaderFinish alone,
 * on the JavaScript thread, after the worker is done, into buffers whose lengths it has just
 * checked. Only plain lookups run ahead: a lookup-and-delete would delete entries nobody has
 * seen yet if its consumer stopped early.
 *
 * States (guarded by `lock`): IDLE -start-> QUEUED -worker-> RUNNING -worker-> DONE -finish->
 * IDLE. One batch at a time; the cursor advances in the worker after a batch that succeeded.
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
/* The worker only makes one syscall: a small stack is plenty. */
#define WORKER_STACK (64 * 1024)

enum { IDLE, QUEUED, RUNNING, DONE };

typedef struct {
  napi_env env;
  int fd;                   /* our dup of the map's private fd; -1 once released */
  uint32_t key_size;
  uint32_t wire_value_size; /* bytes the kernel writes per value (all CPUs for per-CPU maps) */
  uint32_t cursor_size;     /* max(key_size, 4): a key (arrays) or a bucket index (hashes) */
  uint32_t capacity;        /* entries per batch; the buffers hold this many */
  uint8_t *keys;
  uint8_t *values;
  uint8_t *in_cursor;
  uint8_t *out_cursor;
  int started;              /* a batch succeeded: in_cursor is where the next one continues */
  int at_end;               /* the kernel said ENOENT: the map is read to its end */
  int job_started;          /* JavaScript thread only: start ran, finish has not collected it */

  pthread_mutex_t lock;
  pthread_cond_t wake;      /* worker waits: a job queued, or stopping */
  pthread_cond_t done;      /* JavaScript waits: the job is done */
  int state;                /* read and written under `lock` only */
  int stopping;
  int thread_started;
  pthread_t thread;
  int rc;                   /* the job's 0 | -errno */
  uint32_t count;           /* the job's count as the kernel left it, at most capacity */

  int released;             /* buffers freed, fd closed, thread joined */
  int hook_registered;
  int sync_ready;           /* lock and conds initialized */
} batch_reader;

/* Runs one batch into the reader's own buffers. Worker thread; touches nothing of JavaScript's. */
static void run_lookup(batch_reader *r) {
  uint8_t attr[56] = {0};
  put_ptr(attr, 0, r->started ? r->in_cursor : NULL);
  put_ptr(attr, 8, r->out_cursor);
  put_ptr(attr, 16, r->keys);
  put_ptr(attr, 24, r->values);
  put_u32(attr, 32, r->capacity);
  put_u32(attr, 36, (uint32_t)r->fd);
  long rc = sys_bpf(CMD_MAP_LOOKUP_BATCH, attr, sizeof(attr));
  int err = rc < 0 ? errno : 0;
  uint32_t count = get_u32(attr, 32);
  r->count = count > r->capacity ? r->capacity : count; /* never more than the buffers hold */
  r->rc = -err;
  if (err == 0) {
    memcpy(r->in_cursor, r->out_cursor, r->cursor_size);
    r->started = 1;
  } else if (err == ENOENT) {
    r->at_end = 1;
  }
}

static void *worker_main(void *arg) {
  batch_reader *r = arg;
  /* Named, so that `top -H` and /proc/PID/task/TID/comm show what it is. */
  pthread_setname_np(pthread_self(), "bpfmap-batch");
  pthread_mutex_lock(&r->lock);
  for (;;) {
    while (r->state != QUEUED && !r->stopping) pthread_cond_wait(&r->wake, &r->lock);
    if (r->stopping) break; /* a queued job nobody will collect is dropped */
    r->state = RUNNING;
    pthread_mutex_unlock(&r->lock);
    run_lookup(r);
    pthread_mutex_lock(&r->lock);
    r->state = DONE;
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

/* Waits for an in-flight job (it ends on its own: one bounded syscall). Call with `lock` held. */
static void wait_job(batch_reader *r) {
  while (r->state == QUEUED || r->state == RUNNING) pthread_cond_wait(&r->done, &r->lock);
}

static void cleanup_hook(void *arg);

/*
 * Waits for the job in flight, stops and joins the worker, closes the fd, frees the buffers.
 * JavaScript thread (close, finalizer, environment teardown). Idempotent; the struct stays.
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
    wait_job(r);
    r->stopping = 1;
    pthread_cond_broadcast(&r->wake);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL);
    r->thread_started = 0;
  }
  if (r->fd >= 0) close(r->fd);
  r->fd = -1;
  free(r->keys); free(r->values); free(r->in_cursor); free(r->out_cursor);
  r->keys = r->values = r->in_cursor = r->out_cursor = NULL;
  r->job_started = 0;
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
 * (Re)allocates the key and value buffers for `capacity` entries: 0 | -ENOMEM (old ones kept).
 * Zeroed: no stale heap bytes could ever reach JavaScript, and valgrind, which cannot see the
 * kernel's writes, sees defined bytes (big callocs are fresh zero pages: no cost).
 */
static int size_buffers(batch_reader *r, uint32_t capacity) {
  size_t keys_size = (size_t)capacity * r->key_size, values_size = (size_t)capacity * r->wire_value_size;
  uint8_t *keys = calloc(1, keys_size ? keys_size : 1);
  uint8_t *values = calloc(1, values_size ? values_size : 1);
  if (!keys || !values) { free(keys); free(values); return -ENOMEM; }
  free(r->keys); free(r->values);
  r->keys = keys;
  r->values = values;
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
    r->released = 1; /* nothing to join */
    close(fd);
    free(r->in_cursor); free(r->out_cursor); free(r->keys); free(r->values); free(r);
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
 * batchReaderStart(reader) -> 0 | -errno. Queues the next batch; returns at once. After the
 * map's end (an ENOENT), the next batch is an immediate ENOENT with no entries.
 */
static napi_value reader_start(napi_env env, napi_callback_info info) {
  ARGS(1);
  batch_reader *r = arg_reader(env, argv[0], "batchReaderStart");
  if (!r) return NULL;
  if (r->job_started) THROW_CODE(env, "ERR_BPFMAP_BATCH", "batchReaderStart: a batch is already started; call batchReaderFinish first");
  if (!r->at_end && !r->thread_started) {
    int rc = start_worker(r);
    if (rc < 0) return num(env, rc);
  }
  pthread_mutex_lock(&r->lock);
  if (r->at_end) {
    /* Nothing to ask the kernel: the worker is idle, the answer is ready. */
    r->rc = -ENOENT;
    r->count = 0;
    r->state = DONE;
  } else {
    r->state = QUEUED;
    pthread_cond_broadcast(&r->wake);
  }
  pthread_mutex_unlock(&r->lock);
  r->job_started = 1;
  return num(env, 0);
}

/*
 * batchReaderFinish(reader, keys, values, countOut) -> 0 | -errno of the batch. Waits for the
 * started batch, then copies its entries into keys (capacity * keySize bytes at least) and values
 * (capacity * valueStride), and its count into countOut[0], as mapBatch does. Buffers too small:
 * a RangeError, nothing written, the batch still there for a call with the right buffers.
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
  if (!r->job_started) THROW_CODE(env, "ERR_BPFMAP_BATCH", "batchReaderFinish: no batch started");
  /* The capacity cannot change while a batch is started (resize needs an idle reader). */
  if (keys_len < (uint64_t)r->capacity * r->key_size || values_len < (uint64_t)r->capacity * r->wire_value_size || count_out_len < 4) {
    snprintf(message, sizeof(message), "batchReaderFinish: buffers must hold %u keys of %u bytes, %u values of %u bytes and a u32 count",
             r->capacity, r->key_size, r->capacity, r->wire_value_size);
    napi_throw_range_error(env, "ERR_BPFMAP_BATCH", message);
    return NULL;
  }
  pthread_mutex_lock(&r->lock);
  wait_job(r);
  r->state = IDLE;
  pthread_mutex_unlock(&r->lock);
  r->job_started = 0;
  memcpy(keys, r->keys, (size_t)r->count * r->key_size);
  memcpy(values, r->values, (size_t)r->count * r->wire_value_size);
  memcpy(count_out, &r->count, 4);
  return num(env, r->rc);
}

/*
 * batchReaderResize(reader, capacity) -> 0 | -ENOMEM. New buffers for `capacity` entries per
 * batch (a hash bucket that did not fit: ENOSPC), keeping the cursor. Only between batches.
 */
static napi_value reader_resize(napi_env env, napi_callback_info info) {
  ARGS(2);
  batch_reader *r = arg_reader(env, argv[0], "batchReaderResize");
  if (!r) return NULL;
  uint32_t capacity;
  if (!arg_capacity(env, argv[1], r, &capacity, "batchReaderResize")) return NULL;
  if (r->job_started) THROW_CODE(env, "ERR_BPFMAP_BATCH", "batchReaderResize: a batch is started; call batchReaderFinish first");
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
