/* `spantap export FORMAT DB`: a recording in the formats of the tools people
 * already run (export/, docs/exports.md): written whole to a file or not at
 * all, POSTed to an OTLP collector, or served at /metrics. */
#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "reports/recording.h"
#include "export/export.h"
#include "export/metrics_http.h"
#include "export/otlp_post.h"
#include "export/output.h"

static const char export_usage[] =
    "Usage: spantap export FORMAT DATABASE [OPTIONS]\n"
    "\n"
    "Write a recording in the format of a tool you already run. The file is written\n"
    "whole or not at all (a temporary file renamed into place); without -o the\n"
    "export goes to standard output (not for binary formats on a terminal).\n"
    "\n"
    "Formats:\n"
    "  otlp        OpenTelemetry traces: OTLP protobuf (default) or OTLP JSON lines\n"
    "              (--json), one resource per service process, server and client spans\n"
    "              with their parents, and each span's syscalls of at least\n"
    "              --min-syscall-us as child spans with their user stacks\n"
    "  pprof       gzip'd profile.proto for 'go tool pprof': user stacks, values\n"
    "              syscalls, syscall_time and offcpu_time, labels service and syscall\n"
    "  folded      folded stacks 'service;frame;...;syscall NANOSECONDS' for\n"
    "              flamegraph.pl and speedscope\n"
    "  chrome      Trace Event Format JSON for Perfetto, chrome://tracing and speedscope:\n"
    "              spans (and with --syscalls, syscalls) on their threads, flows from\n"
    "              each client span to the server span it called\n"
    "  prometheus  Prometheus text format 0.0.4: latency histograms, kernel time by\n"
    "              class, page faults and bytes per service; syscalls by name; events\n"
    "              recorded and lost\n"
    "\n"
    "Options:\n"
    "  -o, --output FILE        write to FILE (default: standard output)\n"
    "      --json               otlp: OTLP JSON instead of protobuf\n"
    "      --endpoint URL       otlp: POST to an OTLP/HTTP collector (http://HOST:4318;\n"
    "                           /v1/traces is added), one request per batch of spans\n"
    "      --timeout S          otlp: seconds each POST may take (default 10)\n"
    "      --min-syscall-us N   otlp, chrome: syscalls of at least N us become child\n"
    "                           spans or events (default 100; -1: none)\n"
    "      --syscalls           chrome: syscalls as events too\n"
    "      --listen ADDR:PORT   prometheus: serve the metrics at http://ADDR:PORT/metrics\n"
    "      --duration S         prometheus --listen: stop after S seconds (default: at\n"
    "                           SIGINT or SIGTERM)\n"
    "\n"
    "Examples:\n"
    "  spantap export otlp run.db --endpoint http://127.0.0.1:4318\n"
    "  spantap export otlp run.db --json -o run.otlp.jsonl\n"
    "  spantap export pprof run.db -o run.pb.gz && go tool pprof -top run.pb.gz\n"
    "  spantap export folded run.db -o run.folded && flamegraph.pl run.folded > run.svg\n"
    "  spantap export chrome run.db --syscalls -o run.trace.json   (open in ui.perfetto.dev)\n"
    "  spantap export prometheus run.db -o run.prom && promtool check metrics < run.prom\n"
    "  spantap export prometheus run.db --listen 127.0.0.1:9464 --duration 60\n"
    "docs/exports.md shows each format and how to open it.\n";

static const char *const format_names[] = {[SPANTAP_EXPORT_OTLP] = "otlp",
                                           [SPANTAP_EXPORT_PPROF] = "pprof",
                                           [SPANTAP_EXPORT_FOLDED] = "folded",
                                           [SPANTAP_EXPORT_CHROME] = "chrome",
                                           [SPANTAP_EXPORT_PROMETHEUS] = "prometheus"};

static int format_parse(const char *name) {
  for (size_t i = 0; i < sizeof format_names / sizeof format_names[0]; i++)
    if (strcmp(name, format_names[i]) == 0)
      return (int)i;
  return -EINVAL;
}

