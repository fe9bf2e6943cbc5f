/* Reorder window and u64 map tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "collector/reorder.h"
#include "collector/u64_map.h"

struct released {
  int64_t ends[4096];
  int n;
};

static int record_release(const struct spantap_event *e, void *ctx) {
  struct released *r = ctx;
  r->ends[r->n++] = spantap_event_end(e);
  return 0;
}

static void push(struct spantap_reorder *w, int64_t ts, int64_t dur) {
  struct spantap_event e = {.kind = SPANTAP_EV_SYSCALL, .ts = ts, .dur = dur};
  assert_int_equal(spantap_reorder_push(w, &e), 0);
}

/* Events out of order by less than the window come out in order of
 * completion; nothing leaves before it is WINDOW older than the newest. */
static void test_orders_within_window(void **state) {
  (void)state;
  struct released out = {0};
  struct spantap_reorder *w;
  assert_int_equal(spantap_reorder_new(100, 1000, record_release, &out, &w), 0);
  push(w, 50, 10); /* ends 60 */
  push(w, 10, 20); /* ends 30: a blocking call that started earlier */
  push(w, 40, 0);  /* 40 */
  assert_int_equal(out.n, 0);
  push(w, 135, 0); /* newest 135: releases up to 35 */
  assert_int_equal(out.n, 1);
  assert_int_equal(out.ends[0], 30);
  push(w, 170, 0); /* releases up to 70 */
  assert_int_equal(out.n, 3);
  assert_int_equal(out.ends[1], 40);
  assert_int_equal(out.ends[2], 60);
  assert_int_equal(spantap_reorder_held(w), 2);
  assert_int_equal(spantap_reorder_drain(w), 0);
  assert_int_equal(out.n, 5);
  assert_int_equal(out.ends[3], 135);
  assert_int_equal(out.ends[4], 170);
  assert_int_equal(spantap_reorder_stats(w)->late, 0);
  assert_int_equal(spantap_reorder_stats(w)->peak, 4); /* 135 came in before 30 left */
  spantap_reorder_destroy(w);
}

/* A quiet stream's events leave by the clock: what completed at or before
 * the given time, in order; what completed after it stays; an event that
 * arrives later but completed before the released ones counts as late. */
static void test_release_before(void **state) {
  (void)state;
  struct released out = {0};
  struct spantap_reorder *w;
  assert_int_equal(spantap_reorder_new(100, 1000, record_release, &out, &w), 0);
  push(w, 20, 10); /* ends 30 */
  push(w, 10, 0);  /* 10 */
  push(w, 50, 0);  /* 50 */
  assert_int_equal(out.n, 0);
  assert_int_equal(spantap_reorder_release_before(w, 30), 0);
  assert_int_equal(out.n, 2);
  assert_int_equal(out.ends[0], 10);
  assert_int_equal(out.ends[1], 30);
  assert_int_equal(spantap_reorder_held(w), 1);
  push(w, 25, 0); /* completed before what already left */
  assert_int_equal(spantap_reorder_stats(w)->late, 1);
  assert_int_equal(spantap_reorder_release_before(w, 49), 0);
  assert_int_equal(spantap_reorder_held(w), 1);
  assert_int_equal(spantap_reorder_drain(w), 0);
  assert_int_equal(out.ends[out.n - 1], 50);
  spantap_reorder_destroy(w);
}

/* An event later than the window is counted and passed on at once; a full
 * window lets its oldest event go early and counts it. */
static void test_late_and_full(void **state) {
  (void)state;
  struct released out = {0};
  struct spantap_reorder *w;
  assert_int_equal(spantap_reorder_new(10, 3, record_release, &out, &w), 0);
  push(w, 100, 0);
  push(w, 200, 0); /* releases 100 */
  push(w, 50, 0);  /* late */
  assert_int_equal(spantap_reorder_stats(w)->late, 1);
  assert_int_equal(out.n, 2);
  assert_int_equal(out.ends[1], 50);
  spantap_reorder_destroy(w);

  struct released out2 = {0};
  assert_int_equal(spantap_reorder_new(1000000, 3, record_release, &out2, &w), 0);
  for (int i = 0; i < 5; i++)
    push(w, 10 * (i + 1), 0); /* 10..50: the fourth and fifth push 10 and 20 out */
  assert_int_equal(spantap_reorder_stats(w)->forced, 2);
  assert_int_equal(spantap_reorder_held(w), 3);
  assert_int_equal(spantap_reorder_drain(w), 0);
  assert_int_equal(out2.n, 5);
  spantap_reorder_destroy(w);
}

/* Equal completion times keep their arrival order; a large random stream
 * within the window comes out sorted. */
static void test_sorted_stream(void **state) {
  (void)state;
  struct released out = {0};
  struct spantap_reorder *w;
  assert_int_equal(spantap_reorder_new(1000, 100000, record_release, &out, &w), 0);
  srand(7);
  for (int i = 0; i < 4000; i++)
    push(w, i * 10 + rand() % 900, 0);
  assert_int_equal(spantap_reorder_drain(w), 0);
  assert_int_equal(out.n, 4000);
  for (int i = 1; i < out.n; i++)
    assert_true(out.ends[i - 1] <= out.ends[i]);
  assert_int_equal(spantap_reorder_stats(w)->late, 0);
  spantap_reorder_destroy(w);
}

/* The map keeps every key through growth and removals (backward shifts). */
static void test_u64_map(void **state) {
  (void)state;
  struct spantap_u64_map *m = spantap_u64_map_new();
  assert_non_null(m);
  static int values[20000];
  for (int i = 0; i < 20000; i++)
    assert_int_equal(spantap_u64_map_put(m, (uint64_t)i * 7919, &values[i]), 0);
  assert_int_equal(spantap_u64_map_count(m), 20000);
  for (int i = 0; i < 20000; i += 2)
    assert_ptr_equal(spantap_u64_map_remove(m, (uint64_t)i * 7919), &values[i]);
  assert_int_equal(spantap_u64_map_count(m), 10000);
  for (int i = 0; i < 20000; i++)
    assert_ptr_equal(spantap_u64_map_get(m, (uint64_t)i * 7919), i % 2 ? &values[i] : NULL);
  assert_null(spantap_u64_map_remove(m, 12345678));
  assert_int_equal(spantap_u64_map_put(m, 7919, &values[0]), 0); /* replace */
  assert_int_equal(spantap_u64_map_put(m, 7919, &values[2]), 0);
  assert_ptr_equal(spantap_u64_map_get(m, 7919), &values[2]);
  assert_int_equal(spantap_u64_map_count(m), 10000);
  spantap_u64_map_destroy(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_orders_within_window),
      cmocka_unit_test(test_late_and_full),
      cmocka_unit_test(test_release_before),
      cmocka_unit_test(test_sorted_stream),
      cmocka_unit_test(test_u64_map),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
