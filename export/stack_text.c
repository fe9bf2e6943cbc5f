/* Stored user stacks as frame names (stack_text.h). */
#include "export/stack_text.h"

#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

#include "export/sql_rows.h"

struct spantap_stack_reader {
  sqlite3_stmt *st;
};

int spantap_stack_reader_new(sqlite3 *db, struct spantap_stack_reader **out, char *err,
                             size_t errlen) {
  *out = NULL;
  struct spantap_stack_reader *r = calloc(1, sizeof *r);
  if (!r) {
    snprintf(err, errlen, "Failed to allocate the stack reader");
    return -ENOMEM;
  }
  int rc = spantap_rows_prepare(db,
                                "SELECT f.id, f.function, m.path, f.rel_addr, f.file, f.line"
                                " FROM stack_frames sf JOIN frames f ON f.id = sf.frame_id"
                                " LEFT JOIN modules m ON m.id = f.module_id"
                                " WHERE sf.stack_id = ? ORDER BY sf.idx",
                                "stack frames", &r->st, err, errlen);
  if (rc < 0) {
    free(r);
    return rc;
  }
  *out = r;
  return 0;
}

void spantap_stack_reader_destroy(struct spantap_stack_reader *r) {
  if (!r)
    return;
  sqlite3_finalize(r->st);
  free(r);
}

void spantap_stack_frame_name(const char *function, const char *module, int64_t rel_addr, char *out,
                              size_t len) {
  if (function)
    snprintf(out, len, "%s", function);
  else
    snprintf(out, len, "%s+0x%" PRIx64, module ? spantap_rows_basename(module) : "?",
             (uint64_t)rel_addr);
}

int spantap_stack_reader_read(struct spantap_stack_reader *r, int64_t stack_id,
                              struct spantap_stack_frame *frames, char *err, size_t errlen) {
  sqlite3_reset(r->st);
  sqlite3_bind_int64(r->st, 1, stack_id);
  int n = 0, got = 0;
  while (n < SPANTAP_STACK_TEXT_FRAMES &&
         (got = spantap_rows_next(r->st, "stack frames", err, errlen)) == 1) {
    struct spantap_stack_frame *f = &frames[n++];
    f->frame_id = spantap_rows_int(r->st, 0);
    spantap_stack_frame_name(spantap_rows_text(r->st, 1, NULL), spantap_rows_text(r->st, 2, NULL),
                             spantap_rows_int(r->st, 3), f->name, sizeof f->name);
    const char *file = spantap_rows_text(r->st, 4, NULL);
    if (file)
      snprintf(f->file, sizeof f->file, "%s:%lld", file, (long long)spantap_rows_int(r->st, 5));
    else
      f->file[0] = '\0';
  }
  if (n < SPANTAP_STACK_TEXT_FRAMES && got < 0)
    return got;
  sqlite3_reset(r->st);
  return n;
}
