/*
 * Event sources: epoll, BPF_OUTPUT perf events, and async waits on fds (libuv poll handles).
 */
#include "common.h"

#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <uv.h>

/* ---------- epoll ---------- */

/* epollCreate() -> epoll handle | -errno */
static napi_value epoll_create_js(napi_env env, napi_callback_info info) {
  (void)info;
  return obj_from_result(env, KIND_EPOLL, epoll_create1(EPOLL_CLOEXEC));
}

/* epollCtl(epoll, op, target, events, data) -> 0 | -errno. op: 1 add, 2 del, 3 mod; target any handle. */
static napi_value epoll_ctl_js(napi_env env, napi_callback_info info) {
  ARGS(5);
  obj_handle *ep = arg_object(env, argv[0], KIND_EPOLL, "epollCtl: epoll");
  if (!ep) return NULL;
  obj_handle *target = arg_object(env, argv[2], KIND_ANY_FD, "epollCtl: target");
  if (!target) return NULL;
  uint32_t op, events, data;
  if (!arg_u32(env, argv[1], &op) || op < 1 || op > 3 || !arg_u32(env, argv[3], &events) || !arg_u32(env, argv[4], &data)) THROW(env, "epollCtl: bad arguments");
  struct epoll_event ev = {0};
  ev.events = events;
  ev.data.u32 = data;
  return num(env, epoll_ctl(ep->fd, (int)op, target->fd, &ev) < 0 ? -errno : 0);
}

/* epollWait(epoll, out Uint32Array, timeoutMs) -> n | -errno. out receives the data of each ready fd. */
static napi_value epoll_wait_js(napi_env env, napi_callback_info info) {
  ARGS(3);
  obj_handle *ep = arg_object(env, argv[0], KIND_EPOLL, "epollWait: epoll");
  if (!ep) return NULL;
  int64_t timeout;
  uint8_t *out;
  size_t olen;
  if (!arg_bytes(env, argv[1], &out, &olen) || !arg_i64(env, argv[2], &timeout) || timeout < -1 || timeout > INT32_MAX) THROW(env, "epollWait: bad arguments");
  size_t max = olen / 4;
  if (max == 0) THROW(env, "epollWait: out must hold at least one u32");
  if (max > 64) max = 64;
  struct epoll_event evs[64];
  int n = epoll_wait(ep->fd, evs, (int)max, (int)timeout);
  if (n < 0) return num(env, -errno);
  for (int i = 0; i < n; i++) memcpy(out + 4 * i, &evs[i].data.u32, 4);
  return num(env, n);
}

/* ---------- events (perf_event_open, async waits) ---------- */


/* pageSize() -> bytes of a page (ring buffer and perf buffer layouts are in pages). */
static napi_value page_size_js(napi_env env, napi_callback_info info) {
  (void)info;
  long size = sysconf(_SC_PAGESIZE);
  return num(env, size < 0 ? -errno : (double)size);
}

/*
 * perfEventOpen(cpu, wakeupEvents, sampleTime) -> fd | -errno. A PERF_COUNT_SW_BPF_OUTPUT event
 * on one CPU, any process, sampling PERF_SAMPLE_RAW (and PERF_SAMPLE_TIME when asked): the target
 * bpf_perf_event_output() writes to once its fd is stored in a perf_event_array. Every field
 * comes from here; JavaScript picks only the CPU, how many samples wake a poller, and whether
 * samples carry a time.
 */
static napi_value perf_event_open_js(napi_env env, napi_callback_info info) {
  ARGS(3);
  uint32_t cpu, wakeup;
  bool sample_time;
  if (!arg_u32(env, argv[0], &cpu) || cpu > INT32_MAX) THROW(env, "perfEventOpen: cpu must be a non-negative integer");
  if (!arg_u32(env, argv[1], &wakeup) || wakeup == 0) THROW(env, "perfEventOpen: wakeupEvents must be a positive integer");
  if (napi_get_value_bool(env, argv[2], &sample_time) != napi_ok) THROW(env, "perfEventOpen: sampleTime must be a boolean");
  struct perf_event_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.size = sizeof(attr);
  attr.type = PERF_TYPE_SOFTWARE;
  attr.config = PERF_COUNT_SW_BPF_OUTPUT;
  attr.sample_type = PERF_SAMPLE_RAW | (sample_time ? PERF_SAMPLE_TIME : 0);
  attr.sample_period = 1;
  attr.wakeup_events = wakeup;
  return obj_from_result(env, KIND_PERF_EVENT, syscall(__NR_perf_event_open, &attr, -1, (int)cpu, -1, PERF_FLAG_FD_CLOEXEC));
}

/* perfEventEnable(perfEvent) -> 0 | -errno */
static napi_value perf_event_enable_js(napi_env env, napi_callback_info info) {
  ARGS(1);
  obj_handle *h = arg_object(env, argv[0], KIND_PERF_EVENT, "perfEventEnable");
  if (!h) return NULL;
  return num(env, ioctl(h->fd, PERF_EVENT_IOC_ENABLE, 0) < 0 ? -errno : 0);
}

