/* Tests of the group writer thread: items written in order, waiting for the
 * writer, the first error kept and returned (never dropped) with nothing
 * written after it, every item given back or freed, back-pressure of the
 * bounded queue, the writer thread's blocked signals, and the spill file: a
 * producer ahead of the writer never waits, order is kept across the queue
 * and the file, the file is reused once the writer catches up, a failed save
 * falls back to back-pressure, and a failed read-back is the writer's error. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "collector/group_writer.h"

struct sink {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int written[1000];
  int nwritten;
  int fail_at;      /* the item whose write fails, -1: none */
  bool gate_closed; /* the first write waits while it is */
  bool signals_blocked;
  int freed;
};

static int write_item(void *item, void *ctx, char *err, size_t errlen) {
  struct sink *s = ctx;
  int v = *(int *)item;
  sigset_t mask;
  pthread_sigmask(SIG_SETMASK, NULL, &mask);
  pthread_mutex_lock(&s->lock);
  s->signals_blocked = sigismember(&mask, SIGINT) && sigismember(&mask, SIGTERM);
  while (s->gate_closed)
    pthread_cond_wait(&s->cond, &s->lock);
  int rc = 0;
  if (v == s->fail_at) {
    snprintf(err, errlen, "Failed to write item: item=%d", v);
    rc = -EIO;
  } else {
    s->written[s->nwritten++] = v;
  }
  pthread_mutex_unlock(&s->lock);
  return rc;
}

static struct sink *freed_sink;
static void free_item(void *item) {
  freed_sink->freed++; /* called from the writer thread or at stop, never both at once */
  free(item);
}

static int *item(int v) {
  int *p = malloc(sizeof *p);
  assert_non_null(p);
  *p = v;
  return p;
}

static struct sink *sink_new(void) {
  struct sink *s = calloc(1, sizeof *s);
  assert_non_null(s);
  pthread_mutex_init(&s->lock, NULL);
  pthread_cond_init(&s->cond, NULL);
  s->fail_at = -1;
  freed_sink = s;
  return s;
}

static void sink_free(struct sink *s) {
  pthread_cond_destroy(&s->cond);
  pthread_mutex_destroy(&s->lock);
  free(s);
}

static void test_in_order_and_wait(void **state) {
  (void)state;
  struct sink *s = sink_new();
  struct spantap_group_writer *w;
  char err[256];
  assert_int_equal(spantap_group_writer_new(0, write_item, free_item, s, &w), -EINVAL);
  assert_int_equal(spantap_group_writer_new(3, write_item, free_item, s, &w), 0);
  int reused = 0;
  for (int i = 0; i < 200; i++) {
    void *done = NULL;
    assert_int_equal(spantap_group_writer_submit(w, item(i), &done, err, sizeof err), 0);
    if (done) { /* written already: reuse means free here */
      reused++;
      free(done);
    }
  }
  assert_int_equal(spantap_group_writer_wait(w, err, sizeof err), 0);
  assert_int_equal(s->nwritten, 200); /* wait returned: everything is written */
  for (int i = 0; i < 200; i++)
    assert_int_equal(s->written[i], i);
  assert_int_equal(spantap_group_writer_queued(w), 0);
  assert_int_equal(spantap_group_writer_error(w, err, sizeof err), 0);
  void *r;
  while ((r = spantap_group_writer_reclaim(w))) {
    reused++;
    free(r);
  }
  assert_int_equal(spantap_group_writer_stop(w, err, sizeof err), 0);
  assert_int_equal(reused + s->freed, 200); /* every item came back once */
  assert_true(s->signals_blocked);
  assert_int_equal(spantap_group_writer_stop(NULL, err, sizeof err), 0);
  sink_free(s);
}

static void test_error_kept_and_returned(void **state) {
  (void)state;
  struct sink *s = sink_new();
  s->fail_at = 5;
  struct spantap_group_writer *w;
  char err[256] = "";
  assert_int_equal(spantap_group_writer_new(2, write_item, free_item, s, &w), 0);
  int failed_submits = 0;
  for (int i = 0; i < 20; i++)
    if (spantap_group_writer_submit(w, item(i), NULL, err, sizeof err) < 0)
      failed_submits++;
  err[0] = '\0';
  assert_int_equal(spantap_group_writer_wait(w, err, sizeof err), -EIO);
  assert_string_equal(err, "Failed to write item: item=5");
  assert_true(failed_submits <= 14); /* item 5's failure can only show after it is taken */
  /* nothing after the failed item was written: the order would be broken */
  assert_int_equal(s->nwritten, 5);
  err[0] = '\0';
  assert_int_equal(spantap_group_writer_submit(w, item(99), NULL, err, sizeof err), -EIO);
  assert_string_equal(err, "Failed to write item: item=5");
  assert_int_equal(spantap_group_writer_error(w, NULL, 0), -EIO);
  err[0] = '\0';
  assert_int_equal(spantap_group_writer_stop(w, err, sizeof err), -EIO);
  assert_string_equal(err, "Failed to write item: item=5");
  assert_int_equal(s->freed, 21); /* every item freed, written or not */
  sink_free(s);
}

