/* The process mirror as the collector feeds it: processes met, forked and
 * exec'd, and their memory maps, read from /proc/PID/maps while a process
 * lives (and saved as MAP records, so that a saved stream can be symbolized
 * later) or learnt from the records. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector/collector_impl.h"

int spantap_collector_map_entry(struct spantap_collector *c, struct spantap_process *p,
                                const struct spantap_maps_entry *e, struct spantap_mapping *out) {
  int64_t mod = 0;
  if (e->path[0] == '/') {
    mod = spantap_module_registry_intern(c->modules, e->path);
    if (mod < 0)
      return (int)mod;
    int rc = e->perms[2] == 'x' ? spantap_collector_announce_module(c, mod) : 0;
    if (rc < 0)
      return rc;
  }
  *out = (struct spantap_mapping){.start = e->start,
                                  .end = e->end,
                                  .pgoff = e->pgoff,
                                  .module_id = mod,
                                  .executable = e->perms[2] == 'x'};
  if (spantap_store_mapping(c->store, p->pid, e->start, e->end, e->pgoff, e->perms, mod) < 0)
    return -EIO;
  return 0;
}

int spantap_collector_set_main_module(struct spantap_collector *c, struct spantap_process *p,
                                      const char *exe) {
  if (!exe || exe[0] != '/')
    return 0;
  int64_t id = spantap_module_registry_intern(c->modules, exe);
  if (id == -EIO)
    return -EIO;
  if (id > 0) {
    p->main_module_id = id;
    int rc = spantap_collector_announce_module(c, id);
    if (rc < 0)
      return rc;
  }
  free(p->exe);
  p->exe = strdup(exe);
  return spantap_collector_name_service(c, p->pid, exe, false);
}

/* Saves a MAP record: mapping E of P, or (E NULL) the reset naming EXE. */
static int save_map(struct spantap_collector *c, struct spantap_process *p, int64_t ts,
                    const struct spantap_maps_entry *e, const char *exe) {
  if (!c->opts.save_stream)
    return 0;
  char text[PATH_MAX + 8];
  struct spantap_record r = {.desc = spantap_record_desc_get(SPANTAP_REC_MAPPING), .text = text};
  r.v[SPANTAP_MAPPING_ts] = ts;
  r.v[SPANTAP_MAPPING_pid] = p->pid;
  if (e) {
    r.v[SPANTAP_MAPPING_start] = (int64_t)e->start;
    r.v[SPANTAP_MAPPING_end] = (int64_t)e->end;
    r.v[SPANTAP_MAPPING_pgoff] = (int64_t)e->pgoff;
    r.v[SPANTAP_MAPPING_ino] = (int64_t)e->ino;
    r.text_len = (size_t)snprintf(text, sizeof text, "%s %s", e->perms, e->path[0] ? e->path : "-");
  } else {
    r.text_len = (size_t)snprintf(text, sizeof text, "%s", exe);
  }
  if (r.text_len >= sizeof text)
    r.text_len = sizeof text - 1;
  return spantap_collector_save(c, &r);
}

struct maps_read {
  struct spantap_collector *c;
  struct spantap_process *p;
  struct spantap_mapping *maps;
  size_t n, cap;
  int64_t ts;
};

/* Adds one line of /proc/PID/maps to a read in progress. */
static int add_maps_line(const struct spantap_maps_entry *e, void *ctx) {
  struct maps_read *m = ctx;
  if (m->n == m->cap) {
    size_t cap = m->cap ? m->cap * 2 : 64;
    struct spantap_mapping *n = realloc(m->maps, cap * sizeof *n);
    if (!n)
      return -ENOMEM;
    m->maps = n;
    m->cap = cap;
  }
  int rc = spantap_collector_map_entry(m->c, m->p, e, &m->maps[m->n]);
  if (rc < 0)
    return rc;
  m->n++;
  return save_map(m->c, m->p, m->ts, e, NULL);
}

/* A process found running (no exec seen) is named by what was executed,
 * which its process name keeps, rather than by the file its executable
 * links to (Debian's redis-server is a link to redis-check-rdb): when the
 * process name is not the start of EXE's file name (a name longer than a
 * process name is cut), it names the service, saved as a MAP record with
 * start == end == 0 and pgoff 1. */
static int name_by_process_name(struct spantap_collector *c, struct spantap_process *p, int64_t ts,
                                const char *exe) {
  char path[64], comm[32];
  snprintf(path, sizeof path, "/proc/%" PRId64 "/comm", p->pid);
  FILE *f = fopen(path, "re");
  if (!f)
    return 0;
  bool got = fgets(comm, sizeof comm, f) != NULL;
  fclose(f);
  if (!got)
    return 0;
  comm[strcspn(comm, "\n")] = '\0';
  const char *base = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;
  if (!comm[0] || strncmp(base, comm, strlen(comm)) == 0)
    return 0;
  int rc = spantap_collector_name_service(c, p->pid, comm, true);
  if (rc < 0 || !c->opts.save_stream)
    return rc;
  struct spantap_record r = {
      .desc = spantap_record_desc_get(SPANTAP_REC_MAPPING), .text = comm, .text_len = strlen(comm)};
  r.v[SPANTAP_MAPPING_ts] = ts;
  r.v[SPANTAP_MAPPING_pid] = p->pid;
  r.v[SPANTAP_MAPPING_pgoff] = SPANTAP_MAPPING_PGOFF_SERVICE;
  return spantap_collector_save(c, &r);
}

