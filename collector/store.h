/* SQLite store of a recording: creates the database (mode 0600, WAL), writes
 * rows in batched transactions with statements prepared once, on a writer
 * thread of its own, and closes it cleanly. The tables are documented in
 * docs/schema.md.
 *
 * Threads: the row writers only queue the rows; a writer thread (every signal
 * blocked) writes them in order while the caller goes on. A failure of the
 * writer is kept and returned by the next call of any function here (with
 * its message in spantap_store_errmsg), so a row writer may return the error
 * of an earlier row. All calls on one store come from one thread. */
#ifndef SPANTAP_STORE_H
#define SPANTAP_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/span_model.h"

struct spantap_store;

/* Creates the database at PATH. Refuses an existing file with -EEXIST unless
 * FORCE, which removes it first. Every batch the writer thread has committed
 * stays readable if the process dies later (WAL, synchronous=NORMAL); starts
 * the writer thread (SQLite must be built thread-safe: -ENOTSUP otherwise). Returns an owned store
 * in *OUT (destroy with spantap_store_close or spantap_store_destroy); on error returns -errno and
 * explains in ERR. */
int spantap_store_open(const char *path, bool force, struct spantap_store **out, char *err,
                       size_t errlen);

/* Removes the database at PATH and its WAL side files (-wal, -shm); files that
 * do not exist are fine. Returns 0, or -errno when PATH itself could not be
 * removed. */
int spantap_store_remove(const char *path);

/* Ends the open batch: the writer thread commits it after its rows, and
 * starts the next. Returns 0 or -EIO (ERR says why: this or an earlier
 * failure of the writer). A batch is durable once the writer has committed
 * it, at most a few thousand rows later (spantap_store_sync waits for it). */
int spantap_store_commit(struct spantap_store *s, char *err, size_t errlen);

/* Waits until the writer thread has written every row queued so far (and
 * committed the batches ended). Returns 0 or -EIO (ERR says why). */
int spantap_store_sync(struct spantap_store *s, char *err, size_t errlen);

/* Writes what is queued, stops the writer thread, commits, builds indexes,
 * checkpoints the WAL and closes. The store is freed whatever the result.
 * Returns 0 or -EIO (ERR says why: the writer's first failure, or the close's). */
int spantap_store_close(struct spantap_store *s, char *err, size_t errlen);

/* Frees S without committing the open batch: the batches already ended are
 * written and stay, the rows after them are dropped. NULL is a no-op. */
void spantap_store_destroy(struct spantap_store *s);

/* The store's first failure (or, before the writer thread runs, SQLite's
 * last error), for messages. */
const char *spantap_store_errmsg(const struct spantap_store *s);

/* The most bytes the rows on their way to the writer thread hold (the groups
 * queued, being written and being filled), whatever the recording's length. */
size_t spantap_store_memory_bound(void);

/* The writer thread's backlog beyond that bound: groups of rows made while
 * the writer was behind go to an unnamed scratch file beside the output
 * (removed when the store closes) instead of stopping the collector. */
struct spantap_store_backlog {
  uint64_t groups_spilled; /* groups of up to SPANTAP_GROUP_ROWS rows saved to the file */
  uint64_t bytes_max;      /* the file's largest backlog */
  int spill_errno;         /* why there is no scratch file, or why saving to it
                            * stopped (the collector then waits for the writer);
                            * 0 while it works */
};

/* The backlog so far (S open). */
struct spantap_store_backlog spantap_store_backlog(struct spantap_store *s);

/* Row writers. Each returns 0 or -EIO; text arguments may be NULL (SQL NULL).
 * Ids are chosen by the caller (the collector interns them). */
int spantap_store_meta(struct spantap_store *s, const char *key, const char *text, int64_t num);

/* One row of the recording table: a key with a text or a number. */
struct spantap_meta_row {
  const char *key; /* NULL: the row is left out */
  const char *text;
  int64_t num;
};

/* Writes the N ROWS (those with a key) into the recording table. Returns 0,
 * or -EIO with the key that failed and SQLite's message in ERR. */
int spantap_store_meta_rows(struct spantap_store *s, const struct spantap_meta_row *rows, size_t n,
                            char *err, size_t errlen);
int spantap_store_process(struct spantap_store *s, int64_t pid, int64_t ppid, const char *exe,
                          int64_t start_ns, int64_t exec_ns, int64_t exit_ns, int64_t exit_status,
                          bool attached);
int spantap_store_thread(struct spantap_store *s, int64_t tid, int64_t pid, int64_t start_ns,
                         int64_t exit_ns);
int spantap_store_process_event(struct spantap_store *s, int64_t ts, const char *kind, int64_t pid,
                                int64_t tid, int64_t other_pid, int64_t other_tid, const char *path,
                                int64_t status);
int spantap_store_mapping(struct spantap_store *s, int64_t pid, uint64_t start, uint64_t end,
                          uint64_t pgoff, const char *perms, int64_t module_id);
/* Writes module ID's row; a second call for the same ID replaces its build
 * id (a stream's MOD record met after the module). */
int spantap_store_module(struct spantap_store *s, int64_t id, const char *path,
                         const char *build_id);
int spantap_store_frame(struct spantap_store *s, int64_t id, int64_t module_id, uint64_t rel_addr,
                        const char *function, uint64_t offset, const char *file, int line);
int spantap_store_stack(struct spantap_store *s, int64_t id, const int64_t *frame_ids,
                        unsigned nframes, unsigned flags, int64_t app_frame_id);
int spantap_store_connection(struct spantap_store *s, int64_t id, int family, int proto,
                             const char *laddr, int lport, const char *raddr, int rport,
                             uint64_t sock);
int spantap_store_syscall(struct spantap_store *s, int64_t ts, int64_t dur, int64_t pid,
                          int64_t tid, int64_t nr, const char *name, const char *class_name,
                          const int64_t args[3], int64_t ret, int64_t stack_id, int64_t conn_id,
                          int64_t span_id);
int spantap_store_tcp_state(struct spantap_store *s, int64_t ts, int64_t pid, int64_t tid,
                            int64_t conn_id, int old_state, int new_state, int64_t stack_id);
int spantap_store_offcpu(struct spantap_store *s, int64_t ts, int64_t dur, int64_t pid, int64_t tid,
                         int64_t state, int64_t span_id);
int spantap_store_page_fault(struct spantap_store *s, int64_t ts, int64_t pid, int64_t tid,
                             uint64_t address, int64_t error_code, int64_t stack_id,
                             int64_t span_id);

int spantap_store_span(struct spantap_store *s, const struct spantap_span_row *r);
int spantap_store_span_edge(struct spantap_store *s, int64_t parent_id, int64_t child_id,
                            const char *kind);
int spantap_store_trace(struct spantap_store *s, const struct spantap_trace_row *r);

#endif