/*
 * Async waits: a libuv poll handle on one fd, armed one-shot by watchStart() and disarmed before
 * its callback runs, so that a ready fd nobody is reading never spins the loop, and an idle
 * watcher never keeps the process alive. The JavaScript object holds a box that outlives the
 * watcher, so a closed or collected watcher is never touched again.
 *
 * Latched watchers (for perf event fds) are polled for their whole life instead: a perf event's
 * poll() returns its readiness once and clears it (perf_poll: xchg(&rb->poll, 0)), and
 * epoll_ctl ADD/MOD polls the fd, so re-registering a one-shot handle after a wakeup would spend
 * that wakeup and never report it. A latched handle is registered once; a readiness event while
 * nobody waits is latched here (no JavaScript runs) and reported by the next watchStart(); the
 * handle is unreferenced unless armed, so it does not keep the process alive. Such fds do not
 * stay ready, so the persistent handle does not spin the loop.
 */
typedef struct fd_watcher fd_watcher;
typedef struct { fd_watcher *watcher; } watcher_box;

struct fd_watcher {
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;        /* strong only while armed */
  napi_async_context async;
  watcher_box *box;
  obj_handle *obj;          /* the watched object: referenced, and its fd held open, until closed */
  int armed;
  int latched;              /* persistent handle: readiness while disarmed sets `pending` */
  int pending;
  int polling;              /* uv_poll_start succeeded and no error stopped it since */
};

static void watcher_freed(uv_handle_t *handle) {
  free(handle->data);
}

static void watcher_cleanup_hook(void *arg);

/* Stops and releases a watcher; the memory goes once libuv has closed the handle. */
static void watcher_close(fd_watcher *w, int from_cleanup_hook) {
  if (w->box) w->box->watcher = NULL;
  w->box = NULL;
  uv_poll_stop(&w->poll);
  if (!from_cleanup_hook) napi_remove_env_cleanup_hook(w->env, watcher_cleanup_hook, w);
  if (w->callback) { napi_delete_reference(w->env, w->callback); w->callback = NULL; }
  if (w->async) { napi_async_destroy(w->env, w->async); w->async = NULL; }
  uv_close((uv_handle_t *)&w->poll, watcher_freed);
  /* Only now may the fd close: uv_close took the fd out of libuv's epoll set by number. */
  if (w->obj) {
    obj_release_fd(w->obj);
    obj_unref(w->obj);
    w->obj = NULL;
  }
}

static void watcher_cleanup_hook(void *arg) { watcher_close(arg, 1); }

static void box_finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  watcher_box *box = data;
  if (box->watcher) watcher_close(box->watcher, 0);
  free(box);
}

static void watcher_disarm(fd_watcher *w) {
  if (!w->armed) return;
  w->armed = 0;
  if (w->latched) uv_unref((uv_handle_t *)&w->poll);
  else uv_poll_stop(&w->poll);
  uint32_t count;
  napi_reference_unref(w->env, w->callback, &count);
}

static void watcher_on_event(uv_poll_t *poll, int status, int events) {
  fd_watcher *w = poll->data;
  napi_env env = w->env;
  if (w->latched && status < 0) {
    /* An error repeats on every loop turn: stop polling; this event is reported, then -EIO. */
    uv_poll_stop(&w->poll);
    w->polling = 0;
  }
  if (!w->armed) {
    w->pending = 1;
    return;
  }
  watcher_disarm(w);
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value callback = NULL, recv, argv[2];
  napi_get_reference_value(env, w->callback, &callback);
  if (callback != NULL) {
    napi_get_global(env, &recv); /* make_callback needs an object receiver */
    argv[0] = num(env, status);
    argv[1] = num(env, events);
    /* make_callback, not call_function: promises resolved in the callback settle right away. */
    if (napi_make_callback(env, w->async, recv, callback, 2, argv, NULL) == napi_pending_exception) {
      napi_value error;
      napi_get_and_clear_last_exception(env, &error);
      napi_fatal_exception(env, error);
    }
  }
  napi_close_handle_scope(env, scope);
}

/* The watcher box v is, or NULL after throwing ERR_BPFMAP_HANDLE. */
static watcher_box *arg_watcher(napi_env env, napi_value v, const char *what) {
  watcher_box *box = tagged_external(env, v, KIND_WATCHER);
  if (box == NULL) {
    char message[96];
    snprintf(message, sizeof(message), "%s: expected a watcher from watchFd", what);
    napi_throw_type_error(env, "ERR_BPFMAP_HANDLE", message);
  }
  return box;
}

/*
 * watchFd(handle, callback(status, events), latched) -> watcher | -errno. The watcher keeps the
 * handle's fd open (objClose defers the close) until watchClose. `latched`: poll readability for
 * the watcher's whole life (see above).
 */
