/* The record description table, expanded from include/spantap/record_format.h.
 * Both the script generator and the stream parser read records through it. */
#include "spantap/record_format.h"

#include <string.h>

#define SPANTAP_FIELD_NAME(kind, field) #field,
#define SPANTAP_NAMES(kind, tag, fields, stack, text, script)                                      \
  static const char *const names_##kind[] = {fields(SPANTAP_FIELD_NAME)};
SPANTAP_RECORDS(SPANTAP_NAMES)
#undef SPANTAP_NAMES

static const struct spantap_record_desc descs[SPANTAP_REC__COUNT] = {
#define SPANTAP_DESC(k_, tag_, fields, stack, text, script)                                        \
  [SPANTAP_REC_##k_] = {.kind = SPANTAP_REC_##k_,                                                  \
                        .tag = tag_,                                                               \
                        .nfields = sizeof(names_##k_) / sizeof(names_##k_[0]),                     \
                        .field_names = names_##k_,                                                 \
                        .has_stack = stack,                                                        \
                        .has_text = text,                                                          \
                        .written_by_script = script},
    SPANTAP_RECORDS(SPANTAP_DESC)
#undef SPANTAP_DESC
};

#define SPANTAP_CHECK_WIDTH(kind, tag, fields, stack, text, script)                                \
  _Static_assert(sizeof(names_##kind) / sizeof(names_##kind[0]) <= SPANTAP_MAX_FIELDS,             \
                 #kind " has more fields than SPANTAP_MAX_FIELDS");
SPANTAP_RECORDS(SPANTAP_CHECK_WIDTH)
#undef SPANTAP_CHECK_WIDTH

const struct spantap_record_desc *spantap_record_desc_get(enum spantap_record_kind kind) {
  if ((unsigned)kind >= SPANTAP_REC__COUNT)
    return NULL;
  return &descs[kind];
}

const struct spantap_record_desc *spantap_record_desc_by_tag(const char *tag, size_t len) {
  for (unsigned i = 0; i < SPANTAP_REC__COUNT; i++)
    if (strlen(descs[i].tag) == len && memcmp(descs[i].tag, tag, len) == 0)
      return &descs[i];
  return NULL;
}

bool spantap_record_desc_timed(const struct spantap_record_desc *d, bool *has_dur) {
  bool timed = d->nfields >= 1 && strcmp(d->field_names[0], "ts") == 0;
  if (has_dur)
    *has_dur = timed && d->nfields >= 2 && strcmp(d->field_names[1], "dur") == 0;
  return timed;
}
