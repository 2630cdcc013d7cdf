/*
 * The C baseline of bench/events.ts: drains a pinned ring buffer map with libbpf's
 * ring_buffer__poll until `count` records have arrived (or a second passes with none), then
 * prints {"records":N,"seconds":S,"sum":X}. The callback does what the JavaScript one does:
 * reads the record's first field.
 *
 * usage: ringbuf_baseline PIN_PATH COUNT
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct totals {
  uint64_t records;
  uint64_t sum;
};

static int on_record(void *context, void *data, size_t size) {
  struct totals *totals = context;
  (void)size;
  totals->records++;
  totals->sum += *(const uint32_t *)data;
  return 0;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s PIN_PATH COUNT\n", argv[0]);
    return 2;
  }
  uint64_t expected = strtoull(argv[2], NULL, 10);
  int fd = bpf_obj_get(argv[1]);
  if (fd < 0) { perror("bpf_obj_get"); return 1; }
  struct totals totals = {0, 0};
  struct ring_buffer *rb = ring_buffer__new(fd, on_record, &totals, NULL);
  if (!rb) { perror("ring_buffer__new"); return 1; }
  double start = now();
  while (totals.records < expected) {
    int n = ring_buffer__poll(rb, 1000);
    if (n < 0) { fprintf(stderr, "ring_buffer__poll: %d\n", n); return 1; }
    if (n == 0) break;
  }
  double seconds = now() - start;
  printf("{\"records\":%llu,\"seconds\":%.6f,\"sum\":%llu}\n", (unsigned long long)totals.records, seconds,
         (unsigned long long)totals.sum);
  ring_buffer__free(rb);
  return 0;
}
