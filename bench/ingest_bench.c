/* Collector ingest benchmark, no root needed: synthetic passes of the BPF
 * runtime's record queues (SYSCALL and NETCALL keys as the maps hold them,
 * shuffled, on 2 CPUs, with interned 8-frame stacks pointing into this very
 * binary, so symbolization is real) go the way of a live recording: the
 * queue decoder, the map feed's time order, the collector (reorder window,
 * spans, interning) and the SQLite store. Baseline, measured in the same run
 * on the same keys: the decoder alone. Prints records/s while recording
 * (decode to store, without the close), end to end (with the close and its
 * index build), CPU per record, and the peak RSS of a run of N records and of
 * one of 4N (each run in its own process), to show that memory is bounded.
 * Usage: ingest_bench [N] (default 1,000,000). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "collector/collector.h"
#include "collector/map_feed.h"
#include "collector/proc_mirror.h"
#include "collector/queue_decode.h"
#include "collector/stream_parse.h"

#define COOKIE UINT64_C(0x4123456789abcdef)
#define NCPU 2
#define PASS 16384 /* records per pass, as a pass of --buffer-size's default holds */
#define NPROCS 8
#define NSOCKS 16
#define NSITES 256 /* distinct stacks: 64 innermost call sites x 4 callers */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
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

/* The synthetic recording: its queues, stack table and the keys of a pass. */
struct workload {
  struct spantap_queue_set set;
  const struct spantap_queue_desc *sc, *nc;
  struct spantap_stack_table *stacks;
  uint64_t stack_ids[NSITES];
  uint32_t perm[PASS];
  uint64_t *sc_keys, *nc_keys;
  size_t n_sc, n_nc;
  uint64_t sc_next[NCPU], nc_next[NCPU];
};

