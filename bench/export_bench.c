/* Export benchmark: the rate of each `spantap export` format in spans/s and
 * its peak memory, on synthetic recordings of N and 4N requests (3 spans and
 * 8 syscalls each, made by `spantap import` of tests/export_stream.c's
 * stream), against a baseline measured in the same run: a plain SELECT
 * stepping through every span and every syscall row. Each measurement runs in
 * a child process so that its peak RSS is its own; the exports stream, so
 * their peak memory should not grow from N to 4N.
 * Usage: export_bench [REQUESTS]   (default 50000; 4N = 200000 is 1.6M syscalls) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "export/export.h"
#include "tests/export_stream.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int discard(void *ctx, const void *buf, size_t len, char *err, size_t errlen) {
  (void)buf, (void)err, (void)errlen;
  *(size_t *)ctx += len;
  return 0;
}

enum { BASELINE, OTLP, OTLP_JSON, PPROF, FOLDED, CHROME, PROMETHEUS, NRUNS };
static const char *const run_names[NRUNS] = {"baseline: SELECT spans, syscalls",
                                             "otlp (protobuf)",
                                             "otlp --json",
                                             "pprof",
                                             "folded",
                                             "chrome --syscalls",
                                             "prometheus"};

/* Steps through every column of every row of SQL. */
static int select_all(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    return -EIO;
  int rc;
  long long sum = 0;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    for (int c = 0; c < sqlite3_column_count(st); c++)
      sum += sqlite3_column_bytes(st, c) + sqlite3_column_int64(st, c);
  sqlite3_finalize(st);
  return rc == SQLITE_DONE && sum != -1 ? 0 : -EIO;
}

/* The body of one child: runs RUN on DB. Returns 0 or -1. */
static int run_one(const char *db_path, int run) {
  sqlite3 *db;
  if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
    return -1;
  char err[1024] = "";
  int rc;
  if (run == BASELINE) {
    rc = select_all(db, "SELECT * FROM spans");
    if (rc == 0)
      rc = select_all(db, "SELECT * FROM syscalls");
  } else {
    struct spantap_export_recording rec;
    size_t bytes = 0;
    struct spantap_export_sink sink = {.write = discard, .ctx = &bytes};
    struct spantap_export_opts o = {.json = run == OTLP_JSON,
                                    .min_syscall_ns = SPANTAP_EXPORT_DEFAULT_MIN_SYSCALL_NS,
                                    .syscalls = true};
    rc = spantap_export_recording_open(db, &rec, err, sizeof err);
    if (rc == 0)
      rc = run == OTLP || run == OTLP_JSON ? spantap_export_otlp(&rec, &o, &sink, err, sizeof err)
           : run == PPROF                  ? spantap_export_pprof(&rec, &sink, err, sizeof err)
           : run == FOLDED                 ? spantap_export_folded(&rec, &sink, err, sizeof err)
           : run == CHROME                 ? spantap_export_chrome(&rec, &o, &sink, err, sizeof err)
                           : spantap_export_prometheus(&rec, &sink, err, sizeof err);
  }
  if (rc < 0)
    fprintf(stderr, "%s failed: %s\n", run_names[run], err);
  sqlite3_close(db);
  return rc < 0 ? -1 : 0;
}

struct result {
  double seconds;
  long peak_kb;
};

static int measure(const char *db, int run, struct result *r) {
  double t0 = now_s();
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0)
    _exit(run_one(db, run) == 0 ? 0 : 1);
  int status;
  struct rusage ru;
  if (pid < 0 || wait4(pid, &status, 0, &ru) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
    return -1;
  r->seconds = now_s() - t0;
  r->peak_kb = ru.ru_maxrss;
  return 0;
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 50000;
  if (n < 100) {
    fprintf(stderr, "usage: export_bench [REQUESTS >= 100]\n");
    return 2;
  }
  char dir[] = "/tmp/spantap-export-bench-XXXXXX";
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  struct result res[2][NRUNS];
  long sizes[2] = {n, 4 * n};
  int failed = 0;
  for (int s = 0; s < 2 && !failed; s++) {
    char stream[128], db[128];
    snprintf(stream, sizeof stream, "%s/bench.stream", dir);
    snprintf(db, sizeof db, "%s/bench-%ld.db", dir, sizes[s]);
    double t0 = now_s();
    if (export_stream_import(SPANTAP_BIN, sizes[s], stream, db) < 0) {
      failed = 1;
      break;
    }
    unlink(stream);
    printf("recording of %ld requests: %ld spans, %ld syscalls (imported in %.1f s)\n", sizes[s],
           sizes[s] * EXPORT_STREAM_SPANS_PER_REQUEST,
           sizes[s] * EXPORT_STREAM_SYSCALLS_PER_REQUEST, now_s() - t0);
    for (int r = 0; r < NRUNS && !failed; r++)
      if (measure(db, r, &res[s][r]) < 0) {
        fprintf(stderr, "measurement failed: %s on %s\n", run_names[r], db);
        failed = 1;
      }
  }
  if (!failed) {
    printf("\n%-34s %12s %8s %9s %12s %8s %9s %10s\n", "", "N spans/s", "x base", "peak MB",
           "4N spans/s", "x base", "peak MB", "peak 4N/N");
    for (int r = 0; r < NRUNS; r++) {
      double rate[2], ratio[2];
      for (int s = 0; s < 2; s++) {
        rate[s] = sizes[s] * EXPORT_STREAM_SPANS_PER_REQUEST / res[s][r].seconds;
        ratio[s] = res[s][r].seconds / res[s][BASELINE].seconds;
      }
      printf("%-34s %12.0f %8.2f %9.1f %12.0f %8.2f %9.1f %10.2f\n", run_names[r], rate[0],
             ratio[0], res[0][r].peak_kb / 1024.0, rate[1], ratio[1], res[1][r].peak_kb / 1024.0,
             (double)res[1][r].peak_kb / res[0][r].peak_kb);
    }
    printf("\nx base: the export's time over the baseline's on the same recording (lower is "
           "faster).\npeak 4N/N: peak RSS on the 4N recording over the N one (1.0: bounded).\n");
  }
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", dir);
  return failed;
}
