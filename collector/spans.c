/* Span engine: the connection state machine, the threads' current spans, the
 * pending events that await a span's next I/O, and the traces that collect
 * spans until the last one closes. See spans.h for the model. */
#include "collector/spans.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "collector/u64_map.h"
#include "common/kernel_abi.h"
#include "common/syscall_table.h"

#define PENDING_MAX 4096         /* undecided events a span may hold */
#define TEXT_MAX 1024            /* services and critical-path texts of a trace */
#define DISTINCT_SERVICES_MAX 64 /* services named in a trace's row */

/* What a syscall does to a connection. */
enum io_kind { IO_OTHER, IO_RECV, IO_SEND, IO_ACCEPT, IO_CONNECT, IO_CLOSE, IO_SHUTDOWN };
enum role { ROLE_UNKNOWN, ROLE_SERVER, ROLE_CLIENT };
/* Server: receiving the request, then sending the response. Client: sending
 * the request, then receiving the response. */
enum phase { PHASE_REQUEST, PHASE_RESPONSE };

struct tallies {
  int64_t syscalls, net_ns, file_ns, mem_ns, proc_ns, other_ns, offcpu_ns, switches, page_faults;
};

struct trace;

struct span {
  struct spantap_span_row row; /* row.service points at service */
  char service[64];
  struct trace *trace;
  enum phase phase;
  struct tallies committed, pending;
  struct spantap_event *pending_rows; /* events awaiting the span's next I/O */
  size_t npending, pending_cap;
  struct spantap_endpoints ends; /* client spans: the connection, to match the server side */
  uint64_t call_key;             /* client spans: key in engine.calls */
  uint64_t orphan_key;           /* server spans opened without a client: key in engine.orphans */
  bool lossy;                    /* events were lost while it was open */
};

struct trace {
  int64_t id;
  unsigned open_spans;
  struct span **spans; /* in creation order, so ids increase and parents come first */
  size_t n, cap;
};

struct conn {
  enum role role;
  struct span *span;    /* the exchange in progress, or NULL */
  int64_t connect_span; /* the span served when the thread connected, for the first request */
};

struct thread {
  int64_t current; /* id of the server span the thread serves (or inherited), 0: none */
};

struct spantap_span_engine {
  struct spantap_span_sink sink;
  struct spantap_span_stats stats;
  struct spantap_u64_map *conns;      /* sock -> struct conn */
  struct spantap_u64_map *threads;    /* tid -> struct thread */
  struct spantap_u64_map *open_spans; /* span id -> struct span */
  struct spantap_u64_map *calls;      /* connection key -> client span awaiting its server */
  struct spantap_u64_map *orphans;    /* connection key -> server span that found no client */
  int64_t next_span_id, next_trace_id;
  unsigned char io[SPANTAP_SYSCALL_MAX];
};

/* ---- setup ------------------------------------------------------------------ */

static void classify_io(struct spantap_span_engine *s) {
  static const struct {
    const char *name;
    enum io_kind io;
  } table[] = {{"read", IO_RECV},        {"readv", IO_RECV},      {"recvfrom", IO_RECV},
               {"recvmsg", IO_RECV},     {"recvmmsg", IO_RECV},   {"write", IO_SEND},
               {"writev", IO_SEND},      {"sendto", IO_SEND},     {"sendmsg", IO_SEND},
               {"sendmmsg", IO_SEND},    {"sendfile", IO_SEND},   {"accept", IO_ACCEPT},
               {"accept4", IO_ACCEPT},   {"connect", IO_CONNECT}, {"close", IO_CLOSE},
               {"shutdown", IO_SHUTDOWN}};
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    long nr = spantap_syscall_by_name(table[i].name);
    if (nr >= 0 && nr < SPANTAP_SYSCALL_MAX)
      s->io[nr] = (unsigned char)table[i].io;
  }
}

int spantap_span_engine_new(const struct spantap_span_sink *sink,
                            struct spantap_span_engine **out) {
  struct spantap_span_engine *s = calloc(1, sizeof *s);
  if (!s)
    return -ENOMEM;
  s->sink = *sink;
  s->conns = spantap_u64_map_new();
  s->threads = spantap_u64_map_new();
  s->open_spans = spantap_u64_map_new();
  s->calls = spantap_u64_map_new();
  s->orphans = spantap_u64_map_new();
  if (!s->conns || !s->threads || !s->open_spans || !s->calls || !s->orphans) {
    spantap_span_engine_destroy(s);
    return -ENOMEM;
  }
  classify_io(s);
  *out = s;
  return 0;
}

