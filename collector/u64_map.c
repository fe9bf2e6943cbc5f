/* Open addressing with linear probing and backward-shift deletion (no
 * tombstones), so lookups stay short however many entries come and go. */
#include "collector/u64_map.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

struct slot {
  uint64_t key;
  void *value; /* NULL: empty */
};

struct spantap_u64_map {
  struct slot *slots;
  size_t cap, count; /* cap is a power of two */
};

static size_t slot_of(uint64_t key, size_t cap) {
  key ^= key >> 33;
  key *= 0xff51afd7ed558ccdULL;
  key ^= key >> 33;
  return (size_t)key & (cap - 1);
}

struct spantap_u64_map *spantap_u64_map_new(void) {
  struct spantap_u64_map *m = calloc(1, sizeof *m);
  if (!m)
    return NULL;
  m->cap = 64;
  m->slots = calloc(m->cap, sizeof *m->slots);
  if (!m->slots) {
    free(m);
    return NULL;
  }
  return m;
}

void spantap_u64_map_destroy(struct spantap_u64_map *m) {
  if (!m)
    return;
  free(m->slots);
  free(m);
}

void *spantap_u64_map_get(const struct spantap_u64_map *m, uint64_t key) {
  for (size_t i = slot_of(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
    if (!m->slots[i].value)
      return NULL;
    if (m->slots[i].key == key)
      return m->slots[i].value;
  }
}

static int grow(struct spantap_u64_map *m) {
  size_t cap = m->cap * 2;
  struct slot *slots = calloc(cap, sizeof *slots);
  if (!slots)
    return -ENOMEM;
  for (size_t i = 0; i < m->cap; i++) {
    if (!m->slots[i].value)
      continue;
    size_t j = slot_of(m->slots[i].key, cap);
    while (slots[j].value)
      j = (j + 1) & (cap - 1);
    slots[j] = m->slots[i];
  }
  free(m->slots);
  m->slots = slots;
  m->cap = cap;
  return 0;
}

int spantap_u64_map_put(struct spantap_u64_map *m, uint64_t key, void *value) {
  if ((m->count + 1) * 4 > m->cap * 3 && grow(m) < 0)
    return -ENOMEM;
  size_t i = slot_of(key, m->cap);
  while (m->slots[i].value && m->slots[i].key != key)
    i = (i + 1) & (m->cap - 1);
  if (!m->slots[i].value)
    m->count++;
  m->slots[i] = (struct slot){key, value};
  return 0;
}

void *spantap_u64_map_remove(struct spantap_u64_map *m, uint64_t key) {
  size_t mask = m->cap - 1, i = slot_of(key, m->cap);
  while (m->slots[i].value && m->slots[i].key != key)
    i = (i + 1) & mask;
  void *value = m->slots[i].value;
  if (!value)
    return NULL;
  m->count--;
  m->slots[i].value = NULL;
  /* shift back the entries whose probe run passes through the hole at i */
  for (size_t j = (i + 1) & mask; m->slots[j].value; j = (j + 1) & mask) {
    size_t home = slot_of(m->slots[j].key, m->cap);
    bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
    if (stays)
      continue;
    m->slots[i] = m->slots[j];
    m->slots[j].value = NULL;
    i = j;
  }
  return value;
}

void spantap_u64_map_free_values(struct spantap_u64_map *m) {
  if (!m)
    return;
  for (size_t i = 0; i < m->cap; i++)
    free(m->slots[i].value);
}

size_t spantap_u64_map_count(const struct spantap_u64_map *m) {
  return m->count;
}

void spantap_u64_map_foreach(const struct spantap_u64_map *m,
                             void (*fn)(uint64_t key, void *value, void *ctx), void *ctx) {
  for (size_t i = 0; i < m->cap; i++)
    if (m->slots[i].value)
      fn(m->slots[i].key, m->slots[i].value, ctx);
}
