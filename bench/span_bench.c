/* Span derivation benchmark: builds a large synthetic stream of request
 * traffic (a front service with a pool of worker threads over kept
 * connections, each request reading a file and calling a backend service),
 * delivered slightly out of order as per-CPU buffers deliver it, then prints:
 *   (a) parse only, the baseline;
 *   (b) the span engine alone on the parsed events (no SQLite): events/s, spans/s;
 *   (c) the whole collector into SQLite: events/s, spans/s;
 *   (d) the collector's peak memory for N and for 4N requests, each measured in
 *       a child process, to show it does not grow with the recording.
 * Usage: span_bench [REQUESTS]   (8 events per request)
 *        span_bench --stream FILE   (a saved stream: (a) to (c) only) */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "collector/collector.h"
#include "collector/connections.h"
#include "collector/spans.h"
#include "collector/stream_parse.h"
#include "collector/u64_map.h"
#include "common/syscall_table.h"

#define CONNECTIONS 64
#define WORKERS 16
#define FRONT_PID 2000
#define BACKEND_PID 3000

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One NC line: a syscall on socket SOCK (announced by announce_sockets). */
static void netcall(FILE *f, long ts, long dur, int pid, int tid, long nr, long ret, long sock) {
  fprintf(f, "NC %ld %ld %d %d %ld %ld 5 0 0 %ld\n", ts, dur, pid, tid, nr, ret, sock);
}

/* The SOCK records of every socket of the workload, before time TS. */
static void announce_sockets(FILE *f, long ts) {
  for (int k = 0; k < CONNECTIONS; k++) {
    const char *fmt = "SOCK %ld %d %ld 2 6 %d %d 0 16777343 0 16777343\n";
    fprintf(f, fmt, ts, FRONT_PID, 0x10000L + k, 8080, 40000 + k);   /* client -> front */
    fprintf(f, fmt, ts, FRONT_PID, 0x20000L + k, 50000 + k, 9000);   /* front -> backend */
    fprintf(f, fmt, ts, BACKEND_PID, 0x30000L + k, 9000, 50000 + k); /* backend's side */
  }
}

/* Writes requests FIRST..FIRST+COUNT-1 of the stream to a memory buffer (with
 * the BEGIN and END records when WHOLE); returns its length. */
static size_t build_stream(long first, long count, bool whole, char **buf) {
  size_t len = 0;
  FILE *f = open_memstream(buf, &len);
  long nr_read = spantap_syscall_by_name("read"), nr_write = spantap_syscall_by_name("write");
  long nr_pread = spantap_syscall_by_name("pread64"),
       nr_epoll = spantap_syscall_by_name("epoll_wait");
  if (whole)
    fprintf(f, "BEGIN %d 0 4 8 bpf\n", SPANTAP_RECORD_FORMAT_VERSION);
  announce_sockets(f, first * 4000);
  for (long r = first; r < first + count; r++) {
    int k = (int)(r % CONNECTIONS), tid = FRONT_PID + 1 + k % WORKERS;
    int btid = BACKEND_PID + 1 + k % 4;
    long t = r * 4000, client_sock = 0x10000 + k, call_sock = 0x20000 + k,
         backend_sock = 0x30000 + k;
    /* what one worker does for one request; the backend's lines arrive from
     * another CPU, a little after the front's next lines */
    netcall(f, t, 2000, FRONT_PID, tid, nr_read, 200, client_sock);
    fprintf(f, "SC %ld 3000 %d %d %ld 4096 7 0 4096\n", t + 2100, FRONT_PID, tid, nr_pread);
    netcall(f, t + 5200, 500, FRONT_PID, tid, nr_write, 64, call_sock);
    netcall(f, t + 9000, 900, FRONT_PID, tid, nr_read, 128, call_sock);
    netcall(f, t + 5800, 300, BACKEND_PID, btid, nr_read, 64, backend_sock);
    netcall(f, t + 6200, 400, BACKEND_PID, btid, nr_write, 128, backend_sock);
    netcall(f, t + 10000, 800, FRONT_PID, tid, nr_write, 1000, client_sock);
    fprintf(f, "SC %ld 100 %d %d %ld 1 0 0 0\n", t + 10900, FRONT_PID, tid, nr_epoll);
  }
  if (whole)
    fprintf(f, "END 1\n");
  fclose(f);
  return len;
}

static int count_span(void *ctx, const struct spantap_span_row *r) {
  (void)r;
  ++*(long *)ctx;
  return 0;
}
static int ignore_row(void *ctx, const struct spantap_event *e, int64_t span) {
  (void)ctx, (void)e, (void)span;
  return 0;
}
static int ignore_edge(void *ctx, int64_t p, int64_t c, const char *k) {
  (void)ctx, (void)p, (void)c, (void)k;
  return 0;
}
static int ignore_trace(void *ctx, const struct spantap_trace_row *r) {
  (void)ctx, (void)r;
  return 0;
}