static void free_span(struct span *sp) {
  free(sp->pending_rows);
  free(sp);
}

static void free_trace(struct trace *t) {
  for (size_t i = 0; i < t->n; i++)
    free_span(t->spans[i]);
  free(t->spans);
  free(t);
}

/* Traces are reachable through their open spans; each is freed once. */
static void collect_trace(uint64_t key, void *value, void *ctx) {
  (void)key;
  struct span *sp = value;
  struct spantap_u64_map *traces = ctx;
  spantap_u64_map_put(traces, (uint64_t)sp->trace->id, sp->trace);
}

static void free_trace_value(uint64_t key, void *value, void *ctx) {
  (void)key;
  (void)ctx;
  free_trace(value);
}

void spantap_span_engine_destroy(struct spantap_span_engine *s) {
  if (!s)
    return;
  if (s->open_spans) {
    struct spantap_u64_map *traces = spantap_u64_map_new();
    if (traces) {
      spantap_u64_map_foreach(s->open_spans, collect_trace, traces);
      spantap_u64_map_foreach(traces, free_trace_value, NULL);
      spantap_u64_map_destroy(traces);
    }
  }
  spantap_u64_map_free_values(s->conns);
  spantap_u64_map_free_values(s->threads);
  spantap_u64_map_destroy(s->conns);
  spantap_u64_map_destroy(s->threads);
  spantap_u64_map_destroy(s->open_spans);
  spantap_u64_map_destroy(s->calls);
  spantap_u64_map_destroy(s->orphans);
  free(s);
}

const struct spantap_span_stats *spantap_span_engine_stats(const struct spantap_span_engine *s) {
  return &s->stats;
}

/* ---- connection identity ----------------------------------------------------- */

/* An IPv4 peer of a dual-stack IPv6 socket shows up as ::ffff:a.b.c.d; the
 * other side may see plain IPv4. Both are brought to IPv4. */
static void normalize_ends(struct spantap_endpoints *e) {
  if (e->family != AF_INET6)
    return;
  uint64_t lhi = (uint64_t)e->laddr_hi, rhi = (uint64_t)e->raddr_hi;
  bool lmapped = e->laddr_lo == 0 && (lhi & 0xffffffffu) == 0xffff0000u;
  bool rmapped = e->raddr_lo == 0 && (rhi & 0xffffffffu) == 0xffff0000u;
  if (!lmapped || !rmapped)
    return;
  e->family = AF_INET;
  e->laddr_lo = (int64_t)(lhi >> 32);
  e->raddr_lo = (int64_t)(rhi >> 32);
  e->laddr_hi = e->raddr_hi = 0;
}

static uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  return h * 0xff51afd7ed558ccdULL;
}

/* The key of a connection, the same from both ends: (server end, client end). */
static uint64_t connection_key(const struct spantap_endpoints *e, bool local_is_server) {
  uint64_t h = mix(0, (uint64_t)e->family);
  if (local_is_server) {
    h = mix(mix(mix(h, (uint64_t)e->laddr_hi), (uint64_t)e->laddr_lo), (uint64_t)e->lport);
    h = mix(mix(mix(h, (uint64_t)e->raddr_hi), (uint64_t)e->raddr_lo), (uint64_t)e->rport);
  } else {
    h = mix(mix(mix(h, (uint64_t)e->raddr_hi), (uint64_t)e->raddr_lo), (uint64_t)e->rport);
    h = mix(mix(mix(h, (uint64_t)e->laddr_hi), (uint64_t)e->laddr_lo), (uint64_t)e->lport);
  }
  return h;
}

/* True when CLIENT and SERVER are the two ends of one connection. */
static bool ends_match(const struct spantap_endpoints *client,
                       const struct spantap_endpoints *server) {
  return client->family == server->family && client->lport == server->rport &&
         client->rport == server->lport && client->laddr_hi == server->raddr_hi &&
         client->laddr_lo == server->raddr_lo && client->raddr_hi == server->laddr_hi &&
         client->raddr_lo == server->laddr_lo;
}

