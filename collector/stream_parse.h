/* Stream parser: turns one line of a spantap record stream into a typed
 * record, using the record table in include/spantap/record_format.h. It never
 * trusts its input: malformed lines are rejected with a reason, not crashed on. */
#ifndef SPANTAP_STREAM_PARSE_H
#define SPANTAP_STREAM_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "spantap/record.h" /* struct spantap_record */
#include "spantap/record_format.h"

/* Parses LINE (LEN bytes, without its newline) into REC. Returns 0, or
 * -EINVAL with a short reason in *WHY (a static string) when the line is
 * malformed (a MOD record's text included: include/spantap/module_record.h), or -EPROTO for a BEGIN
 * record of another format version (REC's desc and format_version are then set). REC->text points
 * into LINE, which must outlive REC. */
int spantap_record_parse(const char *line, size_t len, struct spantap_record *rec,
                         const char **why);

#endif
