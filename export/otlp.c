/* spantap export otlp: a recording's spans as OpenTelemetry traces. One
 * resource per service process; every span with its kind, parent (from
 * span_edges), the semantic-convention attributes of its connection and
 * spantap's kernel story; its long syscalls as child spans with their user
 * stacks. Spans are read in order of service and sent in batches: each batch
 * is one ExportTraceServiceRequest, built in an arena and freed once written,
 * so memory stays bounded whatever the recording's size. */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "export/export.h"
#include "export/otlp.h"
#include "export/sql_rows.h"
#include "export/stack_text.h"

typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope Scope;
typedef Opentelemetry__Proto__Resource__V1__Resource Resource;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans ResourceSpans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans ScopeSpans;
typedef Opentelemetry__Proto__Trace__V1__Span Span;
typedef Opentelemetry__Proto__Trace__V1__Status Status;

#define MAX_ATTRS 40

/* ---- a bump allocator for one batch ---- */

struct chunk {
  struct chunk *next;
  size_t used, cap;
  max_align_t data[];
};

struct arena {
  struct chunk *head, *spare;
  bool failed;
};

/* Chunks in use are HEAD's list; a reset moves them to SPARE for the next
 * batch, so that a batch costs no large malloc and free (which make glibc
 * consolidate its free lists, slow amid the JSON encoder's small objects). */
