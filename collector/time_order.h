/* Time order: a stable radix sort of (key, value) pairs on their 64-bit
 * keys, for the passes of the BPF map source (records by completion time,
 * queue keys by tag). Keys of one pass share most of their high bytes, and
 * the bytes where every key agrees cost no pass, so a pass of timestamps
 * sorts in 3-4 linear passes instead of n log n comparisons. */
#ifndef SPANTAP_TIME_ORDER_H
#define SPANTAP_TIME_ORDER_H

#include <stddef.h>
#include <stdint.h>

struct spantap_time_order_item {
  uint64_t key;
  uint64_t value;
};

/* The key that orders signed times T as unsigned keys do. */
static inline uint64_t spantap_time_order_key(int64_t t) {
  return (uint64_t)t ^ (UINT64_C(1) << 63);
}

/* Sorts the N ITEMS by key, ascending; items of equal keys keep their order
 * (stable). TMP is scratch space for N items (may be NULL when N < 2). */
void spantap_time_order_sort(struct spantap_time_order_item *items,
                             struct spantap_time_order_item *tmp, size_t n);

#endif
