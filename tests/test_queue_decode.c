/* Unit tests of the queue decoder (collector/queue_decode.h): holes, a full
 * queue, records out of order in a batch, records kept for the next pass,
 * duplicate tags, control slots of another version or recording, texts and
 * interned stacks; and the replay of the fuzz harness's seeds. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "collector/queue_decode.h"
#include "tests/fuzz/fuzz_targets.h"

#define COOKIE UINT64_C(0x4011223344556677)
#define NCPU 2

struct got {
  unsigned n;
  int64_t ts[64];
  int64_t arg0[64];
  unsigned nframes[64];
  uint64_t frame0[64], frame9[64];
  char text[64][SPANTAP_QUEUE_TEXT_MAX];
};

static int collect(const struct spantap_record *r, void *ctx) {
  struct got *g = ctx;
  assert_true(g->n < 64);
  g->ts[g->n] = r->v[0];
  g->arg0[g->n] = r->desc->kind == SPANTAP_REC_SYSCALL ? r->v[SPANTAP_SYSCALL_arg0] : 0;
  g->nframes[g->n] = r->nframes;
  g->frame0[g->n] = r->nframes ? r->frames[0] : 0;
  g->frame9[g->n] = r->nframes > 9 ? r->frames[9] : 0;
  snprintf(g->text[g->n], SPANTAP_QUEUE_TEXT_MAX, "%.*s", (int)r->text_len, r->text);
  g->n++;
  return 0;
}

/* A queue of KIND with SLOTS frames, and its decoder. */
static struct spantap_queue_decoder *decoder(enum spantap_record_kind kind, unsigned slots,
                                             struct spantap_queue_desc *desc) {
  struct spantap_queue_set set;
  assert_int_equal(spantap_queue_set_init(&set, COOKIE, NCPU, SPANTAP_QUEUE_SCALE_DEFAULT), 0);
  assert_int_equal(spantap_queue_set_add(&set, kind, slots, false), 0);
  *desc = set.q[0];
  struct spantap_queue_decoder *d;
  assert_int_equal(spantap_queue_decoder_new(desc, NCPU, COOKIE, &d), 0);
  return d;
}

/* Writes a SYSCALL key for record N on CPU with time TS into K (the fields
 * after ts: arg0 = N, the rest 0; the stack part: FLAGS and STACK). */
static void sc_key(uint64_t *k, const struct spantap_queue_desc *q, unsigned cpu, uint64_t n,
                   int64_t ts, uint64_t stack) {
  memset(k, 0, q->key_words * sizeof *k);
  k[0] = SPANTAP_QUEUE_TAG(cpu, n);
  k[1 + SPANTAP_SYSCALL_ts] = (uint64_t)ts;
  k[1 + SPANTAP_SYSCALL_arg0] = n;
  if (q->stack_form != SPANTAP_QUEUE_STACK_NONE)
    k[1 + SPANTAP_SYSCALL__COUNT + 1] = stack;
}

static void test_holes_are_lost(void **state) {
  (void)state;
  struct spantap_queue_desc q;
  struct spantap_queue_decoder *d = decoder(SPANTAP_REC_SYSCALL, 0, &q);
  uint64_t keys[3 * 16];
  sc_key(keys + 0 * q.key_words, &q, 0, 0, 100, 0);
  sc_key(keys + 1 * q.key_words, &q, 0, 1, 110, 0);
  sc_key(keys + 2 * q.key_words, &q, 0, 3, 130, 0);
  uint64_t counters[NCPU] = {5, 0};
  struct got g = {0};
  assert_int_equal(
      spantap_queue_decode_pass(d, counters, keys, 3, NULL, NULL, 0, NULL, collect, &g), 0);
  assert_int_equal(g.n, 3);
  assert_int_equal(g.arg0[2], 3);
  const struct spantap_queue_stats *st = spantap_queue_decoder_stats(d);
  assert_int_equal(st->lost, 2); /* number 2 inside, number 4 at the end */
  assert_int_equal(st->delivered, 3);
  spantap_queue_decoder_destroy(d);
}

