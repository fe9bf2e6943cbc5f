/* `spantap record`: checks the machine, opens the store and the collector,
 * runs a recording session (runtime/recording_session.c: stap or staprun, the
 * traced command, the live loop) whose stream feeds the collector, and stores
 * the recording's metadata and summary. One straight line with one cleanup;
 * --compile-only stops after building the module. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "collector/collector.h"
#include "collector/map_feed.h"
#include "export/live_metrics.h"
#include "reports/summary.h"
#include "runtime/recording_session.h"

static char *join_args(int argc, char **argv) {
  size_t len = 1;
  for (int i = 0; i < argc; i++)
    len += strlen(argv[i]) + 1;
  char *s = calloc(1, len);
  for (int i = 0; s && i < argc; i++) {
    strcat(s, argv[i]);
    if (i + 1 < argc)
      strcat(s, " ");
  }
  return s;
}

/* The session's sink, wired to the collector (its CTX). */
static int feed_stream(void *ctx, const char *buf, size_t len, char *err, size_t errlen) {
  return spantap_collector_feed(ctx, buf, len, err, errlen);
}

static int add_lost(void *ctx, uint64_t count, const char *source, char *err, size_t errlen) {
  return spantap_collector_add_lost(ctx, count, source, err, errlen);
}

/* The session's tick: events a quiet stream left in the reorder window go to
 * the store, then the batch is committed (what --metrics-listen reads). */
static int flush(void *ctx, char *err, size_t errlen) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  int rc = spantap_collector_release_quiet(ctx, (int64_t)now.tv_sec * 1000000000 + now.tv_nsec, err,
                                           errlen);
  return rc < 0 ? rc : spantap_collector_flush(ctx, err, errlen);
}

/* The BPF runtime's record queues, drained on every turn of the loop. */
static int feed_turn(void *ctx, char *err, size_t errlen) {
  return spantap_map_feed_turn(ctx, false, err, errlen);
}

static unsigned ready_families(void *ctx) {
  return spantap_collector_stats(ctx)->ready_mask;
}

/* Closes the saved stream: the collector checked each write, the close (and
 * the data it flushes) is the last check. Returns 0, or -EIO with what failed
 * in ERR. */
static int close_saved_stream(FILE *saved, const char *path, char *err, size_t errlen) {
  bool write_failed = ferror(saved) != 0;
  if (fclose(saved) != 0) {
    snprintf(err, errlen, "Failed to write --save-stream: path=%s errno=%s", path, strerror(errno));
    return -EIO;
  }
  if (write_failed) {
    snprintf(err, errlen, "Failed to write --save-stream: path=%s (a write failed)", path);
    return -EIO;
  }
  return 0;
}

/* Writes the recording's metadata (docs/schema.md, table recording). Returns
 * 0, or -EIO with the key that failed and SQLite's message in ERR. */
static int store_metadata(struct spantap_store *store, const struct spantap_trace_options *o,
                          const char *cmdline, const struct spantap_session_result *r,
                          const struct spantap_collector_stats *cs, const char *incomplete,
                          char *err, size_t errlen) {
  struct utsname u;
  uname(&u);
  char kernel[600];
  snprintf(kernel, sizeof kernel, "%s %s %s", u.sysname, u.release, u.machine);
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  const struct spantap_meta_row rows[] = {
      {"command_line", cmdline, 0},
      {"kernel", kernel, 0},
      {"hostname", u.nodename, 0},
      {"stack_mode", NULL, cs->stack_mode}, /* in effect: a --module's as recorded */
      {"stack_depth", NULL, cs->stack_depth},
      {"events", o->events, 0},
      {"started_ns", NULL, r->started_ns},
      {"ended_ns", NULL, (int64_t)now.tv_sec * 1000000000 + now.tv_nsec},
      {"wall_clock_offset_ns", NULL, r->wall_clock_offset_ns}, /* add to *_ns for wall time */
      {"complete", NULL, incomplete == NULL},
      {incomplete ? "incomplete_reason" : NULL, incomplete, 0},
  };
  return spantap_store_meta_rows(store, rows, sizeof rows / sizeof rows[0], err, errlen);
}