static napi_value watch_fd_js(napi_env env, napi_callback_info info) {
  ARGS(3);
  bool latched;
  napi_valuetype type;
  obj_handle *h = arg_object(env, argv[0], KIND_ANY_FD, "watchFd");
  if (!h) return NULL;
  if (napi_typeof(env, argv[1], &type) != napi_ok || type != napi_function) THROW(env, "watchFd: callback must be a function");
  if (napi_get_value_bool(env, argv[2], &latched) != napi_ok) THROW(env, "watchFd: latched must be a boolean");
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) THROW(env, "watchFd: no event loop");
  fd_watcher *w = calloc(1, sizeof(*w));
  watcher_box *box = calloc(1, sizeof(*box));
  if (!w || !box) { free(w); free(box); return num(env, -ENOMEM); }
  int rc = uv_poll_init(loop, &w->poll, h->fd);
  if (rc < 0) { free(w); free(box); return num(env, rc); }
  w->obj = h;
  obj_ref(h);
  obj_hold_fd(h);
  w->poll.data = w;
  w->env = env;
  w->box = box;
  box->watcher = w;
  napi_value name, ext;
  napi_create_string_utf8(env, "bpfmap:EventWait", NAPI_AUTO_LENGTH, &name);
  if (napi_create_reference(env, argv[1], 0, &w->callback) != napi_ok ||
      napi_async_init(env, NULL, name, &w->async) != napi_ok ||
      (ext = make_tagged_external(env, box, KIND_WATCHER, box_finalize, NULL)) == NULL) {
    box->watcher = NULL;
    free(box);
    watcher_close(w, 1);
    THROW(env, "watchFd: could not create the watcher");
  }
  napi_add_env_cleanup_hook(env, watcher_cleanup_hook, w);
  if (latched) {
    w->latched = 1;
    rc = uv_poll_start(&w->poll, UV_READABLE, watcher_on_event);
    if (rc < 0) {
      /* The box (and with it the watcher) goes when `ext` is collected. */
      return num(env, rc);
    }
    w->polling = 1;
    uv_unref((uv_handle_t *)&w->poll);
  }
  return ext;
}

/*
 * watchStart(watcher, writable) -> 0 | 1 | -errno. Arms for one readiness event (readable, or
 * writable). A latched watcher (readable only) returns 1 instead of arming when readiness was
 * latched since the last event it reported (the caller treats that as ready), and -EIO once an
 * error has stopped its polling.
 */
static napi_value watch_start_js(napi_env env, napi_callback_info info) {
  ARGS(2);
  bool writable;
  watcher_box *box = arg_watcher(env, argv[0], "watchStart");
  if (!box) return NULL;
  if (napi_get_value_bool(env, argv[1], &writable) != napi_ok) THROW(env, "watchStart: writable must be a boolean");
  fd_watcher *w = box->watcher;
  if (!w || w->obj->closed) return num(env, -EBADF);
  if (w->armed) return num(env, 0);
  uint32_t count;
  if (w->latched) {
    if (writable) return num(env, -EINVAL);
    if (w->pending) {
      w->pending = 0;
      return num(env, 1);
    }
    if (!w->polling) return num(env, -EIO);
    uv_ref((uv_handle_t *)&w->poll);
  } else {
    int rc = uv_poll_start(&w->poll, writable ? UV_WRITABLE : UV_READABLE, watcher_on_event);
    if (rc < 0) return num(env, rc);
  }
  napi_reference_ref(env, w->callback, &count);
  w->armed = 1;
  return num(env, 0);
}

/* watchStop(watcher) -> 0. Disarms without closing. */
static napi_value watch_stop_js(napi_env env, napi_callback_info info) {
  ARGS(1);
  watcher_box *box = arg_watcher(env, argv[0], "watchStop");
  if (!box) return NULL;
  if (box->watcher) watcher_disarm(box->watcher);
  return num(env, 0);
}

/* watchClose(watcher) -> 0. Idempotent; releases the watched handle's fd. */
static napi_value watch_close_js(napi_env env, napi_callback_info info) {
  ARGS(1);
  watcher_box *box = arg_watcher(env, argv[0], "watchClose");
  if (!box) return NULL;
  if (box->watcher) watcher_close(box->watcher, 0);
  return num(env, 0);
}


void register_events(napi_env env, napi_value exports, addon_state *state) {
  EXPORT("epollCreate", epoll_create_js);
  EXPORT("epollCtl", epoll_ctl_js);
  EXPORT("epollWait", epoll_wait_js);
  EXPORT("pageSize", page_size_js);
  EXPORT("perfEventOpen", perf_event_open_js);
  EXPORT("perfEventEnable", perf_event_enable_js);
  EXPORT("watchFd", watch_fd_js);
  EXPORT("watchStart", watch_start_js);
  EXPORT("watchStop", watch_stop_js);
  EXPORT("watchClose", watch_close_js);
}