static void test_full_queue(void **state) {
  (void)state;
  /* a full map refuses the newest inserts: the oldest are there, contiguous,
   * and the counter says how many were made */
  struct spantap_queue_desc q;
  struct spantap_queue_decoder *d = decoder(SPANTAP_REC_SYSCALL, 0, &q);
  uint64_t keys[10 * 16];
  for (unsigned i = 0; i < 10; i++)
    sc_key(keys + i * q.key_words, &q, 1, i, 1000 + i, 0);
  uint64_t counters[NCPU] = {0, 25};
  struct got g = {0};
  assert_int_equal(
      spantap_queue_decode_pass(d, counters, keys, 10, NULL, NULL, 0, NULL, collect, &g), 0);
  assert_int_equal(g.n, 10);
  assert_int_equal(spantap_queue_decoder_stats(d)->lost, 15);
  /* the next records continue from the counter */
  sc_key(keys, &q, 1, 25, 2000, 0);
  counters[1] = 26;
  assert_int_equal(
      spantap_queue_decode_pass(d, counters, keys, 1, NULL, NULL, 0, NULL, collect, &g), 0);
  assert_int_equal(g.arg0[10], 25);
  assert_int_equal(spantap_queue_decoder_stats(d)->lost, 15);
  spantap_queue_decoder_destroy(d);
}

static void test_out_of_order_batch(void **state) {
  (void)state;
  struct spantap_queue_desc q;
  struct spantap_queue_decoder *d = decoder(SPANTAP_REC_SYSCALL, 0, &q);
  uint64_t keys[6 * 16];
  const unsigned order[] = {3, 0, 2, 1};
  for (unsigned i = 0; i < 4; i++)
    sc_key(keys + i * q.key_words, &q, 0, order[i], 10 * (int64_t)order[i], 0);
  /* CPU 1's two records fall between CPU 0's in time */
  sc_key(keys + 4 * q.key_words, &q, 1, 1, 25, 0);
  sc_key(keys + 5 * q.key_words, &q, 1, 0, 5, 0);
  uint64_t counters[NCPU] = {4, 2};
  struct got g = {0};
  assert_int_equal(
      spantap_queue_decode_pass(d, counters, keys, 6, NULL, NULL, 0, NULL, collect, &g), 0);
  assert_int_equal(g.n, 6);
  /* CPU 0 in sequence order 0..3 (times 0, 10, 20, 30), merged with CPU 1 */
  const int64_t want[] = {0, 5, 10, 20, 25, 30};
  for (unsigned i = 0; i < 6; i++)
    assert_int_equal(g.ts[i], want[i]);
  assert_int_equal(spantap_queue_decoder_stats(d)->lost, 0);
  spantap_queue_decoder_destroy(d);
}

static void test_kept_for_next_pass(void **state) {
  (void)state;
  struct spantap_queue_desc q;
  struct spantap_queue_decoder *d = decoder(SPANTAP_REC_SYSCALL, 0, &q);
  uint64_t keys[6 * 16];
  for (unsigned i = 0; i < 6; i++)
    sc_key(keys + i * q.key_words, &q, 0, 5 - i, 100 + 5 - i, 0);
  /* counters read before the drain: records 3..5 were made after */
  uint64_t counters[NCPU] = {3, 0};
  struct got g = {0};
  assert_int_equal(
      spantap_queue_decode_pass(d, counters, keys, 6, NULL, NULL, 0, NULL, collect, &g), 0);
  assert_int_equal(g.n, 3);
  assert_int_equal(spantap_queue_decoder_stats(d)->kept, 3);
  assert_int_equal(spantap_queue_decoder_stats(d)->lost, 0);
  /* the next pass delivers them though its batch is empty */
  counters[0] = 6;
  assert_int_equal(
      spantap_queue_decode_pass(d, counters, keys, 0, NULL, NULL, 0, NULL, collect, &g), 0);
  assert_int_equal(g.n, 6);
  for (unsigned i = 0; i < 6; i++)
    assert_int_equal(g.arg0[i], i);
  assert_int_equal(spantap_queue_decoder_stats(d)->kept, 0);
  /* a counter that goes backwards is refused */
  counters[0] = 2;
  assert_int_equal(
      spantap_queue_decode_pass(d, counters, keys, 0, NULL, NULL, 0, NULL, collect, &g), -EPROTO);
  spantap_queue_decoder_destroy(d);
}

