/* The record writer: prints any record kind from its description in the
 * record table, so the lines the collector writes itself (MAP, LOST, and the
 * copies of a saved stream) follow the same format as the scripts' printf.
 * The line is built in a buffer and written with one fwrite. */
#include "spantap/record.h"

#include <errno.h>
#include <string.h>

/* The longest line written: every field, every slot and a text of 64 KiB. */
#define LINE_BYTES (16 + SPANTAP_MAX_FIELDS * 21 + 8 + 256 * 17 + 65536)

static char *put_u64(char *p, uint64_t v, unsigned base) {
  static const char digits[] = "0123456789abcdef";
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = digits[v % base];
    v /= base;
  } while (v);
  while (n)
    *p++ = tmp[--n];
  return p;
}

static char *put_i64(char *p, int64_t v) {
  if (v < 0) {
    *p++ = '-';
    return put_u64(p, 0 - (uint64_t)v, 10);
  }
  return put_u64(p, (uint64_t)v, 10);
}

int spantap_record_write(FILE *out, const struct spantap_record *rec) {
  static __thread char line[LINE_BYTES];
  const struct spantap_record_desc *d = rec->desc;
  if (!d)
    return -EINVAL;
  char *p = line;
  size_t tag_len = strlen(d->tag);
  memcpy(p, d->tag, tag_len);
  p += tag_len;
  for (unsigned i = 0; i < d->nfields; i++) {
    *p++ = ' ';
    p = put_i64(p, rec->v[i]);
  }
  if (d->has_stack && rec->has_stack_token) {
    *p++ = ' ';
    *p++ = '@';
    p = put_u64(p, rec->stack_flags, 10);
    unsigned slot = 0;
    for (unsigned i = 0; i < rec->nframes && i < SPANTAP_MAX_FRAMES; i++) {
      for (; slot < rec->frame_slot[i]; slot++) {
        *p++ = ',';
        *p++ = '0';
      }
      *p++ = ',';
      p = put_u64(p, rec->frames[i], 16);
      slot++;
    }
  }
  if (d->has_text) {
    size_t n = rec->text_len < 65536 ? rec->text_len : 65536;
    *p++ = ' ';
    memcpy(p, rec->text, n);
    p += n;
  }
  *p++ = '\n';
  size_t len = (size_t)(p - line);
  errno = 0;
  if (fwrite(line, 1, len, out) != len || ferror(out))
    return errno ? -errno : -EIO;
  return 0;
}
