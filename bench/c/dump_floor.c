/*
 * The kernel's share of a dump, for bench/cli.ts: reads every entry of a pinned map with
 * bpf_map_lookup_batch, as many entries per call as `bpfmap dump` asks for, and formats nothing.
 * Usage: dump_floor PINNED_PATH BATCH_ENTRIES KEY_SIZE VALUE_SIZE
 * Prints one JSON line: {"entries":..., "seconds":...} (the batch calls alone, after the open).
 */
#include <bpf/bpf.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc != 5) { fprintf(stderr, "usage: %s PINNED_PATH BATCH_ENTRIES KEY_SIZE VALUE_SIZE\n", argv[0]); return 2; }
  int fd = bpf_obj_get(argv[1]);
  if (fd < 0) { perror("bpf_obj_get"); return 1; }
  uint32_t batch = (uint32_t)atol(argv[2]);
  size_t keySize = (size_t)atol(argv[3]), valueSize = (size_t)atol(argv[4]);
  char *keys = malloc(keySize * batch), *values = malloc(valueSize * batch);
  /* The cursor of a hash map's batches is a bucket index: 4 bytes whatever the key size. */
  uint64_t in = 0, out = 0;
  uint64_t total = 0;
  double start = now();
  for (void *cursor = NULL;; cursor = &in) {
    uint32_t count = batch;
    int rc = bpf_map_lookup_batch(fd, cursor, &out, keys, values, &count, NULL);
    total += count;
    if (rc != 0) {
      if (errno == ENOENT) break;
      perror("bpf_map_lookup_batch");
      return 1;
    }
    in = out;
  }
  printf("{\"entries\":%llu,\"seconds\":%.6f}\n", (unsigned long long)total, now() - start);
  return 0;
}
