/* Doubling growth of malloc'd arrays (see array_grow.h). */
#include "common/array_grow.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

int spantap_array_grow(void **items, size_t *cap, size_t need, size_t item_size) {
  if (need <= *cap)
    return 0;
  size_t n = *cap ? *cap : 64;
  while (n < need) {
    if (n > SIZE_MAX / 2)
      return -ENOMEM;
    n *= 2;
  }
  if (item_size && n > SIZE_MAX / item_size)
    return -ENOMEM;
  void *grown = realloc(*items, n * item_size);
  if (!grown)
    return -ENOMEM;
  *items = grown;
  *cap = n;
  return 0;
}
