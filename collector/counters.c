/* The recording's counters: malformed records as they come, and all of them
 * persisted as rows of the recording table (docs/schema.md) when the
 * collector finishes: what it read, what it could not use and why, and the
 * span engine's and reorder window's counters. */
#include <errno.h>
#include <stdio.h>

#include "collector/collector_impl.h"
#include "collector/reorder.h"
#include "collector/spans.h"

/* Recording keys of the unsymbolized-frame counters, by enum spantap_unsymbolized. */
static const char *const unsymbolized_keys[SPANTAP_UNSYM__COUNT] = {
    [SPANTAP_UNSYM_NO_MAPPING] = "frames_unsymbolized_no_mapping",
    [SPANTAP_UNSYM_NO_FILE] = "frames_unsymbolized_no_file",
    [SPANTAP_UNSYM_NOT_ELF] = "frames_unsymbolized_not_elf",
    [SPANTAP_UNSYM_NO_SYMBOL] = "frames_unsymbolized_no_symbol",
    [SPANTAP_UNSYM_FAILED] = "frames_unsymbolized_failed",
    [SPANTAP_UNSYM_BUILD_ID_MISMATCH] = "frames_unsymbolized_build_id_mismatch"};

int spantap_collector_store_counters(struct spantap_collector *c) {
  const struct spantap_collector_stats *s = &c->stats;
  const struct spantap_span_stats *sp = spantap_span_engine_stats(c->spans);
  const struct spantap_reorder_stats *ro = spantap_reorder_stats(c->window);
  const struct {
    const char *key;
    uint64_t value;
  } counters[] = {{"events_lost", s->lost},
                  {"lines", s->lines},
                  {"lines_malformed", s->malformed},
                  {"processes_traced", s->processes},
                  {"unknown_frames", s->unknown_frames},
                  {"unknown_sockets", s->unknown_sockets},
                  {"modules_build_id_mismatch", s->modules_build_id_mismatch},
                  {"spans_server", sp->server_spans},
                  {"spans_client", sp->client_spans},
                  {"traces", sp->traces},
                  {"spans_joined", sp->joined},
                  {"spans_no_response", sp->no_response},
                  {"spans_unfinished", sp->unfinished},
                  {"spans_in_loss", sp->spans_in_loss},
                  {"stray_responses", sp->stray_responses},
                  {"stray_replies", sp->stray_replies},
                  {"span_pending_overflow", sp->pending_overflow},
                  {"events_late", ro->late},
                  {"reorder_forced", ro->forced},
                  {"reorder_peak", ro->peak}};
  for (size_t i = 0; i < sizeof counters / sizeof counters[0]; i++)
    if (spantap_store_meta(c->store, counters[i].key, NULL, (int64_t)counters[i].value) < 0)
      return -EIO;
  for (int i = 0; i < SPANTAP_UNSYM__COUNT; i++)
    if (spantap_store_meta(c->store, unsymbolized_keys[i], NULL, (int64_t)s->unsymbolized[i]) < 0)
      return -EIO;
  if (s->begin_seen &&
      (spantap_store_meta(c->store, "stack_mode_recorded", NULL, s->recorded_stack_mode) < 0 ||
       spantap_store_meta(c->store, "stack_depth_recorded", NULL, s->recorded_stack_depth) < 0))
    return -EIO;
  if (s->symbolize_error[0] &&
      spantap_store_meta(c->store, "symbolize_error", s->symbolize_error, 0) < 0)
    return -EIO;
  return 0;
}

void spantap_collector_note_malformed(struct spantap_collector *c, const char *why) {
  if (c->stats.malformed < SPANTAP_MALFORMED_EXAMPLES) {
    c->stats.malformed_examples[c->stats.malformed].line_no = c->stats.lines;
    c->stats.malformed_examples[c->stats.malformed].why = why;
  }
  c->stats.malformed++;
}

void spantap_collector_count_malformed(struct spantap_collector *c, const char *why) {
  c->stats.lines++;
  spantap_collector_note_malformed(c, why);
}
