/* Growing a malloc'd array by doubling, for the tables whose size follows
 * the input (decoded batches, records held for ordering). */
#ifndef SPANTAP_COMMON_ARRAY_GROW_H
#define SPANTAP_COMMON_ARRAY_GROW_H

#include <stddef.h>

/* Makes the array *ITEMS (of *CAP elements of ITEM_SIZE bytes each, NULL with
 * *CAP 0 at first) hold at least NEED elements, doubling from 64. Returns 0
 * with *ITEMS and *CAP updated (the contents kept), or -ENOMEM with both
 * unchanged (also when the size would overflow). The array stays the
 * caller's: free(*ITEMS). */
int spantap_array_grow(void **items, size_t *cap, size_t need, size_t item_size);

#endif
