/* Collector: record stream -> process mirror, interned stacks and SQLite rows.
 * Stack frames are selected per the recording's stack mode here, so both
 * runtimes (the BPF one filters in the kernel, the module one does not) store
 * the same thing. */
#include "collector/collector.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "collector/event.h"
#include "collector/intern.h"
#include "collector/proc_mirror.h"
#include "collector/reorder.h"
#include "collector/spans.h"
#include "collector/stream_parse.h"
#include "collector/u64_map.h"
#include "common/syscall_table.h"

#define LINE_MAX_BYTES 65536
#define MAPS_READS_MAX 16 /* rereads of /proc/PID/maps on unknown addresses */
#define REORDER_WINDOW_NS_DEFAULT 250000000LL
#define TCP_STATE_CLOSE 7 /* the kernel's TCP_CLOSE */
#define REORDER_MAX_EVENTS_DEFAULT (1u << 16)

struct spantap_collector {
  struct spantap_store *store;
  struct spantap_symbolizer *sym;
  struct spantap_collector_opts opts;
  struct spantap_collector_stats stats;
  struct spantap_proc_mirror *procs;
  struct spantap_intern *modules, *frames, *stacks, *conns;
  char **module_paths; /* index = module id */
  struct file_id {
    uint64_t ino, kdev; /* kernel encoding of the device, as scripts report it */
  } * module_files;     /* index = module id; 0 when the file could not be read */
  size_t module_paths_cap;
  char *line; /* partial line carried between feeds */
  size_t line_len, line_cap;
  bool line_overflow;
  bool bpf_stacks; /* stacks come from the BPF runtime's walk (slot 1 is a guess) */
  unsigned in_batch;
  struct spantap_reorder *window; /* events on their way to the span engine */
  struct spantap_span_engine *spans;
  struct spantap_u64_map *services; /* pid -> owned executable file name */
  struct spantap_u64_map *sockets;  /* kernel sock -> struct socket_entry, as announced */
  long close_nr;                    /* the close syscall's number: a socket's end */
  int64_t newest_ts;                /* the latest event time read */
};

/* What a SOCK record announced about a socket. */
struct socket_entry {
  struct spantap_endpoints ends;
  int64_t conn_id;
};

static int sink_event_row(void *ctx, const struct spantap_event *e, int64_t span_id);
static int sink_span(void *ctx, const struct spantap_span_row *row);
static int sink_edge(void *ctx, int64_t parent_id, int64_t child_id, const char *kind);
static int sink_trace(void *ctx, const struct spantap_trace_row *row);
static const char *sink_service(void *ctx, int64_t pid);

static int mark_loss(struct spantap_collector *c, int64_t ts);

static int remember_socket(struct spantap_collector *c, const struct spantap_event *e);

/* An event leaves the reorder window, in time order: the socket table follows
 * SOCK records and socket ends, syscalls on sockets get their addresses, and
 * everything else goes on to the span engine. */
static int release_to_spans(const struct spantap_event *e, void *ctx) {
  struct spantap_collector *c = ctx;
  if (e->kind == SPANTAP_EV_SOCKET)
    return remember_socket(c, e);
  if (e->kind == SPANTAP_EV_TCPSTATE && e->state == TCP_STATE_CLOSE)
    free(spantap_u64_map_remove(c->sockets, e->sock)); /* gone: a new one will be announced */
  if (e->kind != SPANTAP_EV_SYSCALL || !e->sock)
    return spantap_span_engine_event(c->spans, e);
  struct spantap_event resolved = *e;
  const struct socket_entry *sk = spantap_u64_map_get(c->sockets, e->sock);
  if (sk) {
    resolved.ends = sk->ends;
    resolved.conn_id = sk->conn_id;
  } else {
    c->stats.unknown_sockets++; /* its SOCK record was lost: no addresses, no spans */
  }
  if (e->nr == c->close_nr)
    free(spantap_u64_map_remove(c->sockets, e->sock));
  return spantap_span_engine_event(c->spans, &resolved);
}

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
  struct spantap_span_sink sink = {.ctx = c,
                                   .event_row = sink_event_row,
                                   .span = sink_span,
                                   .edge = sink_edge,
                                   .trace = sink_trace,
                                   .service = sink_service};
  /* a recording reads as incomplete until finished in order (record and
   * import set complete to 1 then), even when the collector is killed */
  if (spantap_store_meta(store, "complete", NULL, 0) < 0) {
    free(c);
    return -EIO;
  }
  if (spantap_span_engine_new(&sink, &c->spans) < 0 ||
      spantap_reorder_new(c->opts.reorder_window_ns, c->opts.reorder_max_events, release_to_spans,
                          c, &c->window) < 0) {
    spantap_collector_destroy(c);
    return -ENOMEM;
  }
  c->bpf_stacks = true; /* until a BEGIN record names the runtime */
  c->procs = spantap_proc_mirror_new();
  c->modules = spantap_intern_new();
  c->frames = spantap_intern_new();
  c->stacks = spantap_intern_new();
  c->conns = spantap_intern_new();
  c->services = spantap_u64_map_new();
  c->sockets = spantap_u64_map_new();
  c->close_nr = spantap_syscall_by_name("close");
  c->line_cap = 4096;
  c->line = malloc(c->line_cap);
  if (!c->procs || !c->modules || !c->frames || !c->stacks || !c->conns || !c->services ||
      !c->sockets || !c->line) {
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
  spantap_u64_map_free_values(c->sockets);
  spantap_u64_map_destroy(c->sockets);
  spantap_proc_mirror_destroy(c->procs);
  spantap_intern_destroy(c->modules);
  spantap_intern_destroy(c->frames);
  spantap_intern_destroy(c->stacks);
  spantap_intern_destroy(c->conns);
  for (size_t i = 0; i < c->module_paths_cap; i++)
    free(c->module_paths[i]);
  free(c->module_paths);
  free(c->module_files);
  free(c->line);
  free(c);
}

