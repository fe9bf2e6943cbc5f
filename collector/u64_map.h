/* A hash map from 64-bit keys to pointers, with removal: the span engine's
 * tables of open spans, threads, sockets and pending calls. Memory follows
 * the entries held, not the entries ever added. */
#ifndef SPANTAP_U64_MAP_H
#define SPANTAP_U64_MAP_H

#include <stddef.h>
#include <stdint.h>

struct spantap_u64_map;

/* Returns an owned, empty map (destroy with spantap_u64_map_destroy), or NULL on ENOMEM. */
struct spantap_u64_map *spantap_u64_map_new(void);
/* Frees the map; the values are the caller's. NULL is a no-op. */
void spantap_u64_map_destroy(struct spantap_u64_map *m);

/* The value of KEY, or NULL when absent. */
void *spantap_u64_map_get(const struct spantap_u64_map *m, uint64_t key);
/* Sets KEY to VALUE (not NULL), replacing any value. Returns 0 or -ENOMEM. */
int spantap_u64_map_put(struct spantap_u64_map *m, uint64_t key, void *value);
/* Removes KEY; returns its value, or NULL when absent. */
void *spantap_u64_map_remove(struct spantap_u64_map *m, uint64_t key);
/* Frees every value with free() (values the caller malloc'd), keeping the
 * keys; for use right before spantap_u64_map_destroy. NULL is a no-op. */
void spantap_u64_map_free_values(struct spantap_u64_map *m);
/* Entries held. */
size_t spantap_u64_map_count(const struct spantap_u64_map *m);
/* Calls FN on every entry, in no particular order. FN must not change M. */
void spantap_u64_map_foreach(const struct spantap_u64_map *m,
                             void (*fn)(uint64_t key, void *value, void *ctx), void *ctx);

#endif
