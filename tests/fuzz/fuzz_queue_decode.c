/* libFuzzer harness of the queue decoder (collector/queue_decode.h): the
 * input describes a queue (kind, stack form, CPUs), its stack chunks and
 * texts, and a series of passes (counters and raw keys). Every pass is checked
 * against the decoder's contract: each record number below a counter is
 * delivered or counted lost exactly once, records come out in sequence order
 * per CPU, frames are nonzero, texts stay inside their buffer.
 * Built by tests/fuzz/fuzz.mk (configure CC=clang --enable-fuzzing); its seeds
 * are in tests/fuzz/queue_corpus/, replayed by tests/test_queue_decode. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/queue_decode.h"
#include "tests/fuzz/fuzz_targets.h"

#define COOKIE UINT64_C(0x4abcdef012345678)

struct in {
  const uint8_t *p, *end;
};

static unsigned byte(struct in *in) {
  return in->p < in->end ? *in->p++ : 0;
}

/* A word: a byte below 0xf0 is itself; 0xf0 is the cookie, 0xf1 another
 * cookie, 0xf2 all ones; anything else is followed by the 8 bytes of it. */
static uint64_t word(struct in *in) {
  unsigned b = byte(in);
  if (b < 0xf0)
    return b;
  if (b == 0xf0)
    return COOKIE;
  if (b == 0xf1)
    return COOKIE ^ 0x10000;
  if (b == 0xf2)
    return UINT64_MAX;
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v = v << 8 | byte(in);
  return v;
}

static void broken(const char *what) {
  fprintf(stderr, "fuzz_queue_decode: contract broken: %s\n", what);
  abort();
}

struct check {
  const struct spantap_queue_desc *q;
  int64_t last_time;
  unsigned n;
};

static int on_record(const struct spantap_record *r, void *ctx) {
  struct check *c = ctx;
  if (r->desc != spantap_record_desc_get(c->q->kind))
    broken("a record of another kind");
  if (r->nframes > c->q->stack_slots)
    broken("more frames than the queue's slots");
  for (unsigned i = 0; i < r->nframes; i++)
    if (!r->frames[i] || (i && r->frame_slot[i] <= r->frame_slot[i - 1]))
      broken("a zero frame, or slots out of order");
  if (r->text_len >= SPANTAP_QUEUE_TEXT_MAX || strlen(r->text) != r->text_len)
    broken("text length");
  c->n++;
  return 0;
}

int spantap_fuzz_queue_decode(const uint8_t *data, size_t size) {
  struct in in = {data, data + size};
  unsigned ncpu = 1 + byte(&in) % 4;
  enum spantap_record_kind kinds[] = {SPANTAP_REC_SYSCALL, SPANTAP_REC_EXEC, SPANTAP_REC_FORK,
                                      SPANTAP_REC_NETCALL};
  enum spantap_record_kind kind = kinds[byte(&in) % 4];
  unsigned slots = byte(&in) % 3 == 0 ? 0 : (byte(&in) % 2 ? 1 : 8);
  struct spantap_queue_set set;
  if (spantap_queue_set_init(&set, COOKIE, ncpu, SPANTAP_QUEUE_SCALE_DEFAULT) < 0)
    broken("set init");
  int id = spantap_queue_set_add(&set, kind, slots, false);
  if (id < 0)
    broken("set add");
  const struct spantap_queue_desc *q = &set.q[id];
  struct spantap_queue_decoder *d;
  struct spantap_stack_table *t = spantap_stack_table_new();
  if (!t || spantap_queue_decoder_new(q, ncpu, COOKIE, &d) < 0)
    abort();
  uint64_t counters[4] = {0}, keys[64 * (SPANTAP_QUEUE_MAX_KEY_WORDS + 8)], tags[8];
  char texts[8 * SPANTAP_QUEUE_TEXT_MAX];
  struct check c = {.q = q};
  for (unsigned pass = 0; pass < 16 && in.p < in.end; pass++) {
    /* stack chunks: a valid row (its hash) or raw words */
    unsigned nrows = byte(&in) % 4;
    uint64_t rows[4 * SPANTAP_QUEUE_STACK_ROW_WORDS];
    for (unsigned r = 0; r < nrows; r++) {
      uint64_t *row = rows + r * SPANTAP_QUEUE_STACK_ROW_WORDS;
      for (unsigned w = 0; w < SPANTAP_QUEUE_STACK_ROW_WORDS; w++)
        row[w] = word(&in);
      if (row[0] == 1)
        row[0] = spantap_queue_stack_hash(row[1], row + 2);
    }
    int rc = spantap_stack_table_add(t, rows, nrows, COOKIE, NULL);
    if (rc < 0 && rc != -EXDEV)
      broken("stack table error other than -EXDEV");
    uint64_t before[4];
    memcpy(before, counters, sizeof before);
    for (unsigned k = 0; k < ncpu; k++)
      counters[k] += byte(&in) % 8;
    unsigned ntexts = byte(&in) % 8;
    for (unsigned i = 0; i < ntexts; i++) {
      tags[i] = SPANTAP_QUEUE_TAG(byte(&in) % (ncpu + 1), byte(&in) % 32);
      for (unsigned b = 0; b < SPANTAP_QUEUE_TEXT_MAX; b++)
        texts[i * SPANTAP_QUEUE_TEXT_MAX + b] = (char)(b < 8 ? byte(&in) : 'x');
    }
    unsigned nkeys = byte(&in) % 64;
    for (unsigned i = 0; i < nkeys; i++) {
      uint64_t *k = keys + i * q->key_words;
      unsigned sel = byte(&in);
      k[0] = sel < 0xf0 ? SPANTAP_QUEUE_TAG(sel % (ncpu + 1), byte(&in) % 48) : word(&in);
      for (unsigned w = 1; w < q->key_words; w++)
        k[w] = word(&in);
    }
    uint64_t delivered0 = spantap_queue_decoder_stats(d)->delivered;
    rc = spantap_queue_decode_pass(d, counters, keys, nkeys, tags, texts, ntexts, t, on_record, &c);
    const struct spantap_queue_stats *st = spantap_queue_decoder_stats(d);
    if (rc == -EXDEV || rc == -EPROTO) {
      if (st->delivered != delivered0)
        broken("records delivered by a rejected pass");
      memcpy(counters, before, sizeof before); /* the pass changed nothing */
      continue;
    }
    if (rc != 0)
      broken("an unexpected error");
    uint64_t sum = 0;
    for (unsigned k = 0; k < ncpu; k++)
      sum += counters[k];
    if (st->delivered + st->lost != sum)
      broken("delivered + lost differs from the counters' sum");
    if (c.n != st->delivered)
      broken("delivered count differs from the callbacks");
  }
  spantap_queue_decoder_destroy(d);
  spantap_stack_table_destroy(t);
  return 0;
}

#ifndef SPANTAP_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return spantap_fuzz_queue_decode(data, size);
}
#endif
