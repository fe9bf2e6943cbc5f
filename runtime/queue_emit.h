/* SystemTap code of the queue transport (include/spantap/record_queue.h):
 * the map declarations, the begin probe that publishes the control slots, the
 * statements that store one record into its queue, and the interning of a
 * user stack. Everything is derived from the record table and a queue set;
 * the caller places the pieces (docs/bpf-transport.md says where). */
#ifndef SPANTAP_QUEUE_EMIT_H
#define SPANTAP_QUEUE_EMIT_H

#include <stdio.h>

#include "spantap/record_queue.h"

/* Writes the global declarations of every map of SET to OUT.
 * Returns 0, or -EIO when writing fails. */
int spantap_queue_emit_globals(FILE *out, const struct spantap_queue_set *set);

/* Writes a begin probe that fills every counter map's control slots, writes
 * the markers and, last, each queue's layout version (the reader's "ready").
 * The cookie goes through a local: a 64-bit constant used directly in an
 * expression is rejected by the BPF verifier. Returns 0 or -EIO. */
int spantap_queue_emit_begin(FILE *out, const struct spantap_queue_set *set);

/* Writes, each line prefixed by INDENT, the statements that store one record
 * of queue QID: the fields from the locals named as the record table names
 * them, the stack from _sflags and _sf0 (INLINE) or _stq_stk (INTERNED, set
 * by the stack statements below), the text from the string local `text`.
 * Order: text, record, then the counter (a reader trusts records below it).
 * Returns 0, -EINVAL (QID unknown) or -EIO. */
int spantap_queue_emit_record(FILE *out, const struct spantap_queue_set *set, unsigned qid,
                              const char *indent);

/* Writes the start of a stack's interning: _stq_stk = 0. Returns 0 or -EIO. */
int spantap_queue_emit_stack_start(FILE *out, const char *indent);

/* Writes the interning of chunk CHUNK (0 = innermost) of a stack: the frames
 * are in _sf0.._sf<NFRAMES-1> (NFRAMES 1..SPANTAP_QUEUE_STACK_CHUNK, the rest
 * count as 0); _stq_stk becomes the chunk's id, and the chunk goes into the
 * stack table unless its id was already written. A walk deeper than one chunk
 * reuses _sf0.._sf7 for each chunk, so the BPF stack holds one chunk at a
 * time. Returns 0, -EINVAL (bad NFRAMES, SET interns no stacks) or -EIO. */
int spantap_queue_emit_stack_chunk(FILE *out, const struct spantap_queue_set *set, unsigned chunk,
                                   unsigned nframes, const char *indent);

#endif