const struct spantap_collector_stats *spantap_collector_stats(const struct spantap_collector *c) {
  return &c->stats;
}

static int store_failed(struct spantap_collector *c, const char *what, char *err, size_t errlen) {
  snprintf(err, errlen, "Failed to store %s: error=%s", what, spantap_store_errmsg(c->store));
  return -EIO;
}

/* ---- modules and mappings ------------------------------------------------ */

static int64_t module_id(struct spantap_collector *c, const char *path) {
  bool created;
  int64_t id = spantap_intern_get(c->modules, path, strlen(path), true, &created);
  if (id <= 0 || !created)
    return id;
  if ((size_t)id >= c->module_paths_cap) {
    size_t cap = c->module_paths_cap ? c->module_paths_cap * 2 : 64;
    while (cap <= (size_t)id)
      cap *= 2;
    char **p = realloc(c->module_paths, cap * sizeof *p);
    if (!p)
      return -ENOMEM;
    memset(p + c->module_paths_cap, 0, (cap - c->module_paths_cap) * sizeof *p);
    c->module_paths = p;
    struct file_id *f = realloc(c->module_files, cap * sizeof *f);
    if (!f)
      return -ENOMEM;
    memset(f + c->module_paths_cap, 0, (cap - c->module_paths_cap) * sizeof *f);
    c->module_files = f;
    c->module_paths_cap = cap;
  }
  c->module_paths[id] = strdup(path);
  struct stat st;
  if (stat(path, &st) == 0)
    c->module_files[id] =
        (struct file_id){st.st_ino, ((uint64_t)major(st.st_dev) << 20) | minor(st.st_dev)};
  char build_id[41] = "";
  if (c->sym)
    spantap_module_build_id(c->sym, path, build_id);
  c->stats.modules++;
  if (spantap_store_module(c->store, id, path, build_id) < 0)
    return -EIO;
  return id;
}

struct maps_ctx {
  struct spantap_collector *c;
  struct spantap_process *p;
  struct spantap_mapping *maps;
  size_t n, cap;
  int64_t ts;
  int err;
};

/* Adds one mapping to a maps read in progress, stores it and copies it to the
 * saved stream. */
static int add_mapping(const struct spantap_maps_entry *e, void *vctx) {
  struct maps_ctx *m = vctx;
  struct spantap_collector *c = m->c;
  if (m->n == m->cap) {
    size_t cap = m->cap ? m->cap * 2 : 64;
    struct spantap_mapping *n = realloc(m->maps, cap * sizeof *n);
    if (!n)
      return -ENOMEM;
    m->maps = n;
    m->cap = cap;
  }
  int64_t mod = 0;
  if (e->path[0] == '/') {
    mod = module_id(c, e->path);
    if (mod < 0)
      return (int)mod;
  }
  m->maps[m->n++] = (struct spantap_mapping){.start = e->start,
                                             .end = e->end,
                                             .pgoff = e->pgoff,
                                             .module_id = mod,
                                             .executable = e->perms[2] == 'x'};
  if (c->opts.save_stream)
    fprintf(c->opts.save_stream,
            "MAP %" PRId64 " %" PRId64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %s %s\n",
            m->ts, m->p->pid, e->start, e->end, e->pgoff, e->ino, e->perms,
            e->path[0] ? e->path : "-");
  if (spantap_store_mapping(c->store, m->p->pid, e->start, e->end, e->pgoff, e->perms, mod) < 0)
    return -EIO;
  return 0;
}

/* Remembers PATH's file name as the service name of process PID (kept after
 * the process exits: its last events are still in the reorder window). The
 * name a process was started by wins over the file it resolves to (a server
 * started as redis-server through a link is redis-server): a known name is
 * replaced only when REPLACE. */
static void remember_service(struct spantap_collector *c, int64_t pid, const char *path,
                             bool replace) {
  if (!replace && spantap_u64_map_get(c->services, (uint64_t)pid))
    return;
  const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
  char *name = strdup(base);
  if (!name)
    return;
  free(spantap_u64_map_remove(c->services, (uint64_t)pid));
  if (spantap_u64_map_put(c->services, (uint64_t)pid, name) < 0)
    free(name);
}

static void set_main_module(struct spantap_collector *c, struct spantap_process *p,
                            const char *exe) {
  if (!exe || exe[0] != '/')
    return;
  int64_t id = module_id(c, exe);
  if (id > 0)
    p->main_module_id = id;
  free(p->exe);
  p->exe = strdup(exe);
  remember_service(c, p->pid, exe, false);
}

/* Rereads /proc/PID/maps of a live process. Returns 0, or -EIO on store failure. */
static int refresh_maps(struct spantap_collector *c, struct spantap_process *p, int64_t ts) {
  if (!c->opts.live || p->maps_reads >= MAPS_READS_MAX)
    return 0;
  p->maps_reads++;
  char link[64], exe[PATH_MAX];
  snprintf(link, sizeof link, "/proc/%" PRId64 "/exe", p->pid);
  ssize_t n = readlink(link, exe, sizeof exe - 1);
  if (n <= 0)
    return 0; /* gone, or a kernel thread: nothing to read */
  exe[n] = '\0';
  if (c->opts.save_stream)
    fprintf(c->opts.save_stream, "MAP %" PRId64 " %" PRId64 " 0 0 0 0 %s\n", ts, p->pid, exe);
  set_main_module(c, p, exe);
  struct maps_ctx m = {.c = c, .p = p, .ts = ts};
  int rc = spantap_read_proc_maps(p->pid, add_mapping, &m);
  if (rc >= 0)
    rc = spantap_process_set_maps(p, m.maps, m.n);
  free(m.maps);
  return rc == -EIO ? -EIO : 0;
}

/* A MAP record from a saved stream: start == end == 0 resets the process's
 * mappings and names its executable; anything else adds one mapping. */
