/* FNV-1a, the one 64-bit hash of byte strings that the tables of every layer
 * (interning, string tables, cache names) use. Not for anything adversarial. */
#ifndef SPANTAP_COMMON_HASH_H
#define SPANTAP_COMMON_HASH_H

#include <stddef.h>
#include <stdint.h>

/* The 64-bit FNV-1a hash of the LEN bytes at DATA. */
uint64_t spantap_fnv1a(const void *data, size_t len);

#endif
