/* Queue decoder: turns the raw keys drained from one record queue (see
 * include/spantap/record_queue.h) into the same struct spantap_record that
 * the text parser fills, with no I/O: the caller drains the maps and passes
 * the counters it read before draining. Records come out in sequence order
 * per CPU (CPUs merged by their first field, the time); a hole below a
 * counter is a lost record; records at or above the counter wait for the next
 * pass. Nothing in the input is trusted. */
#ifndef SPANTAP_QUEUE_DECODE_H
#define SPANTAP_QUEUE_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "collector/stream_parse.h"
#include "spantap/record_queue.h"

/* Checks the control slots CTL (indexed by enum spantap_queue_ctl) of a
 * counter map against COOKIE and NCPU, and fills *OUT with the queue they
 * describe. Returns 0; -EAGAIN when the version slot is still 0 (begin has
 * not finished: not ready); -EXDEV when the cookie is another recording's;
 * -EPROTO for another layout version or slots that contradict the record
 * table (kind, key words, stack form, CPUs, capacity). */
int spantap_queue_control_check(const uint64_t ctl[SPANTAP_QCTL__COUNT], uint64_t cookie,
                                unsigned ncpu, struct spantap_queue_desc *out);

/* Interned stack chunks, as drained from _stqstk. Opaque. */
struct spantap_stack_table;

/* Returns an empty owned table (destroy with spantap_stack_table_destroy), or NULL. */
struct spantap_stack_table *spantap_stack_table_new(void);
/* Frees the table. NULL is a no-op. */
void spantap_stack_table_destroy(struct spantap_stack_table *t);

struct spantap_stack_table_stats {
  uint64_t chunks;     /* chunks added */
  uint64_t rejected;   /* rows whose id is not the hash of their parent and frames */
  uint64_t collisions; /* an id already known with other frames (the first is kept) */
};

/* Adds NROWS rows of SPANTAP_QUEUE_STACK_ROW_WORDS words each from ROWS (the
 * raw keys). The marker row {COOKIE, ~0, ...} is skipped. Returns 0,
 * -EXDEV when a row is another recording's marker (nothing is added), or
 * -ENOMEM. Counts go to *ST (accumulated; may be NULL). */
int spantap_stack_table_add(struct spantap_stack_table *t, const uint64_t *rows, size_t nrows,
                            uint64_t cookie, struct spantap_stack_table_stats *st);

/* Fills FRAMES (up to MAX) with the frames of stack ID, innermost first,
 * zero slots included, and *N with the count. Returns 0, or -ENOENT when ID
 * or one of its chunks is unknown (*N then counts what was found). */
int spantap_stack_table_resolve(const struct spantap_stack_table *t, uint64_t id, uint64_t *frames,
                                unsigned max, unsigned *n);

/* Counts of one queue's passes, accumulated over the decoder's life. */
struct spantap_queue_stats {
  uint64_t delivered;
  uint64_t lost;          /* holes below the counters: inserts that failed (full queue) */
  uint64_t kept;          /* records at or above a counter, held for the next pass (now) */
  uint64_t duplicates;    /* a tag seen twice, or again after it was delivered: dropped */
  uint64_t malformed;     /* a key that is neither a record of this queue nor its marker */
  uint64_t markers;       /* this queue's own marker, skipped */
  uint64_t missing_text;  /* a record whose text never came: delivered with "" */
  uint64_t missing_stack; /* an interned stack id not in the table: flagged unwind-broken */
};

struct spantap_queue_decoder;

/* Creates a decoder for queue DESC of a recording with COOKIE on NCPU CPUs
 * (DESC as spantap_queue_control_check filled it; copied). Returns an owned
 * decoder in *OUT (destroy with spantap_queue_decoder_destroy), -EINVAL for a
 * bad DESC or NCPU, or -ENOMEM. */
int spantap_queue_decoder_new(const struct spantap_queue_desc *desc, unsigned ncpu, uint64_t cookie,
                              struct spantap_queue_decoder **out);
/* Frees the decoder and the records it still holds. NULL is a no-op. */
void spantap_queue_decoder_destroy(struct spantap_queue_decoder *d);

/* Receives each record. REC, its text and frames live until FN returns. A
 * nonzero return stops the pass (the records not yet delivered are dropped
 * and counted nowhere) and is returned by spantap_queue_decode_pass. */
typedef int (*spantap_queue_record_fn)(const struct spantap_record *rec, void *ctx);

/* One pass. COUNTERS[cpu] (NCPU values) are the queue's counters, read
 * BEFORE the batch was drained. KEYS holds NKEYS keys of desc->key_words
 * words each (the batch, any order). TEXTS holds NTEXTS values of
 * SPANTAP_QUEUE_TEXT_MAX bytes whose tags are TEXT_TAGS (the text array's
 * batch, drained after the counters were read and before KEYS); ignored for
 * kinds without text. STACKS resolves interned stacks (may be NULL when the
 * queue interns none; it must hold the chunks drained after the counters
 * were read). Delivers every record numbered below its CPU's counter, in
 * order, counts the holes as lost, keeps the rest for the next pass.
 * Returns 0; -EXDEV when the batch holds another recording's marker (then
 * nothing is delivered or kept); -EPROTO when a counter went backwards;
 * -ENOMEM; or FN's nonzero return. Counts are in spantap_queue_decoder_stats. */
int spantap_queue_decode_pass(struct spantap_queue_decoder *d, const uint64_t *counters,
                              const uint64_t *keys, size_t nkeys, const uint64_t *text_tags,
                              const char *texts, size_t ntexts,
                              const struct spantap_stack_table *stacks, spantap_queue_record_fn fn,
                              void *ctx);

/* The decoder's counts so far. */
const struct spantap_queue_stats *
spantap_queue_decoder_stats(const struct spantap_queue_decoder *d);

/* The queue the decoder reads. */
const struct spantap_queue_desc *spantap_queue_decoder_desc(const struct spantap_queue_decoder *d);

#endif