struct producer {
  struct spantap_group_writer *w;
  int n;
  int returned; /* submits that returned */
  pthread_mutex_t lock;
};

static void *produce(void *arg) {
  struct producer *p = arg;
  char err[256];
  for (int i = 0; i < p->n; i++) {
    spantap_group_writer_submit(p->w, item(i), NULL, err, sizeof err);
    pthread_mutex_lock(&p->lock);
    p->returned++;
    pthread_mutex_unlock(&p->lock);
  }
  return NULL;
}

static void open_gate(struct sink *s) {
  pthread_mutex_lock(&s->lock);
  s->gate_closed = false;
  pthread_cond_broadcast(&s->cond);
  pthread_mutex_unlock(&s->lock);
}

/* Starts P producing DEPTH + 5 items into W, whose writer is held at the
 * gate: it holds one item, the queue fills up, and then the producer must
 * block, never getting further than DEPTH + 1 items. */
static void start_blocked_producer(struct producer *p, pthread_t *t, struct spantap_group_writer *w,
                                   unsigned depth) {
  *p = (struct producer){.w = w, .n = (int)depth + 5};
  pthread_mutex_init(&p->lock, NULL);
  assert_int_equal(pthread_create(t, NULL, produce, p), 0);
  for (int i = 0; i < 2000 && spantap_group_writer_queued(w) < depth; i++)
    usleep(1000);
  assert_int_equal(spantap_group_writer_queued(w), depth);
  usleep(50000);
  pthread_mutex_lock(&p->lock);
  int returned = p->returned;
  pthread_mutex_unlock(&p->lock);
  assert_int_equal(returned, (int)depth + 1);
}

/* Opens the gate, lets P finish and stops W: every item written, in order. */
static void finish_producer(struct sink *s, struct producer *p, pthread_t t,
                            struct spantap_group_writer *w) {
  char err[256];
  open_gate(s);
  pthread_join(t, NULL);
  assert_int_equal(spantap_group_writer_stop(w, err, sizeof err), 0);
  assert_int_equal(s->nwritten, p->n); /* stop wrote what was queued */
  for (int i = 0; i < p->n; i++)
    assert_int_equal(s->written[i], i);
  pthread_mutex_destroy(&p->lock);
}

static void test_back_pressure(void **state) {
  (void)state;
  struct sink *s = sink_new();
  s->gate_closed = true;
  const unsigned depth = 3;
  struct spantap_group_writer *w;
  assert_int_equal(spantap_group_writer_new(depth, write_item, free_item, s, &w), 0);
  struct producer p;
  pthread_t t;
  start_blocked_producer(&p, &t, w, depth);
  finish_producer(s, &p, t, w);
  assert_int_equal(s->freed, p.n);
  sink_free(s);
}

/* Spill operations for int items: 4 bytes each, at the offset given. */
static int spill_fail_save; /* a save returns this when nonzero */
static int spill_fail_load;
static ssize_t save_int(const void *item, int fd, off_t at) {
  if (spill_fail_save)
    return spill_fail_save;
  return pwrite(fd, item, sizeof(int), at) == (ssize_t)sizeof(int) ? (ssize_t)sizeof(int) : -errno;
}
static ssize_t load_int(int fd, off_t at, void **item) {
  if (spill_fail_load)
    return spill_fail_load;
  if (!*item && !(*item = malloc(sizeof(int))))
    return -ENOMEM;
  return pread(fd, *item, sizeof(int), at) == (ssize_t)sizeof(int) ? (ssize_t)sizeof(int) : -EIO;
}
static const struct spantap_group_spill_ops int_spill = {.save = save_int, .load = load_int};

static int scratch_file(void) {
  char name[] = "/tmp/spantap-test-spill.XXXXXX";
  int fd = mkstemp(name);
  assert_true(fd >= 0);
  unlink(name);
  return fd;
}

/* Submits items FROM..TO-1 (each submit must return, never block: the test
 * would hang), freeing what comes back for reuse. */
static void submit_range(struct spantap_group_writer *w, int from, int to, int *reused) {
  char err[256];
  for (int i = from; i < to; i++) {
    void *done = NULL;
    assert_int_equal(spantap_group_writer_submit(w, item(i), &done, err, sizeof err), 0);
    if (done) {
      (*reused)++;
      free(done);
    }
  }
}