/* ---- events and tallies ------------------------------------------------------ */

static bool has_row(const struct spantap_event *e) {
  return e->kind == SPANTAP_EV_SYSCALL || e->kind == SPANTAP_EV_OFFCPU ||
         e->kind == SPANTAP_EV_PAGEFAULT;
}

static int write_row(struct spantap_span_engine *s, const struct spantap_event *e,
                     int64_t span_id) {
  return has_row(e) ? s->sink.event_row(s->sink.ctx, e, span_id) : 0;
}

/* Counts E in T; only the part of its duration after FROM (the span's start)
 * counts: a blocking read that opens a span waited for the request before it. */
static void tally_event(struct tallies *t, const struct spantap_event *e, int64_t from) {
  int64_t end = spantap_event_end(e);
  int64_t dur = e->ts >= from ? e->dur : end > from ? end - from : 0;
  switch (e->kind) {
    case SPANTAP_EV_SYSCALL:
      t->syscalls++;
      switch (e->class_name ? e->class_name[0] : 'o') {
        case 'n':
          t->net_ns += dur;
          break;
        case 'f':
          t->file_ns += dur;
          break;
        case 'm':
          t->mem_ns += dur;
          break;
        case 'p':
          t->proc_ns += dur;
          break;
        default:
          t->other_ns += dur;
      }
      break;
    case SPANTAP_EV_OFFCPU:
      t->offcpu_ns += dur;
      t->switches++;
      break;
    case SPANTAP_EV_PAGEFAULT:
      t->page_faults++;
      break;
    default:
      break;
  }
}

static void tallies_add(struct tallies *a, const struct tallies *b) {
  a->syscalls += b->syscalls;
  a->net_ns += b->net_ns;
  a->file_ns += b->file_ns;
  a->mem_ns += b->mem_ns;
  a->proc_ns += b->proc_ns;
  a->other_ns += b->other_ns;
  a->offcpu_ns += b->offcpu_ns;
  a->switches += b->switches;
  a->page_faults += b->page_faults;
}

/* The undecided events of SP belong to it: written with its id, counted. */
static int commit_pending(struct spantap_span_engine *s, struct span *sp) {
  for (size_t i = 0; i < sp->npending; i++) {
    int rc = write_row(s, &sp->pending_rows[i], sp->row.id);
    if (rc)
      return rc;
  }
  tallies_add(&sp->committed, &sp->pending);
  memset(&sp->pending, 0, sizeof sp->pending);
  sp->npending = 0;
  return 0;
}

/* E happened while SP was being served, after its last I/O so far: it belongs
 * to SP only if SP's exchange goes on after it. */
static int add_pending(struct spantap_span_engine *s, struct span *sp,
                       const struct spantap_event *e) {
  if (!has_row(e))
    return 0;
  if (sp->npending == PENDING_MAX) {
    s->stats.pending_overflow++;
    int rc = commit_pending(s, sp);
    if (rc)
      return rc;
  }
  if (sp->npending == sp->pending_cap) {
    size_t cap = sp->pending_cap ? sp->pending_cap * 2 : 8;
    struct spantap_event *rows = realloc(sp->pending_rows, cap * sizeof *rows);
    if (!rows)
      return -ENOMEM;
    sp->pending_rows = rows;
    sp->pending_cap = cap;
  }
  sp->pending_rows[sp->npending++] = *e;
  tally_event(&sp->pending, e, sp->row.start_ns);
  return 0;
}

/* E is I/O of SP's exchange: SP reaches to E's end, and what awaited it belongs to SP. */
static int commit_io(struct spantap_span_engine *s, struct span *sp,
                     const struct spantap_event *e) {
  int rc = commit_pending(s, sp);
  if (rc)
    return rc;
  tally_event(&sp->committed, e, sp->row.start_ns);
  int64_t end = spantap_event_end(e);
  if (end > sp->row.end_ns)
    sp->row.end_ns = end;
  if (e->stack_id) {
    if (!sp->row.start_stack_id)
      sp->row.start_stack_id = e->stack_id;
    sp->row.end_stack_id = e->stack_id;
  }
  return write_row(s, e, sp->row.id);
}

/* ---- traces ------------------------------------------------------------------ */

