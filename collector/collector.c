/* Collector: the dispatch of records. Each record kind has its on_<kind>()
 * here; the parts they use live in their own files: pipeline.c (creation,
 * batches, finish), text_source.c (lines to records), process_maps.c (the
 * process mirror from records and /proc/PID/maps), module_registry.c,
 * stack_select.c, connections.c, socket_table.c, span_sink.c (the span
 * engine's adapters), saved_stream.c and counters.c. */
#include "collector/collector.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "collector/collector_impl.h"
#include "collector/event.h"
#include "collector/reorder.h"
#include "collector/spans.h"
#include "common/syscall_table.h"

/* Returned by a handler for a BEGIN record of another format version. */
#define FORMAT_MISMATCH (-EPROTO)

/* The stream's first record: its format, runtime and (when asked) stack mode. */
static int on_begin(struct spantap_collector *c, const struct spantap_record *r) {
  const int64_t *v = r->v;
  c->stats.begin_seen = true;
  snprintf(c->stats.runtime, sizeof c->stats.runtime, "%.*s", (int)r->text_len, r->text);
  c->bpf_stacks = strcmp(c->stats.runtime, "kernel") != 0;
  if (v[SPANTAP_BEGIN_format_version] != SPANTAP_RECORD_FORMAT_VERSION)
    return FORMAT_MISMATCH;
  int64_t mode = v[SPANTAP_BEGIN_stack_mode], depth = v[SPANTAP_BEGIN_stack_depth];
  if (mode < 0 || mode > 4 || depth < 1 || depth > SPANTAP_MAX_FRAMES)
    return -EINVAL;
  c->stats.recorded_stack_mode = (unsigned)mode;
  c->stats.recorded_stack_depth = (unsigned)depth;
  if (c->opts.stack_mode == SPANTAP_STACK_AS_RECORDED)
    c->stats.stack_mode = (unsigned)mode;
  if (c->opts.stack_depth == SPANTAP_STACK_AS_RECORDED)
    c->stats.stack_depth = (unsigned)depth;
  return spantap_store_meta(c->store, "runtime", c->stats.runtime, 0);
}

static int on_fork(struct spantap_collector *c, const struct spantap_record *r) {
  const int64_t *v = r->v;
  int64_t ts = v[SPANTAP_FORK_ts], pid = v[SPANTAP_FORK_pid];
  int64_t child_pid = v[SPANTAP_FORK_child_pid], child_tid = v[SPANTAP_FORK_child_tid];
  struct spantap_process *parent;
  int rc = spantap_collector_process(c, pid, ts, &parent);
  bool thread = child_pid == pid;
  if (rc == 0 && !thread)
    rc = spantap_collector_fork_process(c, parent, child_pid, ts);
  if (rc < 0)
    return rc;
  if (spantap_store_thread(c->store, child_tid, child_pid, ts, 0) < 0)
    return -EIO;
  struct spantap_event e = {.kind = SPANTAP_EV_FORK,
                            .ts = ts,
                            .pid = pid,
                            .tid = v[SPANTAP_FORK_tid],
                            .child_pid = child_pid,
                            .child_tid = child_tid};
  rc = spantap_reorder_push(c->window, &e);
  if (rc)
    return rc;
  return spantap_store_process_event(c->store, ts, thread ? "thread" : "fork", pid,
                                     v[SPANTAP_FORK_tid], child_pid, child_tid, NULL, -1);
}

static int on_exec(struct spantap_collector *c, const struct spantap_record *r) {
  const int64_t *v = r->v;
  int64_t ts = v[SPANTAP_EXEC_ts], pid = v[SPANTAP_EXEC_pid];
  struct spantap_process *p = spantap_proc_mirror_get(c->procs, pid, false);
  if (!p) {
    p = spantap_proc_mirror_get(c->procs, pid, true);
    if (!p)
      return -ENOMEM;
    c->stats.processes++;
    p->start_ns = ts;
  }
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%.*s", (int)r->text_len, r->text);
  bool traced = v[SPANTAP_EXEC_traced] != 0;
  p->ppid = v[SPANTAP_EXEC_ppid];
  p->exec_ns = ts;
  p->start_code = (uint64_t)v[SPANTAP_EXEC_start_code];
  p->end_code = (uint64_t)v[SPANTAP_EXEC_end_code];
  free(p->exe);
  if (!(p->exe = strdup(path)) || spantap_collector_name_service(c, pid, path, true) < 0)
    return -ENOMEM;
  p->main_module_id = 0;
  p->maps_reads = 0;
  spantap_process_set_maps(p, NULL, 0);
  if (spantap_store_process_event(c->store, ts, traced ? "exec" : "leave", pid, v[SPANTAP_EXEC_tid],
                                  0, 0, path, -1) < 0)
    return -EIO;
  if (!traced) {
    int rc = spantap_collector_store_process(c, p);
    spantap_proc_mirror_remove(c->procs, pid);
    return rc;
  }
  int rc = spantap_collector_refresh_maps(c, p, ts);
  if (rc < 0 || p->nmaps)
    return rc;
  return spantap_collector_exec_text(c, p, r, path);
}

