/* `spantap query`: any SQL over a recording, read-only, printed as an aligned
 * table, CSV or JSON. Also opens recordings read-only for the other report
 * commands (cli/cmd_reports.c), so that they all refuse the same files the same way. */
#include <errno.h>
#include <getopt.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/commands.h"

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

int spantap_recording_open(const char *path, struct sqlite3 **out, char *err, size_t errlen) {
  *out = NULL;
  struct stat st;
  if (stat(path, &st) < 0) {
    int e = errno;
    snprintf(err, errlen, "Failed to open recording: path=%s errno=%s", path, strerror(e));
    return -e;
  }
  if (!S_ISREG(st.st_mode)) {
    snprintf(err, errlen, "Failed to open recording: path=%s is not a regular file", path);
    return -EINVAL;
  }
  sqlite3 *db = NULL;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
    snprintf(err, errlen, "Failed to open recording: path=%s error=%s", path,
             db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_close(db);
    return -EIO;
  }
  /* a recording still being written is readable; wait out its commits */
  sqlite3_busy_timeout(db, 5000);
  sqlite3_stmt *st_check = NULL;
  int rc = sqlite3_prepare_v2(db,
                              "SELECT 1 FROM sqlite_master WHERE type = 'table'"
                              " AND name = 'recording'",
                              -1, &st_check, NULL);
  int step = rc == SQLITE_OK ? sqlite3_step(st_check) : rc;
  sqlite3_finalize(st_check);
  if (step == SQLITE_DONE) {
    snprintf(err, errlen, "not a spantap recording: path=%s has no 'recording' table", path);
    sqlite3_close(db);
    return -EINVAL;
  }
  if (step != SQLITE_ROW) {
    bool not_a_db = sqlite3_errcode(db) == SQLITE_NOTADB;
    snprintf(err, errlen, "Failed to read recording: path=%s error=%s%s", path, sqlite3_errmsg(db),
             not_a_db ? " (not a spantap recording)" : "");
    sqlite3_close(db);
    return not_a_db ? -EINVAL : -EIO;
  }
  *out = db;
  return 0;
}

/* The first line of a statement's text, at most 80 characters, for messages. */
static const char *statement_excerpt(sqlite3_stmt *st, char *buf, size_t len) {
  const char *sql = sqlite3_sql(st);
  size_t n = strcspn(sql ? sql : "", "\n");
  if (n > 80)
    n = 80;
  snprintf(buf, len, "%.*s%s", (int)n, sql ? sql : "", sql && sql[n] ? " ..." : "");
  return buf;
}

int spantap_report_query(const char *db_path, const char *sql, FILE *out,
                         const struct spantap_table_opts *o, char *err, size_t errlen) {
  sqlite3 *db;
  int rc = spantap_recording_open(db_path, &db, err, errlen);
  if (rc < 0)
    return rc;
  const char *tail = sql;
  int n = 0, tables = 0;
  char excerpt[100];
  while (rc == 0 && tail && *tail) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, tail, -1, &st, &tail) != SQLITE_OK) {
      snprintf(err, errlen, "SQL error in statement %d: %s", n + 1, sqlite3_errmsg(db));
      rc = -EINVAL;
      break;
    }
    if (!st) /* only blanks or a comment left */
      continue;
    n++;
    if (!sqlite3_stmt_readonly(st)) {
      snprintf(err, errlen,
               "refused statement %d: it would write to the database, and spantap query is"
               " read-only: %s",
               n, statement_excerpt(st, excerpt, sizeof excerpt));
      rc = -EROFS;
    } else if (sqlite3_column_count(st) == 0) {
      int step;
      while ((step = sqlite3_step(st)) == SQLITE_ROW)
        ;
      if (step != SQLITE_DONE) {
        snprintf(err, errlen, "SQL error in statement %d: %s", n, sqlite3_errmsg(db));
        rc = sqlite3_errcode(db) == SQLITE_READONLY ? -EROFS : -EINVAL;
      }
    } else {
      /* result sets apart: a blank line (CRLF in CSV); JSON arrays follow each other */
      if (tables++ && o && o->format != SPANTAP_TABLE_JSON)
        fputs(o->format == SPANTAP_TABLE_CSV ? "\r\n" : "\n", out);
      char msg[400];
      int64_t rows = spantap_table_print_stmt(st, out, o, msg, sizeof msg);
      if (rows < 0) {
        snprintf(err, errlen, "SQL error in statement %d: %s", n, msg);
        rc = sqlite3_errcode(db) == SQLITE_READONLY ? -EROFS : rows == -EIO ? -EINVAL : (int)rows;
      }
    }
    sqlite3_finalize(st);
  }
  if (rc == 0 && n == 0) {
    snprintf(err, errlen, "no SQL statement given: sql='%s'", sql ? sql : "");
    rc = -EINVAL;
  }
  sqlite3_close(db);
  return rc;
}

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
  static const struct option longopts[] = {{"csv", no_argument, 0, 'c'},
                                           {"json", no_argument, 0, 'j'},
                                           {"width", required_argument, 0, 'w'},
                                           {"help", no_argument, 0, 'h'},
                                           {0, 0, 0, 0}};
  struct spantap_table_opts o = {.format = SPANTAP_TABLE_TEXT,
                                 .max_width = 48,
                                 .decimals = -1,
                                 .null_text = "NULL",
                                 .footer = true};
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "w:h", longopts, NULL)) != -1) {
    switch (c) {
      case 'c':
        o.format = SPANTAP_TABLE_CSV;
        break;
      case 'j':
        o.format = SPANTAP_TABLE_JSON;
        break;
      case 'w': {
        char *end;
        long w = strtol(optarg, &end, 10);
        if (*optarg < '0' || *optarg > '9' || *end || w > 100000) {
          fprintf(stderr, "spantap query: invalid --width '%s' (0-100000)\n", optarg);
          return SPANTAP_EXIT_USAGE;
        }
        o.max_width = (unsigned)w;
        break;
      }
      case 'h':
        fputs(query_usage, stdout);
        return SPANTAP_EXIT_OK;
      default:
        fprintf(stderr, "Try 'spantap query --help'.\n");
        return SPANTAP_EXIT_USAGE;
    }
  }
  if (optind != argc - 2) {
    fprintf(stderr, "spantap query: give a DATABASE and one SQL argument\n"
                    "Try 'spantap query --help'.\n");
    return SPANTAP_EXIT_USAGE;
  }
  char *from_stdin = NULL;
  const char *sql = argv[optind + 1];
  if (strcmp(sql, "-") == 0) {
    sql = from_stdin = read_stdin();
    if (!sql) {
      fprintf(stderr, "spantap query: failed to read SQL from standard input: errno=%s\n",
              strerror(errno));
      return SPANTAP_EXIT_FAIL;
    }
  }
  char err[1024];
  int rc = spantap_report_query(argv[optind], sql, stdout, &o, err, sizeof err);
  free(from_stdin);
  if (rc < 0) {
    fprintf(stderr, "spantap query: %s\n", err);
    return SPANTAP_EXIT_FAIL;
  }
  return SPANTAP_EXIT_OK;
}
