/* `spantap import` and `spantap summary`: store a saved record stream, and
 * print a stored recording's summary. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/commands.h"
#include "collector/collector.h"
#include "collector/summary.h"

static const char import_usage[] =
    "Usage: spantap import [OPTIONS] STREAM\n"
    "\n"
    "Store a record stream saved by `spantap record --save-stream` (or '-' for\n"
    "standard input) into a database, symbolizing stacks with the binaries on this\n"
    "machine. Needs no root.\n"
    "\n"
    "  -o, --output FILE      the database (default trace.db); created mode 0600\n"
    "  -f, --force            replace FILE if it exists\n"
    "  -s, --stack-mode M     frame selection (0-4, default: as recorded, else 1)\n"
    "  -d, --stack-depth S    frame budget (1-64, default 8)\n"
    "\n"
    "Example:\n"
    "  spantap import run.stream -o run.db\n";

/* An import that failed half-way leaves nothing behind (it can be run again):
 * removes the database OUTPUT and its WAL files, and says why with ERR. */
static int import_failed(const char *output, const char *err) {
  spantap_store_remove(output);
  fprintf(stderr, "spantap import: Failed to store the stream in %s (removed it): %s\n", output,
          err);
  return SPANTAP_EXIT_FAIL;
}

int spantap_cmd_import(int argc, char **argv) {
  static const struct option longopts[] = {{"output", required_argument, 0, 'o'},
                                           {"force", no_argument, 0, 'f'},
                                           {"stack-mode", required_argument, 0, 's'},
                                           {"stack-depth", required_argument, 0, 'd'},
                                           {"help", no_argument, 0, 'h'},
                                           {0, 0, 0, 0}};
  const char *output = "trace.db";
  bool force = false;
  unsigned mode = SPANTAP_STACK_AS_RECORDED, depth = 8;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "o:fs:d:h", longopts, NULL)) != -1) {
    switch (c) {
      case 'o':
        output = optarg;
        break;
      case 'f':
        force = true;
        break;
      case 's':
        mode = (unsigned)atoi(optarg);
        if (mode > 4 || strspn(optarg, "0123456789") != strlen(optarg)) {
          fprintf(stderr, "spantap import: invalid --stack-mode '%s' (0-4)\n", optarg);
          return SPANTAP_EXIT_USAGE;
        }
        break;
      case 'd':
        depth = (unsigned)atoi(optarg);
        if (depth < 1 || depth > SPANTAP_MAX_FRAMES) {
          fprintf(stderr, "spantap import: invalid --stack-depth '%s' (1-%d)\n", optarg,
                  SPANTAP_MAX_FRAMES);
          return SPANTAP_EXIT_USAGE;
        }
        break;
      case 'h':
        fputs(import_usage, stdout);
        return SPANTAP_EXIT_OK;
      default:
        fprintf(stderr, "Try 'spantap import --help'.\n");
        return SPANTAP_EXIT_USAGE;
    }
  }
  if (optind != argc - 1) {
    fprintf(stderr, "spantap import: give exactly one STREAM file\nTry 'spantap import --help'.\n");
    return SPANTAP_EXIT_USAGE;
  }
  const char *path = argv[optind];
  FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
  if (!in) {
    fprintf(stderr, "spantap import: cannot open %s: %s\n", path, strerror(errno));
    return SPANTAP_EXIT_FAIL;
  }
  struct stat st;
  long long total = fstat(fileno(in), &st) == 0 && S_ISREG(st.st_mode) ? st.st_size : 0;
  char err[512];
  struct spantap_store *store;
  if (spantap_store_open(output, force, &store, err, sizeof err) < 0) {
    fprintf(stderr, "spantap import: %s\n", err);
    if (in != stdin)
      fclose(in);
    return SPANTAP_EXIT_FAIL;
  }
  struct spantap_symbolizer *sym = NULL;
  struct spantap_collector_opts copts = {.live = false, .stack_mode = mode, .stack_depth = depth};
  struct spantap_collector *col = NULL;
  int rc = spantap_symbolizer_open(&sym, err, sizeof err);
  if (rc == 0 && (rc = spantap_collector_new(store, sym, &copts, &col)) < 0)
    snprintf(err, sizeof err, "Failed to start collector: errno=%s", strerror(-rc));
  static char buf[1 << 16];
  size_t n;
  long long done = 0, next_report = 64LL << 20;
  bool tty = isatty(2);
  while (rc == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0) {
    rc = spantap_collector_feed(col, buf, n, err, sizeof err);
    done += (long long)n;
    if (tty && total > 0 && done >= next_report) {
      fprintf(stderr, "\rimporting: %lld%%", done * 100 / total);
      next_report += 64LL << 20;
    }
  }
  if (tty && total > (64LL << 20))
    fprintf(stderr, "\r");
  if (rc == 0 && ferror(in)) {
    snprintf(err, sizeof err, "Failed to read stream: path=%s errno=%s", path, strerror(errno));
    rc = -EIO;
  }
  if (rc == 0)
    rc = spantap_collector_finish(col, err, sizeof err);
  const struct spantap_collector_stats *s = col ? spantap_collector_stats(col) : NULL;
  if (rc == 0) {
    bool complete = s->begin_seen && s->end_seen;
    spantap_store_meta(store, "complete", NULL, complete);
    if (!complete)
      spantap_store_meta(store, "incomplete_reason",
                         s->begin_seen ? "the stream ends before the script's END record"
                                       : "the stream has no BEGIN record",
                         0);
    spantap_store_meta(store, "stack_mode", NULL, s->stack_mode);
    spantap_store_meta(store, "stack_depth", NULL, s->stack_depth);
    spantap_store_meta(store, "source", path, 0);
    spantap_collector_flush(col, err, sizeof err);
  }
  if (s && s->malformed) {
    fprintf(stderr, "spantap import: %llu malformed lines skipped",
            (unsigned long long)s->malformed);
    for (unsigned i = 0; i < SPANTAP_MALFORMED_EXAMPLES && i < s->malformed; i++)
      fprintf(stderr, "%s line %llu: %s", i ? "," : " (",
              (unsigned long long)s->malformed_examples[i].line_no, s->malformed_examples[i].why);
    fprintf(stderr, ")\n");
  }
  spantap_collector_destroy(col);
  spantap_symbolizer_destroy(sym);
  if (in != stdin)
    fclose(in);
  if (rc < 0) {
    spantap_store_destroy(store);
    return import_failed(output, err);
  }
  if (spantap_store_close(store, err, sizeof err) < 0)
    return import_failed(output, err);
  if (spantap_summary_print(output, stdout, 10, err, sizeof err) < 0)
    fprintf(stderr, "spantap import: %s\n", err);
  return SPANTAP_EXIT_OK;
}

int spantap_cmd_summary(int argc, char **argv) {
  if (argc != 2 || argv[1][0] == '-') {
    fprintf(argc == 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr,
            "Usage: spantap summary DATABASE\n\nPrint the summary of a recording.\n");
    return argc == 2 && strcmp(argv[1], "--help") == 0 ? SPANTAP_EXIT_OK : SPANTAP_EXIT_USAGE;
  }
  char err[512];
  if (access(argv[1], R_OK) < 0) {
    fprintf(stderr, "spantap summary: cannot read %s: %s\n", argv[1], strerror(errno));
    return SPANTAP_EXIT_FAIL;
  }
  if (spantap_summary_print(argv[1], stdout, 10, err, sizeof err) < 0) {
    fprintf(stderr, "spantap summary: %s\n", err);
    return SPANTAP_EXIT_FAIL;
  }
  return SPANTAP_EXIT_OK;
}