/* Reads the whole file PATH into *BUF. Returns its length, or 0 on failure. */
static size_t read_stream_file(const char *path, char **buf) {
  FILE *f = fopen(path, "r");
  if (!f)
    return 0;
  size_t cap = 1 << 20, len = 0, n;
  *buf = malloc(cap);
  while ((n = fread(*buf + len, 1, cap - len, f)) > 0) {
    len += n;
    if (len == cap)
      *buf = realloc(*buf, cap *= 2);
  }
  fclose(f);
  return len;
}

/* Parses the syscalls of BUF into events for the engine-only run, in stream
 * order, with the socket addresses of the SOCK records. */
static struct spantap_event *parse_events(const char *buf, size_t len, long *n) {
  long cap = 1024, count = 0;
  struct spantap_event *ev = malloc((size_t)cap * sizeof *ev);
  struct spantap_u64_map *socks = spantap_u64_map_new();
  for (const char *p = buf, *end = buf + len; p < end;) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    struct spantap_record r;
    const char *why;
    if (spantap_record_parse(p, (size_t)(nl - p), &r, &why) == 0 &&
        r.desc->kind == SPANTAP_REC_SOCKET) {
      const int64_t *v = r.v;
      struct spantap_endpoints *e = malloc(sizeof *e);
      *e = spantap_connections_record_ends(&r);
      free(spantap_u64_map_remove(socks, (uint64_t)v[SPANTAP_SOCKET_sock]));
      spantap_u64_map_put(socks, (uint64_t)v[SPANTAP_SOCKET_sock], e);
    } else if (r.desc->kind == SPANTAP_REC_SYSCALL || r.desc->kind == SPANTAP_REC_NETCALL) {
      if (count == cap)
        ev = realloc(ev, (size_t)(cap *= 2) * sizeof *ev);
      const int64_t *v = r.v;
      struct spantap_event e = {.kind = SPANTAP_EV_SYSCALL,
                                .ts = v[SPANTAP_SYSCALL_ts],
                                .dur = v[SPANTAP_SYSCALL_dur],
                                .pid = v[SPANTAP_SYSCALL_pid],
                                .tid = v[SPANTAP_SYSCALL_tid],
                                .nr = v[SPANTAP_SYSCALL_nr],
                                .ret = v[SPANTAP_SYSCALL_ret],
                                .class_name = "file"};
      if (r.desc->kind == SPANTAP_REC_NETCALL) {
        e.class_name = "net";
        e.sock = (uint64_t)v[SPANTAP_NETCALL_sock];
        e.conn_id = v[SPANTAP_NETCALL_sock];
        const struct spantap_endpoints *ends = spantap_u64_map_get(socks, e.sock);
        if (ends)
          e.ends = *ends;
      }
      ev[count++] = e;
    }
    p = nl + 1;
  }
  spantap_u64_map_free_values(socks);
  spantap_u64_map_destroy(socks);
  *n = count;
  return ev;
}

/* Runs the whole collector on BUF into a fresh database. Returns seconds, or
 * -1; *SPANS gets the spans derived. */
static double run_collector(const char *buf, size_t len, uint64_t *spans) {
  char db[64], err[512];
  snprintf(db, sizeof db, "/tmp/spantap-span-bench-%d.db", (int)getpid());
  struct spantap_store *store;
  if (spantap_store_open(db, true, &store, err, sizeof err) < 0) {
    fprintf(stderr, "span_bench: %s\n", err);
    return -1;
  }
  struct spantap_collector_opts o = {.stack_mode = 0, .stack_depth = 8};
  struct spantap_collector *c;
  if (spantap_collector_new(store, NULL, &o, &c) < 0)
    return -1;
  double t0 = now_s();
  for (size_t off = 0; off < len; off += 65536)
    if (spantap_collector_feed(c, buf + off, off + 65536 > len ? len - off : 65536, err,
                               sizeof err) < 0) {
      fprintf(stderr, "span_bench: %s\n", err);
      return -1;
    }
  if (spantap_collector_finish(c, err, sizeof err) < 0 ||
      spantap_store_close(store, err, sizeof err) < 0) {
    fprintf(stderr, "span_bench: %s\n", err);
    return -1;
  }
  double secs = now_s() - t0;
  const struct spantap_collector_stats *s = spantap_collector_stats(c);
  *spans = s->spans.server_spans + s->spans.client_spans;
  spantap_collector_destroy(c);
  unlink(db);
  return secs;
}

