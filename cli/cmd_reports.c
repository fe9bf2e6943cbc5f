/* `spantap traces`, `spantap tree`, `spantap stacks` and `spantap summary`: the
 * commands of the reports that answer the usual questions about a recording's requests (which
 * were slow, where their time went, which application code asked the kernel for
 * it); their bodies are in reports/. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "reports/stacks.h"
#include "reports/summary.h"
#include "reports/traces.h"
#include "reports/tree.h"

static const char traces_usage[] =
    "Usage: spantap traces [OPTIONS] DATABASE\n"
    "\n"
    "List the recording's request traces, slowest first: trace id, duration (ms),\n"
    "spans, depth (levels of spans), the services taking part, the critical path\n"
    "(from the root, the child span that ended last, recursively: what the trace's\n"
    "end waited on), and 'incomplete' when a span did not end in order (unfinished,\n"
    "no response, reset). Then one line of totals: traces, spans, the median and\n"
    "the p99 trace duration. Traces come from TCP request/response traffic: a\n"
    "recording without 'net' events has none.\n"
    "\n"
    "  -n, --limit N      show the N slowest traces (default 20, 0: all)\n"
    "  -s, --service S    only traces with a span of service S (an executable's name)\n"
    "  --csv, --json      the table as CSV or JSON (no totals line)\n"
    "\n"
    "Examples:\n"
    "  spantap traces run.db -n 10 --service nginx\n"
    "  spantap tree run.db 42     # then draw one of them\n";

static const char tree_usage[] =
    "Usage: spantap tree DATABASE TRACE_ID\n"
    "\n"
    "Draw one trace as an indented tree, one line per span, children in start order:\n"
    "the span id, kind (server: handled a request; client: made one), service and\n"
    "pid/tid, the connection (local -> remote address), the start (ms after the\n"
    "trace's start) and duration, the span's syscalls and their time by class (net,\n"
    "file, mem) with its off-CPU time, bytes in and out, page faults, and the\n"
    "application call site at the span's start and end. '*' marks the spans on the\n"
    "critical path (from the root, the child that ended last, recursively). The note\n"
    "column gives a status other than ok (unfinished, no_response, reset) and the\n"
    "other parents a span has in span_edges ('also child of span N').\n"
    "'spantap traces' lists the trace ids.\n"
    "\n"
    "Example:\n"
    "  spantap tree run.db 42\n";

static const char stacks_usage[] =
    "Usage: spantap stacks [OPTIONS] DATABASE\n"
    "\n"
    "Rank the application call sites (the innermost frame in the application's own\n"
    "binary, view call_sites) by the total time of the syscalls made from them: total\n"
    "ms, calls, the top syscalls at the site ('read x120, write x40') and file:line\n"
    "when debuginfo was found (else the binary). Syscalls recorded without a stack\n"
    "count as '(no stack)'.\n"
    "\n"
    "  -n, --limit N    show the N hottest call sites (default 20, 0: all)\n"
    "  --span ID        only the syscalls of span ID (see 'spantap tree')\n"
    "  --csv, --json    the table as CSV or JSON (no totals line)\n"
    "\n"
    "Examples:\n"
    "  spantap stacks run.db -n 10\n"
    "  spantap stacks run.db --span 17\n";

/* Ends command CMD with the result RC of its report: a failure's message ERR
 * goes to standard error. Returns the exit status. */
static int report_status(const char *cmd, int rc, const char *err) {
  if (rc < 0) {
    fprintf(stderr, "spantap %s: %s\n", cmd, err);
    return SPANTAP_EXIT_FAIL;
  }
  return SPANTAP_EXIT_OK;
}

/* `traces` and `stacks` are the same command over different reports: one
 * DATABASE, -n, --csv/--json and an option of their own. */
static int table_report(bool traces, int argc, char **argv) {
  struct spantap_traces_opts t = {.limit = 20, .format = SPANTAP_TABLE_TEXT};
  struct spantap_stacks_opts s = {.limit = 20, .format = SPANTAP_TABLE_TEXT};
  const struct spantap_opt service = {
      .name = "service", .letter = 's', .kind = SPANTAP_OPT_STRING, .dest = &t.service};
  const struct spantap_opt span = SPANTAP_OPT_NUMBER64("span", 0, &s.span_id, 1, INT64_MAX);
  const struct spantap_opt opts[] = {SPANTAP_OPT_LIMIT(traces ? &t.limit : &s.limit),
                                     traces ? service : span,
                                     SPANTAP_OPT_FORMAT(traces ? &t.format : &s.format)};
  const struct spantap_cmdline cl =
      SPANTAP_CMDLINE(traces ? "traces" : "stacks", traces ? traces_usage : stacks_usage, opts, 1,
                      "give one DATABASE");
  int first, status = spantap_args_parse(&cl, argc, argv, &first);
  if (status >= 0)
    return status;
  char err[1024];
  int rc = traces ? spantap_report_traces(argv[first], stdout, &t, err, sizeof err)
                  : spantap_report_stacks(argv[first], stdout, &s, err, sizeof err);
  return report_status(cl.cmd, rc, err);
}

int spantap_cmd_traces(int argc, char **argv) {
  return table_report(true, argc, argv);
}

int spantap_cmd_stacks(int argc, char **argv) {
  return table_report(false, argc, argv);
}

int spantap_cmd_tree(int argc, char **argv) {
  const struct spantap_cmdline cl =
      SPANTAP_CMDLINE_NO_OPTS("tree", tree_usage, 2, "give a DATABASE and a TRACE_ID");
  int first, status = spantap_args_parse(&cl, argc, argv, &first);
  if (status >= 0)
    return status;
  char err[1024];
  uint64_t id;
  if (spantap_arg_number("TRACE_ID", argv[first + 1], 1, INT64_MAX, &id, err, sizeof err) < 0) {
    fprintf(stderr, "spantap tree: %s: a trace id from 'spantap traces'\n", err);
    return SPANTAP_EXIT_USAGE;
  }
  return report_status(cl.cmd,
                       spantap_report_tree(argv[first], (int64_t)id, stdout, err, sizeof err), err);
}

int spantap_cmd_summary(int argc, char **argv) {
  const struct spantap_cmdline cl = SPANTAP_CMDLINE_NO_OPTS(
      "summary", "Usage: spantap summary DATABASE\n\nPrint the summary of a recording.\n", 1,
      "give one DATABASE");
  int first, status = spantap_args_parse(&cl, argc, argv, &first);
  if (status >= 0)
    return status;
  char err[1024];
  return report_status(cl.cmd, spantap_summary_print(argv[first], stdout, 10, err, sizeof err),
                       err);
}