static int on_exit_record(struct spantap_collector *c, const struct spantap_record *r) {
  const int64_t *v = r->v;
  int64_t ts = v[SPANTAP_EXIT_ts], pid = v[SPANTAP_EXIT_pid], tid = v[SPANTAP_EXIT_tid];
  if (spantap_store_thread(c->store, tid, pid, 0, ts) < 0)
    return -EIO;
  struct spantap_event e = {.kind = SPANTAP_EV_EXIT, .ts = ts, .pid = pid, .tid = tid};
  int rc = spantap_reorder_push(c->window, &e);
  if (rc || !v[SPANTAP_EXIT_group_dead])
    return rc;
  struct spantap_process *p;
  rc = spantap_collector_process(c, pid, ts, &p);
  if (rc < 0)
    return rc;
  p->exit_ns = ts;
  p->exit_status = v[SPANTAP_EXIT_code];
  if (spantap_store_process_event(c->store, ts, "exit", pid, tid, 0, 0, NULL,
                                  v[SPANTAP_EXIT_code]) < 0 ||
      spantap_collector_store_process(c, p) < 0)
    return -EIO;
  spantap_proc_mirror_remove(c->procs, pid);
  return 0;
}

static const char *class_name(unsigned classes) {
  if (classes & SPANTAP_CLASS_NET)
    return "net";
  if (classes & SPANTAP_CLASS_FILE)
    return "file";
  if (classes & SPANTAP_CLASS_MEM)
    return "mem";
  if (classes & SPANTAP_CLASS_PROC)
    return "proc";
  return "other";
}

/* SC and NC records; an NC's socket gets its addresses when it leaves the window. */
static int on_syscall(struct spantap_collector *c, const struct spantap_record *r) {
  const int64_t *v = r->v;
  bool net = r->desc->kind == SPANTAP_REC_NETCALL;
  int64_t ts = v[SPANTAP_SYSCALL_ts];
  struct spantap_process *p;
  int rc = spantap_collector_process(c, v[SPANTAP_SYSCALL_pid], ts, &p);
  if (rc < 0)
    return rc;
  struct spantap_event e = {
      .kind = SPANTAP_EV_SYSCALL,
      .ts = ts,
      .dur = v[SPANTAP_SYSCALL_dur],
      .pid = p->pid,
      .tid = v[SPANTAP_SYSCALL_tid],
      .nr = v[SPANTAP_SYSCALL_nr],
      .ret = v[SPANTAP_SYSCALL_ret],
      .sock = net ? (uint64_t)v[SPANTAP_NETCALL_sock] : 0,
      .args = {v[SPANTAP_SYSCALL_arg0], v[SPANTAP_SYSCALL_arg1], v[SPANTAP_SYSCALL_arg2]}};
  e.stack_id = spantap_collector_stack(c, p, r, ts);
  if (e.stack_id < 0)
    return (int)e.stack_id;
  struct spantap_syscall_info info = {0};
  if (spantap_syscall_info(e.nr, &info) < 0)
    info.classes = SPANTAP_CLASS_OTHER;
  /* read/write & co. count as network I/O when they hit a socket */
  e.class_name = net && (info.classes & SPANTAP_CLASS_NET) ? "net" : class_name(info.classes);
  return spantap_reorder_push(c->window, &e);
}

/* A SOCK record goes through the reorder window like the syscalls that name
 * the socket: printed with the time of the syscall that announced it, it
 * comes out before every NC of the socket, even one another CPU delivered first. */