static void test_duplicate_tags(void **state) {
  (void)state;
  struct spantap_queue_desc q;
  struct spantap_queue_decoder *d = decoder(SPANTAP_REC_SYSCALL, 0, &q);
  uint64_t keys[3 * 16];
  sc_key(keys + 0 * q.key_words, &q, 0, 0, 100, 0);
  sc_key(keys + 1 * q.key_words, &q, 0, 1, 110, 0);
  sc_key(keys + 2 * q.key_words, &q, 0, 1, 999, 0); /* the same tag again */
  uint64_t counters[NCPU] = {2, 0};
  struct got g = {0};
  assert_int_equal(
      spantap_queue_decode_pass(d, counters, keys, 3, NULL, NULL, 0, NULL, collect, &g), 0);
  assert_int_equal(g.n, 2);
  assert_int_equal(spantap_queue_decoder_stats(d)->duplicates, 1);
  /* a tag already delivered comes back: dropped, not delivered twice */
  assert_int_equal(
      spantap_queue_decode_pass(d, counters, keys, 1, NULL, NULL, 0, NULL, collect, &g), 0);
  assert_int_equal(g.n, 2);
  assert_int_equal(spantap_queue_decoder_stats(d)->duplicates, 2);
  /* a tag of a CPU that does not exist is malformed */
  sc_key(keys, &q, NCPU, 0, 1, 0);
  assert_int_equal(
      spantap_queue_decode_pass(d, counters, keys, 1, NULL, NULL, 0, NULL, collect, &g), 0);
  assert_int_equal(spantap_queue_decoder_stats(d)->malformed, 1);
  spantap_queue_decoder_destroy(d);
}

/* Control slots of queue 0 of a SYSCALL set. */
static void control(uint64_t ctl[SPANTAP_QCTL__COUNT], uint64_t cookie, uint64_t version) {
  struct spantap_queue_set set;
  assert_int_equal(spantap_queue_set_init(&set, COOKIE, NCPU, SPANTAP_QUEUE_SCALE_DEFAULT), 0);
  assert_int_equal(spantap_queue_set_add(&set, SPANTAP_REC_SYSCALL, 8, false), 0);
  const struct spantap_queue_desc *q = &set.q[0];
  ctl[SPANTAP_QCTL_QUEUE] = q->id;
  ctl[SPANTAP_QCTL_KIND] = q->kind;
  ctl[SPANTAP_QCTL_KEY_WORDS] = q->key_words;
  ctl[SPANTAP_QCTL_STACK_FORM] = q->stack_form;
  ctl[SPANTAP_QCTL_STACK_SLOTS] = q->stack_slots;
  ctl[SPANTAP_QCTL_NCPU] = NCPU;
  ctl[SPANTAP_QCTL_CAPACITY] = q->capacity;
  ctl[SPANTAP_QCTL_NQUEUES] = 1;
  ctl[SPANTAP_QCTL_STACK_TABLE] = set.stack_table_entries;
  ctl[SPANTAP_QCTL_COOKIE] = cookie;
  ctl[SPANTAP_QCTL_VERSION] = version;
}

