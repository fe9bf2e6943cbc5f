/* Collector: consumes spantap records (from a text stream, live from a script
 * or from a saved file, or from any other source that decodes them), keeps
 * the process mirror, symbolizes and interns stacks, derives spans and writes
 * everything to the store in batches. Memory is bounded by the live
 * processes and the distinct frames, stacks and connections seen. */
#ifndef SPANTAP_COLLECTOR_H
#define SPANTAP_COLLECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>

#include "collector/reorder.h"
#include "collector/spans.h"
#include "collector/store.h"
#include "collector/symbolize.h"
#include "spantap/record.h"
#include "spantap/record_format.h"

/* stack_mode or stack_depth: take it from the stream's BEGIN record. */
#define SPANTAP_STACK_AS_RECORDED UINT_MAX
#define SPANTAP_STACK_MODE_FALLBACK 1  /* as recorded, before or without a BEGIN record */
#define SPANTAP_STACK_DEPTH_FALLBACK 8 /* the same for the depth */

struct spantap_collector_opts {
  bool live;            /* the processes exist now: read /proc/PID/maps for them */
  unsigned stack_mode;  /* 0-4: which frames of each stack to keep, or SPANTAP_STACK_AS_RECORDED */
  unsigned stack_depth; /* most frames kept per stack, or SPANTAP_STACK_AS_RECORDED */
  FILE *save_stream;    /* NULL, or where to write every record read (and MAP records) */
  const char *save_stream_path; /* its name, for messages (NULL: from /proc/self/fd) */
  unsigned batch_records;       /* records per transaction (0: 20000) */
  int64_t reorder_window_ns;    /* how late an event may arrive and still be in order (0: 250 ms) */
  size_t reorder_max_events;    /* most events the reorder window holds (0: 65536) */
  /* Importing: where a module whose file here is another build is looked for
   * by its recorded build id, as DIR/.build-id/xx/rest.debug (NULL: the one
   * directory SPANTAP_DEBUG_DIR_DEFAULT). */
  const char *const *debug_dirs;
  size_t ndebug_dirs;
  /* Importing: called once per module whose file here is not the one
   * recorded, with a message naming it (borrowed for the call); NULL: silent. */
  void (*warn)(const char *message, void *ctx);
  void *warn_ctx;
};

#define SPANTAP_DEBUG_DIR_DEFAULT "/usr/lib/debug"

#define SPANTAP_MALFORMED_EXAMPLES 5

/* Why a frame has no function name (docs/schema.md, recording keys
 * frames_unsymbolized_*). */
enum spantap_unsymbolized {
  SPANTAP_UNSYM_NO_MAPPING,        /* the address lies in no file mapping known */
  SPANTAP_UNSYM_NO_FILE,           /* the module's file cannot be opened here */
  SPANTAP_UNSYM_NOT_ELF,           /* not an ELF file, or the address is in none of its segments */
  SPANTAP_UNSYM_NO_SYMBOL,         /* no symbol of the file (or its debuginfo) covers the address */
  SPANTAP_UNSYM_FAILED,            /* the symbolizer ran out of memory */
  SPANTAP_UNSYM_BUILD_ID_MISMATCH, /* the module's file here is another build, no debug file */
  SPANTAP_UNSYM__COUNT
};