static int on_mapping(struct spantap_collector *c, const struct spantap_record *r) {
  struct spantap_process *p = spantap_proc_mirror_get(c->procs, r->v[SPANTAP_MAPPING_pid], true);
  if (!p)
    return -ENOMEM;
  char text[PATH_MAX + 8];
  snprintf(text, sizeof text, "%.*s", (int)r->text_len, r->text);
  if (r->v[SPANTAP_MAPPING_start] == 0 && r->v[SPANTAP_MAPPING_end] == 0) {
    spantap_process_set_maps(p, NULL, 0);
    set_main_module(c, p, text);
    return 0;
  }
  /* text: "PERMS PATH" */
  const char *path = strchr(text, ' ');
  path = path ? path + 1 : "-";
  struct spantap_maps_entry e = {.start = (uint64_t)r->v[SPANTAP_MAPPING_start],
                                 .end = (uint64_t)r->v[SPANTAP_MAPPING_end],
                                 .pgoff = (uint64_t)r->v[SPANTAP_MAPPING_pgoff],
                                 .ino = (uint64_t)r->v[SPANTAP_MAPPING_ino],
                                 .path = strcmp(path, "-") == 0 ? "" : path};
  snprintf(e.perms, sizeof e.perms, "%.4s", text);
  struct maps_ctx m = {.c = c, .p = p, .ts = r->v[SPANTAP_MAPPING_ts]};
  FILE *saved = c->opts.save_stream;
  c->opts.save_stream = NULL; /* the line itself is already copied */
  int rc = add_mapping(&e, &m);
  c->opts.save_stream = saved;
  if (rc == 0)
    rc = spantap_process_add_mapping(p, &m.maps[0]);
  free(m.maps);
  return rc;
}

/* Finds the module of the file NAME (a path, or a bare file name as the
 * kernel reports it) whose inode and device are INO and KDEV: among the
 * modules already known, then at NAME itself, then by that name in the
 * library and program directories; importing, the file at path NAME when no
 * inode matches. Returns the module id, or 0. */
static int64_t module_by_file(struct spantap_collector *c, const char *name, uint64_t ino,
                              uint64_t kdev) {
  const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
  for (size_t id = 1; id < c->module_paths_cap && c->module_paths[id]; id++)
    if (c->module_files[id].ino == ino && c->module_files[id].kdev == kdev)
      return (int64_t)id;
  static const char *const dirs[] = {"",
                                     "/lib/x86_64-linux-gnu/",
                                     "/usr/lib/x86_64-linux-gnu/",
                                     "/lib64/",
                                     "/usr/lib64/",
                                     "/lib/",
                                     "/usr/lib/",
                                     "/usr/local/lib/",
                                     "/usr/local/bin/",
                                     "/usr/bin/",
                                     "/bin/",
                                     "/usr/sbin/",
                                     "/sbin/"};
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
    char path[PATH_MAX], real[PATH_MAX];
    snprintf(path, sizeof path, "%s%s", dirs[i], i == 0 ? name : base);
    struct stat st;
    if (stat(path, &st) < 0 || st.st_ino != ino ||
        (((uint64_t)major(st.st_dev) << 20) | minor(st.st_dev)) != kdev)
      continue;
    if (!realpath(path, real))
      continue;
    int64_t id = module_id(c, real);
    return id > 0 ? id : 0;
  }
  /* A stream recorded on another machine (a guest, a production host) names
   * files whose inodes mean nothing here: the file at the same path stands
   * in; its build-id goes into the modules table, where a mismatch shows. */
  for (size_t i = 0; !c->opts.live && i < sizeof dirs / sizeof dirs[0]; i++) {
    char path[PATH_MAX], real[PATH_MAX];
    snprintf(path, sizeof path, "%s%s", dirs[i], i == 0 ? name : base);
    if ((i == 0 && name[0] != '/') || !realpath(path, real) || access(real, R_OK) < 0)
      continue;
    int64_t id = module_id(c, real);
    return id > 0 ? id : 0;
  }
  return 0;
}

/* Adds one executable mapping to P's mirror. */
static int add_exec_mapping(struct spantap_process *p, uint64_t start, uint64_t end, uint64_t pgoff,
                            int64_t mod) {
  struct spantap_mapping m = {
      .start = start, .end = end, .pgoff = pgoff, .module_id = mod, .executable = true};
  return spantap_process_add_mapping(p, &m);
}

/* An XMAP record: an executable file mapping the script saw created. */
static int on_xmap(struct spantap_collector *c, const struct spantap_record *r) {
  const int64_t *v = r->v;
  struct spantap_process *p = spantap_proc_mirror_get(c->procs, v[SPANTAP_XMAP_pid], false);
  if (!p)
    return 0;
  char name[PATH_MAX];
  snprintf(name, sizeof name, "%.*s", (int)r->text_len, r->text);
  int64_t mod =
      module_by_file(c, name, (uint64_t)v[SPANTAP_XMAP_ino], (uint64_t)v[SPANTAP_XMAP_dev]);
  if (mod < 0)
    return (int)mod;
  return add_exec_mapping(p, (uint64_t)v[SPANTAP_XMAP_start], (uint64_t)v[SPANTAP_XMAP_end],
                          (uint64_t)v[SPANTAP_XMAP_pgoff], mod);
}

/* The process PID, created as "attached" (running before we saw it start)
 * when new. */
static struct spantap_process *process_for(struct spantap_collector *c, int64_t pid, int64_t ts) {
  struct spantap_process *p = spantap_proc_mirror_get(c->procs, pid, false);
  if (p)
    return p;
  p = spantap_proc_mirror_get(c->procs, pid, true);
  if (!p)
    return NULL;
  p->attached = true;
  p->start_ns = ts;
  c->stats.processes++;
  refresh_maps(c, p, ts);
  return p;
}

/* ---- stacks ---------------------------------------------------------------- */