static void *arena_alloc(struct arena *a, size_t len) {
  len = (len + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
  if (!a->head || a->head->cap - a->head->used < len) {
    struct chunk *c = a->spare;
    if (c && c->cap >= len) {
      a->spare = c->next;
    } else {
      size_t cap = len > 65536 ? len : 65536;
      c = malloc(sizeof *c + cap);
      if (!c) {
        a->failed = true;
        return NULL;
      }
      c->cap = cap;
    }
    c->next = a->head, c->used = 0;
    a->head = c;
  }
  void *p = (char *)a->head->data + a->head->used;
  a->head->used += len;
  memset(p, 0, len);
  return p;
}

static void arena_reset(struct arena *a) {
  while (a->head) {
    struct chunk *c = a->head;
    a->head = c->next;
    c->next = a->spare;
    a->spare = c;
  }
  a->failed = false;
}

static void arena_free(struct arena *a) {
  arena_reset(a);
  for (struct chunk *c = a->spare, *next; c; c = next) {
    next = c->next;
    free(c);
  }
  a->spare = NULL;
}

static char *arena_strdup(struct arena *a, const char *s) {
  size_t n = strlen(s) + 1;
  char *p = arena_alloc(a, n);
  if (p)
    memcpy(p, s, n);
  return p;
}

/* ---- attributes ---- */

struct attrs {
  KeyValue *kv[MAX_ATTRS];
  size_t n;
};

static AnyValue *attr_add(struct arena *a, struct attrs *at, const char *key) {
  if (at->n == MAX_ATTRS)
    return NULL;
  KeyValue *kv = arena_alloc(a, sizeof *kv);
  AnyValue *v = arena_alloc(a, sizeof *v);
  if (!kv || !v)
    return NULL;
  opentelemetry__proto__common__v1__key_value__init(kv);
  opentelemetry__proto__common__v1__any_value__init(v);
  kv->key = (char *)key; /* keys are static strings */
  kv->value = v;
  at->kv[at->n++] = kv;
  return v;
}

static void attr_str(struct arena *a, struct attrs *at, const char *key, const char *val) {
  AnyValue *v = val ? attr_add(a, at, key) : NULL;
  if (v) {
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    v->string_value = arena_strdup(a, val);
    if (!v->string_value)
      v->string_value = (char *)"";
  }
}

static void attr_int(struct arena *a, struct attrs *at, const char *key, int64_t val) {
  AnyValue *v = attr_add(a, at, key);
  if (v) {
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
    v->int_value = val;
  }
}

static void attr_bool(struct arena *a, struct attrs *at, const char *key, bool val) {
  AnyValue *v = attr_add(a, at, key);
  if (v) {
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
    v->bool_value = val;
  }
}

static KeyValue **attrs_copy(struct arena *a, const struct attrs *at) {
  KeyValue **kv = arena_alloc(a, (at->n ? at->n : 1) * sizeof *kv);
  if (kv)
    memcpy(kv, at->kv, at->n * sizeof *kv);
  return kv;
}

/* ---- the exporter ---- */

struct otlp {
  const struct spantap_export_recording *rec;
  const struct spantap_export_opts *o;
  const struct spantap_export_sink *sink;
  struct spantap_stack_reader *stacks;
  sqlite3_stmt *children;
  struct arena a;
  Span **spans; /* the batch's spans, grouped by resource */
  ResourceSpans **rs;
  size_t nspans, nrs, cap;
  ScopeSpans *scope; /* the current resource's, in this batch */
  char service[256], exe[1024];
  int64_t pid;
  bool have_resource;
  char *err;
  size_t errlen;
};

static const char *const span_columns =
    "SELECT s.id, s.trace_id, coalesce((SELECT min(e.parent_id) FROM span_edges e"
    " WHERE e.child_id = s.id), s.parent_id), s.kind, s.pid, s.tid,"
    " coalesce(s.service, p.exe, 'pid ' || s.pid), p.exe, s.start_ns, s.end_ns, s.status,"
    " s.depth, s.critical, s.bytes_in, s.bytes_out, s.syscalls, s.net_ns, s.file_ns, s.mem_ns,"
    " s.proc_ns, s.other_ns, s.offcpu_ns, s.switches, s.page_faults, c.family, c.proto, c.laddr,"
    " c.lport, c.raddr, c.rport, a.call_site, b.call_site"
    " FROM spans s LEFT JOIN processes p ON p.pid = s.pid"
    " LEFT JOIN connections c ON c.id = s.conn_id"
    " LEFT JOIN call_sites a ON a.stack_id = s.start_stack_id"
    " LEFT JOIN call_sites b ON b.stack_id = s.end_stack_id"
    " ORDER BY 7, s.pid, s.id";
enum {
  C_ID,
  C_TRACE,
  C_PARENT,
  C_KIND,
  C_PID,
  C_TID,
  C_SERVICE,
  C_EXE,
  C_START,
  C_END,
  C_STATUS,
  C_DEPTH,
  C_CRITICAL,
  C_BYTES_IN,
  C_BYTES_OUT,
  C_SYSCALLS,
  C_NET,
  C_FILE,
  C_MEM,
  C_PROC,
  C_OTHER,
  C_OFFCPU,
  C_SWITCHES,
  C_FAULTS,
  C_FAMILY,
  C_PROTO,
  C_LADDR,
  C_LPORT,
  C_RADDR,
  C_RPORT,
  C_SITE_START,
  C_SITE_END,
};

static int oom(struct otlp *x) {
  snprintf(x->err, x->errlen, "Failed to allocate an OTLP batch: spans=%zu", x->nspans);
  return -ENOMEM;
}

/* Writes the batch as one request and starts an empty one. */
static int flush_batch(struct otlp *x) {
  if (x->nspans == 0)
    return 0;
  spantap_otlp_request req =
      OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
  req.n_resource_spans = x->nrs;
  req.resource_spans = x->rs;
  int rc = 0;
  if (x->o->json) {
    char *text = spantap_otlp_json(&req);
    rc = text ? x->sink->write(x->sink->ctx, text, strlen(text), x->err, x->errlen) : oom(x);
    free(text);
  } else {
    size_t len =
        opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size(
            &req);
    uint8_t *buf = malloc(len ? len : 1);
    if (buf) {
      opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack(&req, buf);
      rc = x->sink->write(x->sink->ctx, buf, len, x->err, x->errlen);
    } else {
      rc = oom(x);
    }
    free(buf);
  }
  arena_reset(&x->a);
  x->nspans = x->nrs = 0;
  x->scope = NULL;
  return rc;
}

/* Opens the current resource (service, pid) in the batch. */
static int open_resource(struct otlp *x) {
  struct arena *a = &x->a;
  ResourceSpans *rs = arena_alloc(a, sizeof *rs);
  Resource *res = arena_alloc(a, sizeof *res);
  ScopeSpans *ss = arena_alloc(a, sizeof *ss);
  Scope *scope = arena_alloc(a, sizeof *scope);
  ScopeSpans **ssp = arena_alloc(a, sizeof *ssp);
  if (!rs || !res || !ss || !scope || !ssp)
    return oom(x);
  opentelemetry__proto__trace__v1__resource_spans__init(rs);
  opentelemetry__proto__resource__v1__resource__init(res);
  opentelemetry__proto__trace__v1__scope_spans__init(ss);
  opentelemetry__proto__common__v1__instrumentation_scope__init(scope);
  struct attrs at = {.n = 0};
  attr_str(a, &at, "service.name", x->service);
  attr_int(a, &at, "process.pid", x->pid);
  if (x->exe[0]) {
    attr_str(a, &at, "process.executable.path", x->exe);
    attr_str(a, &at, "process.executable.name", spantap_rows_basename(x->exe));
  }
  if (x->rec->hostname[0])
    attr_str(a, &at, "host.name", x->rec->hostname);
  attr_str(a, &at, "os.type", "linux");
  res->attributes = attrs_copy(a, &at);
  res->n_attributes = at.n;
  scope->name = (char *)"spantap";
  scope->version = (char *)PACKAGE_VERSION;
  ss->scope = scope;
  ss->spans = x->spans + x->nspans;
  ss->n_spans = 0;
  ssp[0] = ss;
  rs->resource = res;
  rs->scope_spans = ssp;
  rs->n_scope_spans = 1;
  x->rs[x->nrs++] = rs;
  x->scope = ss;
  return a->failed ? oom(x) : 0;
}

/* A new span of the batch (flushing a full batch first), in the current
 * resource, with its ids. */
static Span *new_span(struct otlp *x, int *rc) {
  if (x->nspans == x->cap && (*rc = flush_batch(x)) < 0)
    return NULL;
  if (!x->scope && (*rc = open_resource(x)) < 0)
    return NULL;
  Span *s = arena_alloc(&x->a, sizeof *s);
  uint8_t *ids = arena_alloc(&x->a, 32);
  if (!s || !ids) {
    *rc = oom(x);
    return NULL;
  }
  opentelemetry__proto__trace__v1__span__init(s);
  s->trace_id = (ProtobufCBinaryData){.len = 16, .data = ids};
  s->span_id = (ProtobufCBinaryData){.len = 8, .data = ids + 16};
  x->spans[x->nspans++] = s;
  x->scope->n_spans++;
  return s;
}

static const char *status_message(const char *status) {
  if (strcmp(status, "loss") == 0)
    return "loss: the runtime lost events while this span was open";
  if (strcmp(status, "unfinished") == 0)
    return "unfinished: the recording ended mid-request";
  if (strcmp(status, "no_response") == 0)
    return "no_response: the connection closed before any response";
  if (strcmp(status, "reset") == 0)
    return "reset: the connection was reset mid-request";
  return status;
}

static void span_status(struct otlp *x, Span *s, const char *status) {
  if (strcmp(status, "ok") == 0)
    return; /* UNSET: OpenTelemetry's convention for success */
  Status *st = arena_alloc(&x->a, sizeof *st);
  if (!st)
    return;
  opentelemetry__proto__trace__v1__status__init(st);
  st->code = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR;
  st->message = arena_strdup(&x->a, status_message(status));
  if (!st->message)
    st->message = (char *)"";
  s->status = st;
}

static const char *transport_name(int64_t family, int64_t proto) {
  if (family == 1)
    return "unix";
  return proto == 17 ? "udp" : proto == 6 ? "tcp" : NULL;
}

/* The span's connection as OpenTelemetry's network, server and client attributes. */
static void connection_attrs(struct otlp *x, struct attrs *at, sqlite3_stmt *st, bool server) {
  struct arena *a = &x->a;
  if (spantap_rows_is_null(st, C_FAMILY))
    return;
  int64_t family = spantap_rows_int(st, C_FAMILY);
  attr_str(a, at, "network.transport", transport_name(family, spantap_rows_int(st, C_PROTO)));
  if (family == 2 || family == 10)
    attr_str(a, at, "network.type", family == 2 ? "ipv4" : "ipv6");
  const char *laddr = spantap_rows_text(st, C_LADDR, NULL);
  const char *raddr = spantap_rows_text(st, C_RADDR, NULL);
  int64_t lport = spantap_rows_int(st, C_LPORT), rport = spantap_rows_int(st, C_RPORT);
  attr_str(a, at, "network.local.address", laddr);
  attr_int(a, at, "network.local.port", lport);
  attr_str(a, at, "network.peer.address", raddr);
  attr_int(a, at, "network.peer.port", rport);
  attr_str(a, at, "server.address", server ? laddr : raddr);
  attr_int(a, at, "server.port", server ? lport : rport);
  if (server) {
    attr_str(a, at, "client.address", raddr);
    attr_int(a, at, "client.port", rport);
  }
}

/* The user stack STACK_ID as text, innermost frame first, one per line. */
static void stack_attr(struct otlp *x, struct attrs *at, int64_t stack_id, int *rc) {
  struct spantap_stack_frame frames[SPANTAP_STACK_TEXT_FRAMES];
  int n = spantap_stack_reader_read(x->stacks, stack_id, frames, x->err, x->errlen);
  if (n <= 0) {
    if (n < 0)
      *rc = n;
    return;
  }
  char text[4096];
  size_t len = 0;
  for (int i = 0; i < n && len < sizeof text; i++)
    len += (size_t)snprintf(text + len, sizeof text - len, "%s%s%s%s%s", i ? "\n" : "",
                            frames[i].name, frames[i].file[0] ? " (" : "", frames[i].file,
                            frames[i].file[0] ? ")" : "");
  attr_str(&x->a, at, "code.stacktrace", text);
}

/* The span's syscalls of at least min_syscall_ns, as its INTERNAL children. */
static int add_children(struct otlp *x, int64_t span_id, const uint8_t *trace_id,
                        const uint8_t *parent_id) {
  sqlite3_reset(x->children);
  sqlite3_bind_int64(x->children, 1, span_id);
  sqlite3_bind_int64(x->children, 2, x->o->min_syscall_ns);
  int got, rc = 0;
  while (rc == 0 &&
         (got = spantap_rows_next(x->children, "a span's syscalls", x->err, x->errlen)) == 1) {
    sqlite3_stmt *st = x->children;
    Span *s = new_span(x, &rc);
    if (!s)
      break;
    memcpy(s->trace_id.data, trace_id, 16);
    spantap_export_span_id(&x->rec->salt, SPANTAP_EXPORT_ID_SYSCALL, spantap_rows_int(st, 0),
                           s->span_id.data);
    uint8_t *parent = arena_alloc(&x->a, 8);
    if (!parent)
      return oom(x);
    memcpy(parent, parent_id, 8);
    s->parent_span_id = (ProtobufCBinaryData){.len = 8, .data = parent};
    s->name = arena_strdup(&x->a, spantap_rows_text(st, 4, "syscall"));
    s->kind = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_INTERNAL;
    int64_t ts = spantap_rows_int(st, 1) + x->rec->wall_clock_offset_ns;
    s->start_time_unix_nano = (uint64_t)ts;
    s->end_time_unix_nano = (uint64_t)(ts + spantap_rows_int(st, 2));
    struct attrs at = {.n = 0};
    attr_int(&x->a, &at, "thread.id", spantap_rows_int(st, 3));
    attr_str(&x->a, &at, "spantap.syscall.class", spantap_rows_text(st, 5, NULL));
    attr_int(&x->a, &at, "spantap.syscall.ret", spantap_rows_int(st, 6));
    attr_int(&x->a, &at, "spantap.syscall.id", spantap_rows_int(st, 0));
    if (!spantap_rows_is_null(st, 7))
      stack_attr(x, &at, spantap_rows_int(st, 7), &rc);
    s->attributes = attrs_copy(&x->a, &at);
    s->n_attributes = at.n;
    if (x->a.failed || !s->name)
      return oom(x);
  }
  sqlite3_reset(x->children);
  return rc < 0 ? rc : got < 0 ? got : 0;
}

static int add_span(struct otlp *x, sqlite3_stmt *st) {
  const char *service = spantap_rows_text(st, C_SERVICE, "?");
  int64_t pid = spantap_rows_int(st, C_PID);
  if (!x->have_resource || pid != x->pid || strcmp(service, x->service) != 0) {
    snprintf(x->service, sizeof x->service, "%s", service);
    snprintf(x->exe, sizeof x->exe, "%s", spantap_rows_text(st, C_EXE, ""));
    x->pid = pid;
    x->have_resource = true;
    x->scope = NULL; /* a new resource, opened with its first span */
  }
  int rc = 0;
  Span *s = new_span(x, &rc);
  if (!s)
    return rc;
  struct arena *a = &x->a;
  int64_t id = spantap_rows_int(st, C_ID);
  spantap_export_trace_id(&x->rec->salt, spantap_rows_int(st, C_TRACE), s->trace_id.data);
  spantap_export_span_id(&x->rec->salt, SPANTAP_EXPORT_ID_SPAN, id, s->span_id.data);
  if (!spantap_rows_is_null(st, C_PARENT)) {
    uint8_t *parent = arena_alloc(a, 8);
    if (!parent)
      return oom(x);
    spantap_export_span_id(&x->rec->salt, SPANTAP_EXPORT_ID_SPAN, spantap_rows_int(st, C_PARENT),
                           parent);
    s->parent_span_id = (ProtobufCBinaryData){.len = 8, .data = parent};
  }
  bool server = strcmp(spantap_rows_text(st, C_KIND, ""), "server") == 0;
  s->kind = server ? OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER
                   : OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CLIENT;
  char name[300];
  const char *addr = spantap_rows_text(st, server ? C_LADDR : C_RADDR, NULL);
  if (addr)
    snprintf(name, sizeof name, "%s %s:%lld", server ? "serve" : "call", addr,
             (long long)spantap_rows_int(st, server ? C_LPORT : C_RPORT));
  else
    snprintf(name, sizeof name, "%s", server ? "serve" : "call");
  s->name = arena_strdup(a, name);
  s->start_time_unix_nano =
      (uint64_t)(spantap_rows_int(st, C_START) + x->rec->wall_clock_offset_ns);
  s->end_time_unix_nano = (uint64_t)(spantap_rows_int(st, C_END) + x->rec->wall_clock_offset_ns);
  const char *status = spantap_rows_text(st, C_STATUS, "ok");
  span_status(x, s, status);
  struct attrs at = {.n = 0};
  connection_attrs(x, &at, st, server);
  attr_int(a, &at, "thread.id", spantap_rows_int(st, C_TID));
  attr_int(a, &at, "spantap.span.id", id);
  attr_int(a, &at, "spantap.trace.id", spantap_rows_int(st, C_TRACE));
  attr_str(a, &at, "spantap.status", status);
  attr_int(a, &at, "spantap.depth", spantap_rows_int(st, C_DEPTH));
  attr_bool(a, &at, "spantap.critical", spantap_rows_int(st, C_CRITICAL) != 0);
  attr_int(a, &at, "spantap.bytes_in", spantap_rows_int(st, C_BYTES_IN));
  attr_int(a, &at, "spantap.bytes_out", spantap_rows_int(st, C_BYTES_OUT));
  attr_int(a, &at, "spantap.syscalls", spantap_rows_int(st, C_SYSCALLS));
  attr_int(a, &at, "spantap.kernel.net_ns", spantap_rows_int(st, C_NET));
  attr_int(a, &at, "spantap.kernel.file_ns", spantap_rows_int(st, C_FILE));
  attr_int(a, &at, "spantap.kernel.mem_ns", spantap_rows_int(st, C_MEM));
  attr_int(a, &at, "spantap.kernel.proc_ns", spantap_rows_int(st, C_PROC));
  attr_int(a, &at, "spantap.kernel.other_ns", spantap_rows_int(st, C_OTHER));
  attr_int(a, &at, "spantap.offcpu_ns", spantap_rows_int(st, C_OFFCPU));
  attr_int(a, &at, "spantap.switches", spantap_rows_int(st, C_SWITCHES));
  attr_int(a, &at, "spantap.page_faults", spantap_rows_int(st, C_FAULTS));
  attr_str(a, &at, "spantap.call_site.request", spantap_rows_text(st, C_SITE_START, NULL));
  attr_str(a, &at, "spantap.call_site.response", spantap_rows_text(st, C_SITE_END, NULL));
  s->attributes = attrs_copy(a, &at);
  s->n_attributes = at.n;
  if (a->failed || !s->name)
    return oom(x);
  if (x->o->min_syscall_ns < 0)
    return 0;
  uint8_t trace_id[16], span_id[8];
  memcpy(trace_id, s->trace_id.data, 16);
  memcpy(span_id, s->span_id.data, 8);
  return add_children(x, id, trace_id, span_id);
}

int spantap_export_otlp(const struct spantap_export_recording *rec,
                        const struct spantap_export_opts *o, const struct spantap_export_sink *sink,
                        char *err, size_t errlen) {
  struct otlp x = {.rec = rec, .o = o, .sink = sink, .err = err, .errlen = errlen};
  x.cap = o->batch_spans ? o->batch_spans : 512;
  x.spans = calloc(x.cap, sizeof *x.spans);
  x.rs = calloc(x.cap, sizeof *x.rs);
  sqlite3_stmt *st = NULL;
  int rc = x.spans && x.rs ? 0 : oom(&x);
  if (rc == 0)
    rc = spantap_stack_reader_new(rec->db, &x.stacks, err, errlen);
  if (rc == 0)
    rc = spantap_rows_prepare(rec->db,
                              "SELECT id, ts_ns, dur_ns, tid, name, class, ret, stack_id"
                              " FROM syscalls WHERE span_id = ?1 AND dur_ns >= ?2 ORDER BY ts_ns",
                              "a span's syscalls", &x.children, err, errlen);
  if (rc == 0)
    rc = spantap_rows_prepare(rec->db, span_columns, "spans", &st, err, errlen);
  int got;
  while (rc == 0 && (got = spantap_rows_next(st, "spans", err, errlen)) == 1)
    rc = add_span(&x, st);
  if (rc == 0 && got < 0)
    rc = got;
  if (rc == 0)
    rc = flush_batch(&x);
  arena_free(&x.a);
  sqlite3_finalize(st);
  sqlite3_finalize(x.children);
  spantap_stack_reader_destroy(x.stacks);
  free(x.spans);
  free(x.rs);
  return rc;
}