int spantap_collector_refresh_maps(struct spantap_collector *c, struct spantap_process *p,
                                   int64_t ts) {
  if (!c->opts.live || p->maps_reads >= MAPS_READS_MAX)
    return 0;
  p->maps_reads++;
  char link[64], exe[PATH_MAX];
  snprintf(link, sizeof link, "/proc/%" PRId64 "/exe", p->pid);
  ssize_t n = readlink(link, exe, sizeof exe - 1);
  if (n <= 0)
    return 0; /* gone, or a kernel thread: nothing to read */
  exe[n] = '\0';
  /* the executable's MOD record (set_main_module) goes before its MAP record */
  int rc = spantap_collector_set_main_module(c, p, exe);
  if (rc == 0)
    rc = save_map(c, p, ts, NULL, exe);
  if (rc == 0 && !p->exec_ns)
    rc = name_by_process_name(c, p, ts, exe);
  if (rc < 0)
    return rc == -EIO ? -EIO : 0;
  struct maps_read m = {.c = c, .p = p, .ts = ts};
  rc = spantap_proc_maps_read(p->pid, add_maps_line, &m);
  if (rc >= 0)
    rc = spantap_process_set_maps(p, m.maps, m.n);
  free(m.maps);
  return rc == -EIO ? -EIO : 0;
}

int spantap_collector_process(struct spantap_collector *c, int64_t pid, int64_t ts,
                              struct spantap_process **out) {
  struct spantap_process *p = spantap_proc_mirror_get(c->procs, pid, false);
  if (!p) {
    p = spantap_proc_mirror_get(c->procs, pid, true);
    if (!p)
      return -ENOMEM;
    p->attached = true; /* running before we saw it start */
    p->start_ns = ts;
    c->stats.processes++;
    int rc = spantap_collector_refresh_maps(c, p, ts);
    if (rc < 0)
      return rc;
  }
  *out = p;
  return 0;
}

int spantap_collector_store_process(struct spantap_collector *c, struct spantap_process *p) {
  return spantap_store_process(c->store, p->pid, p->ppid, p->exe, p->start_ns, p->exec_ns,
                               p->exit_ns, p->exit_status, p->attached);
}

/* A new process inherits its parent's executable, service and layout. */
int spantap_collector_fork_process(struct spantap_collector *c,
                                   const struct spantap_process *parent, int64_t child_pid,
                                   int64_t ts) {
  struct spantap_process *p = spantap_proc_mirror_get(c->procs, child_pid, true);
  if (!p)
    return -ENOMEM;
  c->stats.processes++;
  p->ppid = parent->pid;
  p->start_ns = ts;
  p->main_module_id = parent->main_module_id;
  p->start_code = parent->start_code;
  p->end_code = parent->end_code;
  free(p->exe);
  p->exe = NULL;
  if (parent->exe) {
    const char *service = spantap_collector_service(c, parent->pid);
    if (!(p->exe = strdup(parent->exe)) ||
        spantap_collector_name_service(c, child_pid, service ? service : parent->exe, true) < 0)
      return -ENOMEM;
  }
  return spantap_process_set_maps(p, parent->maps, parent->nmaps); /* fork copies the layout */
}

int64_t spantap_collector_module_of_file(struct spantap_collector *c, const char *name,
                                         uint64_t ino, uint64_t kdev) {
  if (c->opts.live)
    return spantap_module_registry_find_file(c->modules, name, ino, kdev);
  /* importing: the identity a MOD record gave the file on the recording
   * machine; inodes here mean nothing to a stream recorded elsewhere, and
   * only a stream without MOD records (an older spantap's) is matched to
   * this machine's inodes before its paths */
  int64_t mod = spantap_module_registry_find_recorded(c->modules, ino, kdev);
  if (mod == 0 && !c->stream_has_modules)
    mod = spantap_module_registry_find_file(c->modules, name, ino, kdev);
  if (mod == 0)
    mod = spantap_module_registry_find_path(c->modules, name);
  return mod;
}

/* An exec of a traced process that is gone already (or not live): its
 * executable's text from the record's file identity. */
int spantap_collector_exec_text(struct spantap_collector *c, struct spantap_process *p,
                                const struct spantap_record *r, const char *path) {
  int64_t mod = spantap_collector_module_of_file(c, path, (uint64_t)r->v[SPANTAP_EXEC_ino],
                                                 (uint64_t)r->v[SPANTAP_EXEC_dev]);
  uint64_t text_off;
  if (mod <= 0 || !c->sym)
    return mod < 0 ? (int)mod : 0;
  const char *exe = spantap_module_registry_path(c->modules, mod);
  const struct spantap_module_source *src = spantap_module_registry_source(c->modules, mod);
  if (src && src->recorded && src->has_text)
    text_off = src->text.offset; /* the recorded file's, whatever is at its path here */
  else if (spantap_module_text_offset(c->sym, exe, &text_off) != 0)
    return 0;
  p->main_module_id = mod;
  free(p->exe);
  if (!(p->exe = strdup(exe)) || spantap_collector_name_service(c, p->pid, exe, false) < 0)
    return -ENOMEM;
  struct spantap_mapping m = {.start = p->start_code,
                              .end = p->end_code,
                              .pgoff = text_off,
                              .module_id = mod,
                              .executable = true};
  return spantap_process_add_mapping(p, &m);
}