/* Seconds, with a fraction, from 0.001 to 10^7, for option NAME. */
static int take_seconds(const char *name, double *dest, const char *value, char *err,
                        size_t errlen) {
  char *end;
  errno = 0;
  double v = strtod(value, &end);
  if (!*value || *end || errno || !(v >= 0.001 && v <= 1e7)) {
    snprintf(err, errlen, "invalid %s '%s' (seconds, from 0.001 to 10000000)", name, value);
    return -EINVAL;
  }
  *dest = v;
  return 0;
}

/* SPANTAP_OPT_CALL parsers of --timeout and --duration. */
static int take_timeout(void *dest, const char *value, char *err, size_t errlen) {
  return take_seconds("--timeout", dest, value, err, errlen);
}
static int take_duration(void *dest, const char *value, char *err, size_t errlen) {
  return take_seconds("--duration", dest, value, err, errlen);
}

/* A SPANTAP_OPT_CALL parser for --min-syscall-us: a whole number of
 * microseconds, or -1 for none; stored in nanoseconds. */
static int take_min_syscall(void *dest, const char *value, char *err, size_t errlen) {
  uint64_t us;
  if (strcmp(value, "-1") == 0) {
    *(int64_t *)dest = -1;
    return 0;
  }
  if (spantap_arg_number("--min-syscall-us", value, 0, 1000000000, &us, err, errlen) < 0)
    return -EINVAL;
  *(int64_t *)dest = (int64_t)us * 1000;
  return 0;
}

static volatile sig_atomic_t stop_serving;
static void on_stop(int sig) {
  (void)sig;
  stop_serving = 1;
}

static int render_metrics(void *ctx, char **text, size_t *len, char *err, size_t errlen) {
  return spantap_export_prometheus_text(ctx, text, len, err, errlen);
}

/* Serves REC's metrics at LISTEN until DURATION seconds passed (<= 0: a signal). */
static int serve_metrics(struct spantap_export_recording *rec, const char *listen,
                         double duration) {
  char err[1024];
  struct spantap_metrics_http *server;
  if (spantap_metrics_http_start(listen, render_metrics, rec, &server, err, sizeof err) < 0) {
    fprintf(stderr, "spantap export: %s\n", err);
    return SPANTAP_EXIT_FAIL;
  }
  struct sigaction sa = {.sa_handler = on_stop};
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  fprintf(stderr, "spantap export: serving http://%s/metrics (port %u)%s\n", listen,
          spantap_metrics_http_port(server), duration > 0 ? "" : "; Ctrl-C stops");
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  while (!stop_serving) {
    clock_gettime(CLOCK_MONOTONIC, &now);
    double elapsed = (double)(now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) / 1e9;
    if (duration > 0 && elapsed >= duration)
      break;
    struct timespec nap = {0, 100000000};
    nanosleep(&nap, NULL);
  }
  fprintf(stderr, "spantap export: stopped serving after %lu scrapes\n",
          spantap_metrics_http_scrapes(server));
  spantap_metrics_http_stop(server);
  return SPANTAP_EXIT_OK;
}

static int run_export(int format, struct spantap_export_recording *rec,
                      const struct spantap_export_opts *o, const struct spantap_export_sink *sink,
                      char *err, size_t errlen) {
  switch (format) {
    case SPANTAP_EXPORT_OTLP:
      return spantap_export_otlp(rec, o, sink, err, errlen);
    case SPANTAP_EXPORT_PPROF:
      return spantap_export_pprof(rec, sink, err, errlen);
    case SPANTAP_EXPORT_FOLDED:
      return spantap_export_folded(rec, sink, err, errlen);
    case SPANTAP_EXPORT_CHROME:
      return spantap_export_chrome(rec, o, sink, err, errlen);
    default:
      return spantap_export_prometheus(rec, sink, err, errlen);
  }
}

