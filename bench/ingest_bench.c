/* Collector ingest benchmark: builds a large synthetic record stream whose
 * stacks point into this very binary (so symbolization is real), then times
 * (a) parsing alone, the baseline, and (b) the full collector: parse,
 * symbolize (cache hits after the first frames), intern and write SQLite.
 * Prints events/s for both and their ratio. Usage: ingest_bench [EVENTS] */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "collector/collector.h"
#include "collector/proc_mirror.h"
#include "collector/stream_parse.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct text_map {
  uint64_t start, end, pgoff;
  char path[4096];
};

static int find_text(const struct spantap_maps_entry *e, void *ctx) {
  struct text_map *t = ctx;
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0 && e->perms[2] == 'x' && !t->start) {
    self[n] = '\0';
    if (strcmp(e->path, self) == 0) {
      t->start = e->start;
      t->end = e->end;
      t->pgoff = e->pgoff;
      snprintf(t->path, sizeof t->path, "%s", e->path);
    }
  }
  return 0;
}

int main(int argc, char **argv) {
  long events = argc > 1 ? atol(argv[1]) : 1000000;
  struct text_map t = {0};
  spantap_proc_maps_read(getpid(), find_text, &t);
  if (!t.start) {
    fprintf(stderr, "ingest_bench: cannot find its own text mapping\n");
    return 1;
  }
  /* the stream: 64 distinct call sites, 8 processes, syscalls and netcalls */
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  fprintf(f, "BEGIN %d 0 4 8 bpf\n", SPANTAP_RECORD_FORMAT_VERSION);
  for (int p = 0; p < 8; p++) {
    fprintf(f, "MAP 1 %d 0 0 0 0 %s\n", 1000 + p, t.path);
    fprintf(f, "MAP 1 %d %" PRIu64 " %" PRIu64 " %" PRIu64 " 1 r-xp %s\n", 1000 + p, t.start, t.end,
            t.pgoff, t.path);
  }
  for (int k = 0; k < 16; k++)
    fprintf(f, "SOCK 1 1000 %d 2 6 8080 %d 0 16777343 0 16777343\n", 99990 + k, 40000 + k);
  uint64_t span = t.end - t.start;
  for (long i = 0; i < events; i++) {
    int pid = 1000 + (int)(i % 8);
    uint64_t a = t.start + (uint64_t)(i % 64) * (span / 70) + 16;
    uint64_t b = t.start + (uint64_t)((i / 64) % 4) * (span / 5) + 32;
    if (i % 4 == 0)
      fprintf(f, "NC %ld 900 %d %d 0 100 5 0 0 %ld @0,%" PRIx64 ",%" PRIx64 ",0\n", i * 10, pid,
              pid, 99990 + i % 16, a, b);
    else
      fprintf(f, "SC %ld 250 %d %d 39 %d 0 0 0 @0,%" PRIx64 ",%" PRIx64 ",0\n", i * 10, pid, pid,
              pid, a, b);
  }
  fprintf(f, "END 1\n");
  fclose(f);

  /* (a) baseline: parse only */
  double t0 = now_s();
  size_t parsed = 0;
  for (char *p = buf, *end = buf + len; p < end;) {
    char *nl = memchr(p, '\n', (size_t)(end - p));
    struct spantap_record r;
    const char *why;
    if (spantap_record_parse(p, (size_t)(nl - p), &r, &why) == 0)
      parsed++;
    p = nl + 1;
  }
  double parse_s = now_s() - t0;

  /* (b) the collector, into a real database */
  char db[64];
  snprintf(db, sizeof db, "/tmp/spantap-bench-%d.db", (int)getpid());
  char err[512];
  struct spantap_store *store;
  if (spantap_store_open(db, true, &store, err, sizeof err) < 0) {
    fprintf(stderr, "ingest_bench: %s\n", err);
    return 1;
  }
  struct spantap_symbolizer *sym = spantap_symbolizer_new();
  struct spantap_collector_opts o = {.stack_mode = 4, .stack_depth = 8};
  struct spantap_collector *c;
  spantap_collector_new(store, sym, &o, &c);
  t0 = now_s();
  for (size_t off = 0; off < len; off += 65536)
    if (spantap_collector_feed(c, buf + off, off + 65536 > len ? len - off : 65536, err,
                               sizeof err) < 0) {
      fprintf(stderr, "ingest_bench: %s\n", err);
      return 1;
    }
  spantap_collector_finish(c, err, sizeof err);
  double stream_s = now_s() - t0;
  spantap_store_close(store, err, sizeof err); /* builds the indexes */
  double ingest_s = now_s() - t0;
  const struct spantap_collector_stats *s = spantap_collector_stats(c);
  printf("ingest_bench: %ld events, %.1f MB of stream\n", events, len / 1e6);
  printf("  parse only (baseline): %10.0f events/s\n", parsed / parse_s);
  printf("  full collector:        %10.0f events/s  (%.2fx the parse-only time; %" PRIu64
         " frames, %" PRIu64 " stacks symbolized)\n",
         events / ingest_s, ingest_s / parse_s, s->frames, s->stacks);
  printf("  of which: streaming %.2f s (%.0f events/s), closing with index build %.2f s\n",
         stream_s, events / stream_s, ingest_s - stream_s);
  printf("  target: >= 500000 events/s -> %s\n", events / ingest_s >= 500000 ? "met" : "NOT met");
  spantap_collector_destroy(c);
  spantap_symbolizer_destroy(sym);
  unlink(db);
  free(buf);
  return 0;
}
