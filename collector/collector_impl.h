/* The collector's state, shared by the files of collector/ that implement
 * its parts (collector.c dispatches records to them). Not a public header:
 * only collector/ includes it. */
#ifndef SPANTAP_COLLECTOR_IMPL_H
#define SPANTAP_COLLECTOR_IMPL_H

#include <limits.h>

#include "collector/collector.h"
#include "collector/connections.h"
#include "collector/intern.h"
#include "collector/module_registry.h"
#include "collector/proc_mirror.h"
#include "collector/socket_table.h"
#include "collector/text_source.h"
#include "collector/u64_map.h"

#define MAPS_READS_MAX 16 /* rereads of /proc/PID/maps on unknown addresses */

struct spantap_collector {
  struct spantap_store *store;
  struct spantap_symbolizer *sym;
  struct spantap_collector_opts opts;
  struct spantap_collector_stats stats;
  struct spantap_proc_mirror *procs;
  struct spantap_module_registry *modules;
  struct spantap_intern *frames, *stacks;
  struct spantap_connections *conns;
  struct spantap_socket_table *sockets; /* as announced, in time order */
  struct spantap_text_source *text;     /* for spantap_collector_feed */
  bool bpf_stacks; /* stacks come from the BPF runtime's walk (slot 1 is a guess) */
  unsigned in_batch;
  struct spantap_reorder *window; /* events on their way to the span engine */
  struct spantap_span_engine *spans;
  struct spantap_u64_map *services;  /* pid -> owned executable file name */
  long close_nr;                     /* the close syscall's number: a socket's end */
  int64_t newest_ts;                 /* the latest event time read */
  struct spantap_u64_map *announced; /* module ids whose MOD record was saved */
  bool stream_has_modules;           /* importing: the stream carries MOD records */
  char save_path[PATH_MAX];          /* the saved stream's name, for messages */
  int save_errno;                    /* why the saved stream failed, 0 while it works */
};

/* saved_stream.c: writes R to the saved stream (when there is one). Returns
 * 0, or -EIO with c->save_errno set. */
int spantap_collector_save(struct spantap_collector *c, const struct spantap_record *r);
/* Names the saved stream in c->save_path. */
void spantap_collector_save_name(struct spantap_collector *c);
/* Flushes the saved stream. Returns 0 or -EIO with c->save_errno set. */
int spantap_collector_save_flush(struct spantap_collector *c);
/* Explains c->save_errno in ERR. Returns -EIO. */
int spantap_collector_save_failed(struct spantap_collector *c, char *err, size_t errlen);

/* process_maps.c: the process PID (created as "attached" when new, and its
 * maps read when live) in *OUT. Returns 0, -ENOMEM or -EIO. */
int spantap_collector_process(struct spantap_collector *c, int64_t pid, int64_t ts,
                              struct spantap_process **out);
/* Rereads /proc/PID/maps of live process P, saving MAP records. Returns 0 or -EIO. */
int spantap_collector_refresh_maps(struct spantap_collector *c, struct spantap_process *p,
                                   int64_t ts);
/* Makes EXE (an absolute path) P's executable. Returns 0, -ENOMEM or -EIO. */
int spantap_collector_set_main_module(struct spantap_collector *c, struct spantap_process *p,
                                      const char *exe);
/* Stores mapping E of P and describes it in *OUT (its module interned).
 * Returns 0, -ENOMEM or -EIO. */
int spantap_collector_map_entry(struct spantap_collector *c, struct spantap_process *p,
                                const struct spantap_maps_entry *e, struct spantap_mapping *out);

/* Stores P's row of the processes table. Returns 0 or -EIO. */
int spantap_collector_store_process(struct spantap_collector *c, struct spantap_process *p);
/* Creates process CHILD_PID forked by PARENT at TS: it inherits the parent's
 * executable, service and layout. Returns 0 or -ENOMEM. */
int spantap_collector_fork_process(struct spantap_collector *c,
                                   const struct spantap_process *parent, int64_t child_pid,
                                   int64_t ts);
/* The module of the file NAME with file identity INO, KDEV (see
 * spantap_module_registry_find_file); importing (not live), the file at path
 * NAME when no file has that identity here. Returns the module id, 0 when not
 * found, -ENOMEM or -EIO. */
int64_t spantap_collector_module_of_file(struct spantap_collector *c, const char *name,
                                         uint64_t ino, uint64_t kdev);
/* After an exec of P (to PATH) whose maps could not be read (gone, or not
 * live): maps the executable's text from EXEC record R's file identity.
 * Returns 0, -ENOMEM or -EIO. */
int spantap_collector_exec_text(struct spantap_collector *c, struct spantap_process *p,
                                const struct spantap_record *r, const char *path);

/* module_records.c: live, with a saved stream: writes the MOD record of
 * module ID (a file backing user code) unless written already. Returns 0 or
 * -EIO with c->save_errno set. */
int spantap_collector_announce_module(struct spantap_collector *c, int64_t id);
/* Live, with a saved stream: writes the MOD records of the files record R
 * names (an XMAP's, a traced EXEC's), to precede R. Returns 0, -ENOMEM, or
 * -EIO (c->save_errno set when the saved stream failed, else the store). */
int spantap_collector_announce_files(struct spantap_collector *c, const struct spantap_record *r);
/* Importing: a MOD record. Matches the module to a file here by path and
 * build id, else to a debug file by build id, registers it, counts and warns
 * about a file that is another build. Returns 0, -EINVAL (a malformed text),
 * -ENOMEM or -EIO. */
int spantap_collector_module_record(struct spantap_collector *c, const struct spantap_record *r);

/* collector.c: events were lost around time TS (0: the newest event time
 * read): the spans open then cannot be trusted. Returns 0 or -ENOMEM. */
int spantap_collector_mark_loss(struct spantap_collector *c, int64_t ts);

/* stack_select.c: selects, symbolizes and interns the stack of R taken in P
 * at TS. Returns the stack id, 0 when none is kept, or -EIO / -ENOMEM. */
int64_t spantap_collector_stack(struct spantap_collector *c, struct spantap_process *p,
                                const struct spantap_record *r, int64_t ts);

/* span_sink.c: the span engine's sink writing to the store. */
struct spantap_span_sink spantap_collector_span_sink(struct spantap_collector *c);
/* The reorder window's release callback (CTX is the collector). */
int spantap_collector_release(const struct spantap_event *e, void *ctx);
/* Names process PID's service after PATH's file name; a known name is
 * replaced only when REPLACE. Returns 0 or -ENOMEM. */
int spantap_collector_name_service(struct spantap_collector *c, int64_t pid, const char *path,
                                   bool replace);
/* The service name of PID (borrowed), or NULL. */
const char *spantap_collector_service(const struct spantap_collector *c, int64_t pid);

/* counters.c: counts a malformed record (already counted as read) for WHY,
 * keeping the first few as examples. */
void spantap_collector_note_malformed(struct spantap_collector *c, const char *why);
/* Stores the recording's counters. Returns 0 or -EIO. */
int spantap_collector_store_counters(struct spantap_collector *c);

#endif
