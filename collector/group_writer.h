/* Group writer: a thread that writes groups of rows (opaque items) handed to
 * it through a bounded queue, so that the collector decodes and derives spans
 * while the previous groups go into SQLite. The queue holds at most DEPTH
 * items: a producer that gets ahead blocks (back-pressure), which bounds the
 * memory in flight to DEPTH + 2 items (the queued ones, the one being written,
 * the one being filled). The first error of the write function stops the
 * writing: it is kept, later items are given back unwritten, and every later
 * call returns it, so no error is dropped. The thread blocks every signal:
 * signals go to the threads that handle them. */
#ifndef SPANTAP_GROUP_WRITER_H
#define SPANTAP_GROUP_WRITER_H

#include <stddef.h>

/* Writes ITEM (borrowed; the writer gives it back afterwards). Returns 0, or
 * a negative errno with what failed in ERR (ERRLEN bytes). Runs on the
 * writer's thread. */
typedef int (*spantap_group_write_fn)(void *item, void *ctx, char *err, size_t errlen);

struct spantap_group_writer;

/* Starts a writer thread calling FN(item, CTX) for each item submitted, in
 * order. DEPTH (>= 1) is the most items queued. Items the writer is finished
 * with wait for reuse (up to DEPTH + 2 of them; beyond, and at stop, they go
 * to FREE_FN, which may be NULL). Returns 0 and an owned writer in *OUT (stop
 * with spantap_group_writer_stop), -EINVAL for DEPTH 0, -ENOMEM, or the
 * -errno of pthread_create. */
int spantap_group_writer_new(unsigned depth, spantap_group_write_fn fn, void (*free_fn)(void *item),
                             void *ctx, struct spantap_group_writer **out);

/* Queues ITEM (owned by the writer until given back), blocking while DEPTH
 * items wait. *DONE (may be NULL) receives an item the writer is finished
 * with, for reuse (NULL when none is): each item submitted comes back once,
 * here, from spantap_group_writer_reclaim, or goes to FREE_FN. Returns 0, or
 * the writer's first error (ERR says what failed); after an error ITEM is
 * still taken, and given back unwritten. */
int spantap_group_writer_submit(struct spantap_group_writer *w, void *item, void **done, char *err,
                                size_t errlen);

/* An item the writer is finished with, or NULL when none is. */
void *spantap_group_writer_reclaim(struct spantap_group_writer *w);

/* Blocks until every item submitted is written (or given back after an
 * error). Returns 0 or the writer's first error, with ERR. */
int spantap_group_writer_wait(struct spantap_group_writer *w, char *err, size_t errlen);

/* The writer's first error (0 while none), without blocking; with ERR when
 * nonzero (ERR may be NULL). */
int spantap_group_writer_error(struct spantap_group_writer *w, char *err, size_t errlen);

/* Writes what is queued, ends the thread, passes each item it still holds to
 * FREE_FN and frees W. Returns 0 or the writer's first error (with ERR). NULL
 * is a no-op returning 0. */
int spantap_group_writer_stop(struct spantap_group_writer *w, char *err, size_t errlen);

/* Items queued and not yet taken by the thread (for tests and statistics). */
unsigned spantap_group_writer_queued(struct spantap_group_writer *w);

#endif
