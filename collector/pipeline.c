/* The collector's life: creation from its parts, the text stream's entry,
 * losses reported aside, batches and the end of the recording. The records
 * themselves are dispatched in collector.c. */
#include <errno.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/collector_impl.h"
#include "collector/reorder.h"
#include "collector/spans.h"
#include "common/syscall_table.h"

#define REORDER_WINDOW_NS_DEFAULT 250000000LL
#define REORDER_MAX_EVENTS_DEFAULT (1u << 16)

int spantap_collector_new(struct spantap_store *store, struct spantap_symbolizer *sym,
                          const struct spantap_collector_opts *opts,
                          struct spantap_collector **out) {
  struct spantap_collector *c = calloc(1, sizeof *c);
  if (!c)
    return -ENOMEM;
  c->store = store;
  c->sym = sym;
  c->opts = *opts;
  if (!c->opts.batch_records)
    c->opts.batch_records = 20000;
  if (!c->opts.reorder_window_ns)
    c->opts.reorder_window_ns = REORDER_WINDOW_NS_DEFAULT;
  if (!c->opts.reorder_max_events)
    c->opts.reorder_max_events = REORDER_MAX_EVENTS_DEFAULT;
  c->stats.stack_mode = opts->stack_mode == SPANTAP_STACK_AS_RECORDED ? SPANTAP_STACK_MODE_FALLBACK
                                                                      : opts->stack_mode;
  c->stats.stack_depth = opts->stack_depth == SPANTAP_STACK_AS_RECORDED
                             ? SPANTAP_STACK_DEPTH_FALLBACK
                             : opts->stack_depth;
  spantap_collector_save_name(c);
  /* a recording reads as incomplete until finished in order (record and
   * import set complete to 1 then), even when the collector is killed */
  if (spantap_store_meta(store, "complete", NULL, 0) < 0) {
    free(c);
    return -EIO;
  }
  struct spantap_span_sink sink = spantap_collector_span_sink(c);
  c->bpf_stacks = true; /* until a BEGIN record names the runtime */
  c->procs = spantap_proc_mirror_new();
  c->modules = spantap_module_registry_new(store, sym);
  c->frames = spantap_intern_new();
  c->stacks = spantap_intern_new();
  c->conns = spantap_connections_new(store);
  c->services = spantap_u64_map_new();
  c->announced = spantap_u64_map_new();
  c->sockets = spantap_socket_table_new();
  c->text = spantap_text_source_new(c);
  c->close_nr = spantap_syscall_by_name("close");
  if (!c->procs || !c->modules || !c->frames || !c->stacks || !c->conns || !c->services ||
      !c->announced || !c->sockets || !c->text || spantap_span_engine_new(&sink, &c->spans) < 0 ||
      spantap_reorder_new(c->opts.reorder_window_ns, c->opts.reorder_max_events,
                          spantap_collector_release, c, &c->window) < 0) {
    spantap_collector_destroy(c);
    return -ENOMEM;
  }
  *out = c;
  return 0;
}

void spantap_collector_destroy(struct spantap_collector *c) {
  if (!c)
    return;
  spantap_reorder_destroy(c->window);
  spantap_span_engine_destroy(c->spans);
  spantap_u64_map_free_values(c->services);
  spantap_u64_map_destroy(c->services);
  spantap_u64_map_destroy(c->announced); /* its values are not pointers of its own */
  spantap_socket_table_destroy(c->sockets);
  spantap_proc_mirror_destroy(c->procs);
  spantap_module_registry_destroy(c->modules);
  spantap_intern_destroy(c->frames);
  spantap_intern_destroy(c->stacks);
  spantap_connections_destroy(c->conns);
  spantap_text_source_destroy(c->text);
  free(c);
}

const struct spantap_collector_stats *spantap_collector_stats(const struct spantap_collector *c) {
  return &c->stats;
}

int spantap_collector_feed(struct spantap_collector *c, const char *buf, size_t len, char *err,
                           size_t errlen) {
  return spantap_text_source_feed(c->text, buf, len, err, errlen);
}

int spantap_collector_add_lost(struct spantap_collector *c, uint64_t lost, const char *source,
                               char *err, size_t errlen) {
  c->stats.lost += lost;
  struct spantap_record r = {.desc = spantap_record_desc_get(SPANTAP_REC_LOST),
                             .text = source,
                             .text_len = strlen(source)};
  r.v[SPANTAP_LOST_ts] = c->newest_ts;
  r.v[SPANTAP_LOST_count] = (int64_t)lost;
  if (spantap_collector_save(c, &r) < 0)
    return spantap_collector_save_failed(c, err, errlen);
  if (spantap_collector_mark_loss(c, c->newest_ts) < 0) {
    snprintf(err, errlen, "Failed to mark the spans open at a loss: ts=%" PRId64, c->newest_ts);
    return -EIO;
  }
  return 0;
}

int spantap_collector_release_quiet(struct spantap_collector *c, int64_t now_ns, char *err,
                                    size_t errlen) {
  if (now_ns <= INT64_MIN + SPANTAP_COLLECTOR_QUIET_NS)
    return 0;
  int rc = spantap_reorder_release_before(c->window, now_ns - SPANTAP_COLLECTOR_QUIET_NS);
  if (rc == -ENOMEM) {
    snprintf(err, errlen, "Failed to derive spans: out of memory");
    return rc;
  }
  if (rc) {
    snprintf(err, errlen, "Failed to store spans: error=%s", spantap_store_errmsg(c->store));
    return -EIO;
  }
  return 0;
}

int spantap_collector_flush(struct spantap_collector *c, char *err, size_t errlen) {
  c->in_batch = 0;
  c->stats.spans = *spantap_span_engine_stats(c->spans);
  c->stats.reorder = *spantap_reorder_stats(c->window);
  c->stats.modules = spantap_module_registry_count(c->modules);
  c->stats.connections = spantap_connections_count(c->conns);
  if (spantap_collector_save_flush(c) < 0)
    return spantap_collector_save_failed(c, err, errlen);
  return spantap_store_commit(c->store, err, errlen);
}

struct finish_ctx {
  struct spantap_collector *c;
  int rc;
};

static void write_alive(struct spantap_process *p, void *vctx) {
  struct finish_ctx *f = vctx;
  if (spantap_collector_store_process(f->c, p) < 0)
    f->rc = -EIO;
}

int spantap_collector_finish(struct spantap_collector *c, char *err, size_t errlen) {
  spantap_text_source_finish(c->text);
  int rc = spantap_reorder_drain(c->window);
  if (rc == 0)
    rc = spantap_span_engine_finish(c->spans);
  if (rc == -ENOMEM) {
    snprintf(err, errlen, "Failed to derive spans: out of memory");
    return rc;
  }
  struct finish_ctx f = {.c = c};
  if (rc == 0)
    spantap_proc_mirror_foreach(c->procs, write_alive, &f);
  if (rc || f.rc < 0 || spantap_collector_store_counters(c) < 0) {
    snprintf(err, errlen, "Failed to store %s: error=%s",
             rc         ? "spans"
             : f.rc < 0 ? "processes"
                        : "recording counters",
             spantap_store_errmsg(c->store));
    return -EIO;
  }
  return spantap_collector_flush(c, err, errlen);
}