int spantap_cmd_export(int argc, char **argv) {
  struct spantap_export_opts o = {.min_syscall_ns = SPANTAP_EXPORT_DEFAULT_MIN_SYSCALL_NS};
  const char *output = NULL, *endpoint = NULL, *listen = NULL;
  double timeout = 10, duration = 0;
  const struct spantap_opt opts[] = {
      {.name = "output", .letter = 'o', .kind = SPANTAP_OPT_STRING, .dest = &output},
      {.name = "json", .kind = SPANTAP_OPT_FLAG, .dest = &o.json},
      {.name = "endpoint", .kind = SPANTAP_OPT_STRING, .dest = &endpoint},
      {.name = "timeout", .kind = SPANTAP_OPT_CALL, .dest = &timeout, .call = take_timeout},
      {.name = "min-syscall-us",
       .kind = SPANTAP_OPT_CALL,
       .dest = &o.min_syscall_ns,
       .call = take_min_syscall},
      {.name = "syscalls", .kind = SPANTAP_OPT_FLAG, .dest = &o.syscalls},
      {.name = "listen", .kind = SPANTAP_OPT_STRING, .dest = &listen},
      {.name = "duration", .kind = SPANTAP_OPT_CALL, .dest = &duration, .call = take_duration}};
  const struct spantap_cmdline cl =
      SPANTAP_CMDLINE("export", export_usage, opts, 2, "give a FORMAT and a DATABASE");
  int first, usage_status = spantap_args_parse(&cl, argc, argv, &first);
  if (usage_status >= 0)
    return usage_status;
  const char *format_name = argv[first], *db_path = argv[first + 1];
  int format = format_parse(format_name);
  if (format < 0) {
    fprintf(stderr,
            "spantap export: unknown format '%s' (otlp, pprof, folded, chrome or prometheus)\n",
            format_name);
    return SPANTAP_EXIT_FAIL;
  }
  if ((o.json || endpoint) && format != SPANTAP_EXPORT_OTLP) {
    fprintf(stderr, "spantap export: --json and --endpoint are for the otlp format\n");
    return SPANTAP_EXIT_USAGE;
  }
  if ((listen || duration > 0) && format != SPANTAP_EXPORT_PROMETHEUS) {
    fprintf(stderr, "spantap export: --listen and --duration are for the prometheus format\n");
    return SPANTAP_EXIT_USAGE;
  }
  if ((endpoint || listen) && output) {
    fprintf(stderr, "spantap export: -o cannot be combined with --endpoint or --listen\n");
    return SPANTAP_EXIT_USAGE;
  }
  bool binary = format == SPANTAP_EXPORT_PPROF || (format == SPANTAP_EXPORT_OTLP && !o.json);
  if (binary && !endpoint && (!output || strcmp(output, "-") == 0) && isatty(STDOUT_FILENO)) {
    fprintf(stderr, "spantap export: %s is binary: give -o FILE or redirect standard output\n",
            format_name);
    return SPANTAP_EXIT_USAGE;
  }

  char err[1024];
  sqlite3 *db = NULL;
  struct spantap_export_recording rec;
  int rc = spantap_recording_open(db_path, &db, err, sizeof err);
  if (rc == 0)
    rc = spantap_export_recording_open(db, &rec, err, sizeof err);
  if (rc < 0) {
    fprintf(stderr, "spantap export: %s\n", err);
    sqlite3_close(db);
    return SPANTAP_EXIT_FAIL;
  }
  if (listen) {
    int status = serve_metrics(&rec, listen, duration);
    sqlite3_close(db);
    return status;
  }

  struct spantap_export_sink sink;
  struct spantap_output *out = NULL;
  struct spantap_otlp_post *post = NULL;
  if (endpoint) {
    rc = spantap_otlp_post_new(endpoint, o.json, (long)(timeout * 1000), &post, err, sizeof err);
    sink = (struct spantap_export_sink){.write = spantap_otlp_post_write, .ctx = post};
  } else {
    rc = spantap_output_open(output, format == SPANTAP_EXPORT_PPROF, &out, err, sizeof err);
    sink = (struct spantap_export_sink){.write = spantap_output_write, .ctx = out};
  }
  if (rc == 0)
    rc = run_export(format, &rec, &o, &sink, err, sizeof err);
  if (rc == 0 && out) {
    rc = spantap_output_commit(out, err, sizeof err);
    out = NULL;
  }
  if (rc == 0 && post)
    fprintf(stderr, "spantap export: %lu OTLP requests accepted by %s\n",
            spantap_otlp_post_count(post), endpoint);
  spantap_output_destroy(out); /* a failed export leaves nothing behind */
  spantap_otlp_post_destroy(post);
  sqlite3_close(db);
  if (rc < 0) {
    fprintf(stderr, "spantap export: %s failed: %s\n", format_name, err);
    return SPANTAP_EXIT_FAIL;
  }
  return SPANTAP_EXIT_OK;
}
