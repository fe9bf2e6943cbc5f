/* BPF map source: the collector's reader of the queue transport. It finds
 * one recording's maps among all BPF maps of the machine by their shape and
 * the recording's cookie (stapbpf names none), waits until the begin probe
 * has published them, and drains them in passes gated by the counters,
 * handing each record to a callback through collector/queue_decode.h. It
 * keeps its own descriptors, so the maps outlive stapbpf and a final pass
 * after stapbpf exits sees every record. Needs CAP_SYS_ADMIN (root). */
#ifndef SPANTAP_BPF_MAP_SOURCE_H
#define SPANTAP_BPF_MAP_SOURCE_H

#include <stdbool.h>
#include <stdint.h>

#include "collector/queue_decode.h"

struct spantap_bpf_map_source_opts {
  uint64_t cookie;         /* the recording's (spantap_queue_cookie_new) */
  unsigned ncpu;           /* CPUs the script was generated for; 0: possible CPUs */
  unsigned min_new;        /* a pass when this many records are new (0: 4096) */
  uint64_t max_latency_ns; /* ... or when any is new and the last pass is this old (0: 100 ms) */
};

/* Totals over all queues, for the loss accounting and the health report. */
struct spantap_bpf_map_source_stats {
  struct spantap_queue_stats q;            /* summed over the queues */
  struct spantap_stack_table_stats stacks; /* interned stack chunks */
  uint64_t passes;
  uint64_t records_per_pass_max;
};

struct spantap_bpf_map_source;

/* Creates a source for the recording of OPTS->cookie; finds nothing yet.
 * Returns an owned source in *OUT (destroy with spantap_bpf_map_source_destroy),
 * -EINVAL (no cookie, bad ncpu) or -ENOMEM. */
int spantap_bpf_map_source_new(const struct spantap_bpf_map_source_opts *opts,
                               struct spantap_bpf_map_source **out);

/* Closes the source's descriptors (the maps go once stapbpf has gone too) and
 * frees it. NULL is a no-op. */
void spantap_bpf_map_source_destroy(struct spantap_bpf_map_source *s);

/* One attempt to find every map of the recording: the counter maps by shape
 * and cookie, whose control slots then give the shape of the queues, text
 * arrays and stack table, each confirmed by its marker. Call it until it
 * returns 0 (ready: every queue's layout version was written), or give up
 * after a deadline. Returns 0; -EAGAIN (not all found or not ready yet:
 * stapbpf is loading, or begin has not run); -EPROTO (a map of this cookie
 * has another layout version or contradicts the record table; ERR says
 * which); -EPERM (no CAP_SYS_ADMIN); other -errno from bpf(2). ERR (may be
 * NULL) gets "Failed to ..." on errors other than -EAGAIN. */
int spantap_bpf_map_source_find(struct spantap_bpf_map_source *s, char *err, size_t errlen);

/* Reads the counters and, when a pass is due (min_new new records, or any
 * new and max_latency_ns since the last pass, or FINAL), drains the stack
 * table, the text arrays and the queues, and hands every record below the
 * counters to FN(rec, CTX) (per queue; records of one queue in order per
 * CPU; the caller's reorder window orders across queues). FINAL: after
 * stapbpf has exited, every record left is delivered or counted lost.
 * Returns the number of records delivered (0 when no pass was due), or
 * -errno (bpf(2) failed, quoted in ERR), or FN's nonzero return. Must
 * follow a successful spantap_bpf_map_source_find. */
int spantap_bpf_map_source_poll(struct spantap_bpf_map_source *s, uint64_t now_ns, bool final,
                                spantap_queue_record_fn fn, void *ctx, char *err, size_t errlen);

/* The totals so far (loss = q.lost). */
void spantap_bpf_map_source_stats(const struct spantap_bpf_map_source *s,
                                  struct spantap_bpf_map_source_stats *out);

/* The description and counts of queue I (0 .. queues found - 1). Returns 0,
 * or -ENOENT past the last queue. */
int spantap_bpf_map_source_queue(const struct spantap_bpf_map_source *s, unsigned i,
                                 struct spantap_queue_desc *desc, struct spantap_queue_stats *st);

/* True while some BPF program still uses the recording's first counter map,
 * i.e. stapbpf's probes are attached (for readers that did not start stapbpf). */
bool spantap_bpf_map_source_attached(const struct spantap_bpf_map_source *s);

#endif
