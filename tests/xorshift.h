/* A small deterministic pseudo-random generator for tests (xorshift64): the
 * same seed gives the same sequence on every machine. */
#ifndef SPANTAP_TESTS_XORSHIFT_H
#define SPANTAP_TESTS_XORSHIFT_H

#include <stdint.h>

/* Advances the state *S (nonzero) and returns its new value. */
static inline uint64_t xorshift64(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

#endif
