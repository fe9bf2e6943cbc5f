/* `spantap import`: store a saved record stream into a database, then print
 * its summary. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "collector/collector.h"
#include "reports/summary.h"

static const char import_usage[] =
    "Usage: spantap import [OPTIONS] STREAM\n"
    "\n"
    "Store a record stream saved by `spantap record --save-stream` (or '-' for\n"
    "standard input) into a database, symbolizing stacks with the binaries on this\n"
    "machine. Needs no root.\n"
    "\n"
    "The stream names each program and library by path and build id (its MOD\n"
    "records, read where it was recorded). A file here is used only when its\n"
    "build id is the recorded one; otherwise the debug file of that build id is\n"
    "looked for as DIR/.build-id/xx/rest.debug under each --debug-dir, and when\n"
    "there is none the module's frames keep their addresses (and its path), with\n"
    "one warning naming the module, the expected and the found build id. The same\n"
    "directories give the debuginfo of a stripped file that is the recorded one.\n"
    "\n"
    "  -o, --output FILE      the database (default trace.db); created mode 0600\n"
    "  -f, --force            replace FILE if it exists\n"
    "  -s, --stack-mode M     frame selection (0-4, default: as recorded, else 1)\n"
    "  -d, --stack-depth S    frame budget (1-32, default 8)\n"
    "  --debug-dir DIR        where debug files are found by build id (repeatable,\n"
    "                         in order; default " SPANTAP_DEBUG_DIR_DEFAULT ")\n"
    "\n"
    "Examples:\n"
    "  spantap import run.stream -o run.db\n"
    "  # recorded on a production host; its binaries' debug files copied here\n"
    "  spantap import prod.stream -o prod.db --debug-dir ./prod-debug\n";

#define DEBUG_DIRS_MAX 16

struct debug_dirs {
  const char *dirs[DEBUG_DIRS_MAX]; /* borrowed from argv */
  size_t n;
};

/* Takes one --debug-dir (the option's CALL). */
static int add_debug_dir(void *dest, const char *value, char *err, size_t errlen) {
  struct debug_dirs *d = dest;
  if (!value[0]) {
    snprintf(err, errlen, "invalid --debug-dir '' (a directory)");
    return -EINVAL;
  }
  if (d->n == DEBUG_DIRS_MAX) {
    snprintf(err, errlen, "too many --debug-dir '%s' (at most %d)", value, DEBUG_DIRS_MAX);
    return -EINVAL;
  }
  d->dirs[d->n++] = value;
  return 0;
}

/* Prints a warning of the collector (a module whose file here is another build). */
static void print_warning(const char *message, void *ctx) {
  (void)ctx;
  fprintf(stderr, "spantap import: warning: %s\n", message);
}

/* An import that failed half-way leaves nothing behind (it can be run again):
 * removes the database OUTPUT and its WAL files, and says why with ERR. */
static int import_failed(const char *output, const char *err) {
  spantap_store_remove(output);
  fprintf(stderr, "spantap import: Failed to store the stream in %s (removed it): %s\n", output,
          err);
  return SPANTAP_EXIT_FAIL;
}

int spantap_cmd_import(int argc, char **argv) {
  const char *output = "trace.db";
  bool force = false, has_mode = false;
  /* as recorded (the stream's BEGIN record) unless --stack-mode/--stack-depth are given */
  unsigned mode = SPANTAP_STACK_AS_RECORDED, depth = SPANTAP_STACK_AS_RECORDED;
  struct debug_dirs debug = {0};
  const struct spantap_opt opts[] = {
      SPANTAP_OPT_OUTPUT(&output),
      SPANTAP_OPT_FORCE(&force),
      SPANTAP_OPT_STACK_MODE(&mode, &has_mode),
      SPANTAP_OPT_STACK_DEPTH(&depth),
      {.name = "debug-dir", .kind = SPANTAP_OPT_CALL, .dest = &debug, .call = add_debug_dir}};
  const struct spantap_cmdline cl =
      SPANTAP_CMDLINE("import", import_usage, opts, 1, "give exactly one STREAM file");
  int first, status = spantap_args_parse(&cl, argc, argv, &first);
  if (status >= 0)
    return status;
  const char *path = argv[first];
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
  struct spantap_collector_opts copts = {.live = false,
                                         .stack_mode = mode,
                                         .stack_depth = depth,
                                         .debug_dirs = debug.dirs,
                                         .ndebug_dirs = debug.n,
                                         .warn = print_warning};
  struct spantap_collector *col = NULL;
  /* the debug directories also serve the stripped files that are the recorded ones */
  int rc = spantap_symbolizer_set_debug_dirs(debug.dirs, debug.n);
  if (rc < 0)
    snprintf(err, sizeof err, "Failed to set the debug directories: error=%s", strerror(-rc));
  if (rc == 0)
    rc = spantap_symbolizer_open(&sym, err, sizeof err);
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
    const struct spantap_meta_row rows[] = {
        {"complete", NULL, complete},
        {complete ? NULL : "incomplete_reason",
         s->begin_seen ? "the stream ends before the script's END record"
                       : "the stream has no BEGIN record",
         0},
        {"stack_mode", NULL, s->stack_mode},
        {"stack_depth", NULL, s->stack_depth},
        {"source", path, 0},
    };
    rc = spantap_store_meta_rows(store, rows, sizeof rows / sizeof rows[0], err, sizeof err);
    if (rc == 0)
      rc = spantap_collector_flush(col, err, sizeof err);
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
