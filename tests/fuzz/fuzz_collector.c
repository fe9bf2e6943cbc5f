/* libFuzzer harness of the collector: the input is a record stream, fed in
 * pseudo-random chunks (chosen from a hash of the input, so a crash replays
 * exactly) to a collector that writes a fresh store, then finished and closed.
 * Covers the parser, the process mirror, interning, the reorder window, span
 * derivation and the store. The stack mode, depth, batch size and reorder
 * window also come from the hash. Built by tests/fuzz/fuzz.mk. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector/collector.h"
#include "tests/fuzz/fuzz_targets.h"

static char dir[4096], db_path[4200];
static FILE *dev_null; /* the saved stream, for half of the inputs */

static void remove_db(void) {
  static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
  char p[4300];
  for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
    snprintf(p, sizeof p, "%s%s", db_path, suffixes[i]);
    unlink(p);
  }
}

static void cleanup(void) {
  remove_db();
  rmdir(dir);
  if (dev_null)
    fclose(dev_null);
}

/* The temporary directory of this process's store, made on first use. */
static void make_temp_store_path(void) {
  if (db_path[0])
    return;
  /* tmpfs when there is one: the store is rewritten for every input */
  const char *tmp = getenv("TMPDIR");
  if (!tmp)
    tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  snprintf(dir, sizeof dir, "%s/spantap-fuzz-XXXXXX", tmp);
  if (!mkdtemp(dir)) {
    fprintf(stderr, "fuzz_collector: Failed to create temporary directory: path=%s errno=%s\n", dir,
            strerror(errno));
    abort();
  }
  snprintf(db_path, sizeof db_path, "%s/fuzz.db", dir);
  dev_null = fopen("/dev/null", "we");
  atexit(cleanup);
}

static uint64_t hash(const uint8_t *p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < n; i++)
    h = (h ^ p[i]) * 0x100000001b3ULL;
  return h ^ (h >> 29);
}

static uint64_t next_rand(uint64_t *s) { /* xorshift64 */
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static void broken(const char *what, const char *err) {
  fprintf(stderr, "fuzz_collector: %s: %s\n", what, err);
  abort();
}

int spantap_fuzz_collector(const uint8_t *data, size_t size) {
  make_temp_store_path();
  uint64_t h = hash(data, size), rnd = h | 1;
  struct spantap_collector_opts opts = {
      .live = false,
      .stack_mode = (unsigned)(h % 5),
      .stack_depth = 1 + (unsigned)((h >> 8) % SPANTAP_MAX_FRAMES),
      .batch_records = 1 + (unsigned)((h >> 16) % 64),
      .save_stream = (h >> 24) & 1 ? dev_null : NULL,
      /* half of the inputs: a reorder window small enough to overflow */
      .reorder_window_ns = (h >> 25) & 1 ? 0 : 1 + (int64_t)((h >> 26) % 1000),
      .reorder_max_events = (h >> 36) & 1 ? 0 : 1 + (size_t)((h >> 37) % 32),
  };
  char err[1024] = "";
  struct spantap_store *store;
  if (spantap_store_open(db_path, true, &store, err, sizeof err) < 0)
    broken("Failed to open the store", err);
  struct spantap_collector *c;
  if (spantap_collector_new(store, NULL, &opts, &c) < 0)
    broken("Failed to create the collector", "out of memory");
  const char *buf = (const char *)data;
  size_t off = 0;
  int rc = 0;
  while (rc == 0 && off < size) {
    uint64_t r = next_rand(&rnd);
    size_t chunk = r % 4 == 0 ? 1 + (size_t)(r >> 8) % 4096 : 1 + (size_t)(r >> 8) % 64;
    if (chunk > size - off)
      chunk = size - off;
    rc = spantap_collector_feed(c, buf + off, chunk, err, sizeof err);
    off += chunk;
  }
  /* The only stream a collector refuses is one of another record format
   * version; anything else failing to store is a bug of the collector. */
  if (rc < 0 && !strstr(err, "record format"))
    broken("feed failed", err);
  if (rc == 0 && spantap_collector_finish(c, err, sizeof err) < 0)
    broken("finish failed", err);
  const struct spantap_collector_stats *s = spantap_collector_stats(c);
  if (s->malformed > s->lines)
    broken("counters", "more malformed lines than lines");
  spantap_collector_destroy(c);
  if (rc == 0) {
    if (spantap_store_close(store, err, sizeof err) < 0)
      broken("close failed", err);
  } else {
    spantap_store_destroy(store);
  }
  if (opts.save_stream)
    fflush(opts.save_stream);
  remove_db();
  return 0;
}

#ifndef SPANTAP_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return spantap_fuzz_collector(data, size);
}
#endif
