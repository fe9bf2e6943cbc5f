/* Map feed: the collector's side of the BPF runtime's queue transport. It
 * owns a BPF map source (collector/bpf_map_source.h) for one recording,
 * finds the recording's maps once the script's begin probe has published
 * them, and on each turn drains what is due and pushes the records into the
 * collector in time order across the queues of a pass (so that an EXEC comes
 * before the syscalls after it, and an EXIT after those before it), with the
 * records lost in the queues added to the collector's loss accounting.
 *
 * Memory: the pass buffer grows to the largest pass (at most the sum of the
 * queues' capacities plus CPUs, about 250 bytes a record) and is reused. */
#ifndef SPANTAP_MAP_FEED_H
#define SPANTAP_MAP_FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/bpf_map_source.h"
#include "collector/collector.h"

struct spantap_map_feed;

/* Creates a feed for the recording of COOKIE whose queues are numbered for
 * NCPU CPUs, pushing into COL (borrowed; it must outlive the feed). Returns
 * 0 and an owned feed in *OUT (spantap_map_feed_destroy), or -EINVAL (not a
 * cookie, bad NCPU) or -ENOMEM. */
int spantap_map_feed_new(uint64_t cookie, unsigned ncpu, struct spantap_collector *col,
                         struct spantap_map_feed **out);

/* Frees F and closes its map descriptors. NULL is a no-op. */
void spantap_map_feed_destroy(struct spantap_map_feed *f);

/* One turn: until the maps are found and ready, one attempt to find them;
 * then one pass if due (FINAL: the last one, after stapbpf has exited, which
 * delivers or counts lost everything left). Returns 0, or -errno with what
 * failed in ERR (the maps contradict this spantap, bpf(2) failed, the
 * collector failed). A final turn on a feed that never found its maps tries
 * once more to find them (gone with stapbpf: it does nothing). */
int spantap_map_feed_turn(struct spantap_map_feed *f, bool final, char *err, size_t errlen);

/* The two halves of a pass, for sources other than the maps (and tests):
 * spantap_map_feed_hold keeps a copy of REC (borrowed for the call) for the
 * current pass (0 or -ENOMEM); spantap_map_feed_push pushes the records held
 * into the collector ordered by completion time (ts + dur; BEGIN first, END
 * last; ties in the order held) and empties the pass. Returns 0, or the
 * collector's error with ERR. */
int spantap_map_feed_hold(struct spantap_map_feed *f, const struct spantap_record *rec);
int spantap_map_feed_push(struct spantap_map_feed *f, char *err, size_t errlen);

/* True once the recording's maps were found and published. */
bool spantap_map_feed_ready(const struct spantap_map_feed *f);

/* The map source's totals (delivered, lost, passes...). */
void spantap_map_feed_stats(const struct spantap_map_feed *f,
                            struct spantap_bpf_map_source_stats *out);

/* One line for the user: records, passes, the largest pass, lost (and by
 * which queues: "lost 12 (TCP 10, SC 2)"), duplicates, malformed. */
void spantap_map_feed_summary(const struct spantap_map_feed *f, char *buf, size_t len);

#endif
