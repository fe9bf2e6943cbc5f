#!/bin/bash
# The module runtime writes its records' numbers with its own writers
# (_st_put_dec and _st_put_hex in stp/runtime_kernel.stp, embedded C that
# runs in the kernel). This compiles that very block as user-space C and
# compares what it writes with printf's %lld and %llx, the text the stream
# parser reads: the edges of a 64-bit long (0, -1, INT64_MIN, INT64_MAX, each
# power of ten and of sixteen, and their neighbours) and a million values of
# every magnitude. Needs a C compiler (the build's).
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
CC=${CC:-cc}
WORK=$(mktemp -d /tmp/spantap-stp-numbers.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# the block after the "Record numbers in text" comment, between %{ and %}
awk '/^\/\/ Record numbers in text/ { found = 1 }
  found && /^%\{/ { copy = 1; next }
  copy && /^%\}/ { exit }
  copy' "$top_srcdir/stp/runtime_kernel.stp" > "$WORK/writers.h"
grep -q "_st_put_dec" "$WORK/writers.h" && grep -q "_st_put_hex" "$WORK/writers.h" || {
  echo "FAIL: no _st_put_dec/_st_put_hex block found in stp/runtime_kernel.stp"
  exit 1
}
cat > "$WORK/check.c" << 'EOF'
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
typedef int64_t s64;
typedef uint64_t u64;
#include "writers.h"

static long failures;
static void check(int64_t v) {
  char want[32], got[64];
  memset(got, 'X', sizeof got);
  snprintf(want, sizeof want, "%" PRId64, v);
  int n = _st_put_dec(got, v);
  if (n < 1 || n > 20 || (size_t)n != strlen(want) || memcmp(got, want, n) != 0 ||
      got[n] != 'X') {
    if (failures++ < 5)
      printf("not ok - _st_put_dec(%s) wrote '%.*s' (%d bytes)\n", want, n > 0 && n < 64 ? n : 0,
             got, n);
  }
  memset(got, 'X', sizeof got);
  snprintf(want, sizeof want, "%" PRIx64, (uint64_t)v);
  n = _st_put_hex(got, (uint64_t)v);
  if (n < 1 || n > 16 || (size_t)n != strlen(want) || memcmp(got, want, n) != 0 ||
      got[n] != 'X') {
    if (failures++ < 5)
      printf("not ok - _st_put_hex(%s) wrote '%.*s' (%d bytes)\n", want, n > 0 && n < 64 ? n : 0,
             got, n);
  }
}

int main(void) {
  long checked = 0;
  int64_t edges[] = {0, 1, -1, 9, 10, -10, INT64_MAX, INT64_MIN, INT64_MIN + 1, INT64_MAX - 1};
  for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++, checked++)
    check(edges[i]);
  for (uint64_t p = 1; p <= UINT64_MAX / 10; p *= 10)
    for (int d = -1; d <= 1; d++, checked += 2) {
      check((int64_t)(p + d));
      check(-(int64_t)(p + d));
    }
  for (int s = 0; s < 64; s++)
    for (int d = -1; d <= 1; d++, checked++)
      check((int64_t)((UINT64_C(1) << s) + d));
  uint64_t x = UINT64_C(0x9E3779B97F4A7C15);
  for (long i = 0; i < 1000000; i++, checked++) { /* xorshift64, every magnitude */
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    check((int64_t)(x >> (x % 64)));
  }
  if (failures) {
    printf("not ok - %ld of %ld values written differently from printf\n", failures, checked);
    return 1;
  }
  printf("ok - _st_put_dec and _st_put_hex write %ld values as printf's %%lld and %%llx do\n",
         checked);
  return 0;
}
EOF
"$CC" -O2 -Wall -Werror -o "$WORK/check" "$WORK/check.c" || {
  echo "FAIL: the number writers of stp/runtime_kernel.stp do not compile as C"
  exit 1
}
"$WORK/check"
