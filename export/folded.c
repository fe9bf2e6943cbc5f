/* spantap export folded: Brendan Gregg's folded stacks, one line per
 * (stack, process, syscall): "service;outer;...;inner;syscall NANOSECONDS",
 * the syscall time spent from that stack, for flamegraph.pl, speedscope and
 * inferno. Frames never contain ';' or a line break (replaced by '_'). */
#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "export/export.h"
#include "export/sql_rows.h"
#include "export/stack_text.h"

/* Appends S to LINE as one frame, without the characters folded lines reserve. */
static size_t append_frame(char *line, size_t len, size_t cap, const char *s, bool first) {
  if (!first && len + 1 < cap)
    line[len++] = ';';
  for (; *s && len + 1 < cap; s++)
    line[len++] = *s == ';' || *s == '\n' || *s == '\r' ? '_' : *s == ' ' ? '_' : *s;
  line[len] = '\0';
  return len;
}

int spantap_export_folded(const struct spantap_export_recording *rec,
                          const struct spantap_export_sink *sink, char *err, size_t errlen) {
  struct spantap_stack_reader *stacks = NULL;
  sqlite3_stmt *st = NULL;
  int rc = spantap_stack_reader_new(rec->db, &stacks, err, errlen);
  if (rc == 0)
    rc = spantap_rows_prepare(rec->db,
                              "SELECT s.stack_id, s.pid, p.exe, s.name, sum(s.dur_ns)"
                              " FROM syscalls s LEFT JOIN processes p ON p.pid = s.pid"
                              " GROUP BY s.stack_id, s.pid, s.name",
                              "syscalls by stack", &st, err, errlen);
  int got = 0;
  while (rc == 0 && (got = spantap_rows_next(st, "syscalls by stack", err, errlen)) == 1) {
    struct spantap_stack_frame frames[SPANTAP_STACK_TEXT_FRAMES];
    int n = 0;
    if (!spantap_rows_is_null(st, 0)) {
      n = spantap_stack_reader_read(stacks, spantap_rows_int(st, 0), frames, err, errlen);
      if (n < 0) {
        rc = n;
        break;
      }
    }
    char line[SPANTAP_STACK_TEXT_FRAMES * 170 + 600], pidname[32];
    const char *exe = spantap_rows_text(st, 2, NULL);
    snprintf(pidname, sizeof pidname, "pid_%lld", (long long)spantap_rows_int(st, 1));
    size_t len =
        append_frame(line, 0, sizeof line - 32, exe ? spantap_rows_basename(exe) : pidname, true);
    for (int i = n - 1; i >= 0; i--)
      len = append_frame(line, len, sizeof line - 32, frames[i].name, false);
    len = append_frame(line, len, sizeof line - 32, spantap_rows_text(st, 3, "?"), false);
    len +=
        (size_t)snprintf(line + len, sizeof line - len, " %" PRId64 "\n", spantap_rows_int(st, 4));
    rc = sink->write(sink->ctx, line, len, err, errlen);
  }
  if (rc == 0 && got < 0)
    rc = got;
  sqlite3_finalize(st);
  spantap_stack_reader_destroy(stacks);
  return rc;
}
