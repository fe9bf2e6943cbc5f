/* Text source: line framing without a copy when a whole line is in the
 * buffer, one carried partial line otherwise. */
#include "collector/text_source.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/collector.h"
#include "collector/stream_parse.h"

struct spantap_text_source {
  struct spantap_collector *c;
  char *line; /* partial line carried between feeds */
  size_t line_len, line_cap;
  bool line_overflow;
};

struct spantap_text_source *spantap_text_source_new(struct spantap_collector *c) {
  struct spantap_text_source *t = calloc(1, sizeof *t);
  if (!t)
    return NULL;
  t->c = c;
  t->line_cap = 4096;
  t->line = malloc(t->line_cap);
  if (!t->line) {
    free(t);
    return NULL;
  }
  return t;
}

void spantap_text_source_destroy(struct spantap_text_source *t) {
  if (!t)
    return;
  free(t->line);
  free(t);
}

/* One whole line (without its newline): parsed and pushed. */
static int take_line(struct spantap_text_source *t, const char *line, size_t len, char *err,
                     size_t errlen) {
  if (len == 0)
    return 0;
  if (len > SPANTAP_TEXT_LINE_MAX) {
    spantap_collector_count_malformed(t->c, "line too long");
    return 0;
  }
  struct spantap_record r;
  const char *why = NULL;
  int rc = spantap_record_parse(line, len, &r, &why);
  if (rc == -EPROTO) {
    snprintf(err, errlen, "script speaks record format %" PRId64 ", this spantap reads %d",
             r.v[SPANTAP_BEGIN_format_version], SPANTAP_RECORD_FORMAT_VERSION);
    return -EIO;
  }
  if (rc < 0) {
    spantap_collector_count_malformed(t->c, why);
    return 0;
  }
  return spantap_collector_push_record(t->c, &r, err, errlen);
}

/* Appends LEN bytes of BUF to the carried line (or marks it too long). */
static int carry(struct spantap_text_source *t, const char *buf, size_t len, char *err,
                 size_t errlen) {
  if (t->line_overflow)
    return 0;
  if (t->line_len + len > SPANTAP_TEXT_LINE_MAX) {
    t->line_overflow = true;
    return 0;
  }
  if (t->line_len + len > t->line_cap) {
    size_t cap = t->line_cap * 2;
    while (cap < t->line_len + len)
      cap *= 2;
    char *l = realloc(t->line, cap);
    if (!l) {
      snprintf(err, errlen, "Failed to grow line buffer: bytes=%zu", cap);
      return -ENOMEM;
    }
    t->line = l;
    t->line_cap = cap;
  }
  memcpy(t->line + t->line_len, buf, len);
  t->line_len += len;
  return 0;
}

int spantap_text_source_feed(struct spantap_text_source *t, const char *buf, size_t len, char *err,
                             size_t errlen) {
  while (len > 0) {
    const char *nl = memchr(buf, '\n', len);
    size_t take = nl ? (size_t)(nl - buf) : len;
    int rc;
    if (!t->line_overflow && t->line_len == 0 && nl) {
      rc = take_line(t, buf, take, err, errlen); /* whole line in the buffer: no copy */
    } else {
      rc = carry(t, buf, take, err, errlen);
      if (rc == 0 && nl) {
        if (t->line_overflow)
          spantap_collector_count_malformed(t->c, "line too long");
        else
          rc = take_line(t, t->line, t->line_len, err, errlen);
        t->line_len = 0;
        t->line_overflow = false;
      }
    }
    if (rc < 0)
      return rc;
    if (!nl)
      break;
    buf = nl + 1;
    len -= take + 1;
  }
  return 0;
}

void spantap_text_source_finish(struct spantap_text_source *t) {
  if (t->line_len > 0 || t->line_overflow)
    spantap_collector_count_malformed(t->c, "truncated last line");
  t->line_len = 0;
  t->line_overflow = false;
}
