/* A string table: each distinct text once, numbered 0, 1, 2... in the order
 * first seen, as the pprof profile's string_table and the HTML report's data
 * want them. */
#ifndef SPANTAP_COMMON_STRING_TABLE_H
#define SPANTAP_COMMON_STRING_TABLE_H

#include <stddef.h>
#include <stdint.h>

/* Zero-initialized, it is empty. strings[0..count-1] may be read directly;
 * the table owns them. Free with spantap_string_table_free. */
struct spantap_string_table {
  char **strings; /* by index */
  size_t count, cap;
  size_t *slots; /* open addressing: index + 1, 0 empty */
  size_t nslots;
};

/* The index of S in T, a copy of S added when it is new. Returns the index
 * (>= 0), or -ENOMEM with T unchanged. */
int64_t spantap_string_table_index(struct spantap_string_table *t, const char *s);

/* Frees the strings and the table's arrays, leaving T empty. */
void spantap_string_table_free(struct spantap_string_table *t);

#endif