static uint64_t rnd(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static int workload_init(struct workload *w, const struct text_map *t) {
  memset(w, 0, sizeof *w);
  if (spantap_queue_set_init(&w->set, COOKIE, NCPU, SPANTAP_QUEUE_SCALE_DEFAULT) < 0 ||
      spantap_queue_set_add(&w->set, SPANTAP_REC_SYSCALL, 8, false) < 0 ||
      spantap_queue_set_add(&w->set, SPANTAP_REC_NETCALL, 8, false) < 0)
    return -1;
  w->sc = &w->set.q[0];
  w->nc = &w->set.q[1];
  w->stacks = spantap_stack_table_new();
  uint64_t rows[NSITES * SPANTAP_QUEUE_STACK_ROW_WORDS] = {0};
  uint64_t span = t->end - t->start;
  for (unsigned i = 0; i < NSITES; i++) {
    uint64_t *r = rows + i * SPANTAP_QUEUE_STACK_ROW_WORDS;
    r[2] = t->start + (uint64_t)(i % 64) * (span / 70) + 16;
    r[3] = t->start + (uint64_t)(i / 64) * (span / 5) + 32;
    r[0] = w->stack_ids[i] = spantap_queue_stack_hash(0, r + 2);
  }
  if (!w->stacks || spantap_stack_table_add(w->stacks, rows, NSITES, COOKIE, NULL) < 0)
    return -1;
  uint64_t seed = 88172645463325252ull;
  for (uint32_t i = 0; i < PASS; i++)
    w->perm[i] = i;
  for (uint32_t i = PASS - 1; i > 0; i--) {
    uint32_t j = (uint32_t)(rnd(&seed) % (i + 1)), x = w->perm[i];
    w->perm[i] = w->perm[j];
    w->perm[j] = x;
  }
  w->sc_keys = calloc((size_t)PASS * w->sc->key_words, sizeof *w->sc_keys);
  w->nc_keys = calloc((size_t)PASS * w->nc->key_words, sizeof *w->nc_keys);
  return w->sc_keys && w->nc_keys ? 0 : -1;
}

static void workload_free(struct workload *w) {
  spantap_stack_table_destroy(w->stacks);
  free(w->sc_keys);
  free(w->nc_keys);
}

/* Fills pass P's keys: record i of the recording is a NETCALL when i % 4 == 0,
 * else a SYSCALL; each queue's keys are shuffled as a hash map returns them. */
static void workload_pass(struct workload *w, long p) {
  uint64_t sc_seq[NCPU], nc_seq[NCPU];
  memcpy(sc_seq, w->sc_next, sizeof sc_seq);
  memcpy(nc_seq, w->nc_next, sizeof nc_seq);
  w->n_sc = w->n_nc = 0;
  for (uint32_t k = 0; k < PASS; k++) {
    long i = p * PASS + k;
    unsigned cpu = (unsigned)(i % NCPU);
    int64_t pid = 1000 + i % NPROCS;
    int64_t ts = 1000000000 + i * 10;
    uint64_t stack = w->stack_ids[i % NSITES];
    uint64_t *key;
    if (i % 4 == 0) {
      key = w->nc_keys + (size_t)w->n_nc++ * w->nc->key_words;
      const uint64_t f[] = {SPANTAP_QUEUE_TAG(cpu, nc_seq[cpu]++),
                            (uint64_t)ts,
                            900,
                            (uint64_t)pid,
                            (uint64_t)pid,
                            0,
                            100,
                            5,
                            0,
                            0,
                            (uint64_t)(99990 + i % NSOCKS),
                            0,
                            stack};
      memcpy(key, f, sizeof f);
    } else {
      key = w->sc_keys + (size_t)w->n_sc++ * w->sc->key_words;
      const uint64_t f[] = {SPANTAP_QUEUE_TAG(cpu, sc_seq[cpu]++),
                            (uint64_t)ts,
                            250,
                            (uint64_t)pid,
                            (uint64_t)pid,
                            39,
                            (uint64_t)pid,
                            0,
                            0,
                            0,
                            0,
                            stack};
      memcpy(key, f, sizeof f);
    }
  }
  /* shuffle each queue's keys in place (a permutation restricted to its length) */
  uint64_t tmp[32];
  for (int q = 0; q < 2; q++) {
    uint64_t *keys = q ? w->nc_keys : w->sc_keys;
    size_t n = q ? w->n_nc : w->n_sc, kw = q ? w->nc->key_words : w->sc->key_words;
    for (size_t a = n; a-- > 1;) {
      size_t b = w->perm[a] % (a + 1);
      memcpy(tmp, keys + a * kw, kw * 8);
      memcpy(keys + a * kw, keys + b * kw, kw * 8);
      memcpy(keys + b * kw, tmp, kw * 8);
    }
  }
  memcpy(w->sc_next, sc_seq, sizeof sc_seq);
  memcpy(w->nc_next, nc_seq, sizeof nc_seq);
}

static uint64_t sink;

static int count_only(const struct spantap_record *r, void *ctx) {
  (void)ctx;
  sink += (uint64_t)r->v[0] + r->nframes;
  return 0;
}

static int hold(const struct spantap_record *r, void *ctx) {
  return spantap_map_feed_hold(ctx, r);
}

/* The records a live recording starts with: BEGIN, each process's
 * executable and text mapping, the sockets the NETCALLs use. */
static int hold_preamble(struct spantap_map_feed *feed, const struct text_map *t) {
  char line[8192];
  int n = 0;
  for (int k = 0; k < 1 + 2 * NPROCS + NSOCKS; k++) {
    if (k == 0)
      n = snprintf(line, sizeof line, "BEGIN %d 0 4 8 bpf", SPANTAP_RECORD_FORMAT_VERSION);
    else if (k <= NPROCS)
      n = snprintf(line, sizeof line, "MAP 1 %d 0 0 0 0 %s", 1000 + k - 1, t->path);
    else if (k <= 2 * NPROCS)
      n = snprintf(line, sizeof line, "MAP 1 %d %" PRIu64 " %" PRIu64 " %" PRIu64 " 1 r-xp %s",
                   1000 + k - 1 - NPROCS, t->start, t->end, t->pgoff, t->path);
    else
      n = snprintf(line, sizeof line, "SOCK 1 1000 %d 2 6 8080 %d 0 16777343 0 16777343",
                   99990 + k - 1 - 2 * NPROCS, 40000 + k - 1 - 2 * NPROCS);
    struct spantap_record r;
    const char *why;
    if (spantap_record_parse(line, (size_t)n, &r, &why) < 0) {
      fprintf(stderr, "ingest_bench: bad preamble line %s: %s\n", line, why);
      return -1;
    }
    if (spantap_map_feed_hold(feed, &r) < 0) {
      fprintf(stderr, "ingest_bench: cannot keep preamble line %s: out of memory\n", line);
      return -1;
    }
  }
  return 0;
}

/* What one run measured, sent from its process to the parent. */
struct result {
  long records;
  double decode_s;    /* the decoder alone (baseline) */
  double recording_s; /* decode -> store, without the close */
  double close_s;     /* the store's close: last commit, index build, checkpoint */
  double cpu_s;       /* CPU of the whole run (every thread), close included */
  long peak_rss_kb;
  uint64_t frames, stacks, spans;
};

static int decode_queues(struct workload *w, struct spantap_queue_decoder *dsc,
                         struct spantap_queue_decoder *dnc, spantap_queue_record_fn fn, void *ctx) {
  if (spantap_queue_decode_pass(dsc, w->sc_next, w->sc_keys, w->n_sc, NULL, NULL, 0, w->stacks, fn,
                                ctx) != 0 ||
      spantap_queue_decode_pass(dnc, w->nc_next, w->nc_keys, w->n_nc, NULL, NULL, 0, w->stacks, fn,
                                ctx) != 0)
    return -1;
  return 0;
}

static int run(long records, const struct text_map *t, struct result *out) {
  struct workload w;
  if (workload_init(&w, t) < 0)
    return -1;
  long passes = (records + PASS - 1) / PASS;
  memset(out, 0, sizeof *out);
  out->records = passes * PASS;

  /* baseline: the decoder alone, on the same keys */
  struct spantap_queue_decoder *dsc, *dnc;
  if (spantap_queue_decoder_new(w.sc, NCPU, COOKIE, &dsc) < 0 ||
      spantap_queue_decoder_new(w.nc, NCPU, COOKIE, &dnc) < 0)
    return -1;
  for (long p = 0; p < passes; p++) {
    workload_pass(&w, p);
    double t0 = now_s();
    if (decode_queues(&w, dsc, dnc, count_only, NULL) < 0)
      return -1;
    out->decode_s += now_s() - t0;
  }
  spantap_queue_decoder_destroy(dsc);
  spantap_queue_decoder_destroy(dnc);
  workload_free(&w);

  /* the collector, into a real database */
  if (workload_init(&w, t) < 0 || spantap_queue_decoder_new(w.sc, NCPU, COOKIE, &dsc) < 0 ||
      spantap_queue_decoder_new(w.nc, NCPU, COOKIE, &dnc) < 0)
    return -1;
  char db[64], err[512];
  snprintf(db, sizeof db, "/tmp/spantap-bench-%d.db", (int)getpid());
  struct spantap_store *store;
  if (spantap_store_open(db, true, &store, err, sizeof err) < 0) {
    fprintf(stderr, "ingest_bench: %s\n", err);
    return -1;
  }
  struct spantap_symbolizer *sym = spantap_symbolizer_new();
  struct spantap_collector_opts o = {.stack_mode = 4, .stack_depth = 8};
  struct spantap_collector *c;
  struct spantap_map_feed *feed;
  if (!sym || spantap_collector_new(store, sym, &o, &c) < 0 ||
      spantap_map_feed_new(COOKIE, NCPU, c, &feed) < 0)
    return -1;
  double cpu0 = cpu_s(), gen = 0, t0 = now_s();
  int rc = hold_preamble(feed, t);
  for (long p = 0; rc == 0 && p < passes; p++) {
    double g0 = now_s();
    workload_pass(&w, p);
    gen += now_s() - g0;
    if (decode_queues(&w, dsc, dnc, hold, feed) < 0) {
      snprintf(err, sizeof err, "the decoder or the map feed failed: pass=%ld", p);
      rc = -1;
    } else if (spantap_map_feed_push(feed, err, sizeof err) < 0) {
      rc = -1;
    }
  }
  if (rc == 0)
    rc = spantap_collector_finish(c, err, sizeof err);
  if (rc == 0) /* every row written: what follows is the close alone */
    rc = spantap_store_sync(store, err, sizeof err);
  double t1 = now_s();
  if (rc == 0)
    rc = spantap_store_close(store, err, sizeof err); /* builds the indexes */
  else
    spantap_store_destroy(store);
  double t2 = now_s();
  if (rc < 0) {
    fprintf(stderr, "ingest_bench: %s\n", err);
    return -1;
  }
  out->recording_s = t1 - t0 - gen;
  out->close_s = t2 - t1;
  out->cpu_s = cpu_s() - cpu0; /* the key generation's CPU is subtracted below */
  out->cpu_s -= gen;
  const struct spantap_collector_stats *s = spantap_collector_stats(c);
  out->frames = s->frames;
  out->stacks = s->stacks;
  out->spans = s->spans.server_spans + s->spans.client_spans;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  out->peak_rss_kb = ru.ru_maxrss;
  spantap_map_feed_destroy(feed);
  spantap_collector_destroy(c);
  spantap_symbolizer_destroy(sym);
  spantap_queue_decoder_destroy(dsc);
  spantap_queue_decoder_destroy(dnc);
  workload_free(&w);
  spantap_store_remove(db);
  return 0;
}

/* Runs RECORDS in a child process (so its peak RSS is its own). */
static int run_apart(long records, const struct text_map *t, struct result *out) {
  int fd[2];
  if (pipe(fd) < 0)
    return -1;
  pid_t pid = fork();
  if (pid < 0)
    return -1;
  if (pid == 0) {
    close(fd[0]);
    struct result r;
    int rc = run(records, t, &r);
    if (rc == 0 && write(fd[1], &r, sizeof r) != (ssize_t)sizeof r)
      rc = -1;
    _exit(rc == 0 ? 0 : 1);
  }
  close(fd[1]);
  ssize_t n = read(fd[0], out, sizeof *out);
  close(fd[0]);
  int status;
  waitpid(pid, &status, 0);
  return n == (ssize_t)sizeof *out && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static void print_run(const char *name, const struct result *r) {
  double n = (double)r->records;
  printf("%s: %ld records (%" PRIu64 " frames, %" PRIu64 " stacks symbolized, %" PRIu64 " spans)\n",
         name, r->records, r->frames, r->stacks, r->spans);
  printf("  decoder alone (baseline): %10.0f records/s\n", n / r->decode_s);
  printf("  while recording:          %10.0f records/s  (%.2fx the decoder's time; decode to "
         "store, close excluded)\n",
         n / r->recording_s, r->recording_s / r->decode_s);
  printf("  end to end:               %10.0f records/s  (%.2fx the decoder's time; close with "
         "index build %.2f s)\n",
         n / (r->recording_s + r->close_s), (r->recording_s + r->close_s) / r->decode_s,
         r->close_s);
  printf("  CPU per record:           %10.2f us  (all threads, close included; decoder alone "
         "%.2f us)\n",
         r->cpu_s / n * 1e6, r->decode_s / n * 1e6);
  printf("  peak RSS:                 %10.1f MB\n", (double)r->peak_rss_kb / 1024);
}

int main(int argc, char **argv) {
  long records = argc > 1 ? atol(argv[1]) : 1000000;
  struct text_map t = {0};
  spantap_proc_maps_read(getpid(), find_text, &t);
  if (!t.start || records < 1) {
    fprintf(stderr, "ingest_bench: cannot find its own text mapping, or N < 1\n");
    return 1;
  }
  struct result a, b;
  if (run_apart(records, &t, &a) < 0 || run_apart(4 * records, &t, &b) < 0) {
    fprintf(stderr, "ingest_bench: a run failed\n");
    return 1;
  }
  printf("ingest_bench: the BPF map source's path (queue decoder, map feed, collector, SQLite)\n");
  print_run("N", &a);
  print_run("4N", &b);
  printf("peak RSS 4N / N: %.2f (a bounded collector stays near 1)\n",
         (double)b.peak_rss_kb / (double)a.peak_rss_kb);
  double rec = (double)a.records / a.recording_s;
  printf("target >= 1000000 records/s decoded and stored while recording (N run): %s\n",
         rec >= 1e6 ? "met" : "NOT met");
  return 0;
}
