/* FNV-1a (see hash.h). */
#include "common/hash.h"

uint64_t spantap_fnv1a(const void *data, size_t len) {
  const unsigned char *p = data;
  uint64_t h = 0xcbf29ce484222325ULL; /* the offset basis */
  for (size_t i = 0; i < len; i++)
    h = (h ^ p[i]) * 0x100000001b3ULL; /* the 64-bit FNV prime */
  return h;
}