static int on_socket(struct spantap_collector *c, const struct spantap_record *r) {
  const int64_t *v = r->v;
  struct spantap_event e = {.kind = SPANTAP_EV_SOCKET,
                            .ts = v[SPANTAP_SOCKET_ts],
                            .pid = v[SPANTAP_SOCKET_pid],
                            .sock = (uint64_t)v[SPANTAP_SOCKET_sock],
                            .ends = spantap_connections_record_ends(r)};
  e.conn_id = spantap_connections_intern(c->conns, &e.ends, e.sock);
  if (e.conn_id < 0)
    return (int)e.conn_id;
  return spantap_reorder_push(c->window, &e);
}

static int on_tcpstate(struct spantap_collector *c, const struct spantap_record *r) {
  const int64_t *v = r->v;
  int64_t ts = v[SPANTAP_TCPSTATE_ts];
  struct spantap_process *p;
  int rc = spantap_collector_process(c, v[SPANTAP_TCPSTATE_pid], ts, &p);
  if (rc < 0)
    return rc;
  struct spantap_event e = {.kind = SPANTAP_EV_TCPSTATE,
                            .ts = ts,
                            .pid = p->pid,
                            .tid = v[SPANTAP_TCPSTATE_tid],
                            .stack_id = spantap_collector_stack(c, p, r, ts),
                            .sock = (uint64_t)v[SPANTAP_TCPSTATE_sock],
                            .ends = spantap_connections_record_ends(r),
                            .state = v[SPANTAP_TCPSTATE_newstate]};
  if (e.stack_id < 0)
    return (int)e.stack_id;
  e.conn_id = spantap_connections_intern(c->conns, &e.ends, e.sock);
  if (e.conn_id < 0)
    return (int)e.conn_id;
  rc = spantap_reorder_push(c->window, &e);
  if (rc)
    return rc;
  return spantap_store_tcp_state(c->store, ts, p->pid, e.tid, e.conn_id,
                                 (int)v[SPANTAP_TCPSTATE_oldstate], (int)e.state, e.stack_id);
}

static int on_offcpu(struct spantap_collector *c, const struct spantap_record *r) {
  struct spantap_event e = {.kind = SPANTAP_EV_OFFCPU,
                            .ts = r->v[SPANTAP_OFFCPU_ts],
                            .dur = r->v[SPANTAP_OFFCPU_dur],
                            .pid = r->v[SPANTAP_OFFCPU_pid],
                            .tid = r->v[SPANTAP_OFFCPU_tid],
                            .state = r->v[SPANTAP_OFFCPU_state]};
  return spantap_reorder_push(c->window, &e);
}

static int on_pagefault(struct spantap_collector *c, const struct spantap_record *r) {
  const int64_t *v = r->v;
  int64_t ts = v[SPANTAP_PAGEFAULT_ts];
  struct spantap_process *p;
  int rc = spantap_collector_process(c, v[SPANTAP_PAGEFAULT_pid], ts, &p);
  if (rc < 0)
    return rc;
  struct spantap_event e = {.kind = SPANTAP_EV_PAGEFAULT,
                            .ts = ts,
                            .pid = p->pid,
                            .tid = v[SPANTAP_PAGEFAULT_tid],
                            .stack_id = spantap_collector_stack(c, p, r, ts),
                            .address = (uint64_t)v[SPANTAP_PAGEFAULT_address],
                            .error_code = v[SPANTAP_PAGEFAULT_error_code]};
  if (e.stack_id < 0)
    return (int)e.stack_id;
  return spantap_reorder_push(c->window, &e);
}

/* A MAP record of a saved stream: start == end == 0 resets the process's
 * mappings and names its executable; anything else adds one mapping. */
