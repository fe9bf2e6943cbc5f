/* Group writer (collector/group_writer.h): one thread, a ring of DEPTH
 * queued items, a spill file of items saved after them, and a stack of
 * written ones, under one mutex with two condition variables (room in the
 * queue; work or idleness). Items are saved to the file under the mutex, so
 * the file's end only moves while the thread cannot be resetting it; the
 * thread reads back outside the mutex, below the end it saw. */
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
  /* the spill file: items saved in [spill_read, spill_end), spilled of them;
   * every one is newer than every item in the ring */
  int spill_fd;      /* -1: none */
  bool spill_saving; /* submit saves to it (false after a failed save) */
  struct spantap_group_spill_ops spill;
  off_t spill_read, spill_end;
  unsigned spilled;
  struct spantap_group_spill_stats spill_stats;
};

/* Keeps ITEM for reuse, or frees it when enough are kept. Called locked. */
static void give_back(struct spantap_group_writer *w, void *item) {
  if (w->ndone < w->done_cap)
    w->done[w->ndone++] = item;
  else if (w->free_fn)
    w->free_fn(item);
}

/* Notes the first error RC (MSG, or a generic message when empty). Called
 * locked. */
static void note_error(struct spantap_group_writer *w, int rc, const char *msg) {
  if (rc < 0 && !w->error) {
    w->error = rc;
    snprintf(w->error_msg, sizeof w->error_msg, "%s",
             msg[0] ? msg : "Failed to write a group of rows (no message)");
  }
}

static void *writer_main(void *arg) {
  struct spantap_group_writer *w = arg;
  char msg[ERR_MAX];
  pthread_mutex_lock(&w->lock);
  for (;;) {
    while (!w->queued && !w->spilled && !w->stopping)
      pthread_cond_wait(&w->work, &w->lock);
    if (!w->queued && !w->spilled)
      break;
    void *item = NULL;
    bool from_file = !w->queued; /* the ring's items are older than the file's */
    off_t at = w->spill_read;
    if (from_file) {
      item = w->ndone ? w->done[--w->ndone] : NULL;
    } else {
      item = w->ring[w->head];
      w->head = (w->head + 1) % w->depth;
      w->queued--;
    }
    w->busy = true;
    bool failed = w->error != 0;
    pthread_cond_broadcast(&w->room);
    pthread_mutex_unlock(&w->lock);
    int rc = 0;
    ssize_t loaded = 0;
    msg[0] = '\0';
    /* after an error nothing more is written (the order would be broken):
     * the file's items are only counted off */
    if (from_file && !failed) {
      loaded = w->spill.load(w->spill_fd, at, &item);
      if (loaded < 0) {
        rc = (int)loaded;
        snprintf(msg, sizeof msg,
                 "Failed to read back a group of rows from the spill file: offset=%lld errno=%s",
                 (long long)at, strerror((int)-loaded));
      }
    }
    if (!failed && rc == 0)
      rc = w->fn(item, w->ctx, msg, sizeof msg);
    pthread_mutex_lock(&w->lock);
    note_error(w, rc, msg);
    if (from_file) {
      w->spill_read += loaded > 0 ? loaded : 0;
      if (--w->spilled == 0) /* caught up: the file is reused from its start */
        w->spill_read = w->spill_end = 0;
    }
    if (item)
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
  w->spill_fd = -1;
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

/* Saves ITEM to the spill file when the writer is behind (the ring full, or
 * items in the file). Returns true when saved. Called locked. */
static bool spill_item(struct spantap_group_writer *w, const void *item) {
  if (!w->spill_saving || w->error || (w->queued < w->depth && !w->spilled))
    return false;
  ssize_t n = w->spill.save(item, w->spill_fd, w->spill_end);
  if (n <= 0) {
    w->spill_saving = false;
    w->spill_stats.save_errno = n < 0 ? (int)-n : EIO;
    return false;
  }
  w->spill_end += n;
  w->spilled++;
  w->spill_stats.items++;
  if ((uint64_t)(w->spill_end - w->spill_read) > w->spill_stats.bytes_max)
    w->spill_stats.bytes_max = (uint64_t)(w->spill_end - w->spill_read);
  pthread_cond_signal(&w->work);
  return true;
}

int spantap_group_writer_submit(struct spantap_group_writer *w, void *item, void **done, char *err,
                                size_t errlen) {
  pthread_mutex_lock(&w->lock);
  if (spill_item(w, item)) { /* its contents are in the file: the item is free again */
    if (done)
      *done = item;
    else
      give_back(w, item);
    int rc = report(w, err, errlen);
    pthread_mutex_unlock(&w->lock);
    return rc;
  }
  /* the file's items go first: the ring takes new ones once they are written */
  while (w->queued == w->depth || w->spilled)
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

void spantap_group_writer_spill_to(struct spantap_group_writer *w, int fd,
                                   const struct spantap_group_spill_ops *ops) {
  pthread_mutex_lock(&w->lock);
  w->spill_fd = fd;
  w->spill = *ops;
  w->spill_saving = fd >= 0;
  pthread_mutex_unlock(&w->lock);
}

struct spantap_group_spill_stats spantap_group_writer_spill_stats(struct spantap_group_writer *w) {
  pthread_mutex_lock(&w->lock);
  struct spantap_group_spill_stats st = w->spill_stats;
  pthread_mutex_unlock(&w->lock);
  return st;
}

void *spantap_group_writer_reclaim(struct spantap_group_writer *w) {
  pthread_mutex_lock(&w->lock);
  void *item = w->ndone ? w->done[--w->ndone] : NULL;
  pthread_mutex_unlock(&w->lock);
  return item;
}

int spantap_group_writer_wait(struct spantap_group_writer *w, char *err, size_t errlen) {
  pthread_mutex_lock(&w->lock);
  while (w->queued || w->spilled || w->busy)
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
  unsigned n = w->queued + w->spilled;
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