static void test_control_slots(void **state) {
  (void)state;
  uint64_t ctl[SPANTAP_QCTL__COUNT];
  struct spantap_queue_desc q;
  control(ctl, COOKIE, SPANTAP_QUEUE_LAYOUT_VERSION);
  assert_int_equal(spantap_queue_control_check(ctl, COOKIE, NCPU, &q), 0);
  assert_int_equal(q.kind, SPANTAP_REC_SYSCALL);
  assert_int_equal(q.stack_form, SPANTAP_QUEUE_STACK_INTERNED);
  /* not ready yet: begin has not written the version */
  control(ctl, COOKIE, 0);
  assert_int_equal(spantap_queue_control_check(ctl, COOKIE, NCPU, &q), -EAGAIN);
  /* a wrong layout version */
  control(ctl, COOKIE, SPANTAP_QUEUE_LAYOUT_VERSION + 1);
  assert_int_equal(spantap_queue_control_check(ctl, COOKIE, NCPU, &q), -EPROTO);
  /* a foreign map of the same shape: another recording's cookie */
  control(ctl, COOKIE ^ 0x100, SPANTAP_QUEUE_LAYOUT_VERSION);
  assert_int_equal(spantap_queue_control_check(ctl, COOKIE, NCPU, &q), -EXDEV);
  /* slots that contradict the record table */
  control(ctl, COOKIE, SPANTAP_QUEUE_LAYOUT_VERSION);
  ctl[SPANTAP_QCTL_KEY_WORDS]++;
  assert_int_equal(spantap_queue_control_check(ctl, COOKIE, NCPU, &q), -EPROTO);
  control(ctl, COOKIE, SPANTAP_QUEUE_LAYOUT_VERSION);
  assert_int_equal(spantap_queue_control_check(ctl, COOKIE, NCPU + 1, &q), -EPROTO);
}

static void test_foreign_marker(void **state) {
  (void)state;
  struct spantap_queue_desc q;
  struct spantap_queue_decoder *d = decoder(SPANTAP_REC_SYSCALL, 0, &q);
  uint64_t keys[3 * 16] = {0};
  sc_key(keys, &q, 0, 0, 100, 0);
  uint64_t *own = keys + q.key_words, *other = keys + 2 * q.key_words;
  own[0] = COOKIE;
  own[1] = q.id;
  other[0] = COOKIE ^ 0x100; /* a map of another recording, same shape */
  other[1] = q.id;
  uint64_t counters[NCPU] = {1, 0};
  struct got g = {0};
  assert_int_equal(
      spantap_queue_decode_pass(d, counters, keys, 3, NULL, NULL, 0, NULL, collect, &g), -EXDEV);
  assert_int_equal(g.n, 0);
  /* our own marker is skipped */
  assert_int_equal(
      spantap_queue_decode_pass(d, counters, keys, 2, NULL, NULL, 0, NULL, collect, &g), 0);
  assert_int_equal(g.n, 1);
  assert_int_equal(spantap_queue_decoder_stats(d)->markers, 1);
  spantap_queue_decoder_destroy(d);
}

static void test_texts(void **state) {
  (void)state;
  struct spantap_queue_desc q;
  struct spantap_queue_decoder *d = decoder(SPANTAP_REC_EXEC, 0, &q);
  uint64_t keys[3 * 16] = {0};
  for (unsigned i = 0; i < 3; i++) {
    keys[i * q.key_words] = SPANTAP_QUEUE_TAG(0, i);
    keys[i * q.key_words + 1] = 10 + i;
  }
  uint64_t tags[3] = {SPANTAP_QUEUE_TAG(0, 2), SPANTAP_QUEUE_TAG(0, 0), COOKIE + q.id};
  char texts[3][SPANTAP_QUEUE_TEXT_MAX] = {{0}};
  strcpy(texts[0], "/usr/bin/two");
  strcpy(texts[1], "/usr/bin/zero");
  memset(texts[2], 'x', sizeof texts[2]); /* the marker, and unterminated */
  uint64_t counters[NCPU] = {3, 0};
  struct got g = {0};
  assert_int_equal(
      spantap_queue_decode_pass(d, counters, keys, 3, tags, &texts[0][0], 3, NULL, collect, &g), 0);
  assert_int_equal(g.n, 3);
  assert_string_equal(g.text[0], "/usr/bin/zero");
  assert_string_equal(g.text[1], ""); /* its text never came */
  assert_string_equal(g.text[2], "/usr/bin/two");
  assert_int_equal(spantap_queue_decoder_stats(d)->missing_text, 1);
  spantap_queue_decoder_destroy(d);
}