static int on_mapping(struct spantap_collector *c, const struct spantap_record *r) {
  struct spantap_process *p = spantap_proc_mirror_get(c->procs, r->v[SPANTAP_MAPPING_pid], true);
  if (!p)
    return -ENOMEM;
  char text[PATH_MAX + 8];
  snprintf(text, sizeof text, "%.*s", (int)r->text_len, r->text);
  if (r->v[SPANTAP_MAPPING_start] == 0 && r->v[SPANTAP_MAPPING_end] == 0 &&
      r->v[SPANTAP_MAPPING_pgoff] == SPANTAP_MAPPING_PGOFF_SERVICE)
    return spantap_collector_name_service(c, p->pid, text, true);
  if (r->v[SPANTAP_MAPPING_start] == 0 && r->v[SPANTAP_MAPPING_end] == 0) {
    spantap_process_set_maps(p, NULL, 0);
    return spantap_collector_set_main_module(c, p, text) == -EIO ? -EIO : 0;
  }
  const char *path = strchr(text, ' '); /* text: "PERMS PATH" */
  path = path ? path + 1 : "-";
  struct spantap_maps_entry e = {.start = (uint64_t)r->v[SPANTAP_MAPPING_start],
                                 .end = (uint64_t)r->v[SPANTAP_MAPPING_end],
                                 .pgoff = (uint64_t)r->v[SPANTAP_MAPPING_pgoff],
                                 .ino = (uint64_t)r->v[SPANTAP_MAPPING_ino],
                                 .path = strcmp(path, "-") == 0 ? "" : path};
  snprintf(e.perms, sizeof e.perms, "%.4s", text);
  struct spantap_mapping m;
  int rc = spantap_collector_map_entry(c, p, &e, &m);
  return rc < 0 ? rc : spantap_process_add_mapping(p, &m);
}

/* An XMAP record: an executable file mapping the script saw created. */
static int on_xmap(struct spantap_collector *c, const struct spantap_record *r) {
  const int64_t *v = r->v;
  struct spantap_process *p = spantap_proc_mirror_get(c->procs, v[SPANTAP_XMAP_pid], false);
  if (!p)
    return 0;
  char name[PATH_MAX];
  snprintf(name, sizeof name, "%.*s", (int)r->text_len, r->text);
  int64_t mod = spantap_collector_module_of_file(c, name, (uint64_t)v[SPANTAP_XMAP_ino],
                                                 (uint64_t)v[SPANTAP_XMAP_dev]);
  if (mod < 0)
    return (int)mod;
  struct spantap_mapping m = {.start = (uint64_t)v[SPANTAP_XMAP_start],
                              .end = (uint64_t)v[SPANTAP_XMAP_end],
                              .pgoff = (uint64_t)v[SPANTAP_XMAP_pgoff],
                              .module_id = mod,
                              .executable = true};
  return spantap_process_add_mapping(p, &m);
}

int spantap_collector_mark_loss(struct spantap_collector *c, int64_t ts) {
  struct spantap_event e = {.kind = SPANTAP_EV_LOSS, .ts = ts ? ts : c->newest_ts};
  return spantap_reorder_push(c->window, &e);
}

static int on_lost(struct spantap_collector *c, const struct spantap_record *r) {
  c->stats.lost += (uint64_t)r->v[SPANTAP_LOST_count];
  return spantap_collector_mark_loss(c, r->v[SPANTAP_LOST_ts]);
}

static int on_record(struct spantap_collector *c, const struct spantap_record *r) {
  switch (r->desc->kind) {
    case SPANTAP_REC_BEGIN:
      return on_begin(c, r);
    case SPANTAP_REC_READY:
      c->stats.ready_mask |= (unsigned)r->v[SPANTAP_READY_answered] & SPANTAP_READY_ALL;
      return 0;
    case SPANTAP_REC_END:
      c->stats.end_seen = true;
      return 0;
    case SPANTAP_REC_FORK:
      return on_fork(c, r);
    case SPANTAP_REC_EXEC:
      return on_exec(c, r);
    case SPANTAP_REC_EXIT:
      return on_exit_record(c, r);
    case SPANTAP_REC_SYSCALL:
    case SPANTAP_REC_NETCALL:
      return on_syscall(c, r);
    case SPANTAP_REC_SOCKET:
      return on_socket(c, r);
    case SPANTAP_REC_TCPSTATE:
      return on_tcpstate(c, r);
    case SPANTAP_REC_OFFCPU:
      return on_offcpu(c, r);
    case SPANTAP_REC_PAGEFAULT:
      return on_pagefault(c, r);
    case SPANTAP_REC_MAPPING:
      return on_mapping(c, r);
    case SPANTAP_REC_XMAP:
      return on_xmap(c, r);
    case SPANTAP_REC_MODULE:
      return spantap_collector_module_record(c, r);
    case SPANTAP_REC_LOST:
      return on_lost(c, r);
    case SPANTAP_REC__COUNT:
      break;
  }
  return -EINVAL;
}

/* Checks R's time fields and, when they can be right, advances the newest
 * event time read (which dates losses the runtime reports aside). Returns why
 * they cannot be right (a negative time or duration, or an end past the
 * clock's range: events are ordered by ts + dur, which must not overflow), or
 * NULL. */