/* The end of a stored recording: skipped lines, the summary, why incomplete. */
/* Says whether the database writer fell behind while recording into DB, and
 * where its backlog went. */
static void print_backlog(struct spantap_store_backlog b, const char *db) {
  if (b.groups_spilled)
    fprintf(stderr,
            "spantap: the database writer fell behind: %llu groups of rows (%.1f MiB at most) "
            "waited in a scratch file beside %s\n",
            (unsigned long long)b.groups_spilled, (double)b.bytes_max / (1024.0 * 1024.0), db);
  if (b.spill_errno)
    fprintf(stderr,
            "spantap record: warning: no scratch file for the database writer's backlog beside "
            "%s (errno=%s): when the writer was behind, the collector waited for it, and the "
            "kernel queues may have filled meanwhile (counted as lost)\n",
            db, strerror(b.spill_errno));
}

/* After a recording that lost records, what the user can change. BPF: the
 * BPF runtime recorded; QUEUE_MIB: its record queues in kernel memory (0 when
 * a built object sized them); RELAY_MIB: the module runtime's relay buffers
 * a CPU (0: stap's default size). */
static void print_loss_advice(const struct spantap_collector *col, bool bpf, double queue_mib,
                              unsigned relay_mib) {
  uint64_t lost = spantap_collector_stats(col)->lost;
  if (!lost)
    return;
  char what[96]; /* what filled */
  const char *remedy = "Larger buffers hold a longer burst (--buffer-size MIB)";
  if (bpf && queue_mib > 0) {
    snprintf(what, sizeof what, "the record queues (%.1f MiB)", queue_mib);
    remedy = "Larger queues hold a longer burst (--buffer-size MIB)";
  } else if (bpf) {
    snprintf(what, sizeof what, "the record queues built into the object");
    remedy = "An object built with a larger --buffer-size holds a longer burst";
  } else if (relay_mib) {
    snprintf(what, sizeof what, "the relay buffers (%u MiB a CPU) or the module's tables",
             relay_mib);
  } else {
    snprintf(what, sizeof what, "the relay buffers (stap's default size) or the module's tables");
  }
  fprintf(stderr,
          "spantap: %llu records were lost, counted in the recording (events_lost; spans open "
          "then have status 'loss'): %s filled faster than spantap read them. %s; stack modes 1 "
          "and 2 cost the reader less than 3 and 4, and fewer --events make fewer records.\n",
          (unsigned long long)lost, what, remedy);
}

static void print_end(const struct spantap_collector *col, const char *db, const char *incomplete) {
  const struct spantap_collector_stats *cs = spantap_collector_stats(col);
  char err[1024];
  if (cs->malformed)
    fprintf(stderr, "spantap: %llu malformed lines skipped (first at line %llu: %s)\n",
            (unsigned long long)cs->malformed,
            (unsigned long long)cs->malformed_examples[0].line_no, cs->malformed_examples[0].why);
  if (spantap_summary_print(db, stdout, 10, err, sizeof err) < 0)
    fprintf(stderr, "spantap: the summary could not be printed: %s\n", err);
  if (incomplete)
    fprintf(stderr, "spantap: the recording is INCOMPLETE: %s\n", incomplete);
}

/* --compile-only: builds the module into --output. Returns the exit status. */
static int compile_only(struct spantap_session *session, const struct spantap_trace_options *o) {
  char err[1024];
  int rc = spantap_session_compile(session, o->output, o->force, err, sizeof err);
  if (rc < 0) {
    fprintf(stderr, "spantap record: --compile-only: %s\n", err);
    return rc == -EINVAL ? SPANTAP_EXIT_USAGE : SPANTAP_EXIT_FAIL;
  }
  fprintf(stderr,
          "spantap: built %s: run it with 'spantap record --module %s -o FILE.db' where %s "
          "is installed (its stream says its stack mode %u and depth %u)\n",
          o->output, o->output, strcmp(o->runtime, "bpf") == 0 ? "stapbpf" : "staprun",
          o->stack_mode, o->stack_depth);
  return SPANTAP_EXIT_OK;
}

