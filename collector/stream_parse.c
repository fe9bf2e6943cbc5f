/* Stream parser for spantap record lines (format in
 * include/spantap/record_format.h). Hand-written tokenizing, no allocation:
 * the collector runs it on every line at hundreds of thousands of lines/s. */
#include "collector/stream_parse.h"

#include <errno.h>
#include <string.h>

#include "spantap/module_record.h"

/* Parses a signed decimal at *P (up to END); advances *P. */
static int parse_int(const char **p, const char *end, int64_t *out) {
  const char *s = *p;
  bool neg = false;
  if (s < end && (*s == '-' || *s == '+')) {
    neg = *s == '-';
    s++;
  }
  if (s >= end || *s < '0' || *s > '9')
    return -EINVAL;
  uint64_t v = 0;
  while (s < end && *s >= '0' && *s <= '9') {
    uint64_t d = (uint64_t)(*s - '0');
    if (v > (UINT64_MAX - d) / 10)
      return -ERANGE;
    v = v * 10 + d;
    s++;
  }
  *out = neg ? (int64_t)(0 - v) : (int64_t)v;
  *p = s;
  return 0;
}

/* Parses hex (optional 0x) at *P; advances *P. */
static int parse_hex(const char **p, const char *end, uint64_t *out) {
  const char *s = *p;
  if (end - s > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
    s += 2;
  uint64_t v = 0;
  int n = 0;
  for (; s < end; s++, n++) {
    int d;
    if (*s >= '0' && *s <= '9')
      d = *s - '0';
    else if (*s >= 'a' && *s <= 'f')
      d = *s - 'a' + 10;
    else if (*s >= 'A' && *s <= 'F')
      d = *s - 'A' + 10;
    else
      break;
    if (n >= 16)
      return -ERANGE;
    v = (v << 4) | (uint64_t)d;
  }
  if (n == 0)
    return -EINVAL;
  *out = v;
  *p = s;
  return 0;
}

static int parse_stack(const char **p, const char *end, struct spantap_record *rec,
                       const char **why) {
  const char *s = *p + 1; /* past '@' */
  int64_t flags;
  if (parse_int(&s, end, &flags) < 0 || flags < 0 || flags > 255) {
    *why = "bad stack flags";
    return -EINVAL;
  }
  rec->stack_flags = (unsigned)flags;
  unsigned slot = 0;
  while (s < end && *s == ',') {
    s++;
    uint64_t addr;
    if (parse_hex(&s, end, &addr) < 0) {
      *why = "bad stack frame";
      return -EINVAL;
    }
    if (slot >= 255) {
      *why = "too many stack frames";
      return -EINVAL;
    }
    if (addr != 0 && rec->nframes < SPANTAP_MAX_FRAMES) {
      rec->frame_slot[rec->nframes] = (uint8_t)slot;
      rec->frames[rec->nframes++] = addr;
    }
    slot++;
  }
  rec->has_stack_token = true;
  *p = s;
  return 0;
}

int spantap_record_parse(const char *line, size_t len, struct spantap_record *rec,
                         const char **why) {
  const char *p = line, *end = line + len;
  rec->desc = NULL;
  rec->nframes = 0;
  rec->stack_flags = 0;
  rec->has_stack_token = false;
  rec->text = "";
  rec->text_len = 0;
  if (len > 0 && line[len - 1] == '\r')
    end--;
  const char *tag_end = memchr(p, ' ', (size_t)(end - p));
  if (!tag_end)
    tag_end = end;
  const struct spantap_record_desc *d = spantap_record_desc_by_tag(p, (size_t)(tag_end - p));
  if (!d) {
    *why = "unknown record tag";
    return -EINVAL;
  }
  p = tag_end;
  for (unsigned i = 0; i < d->nfields; i++) {
    if (p >= end || *p != ' ') {
      *why = "too few fields";
      return -EINVAL;
    }
    p++;
    if (parse_int(&p, end, &rec->v[i]) < 0) {
      *why = "bad integer field";
      return -EINVAL;
    }
    /* another version's BEGIN may have other fields: its version is enough */
    if (i == SPANTAP_BEGIN_format_version && d->kind == SPANTAP_REC_BEGIN &&
        rec->v[i] != SPANTAP_RECORD_FORMAT_VERSION) {
      rec->desc = d;
      *why = "another record format version";
      return -EPROTO;
    }
  }
  if (d->has_stack && p + 1 < end && p[0] == ' ' && p[1] == '@') {
    p++;
    if (parse_stack(&p, end, rec, why) < 0)
      return -EINVAL;
  }
  if (d->has_text) {
    if (p >= end || *p != ' ') {
      *why = "missing text field";
      return -EINVAL;
    }
    rec->text = p + 1;
    rec->text_len = (size_t)(end - p - 1);
    p = end;
    struct spantap_module_text mod;
    if (d->kind == SPANTAP_REC_MODULE &&
        spantap_module_text_parse(rec->text, rec->text_len, &mod, why) < 0)
      return -EINVAL;
  }
  if (p != end) {
    *why = "trailing garbage";
    return -EINVAL;
  }
  rec->desc = d;
  return 0;
}