struct spantap_collector_stats {
  uint64_t lines; /* records read, malformed ones included (lines of a text stream) */
  uint64_t records[SPANTAP_REC__COUNT];
  uint64_t malformed;
  uint64_t lost;                                 /* events the runtime reported lost */
  uint64_t processes;                            /* distinct traced processes seen */
  uint64_t frames, stacks, modules, connections; /* modules, connections: as of the last flush */
  uint64_t unknown_frames;                       /* addresses outside any known mapping */
  uint64_t unknown_sockets; /* NC records naming a socket no SOCK record announced */
  uint64_t unsymbolized[SPANTAP_UNSYM__COUNT]; /* frames without a function, by reason */
  uint64_t modules_build_id_mismatch; /* recorded modules whose file here is another build */
  char symbolize_error[256];          /* the symbolizer's first message, or "" */
  unsigned stack_mode, stack_depth;   /* in effect (as recorded when asked) */
  unsigned recorded_stack_mode, recorded_stack_depth; /* the BEGIN record's, when begin_seen */
  bool begin_seen, end_seen;
  unsigned ready_mask;                  /* SPANTAP_READY_* families that answered */
  char runtime[16];                     /* from the BEGIN record */
  struct spantap_span_stats spans;      /* as of the last flush */
  struct spantap_reorder_stats reorder; /* as of the last flush */
  struct {
    uint64_t line_no;
    const char *why;
  } malformed_examples[SPANTAP_MALFORMED_EXAMPLES];
};

struct spantap_collector;

/* Creates a collector writing to STORE and symbolizing with SYM (both borrowed,
 * they must outlive it). Returns 0 and an owned collector in *OUT (destroy
 * with spantap_collector_destroy), or -ENOMEM. */
int spantap_collector_new(struct spantap_store *store, struct spantap_symbolizer *sym,
                          const struct spantap_collector_opts *opts,
                          struct spantap_collector **out);
void spantap_collector_destroy(struct spantap_collector *c); /* NULL is a no-op */

/* Passes one decoded record (borrowed for the call) through the pipeline:
 * the saved stream, the process mirror, stacks, the reorder window, spans and
 * the store. A record out of place or with impossible times is counted
 * malformed. Returns 0, -ENOMEM, or -EIO when the store or the saved stream
 * failed or the record speaks another format version (ERR says why in every
 * case): the caller stops. */
int spantap_collector_push_record(struct spantap_collector *c, const struct spantap_record *rec,
                                  char *err, size_t errlen);

/* Counts one record that a source could not decode, for WHY (a static string). */
void spantap_collector_count_malformed(struct spantap_collector *c, const char *why);

/* Feeds LEN bytes of text stream (any split: partial lines are kept until
 * their newline; a line longer than 64 KiB is counted malformed and skipped)
 * through the collector's text source. Returns 0, -ENOMEM, or -EIO as
 * spantap_collector_push_record. */
int spantap_collector_feed(struct spantap_collector *c, const char *buf, size_t len, char *err,
                           size_t errlen);

/* Adds LOST events reported outside the stream (runtime diagnostics); they are
 * written to the saved stream as a LOST record. SOURCE says where. Returns 0,
 * or -EIO when the saved stream or the span engine failed (ERR says why). */
int spantap_collector_add_lost(struct spantap_collector *c, uint64_t lost, const char *source,
                               char *err, size_t errlen);

/* How long a live stream may stay quiet before the events it left in the
 * reorder window are released by the clock (spantap_collector_release_quiet):
 * far beyond the window, so that a reader that lags under load does not make
 * its own events late. */
#define SPANTAP_COLLECTOR_QUIET_NS (2 * 1000000000LL)

/* For a live recording: releases to the span engine and the store the events
 * that completed before NOW_NS - SPANTAP_COLLECTOR_QUIET_NS (NOW_NS on the
 * events' clock, CLOCK_MONOTONIC), which a quiet stream would otherwise keep in
 * the reorder window until its end; so a scrape of the database while
 * recording sees them. Returns 0, -ENOMEM or -EIO with ERR. */
int spantap_collector_release_quiet(struct spantap_collector *c, int64_t now_ns, char *err,
                                    size_t errlen);

/* Commits the current batch and flushes the saved stream. Returns 0 or -EIO. */
int spantap_collector_flush(struct spantap_collector *c, char *err, size_t errlen);

/* Ends the stream: processes a final partial line, writes the processes still
 * alive and the recording's counters into the store, and commits. Returns 0 or -EIO. */
int spantap_collector_finish(struct spantap_collector *c, char *err, size_t errlen);

/* The collector's counters so far. */
const struct spantap_collector_stats *spantap_collector_stats(const struct spantap_collector *c);

#endif
