/* Stream parser: turns one line of a spantap record stream into a typed
 * record, using the record table in include/spantap/record_format.h. It never
 * trusts its input: malformed lines are rejected with a reason, not crashed on. */
#ifndef SPANTAP_STREAM_PARSE_H
#define SPANTAP_STREAM_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "spantap/record_format.h"

struct spantap_record {
  const struct spantap_record_desc *desc;
  int64_t v[SPANTAP_MAX_FIELDS]; /* integer fields, indexed by SPANTAP_<KIND>_<field> */
  unsigned stack_flags;          /* SPANTAP_STACK_* */
  unsigned nframes;              /* frames kept (zero slots dropped) */
  uint64_t frames[SPANTAP_MAX_FRAMES];
  uint8_t frame_slot[SPANTAP_MAX_FRAMES]; /* slot each kept frame came from */
  bool has_stack_token;                   /* the line carried an '@' token */
  const char *text;                       /* points into the parsed line; "" when none */
  size_t text_len;
};

/* Parses LINE (LEN bytes, without its newline) into REC. Returns 0, or
 * -EINVAL with a short reason in *WHY (a static string) when the line is
 * malformed. REC->text points into LINE, which must outlive REC. */
int spantap_record_parse(const char *line, size_t len, struct spantap_record *rec,
                         const char **why);

#endif