int spantap_cmd_record(int argc, char **argv) {
  struct spantap_trace_options o;
  int rc = spantap_trace_options_parse(argc, argv, true, &o);
  if (rc)
    return rc > 0 ? SPANTAP_EXIT_OK : SPANTAP_EXIT_USAGE;

  int status = SPANTAP_EXIT_FAIL;
  char err[1024] = "";
  struct spantap_session *session = NULL;
  struct spantap_store *store = NULL;
  struct spantap_live_metrics *metrics = NULL;
  struct spantap_symbolizer *sym = NULL;
  struct spantap_collector *col = NULL;
  struct spantap_map_feed *feed = NULL;
  FILE *saved = NULL;
  char *cmdline = join_args(argc + 1, argv - 1);

  if (geteuid() != 0 && !o.compile_only) {
    fprintf(stderr, "spantap record: needs root (it loads a tracing program into the kernel); "
                    "run it with sudo\n");
    goto cleanup;
  }
  struct spantap_session_opts sopts = {.runtime = o.runtime,
                                       .command = o.command,
                                       .duration_s = o.duration_s,
                                       .stap = getenv("SPANTAP_STAP"),
                                       .progress = stderr,
                                       .module = o.module,
                                       .kernel_release = o.kernel_release,
                                       .compile_only = o.compile_only};
  if (spantap_trace_options_to_script(&o, SPANTAP_RUNTIME_BPF, 0, &sopts.script, err, sizeof err) <
          0 ||
      spantap_session_new(&sopts, &session, err, sizeof err) < 0) {
    fprintf(stderr, "spantap record: %s\n", err);
    goto cleanup;
  }
  if (o.compile_only) {
    status = compile_only(session, &o);
    goto cleanup;
  }
  if (spantap_store_open(o.output, o.force, &store, err, sizeof err) < 0) {
    fprintf(stderr, "spantap record: %s\n", err);
    goto cleanup;
  }
  if (o.metrics_listen) {
    if (spantap_live_metrics_start(o.metrics_listen, o.output, &metrics, err, sizeof err) < 0) {
      fprintf(stderr, "spantap record: --metrics-listen: %s\n", err);
      goto cleanup;
    }
    fprintf(stderr, "spantap record: serving metrics at http://%s/metrics\n", o.metrics_listen);
  }
  if (o.save_stream && !(saved = fopen(o.save_stream, "we"))) {
    fprintf(stderr, "spantap record: cannot create --save-stream %s: %s\n", o.save_stream,
            strerror(errno));
    goto cleanup;
  }
  if (spantap_symbolizer_open(&sym, err, sizeof err) < 0) {
    fprintf(stderr, "spantap record: %s\n", err);
    goto cleanup;
  }
  struct spantap_collector_opts copts = {.live = true,
                                         .stack_mode = o.stack_mode,
                                         .stack_depth = o.stack_depth,
                                         .save_stream = saved,
                                         .save_stream_path = o.save_stream};
  if (spantap_collector_new(store, sym, &copts, &col) < 0) {
    fprintf(stderr, "spantap record: out of memory starting the collector\n");
    goto cleanup;
  }
  double queue_mib = 0; /* the BPF runtime's record queues, when this recording sized them */
  if (spantap_session_runtime(session) == SPANTAP_RUNTIME_BPF) {
    /* the BPF runtime hands its records over through BPF maps (docs/bpf-transport.md) */
    rc = spantap_map_feed_new(sopts.script.queue_cookie, sopts.script.queue_ncpu, col, &feed);
    const struct spantap_session_source src = {.fd = -1, .readable = feed_turn, .ctx = feed};
    if (rc == 0)
      rc = spantap_session_add_source(session, &src);
    if (rc < 0) {
      fprintf(stderr, "spantap record: Failed to create the BPF map reader: %s\n", strerror(-rc));
      goto cleanup;
    }
    if (!o.module) { /* a built object's queues are sized by its build */
      queue_mib = (double)spantap_script_queue_memory(&sopts.script) / (1 << 20);
      fprintf(stderr, "spantap: record queues: %.1f MiB of kernel memory (--buffer-size)\n",
              queue_mib);
    }
  } else if (sopts.script.relay_mib_per_cpu) {
    fprintf(stderr, "spantap: relay buffers: %u MiB of kernel memory a CPU (--buffer-size)\n",
            sopts.script.relay_mib_per_cpu);
  }
  const struct spantap_session_sink sink = {
      .ctx = col, .stream = feed_stream, .lost = add_lost, .tick = flush, .ready = ready_families};
  if (spantap_session_start(session, &sink, err, sizeof err) < 0) {
    fprintf(stderr, "spantap record: %s\n", err);
    goto cleanup;
  }
  while ((rc = spantap_session_poll(session, err, sizeof err)) > 0)
    continue;
  if (rc < 0)
    fprintf(stderr, "spantap record: %s\n", err);
  struct spantap_session_result res;
  spantap_session_stop(session, &res);
  /* stapbpf is gone; the feed's own descriptors keep the maps: a last pass */
  if (feed && spantap_map_feed_turn(feed, true, err, sizeof err) < 0) {
    fprintf(stderr, "spantap record: %s\n", err);
    if (!res.incomplete)
      res.incomplete = "the last records could not be read from the BPF maps";
  }
  if (feed) {
    char line[512];
    spantap_map_feed_summary(feed, line, sizeof line);
    fprintf(stderr, "spantap: record queues: %s\n", line);
  }

  const char *incomplete = res.incomplete;
  if (!incomplete && !spantap_collector_stats(col)->end_seen)
    incomplete = "the tracing script ended without its END record";
  if (spantap_collector_finish(col, err, sizeof err) < 0) {
    fprintf(stderr, "spantap record: %s\n", err);
    incomplete = "storing failed";
  }
  rc = saved ? close_saved_stream(saved, o.save_stream, err, sizeof err) : 0;
  saved = NULL;
  if (rc < 0) {
    fprintf(stderr, "spantap record: %s\n", err);
    /* a failed write of the saved stream also fails the record that made
     * it ("storing failed"): the saved stream is the reason */
    if (!incomplete || strcmp(incomplete, "storing failed") == 0)
      incomplete = "the saved stream (--save-stream) could not be written in full";
  }
  /* the endpoint ends with the recording: no reader may hold the database at its close */
  spantap_live_metrics_stop(metrics);
  metrics = NULL;
  if (store_metadata(store, &o, cmdline, &res, spantap_collector_stats(col), incomplete, err,
                     sizeof err) < 0) {
    fprintf(stderr, "spantap record: %s (the recording is removed)\n", err);
    goto cleanup;
  }
  print_backlog(spantap_store_backlog(store), o.output);
  rc = spantap_store_close(store, err, sizeof err);
  store = NULL;
  if (rc < 0) {
    fprintf(stderr, "spantap record: %s\n", err);
    goto cleanup;
  }
  print_loss_advice(col, spantap_session_runtime(session) == SPANTAP_RUNTIME_BPF, queue_mib,
                    sopts.script.relay_mib_per_cpu);
  print_end(col, o.output, incomplete);
  status = incomplete ? SPANTAP_EXIT_INCOMPLETE : SPANTAP_EXIT_OK;

cleanup:
  spantap_live_metrics_stop(metrics);
  spantap_session_destroy(session);
  spantap_map_feed_destroy(feed);
  spantap_collector_destroy(col);
  spantap_symbolizer_destroy(sym);
  if (store) {
    /* failed before the recording was stored: remove it rather than leave it */
    spantap_store_destroy(store);
    spantap_store_remove(o.output);
  }
  if (saved)
    fclose(saved);
  free(cmdline);
  return status;
}
