/* Decode rate of the queue transport's reader, no root needed: synthetic
 * batches of SYSCALL records (two CPUs, shuffled as a hash map returns them,
 * 8-frame interned stacks, 1000 distinct stacks), passes of 65,536 keys.
 * Baselines measured in the same run: a memcpy of the same key bytes, and the
 * text stream parser on the same records as text lines.
 * Usage: queue_decode_bench [RECORDS] (default 2,000,000). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/queue_decode.h"

#define COOKIE UINT64_C(0x4123456789abcdef)
#define NCPU 2
#define PASS 65536
#define NSTACKS 1000

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static uint64_t sink;

static int consume(const struct spantap_record *r, void *ctx) {
  (void)ctx;
  sink += (uint64_t)r->v[0] + r->nframes;
  return 0;
}

static uint64_t rnd(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

int main(int argc, char **argv) {
  long total = argc > 1 ? atol(argv[1]) : 2000000;
  struct spantap_queue_set set;
  if (spantap_queue_set_init(&set, COOKIE, NCPU, SPANTAP_QUEUE_SCALE_DEFAULT) < 0 ||
      spantap_queue_set_add(&set, SPANTAP_REC_SYSCALL, 8, false) < 0)
    return 1;
  const struct spantap_queue_desc *q = &set.q[0];
  const unsigned kw = q->key_words;
  struct spantap_stack_table *t = spantap_stack_table_new();
  uint64_t rows[NSTACKS * SPANTAP_QUEUE_STACK_ROW_WORDS], ids[NSTACKS], seed = 88172645463325252ull;
  for (unsigned i = 0; i < NSTACKS; i++) {
    uint64_t *r = rows + i * SPANTAP_QUEUE_STACK_ROW_WORDS;
    r[1] = 0;
    for (unsigned k = 0; k < SPANTAP_QUEUE_STACK_CHUNK; k++)
      r[2 + k] = 0x400000 + (rnd(&seed) & 0xfffff);
    r[0] = ids[i] = spantap_queue_stack_hash(0, r + 2);
  }
  if (!t || spantap_stack_table_add(t, rows, NSTACKS, COOKIE, NULL) < 0)
    return 1;

  /* one pass's batch, shuffled; every pass reuses it with new numbers */
  uint64_t *keys = malloc((size_t)PASS * kw * sizeof *keys);
  uint64_t *copy = malloc((size_t)PASS * kw * sizeof *keys);
  char *lines = malloc((size_t)PASS * 256);
  size_t *line_off = malloc((PASS + 1) * sizeof *line_off);
  if (!keys || !copy || !lines || !line_off)
    return 1;
  uint32_t *perm = malloc(PASS * sizeof *perm);
  for (uint32_t i = 0; i < PASS; i++)
    perm[i] = i;
  for (uint32_t i = PASS - 1; i > 0; i--) {
    uint32_t j = (uint32_t)(rnd(&seed) % (i + 1)), x = perm[i];
    perm[i] = perm[j];
    perm[j] = x;
  }
  long passes = (total + PASS - 1) / PASS;
  struct spantap_queue_decoder *d;
  if (spantap_queue_decoder_new(q, NCPU, COOKIE, &d) < 0)
    return 1;
  uint64_t counters[NCPU] = {0};
  double t_dec = 0, t_copy = 0, t_text = 0;
  size_t bytes = 0;
  for (long p = 0; p < passes; p++) {
    for (uint32_t i = 0; i < PASS; i++) {
      unsigned cpu = i % NCPU;
      uint64_t n = counters[cpu] + i / NCPU;
      uint64_t *k = keys + (size_t)perm[i] * kw;
      k[0] = SPANTAP_QUEUE_TAG(cpu, n);
      int64_t ts = 1000000000 + (int64_t)(p * PASS + i) * 1000;
      const uint64_t f[] = {(uint64_t)ts, 900, 4242, 4243, 0, 3, (uint64_t)i, 81, 4096};
      memcpy(k + 1, f, sizeof f);
      k[10] = 0;
      k[11] = ids[i % NSTACKS];
    }
    uint64_t next[NCPU];
    for (unsigned c = 0; c < NCPU; c++)
      next[c] = counters[c] + PASS / NCPU;
    /* baseline 1: the bytes alone */
    double t0 = now();
    memcpy(copy, keys, (size_t)PASS * kw * sizeof *keys);
    t_copy += now() - t0;
    sink += copy[(size_t)(p % PASS) * kw];
    bytes += (size_t)PASS * kw * sizeof *keys;
    /* the decoder */
    t0 = now();
    if (spantap_queue_decode_pass(d, next, keys, PASS, NULL, NULL, 0, t, consume, NULL) != 0)
      return 1;
    t_dec += now() - t0;
    memcpy(counters, next, sizeof counters);
    /* baseline 2: the same records as text lines, through the stream parser */
    size_t off = 0;
    for (uint32_t i = 0; i < PASS; i++) {
      const uint64_t *k = keys + (size_t)i * kw;
      line_off[i] = off;
      off += (size_t)snprintf(
          lines + off, 256,
          "SC %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64
          " %" PRId64 " %" PRId64 " @0,%x,%x,%x,%x,%x,%x,%x,%x",
          (int64_t)k[1], (int64_t)k[2], (int64_t)k[3], (int64_t)k[4], (int64_t)k[5], (int64_t)k[6],
          (int64_t)k[7], (int64_t)k[8], (int64_t)k[9], 0x401000u, 0x401100u, 0x401200u, 0x401300u,
          0x401400u, 0x401500u, 0x401600u, 0x401700u);
    }
    line_off[PASS] = off;
    struct spantap_record rec;
    const char *why;
    t0 = now();
    for (uint32_t i = 0; i < PASS; i++) {
      if (spantap_record_parse(lines + line_off[i], line_off[i + 1] - line_off[i], &rec, &why) < 0)
        return 1;
      consume(&rec, NULL);
    }
    t_text += now() - t0;
  }
  const struct spantap_queue_stats *st = spantap_queue_decoder_stats(d);
  double n = (double)passes * PASS;
  printf("queue_decode_bench: %ld passes of %d SYSCALL keys (%u words, 8-frame interned stack), "
         "%d CPUs\n",
         passes, PASS, kw, NCPU);
  printf("  decoder:          %8.2f M records/s  (%.0f ns/record; delivered %" PRIu64
         ", lost %" PRIu64 ")\n",
         n / t_dec / 1e6, t_dec / n * 1e9, st->delivered, st->lost);
  printf("  memcpy baseline:  %8.2f M records/s  (%.2f GB/s)\n", n / t_copy / 1e6,
         (double)bytes / t_copy / 1e9);
  printf("  text parser:      %8.2f M records/s  (same records as text lines)\n", n / t_text / 1e6);
  printf("  ratio decoder / text parser: %.2f; decoder / memcpy: %.3f; target >= 1 M records/s: "
         "%s\n",
         t_text / t_dec, t_copy / t_dec, n / t_dec >= 1e6 ? "met" : "NOT met");
  spantap_queue_decoder_destroy(d);
  spantap_stack_table_destroy(t);
  free(keys);
  free(copy);
  free(lines);
  free(line_off);
  free(perm);
  return sink == 42 ? 2 : 0;
}
