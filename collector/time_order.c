/* Time order (collector/time_order.h): least significant byte first, one
 * counting pass for all eight bytes, then one scatter per byte on which the
 * keys differ; small inputs by insertion sort. */
#include "collector/time_order.h"

#include <stdbool.h>
#include <string.h>

#define INSERTION_MAX 32

static void insertion_sort(struct spantap_time_order_item *a, size_t n) {
  for (size_t i = 1; i < n; i++) {
    struct spantap_time_order_item x = a[i];
    size_t j = i;
    for (; j > 0 && a[j - 1].key > x.key; j--) /* strict: equal keys stay in order */
      a[j] = a[j - 1];
    a[j] = x;
  }
}

void spantap_time_order_sort(struct spantap_time_order_item *items,
                             struct spantap_time_order_item *tmp, size_t n) {
  if (n <= INSERTION_MAX) {
    insertion_sort(items, n);
    return;
  }
  size_t count[8][256] = {{0}}; /* 16 KiB of stack */
  bool sorted = true;
  for (size_t i = 0; i < n; i++) {
    uint64_t k = items[i].key;
    if (i && k < items[i - 1].key)
      sorted = false;
    for (unsigned b = 0; b < 8; b++)
      count[b][(k >> (8 * b)) & 0xff]++;
  }
  if (sorted)
    return;
  struct spantap_time_order_item *src = items, *dst = tmp;
  for (unsigned b = 0; b < 8; b++) {
    size_t *c = count[b];
    if (c[(src[0].key >> (8 * b)) & 0xff] == n) /* every key has this byte */
      continue;
    size_t sum = 0;
    for (unsigned d = 0; d < 256; d++) {
      size_t x = c[d];
      c[d] = sum;
      sum += x;
    }
    for (size_t i = 0; i < n; i++)
      dst[c[(src[i].key >> (8 * b)) & 0xff]++] = src[i];
    struct spantap_time_order_item *t = src;
    src = dst;
    dst = t;
  }
  if (src != items)
    memcpy(items, src, n * sizeof *items);
}
