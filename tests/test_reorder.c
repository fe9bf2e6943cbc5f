/* Reorder window and u64 map tests. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "collector/reorder.h"
#include "collector/u64_map.h"
#include "tests/xorshift.h"

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

/* An in-order run that has wrapped around its ring when the slab grows
 * keeps its order, with out-of-order events held beside it. */
static void test_run_wraps_through_growth(void **state) {
  (void)state;
  struct released out = {0};
  struct spantap_reorder *w;
  assert_int_equal(spantap_reorder_new(INT64_MAX, 4000, record_release, &out, &w), 0);
  int64_t sum = 0;
  for (int i = 0; i < 1000; i++)
    push(w, i * 10, 0);
  assert_int_equal(spantap_reorder_release_before(w, 8990), 0); /* 900 leave */
  assert_int_equal(out.n, 900);
  for (int i = 0; i < 900; i++)
    sum += out.ends[i];
  for (int i = 1000; i < 2000; i++) {
    push(w, i * 10, 0);
    if (i % 100 == 0)
      push(w, i * 10 - 55, 0); /* earlier than the run's last: held apart */
  }
  assert_int_equal(spantap_reorder_held(w), 1110); /* more than the first slab's 1024 */
  assert_int_equal(spantap_reorder_drain(w), 0);
  assert_int_equal(out.n, 2010);
  int64_t want = 0;
  for (int i = 0; i < 2000; i++)
    want += i * 10;
  for (int i = 1000; i < 2000; i += 100)
    want += i * 10 - 55;
  for (int i = 900; i < out.n; i++)
    sum += out.ends[i];
  for (int i = 1; i < out.n; i++)
    assert_true(out.ends[i - 1] <= out.ends[i]);
  assert_int_equal(sum, want);
  assert_int_equal(spantap_reorder_stats(w)->peak, 1110);
  spantap_reorder_destroy(w);
}

/* The differential tests' reference: every held event in one array sorted by
 * (completion time, arrival number), with the window's rules written out
 * plainly. Released events are identified by their tid (their arrival
 * number); a release function fails on every FAIL_EVERY-th call. */
#define REF_MAX 8192

struct ref_event {
  int64_t key, id;
};

struct log {
  int64_t ids[REF_MAX];
  int n;
  int calls, fail_every;
};

static int log_release(struct log *l, int64_t id) {
  l->ids[l->n++] = id;
  l->calls++;
  return l->fail_every && l->calls % l->fail_every == 0 ? -EIO : 0;
}

static int log_event(const struct spantap_event *e, void *ctx) {
  return log_release(ctx, e->tid);
}

struct ref {
  int64_t window_ns;
  size_t max_events;
  struct ref_event held[REF_MAX];
  size_t n;
  int64_t newest, released;
  bool any_released;
  struct spantap_reorder_stats stats;
  struct log log;
};

static int ref_release_first(struct ref *r) {
  struct ref_event e = r->held[0];
  memmove(r->held, r->held + 1, --r->n * sizeof *r->held);
  r->released = e.key;
  r->any_released = true;
  return log_release(&r->log, e.id);
}

static int ref_release_before(struct ref *r, int64_t before) {
  while (r->n && r->held[0].key <= before) {
    int rc = ref_release_first(r);
    if (rc)
      return rc;
  }
  return 0;
}

static int ref_push(struct ref *r, int64_t key, int64_t id) {
  if (r->any_released && key < r->released) {
    r->stats.late++;
    return log_release(&r->log, id);
  }
  if (r->n == r->max_events) {
    r->stats.forced++;
    int rc = ref_release_first(r);
    if (rc)
      return rc;
  }
  size_t i = r->n; /* after every equal key: arrival order */
  while (i > 0 && r->held[i - 1].key > key)
    i--;
  memmove(r->held + i + 1, r->held + i, (r->n - i) * sizeof *r->held);
  r->held[i] = (struct ref_event){key, id};
  if (++r->n > r->stats.peak)
    r->stats.peak = r->n;
  if (key > r->newest)
    r->newest = key;
  int64_t due = r->newest > INT64_MIN + r->window_ns ? r->newest - r->window_ns : INT64_MIN;
  return ref_release_before(r, due);
}

enum input_shape { IN_ORDER, NEARLY_IN_ORDER, PASSES, SHUFFLED, TIES };

/* Completion time of the I-th of N events of SHAPE. */
static int64_t shaped_key(enum input_shape shape, int i, int n, uint64_t *seed) {
  switch (shape) {
    case IN_ORDER:
      return (int64_t)i * 10 + (int64_t)(xorshift64(seed) % 3 == 0) * 10; /* steps of 0, 10, 20 */
    case NEARLY_IN_ORDER: /* one in 16 late by up to 300, a rare one far ahead */
      if (xorshift64(seed) % 16 == 0)
        return (int64_t)i * 10 - (int64_t)(xorshift64(seed) % 300);
      if (xorshift64(seed) % 500 == 0)
        return (int64_t)i * 10 + 5000;
      return (int64_t)i * 10;
    case PASSES: /* sorted runs of 64 that overlap the previous run's end */
      return (int64_t)(i / 64) * 500 + (int64_t)(xorshift64(seed) % 900);
    case SHUFFLED:
      return (int64_t)(xorshift64(seed) % (uint64_t)(n * 10));
    case TIES:
      return (int64_t)(xorshift64(seed) % 8) * 100 + (int64_t)(i / 256) * 100;
  }
  return 0;
}

