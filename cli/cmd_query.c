/* `spantap query`: any SQL over a recording, read-only, printed as an aligned
 * table, CSV or JSON (the body is reports/query.c). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "reports/query.h"

static const char query_usage[] =
    "Usage: spantap query [OPTIONS] DATABASE SQL\n"
    "\n"
    "Run SQL over a recording and print the rows: an aligned table with a header\n"
    "(numbers right-aligned, NULL shown as NULL, long text cut with an ellipsis), CSV\n"
    "or JSON. Several statements separated by ';' run in order, each printing its\n"
    "own table. The database is opened read-only: a statement that would write\n"
    "(INSERT, DELETE, CREATE, ...) is refused; use WITH for intermediate results.\n"
    "SQL '-' reads the statements from standard input. The tables and the ready\n"
    "views (slowest_traces, span_syscalls, span_stacks, service_time, dual_space,\n"
    "slow_vs_fast, call_sites, ...) are described in docs/schema.md and docs/queries.md.\n"
    "\n"
    "  --csv            CSV (RFC 4180: header line, CRLF line ends, quoted fields)\n"
    "  --json           a JSON array of objects, one per row\n"
    "  -w, --width N    cut text cells longer than N characters (default 48, 0: never)\n"
    "\n"
    "Examples:\n"
    "  spantap query run.db \"SELECT * FROM service_time\"\n"
    "  spantap query --csv run.db \"SELECT name, count(*), sum(dur_ns) FROM syscalls GROUP BY "
    "1\"\n";

/* Reads all of standard input into an owned string, or NULL. */
static char *read_stdin(void) {
  size_t len = 0, cap = 4096;
  char *buf = malloc(cap);
  size_t n;
  while (buf && (n = fread(buf + len, 1, cap - len - 1, stdin)) > 0) {
    len += n;
    if (cap - len < 2) {
      char *grown = realloc(buf, cap * 2);
      if (!grown) {
        free(buf);
        return NULL;
      }
      buf = grown;
      cap *= 2;
    }
  }
  if (buf)
    buf[len] = '\0';
  return buf;
}

int spantap_cmd_query(int argc, char **argv) {
  struct spantap_table_opts o = {.format = SPANTAP_TABLE_TEXT,
                                 .max_width = 48,
                                 .decimals = -1,
                                 .null_text = "NULL",
                                 .footer = true};
  const struct spantap_opt opts[] = {
      SPANTAP_OPT_FORMAT(&o.format),
      SPANTAP_OPT_NUMBER("width", 'w', &o.max_width, 0, 100000),
  };
  const struct spantap_cmdline cl =
      SPANTAP_CMDLINE("query", query_usage, opts, 2, "give a DATABASE and one SQL argument");
  int first, status = spantap_args_parse(&cl, argc, argv, &first);
  if (status >= 0)
    return status;
  char *from_stdin = NULL;
  const char *sql = argv[first + 1];
  if (strcmp(sql, "-") == 0) {
    sql = from_stdin = read_stdin();
    if (!sql) {
      fprintf(stderr, "spantap query: failed to read SQL from standard input: errno=%s\n",
              strerror(errno));
      return SPANTAP_EXIT_FAIL;
    }
  }
  char err[1024];
  int rc = spantap_report_query(argv[first], sql, stdout, &o, err, sizeof err);
  free(from_stdin);
  if (rc < 0) {
    fprintf(stderr, "spantap query: %s\n", err);
    return SPANTAP_EXIT_FAIL;
  }
  return SPANTAP_EXIT_OK;
}
