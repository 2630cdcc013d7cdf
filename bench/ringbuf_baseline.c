/*
 * The C baseline of bench/events.ts: a consumer using libbpf's ring_buffer__poll. The callback
 * does what the JavaScript one does: reads the record's first field.
 *
 * usage:
 *   ringbuf_baseline drain MAP_PIN PROG_PIN COUNT ROUNDS
 *     each round runs the pinned producer (BPF_PROG_TEST_RUN, COUNT/64 times) to leave a backlog
 *     of COUNT records, then times draining it. Round 0 reads through a fresh mapping (page
 *     faults included), later rounds through a warm one. Prints {"seconds":[S0,S1,...]}.
 *   ringbuf_baseline live MAP_PIN COUNT
 *     prints "ready", then consumes while another process produces, until COUNT records have
 *     arrived (or a second passes with none); times from the first record's callback to the
 *     return of the poll that delivered the last.
 *     Prints {"records":N,"seconds":S,"sum":X}.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct totals {
  uint64_t records;
  uint64_t sum;
  double first;
  double last;
  int live;
};

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int on_record(void *context, void *data, size_t size) {
  struct totals *totals = context;
  (void)size;
  if (totals->live && totals->records == 0) totals->first = now();
  totals->records++;
  totals->sum += *(const uint32_t *)data;
  return 0;
}

/*
 * Polls until `expected` records have arrived, or a second passes with none. A poll can return 0
 * before its timeout: woken for a record that is still being written (BUSY).
 */
static int drain(struct ring_buffer *rb, struct totals *totals, uint64_t expected) {
  double progress = now();
  while (totals->records < expected) {
    int n = ring_buffer__poll(rb, 1000);
    if (n < 0) { fprintf(stderr, "ring_buffer__poll: %d\n", n); return -1; }
    double t = now();
    if (n == 0 && t - progress >= 1) break;
    if (n == 0) continue;
    progress = t;
    if (totals->live) totals->last = t;
  }
  return 0;
}

int main(int argc, char **argv) {
  int live = argc == 4 && strcmp(argv[1], "live") == 0;
  if (!live && !(argc == 6 && strcmp(argv[1], "drain") == 0)) {
    fprintf(stderr, "usage: %s drain MAP_PIN PROG_PIN COUNT ROUNDS | live MAP_PIN COUNT\n", argv[0]);
    return 2;
  }
  int fd = bpf_obj_get(argv[2]);
  if (fd < 0) { perror("bpf_obj_get"); return 1; }
  struct totals totals = {0, 0, 0, 0, live};
  struct ring_buffer *rb = ring_buffer__new(fd, on_record, &totals, NULL);
  if (!rb) { perror("ring_buffer__new"); return 1; }

  if (live) {
    uint64_t expected = strtoull(argv[3], NULL, 10);
    printf("ready\n");
    fflush(stdout);
    if (drain(rb, &totals, expected) < 0) return 1;
    printf("{\"records\":%llu,\"seconds\":%.6f,\"sum\":%llu}\n", (unsigned long long)totals.records,
           totals.last - totals.first, (unsigned long long)totals.sum);
  } else {
    int prog = bpf_obj_get(argv[3]);
    if (prog < 0) { perror("bpf_obj_get(prog)"); return 1; }
    uint64_t expected = strtoull(argv[4], NULL, 10);
    int rounds = atoi(argv[5]);
    unsigned char packet[64] = {0};
    printf("{\"seconds\":[");
    for (int round = 0; round < rounds; round++) {
      LIBBPF_OPTS(bpf_test_run_opts, run, .data_in = packet, .data_size_in = sizeof(packet),
                  .repeat = (unsigned)(expected / 64));
      if (bpf_prog_test_run_opts(prog, &run) < 0) { perror("bpf_prog_test_run_opts"); return 1; }
      totals.records = 0;
      double start = now();
      if (drain(rb, &totals, expected) < 0) return 1;
      double seconds = now() - start;
      if (totals.records != expected) {
        fprintf(stderr, "round %d: %llu of %llu records\n", round, (unsigned long long)totals.records,
                (unsigned long long)expected);
        return 1;
      }
      printf("%s%.6f", round ? "," : "", seconds);
    }
    printf("],\"sum\":%llu}\n", (unsigned long long)totals.sum);
  }
  ring_buffer__free(rb);
  return 0;
}
