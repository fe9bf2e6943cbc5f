/* The subcommands of the spantap program; each returns the exit status. */
#ifndef SPANTAP_CLI_COMMANDS_H
#define SPANTAP_CLI_COMMANDS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cli/table_print.h"

int spantap_cmd_record(int argc, char **argv);
int spantap_cmd_script(int argc, char **argv);
int spantap_cmd_import(int argc, char **argv);
int spantap_cmd_setup(int argc, char **argv);
int spantap_cmd_summary(int argc, char **argv);
int spantap_cmd_demo(int argc, char **argv);
int spantap_cmd_query(int argc, char **argv);
int spantap_cmd_traces(int argc, char **argv);
int spantap_cmd_tree(int argc, char **argv);
int spantap_cmd_stacks(int argc, char **argv);
int spantap_cmd_export(int argc, char **argv);

/* The bodies of the read commands, callable without the command line (the
 * tests call them). Each reads the recording DB read-only, prints to OUT and
 * returns 0 or a negative errno with ERR saying what failed with which values:
 * -ENOENT no such DB (or trace, or span), -EINVAL not a spantap recording or an
 * SQL error, -EROFS a statement that would write, -EIO another failure. */
struct sqlite3;

/* Opens the recording at PATH read-only (never creating it) and checks that it
 * is a spantap recording (it has a `recording` table). Returns an owned
 * connection in *OUT (close with sqlite3_close), or NULL and a negative errno. */
int spantap_recording_open(const char *path, struct sqlite3 **out, char *err, size_t errlen);

/* `spantap query`: runs the `;`-separated statements of SQL in order, printing
 * each one's rows as a table in the format of O. */
int spantap_report_query(const char *db, const char *sql, FILE *out,
                         const struct spantap_table_opts *o, char *err, size_t errlen);

struct spantap_traces_opts {
  int64_t limit;       /* at most this many traces; 0: all */
  const char *service; /* only traces with a span of this service; NULL: all */
  enum spantap_table_format format;
};

/* `spantap traces`: the slowest traces first, then (as text) a line of totals. */
int spantap_report_traces(const char *db, FILE *out, const struct spantap_traces_opts *o, char *err,
                          size_t errlen);

/* `spantap tree`: the spans of trace TRACE_ID as an indented tree. */
int spantap_report_tree(const char *db, int64_t trace_id, FILE *out, char *err, size_t errlen);

struct spantap_stacks_opts {
  int64_t limit;   /* at most this many call sites; 0: all */
  int64_t span_id; /* only the syscalls of this span; 0: all syscalls */
  enum spantap_table_format format;
};

/* `spantap stacks`: application call sites by total syscall time. */
int spantap_report_stacks(const char *db, FILE *out, const struct spantap_stacks_opts *o, char *err,
                          size_t errlen);

/* Exit statuses. */
#define SPANTAP_EXIT_OK 0
#define SPANTAP_EXIT_FAIL 1       /* something failed; nothing (more) was written */
#define SPANTAP_EXIT_USAGE 2      /* bad command line */
#define SPANTAP_EXIT_INCOMPLETE 3 /* a recording was stored but is incomplete */

#endif