/* Runs N events of SHAPE through a window and the reference with the same
 * WINDOW and MAX_EVENTS, release_before and drain interleaved, the release
 * function failing on every FAIL_EVERY-th call (0: never); every call's
 * result, the release order, the held count and the stats must agree. */
static void differential(enum input_shape shape, int64_t window, size_t max_events, int n,
                         int fail_every, uint64_t seed) {
  static struct ref ref;
  memset(&ref, 0, sizeof ref);
  ref.window_ns = window;
  ref.max_events = max_events;
  ref.newest = INT64_MIN;
  ref.log.fail_every = fail_every;
  static struct log got;
  memset(&got, 0, sizeof got);
  got.fail_every = fail_every;
  struct spantap_reorder *w;
  assert_int_equal(spantap_reorder_new(window, max_events, log_event, &got, &w), 0);
  static int64_t keys[REF_MAX / 2];
  assert_true(n <= REF_MAX / 2);
  for (int i = 0; i < n; i++)
    keys[i] = shaped_key(shape, i, n, &seed);
  if (shape == PASSES) /* each run sorted, as map_feed sorts a pass */
    for (int i = 1; i < n; i++)
      for (int j = i; j % 64 && keys[j - 1] > keys[j]; j--) {
        int64_t t = keys[j];
        keys[j] = keys[j - 1];
        keys[j - 1] = t;
      }
  int errors = 0;
  for (int i = 0; i < n; i++) {
    int want, rc;
    uint64_t op = xorshift64(&seed) % 64;
    if (op == 0) {
      int64_t before =
          ref.newest == INT64_MIN ? 0 : ref.newest - (int64_t)(xorshift64(&seed) % 400);
      want = ref_release_before(&ref, before);
      rc = spantap_reorder_release_before(w, before);
    } else if (op == 1 && xorshift64(&seed) % 8 == 0) {
      want = ref_release_before(&ref, INT64_MAX);
      rc = spantap_reorder_drain(w);
    } else {
      struct spantap_event e = {
          .kind = SPANTAP_EV_SYSCALL, .ts = keys[i] - i % 3, .dur = i % 3, .tid = i};
      want = ref_push(&ref, keys[i], i);
      rc = spantap_reorder_push(w, &e);
    }
    assert_int_equal(rc, want);
    errors += rc != 0;
    assert_int_equal(got.n, ref.log.n);
    assert_int_equal(spantap_reorder_held(w), ref.n);
  }
  int want, rc;
  do { /* a failing release stops the drain: drain again */
    want = ref_release_before(&ref, INT64_MAX);
    rc = spantap_reorder_drain(w);
    assert_int_equal(rc, want);
  } while (rc);
  assert_int_equal(spantap_reorder_held(w), 0);
  assert_int_equal(got.n, ref.log.n);
  assert_memory_equal(got.ids, ref.log.ids, (size_t)got.n * sizeof *got.ids);
  const struct spantap_reorder_stats *st = spantap_reorder_stats(w);
  assert_int_equal(st->late, ref.stats.late);
  assert_int_equal(st->forced, ref.stats.forced);
  assert_int_equal(st->peak, ref.stats.peak);
  if (fail_every && got.n >= fail_every)
    assert_true(errors > 0);
  spantap_reorder_destroy(w);
}

/* In-order, nearly in-order, overlapping sorted runs, shuffled and tied
 * inputs, with windows from none to everything and capacities from one event
 * (every push forces a release) to more than a slab's first growth, so the
 * in-order run wraps around and is moved when the slab grows. */
static void test_differential(void **state) {
  (void)state;
  static const int64_t windows[] = {0, 40, 1000, INT64_MAX};
  static const size_t capacities[] = {1, 2, 7, 64, 1500, 4096};
  uint64_t seed = 0x9e3779b97f4a7c15ull;
  for (int shape = IN_ORDER; shape <= TIES; shape++)
    for (size_t wi = 0; wi < sizeof windows / sizeof *windows; wi++)
      for (size_t ci = 0; ci < sizeof capacities / sizeof *capacities; ci++)
        differential(shape, windows[wi], capacities[ci], 4000, 0, xorshift64(&seed) | 1);
}

/* A release function's error stops the push, release_before or drain that
 * met it, with the failing event gone; the window goes on consistently. */
static void test_differential_errors(void **state) {
  (void)state;
  static const size_t capacities[] = {1, 5, 64, 1500};
  uint64_t seed = 0x2545f4914f6cdd1dull;
  for (int shape = IN_ORDER; shape <= TIES; shape++)
    for (size_t ci = 0; ci < sizeof capacities / sizeof *capacities; ci++) {
      differential(shape, 40, capacities[ci], 4000, 97, xorshift64(&seed) | 1);
      differential(shape, INT64_MAX, capacities[ci], 4000, 1, xorshift64(&seed) | 1);
    }
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
      cmocka_unit_test(test_orders_within_window),     cmocka_unit_test(test_late_and_full),
      cmocka_unit_test(test_release_before),           cmocka_unit_test(test_sorted_stream),
      cmocka_unit_test(test_run_wraps_through_growth), cmocka_unit_test(test_differential),
      cmocka_unit_test(test_differential_errors),      cmocka_unit_test(test_u64_map),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
