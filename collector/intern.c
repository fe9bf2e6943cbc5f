/* Interning table: open addressing with linear probing over a power-of-two
 * slot array; keys live in one growing arena so a lookup costs one hash (a
 * word at a time) and, usually, one memcmp. */
#include "collector/intern.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct slot {
  uint64_t hash;
  size_t key_off; /* into arena */
  uint32_t key_len;
  int64_t id; /* 0: empty slot */
};

struct spantap_intern {
  struct slot *slots;
  size_t nslots, count;
  unsigned char *arena;
  size_t arena_len, arena_cap;
};

/* Eight bytes at a time (keys are mostly arrays of 64-bit ids and
 * addresses), each word mixed in by a multiply, then murmur3's final mix. */
static uint64_t hash_bytes(const void *key, size_t len) {
  const unsigned char *p = key;
  uint64_t h = UINT64_C(0x9e3779b97f4a7c15) ^ (len * UINT64_C(0xc2b2ae3d27d4eb4f));
  uint64_t w;
  for (; len >= 8; p += 8, len -= 8) {
    memcpy(&w, p, 8);
    h = (h ^ w) * UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 32;
  }
  if (len) {
    w = 0;
    memcpy(&w, p, len);
    h = (h ^ w) * UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 32;
  }
  h ^= h >> 33;
  h *= UINT64_C(0xc4ceb9fe1a85ec53);
  h ^= h >> 33;
  return h;
}

struct spantap_intern *spantap_intern_new(void) {
  struct spantap_intern *t = calloc(1, sizeof *t);
  if (!t)
    return NULL;
  t->nslots = 1024;
  t->slots = calloc(t->nslots, sizeof *t->slots);
  if (!t->slots) {
    free(t);
    return NULL;
  }
  return t;
}

void spantap_intern_destroy(struct spantap_intern *t) {
  if (!t)
    return;
  free(t->slots);
  free(t->arena);
  free(t);
}

static int grow(struct spantap_intern *t) {
  size_t n = t->nslots * 2;
  struct slot *s = calloc(n, sizeof *s);
  if (!s)
    return -ENOMEM;
  for (size_t i = 0; i < t->nslots; i++) {
    if (!t->slots[i].id)
      continue;
    size_t j = t->slots[i].hash & (n - 1);
    while (s[j].id)
      j = (j + 1) & (n - 1);
    s[j] = t->slots[i];
  }
  free(t->slots);
  t->slots = s;
  t->nslots = n;
  return 0;
}

int64_t spantap_intern_get(struct spantap_intern *t, const void *key, size_t len, bool create,
                           bool *created) {
  if (created)
    *created = false;
  uint64_t h = hash_bytes(key, len);
  size_t i = h & (t->nslots - 1);
  while (t->slots[i].id) {
    struct slot *s = &t->slots[i];
    if (s->hash == h && s->key_len == len && memcmp(t->arena + s->key_off, key, len) == 0)
      return s->id;
    i = (i + 1) & (t->nslots - 1);
  }
  if (!create)
    return 0;
  if (t->arena_len + len > t->arena_cap) {
    size_t cap = t->arena_cap ? t->arena_cap * 2 : 65536;
    while (cap < t->arena_len + len)
      cap *= 2;
    unsigned char *a = realloc(t->arena, cap);
    if (!a)
      return -ENOMEM;
    t->arena = a;
    t->arena_cap = cap;
  }
  memcpy(t->arena + t->arena_len, key, len);
  t->slots[i] = (struct slot){
      .hash = h, .key_off = t->arena_len, .key_len = (uint32_t)len, .id = (int64_t)++t->count};
  t->arena_len += len;
  if (created)
    *created = true;
  int64_t id = t->slots[i].id;
  if (t->count * 2 > t->nslots && grow(t) < 0)
    return -ENOMEM;
  return id;
}

size_t spantap_intern_count(const struct spantap_intern *t) {
  return t->count;
}

size_t spantap_intern_bytes(const struct spantap_intern *t) {
  return t->arena_cap + t->nslots * sizeof(struct slot);
}
