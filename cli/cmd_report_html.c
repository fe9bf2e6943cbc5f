/* `spantap report`: one self-contained HTML page of a recording (latency
 * explorer, traces, flame graph, dual space, health), opened offline. The page
 * itself is written by reports/html/; this is the command line around it. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "reports/recording.h"
#include "reports/html/report_page.h"

static const char report_usage[] =
    "Usage: spantap report [OPTIONS] DATABASE\n"
    "\n"
    "Write one HTML page that shows why a recording's requests are slow, and that\n"
    "opens in a browser offline (d3 and all the data are inside; it makes no\n"
    "network request). The recording is only read. The page has:\n"
    "  health           events lost, an incomplete recording, spans marked loss,\n"
    "                   unsymbolized frames (at the top, always shown)\n"
    "  latency explorer a log-scale latency histogram per service over each request's\n"
    "                   kernel breakdown in parallel coordinates (net, file, mem syscall\n"
    "                   time, off-CPU, syscalls, bytes in/out, page faults); drag across\n"
    "                   a histogram to select a latency band, along an axis to filter;\n"
    "                   the selection against the rest in numbers\n"
    "  traces           the slowest traces; click one for its waterfall (spans on their\n"
    "                   threads, critical path, syscalls on hover, call sites)\n"
    "  code             a flame graph of the stacks weighted by syscall time, per\n"
    "                   service, following the selection\n"
    "  dual space       syscalls x application call sites; with --compare, the cells\n"
    "                   unique to one recording or much heavier in one stand out\n"
    "Above --max-spans spans the page keeps one trace in K (and the slowest ones)\n"
    "and says so. docs/report.md describes each view.\n"
    "\n"
    "  -o, --output FILE     the page (default: DATABASE with .html for .db); written\n"
    "                        to a temporary file first, mode 0600, replaced when complete\n"
    "  -c, --compare OTHER   a second recording (say a normal run) to compare with\n"
    "  -m, --max-spans N     keep whole traces up to about N spans (default 100000)\n"
    "  -n, --traces N        list the N slowest traces (default 100)\n"
    "\n"
    "Exit status: 0 written (also for a recording without spans: the page says what\n"
    "is missing), 1 not a recording or the page could not be written (nothing is\n"
    "left behind), 2 bad command line.\n"
    "\n"
    "Examples:\n"
    "  spantap report demo.db                       # writes demo.html\n"
    "  spantap report slow.db --compare normal.db -o slow.html\n";

/* DB with its .db suffix replaced by .html (or .html appended): owned, or NULL. */
static char *default_output(const char *db) {
  size_t n = strlen(db);
  if (n > 3 && strcmp(db + n - 3, ".db") == 0)
    n -= 3;
  char *out = malloc(n + sizeof ".html");
  if (out)
    snprintf(out, n + sizeof ".html", "%.*s.html", (int)n, db);
  return out;
}

int spantap_cmd_report(int argc, char **argv) {
  const char *output = NULL, *compare_path = NULL;
  struct spantap_report_data_opts o = {0};
  const struct spantap_opt opts[] = {
      SPANTAP_OPT_OUTPUT(&output),
      {.name = "compare", .letter = 'c', .kind = SPANTAP_OPT_STRING, .dest = &compare_path},
      SPANTAP_OPT_NUMBER64("max-spans", 'm', &o.max_spans, 1, SPANTAP_COUNT_MAX),
      SPANTAP_OPT_NUMBER64("traces", 'n', &o.traces, 1, SPANTAP_COUNT_MAX)};
  const struct spantap_cmdline cl =
      SPANTAP_CMDLINE("report", report_usage, opts, 1, "give exactly one DATABASE");
  int first, status = spantap_args_parse(&cl, argc, argv, &first);
  if (status >= 0)
    return status;
  const char *db_path = argv[first];
  char *owned_output = output ? NULL : default_output(db_path);
  if (!output && !owned_output) {
    fprintf(stderr, "spantap report: out of memory\n");
    return SPANTAP_EXIT_FAIL;
  }
  if (!output)
    output = owned_output;
  o.name = db_path;
  o.compare_name = compare_path;
  char err[1024];
  struct sqlite3 *db = NULL, *compare = NULL;
  struct spantap_report_data_info info;
  int rc = spantap_recording_open(db_path, &db, err, sizeof err);
  if (rc == 0 && compare_path &&
      (rc = spantap_recording_open(compare_path, &compare, err, sizeof err)) < 0) {
    char why[sizeof err];
    memcpy(why, err, sizeof why);
    snprintf(err, sizeof err, "the --compare recording: %.900s", why);
  }
  if (rc == 0)
    rc = spantap_report_page_write(output, db, compare, &o, &info, err, sizeof err);
  sqlite3_close(compare);
  sqlite3_close(db);
  if (rc < 0) {
    fprintf(stderr, "spantap report: %s (no report written)\n", err);
    free(owned_output);
    return SPANTAP_EXIT_FAIL;
  }
  if (info.missing[0])
    fprintf(stderr, "spantap report: %s: %s; the page says so instead of drawing empty charts\n",
            db_path, info.missing);
  if (info.sample_every > 1)
    fprintf(stderr,
            "spantap report: %lld spans is above --max-spans %lld: the page keeps one trace in "
            "%lld and the %lld slowest (%lld spans), and says so\n",
            (long long)info.spans,
            (long long)(o.max_spans ? o.max_spans : SPANTAP_REPORT_MAX_SPANS),
            (long long)info.sample_every, (long long)(o.traces ? o.traces : SPANTAP_REPORT_TRACES),
            (long long)info.spans_shown);
  printf("spantap report: wrote %s (%lld traces, %lld spans%s, %lld syscalls)\n", output,
         (long long)info.traces, (long long)info.spans_shown, info.sample_every > 1 ? " kept" : "",
         (long long)info.syscalls);
  free(owned_output);
  return SPANTAP_EXIT_OK;
}
