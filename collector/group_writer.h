/* Group writer: a thread that writes groups of rows (opaque items) handed to
 * it through a bounded queue, so that the collector decodes and derives spans
 * while the previous groups go into SQLite. The queue holds at most DEPTH
 * items: a producer that gets ahead blocks (back-pressure), which bounds the
 * memory in flight to DEPTH + 2 items (the queued ones, the one being written,
 * the one being filled). With a spill file, a producer that gets ahead never
 * waits: its items are saved to the file and read back by the thread in their
 * turn, so memory stays bounded and the backlog goes to disk. The first error of the write function
 * stops the writing: it is kept, later items are given back unwritten, and every later call returns
 * it, so no error is dropped. The thread blocks every signal: signals go to the threads that handle
 * them. */
#ifndef SPANTAP_GROUP_WRITER_H
#define SPANTAP_GROUP_WRITER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

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

/* How items are saved to a spill file and read back. */
struct spantap_group_spill_ops {
  /* Writes ITEM's contents at offset AT of FD. Returns the bytes written
   * (> 0), or -errno with nothing usable written. Runs on the producer's
   * thread; ITEM stays the producer's (submit gives it back at once). */
  ssize_t (*save)(const void *item, int fd, off_t at);
  /* Reads the item saved at offset AT of FD into *ITEM: an item to reuse, or
   * NULL, then a new one is allocated (owned by the writer, like submitted
   * ones). Returns the bytes read (what save returned), or -errno (-ENOMEM,
   * -EIO, -EPROTO for a record that save did not write). Runs on the thread. */
  ssize_t (*load)(int fd, off_t at, void **item);
};

/* What the spill file took. */
struct spantap_group_spill_stats {
  uint64_t items;     /* items saved to the file */
  uint64_t bytes_max; /* the file's largest backlog, in bytes */
  int save_errno;     /* why saving failed (spilling then stopped), 0 while it works */
};

/* From now on, an item submitted while DEPTH items wait, or while items saved
 * earlier wait in the file, is saved to FD (open for reading and writing,
 * borrowed: it stays open until spantap_group_writer_stop returns) instead of
 * blocking; the thread writes items in the order submitted, from the queue or
 * the file. The file is reused from its start once the thread has caught up.
 * A save that fails (a full disk) ends spilling: the errno is kept in the
 * stats and submit blocks again. Call before the first submit. */
void spantap_group_writer_spill_to(struct spantap_group_writer *w, int fd,
                                   const struct spantap_group_spill_ops *ops);

/* The spill file's statistics so far (zeros without one). */
struct spantap_group_spill_stats spantap_group_writer_spill_stats(struct spantap_group_writer *w);

/* Items queued or saved to the spill file and not yet taken by the thread
 * (for tests and statistics). */
unsigned spantap_group_writer_queued(struct spantap_group_writer *w);

#endif
