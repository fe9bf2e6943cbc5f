/* A group of rows on its way to the database: the rows (a statement id and
 * where its values start), their values, and the texts they hold, in three
 * arrays with no pointer between them, so that a group can be saved to a
 * spill file and read back as it was. The store fills groups and its writer
 * thread writes them (collector/store.c, collector/group_writer.h). */
#ifndef SPANTAP_ROW_GROUP_H
#define SPANTAP_ROW_GROUP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SPANTAP_GROUP_ROWS 2048               /* a group is handed over at this many rows */
#define SPANTAP_GROUP_TEXT_BYTES (256 * 1024) /* ... or this much text */

enum { SPANTAP_VALUE_NULL = -1, SPANTAP_VALUE_INT = -2 };

/* One bound value: an integer (LEN SPANTAP_VALUE_INT), NULL
 * (SPANTAP_VALUE_NULL), or text (LEN >= 0 bytes at offset I of the group's
 * text). */
struct spantap_value {
  int64_t i;
  int32_t len;
  int32_t unused; /* zero: no padding, so a group is saved byte for byte */
};

struct spantap_row {
  uint32_t stmt;  /* the store's statement id, or its commit marker */
  uint32_t first; /* its first value in the group's values */
};

struct spantap_row_group {
  struct spantap_row rows[SPANTAP_GROUP_ROWS + 1]; /* one past: a commit row */
  unsigned nrows;
  struct spantap_value *vals;
  size_t nvals, vals_cap;
  char *text;
  size_t text_len, text_cap;
};

/* Frees G and its arrays (NULL is a no-op). */
void spantap_row_group_free(struct spantap_row_group *g);

/* Empties G, keeping its arrays for reuse. */
void spantap_row_group_reset(struct spantap_row_group *g);

/* Writes G (borrowed) at offset AT of FD, all of it or an error. Returns the
 * bytes written, or -errno (-ENOSPC on a full disk). */
ssize_t spantap_row_group_save(const struct spantap_row_group *g, int fd, off_t at);

/* Reads the group saved at offset AT of FD into *G: a group to reuse, or NULL,
 * then a new one is allocated (the caller owns it). Returns the bytes read
 * (what spantap_row_group_save returned), -ENOMEM, -EIO (short file or read
 * error), or -EPROTO when the bytes there are not a saved group. */
ssize_t spantap_row_group_load(int fd, off_t at, struct spantap_row_group **g);

#endif