static void test_spill_keeps_order_without_waiting(void **state) {
  (void)state;
  struct sink *s = sink_new();
  s->gate_closed = true; /* the writer is stuck on its first item */
  spill_fail_save = spill_fail_load = 0;
  struct spantap_group_writer *w;
  char err[256];
  int fd = scratch_file();
  assert_int_equal(spantap_group_writer_new(2, write_item, free_item, s, &w), 0);
  spantap_group_writer_spill_to(w, fd, &int_spill);
  int reused = 0;
  /* far more than the queue holds, with the writer stuck: without the file
   * this thread would block at item 3 and the test would never end */
  submit_range(w, 0, 300, &reused);
  struct spantap_group_spill_stats st = spantap_group_writer_spill_stats(w);
  /* at most one item taken by the writer and two queued; the rest saved */
  assert_true(st.items >= 297);
  assert_int_equal(st.bytes_max, st.items * sizeof(int));
  assert_int_equal(st.save_errno, 0);
  assert_true(spantap_group_writer_queued(w) >= 299);
  open_gate(s);
  assert_int_equal(spantap_group_writer_wait(w, err, sizeof err), 0);
  assert_int_equal(s->nwritten, 300);
  for (int i = 0; i < 300; i++)
    assert_int_equal(s->written[i], i);
  /* caught up: a second burst starts the file again from its start */
  pthread_mutex_lock(&s->lock);
  s->gate_closed = true;
  pthread_mutex_unlock(&s->lock);
  submit_range(w, 300, 400, &reused);
  open_gate(s);
  assert_int_equal(spantap_group_writer_stop(w, err, sizeof err), 0);
  assert_int_equal(s->nwritten, 400);
  for (int i = 300; i < 400; i++)
    assert_int_equal(s->written[i], i);
  struct stat sb;
  assert_int_equal(fstat(fd, &sb), 0);
  assert_int_equal(sb.st_size, st.bytes_max); /* the second burst reused the first's room */
  assert_int_equal(reused + s->freed, 400);   /* every item came back once */
  close(fd);
  sink_free(s);
}

static void test_spill_save_failure_falls_back(void **state) {
  (void)state;
  struct sink *s = sink_new();
  s->gate_closed = true;
  spill_fail_save = -ENOSPC;
  spill_fail_load = 0;
  const unsigned depth = 3;
  struct spantap_group_writer *w;
  int fd = scratch_file();
  assert_int_equal(spantap_group_writer_new(depth, write_item, free_item, s, &w), 0);
  spantap_group_writer_spill_to(w, fd, &int_spill);
  struct producer p;
  pthread_t t;
  start_blocked_producer(&p, &t, w, depth); /* back to back-pressure */
  assert_int_equal(spantap_group_writer_spill_stats(w).save_errno, ENOSPC);
  assert_int_equal(spantap_group_writer_spill_stats(w).items, 0);
  finish_producer(s, &p, t, w);
  close(fd);
  sink_free(s);
  spill_fail_save = 0;
}

static void test_spill_read_failure_is_the_error(void **state) {
  (void)state;
  struct sink *s = sink_new();
  s->gate_closed = true;
  spill_fail_save = 0;
  spill_fail_load = -EIO;
  struct spantap_group_writer *w;
  char err[256] = "";
  int fd = scratch_file();
  assert_int_equal(spantap_group_writer_new(1, write_item, free_item, s, &w), 0);
  spantap_group_writer_spill_to(w, fd, &int_spill);
  int reused = 0;
  submit_range(w, 0, 10, &reused);
  assert_true(spantap_group_writer_spill_stats(w).items >= 8);
  open_gate(s);
  assert_int_equal(spantap_group_writer_wait(w, err, sizeof err), -EIO);
  assert_non_null(strstr(err, "Failed to read back a group of rows from the spill file: offset=0"));
  /* what was queued before the file was written; nothing from the file, and
   * nothing after the failure */
  assert_true(s->nwritten <= 2);
  for (int i = 0; i < s->nwritten; i++)
    assert_int_equal(s->written[i], i);
  assert_int_equal(spantap_group_writer_stop(w, err, sizeof err), -EIO);
  close(fd);
  sink_free(s);
  spill_fail_load = 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_in_order_and_wait),
      cmocka_unit_test(test_error_kept_and_returned),
      cmocka_unit_test(test_back_pressure),
      cmocka_unit_test(test_spill_keeps_order_without_waiting),
      cmocka_unit_test(test_spill_save_failure_falls_back),
      cmocka_unit_test(test_spill_read_failure_is_the_error),
  };
  return cmocka_run_group_tests_name("group_writer", tests, NULL, NULL);
}