static struct trace *trace_new(struct spantap_span_engine *s) {
  struct trace *t = calloc(1, sizeof *t);
  if (t) {
    t->id = ++s->next_trace_id;
    s->stats.traces++;
  }
  return t;
}

static int trace_add(struct trace *t, struct span *sp) {
  if (t->n == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 4;
    struct span **v = realloc(t->spans, cap * sizeof *v);
    if (!v)
      return -ENOMEM;
    t->spans = v;
    t->cap = cap;
  }
  t->spans[t->n++] = sp;
  t->open_spans++;
  sp->trace = t;
  sp->row.trace_id = t->id;
  return 0;
}

/* Index of the span with id ID in T (ids increase along t->spans), or -1. */
static long span_index(const struct trace *t, int64_t id) {
  size_t lo = 0, hi = t->n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (t->spans[mid]->row.id < id)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < t->n && t->spans[lo]->row.id == id ? (long)lo : -1;
}

/* Appends WORD to TEXT (capacity TEXT_MAX) after SEP; marks a cut with "...". */
static void text_append(char *text, const char *sep, const char *word) {
  size_t len = strlen(text);
  if (len + 4 >= TEXT_MAX)
    return;
  int n = snprintf(text + len, TEXT_MAX - len, "%s%s", len ? sep : "", word);
  if (n < 0 || (size_t)n >= TEXT_MAX - len)
    snprintf(text + TEXT_MAX - 4, 4, "...");
}

/* The trace's last span closed: marks its critical path (from the root, the
 * child that finished last, recursively), writes its spans and its row. */
static int flush_trace(struct spantap_span_engine *s, struct trace *t) {
  long *best_child = malloc(t->n * sizeof *best_child);
  if (!best_child)
    return -ENOMEM;
  for (size_t i = 0; i < t->n; i++)
    best_child[i] = -1;
  size_t root = 0; /* the span without a parent (the first, unless a merge came before it) */
  while (root + 1 < t->n && t->spans[root]->row.parent_id)
    root++;
  struct spantap_trace_row tr = {.id = t->id,
                                 .root_span_id = t->spans[root]->row.id,
                                 .start_ns = t->spans[root]->row.start_ns,
                                 .spans = (int64_t)t->n,
                                 .complete = 1};
  char services[TEXT_MAX] = "", path[TEXT_MAX] = "";
  const char *distinct[DISTINCT_SERVICES_MAX];
  size_t ndistinct = 0;
  for (size_t i = 0; i < t->n; i++) {
    const struct spantap_span_row *r = &t->spans[i]->row;
    long p = r->parent_id ? span_index(t, r->parent_id) : -1;
    if (p >= 0 && (best_child[p] < 0 || r->end_ns > t->spans[best_child[p]]->row.end_ns))
      best_child[p] = (long)i;
    if (r->end_ns > tr.end_ns)
      tr.end_ns = r->end_ns;
    if (r->start_ns < tr.start_ns)
      tr.start_ns = r->start_ns;
    if (r->depth + 1 > tr.depth)
      tr.depth = r->depth + 1;
    if (strcmp(r->status, "ok") != 0)
      tr.complete = 0;
    /* distinct services, in order of first span (a long trace has few) */
    bool seen = false;
    for (size_t j = 0; j < ndistinct && !seen; j++)
      seen = strcmp(distinct[j], t->spans[i]->service) == 0;
    if (!seen && ndistinct < DISTINCT_SERVICES_MAX) {
      distinct[ndistinct++] = t->spans[i]->service;
      text_append(services, ",", t->spans[i]->service);
    }
  }
  for (long i = (long)root; i >= 0; i = best_child[i]) {
    t->spans[i]->row.critical = 1;
    if (i == (long)root || strcmp(t->spans[i]->row.kind, "server") == 0)
      text_append(path, " > ", t->spans[i]->service);
  }
  free(best_child);
  tr.services = services;
  tr.critical_path = path;
  for (size_t i = 0; i < t->n; i++) {
    struct span *sp = t->spans[i];
    struct spantap_span_row *r = &sp->row;
    r->syscalls = sp->committed.syscalls;
    r->net_ns = sp->committed.net_ns;
    r->file_ns = sp->committed.file_ns;
    r->mem_ns = sp->committed.mem_ns;
    r->proc_ns = sp->committed.proc_ns;
    r->other_ns = sp->committed.other_ns;
    r->offcpu_ns = sp->committed.offcpu_ns;
    r->switches = sp->committed.switches;
    r->page_faults = sp->committed.page_faults;
    r->service = sp->service[0] ? sp->service : NULL;
    int rc = s->sink.span(s->sink.ctx, r);
    if (rc) {
      free_trace(t);
      return rc;
    }
  }
  int rc = s->sink.trace(s->sink.ctx, &tr);
  free_trace(t);
  return rc;
}

