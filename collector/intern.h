/* Interning table: maps byte-string keys to dense ids (1, 2, 3, ...), so that
 * identical stacks, frames, modules and connections are stored once. */
#ifndef SPANTAP_INTERN_H
#define SPANTAP_INTERN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct spantap_intern;

/* Returns an owned, empty table (destroy with spantap_intern_destroy), or NULL on ENOMEM. */
struct spantap_intern *spantap_intern_new(void);
void spantap_intern_destroy(struct spantap_intern *t); /* NULL is a no-op */

/* Looks KEY (LEN bytes) up; when absent and CREATE, adds it with the next id.
 * Returns the id (>= 1), 0 when absent and not created, -ENOMEM on failure.
 * *CREATED (may be NULL) tells whether this call added the key. */
int64_t spantap_intern_get(struct spantap_intern *t, const void *key, size_t len, bool create,
                           bool *created);

/* Number of keys held; bytes used by keys and slots. */
size_t spantap_intern_count(const struct spantap_intern *t);
size_t spantap_intern_bytes(const struct spantap_intern *t);

#endif
