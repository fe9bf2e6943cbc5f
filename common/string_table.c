/* String table (see string_table.h): an array of owned strings and an
 * open-addressing index over it, kept at most half full. */
#include "common/string_table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/array_grow.h"
#include "common/hash.h"

static size_t slot_of(const char *s, size_t nslots) {
  return spantap_fnv1a(s, strlen(s)) & (nslots - 1);
}

static int rehash(struct spantap_string_table *t) {
  size_t nslots = t->nslots ? t->nslots * 2 : 1024;
  size_t *slots = calloc(nslots, sizeof *slots);
  if (!slots)
    return -ENOMEM;
  for (size_t i = 0; i < t->count; i++) {
    size_t j = slot_of(t->strings[i], nslots);
    while (slots[j])
      j = (j + 1) & (nslots - 1);
    slots[j] = i + 1;
  }
  free(t->slots);
  t->slots = slots;
  t->nslots = nslots;
  return 0;
}

int64_t spantap_string_table_index(struct spantap_string_table *t, const char *s) {
  if ((t->count + 1) * 2 > t->nslots && rehash(t) < 0)
    return -ENOMEM;
  size_t j = slot_of(s, t->nslots);
  for (; t->slots[j]; j = (j + 1) & (t->nslots - 1))
    if (strcmp(t->strings[t->slots[j] - 1], s) == 0)
      return (int64_t)(t->slots[j] - 1);
  if (spantap_array_grow((void **)&t->strings, &t->cap, t->count + 1, sizeof *t->strings) < 0)
    return -ENOMEM;
  char *copy = strdup(s);
  if (!copy)
    return -ENOMEM;
  t->strings[t->count] = copy;
  t->slots[j] = ++t->count;
  return (int64_t)(t->count - 1);
}

void spantap_string_table_free(struct spantap_string_table *t) {
  for (size_t i = 0; i < t->count; i++)
    free(t->strings[i]);
  free(t->strings);
  free(t->slots);
  *t = (struct spantap_string_table){0};
}
