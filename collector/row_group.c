/* Row groups (collector/row_group.h) and their spill-file form: a header
 * (a tag, the three counts) followed by the rows, the values and the text,
 * each array as it is in memory, written and read back piece by piece. The file is this process's
 * own scratch space, read back by the same build, so the host's layout is the format. */
#include "collector/row_group.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/array_grow.h"

#define SAVED_GROUP_TAG 0x53505247u /* "SPRG" */

struct saved_group_header {
  uint32_t tag;
  uint32_t nrows;
  uint64_t nvals;
  uint64_t text_len;
};

void spantap_row_group_free(struct spantap_row_group *g) {
  if (!g)
    return;
  free(g->vals);
  free(g->text);
  free(g);
}

void spantap_row_group_reset(struct spantap_row_group *g) {
  g->nrows = 0;
  g->nvals = g->text_len = 0;
}

/* Writes LEN bytes of BUF at AT of FD, all of them. Returns 0 or -errno. */
static int write_exact(int fd, const void *buf, size_t len, off_t at) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = pwrite(fd, (const char *)buf + done, len - done, at + (off_t)done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -errno;
    if (n == 0)
      return -EIO;
    done += (size_t)n;
  }
  return 0;
}

/* Reads LEN bytes at AT of FD into BUF. Returns 0, -errno, or -EIO at the
 * file's end. */
static int read_exact(int fd, void *buf, size_t len, off_t at) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = pread(fd, (char *)buf + done, len - done, at + (off_t)done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -errno;
    if (n == 0)
      return -EIO;
    done += (size_t)n;
  }
  return 0;
}

ssize_t spantap_row_group_save(const struct spantap_row_group *g, int fd, off_t at) {
  struct saved_group_header h = {
      .tag = SAVED_GROUP_TAG, .nrows = g->nrows, .nvals = g->nvals, .text_len = g->text_len};
  size_t rows_len = g->nrows * sizeof *g->rows, vals_len = g->nvals * sizeof *g->vals;
  off_t p = at + (off_t)sizeof h;
  int rc;
  if ((rc = write_exact(fd, &h, sizeof h, at)) < 0 ||
      (rc = write_exact(fd, g->rows, rows_len, p)) < 0 ||
      (rc = write_exact(fd, g->vals, vals_len, p + (off_t)rows_len)) < 0 ||
      (rc = write_exact(fd, g->text, g->text_len, p + (off_t)(rows_len + vals_len))) < 0)
    return rc;
  return (ssize_t)(sizeof h + rows_len + vals_len + g->text_len);
}

ssize_t spantap_row_group_load(int fd, off_t at, struct spantap_row_group **out) {
  struct saved_group_header h;
  int rc = read_exact(fd, &h, sizeof h, at);
  if (rc < 0)
    return rc;
  if (h.tag != SAVED_GROUP_TAG || h.nrows > SPANTAP_GROUP_ROWS + 1 || h.nvals > SIZE_MAX / 64 ||
      h.text_len > SIZE_MAX / 2)
    return -EPROTO;
  struct spantap_row_group *g = *out;
  if (!g && !(g = calloc(1, sizeof *g)))
    return -ENOMEM;
  *out = g;
  spantap_row_group_reset(g);
  if ((h.nvals > g->vals_cap &&
       spantap_array_grow((void **)&g->vals, &g->vals_cap, h.nvals, sizeof *g->vals) < 0) ||
      (h.text_len > g->text_cap &&
       spantap_array_grow((void **)&g->text, &g->text_cap, h.text_len, 1) < 0))
    return -ENOMEM;
  off_t p = at + (off_t)sizeof h;
  size_t rows_len = h.nrows * sizeof *g->rows, vals_len = h.nvals * sizeof *g->vals;
  if ((rc = read_exact(fd, g->rows, rows_len, p)) < 0 ||
      (rc = read_exact(fd, g->vals, vals_len, p + (off_t)rows_len)) < 0 ||
      (rc = read_exact(fd, g->text, h.text_len, p + (off_t)(rows_len + vals_len))) < 0)
    return rc;
  g->nrows = h.nrows;
  g->nvals = h.nvals;
  g->text_len = h.text_len;
  return (ssize_t)(sizeof h + rows_len + vals_len + h.text_len);
}