/* ---- spans ------------------------------------------------------------------- */

static struct span *span_new(struct spantap_span_engine *s, const struct spantap_event *e,
                             const char *kind, int64_t conn_id, int64_t start) {
  struct span *sp = calloc(1, sizeof *sp);
  if (!sp)
    return NULL;
  sp->row.id = ++s->next_span_id;
  sp->row.kind = kind;
  sp->row.pid = e->pid;
  sp->row.tid = e->tid;
  sp->row.conn_id = conn_id;
  sp->row.start_ns = sp->row.end_ns = start;
  sp->row.status = "ok";
  const char *service = s->sink.service ? s->sink.service(s->sink.ctx, e->pid) : NULL;
  snprintf(sp->service, sizeof sp->service, "%s", service ? service : "");
  sp->row.service = sp->service;
  return sp;
}

/* Registers SP as open and a member of T (or of a new trace when T is NULL). */
static int span_open(struct spantap_span_engine *s, struct span *sp, struct trace *t) {
  bool new_trace = !t;
  if (new_trace && !(t = trace_new(s)))
    return -ENOMEM;
  if (trace_add(t, sp) < 0 || spantap_u64_map_put(s->open_spans, (uint64_t)sp->row.id, sp) < 0) {
    if (new_trace)
      free(t);
    return -ENOMEM;
  }
  return 0;
}

static struct span *open_span(struct spantap_span_engine *s, int64_t id) {
  return id ? spantap_u64_map_get(s->open_spans, (uint64_t)id) : NULL;
}

/* Ends SP with STATUS: its undecided events are given back (no span) and, when
 * it was its trace's last open span, the trace is written. */
static int span_close(struct spantap_span_engine *s, struct span *sp, const char *status) {
  for (size_t i = 0; i < sp->npending; i++) {
    int rc = write_row(s, &sp->pending_rows[i], 0);
    if (rc)
      return rc;
  }
  sp->npending = 0;
  free(sp->pending_rows);
  sp->pending_rows = NULL;
  sp->pending_cap = 0;
  sp->row.status = sp->lossy ? "loss" : status;
  spantap_u64_map_remove(s->open_spans, (uint64_t)sp->row.id);
  if (sp->call_key && spantap_u64_map_get(s->calls, sp->call_key) == sp)
    spantap_u64_map_remove(s->calls, sp->call_key);
  if (sp->orphan_key && spantap_u64_map_get(s->orphans, sp->orphan_key) == sp)
    spantap_u64_map_remove(s->orphans, sp->orphan_key);
  struct trace *t = sp->trace;
  return --t->open_spans == 0 ? flush_trace(s, t) : 0;
}

/* Closes the exchange in progress on C, if any: complete when the response
 * had started, else with STATUS_IF_CUT. */
static int conn_close_span(struct spantap_span_engine *s, struct conn *c,
                           const char *status_if_cut) {
  struct span *sp = c->span;
  if (!sp)
    return 0;
  c->span = NULL;
  if (sp->phase == PHASE_RESPONSE)
    return span_close(s, sp, "ok");
  if (strcmp(status_if_cut, "no_response") == 0)
    s->stats.no_response++;
  return span_close(s, sp, status_if_cut);
}

static struct thread *thread_get(struct spantap_span_engine *s, int64_t tid) {
  struct thread *th = spantap_u64_map_get(s->threads, (uint64_t)tid);
  if (th)
    return th;
  th = calloc(1, sizeof *th);
  if (th && spantap_u64_map_put(s->threads, (uint64_t)tid, th) < 0) {
    free(th);
    th = NULL;
  }
  return th;
}

/* E is not I/O of an exchange: it goes to the span its thread serves, if any. */
static int attribute_to_thread(struct spantap_span_engine *s, const struct spantap_event *e) {
  struct thread *th = spantap_u64_map_get(s->threads, (uint64_t)e->tid);
  struct span *sp = th ? open_span(s, th->current) : NULL;
  return sp ? add_pending(s, sp, e) : write_row(s, e, 0);
}

