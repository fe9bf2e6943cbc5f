/* Group writer (collector/group_writer.h): one thread, a ring of DEPTH
 * queued items and a stack of written ones, under one mutex with two
 * condition variables (room in the queue; work or idleness). */
#include "collector/group_writer.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERR_MAX 512

struct spantap_group_writer {
  spantap_group_write_fn fn;
  void (*free_fn)(void *item);
  void *ctx;
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t room; /* the producer waits: the ring has room, or the thread is idle */
  pthread_cond_t work; /* the thread waits: an item is queued, or stop */
  void **ring;
  unsigned depth, head, queued;
  bool busy; /* the thread is writing an item */
  bool stopping;
  void **done; /* written items, for reuse */
  unsigned ndone, done_cap;
  int error; /* the first error, sticky */
  char error_msg[ERR_MAX];
};

/* Keeps ITEM for reuse, or frees it when enough are kept. Called locked. */
static void give_back(struct spantap_group_writer *w, void *item) {
  if (w->ndone < w->done_cap)
    w->done[w->ndone++] = item;
  else if (w->free_fn)
    w->free_fn(item);
}

static void *writer_main(void *arg) {
  struct spantap_group_writer *w = arg;
  char msg[ERR_MAX];
  pthread_mutex_lock(&w->lock);
  for (;;) {
    while (!w->queued && !w->stopping)
      pthread_cond_wait(&w->work, &w->lock);
    if (!w->queued)
      break;
    void *item = w->ring[w->head];
    w->head = (w->head + 1) % w->depth;
    w->queued--;
    w->busy = true;
    bool failed = w->error != 0;
    pthread_cond_broadcast(&w->room);
    pthread_mutex_unlock(&w->lock);
    int rc = 0;
    msg[0] = '\0';
    if (!failed) /* after an error nothing more is written: the order would be broken */
      rc = w->fn(item, w->ctx, msg, sizeof msg);
    pthread_mutex_lock(&w->lock);
    if (rc < 0 && !w->error) {
      w->error = rc;
      snprintf(w->error_msg, sizeof w->error_msg, "%s",
               msg[0] ? msg : "Failed to write a group of rows (no message)");
    }
    give_back(w, item);
    w->busy = false;
    pthread_cond_broadcast(&w->room);
  }
  pthread_mutex_unlock(&w->lock);
  return NULL;
}

/* Frees W and what it owns; its thread is not running (never started, or
 * joined). Items still in its ring are not freed here. */
static void free_writer(struct spantap_group_writer *w) {
  pthread_cond_destroy(&w->work);
  pthread_cond_destroy(&w->room);
  pthread_mutex_destroy(&w->lock);
  free(w->ring);
  free(w->done);
  free(w);
}

int spantap_group_writer_new(unsigned depth, spantap_group_write_fn fn, void (*free_fn)(void *item),
                             void *ctx, struct spantap_group_writer **out) {
  *out = NULL;
  if (!depth)
    return -EINVAL;
  struct spantap_group_writer *w = calloc(1, sizeof *w);
  if (!w)
    return -ENOMEM;
  w->fn = fn;
  w->free_fn = free_fn;
  w->ctx = ctx;
  w->depth = depth;
  w->done_cap = depth + 2;
  w->ring = calloc(depth, sizeof *w->ring);
  w->done = calloc(w->done_cap, sizeof *w->done);
  if (!w->ring || !w->done) {
    free(w->ring);
    free(w->done);
    free(w);
    return -ENOMEM;
  }
  pthread_mutex_init(&w->lock, NULL);
  pthread_cond_init(&w->room, NULL);
  pthread_cond_init(&w->work, NULL);
  /* the thread starts with every signal blocked (it inherits this mask) */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int rc = pthread_create(&w->thread, NULL, writer_main, w);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc) {
    free_writer(w);
    return -rc;
  }
  *out = w;
  return 0;
}

/* The first error into ERR. Called locked. */
static int report(struct spantap_group_writer *w, char *err, size_t errlen) {
  if (w->error && err && errlen)
    snprintf(err, errlen, "%s", w->error_msg);
  return w->error;
}

int spantap_group_writer_submit(struct spantap_group_writer *w, void *item, void **done, char *err,
                                size_t errlen) {
  pthread_mutex_lock(&w->lock);
  while (w->queued == w->depth)
    pthread_cond_wait(&w->room, &w->lock);
  w->ring[(w->head + w->queued) % w->depth] = item;
  w->queued++;
  pthread_cond_signal(&w->work);
  if (done)
    *done = w->ndone ? w->done[--w->ndone] : NULL;
  int rc = report(w, err, errlen);
  pthread_mutex_unlock(&w->lock);
  return rc;
}

void *spantap_group_writer_reclaim(struct spantap_group_writer *w) {
  pthread_mutex_lock(&w->lock);
  void *item = w->ndone ? w->done[--w->ndone] : NULL;
  pthread_mutex_unlock(&w->lock);
  return item;
}

int spantap_group_writer_wait(struct spantap_group_writer *w, char *err, size_t errlen) {
  pthread_mutex_lock(&w->lock);
  while (w->queued || w->busy)
    pthread_cond_wait(&w->room, &w->lock);
  int rc = report(w, err, errlen);
  pthread_mutex_unlock(&w->lock);
  return rc;
}

int spantap_group_writer_error(struct spantap_group_writer *w, char *err, size_t errlen) {
  pthread_mutex_lock(&w->lock);
  int rc = report(w, err, errlen);
  pthread_mutex_unlock(&w->lock);
  return rc;
}

unsigned spantap_group_writer_queued(struct spantap_group_writer *w) {
  pthread_mutex_lock(&w->lock);
  unsigned n = w->queued;
  pthread_mutex_unlock(&w->lock);
  return n;
}

int spantap_group_writer_stop(struct spantap_group_writer *w, char *err, size_t errlen) {
  if (!w)
    return 0;
  pthread_mutex_lock(&w->lock);
  w->stopping = true;
  pthread_cond_signal(&w->work);
  pthread_mutex_unlock(&w->lock);
  pthread_join(w->thread, NULL);
  int rc = report(w, err, errlen);
  for (unsigned i = 0; i < w->ndone; i++)
    if (w->free_fn)
      w->free_fn(w->done[i]);
  free_writer(w);
  return rc;
}
