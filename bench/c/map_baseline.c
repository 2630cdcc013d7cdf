/*
 * C baseline for bench/map.ts: the same operations through libbpf, on a map of its own.
 * Usage: map_baseline get|get-touch|set|batch N ENTRIES
 *   get/set: N lookups/updates over ENTRIES keys of a hash map (u32 key, u64 value)
 *   get-touch: like get, but touches 64 pages between lookups, as a program with a working set
 *     the size of a JavaScript engine's does. On a kernel with page-table isolation and no PCID,
 *     every syscall flushes the TLB, so this is what the working set costs per syscall.
 *   batch:   fill ENTRIES entries, then read them all N times with bpf_map_lookup_batch (4096/call)
 * Prints one JSON line: {"op":..., "ops":..., "seconds":..., "cpuSeconds":...} (wall time, and
 * this thread's CPU time, which a shared machine's other load disturbs less).
 */
#include <bpf/bpf.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double thread_cpu(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: %s get|set|batch N ENTRIES\n", argv[0]); return 2; }
  const char *op = argv[1];
  long n = atol(argv[2]);
  uint32_t entries = (uint32_t)atol(argv[3]);
  int fd = bpf_map_create(BPF_MAP_TYPE_HASH, "baseline", 4, 8, entries, NULL);
  if (fd < 0) { perror("bpf_map_create"); return 1; }
  uint64_t value = 0;
  for (uint32_t k = 0; k < entries; k++) {
    value = k;
    if (bpf_map_update_elem(fd, &k, &value, BPF_ANY)) { perror("fill"); return 1; }
  }
  double start = now();
  double cpu_start = thread_cpu();
  long ops = 0;
  if (strcmp(op, "get") == 0) {
    for (long i = 0; i < n; i++) {
      uint32_t k = (uint32_t)(i % entries);
      if (bpf_map_lookup_elem(fd, &k, &value)) { perror("lookup"); return 1; }
    }
    ops = n;
  } else if (strcmp(op, "get-touch") == 0) {
    enum { TOUCHED_PAGES = 64 };
    volatile char *pages = calloc(TOUCHED_PAGES, 4096);
    for (long i = 0; i < n; i++) {
      uint32_t k = (uint32_t)(i % entries);
      if (bpf_map_lookup_elem(fd, &k, &value)) { perror("lookup"); return 1; }
      for (int p = 0; p < TOUCHED_PAGES; p++) pages[p * 4096] += 1;
    }
    ops = n;
  } else if (strcmp(op, "set") == 0) {
    for (long i = 0; i < n; i++) {
      uint32_t k = (uint32_t)(i % entries);
      value = (uint64_t)i;
      if (bpf_map_update_elem(fd, &k, &value, BPF_ANY)) { perror("update"); return 1; }
    }
    ops = n;
  } else if (strcmp(op, "batch") == 0) {
    const uint32_t batch = 4096;
    uint32_t *keys = malloc(sizeof(uint32_t) * batch);
    uint64_t *values = malloc(sizeof(uint64_t) * batch);
    uint32_t in = 0, out = 0;
    for (long round = 0; round < n; round++) {
      void *in_batch = NULL;
      for (;;) {
        uint32_t count = batch;
        int rc = bpf_map_lookup_batch(fd, in_batch, &out, keys, values, &count, NULL);
        ops += count;
        if (rc && errno == ENOENT) break;
        if (rc) { perror("lookup_batch"); return 1; }
        in = out;
        in_batch = &in;
      }
    }
  } else {
    fprintf(stderr, "unknown op %s\n", op);
    return 2;
  }
  double seconds = now() - start;
  double cpu_seconds = thread_cpu() - cpu_start;
  printf("{\"op\":\"%s\",\"ops\":%ld,\"seconds\":%.6f,\"cpuSeconds\":%.6f}\n", op, ops, seconds, cpu_seconds);
  close(fd);
  return 0;
}