/* The first bytes of a request arrived on server connection C. */
static int open_server_span(struct spantap_span_engine *s, struct conn *c,
                            const struct spantap_event *e, const struct spantap_endpoints *ends) {
  struct span *sp = span_new(s, e, "server", e->conn_id, spantap_event_end(e));
  if (!sp)
    return -ENOMEM;
  struct span *client = spantap_u64_map_get(s->calls, connection_key(ends, true));
  struct trace *t = NULL;
  /* a client span that has its reply is a finished exchange awaiting its end;
   * the request being read belongs to the client's next one (adopt_orphan) */
  if (client && client->phase == PHASE_REQUEST && ends_match(&client->ends, ends)) {
    sp->row.parent_id = client->row.id;
    sp->row.depth = client->row.depth + 1;
    t = client->trace;
    s->stats.joined++;
  }
  if (span_open(s, sp, t) < 0) {
    free_span(sp);
    return -ENOMEM;
  }
  s->stats.server_spans++;
  c->span = sp;
  if (!t) { /* no client yet: its send may still come, see adopt_orphan */
    sp->ends = *ends;
    sp->orphan_key = connection_key(ends, true);
    if (spantap_u64_map_put(s->orphans, sp->orphan_key, sp) < 0)
      return -ENOMEM;
  }
  return sp->row.parent_id ? s->sink.edge(s->sink.ctx, sp->row.parent_id, sp->row.id, "serves") : 0;
}

static int by_span_id(const void *a, const void *b) {
  int64_t x = (*(struct span *const *)a)->row.id, y = (*(struct span *const *)b)->row.id;
  return (x > y) - (x < y);
}

/* On loopback the receiver's read can return before the sender's write does:
 * the server span at the other end of CLIENT's connection may have opened (in
 * a trace of its own) just before CLIENT. When it did, and CLIENT's send began
 * before it, it is CLIENT's child after all: its trace joins CLIENT's. */
static int adopt_orphan(struct spantap_span_engine *s, struct span *client) {
  struct span *server = spantap_u64_map_get(s->orphans, client->call_key);
  if (!server || !ends_match(&client->ends, &server->ends) ||
      client->row.start_ns > server->row.start_ns || server->trace == client->trace)
    return 0;
  spantap_u64_map_remove(s->orphans, client->call_key);
  server->orphan_key = 0;
  struct trace *from = server->trace, *to = client->trace;
  int depth_shift = client->row.depth + 1;
  for (size_t i = 0; i < from->n; i++) {
    struct span *sp = from->spans[i];
    if (to->n == to->cap) {
      size_t cap = to->cap * 2;
      struct span **v = realloc(to->spans, cap * sizeof *v);
      if (!v)
        return -ENOMEM;
      to->spans = v;
      to->cap = cap;
    }
    to->spans[to->n++] = sp;
    sp->trace = to;
    sp->row.trace_id = to->id;
    sp->row.depth += depth_shift;
  }
  to->open_spans += from->open_spans;
  qsort(to->spans, to->n, sizeof *to->spans, by_span_id); /* ids increase along a trace */
  free(from->spans);
  free(from);
  s->stats.traces--;
  server->row.parent_id = client->row.id;
  s->stats.joined++;
  return s->sink.edge(s->sink.ctx, client->row.id, server->row.id, "serves");
}

/* The first bytes of a request left on client connection C, sent by a thread
 * serving PARENT (or none). */
static int open_client_span(struct spantap_span_engine *s, struct conn *c,
                            const struct spantap_event *e, const struct spantap_endpoints *ends,
                            struct span *parent) {
  struct span *sp = span_new(s, e, "client", e->conn_id, e->ts);
  if (!sp)
    return -ENOMEM;
  sp->ends = *ends;
  if (parent) {
    sp->row.parent_id = parent->row.id;
    sp->row.depth = parent->row.depth + 1;
  }
  if (span_open(s, sp, parent ? parent->trace : NULL) < 0) {
    free_span(sp);
    return -ENOMEM;
  }
  s->stats.client_spans++;
  c->span = sp;
  sp->call_key = connection_key(ends, false);
  if (spantap_u64_map_put(s->calls, sp->call_key, sp) < 0)
    return -ENOMEM;
  int rc = parent ? s->sink.edge(s->sink.ctx, parent->row.id, sp->row.id, "calls") : 0;
  return rc ? rc : adopt_orphan(s, sp);
}

