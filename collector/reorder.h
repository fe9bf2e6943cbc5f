/* Bounded reorder window: events from different CPUs reach the collector
 * slightly out of order; the window holds them and releases them in order of
 * completion time (ties in arrival order) once no earlier event can still
 * arrive, i.e. when they are WINDOW_NS older than the newest event seen, or
 * when the window holds MAX_EVENTS (then the oldest goes out early). Not a
 * full sort: memory is bounded by MAX_EVENTS whatever the recording's length.
 * Input already in order (the map feed sorts each pass) costs O(1) per event:
 * such events are held in a FIFO run beside a heap that takes the rest, and
 * the order of release does not depend on which of the two held an event. */
#ifndef SPANTAP_REORDER_H
#define SPANTAP_REORDER_H

#include <stddef.h>
#include <stdint.h>

#include "collector/event.h"

/* Receives each released event; a nonzero return stops the release and is
 * returned by the push or drain that caused it. */
typedef int (*spantap_reorder_release_fn)(const struct spantap_event *e, void *ctx);

struct spantap_reorder_stats {
  uint64_t late;   /* arrived after a later event had been released: released at once */
  uint64_t forced; /* released early because the window was full */
  uint64_t peak;   /* most events held at once */
};

struct spantap_reorder;

/* Creates a window (WINDOW_NS >= 0, MAX_EVENTS >= 1) releasing to FN(e, CTX).
 * Returns an owned window in *OUT (destroy with spantap_reorder_destroy), or -ENOMEM. */
int spantap_reorder_new(int64_t window_ns, size_t max_events, spantap_reorder_release_fn fn,
                        void *ctx, struct spantap_reorder **out);
/* Frees the window and the events it still holds (unreleased). NULL is a no-op. */
void spantap_reorder_destroy(struct spantap_reorder *r);

/* Adds a copy of E and releases whatever became due. Returns 0, -ENOMEM, or
 * the release function's error. */
int spantap_reorder_push(struct spantap_reorder *r, const struct spantap_event *e);
/* Releases every event held, in order. Returns 0 or the release function's error. */
int spantap_reorder_drain(struct spantap_reorder *r);
/* Releases the events that completed at or before BEFORE (a time of the
 * events' clock): for a live recording whose stream went quiet, where no newer
 * event comes to push them out. Events arriving later that completed before
 * them count as late. Returns 0 or the release function's error. */
int spantap_reorder_release_before(struct spantap_reorder *r, int64_t before);

size_t spantap_reorder_held(const struct spantap_reorder *r);
const struct spantap_reorder_stats *spantap_reorder_stats(const struct spantap_reorder *r);

#endif