struct frame_key {
  int64_t module_id;
  uint64_t where; /* file offset in the module, or the raw address when unknown */
  int64_t pid;    /* only for unknown addresses, which mean nothing across processes */
};

static int64_t frame_id(struct spantap_collector *c, struct spantap_process *p,
                        const struct spantap_mapping *m, uint64_t addr, bool is_return) {
  struct frame_key k = {0};
  if (m && m->module_id) {
    k.module_id = m->module_id;
    k.where = addr - m->start + m->pgoff;
  } else {
    k.where = addr;
    k.pid = p->pid;
  }
  bool created;
  int64_t id = spantap_intern_get(c->frames, &k, sizeof k, true, &created);
  if (id <= 0 || !created)
    return id;
  c->stats.frames++;
  struct spantap_symbol sym;
  memset(&sym, 0, sizeof sym);
  sym.rel_addr = k.where;
  if (m && m->module_id && c->sym) {
    if (spantap_symbolizer_lookup(c->sym, c->module_paths[m->module_id], m->start, m->pgoff, addr,
                                  is_return, &sym) < 0) {
      memset(&sym, 0, sizeof sym);
      sym.rel_addr = k.where;
    }
  } else {
    c->stats.unknown_frames++;
  }
  if (spantap_store_frame(c->store, id, k.module_id, sym.rel_addr, sym.function, sym.offset,
                          sym.file, sym.line) < 0)
    return -EIO;
  return id;
}

/* Selects, symbolizes and interns the stack of R. Returns the stack id, 0
 * when the record has no stack, or -EIO / -ENOMEM. */
static int64_t stack_id(struct spantap_collector *c, struct spantap_process *p,
                        const struct spantap_record *r, int64_t ts) {
  if (!r->has_stack_token || c->opts.stack_mode == 0)
    return 0;
  int64_t key[SPANTAP_MAX_FRAMES + 1];
  int64_t seen_modules[SPANTAP_MAX_FRAMES];
  unsigned n = 0, nseen = 0, flags = r->stack_flags;
  int64_t app_frame = 0;
  for (unsigned i = 0; i < r->nframes && n < c->opts.stack_depth; i++) {
    uint64_t addr = r->frames[i];
    const struct spantap_mapping *m = spantap_process_find_mapping(p, addr);
    if (!m && c->opts.live && p->maps_reads < MAPS_READS_MAX) {
      if (refresh_maps(c, p, ts) < 0)
        return -EIO;
      m = spantap_process_find_mapping(p, addr);
    }
    /* Slot 1 of a BPF stack is a guess (a word near sp): keep it only when it
     * points into code. */
    if (c->bpf_stacks && r->frame_slot[i] == 1 && (!m || !m->executable))
      continue;
    if (!m)
      flags |= SPANTAP_STACK_UNWIND_BROKEN;
    int64_t mod = m ? m->module_id : 0;
    bool in_app = mod && mod == p->main_module_id;
    if (c->opts.stack_mode <= 2 && !in_app)
      continue;
    if (c->opts.stack_mode == 3) {
      bool dup = false;
      for (unsigned j = 0; j < nseen; j++)
        dup |= seen_modules[j] == mod;
      if (dup)
        continue;
      seen_modules[nseen++] = mod;
    }
    int64_t fid = frame_id(c, p, m, addr, r->frame_slot[i] > 0);
    if (fid < 0)
      return fid;
    if (in_app && !app_frame)
      app_frame = fid;
    key[1 + n++] = fid;
    if (c->opts.stack_mode == 1)
      break;
  }
  key[0] = flags;
  bool created;
  int64_t id = spantap_intern_get(c->stacks, key, (1 + n) * sizeof key[0], true, &created);
  if (id > 0 && created) {
    c->stats.stacks++;
    if (spantap_store_stack(c->store, id, key + 1, n, flags, app_frame) < 0)
      return -EIO;
  }
  return id;
}

/* ---- connections ------------------------------------------------------------ */

static void format_addr(int family, int64_t hi, int64_t lo, char *out, size_t len) {
  unsigned char b[16];
  uint64_t h = (uint64_t)hi, l = (uint64_t)lo;
  for (int i = 0; i < 8; i++) {
    b[i] = (unsigned char)(l >> (8 * i));
    b[8 + i] = (unsigned char)(h >> (8 * i));
  }
  if (family == AF_INET6)
    inet_ntop(AF_INET6, b, out, (socklen_t)len);
  else if (family == AF_INET)
    inet_ntop(AF_INET, b, out, (socklen_t)len);
  else
    snprintf(out, len, "-");
}

/* Interns the connection described by fields FAM.. of R (NC or TCP layout). */
static int64_t conn_id(struct spantap_collector *c, int family, int proto, int64_t lport,
                       int64_t rport, int64_t laddr_hi, int64_t laddr_lo, int64_t raddr_hi,
                       int64_t raddr_lo, int64_t sock) {
  int64_t key[9] = {family, proto, lport, rport, laddr_hi, laddr_lo, raddr_hi, raddr_lo, sock};
  bool created;
  int64_t id = spantap_intern_get(c->conns, key, sizeof key, true, &created);
  if (id > 0 && created) {
    char la[64], ra[64];
    format_addr(family, laddr_hi, laddr_lo, la, sizeof la);
    format_addr(family, raddr_hi, raddr_lo, ra, sizeof ra);
    c->stats.connections++;
    if (spantap_store_connection(c->store, id, family, proto, la, (int)lport, ra, (int)rport,
                                 (uint64_t)sock) < 0)
      return -EIO;
  }
  return id;
}

/* ---- records ---------------------------------------------------------------- */