static int on_recv(struct spantap_span_engine *s, struct conn *c, struct thread *th,
                   const struct spantap_event *e, const struct spantap_endpoints *ends) {
  if (c->role == ROLE_UNKNOWN)
    c->role = ROLE_SERVER; /* received before sending: the other side asks */
  struct span *sp = c->span;
  if (c->role == ROLE_SERVER) {
    if (sp && sp->phase == PHASE_RESPONSE) { /* keep-alive: the next request */
      int rc = conn_close_span(s, c, "ok");
      if (rc)
        return rc;
      sp = NULL;
    }
    if (!sp) {
      int rc = open_server_span(s, c, e, ends);
      if (rc)
        return rc;
      sp = c->span;
    }
    sp->row.bytes_in += e->ret;
    th->current = sp->row.id;
    return commit_io(s, sp, e);
  }
  if (!sp) {
    s->stats.stray_replies++;
    return attribute_to_thread(s, e);
  }
  sp->phase = PHASE_RESPONSE;
  sp->row.bytes_in += e->ret;
  if (open_span(s, sp->row.parent_id))
    th->current = sp->row.parent_id;
  return commit_io(s, sp, e);
}

static int on_send(struct spantap_span_engine *s, struct conn *c, struct thread *th,
                   const struct spantap_event *e, const struct spantap_endpoints *ends) {
  if (c->role == ROLE_UNKNOWN)
    c->role = ROLE_CLIENT; /* sent before receiving: this side asks */
  struct span *sp = c->span;
  if (c->role == ROLE_SERVER) {
    if (!sp) {
      s->stats.stray_responses++;
      return attribute_to_thread(s, e);
    }
    sp->phase = PHASE_RESPONSE;
    sp->row.bytes_out += e->ret;
    th->current = sp->row.id;
    return commit_io(s, sp, e);
  }
  if (sp && sp->phase == PHASE_RESPONSE) { /* the next request on a kept connection */
    int rc = conn_close_span(s, c, "ok");
    if (rc)
      return rc;
    sp = NULL;
  }
  if (!sp) {
    /* the span the connection was made for, else the one the thread serves;
     * a server span whose response has started is done asking others */
    struct span *parent = open_span(s, c->connect_span);
    if (!parent || parent->phase != PHASE_REQUEST)
      parent = open_span(s, th->current);
    c->connect_span = 0;
    if (parent && parent->phase == PHASE_RESPONSE && strcmp(parent->row.kind, "server") == 0)
      parent = NULL;
    int rc = open_client_span(s, c, e, ends, parent);
    if (rc)
      return rc;
    sp = c->span;
  }
  sp->row.bytes_out += e->ret;
  return commit_io(s, sp, e);
}

/* A syscall on a TCP socket. */
static int on_socket_syscall(struct spantap_span_engine *s, const struct spantap_event *e) {
  struct conn *c = spantap_u64_map_get(s->conns, e->sock);
  if (!c) {
    c = calloc(1, sizeof *c);
    if (!c || spantap_u64_map_put(s->conns, e->sock, c) < 0) {
      free(c);
      return -ENOMEM;
    }
  }
  struct thread *th = thread_get(s, e->tid);
  if (!th)
    return -ENOMEM;
  struct spantap_endpoints ends = e->ends;
  normalize_ends(&ends);
  enum io_kind io = e->nr >= 0 && e->nr < SPANTAP_SYSCALL_MAX ? s->io[e->nr] : IO_OTHER;
  int rc;
  switch (io) {
    case IO_ACCEPT:
      if (c->role == ROLE_UNKNOWN)
        c->role = ROLE_SERVER;
      return attribute_to_thread(s, e);
    case IO_CONNECT:
      if (c->role == ROLE_UNKNOWN)
        c->role = ROLE_CLIENT;
      /* an event loop connects while serving a request and sends it once the
       * connection is up, after serving others in between */
      c->connect_span = th->current;
      return attribute_to_thread(s, e);
    case IO_RECV:
    case IO_SEND:
      if (e->ret > 0)
        return io == IO_RECV ? on_recv(s, c, th, e, &ends) : on_send(s, c, th, e, &ends);
      if (e->ret == 0 && io == IO_RECV) { /* end of file: the peer closed */
        rc = conn_close_span(s, c, "no_response");
        return rc ? rc : attribute_to_thread(s, e);
      }
      if (e->ret == -ECONNRESET || e->ret == -EPIPE) {
        rc = conn_close_span(s, c, "reset");
        return rc ? rc : attribute_to_thread(s, e);
      }
      break; /* would block, interrupted...: part of whatever is in progress */
    case IO_CLOSE:
    case IO_SHUTDOWN:
      rc = conn_close_span(s, c, "no_response");
      if (rc)
        return rc;
      if (io == IO_CLOSE)
        free(spantap_u64_map_remove(s->conns, e->sock));
      return attribute_to_thread(s, e);
    case IO_OTHER:
      break;
  }
  return c->span ? add_pending(s, c->span, e) : attribute_to_thread(s, e);
}