static const char *take_record_time(struct spantap_collector *c, const struct spantap_record *r) {
  bool has_dur;
  if (!spantap_record_desc_timed(r->desc, &has_dur))
    return NULL;
  if (r->v[0] < 0)
    return "negative time";
  if (has_dur && (r->v[1] < 0 || r->v[0] > INT64_MAX - r->v[1]))
    return "duration out of range";
  if (r->v[0] > c->newest_ts)
    c->newest_ts = r->v[0];
  return NULL;
}

/* The process whose user stack record R carries, or -1 (no stack record). */
static int64_t stack_record_pid(const struct spantap_record *r) {
  switch (r->desc->kind) {
    case SPANTAP_REC_SYSCALL:
      return r->v[SPANTAP_SYSCALL_pid];
    case SPANTAP_REC_NETCALL:
      return r->v[SPANTAP_NETCALL_pid];
    case SPANTAP_REC_TCPSTATE:
      return r->v[SPANTAP_TCPSTATE_pid];
    case SPANTAP_REC_PAGEFAULT:
      return r->v[SPANTAP_PAGEFAULT_pid];
    default:
      return -1;
  }
}

/* Live, with a saved stream: when R is the first record of a process found
 * running, the process is met now, before R is saved, so that its MAP (and
 * MOD) records precede R and an import can symbolize R's stack. Returns 0,
 * -ENOMEM or -EIO. */
static int meet_process_first(struct spantap_collector *c, const struct spantap_record *r) {
  if (!c->opts.live || !c->opts.save_stream || !r->desc->has_stack || r->v[0] < 0)
    return 0;
  int64_t pid = stack_record_pid(r);
  if (pid <= 0 || spantap_proc_mirror_get(c->procs, pid, false))
    return 0;
  struct spantap_process *p;
  return spantap_collector_process(c, pid, r->v[0], &p);
}

int spantap_collector_push_record(struct spantap_collector *c, const struct spantap_record *r,
                                  char *err, size_t errlen) {
  c->stats.lines++;
  int met = meet_process_first(c, r);
  if (met == -ENOMEM) {
    snprintf(err, errlen, "Failed to process %s: out of memory", r->desc->tag);
    return -ENOMEM;
  }
  if (met < 0 && !c->save_errno) {
    snprintf(err, errlen, "Failed to store the process of %s: pid=%" PRId64 " error=%s",
             r->desc->tag, stack_record_pid(r), spantap_store_errmsg(c->store));
    return -EIO;
  }
  if (met < 0)
    return spantap_collector_save_failed(c, err, errlen);
  /* the MOD records of the files R names go first, so an import knows them */
  int rc = spantap_collector_announce_files(c, r);
  if (rc == -ENOMEM) {
    snprintf(err, errlen, "Failed to process %s: out of memory", r->desc->tag);
    return -ENOMEM;
  }
  if (rc < 0 && !c->save_errno) {
    snprintf(err, errlen, "Failed to store the module of %s: error=%s", r->desc->tag,
             spantap_store_errmsg(c->store));
    return -EIO;
  }
  if (rc < 0 || spantap_collector_save(c, r) < 0)
    return spantap_collector_save_failed(c, err, errlen);
  const char *bad_time = take_record_time(c, r);
  if (bad_time) {
    spantap_collector_note_malformed(c, bad_time);
    return 0;
  }
  rc = on_record(c, r);
  if (rc == FORMAT_MISMATCH) {
    snprintf(err, errlen, "script speaks record format %" PRId64 ", this spantap reads %d",
             r->v[SPANTAP_BEGIN_format_version], SPANTAP_RECORD_FORMAT_VERSION);
    return -EIO;
  }
  if (rc == -EINVAL) {
    spantap_collector_note_malformed(c, "record out of place");
    return 0;
  }
  if (rc < 0 && c->save_errno)
    return spantap_collector_save_failed(c, err, errlen);
  if (rc == -ENOMEM) {
    snprintf(err, errlen, "Failed to process %s: out of memory", r->desc->tag);
    return -ENOMEM;
  }
  if (rc < 0) {
    snprintf(err, errlen, "Failed to store %s: error=%s", r->desc->tag,
             spantap_store_errmsg(c->store));
    return -EIO;
  }
  c->stats.records[r->desc->kind]++;
  if (++c->in_batch >= c->opts.batch_records)
    return spantap_collector_flush(c, err, errlen);
  return 0;
}
