/* The text of a MOD record (include/spantap/record_format.h), "BUILD_ID PATH":
 * its one definition, which the collector writes with and the stream parser
 * and the import read with. */
#ifndef SPANTAP_MODULE_RECORD_H
#define SPANTAP_MODULE_RECORD_H

#include <stddef.h>

#include "spantap/record_format.h"

/* The build id word of a file that has none. */
#define SPANTAP_BUILD_ID_NONE "-"

struct spantap_module_text {
  char build_id[SPANTAP_BUILD_ID_HEX_MAX + 1]; /* lowercase hex, "" when the file has none */
  const char *path;                            /* borrowed from the text: absolute */
  size_t path_len;
};

/* Reads the LEN bytes at TEXT as a MOD record's text into *OUT (whose path
 * points into TEXT). The build id is "-" or an even number of hex digits, at
 * most SPANTAP_BUILD_ID_HEX_MAX (either case; kept in lowercase); the path
 * is everything after the one space that follows it, and starts with '/'.
 * Returns 0, or -EINVAL with a short reason in *WHY (a static string). */
int spantap_module_text_parse(const char *text, size_t len, struct spantap_module_text *out,
                              const char **why);

/* Writes the text of a MOD record for the file PATH (absolute) whose build
 * id is BUILD_ID (hex, "" when none) into BUF (SIZE bytes, NUL-terminated).
 * Returns its length, or -EINVAL when BUILD_ID or PATH could not be read back
 * (not hex, too long, a relative path), or -ENAMETOOLONG when BUF is too small. */
int spantap_module_text_format(char *buf, size_t size, const char *build_id, const char *path);

#endif