/* The collector's peak memory (KiB) on a stream of REQUESTS requests,
 * measured in a child so that each figure is its own. */
static long peak_kib(long requests) {
  int fds[2];
  if (pipe(fds) < 0)
    return -1;
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    /* feed in pieces, as a live recording does, never holding the whole stream */
    long chunk = 20000, kib = -1;
    char db[64], err[512];
    snprintf(db, sizeof db, "/tmp/spantap-span-bench-%d.db", (int)getpid());
    struct spantap_store *store;
    struct spantap_collector_opts o = {.stack_mode = 0, .stack_depth = 8};
    struct spantap_collector *c;
    if (spantap_store_open(db, true, &store, err, sizeof err) == 0 &&
        spantap_collector_new(store, NULL, &o, &c) == 0) {
      for (long done = 0; done < requests; done += chunk) {
        char *buf;
        size_t len = build_stream(done, chunk, false, &buf);
        spantap_collector_feed(c, buf, len, err, sizeof err);
        free(buf);
      }
      spantap_collector_finish(c, err, sizeof err);
      spantap_store_close(store, err, sizeof err);
      spantap_collector_destroy(c);
      unlink(db);
      struct rusage ru;
      getrusage(RUSAGE_SELF, &ru);
      kib = ru.ru_maxrss;
    }
    if (write(fds[1], &kib, sizeof kib) != sizeof kib)
      _exit(1);
    _exit(0);
  }
  close(fds[1]);
  long kib = -1;
  if (read(fds[0], &kib, sizeof kib) != sizeof kib)
    kib = -1;
  close(fds[0]);
  waitpid(pid, NULL, 0);
  return kib;
}

int main(int argc, char **argv) {
  /* a saved stream (spantap record --save-stream), or the synthetic one */
  const char *stream = argc > 2 && strcmp(argv[1], "--stream") == 0 ? argv[2] : NULL;
  long requests = stream ? 0 : argc > 1 ? atol(argv[1]) : 125000;
  char *buf = NULL;
  size_t len = stream ? read_stream_file(stream, &buf) : build_stream(0, requests, true, &buf);
  if (!len || (!stream && requests < 4)) {
    fprintf(stderr, "span_bench: %s\nUsage: span_bench [REQUESTS] | span_bench --stream FILE\n",
            stream ? "cannot read the stream file" : "REQUESTS must be at least 4");
    return 2;
  }

  double t0 = now_s();
  long parsed = 0;
  for (char *p = buf, *end = buf + len; p < end;) {
    char *nl = memchr(p, '\n', (size_t)(end - p));
    struct spantap_record r;
    const char *why;
    parsed += spantap_record_parse(p, (size_t)(nl - p), &r, &why) == 0;
    p = nl + 1;
  }
  double parse_s = now_s() - t0;

  long nev;
  struct spantap_event *ev = parse_events(buf, len, &nev);
  long engine_spans = 0;
  struct spantap_span_sink sink = {&engine_spans, ignore_row,   count_span,
                                   ignore_edge,   ignore_trace, NULL};
  struct spantap_span_engine *eng;
  if (spantap_span_engine_new(&sink, &eng) < 0)
    return 1;
  t0 = now_s();
  for (long i = 0; i < nev; i++)
    spantap_span_engine_event(eng, &ev[i]);
  spantap_span_engine_finish(eng);
  double engine_s = now_s() - t0;
  spantap_span_engine_destroy(eng);
  free(ev);

  uint64_t spans = 0;
  double full_s = run_collector(buf, len, &spans);
  if (full_s < 0)
    return 1;

  long events = 0;
  for (char *p = buf; (p = memchr(p, '\n', (size_t)(buf + len - p))); p++)
    events++;
  if (stream)
    printf("span_bench: %s, %ld lines, %.1f MB\n", stream, events, len / 1e6);
  else
    printf("span_bench: %ld requests, %ld events, %.1f MB of stream\n", requests, events,
           len / 1e6);
  printf("  parse only (baseline):  %10.0f events/s\n", parsed / parse_s);
  printf("  span engine alone:      %10.0f events/s  %9.0f spans/s  (%.2fx the parse time)\n",
         nev / engine_s, engine_spans / engine_s, engine_s / parse_s);
  printf("  whole collector+SQLite: %10.0f events/s  %9.0f spans/s  (%.2fx the parse time; %" PRIu64
         " spans)\n",
         events / full_s, spans / full_s, full_s / parse_s, spans);
  free(buf);
  if (stream)
    return 0;
  long small = peak_kib(requests / 4), large = peak_kib(requests);
  printf("  peak memory: %ld KiB for %ld requests, %ld KiB for %ld (%.2fx for 4x the events)\n",
         small, requests / 4, large, requests, large / (double)small);
  return 0;
}