/* ---- entry points ------------------------------------------------------------ */

static void mark_lossy(uint64_t key, void *value, void *ctx) {
  (void)key;
  struct span *sp = value;
  struct spantap_span_stats *stats = ctx;
  if (!sp->lossy)
    stats->spans_in_loss++;
  sp->lossy = true;
}

int spantap_span_engine_event(struct spantap_span_engine *s, const struct spantap_event *e) {
  switch (e->kind) {
    case SPANTAP_EV_SYSCALL:
      if (e->sock && e->ends.proto == IPPROTO_TCP)
        return on_socket_syscall(s, e);
      return attribute_to_thread(s, e);
    case SPANTAP_EV_FORK: {
      /* fork state: the new thread or process serves what its parent served */
      struct thread *parent = spantap_u64_map_get(s->threads, (uint64_t)e->tid);
      if (!parent || !open_span(s, parent->current))
        return 0;
      struct thread *child = thread_get(s, e->child_tid);
      if (!child)
        return -ENOMEM;
      child->current = parent->current;
      return 0;
    }
    case SPANTAP_EV_EXIT:
      free(spantap_u64_map_remove(s->threads, (uint64_t)e->tid));
      return 0;
    case SPANTAP_EV_OFFCPU:
    case SPANTAP_EV_PAGEFAULT:
      return attribute_to_thread(s, e);
    case SPANTAP_EV_SOCKET: /* the collector's: it resolves sockets before the engine */
      return 0;
    case SPANTAP_EV_LOSS:
      s->stats.losses++;
      spantap_u64_map_foreach(s->open_spans, mark_lossy, &s->stats);
      return 0;
    case SPANTAP_EV_TCPSTATE:
      if (e->state == SPANTAP_TCP_CLOSE) {
        struct conn *c = spantap_u64_map_get(s->conns, e->sock);
        if (c) {
          int rc = conn_close_span(s, c, "reset");
          free(spantap_u64_map_remove(s->conns, e->sock));
          return rc;
        }
      }
      return 0;
  }
  return 0;
}

static void collect_span(uint64_t key, void *value, void *ctx) {
  (void)key;
  struct span ***cursor = ctx;
  *(*cursor)++ = value;
}

static void forget_conn_span(uint64_t key, void *value, void *ctx) {
  (void)key;
  (void)ctx;
  ((struct conn *)value)->span = NULL;
}

int spantap_span_engine_finish(struct spantap_span_engine *s) {
  size_t n = spantap_u64_map_count(s->open_spans);
  struct span **open = malloc((n ? n : 1) * sizeof *open), **cursor = open;
  if (!open)
    return -ENOMEM;
  spantap_u64_map_foreach(s->open_spans, collect_span, &cursor);
  qsort(open, n, sizeof *open, by_span_id);
  spantap_u64_map_foreach(s->conns, forget_conn_span, NULL);
  int rc = 0;
  /* closing from the newest keeps each trace alive until its root closes */
  for (size_t i = n; i-- > 0 && rc == 0;) {
    bool answered = open[i]->phase == PHASE_RESPONSE;
    if (!answered)
      s->stats.unfinished++;
    rc = span_close(s, open[i], answered ? "ok" : "unfinished");
  }
  free(open);
  return rc;
}
