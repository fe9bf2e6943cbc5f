/* The in-memory form of one record of the record stream (format in
 * include/spantap/record_format.h): what the stream parser decodes a line
 * into, what any other source of records (BPF maps) fills directly, and what
 * the record writer prints back as a line. */
#ifndef SPANTAP_RECORD_H
#define SPANTAP_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "spantap/record_format.h"

struct spantap_record {
  const struct spantap_record_desc *desc;
  int64_t v[SPANTAP_MAX_FIELDS]; /* integer fields, indexed by SPANTAP_<KIND>_<field> */
  unsigned stack_flags;          /* SPANTAP_STACK_* */
  unsigned nframes;              /* frames kept (zero slots dropped) */
  uint64_t frames[SPANTAP_MAX_FRAMES];
  uint8_t frame_slot[SPANTAP_MAX_FRAMES]; /* slot each kept frame came from */
  bool has_stack_token;                   /* the record carries a stack ('@' token) */
  const char *text;                       /* borrowed; "" when none */
  size_t text_len;
};

/* Writes REC as one line of the record stream to OUT, from its description:
 * the tag, the integer fields, the stack token (frames at their slots, empty
 * slots between them as 0) and the text. Returns 0, or -errno (-EIO when the
 * stream reports an error without errno) when writing failed; OUT's buffer
 * may then hold part of the line. */
int spantap_record_write(FILE *out, const struct spantap_record *rec);

#endif