static int write_process(struct spantap_collector *c, struct spantap_process *p) {
  return spantap_store_process(c->store, p->pid, p->ppid, p->exe, p->start_ns, p->exec_ns,
                               p->exit_ns, p->exit_status, p->attached);
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

/* A SOCK record: the addresses of a socket that NC records name. It goes
 * through the reorder window like the syscalls that name the socket: printed
 * with the time of the syscall that announced it, it comes out before every NC
 * of the socket, even one that another CPU delivered first. */
static int on_socket(struct spantap_collector *c, const struct spantap_record *r) {
  const int64_t *v = r->v;
  struct spantap_event e = {.kind = SPANTAP_EV_SOCKET,
                            .ts = v[SPANTAP_SOCKET_ts],
                            .pid = v[SPANTAP_SOCKET_pid],
                            .sock = (uint64_t)v[SPANTAP_SOCKET_sock],
                            .ends = {.family = (int)v[SPANTAP_SOCKET_family],
                                     .proto = (int)v[SPANTAP_SOCKET_proto],
                                     .lport = (int)v[SPANTAP_SOCKET_lport],
                                     .rport = (int)v[SPANTAP_SOCKET_rport],
                                     .laddr_hi = v[SPANTAP_SOCKET_laddr_hi],
                                     .laddr_lo = v[SPANTAP_SOCKET_laddr_lo],
                                     .raddr_hi = v[SPANTAP_SOCKET_raddr_hi],
                                     .raddr_lo = v[SPANTAP_SOCKET_raddr_lo]}};
  e.conn_id = conn_id(c, e.ends.family, e.ends.proto, e.ends.lport, e.ends.rport, e.ends.laddr_hi,
                      e.ends.laddr_lo, e.ends.raddr_hi, e.ends.raddr_lo, v[SPANTAP_SOCKET_sock]);
  if (e.conn_id < 0)
    return (int)e.conn_id;
  return spantap_reorder_push(c->window, &e);
}

/* In time order: a SOCK's addresses enter the socket table. Returns 0 or -ENOMEM. */
static int remember_socket(struct spantap_collector *c, const struct spantap_event *e) {
  struct socket_entry *s = malloc(sizeof *s);
  if (!s)
    return -ENOMEM;
  *s = (struct socket_entry){.ends = e->ends, .conn_id = e->conn_id};
  free(spantap_u64_map_remove(c->sockets, e->sock));
  if (spantap_u64_map_put(c->sockets, e->sock, s) < 0) {
    free(s);
    return -ENOMEM;
  }
  return 0;
}

/* The socket addresses of a TCP record. */
static struct spantap_endpoints tcp_record_ends(const int64_t *v) {
  return (struct spantap_endpoints){.family = (int)v[SPANTAP_TCPSTATE_family],
                                    .proto = IPPROTO_TCP,
                                    .lport = (int)v[SPANTAP_TCPSTATE_lport],
                                    .rport = (int)v[SPANTAP_TCPSTATE_rport],
                                    .laddr_hi = v[SPANTAP_TCPSTATE_laddr_hi],
                                    .laddr_lo = v[SPANTAP_TCPSTATE_laddr_lo],
                                    .raddr_hi = v[SPANTAP_TCPSTATE_raddr_hi],
                                    .raddr_lo = v[SPANTAP_TCPSTATE_raddr_lo]};
}

static int on_syscall(struct spantap_collector *c, const struct spantap_record *r, bool net) {
  const int64_t *v = r->v;
  int64_t ts = v[SPANTAP_SYSCALL_ts];
  struct spantap_process *p = process_for(c, v[SPANTAP_SYSCALL_pid], ts);
  if (!p)
    return -ENOMEM;
  struct spantap_event e = {
      .kind = SPANTAP_EV_SYSCALL,
      .ts = ts,
      .dur = v[SPANTAP_SYSCALL_dur],
      .pid = p->pid,
      .tid = v[SPANTAP_SYSCALL_tid],
      .nr = v[SPANTAP_SYSCALL_nr],
      .ret = v[SPANTAP_SYSCALL_ret],
      .args = {v[SPANTAP_SYSCALL_arg0], v[SPANTAP_SYSCALL_arg1], v[SPANTAP_SYSCALL_arg2]}};
  e.stack_id = stack_id(c, p, r, ts);
  if (e.stack_id < 0)
    return (int)e.stack_id;
  if (net)
    e.sock = (uint64_t)v[SPANTAP_NETCALL_sock]; /* its addresses: when it leaves the window */
  struct spantap_syscall_info info = {0};
  if (spantap_syscall_info(e.nr, &info) < 0)
    info.classes = SPANTAP_CLASS_OTHER;
  /* read/write & co. count as network I/O when they hit a socket */
  e.class_name = net && (info.classes & SPANTAP_CLASS_NET) ? "net" : class_name(info.classes);
  return spantap_reorder_push(c->window, &e);
}

/* ---- span engine sink: rows that wait for their span, spans, traces ---------- */

static int sink_event_row(void *ctx, const struct spantap_event *e, int64_t span_id) {
  struct spantap_collector *c = ctx;
  int rc = 0;
  switch (e->kind) {
    case SPANTAP_EV_SYSCALL: {
      struct spantap_syscall_info info = {0};
      char unnamed[32];
      if (spantap_syscall_info(e->nr, &info) < 0 || !info.name) {
        snprintf(unnamed, sizeof unnamed, "syscall_%" PRId64, e->nr);
        info.name = unnamed;
      }
      rc = spantap_store_syscall(c->store, e->ts, e->dur, e->pid, e->tid, e->nr, info.name,
                                 e->class_name, e->args, e->ret, e->stack_id, e->conn_id, span_id);
      break;
    }
    case SPANTAP_EV_OFFCPU:
      rc = spantap_store_offcpu(c->store, e->ts, e->dur, e->pid, e->tid, e->state, span_id);
      break;
    case SPANTAP_EV_PAGEFAULT:
      rc = spantap_store_page_fault(c->store, e->ts, e->pid, e->tid, e->address, e->error_code,
                                    e->stack_id, span_id);
      break;
    default:
      break;
  }
  return rc < 0 ? -EIO : 0;
}

static int sink_span(void *ctx, const struct spantap_span_row *row) {
  struct spantap_collector *c = ctx;
  return spantap_store_span(c->store, row) < 0 ? -EIO : 0;
}

static int sink_edge(void *ctx, int64_t parent_id, int64_t child_id, const char *kind) {
  struct spantap_collector *c = ctx;
  return spantap_store_span_edge(c->store, parent_id, child_id, kind) < 0 ? -EIO : 0;
}

static int sink_trace(void *ctx, const struct spantap_trace_row *row) {
  struct spantap_collector *c = ctx;
  return spantap_store_trace(c->store, row) < 0 ? -EIO : 0;
}

static const char *sink_service(void *ctx, int64_t pid) {
  struct spantap_collector *c = ctx;
  return spantap_u64_map_get(c->services, (uint64_t)pid);
}

static int on_record(struct spantap_collector *c, const struct spantap_record *r) {
  const int64_t *v = r->v;
  switch (r->desc->kind) {
    case SPANTAP_REC_BEGIN:
      c->stats.begin_seen = true;
      snprintf(c->stats.runtime, sizeof c->stats.runtime, "%.*s", (int)r->text_len, r->text);
      c->bpf_stacks = strcmp(c->stats.runtime, "kernel") != 0;
      if (v[SPANTAP_BEGIN_format_version] != SPANTAP_RECORD_FORMAT_VERSION)
        return -EPROTO;
      return spantap_store_meta(c->store, "runtime", c->stats.runtime, 0);
    case SPANTAP_REC_READY:
      c->stats.ready_mask |= (unsigned)v[SPANTAP_READY_answered] & SPANTAP_READY_ALL;
      return 0;
    case SPANTAP_REC_END:
      c->stats.end_seen = true;
      return 0;
    case SPANTAP_REC_FORK: {
      int64_t ts = v[SPANTAP_FORK_ts], pid = v[SPANTAP_FORK_pid];
      int64_t child_pid = v[SPANTAP_FORK_child_pid], child_tid = v[SPANTAP_FORK_child_tid];
      struct spantap_process *parent = process_for(c, pid, ts);
      if (!parent)
        return -ENOMEM;
      bool thread = child_pid == pid;
      if (!thread) {
        struct spantap_process *p = spantap_proc_mirror_get(c->procs, child_pid, true);
        if (!p)
          return -ENOMEM;
        c->stats.processes++;
        p->ppid = pid;
        p->start_ns = ts;
        p->main_module_id = parent->main_module_id;
        p->start_code = parent->start_code;
        p->end_code = parent->end_code;
        free(p->exe);
        p->exe = parent->exe ? strdup(parent->exe) : NULL;
        if (parent->exe)
          remember_service(c, child_pid, sink_service(c, pid) ? sink_service(c, pid) : parent->exe,
                           true);
        spantap_process_set_maps(p, parent->maps, parent->nmaps); /* fork copies the layout */
      }
      if (spantap_store_thread(c->store, child_tid, child_pid, ts, 0) < 0)
        return -EIO;
      struct spantap_event e = {.kind = SPANTAP_EV_FORK,
                                .ts = ts,
                                .pid = pid,
                                .tid = v[SPANTAP_FORK_tid],
                                .child_pid = child_pid,
                                .child_tid = child_tid};
      int rc = spantap_reorder_push(c->window, &e);
      if (rc)
        return rc;
      return spantap_store_process_event(c->store, ts, thread ? "thread" : "fork", pid,
                                         v[SPANTAP_FORK_tid], child_pid, child_tid, NULL, -1);
    }
    case SPANTAP_REC_EXEC: {
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
      p->exe = strdup(path);
      remember_service(c, pid, path, true);
      p->main_module_id = 0;
      p->maps_reads = 0;
      spantap_process_set_maps(p, NULL, 0);
      if (spantap_store_process_event(c->store, ts, traced ? "exec" : "leave", pid,
                                      v[SPANTAP_EXEC_tid], 0, 0, path, -1) < 0)
        return -EIO;
      if (!traced) {
        int rc = write_process(c, p);
        spantap_proc_mirror_remove(c->procs, pid);
        return rc;
      }
      int rc = refresh_maps(c, p, ts);
      if (rc < 0 || p->nmaps)
        return rc;
      /* Gone already, or not live: the executable's text from the record. */
      int64_t mod =
          module_by_file(c, path, (uint64_t)v[SPANTAP_EXEC_ino], (uint64_t)v[SPANTAP_EXEC_dev]);
      uint64_t text_off;
      if (mod > 0 && c->sym &&
          spantap_module_text_offset(c->sym, c->module_paths[mod], &text_off) == 0) {
        p->main_module_id = mod;
        free(p->exe);
        p->exe = strdup(c->module_paths[mod]);
        remember_service(c, pid, p->exe, false);
        return add_exec_mapping(p, p->start_code, p->end_code, text_off, mod);
      }
      return mod < 0 ? (int)mod : 0;
    }
    case SPANTAP_REC_EXIT: {
      int64_t ts = v[SPANTAP_EXIT_ts], pid = v[SPANTAP_EXIT_pid], tid = v[SPANTAP_EXIT_tid];
      if (spantap_store_thread(c->store, tid, pid, 0, ts) < 0)
        return -EIO;
      struct spantap_event e = {.kind = SPANTAP_EV_EXIT, .ts = ts, .pid = pid, .tid = tid};
      int rc = spantap_reorder_push(c->window, &e);
      if (rc)
        return rc;
      if (!v[SPANTAP_EXIT_group_dead])
        return 0;
      struct spantap_process *p = process_for(c, pid, ts);
      if (!p)
        return -ENOMEM;
      p->exit_ns = ts;
      p->exit_status = v[SPANTAP_EXIT_code];
      if (spantap_store_process_event(c->store, ts, "exit", pid, tid, 0, 0, NULL,
                                      v[SPANTAP_EXIT_code]) < 0 ||
          write_process(c, p) < 0)
        return -EIO;
      spantap_proc_mirror_remove(c->procs, pid);
      return 0;
    }
    case SPANTAP_REC_SYSCALL:
      return on_syscall(c, r, false);
    case SPANTAP_REC_NETCALL:
      return on_syscall(c, r, true);
    case SPANTAP_REC_SOCKET:
      return on_socket(c, r);
    case SPANTAP_REC_TCPSTATE: {
      int64_t ts = v[SPANTAP_TCPSTATE_ts];
      struct spantap_process *p = process_for(c, v[SPANTAP_TCPSTATE_pid], ts);
      if (!p)
        return -ENOMEM;
      int64_t sid = stack_id(c, p, r, ts);
      if (sid < 0)
        return (int)sid;
      struct spantap_event e = {.kind = SPANTAP_EV_TCPSTATE,
                                .ts = ts,
                                .pid = p->pid,
                                .tid = v[SPANTAP_TCPSTATE_tid],
                                .stack_id = sid,
                                .sock = (uint64_t)v[SPANTAP_TCPSTATE_sock],
                                .ends = tcp_record_ends(v),
                                .state = v[SPANTAP_TCPSTATE_newstate]};
      int64_t cid =
          conn_id(c, e.ends.family, IPPROTO_TCP, e.ends.lport, e.ends.rport, e.ends.laddr_hi,
                  e.ends.laddr_lo, e.ends.raddr_hi, e.ends.raddr_lo, v[SPANTAP_TCPSTATE_sock]);
      if (cid < 0)
        return (int)cid;
      e.conn_id = cid;
      int rc = spantap_reorder_push(c->window, &e);
      if (rc)
        return rc;
      return spantap_store_tcp_state(c->store, ts, p->pid, v[SPANTAP_TCPSTATE_tid], cid,
                                     (int)v[SPANTAP_TCPSTATE_oldstate],
                                     (int)v[SPANTAP_TCPSTATE_newstate], sid);
    }
    case SPANTAP_REC_OFFCPU: {
      struct spantap_event e = {.kind = SPANTAP_EV_OFFCPU,
                                .ts = v[SPANTAP_OFFCPU_ts],
                                .dur = v[SPANTAP_OFFCPU_dur],
                                .pid = v[SPANTAP_OFFCPU_pid],
                                .tid = v[SPANTAP_OFFCPU_tid],
                                .state = v[SPANTAP_OFFCPU_state]};
      return spantap_reorder_push(c->window, &e);
    }
    case SPANTAP_REC_PAGEFAULT: {
      int64_t ts = v[SPANTAP_PAGEFAULT_ts];
      struct spantap_process *p = process_for(c, v[SPANTAP_PAGEFAULT_pid], ts);
      if (!p)
        return -ENOMEM;
      int64_t sid = stack_id(c, p, r, ts);
      if (sid < 0)
        return (int)sid;
      struct spantap_event e = {.kind = SPANTAP_EV_PAGEFAULT,
                                .ts = ts,
                                .pid = p->pid,
                                .tid = v[SPANTAP_PAGEFAULT_tid],
                                .stack_id = sid,
                                .address = (uint64_t)v[SPANTAP_PAGEFAULT_address],
                                .error_code = v[SPANTAP_PAGEFAULT_error_code]};
      return spantap_reorder_push(c->window, &e);
    }
    case SPANTAP_REC_MAPPING:
      return on_mapping(c, r);
    case SPANTAP_REC_XMAP:
      return on_xmap(c, r);
    case SPANTAP_REC_LOST:
      c->stats.lost += (uint64_t)v[SPANTAP_LOST_count];
      return mark_loss(c, v[SPANTAP_LOST_ts]);
    case SPANTAP_REC__COUNT:
      break;
  }
  return -EINVAL;
}

static void count_malformed(struct spantap_collector *c, const char *why) {
  if (c->stats.malformed < SPANTAP_MALFORMED_EXAMPLES) {
    c->stats.malformed_examples[c->stats.malformed].line_no = c->stats.lines;
    c->stats.malformed_examples[c->stats.malformed].why = why;
  }
  c->stats.malformed++;
}

/* Checks R's time fields and, when they can be right, advances the newest
 * event time read (which dates losses the runtime reports aside). Returns why
 * they cannot be right (a negative time or duration, or an end past the
 * clock's range: events are ordered by ts + dur, which must not overflow), or
 * NULL. */
static const char *take_record_time(struct spantap_collector *c, const struct spantap_record *r) {
  if (r->desc->nfields < 1 || strcmp(r->desc->field_names[0], "ts") != 0)
    return NULL;
  if (r->v[0] < 0)
    return "negative time";
  if (r->desc->nfields >= 2 && strcmp(r->desc->field_names[1], "dur") == 0 &&
      (r->v[1] < 0 || r->v[0] > INT64_MAX - r->v[1]))
    return "duration out of range";
  if (r->v[0] > c->newest_ts)
    c->newest_ts = r->v[0];
  return NULL;
}

static int handle_line(struct spantap_collector *c, const char *line, size_t len, char *err,
                       size_t errlen) {
  c->stats.lines++;
  if (c->opts.save_stream) {
    fwrite(line, 1, len, c->opts.save_stream);
    fputc('\n', c->opts.save_stream);
  }
  if (len == 0)
    return 0;
  struct spantap_record r;
  const char *why = NULL;
  if (spantap_record_parse(line, len, &r, &why) < 0) {
    count_malformed(c, why);
    return 0;
  }
  const char *bad_time = take_record_time(c, &r);
  if (bad_time) {
    count_malformed(c, bad_time);
    return 0;
  }
  int rc = on_record(c, &r);
  if (rc == -EPROTO) {
    snprintf(err, errlen, "script speaks record format %" PRId64 ", this spantap reads %d",
             r.v[SPANTAP_BEGIN_format_version], SPANTAP_RECORD_FORMAT_VERSION);
    return -EIO;
  }
  if (rc == -EINVAL) {
    count_malformed(c, "record out of place");
    return 0;
  }
  if (rc < 0)
    return store_failed(c, r.desc->tag, err, errlen);
  c->stats.records[r.desc->kind]++;
  if (++c->in_batch >= c->opts.batch_records)
    return spantap_collector_flush(c, err, errlen);
  return 0;
}

int spantap_collector_feed(struct spantap_collector *c, const char *buf, size_t len, char *err,
                           size_t errlen) {
  while (len > 0) {
    const char *nl = memchr(buf, '\n', len);
    size_t take = nl ? (size_t)(nl - buf) : len;
    if (!c->line_overflow && c->line_len == 0 && nl) {
      /* whole line in the buffer: no copy */
      int rc = 0;
      if (take > LINE_MAX_BYTES) {
        c->stats.lines++;
        count_malformed(c, "line too long");
      } else {
        rc = handle_line(c, buf, take, err, errlen);
      }
      if (rc < 0)
        return rc;
    } else {
      if (!c->line_overflow) {
        if (c->line_len + take > LINE_MAX_BYTES) {
          c->line_overflow = true;
        } else {
          if (c->line_len + take > c->line_cap) {
            size_t cap = c->line_cap * 2;
            while (cap < c->line_len + take)
              cap *= 2;
            char *l = realloc(c->line, cap);
            if (!l) {
              snprintf(err, errlen, "Failed to grow line buffer: bytes=%zu", cap);
              return -ENOMEM;
            }
            c->line = l;
            c->line_cap = cap;
          }
          memcpy(c->line + c->line_len, buf, take);
          c->line_len += take;
        }
      }
      if (nl) {
        int rc = 0;
        if (c->line_overflow) {
          c->stats.lines++;
          count_malformed(c, "line too long");
        } else {
          rc = handle_line(c, c->line, c->line_len, err, errlen);
        }
        c->line_len = 0;
        c->line_overflow = false;
        if (rc < 0)
          return rc;
      }
    }
    if (!nl)
      break;
    buf = nl + 1;
    len -= take + 1;
  }
  return 0;
}

/* Events were lost around time TS (the newest event time seen when the loss
 * was reported): the spans open then cannot be trusted. */
static int mark_loss(struct spantap_collector *c, int64_t ts) {
  struct spantap_event e = {.kind = SPANTAP_EV_LOSS, .ts = ts ? ts : c->newest_ts};
  return spantap_reorder_push(c->window, &e);
}

int spantap_collector_add_lost(struct spantap_collector *c, uint64_t lost, const char *source,
                               char *err, size_t errlen) {
  c->stats.lost += lost;
  if (c->opts.save_stream)
    fprintf(c->opts.save_stream, "LOST %" PRId64 " %" PRIu64 " %s\n", c->newest_ts, lost, source);
  if (mark_loss(c, c->newest_ts) < 0) {
    snprintf(err, errlen, "Failed to mark the spans open at a loss: ts=%" PRId64, c->newest_ts);
    return -EIO;
  }
  return 0;
}

int spantap_collector_flush(struct spantap_collector *c, char *err, size_t errlen) {
  c->in_batch = 0;
  c->stats.spans = *spantap_span_engine_stats(c->spans);
  c->stats.reorder = *spantap_reorder_stats(c->window);
  if (c->opts.save_stream)
    fflush(c->opts.save_stream);
  return spantap_store_commit(c->store, err, errlen);
}

/* The span engine's and the reorder window's counters, as recording metadata. */
static int store_span_counters(struct spantap_collector *c) {
  const struct spantap_span_stats *sp = spantap_span_engine_stats(c->spans);
  const struct spantap_reorder_stats *ro = spantap_reorder_stats(c->window);
  const struct {
    const char *key;
    uint64_t value;
  } counters[] = {{"spans_server", sp->server_spans},
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
  return 0;
}

struct finish_ctx {
  struct spantap_collector *c;
  int rc;
};

static void write_alive(struct spantap_process *p, void *vctx) {
  struct finish_ctx *f = vctx;
  if (write_process(f->c, p) < 0)
    f->rc = -EIO;
}

int spantap_collector_finish(struct spantap_collector *c, char *err, size_t errlen) {
  if (c->line_len > 0 || c->line_overflow) {
    /* a last line without its newline: the stream was cut mid-record */
    c->stats.lines++;
    count_malformed(c, "truncated last line");
    c->line_len = 0;
    c->line_overflow = false;
  }
  int rc = spantap_reorder_drain(c->window);
  if (rc == 0)
    rc = spantap_span_engine_finish(c->spans);
  if (rc == -ENOMEM) {
    snprintf(err, errlen, "Failed to derive spans: out of memory");
    return rc;
  }
  if (rc)
    return store_failed(c, "spans", err, errlen);
  struct finish_ctx f = {.c = c};
  spantap_proc_mirror_foreach(c->procs, write_alive, &f);
  if (f.rc < 0)
    return store_failed(c, "processes", err, errlen);
  const struct spantap_collector_stats *s = &c->stats;
  if (spantap_store_meta(c->store, "events_lost", NULL, (int64_t)s->lost) < 0 ||
      spantap_store_meta(c->store, "lines", NULL, (int64_t)s->lines) < 0 ||
      spantap_store_meta(c->store, "lines_malformed", NULL, (int64_t)s->malformed) < 0 ||
      spantap_store_meta(c->store, "processes_traced", NULL, (int64_t)s->processes) < 0 ||
      spantap_store_meta(c->store, "unknown_frames", NULL, (int64_t)s->unknown_frames) < 0 ||
      spantap_store_meta(c->store, "unknown_sockets", NULL, (int64_t)s->unknown_sockets) < 0 ||
      store_span_counters(c) < 0)
    return store_failed(c, "recording counters", err, errlen);
  return spantap_collector_flush(c, err, errlen);
}