static void test_stacks(void **state) {
  (void)state;
  /* an inline frame */
  struct spantap_queue_desc q;
  struct spantap_queue_decoder *d = decoder(SPANTAP_REC_SYSCALL, 1, &q);
  uint64_t keys[2 * 24] = {0};
  sc_key(keys, &q, 0, 0, 1, 0x401000);
  uint64_t counters[NCPU] = {1, 0};
  struct got g = {0};
  assert_int_equal(
      spantap_queue_decode_pass(d, counters, keys, 1, NULL, NULL, 0, NULL, collect, &g), 0);
  assert_int_equal(g.nframes[0], 1);
  assert_int_equal(g.frame0[0], 0x401000);
  spantap_queue_decoder_destroy(d);

  /* an interned 12-frame stack in two chunks, and an unknown id */
  d = decoder(SPANTAP_REC_SYSCALL, 12, &q);
  struct spantap_stack_table *t = spantap_stack_table_new();
  assert_non_null(t);
  uint64_t rows[3 * SPANTAP_QUEUE_STACK_ROW_WORDS] = {0};
  uint64_t *inner = rows, *outer = rows + SPANTAP_QUEUE_STACK_ROW_WORDS;
  for (unsigned i = 0; i < 8; i++)
    inner[2 + i] = 0x1000 + i;
  for (unsigned i = 0; i < 4; i++)
    outer[2 + i] = 0x2000 + i;
  inner[0] = spantap_queue_stack_hash(0, inner + 2);
  outer[1] = inner[0];
  outer[0] = spantap_queue_stack_hash(outer[1], outer + 2);
  uint64_t *forged = rows + 2 * SPANTAP_QUEUE_STACK_ROW_WORDS;
  forged[0] = 77; /* not the hash of its frames */
  struct spantap_stack_table_stats ts = {0};
  assert_int_equal(spantap_stack_table_add(t, rows, 3, COOKIE, &ts), 0);
  assert_int_equal(ts.chunks, 2);
  assert_int_equal(ts.rejected, 1);
  sc_key(keys, &q, 0, 0, 1, outer[0]);
  sc_key(keys + q.key_words, &q, 0, 1, 2, 77);
  counters[0] = 2;
  memset(&g, 0, sizeof g);
  assert_int_equal(spantap_queue_decode_pass(d, counters, keys, 2, NULL, NULL, 0, t, collect, &g),
                   0);
  assert_int_equal(g.nframes[0], 12);
  assert_int_equal(g.frame0[0], 0x1000);
  assert_int_equal(g.frame9[0], 0x2001);
  assert_int_equal(g.nframes[1], 0);
  assert_int_equal(spantap_queue_decoder_stats(d)->missing_stack, 1);
  /* another recording's marker row */
  forged[0] = COOKIE ^ 0x100;
  forged[1] = UINT64_MAX;
  assert_int_equal(spantap_stack_table_add(t, forged, 1, COOKIE, NULL), -EXDEV);
  spantap_stack_table_destroy(t);
  spantap_queue_decoder_destroy(d);
}

static void test_fuzz_seeds(void **state) {
  (void)state;
  DIR *dir = opendir(FUZZ_DIR "/queue_corpus");
  assert_non_null(dir);
  unsigned n = 0;
  struct dirent *e;
  while ((e = readdir(dir))) {
    if (e->d_name[0] == '.' || strncmp(e->d_name, "README", 6) == 0)
      continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", FUZZ_DIR "/queue_corpus", e->d_name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t buf[65536];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    uint8_t *exact = malloc(len ? len : 1); /* exactly its size, for the sanitizers */
    assert_non_null(exact);
    memcpy(exact, buf, len);
    assert_int_equal(spantap_fuzz_queue_decode(exact, len), 0);
    free(exact);
    n++;
  }
  closedir(dir);
  assert_true(n > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_holes_are_lost),
      cmocka_unit_test(test_full_queue),
      cmocka_unit_test(test_out_of_order_batch),
      cmocka_unit_test(test_kept_for_next_pass),
      cmocka_unit_test(test_duplicate_tags),
      cmocka_unit_test(test_control_slots),
      cmocka_unit_test(test_foreign_marker),
      cmocka_unit_test(test_texts),
      cmocka_unit_test(test_stacks),
      cmocka_unit_test(test_fuzz_seeds),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
