/* Tests of spantap export (export/) over recordings made by `spantap import`
 * of the synthetic request stream of tests/export_stream.c: ids are
 * deterministic and salted per recording, spans carry the OpenTelemetry
 * attributes, OTLP JSON and protobuf hold the same spans, the pprof profile
 * is well formed with the SQL totals, the Prometheus text holds the
 * database's values, /metrics serves it, and bad input fails cleanly. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <dirent.h>
#include <json-c/json.h>
#include <sqlite3.h>
#include <zlib.h>

#include "export/export.h"
#include "export/metrics_http.h"
#include "export/otlp.h"
#include "export/output.h"
#include "profile.pb-c.h"
#include "tests/export_stream.h"

#define REQUESTS 20

typedef Opentelemetry__Proto__Trace__V1__Span Span;
typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;

static char dir[64], db1[128], db2[128], stream1[128], stream2[128];

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/spantap-test-export-XXXXXX");
  if (!mkdtemp(dir))
    return -1;
  snprintf(db1, sizeof db1, "%s/one.db", dir);
  snprintf(db2, sizeof db2, "%s/two.db", dir);
  snprintf(stream1, sizeof stream1, "%s/one.stream", dir);
  snprintf(stream2, sizeof stream2, "%s/two.stream", dir);
  /* the same traffic twice: two recordings whose row ids are all equal */
  if (export_stream_import(SPANTAP_BIN, REQUESTS, stream1, db1) < 0 ||
      export_stream_import(SPANTAP_BIN, REQUESTS, stream2, db2) < 0)
    return -1;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  char cmd[200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

/* ---- helpers ---- */

struct opened {
  sqlite3 *db;
  struct spantap_export_recording rec;
};

static void open_recording(const char *path, struct opened *o) {
  assert_int_equal(sqlite3_open_v2(path, &o->db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  char err[512];
  int rc = spantap_export_recording_open(o->db, &o->rec, err, sizeof err);
  if (rc < 0)
    fail_msg("%s", err);
}

static int64_t sql_int(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  int64_t v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

/* A sink into memory, remembering where each write began (OTLP: requests). */
struct mem {
  char *buf;
  size_t len, cap;
  size_t starts[4096];
  size_t nwrites;
};

static int mem_write(void *ctx, const void *buf, size_t len, char *err, size_t errlen) {
  (void)err, (void)errlen;
  struct mem *m = ctx;
  if (m->len + len + 1 > m->cap) {
    m->cap = (m->len + len + 1) * 2;
    m->buf = realloc(m->buf, m->cap);
    assert_non_null(m->buf);
  }
  if (m->nwrites < 4096)
    m->starts[m->nwrites] = m->len;
  m->nwrites++;
  memcpy(m->buf + m->len, buf, len);
  m->len += len;
  m->buf[m->len] = '\0';
  return 0;
}

enum which { OTLP_PB, OTLP_JSON, PPROF, FOLDED, CHROME, PROMETHEUS };

static struct mem *export_to_memory(const char *path, enum which w, unsigned batch) {
  struct opened o;
  open_recording(path, &o);
  struct mem *m = calloc(1, sizeof *m);
  assert_non_null(m);
  struct spantap_export_sink sink = {.write = mem_write, .ctx = m};
  struct spantap_export_opts opts = {.json = w == OTLP_JSON,
                                     .min_syscall_ns = SPANTAP_EXPORT_DEFAULT_MIN_SYSCALL_NS,
                                     .syscalls = true,
                                     .batch_spans = batch};
  char err[1024];
  int rc = w == OTLP_PB || w == OTLP_JSON
               ? spantap_export_otlp(&o.rec, &opts, &sink, err, sizeof err)
           : w == PPROF  ? spantap_export_pprof(&o.rec, &sink, err, sizeof err)
           : w == FOLDED ? spantap_export_folded(&o.rec, &sink, err, sizeof err)
           : w == CHROME ? spantap_export_chrome(&o.rec, &opts, &sink, err, sizeof err)
                         : spantap_export_prometheus(&o.rec, &sink, err, sizeof err);
  if (rc < 0)
    fail_msg("export failed: %s", err);
  sqlite3_close(o.db);
  return m;
}

static void mem_free(struct mem *m) {
  free(m->buf);
  free(m);
}

static spantap_otlp_request *unpack_otlp(const struct mem *m) {
  /* consecutive requests are one message: protobuf merges repeated fields */
  spantap_otlp_request *req =
      opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
          NULL, m->len, (const uint8_t *)m->buf);
  assert_non_null(req);
  return req;
}

static const Opentelemetry__Proto__Common__V1__AnyValue *attr(KeyValue **kv, size_t n,
                                                              const char *key) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(kv[i]->key, key) == 0)
      return kv[i]->value;
  return NULL;
}

static int64_t attr_int(const Span *s, const char *key) {
  const Opentelemetry__Proto__Common__V1__AnyValue *v = attr(s->attributes, s->n_attributes, key);
  assert_non_null(v);
  assert_int_equal(v->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE);
  return v->int_value;
}

static const char *attr_str(const Span *s, const char *key) {
  const Opentelemetry__Proto__Common__V1__AnyValue *v = attr(s->attributes, s->n_attributes, key);
  if (!v)
    return NULL;
  assert_int_equal(v->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE);
  return v->string_value;
}

/* Calls FN for every span of REQ with its resource's service name. */
static void each_span(const spantap_otlp_request *req,
                      void (*fn)(void *, const char *service, const Span *), void *ctx) {
  for (size_t i = 0; i < req->n_resource_spans; i++) {
    const Opentelemetry__Proto__Trace__V1__ResourceSpans *rs = req->resource_spans[i];
    const Opentelemetry__Proto__Common__V1__AnyValue *name =
        attr(rs->resource->attributes, rs->resource->n_attributes, "service.name");
    assert_non_null(name);
    for (size_t j = 0; j < rs->n_scope_spans; j++)
      for (size_t k = 0; k < rs->scope_spans[j]->n_spans; k++)
        fn(ctx, name->string_value, rs->scope_spans[j]->spans[k]);
  }
}

/* ---- ids ---- */

struct id_set {
  uint64_t ids[4096];
  size_t n;
  uint8_t trace_of_span1[16];
};

static uint64_t id64(const ProtobufCBinaryData *b) {
  assert_int_equal(b->len, 8);
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v = v << 8 | b->data[i];
  return v;
}

static void collect_ids(void *ctx, const char *service, const Span *s) {
  (void)service;
  struct id_set *set = ctx;
  assert_true(set->n < 4096);
  set->ids[set->n++] = id64(&s->span_id);
  assert_int_equal(s->trace_id.len, 16);
  const char *status = attr_str(s, "spantap.status");
  if (status && attr_int(s, "spantap.span.id") == 1)
    memcpy(set->trace_of_span1, s->trace_id.data, 16);
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void test_ids_deterministic_and_salted(void **state) {
  (void)state;
  struct mem *a = export_to_memory(db1, OTLP_PB, 0), *b = export_to_memory(db1, OTLP_PB, 0);
  struct mem *c = export_to_memory(db2, OTLP_PB, 0);
  /* a second export of the same recording: the same bytes, ids included */
  assert_int_equal(a->len, b->len);
  assert_memory_equal(a->buf, b->buf, a->len);
  spantap_otlp_request *ra = unpack_otlp(a), *rc = unpack_otlp(c);
  struct id_set *sa = calloc(1, sizeof *sa), *sc = calloc(1, sizeof *sc);
  each_span(ra, collect_ids, sa);
  each_span(rc, collect_ids, sc);
  /* spans and their syscall children never share an id within a recording */
  qsort(sa->ids, sa->n, sizeof sa->ids[0], cmp_u64);
  for (size_t i = 1; i < sa->n; i++)
    assert_true(sa->ids[i] != sa->ids[i - 1]);
  /* the other recording has the same row ids but another salt: no id in common */
  assert_int_equal(sa->n, sc->n);
  for (size_t i = 0; i < sc->n; i++)
    assert_null(bsearch(&sc->ids[i], sa->ids, sa->n, sizeof sa->ids[0], cmp_u64));
  assert_memory_not_equal(sa->trace_of_span1, sc->trace_of_span1, 16);
  opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(ra, NULL);
  opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(rc, NULL);
  free(sa), free(sc);
  mem_free(a), mem_free(b), mem_free(c);
}

static void test_span_ids_bijective(void **state) {
  (void)state;
  struct spantap_export_salt s;
  spantap_export_salt_init(&s);
  spantap_export_salt_add(&s, "hostname", "h");
  uint8_t x[8], y[8], t1[16], t2[16];
  spantap_export_span_id(&s, SPANTAP_EXPORT_ID_SPAN, 7, x);
  spantap_export_span_id(&s, SPANTAP_EXPORT_ID_SYSCALL, 7, y);
  assert_memory_not_equal(x, y, 8);
  spantap_export_trace_id(&s, 7, t1);
  struct spantap_export_salt s2;
  spantap_export_salt_init(&s2);
  spantap_export_salt_add(&s2, "hostname", "h2");
  spantap_export_trace_id(&s2, 7, t2);
  assert_memory_not_equal(t1, t2, 16);
  char hex[33];
  spantap_export_id_hex(t1, 16, hex);
  assert_int_equal(strlen(hex), 32);
  assert_int_equal(strspn(hex, "0123456789abcdef"), 32);
}

/* ---- attributes ---- */

struct mapping_check {
  sqlite3 *db;
  uint64_t span_ids[8]; /* OTLP span id of the recording's spans 1..7 */
  uint64_t parents[8];
  size_t servers, clients, children, children_of_1;
};

static void check_span(void *ctx, const char *service, const Span *s) {
  struct mapping_check *m = ctx;
  if (s->kind == OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_INTERNAL) {
    m->children++;
    assert_int_equal(s->parent_span_id.len, 8);
    if (id64(&s->parent_span_id) == m->span_ids[1])
      m->children_of_1++;
    assert_non_null(attr_str(s, "code.stacktrace"));
    assert_true(s->end_time_unix_nano - s->start_time_unix_nano >=
                SPANTAP_EXPORT_DEFAULT_MIN_SYSCALL_NS);
    return;
  }
  int64_t id = attr_int(s, "spantap.span.id");
  char sql[300];
  snprintf(sql, sizeof sql, "SELECT kind = 'server' FROM spans WHERE id = %lld", (long long)id);
  bool server = sql_int(m->db, sql);
  assert_int_equal(s->kind,
                   server ? OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER
                          : OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CLIENT);
  server ? m->servers++ : m->clients++;
  snprintf(sql, sizeof sql, "SELECT service = '%s' FROM spans WHERE id = %lld", service,
           (long long)id);
  assert_int_equal(sql_int(m->db, sql), 1);
  snprintf(sql, sizeof sql, "SELECT file_ns FROM spans WHERE id = %lld", (long long)id);
  assert_int_equal(attr_int(s, "spantap.kernel.file_ns"), sql_int(m->db, sql));
  snprintf(sql, sizeof sql, "SELECT bytes_out FROM spans WHERE id = %lld", (long long)id);
  assert_int_equal(attr_int(s, "spantap.bytes_out"), sql_int(m->db, sql));
  assert_string_equal(attr_str(s, "network.transport"), "tcp");
  assert_string_equal(attr_str(s, "network.type"), "ipv4");
  /* the front serves on 8080 and calls the store on 9000 */
  if (strcmp(service, "front") == 0)
    assert_int_equal(attr_int(s, "server.port"), server ? 8080 : 9000);
  else
    assert_int_equal(attr_int(s, "server.port"), 9000);
  if (server)
    assert_true(attr_int(s, "client.port") >= 40000);
  assert_non_null(attr_str(s, "spantap.call_site.request"));
  assert_null(s->status); /* every span of the stream is ok: status UNSET */
  if (id < 8) {
    m->span_ids[id] = id64(&s->span_id);
    m->parents[id] = s->parent_span_id.len ? id64(&s->parent_span_id) : 0;
  }
}

static void test_attribute_mapping(void **state) {
  (void)state;
  struct mem *a = export_to_memory(db1, OTLP_PB, 0);
  spantap_otlp_request *req = unpack_otlp(a);
  struct mapping_check m = {0};
  assert_int_equal(sqlite3_open_v2(db1, &m.db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  each_span(req, check_span, &m); /* fills the span ids */
  m.children = m.children_of_1 = 0;
  each_span(req, check_span, &m); /* now children can be matched to their parents */
  assert_int_equal(m.servers,
                   2 * sql_int(m.db, "SELECT count(*) FROM spans WHERE kind = 'server'"));
  assert_int_equal(m.clients,
                   2 * sql_int(m.db, "SELECT count(*) FROM spans WHERE kind = 'client'"));
  /* parents as span_edges has them: 1 -> 2 (calls) -> 3 (serves) */
  assert_int_equal(m.parents[1], 0);
  assert_int_equal(m.parents[2], m.span_ids[1]);
  assert_int_equal(m.parents[3], m.span_ids[2]);
  /* syscalls of at least 100 us became children: the preads and the front's wait */
  assert_int_equal(m.children,
                   sql_int(m.db, "SELECT count(*) FROM syscalls WHERE span_id IS NOT NULL"
                                 " AND dur_ns >= 100000"));
  assert_int_equal(m.children_of_1, sql_int(m.db, "SELECT count(*) FROM syscalls WHERE"
                                                  " span_id = 1 AND dur_ns >= 100000"));
  assert_true(m.children_of_1 > 0);
  sqlite3_close(m.db);
  opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(req,
                                                                                          NULL);
  mem_free(a);
}

/* ---- OTLP JSON = OTLP protobuf ---- */

struct flat {
  json_object *spans[4096];
  const char *services[4096];
  size_t n;
};

static void flatten_json(json_object *root, struct flat *f) {
  json_object *rss = json_object_object_get(root, "resourceSpans");
  for (size_t i = 0; i < json_object_array_length(rss); i++) {
    json_object *rs = json_object_array_get_idx(rss, i);
    json_object *attrs =
        json_object_object_get(json_object_object_get(rs, "resource"), "attributes");
    const char *service = NULL;
    for (size_t k = 0; k < json_object_array_length(attrs); k++) {
      json_object *kv = json_object_array_get_idx(attrs, k);
      if (strcmp(json_object_get_string(json_object_object_get(kv, "key")), "service.name") == 0)
        service = json_object_get_string(
            json_object_object_get(json_object_object_get(kv, "value"), "stringValue"));
    }
    json_object *sss = json_object_object_get(rs, "scopeSpans");
    for (size_t j = 0; j < json_object_array_length(sss); j++) {
      json_object *spans = json_object_object_get(json_object_array_get_idx(sss, j), "spans");
      for (size_t k = 0; k < json_object_array_length(spans); k++) {
        assert_true(f->n < 4096);
        f->services[f->n] = service;
        f->spans[f->n++] = json_object_array_get_idx(spans, k);
      }
    }
  }
}

struct compare {
  struct flat *json;
  size_t i;
};

static const char *jstr(json_object *o, const char *key) {
  json_object *v = json_object_object_get(o, key);
  return v ? json_object_get_string(v) : NULL;
}

static void compare_span(void *ctx, const char *service, const Span *s) {
  struct compare *c = ctx;
  assert_true(c->i < c->json->n);
  json_object *j = c->json->spans[c->i];
  assert_string_equal(c->json->services[c->i], service);
  c->i++;
  char hex[33];
  spantap_export_id_hex(s->trace_id.data, s->trace_id.len, hex);
  assert_string_equal(jstr(j, "traceId"), hex);
  spantap_export_id_hex(s->span_id.data, s->span_id.len, hex);
  assert_string_equal(jstr(j, "spanId"), hex);
  if (s->parent_span_id.len) {
    spantap_export_id_hex(s->parent_span_id.data, s->parent_span_id.len, hex);
    assert_string_equal(jstr(j, "parentSpanId"), hex);
  } else {
    assert_null(jstr(j, "parentSpanId"));
  }
  assert_string_equal(jstr(j, "name"), s->name);
  assert_int_equal(json_object_get_int(json_object_object_get(j, "kind")), s->kind);
  char num[24];
  snprintf(num, sizeof num, "%llu", (unsigned long long)s->start_time_unix_nano);
  assert_string_equal(jstr(j, "startTimeUnixNano"), num);
  snprintf(num, sizeof num, "%llu", (unsigned long long)s->end_time_unix_nano);
  assert_string_equal(jstr(j, "endTimeUnixNano"), num);
  json_object *attrs = json_object_object_get(j, "attributes");
  assert_int_equal(json_object_array_length(attrs), s->n_attributes);
  for (size_t k = 0; k < s->n_attributes; k++) {
    json_object *kv = json_object_array_get_idx(attrs, k), *v = json_object_object_get(kv, "value");
    assert_string_equal(jstr(kv, "key"), s->attributes[k]->key);
    const Opentelemetry__Proto__Common__V1__AnyValue *pv = s->attributes[k]->value;
    if (pv->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE) {
      assert_string_equal(jstr(v, "stringValue"), pv->string_value);
    } else if (pv->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE) {
      snprintf(num, sizeof num, "%lld", (long long)pv->int_value);
      assert_string_equal(jstr(v, "intValue"), num);
    } else {
      assert_int_equal(json_object_get_boolean(json_object_object_get(v, "boolValue")),
                       pv->bool_value);
    }
  }
}

static void test_otlp_json_equals_protobuf(void **state) {
  (void)state;
  /* small batches: several requests, a resource split across two of them */
  struct mem *pb = export_to_memory(db1, OTLP_PB, 7), *js = export_to_memory(db1, OTLP_JSON, 7);
  assert_true(pb->nwrites > 2);
  assert_int_equal(pb->nwrites, js->nwrites);
  struct flat *f = calloc(1, sizeof *f);
  json_object *docs[4096];
  size_t ndocs = 0;
  for (char *line = js->buf, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
    *nl = '\0';
    json_object *doc = json_tokener_parse(line);
    assert_non_null(doc);
    flatten_json(doc, f);
    docs[ndocs++] = doc;
  }
  assert_int_equal(ndocs, js->nwrites); /* one request per line */
  spantap_otlp_request *req = unpack_otlp(pb);
  struct compare c = {.json = f};
  each_span(req, compare_span, &c);
  assert_int_equal(c.i, f->n);
  assert_true(f->n > 60);
  for (size_t i = 0; i < ndocs; i++)
    json_object_put(docs[i]);
  opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(req,
                                                                                          NULL);
  free(f);
  mem_free(pb), mem_free(js);
}

/* ---- pprof ---- */

static bool has_id(const uint64_t *ids, size_t n, uint64_t id) {
  for (size_t i = 0; i < n; i++)
    if (ids[i] == id)
      return true;
  return false;
}

static void test_pprof_well_formed(void **state) {
  (void)state;
  struct mem *m = export_to_memory(db1, PPROF, 0);
  Perftools__Profiles__Profile *p =
      perftools__profiles__profile__unpack(NULL, m->len, (const uint8_t *)m->buf);
  assert_non_null(p);
  assert_true(p->n_string_table > 3);
  assert_string_equal(p->string_table[0], "");
  assert_int_equal(p->n_sample_type, 3);
  assert_string_equal(p->string_table[p->sample_type[0]->type], "syscalls");
  uint64_t locs[256], funcs[256], maps[64];
  assert_true(p->n_location < 256 && p->n_function < 256 && p->n_mapping < 64);
  for (size_t i = 0; i < p->n_mapping; i++)
    maps[i] = p->mapping[i]->id;
  for (size_t i = 0; i < p->n_function; i++)
    funcs[i] = p->function[i]->id;
  for (size_t i = 0; i < p->n_location; i++) {
    locs[i] = p->location[i]->id;
    assert_true(p->location[i]->mapping_id == 0 ||
                has_id(maps, p->n_mapping, p->location[i]->mapping_id));
    for (size_t j = 0; j < p->location[i]->n_line; j++)
      assert_true(has_id(funcs, p->n_function, p->location[i]->line[j]->function_id));
  }
  int64_t count = 0, time = 0;
  for (size_t i = 0; i < p->n_sample; i++) {
    const Perftools__Profiles__Sample *s = p->sample[i];
    assert_int_equal(s->n_value, 3);
    assert_true(s->n_location_id >= 1);
    for (size_t j = 0; j < s->n_location_id; j++) /* no dangling location */
      assert_true(has_id(locs, p->n_location, s->location_id[j]));
    for (size_t j = 0; j < s->n_label; j++)
      assert_true(s->label[j]->str > 0 && (size_t)s->label[j]->str < p->n_string_table);
    count += s->value[0];
    time += s->value[1];
  }
  struct opened o;
  open_recording(db1, &o);
  assert_int_equal(count, sql_int(o.db, "SELECT count(*) FROM syscalls"));
  assert_int_equal(time, sql_int(o.db, "SELECT sum(dur_ns) FROM syscalls"));
  sqlite3_close(o.db);
  perftools__profiles__profile__free_unpacked(p, NULL);
  mem_free(m);
}

/* The gzip output: what is written comes back whole through zlib. */
static void test_output_gzip_and_atomic(void **state) {
  (void)state;
  char path[160], err[512];
  snprintf(path, sizeof path, "%s/out.gz", dir);
  struct spantap_output *out;
  assert_int_equal(spantap_output_open(path, true, &out, err, sizeof err), 0);
  assert_int_equal(spantap_output_write(out, "hello, ", 7, err, sizeof err), 0);
  assert_int_equal(spantap_output_write(out, "pprof", 5, err, sizeof err), 0);
  assert_int_equal(access(path, F_OK), -1); /* nothing at the path before the commit */
  assert_int_equal(spantap_output_commit(out, err, sizeof err), 0);
  gzFile gz = gzopen(path, "rb");
  char buf[64] = "";
  assert_int_equal(gzread(gz, buf, sizeof buf - 1), 12);
  gzclose(gz);
  assert_string_equal(buf, "hello, pprof");
  /* abandoned: neither the path nor a temporary file is left */
  snprintf(path, sizeof path, "%s/abandoned", dir);
  assert_int_equal(spantap_output_open(path, false, &out, err, sizeof err), 0);
  assert_int_equal(spantap_output_write(out, "x", 1, err, sizeof err), 0);
  spantap_output_destroy(out);
  DIR *d = opendir(dir);
  struct dirent *e;
  while ((e = readdir(d)))
    assert_null(strstr(e->d_name, "abandoned"));
  closedir(d);
}

/* ---- folded, chrome ---- */

static void test_folded_totals(void **state) {
  (void)state;
  struct mem *m = export_to_memory(db1, FOLDED, 0);
  long long total = 0;
  int lines = 0;
  for (char *line = m->buf, *nl; (nl = strchr(line, '\n')); line = nl + 1, lines++) {
    *nl = '\0';
    char *sp = strrchr(line, ' ');
    assert_non_null(sp);
    total += atoll(sp + 1);
    assert_true(strchr(line, ';') < sp); /* service;frames;syscall value */
    assert_true(strncmp(line, "front;", 6) == 0 || strncmp(line, "store;", 6) == 0);
  }
  assert_true(lines > 3);
  struct opened o;
  open_recording(db1, &o);
  assert_int_equal(total, sql_int(o.db, "SELECT sum(dur_ns) FROM syscalls"));
  sqlite3_close(o.db);
  mem_free(m);
}

static void test_chrome_events(void **state) {
  (void)state;
  struct mem *m = export_to_memory(db1, CHROME, 0);
  json_object *doc = json_tokener_parse(m->buf);
  assert_non_null(doc);
  json_object *events = json_object_object_get(doc, "traceEvents");
  size_t complete = 0, flows_s = 0, flows_f = 0, procs = 0, threads = 0, syscalls = 0;
  for (size_t i = 0; i < json_object_array_length(events); i++) {
    json_object *e = json_object_array_get_idx(events, i);
    const char *ph = jstr(e, "ph"), *name = jstr(e, "name");
    if (strcmp(ph, "M") == 0)
      strcmp(name, "process_name") == 0 ? procs++ : threads++;
    else if (strcmp(ph, "X") == 0)
      strcmp(jstr(e, "cat"), "syscall") == 0 ? syscalls++ : complete++;
    else if (strcmp(ph, "s") == 0)
      flows_s++;
    else if (strcmp(ph, "f") == 0)
      flows_f++;
  }
  struct opened o;
  open_recording(db1, &o);
  assert_int_equal(procs, 2);
  assert_int_equal(threads, 8);
  assert_int_equal(complete, sql_int(o.db, "SELECT count(*) FROM spans"));
  assert_int_equal(syscalls, sql_int(o.db, "SELECT count(*) FROM syscalls WHERE dur_ns >= 100000"));
  assert_int_equal(flows_s, sql_int(o.db, "SELECT count(*) FROM span_edges WHERE kind = 'serves'"));
  assert_int_equal(flows_f, flows_s);
  sqlite3_close(o.db);
  json_object_put(doc);
  mem_free(m);
}

/* ---- prometheus ---- */

static void test_prometheus_text(void **state) {
  (void)state;
  struct mem *m = export_to_memory(db1, PROMETHEUS, 0);
  char want[256];
  snprintf(want, sizeof want,
           "\nspantap_request_duration_seconds_count{service=\"front\",kind=\"server\"} %d\n",
           REQUESTS);
  assert_non_null(strstr(m->buf, want));
  snprintf(want, sizeof want,
           "\nspantap_request_duration_seconds_bucket{service=\"store\",kind=\"server\","
           "le=\"+Inf\"} %d\n",
           REQUESTS);
  assert_non_null(strstr(m->buf, want));
  snprintf(want, sizeof want,
           "\nspantap_syscalls_total{service=\"front\",syscall=\"pread64\"} %d\n", REQUESTS);
  assert_non_null(strstr(m->buf, want));
  snprintf(want, sizeof want, "\nspantap_events_recorded_total{kind=\"syscall\"} %d\n",
           REQUESTS * EXPORT_STREAM_SYSCALLS_PER_REQUEST);
  assert_non_null(strstr(m->buf, want));
  /* 2 slow requests of 4x pread, 18 fast ones: the file time of the front's server spans */
  double file_s = (2 * 4 + 18) * EXPORT_STREAM_PREAD_NS / 1e9;
  snprintf(want, sizeof want,
           "\nspantap_request_kernel_seconds_total{service=\"front\",kind=\"server\","
           "class=\"file\"} %.9f\n",
           file_s);
  assert_non_null(strstr(m->buf, want));
  /* every family has one HELP and one TYPE, before its samples */
  int help = 0, type = 0;
  for (char *line = m->buf, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
    if (strncmp(line, "# HELP ", 7) == 0)
      help++;
    else if (strncmp(line, "# TYPE ", 7) == 0)
      type++;
    else
      assert_true(strncmp(line, "spantap_", 8) == 0);
  }
  assert_int_equal(help, type);
  assert_int_equal(help, 11);
  mem_free(m);
}

/* ---- /metrics ---- */

static int render_for_test(void *ctx, char **text, size_t *len, char *err, size_t errlen) {
  return spantap_export_prometheus_text(ctx, text, len, err, errlen);
}

static size_t collect_body(char *data, size_t size, size_t n, void *ctx) {
  return mem_write(ctx, data, size * n, NULL, 0) == 0 ? size * n : 0;
}

static long http_get(const char *url, struct mem *body, char *type, size_t typelen) {
  CURL *c = curl_easy_init();
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
  assert_int_equal(curl_easy_perform(c), CURLE_OK);
  long status = 0;
  char *ct = NULL;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
  snprintf(type, typelen, "%s", ct ? ct : "");
  curl_easy_cleanup(c);
  return status;
}

static void test_metrics_http(void **state) {
  (void)state;
  struct opened o;
  open_recording(db1, &o);
  char err[512], url[128], type[128];
  struct spantap_metrics_http *srv;
  assert_int_equal(
      spantap_metrics_http_start("127.0.0.1:0", render_for_test, &o.rec, &srv, err, sizeof err), 0);
  unsigned port = spantap_metrics_http_port(srv);
  assert_true(port > 0);
  struct mem *body = calloc(1, sizeof *body);
  snprintf(url, sizeof url, "http://127.0.0.1:%u/metrics", port);
  assert_int_equal(http_get(url, body, type, sizeof type), 200);
  assert_non_null(strstr(type, "version=0.0.4"));
  char *text;
  size_t len;
  assert_int_equal(spantap_export_prometheus_text(&o.rec, &text, &len, err, sizeof err), 0);
  assert_int_equal(body->len, len);
  assert_memory_equal(body->buf, text, len);
  free(text);
  struct mem *other = calloc(1, sizeof *other);
  snprintf(url, sizeof url, "http://127.0.0.1:%u/other", port);
  assert_int_equal(http_get(url, other, type, sizeof type), 404);
  assert_int_equal(spantap_metrics_http_scrapes(srv), 1);
  spantap_metrics_http_stop(srv);
  assert_int_equal(
      spantap_metrics_http_start("not-an-address", render_for_test, &o.rec, &srv, err, sizeof err),
      -EINVAL);
  assert_non_null(strstr(err, "not-an-address"));
  sqlite3_close(o.db);
  mem_free(body), mem_free(other);
}

/* The signals each thread of this process other than the caller blocks, as
 * /proc/self/task/TID/status says (SigBlk), ANDed: all ones when every other
 * thread blocks every signal. Returns the thread count seen in *NTHREADS. */
static unsigned long long other_threads_blocked(int *nthreads) {
  unsigned long long blocked = ~0ULL;
  *nthreads = 0;
  DIR *d = opendir("/proc/self/task");
  assert_non_null(d);
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.' || atol(e->d_name) == (long)gettid())
      continue;
    char path[300], line[256];
    snprintf(path, sizeof path, "/proc/self/task/%s/status", e->d_name);
    FILE *f = fopen(path, "r");
    if (!f)
      continue;
    while (fgets(line, sizeof line, f))
      if (strncmp(line, "SigBlk:", 7) == 0)
        blocked &= strtoull(line + 7, NULL, 16);
    fclose(f);
    (*nthreads)++;
  }
  closedir(d);
  return blocked;
}

/* The server's threads must not take the program's signals: `record
 * --metrics-listen` waits for SIGCHLD with signalfd, and a server thread that
 * took it hid the traced command's end (the recording never stopped). */
static void test_metrics_http_threads_block_signals(void **state) {
  (void)state;
  struct opened o;
  open_recording(db1, &o);
  char err[512];
  struct spantap_metrics_http *srv;
  assert_int_equal(
      spantap_metrics_http_start("127.0.0.1:0", render_for_test, &o.rec, &srv, err, sizeof err), 0);
  int nthreads;
  unsigned long long blocked = other_threads_blocked(&nthreads);
  assert_true(nthreads >= 1);
  assert_true(blocked & (1ULL << (SIGCHLD - 1)));
  assert_true(blocked & (1ULL << (SIGTERM - 1)));
  assert_true(blocked & (1ULL << (SIGINT - 1)));
  sigset_t now;
  pthread_sigmask(SIG_SETMASK, NULL, &now);
  assert_false(sigismember(&now, SIGCHLD)); /* the caller's own mask is given back */
  spantap_metrics_http_stop(srv);
  sqlite3_close(o.db);
}

/* ---- the command on bad input ---- */

/* Runs `spantap export ARGS` (a shell word list), its stderr into *ERR_TEXT. */
static int run_export(const char *args, char *err_text, size_t len) {
  char cmd[1024], errfile[160];
  snprintf(errfile, sizeof errfile, "%s/stderr.txt", dir);
  snprintf(cmd, sizeof cmd, "'%s' export %s > /dev/null 2> '%s'", SPANTAP_BIN, args, errfile);
  int status = system(cmd);
  FILE *f = fopen(errfile, "r");
  size_t n = f ? fread(err_text, 1, len - 1, f) : 0;
  err_text[n] = '\0';
  if (f)
    fclose(f);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int dir_entries(void) {
  DIR *d = opendir(dir);
  int n = 0;
  while (readdir(d))
    n++;
  closedir(d);
  return n;
}

static void test_cli_bad_input(void **state) {
  (void)state;
  char args[600], msg[2048], path[160];
  snprintf(args, sizeof args, "flamegraph '%s'", db1);
  assert_int_equal(run_export(args, msg, sizeof msg), 1);
  assert_non_null(strstr(msg, "unknown format 'flamegraph'"));
  /* not a recording: the stream file itself */
  snprintf(args, sizeof args, "otlp '%s' -o '%s/x.otlp'", stream1, dir);
  assert_int_equal(run_export(args, msg, sizeof msg), 1);
  assert_non_null(strstr(msg, "not a spantap recording"));
  /* another schema: a database with a recording table but other spans */
  snprintf(path, sizeof path, "%s/old.db", dir);
  sqlite3 *old;
  assert_int_equal(sqlite3_open(path, &old), SQLITE_OK);
  assert_int_equal(sqlite3_exec(old,
                                "CREATE TABLE recording (key TEXT, text_value TEXT, num_value"
                                " INTEGER); CREATE TABLE processes (pid INTEGER, exe TEXT);",
                                NULL, NULL, NULL),
                   SQLITE_OK);
  sqlite3_close(old);
  snprintf(args, sizeof args, "prometheus '%s' -o '%s/x.prom'", path, dir);
  assert_int_equal(run_export(args, msg, sizeof msg), 1);
  assert_non_null(strstr(msg, "schema"));
  assert_non_null(strstr(msg, "table=threads"));
  /* an unwritable output: under a regular file, and a directory in the way */
  int before = dir_entries();
  snprintf(args, sizeof args, "folded '%s' -o '%s/x'", db1, stream1);
  assert_int_equal(run_export(args, msg, sizeof msg), 1);
  assert_non_null(strstr(msg, "Failed to create output"));
  snprintf(path, sizeof path, "%s/adir", dir);
  assert_int_equal(mkdir(path, 0700), 0);
  before++;
  snprintf(args, sizeof args, "chrome '%s' -o '%s'", db1, path);
  assert_int_equal(run_export(args, msg, sizeof msg), 1);
  assert_non_null(strstr(msg, "Failed to rename output into place"));
  assert_int_equal(dir_entries(), before); /* no temporary file left */
  /* a collector that refuses: nothing listens on port 1 */
  snprintf(args, sizeof args, "otlp '%s' --endpoint http://127.0.0.1:1 --timeout 2", db1);
  assert_int_equal(run_export(args, msg, sizeof msg), 1);
  assert_non_null(strstr(msg, "url=http://127.0.0.1:1/v1/traces"));
  /* and a good export lands whole */
  snprintf(path, sizeof path, "%s/good.prom", dir);
  snprintf(args, sizeof args, "prometheus '%s' -o '%s'", db1, path);
  assert_int_equal(run_export(args, msg, sizeof msg), 0);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_true(st.st_size > 1000);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_span_ids_bijective),
      cmocka_unit_test(test_ids_deterministic_and_salted),
      cmocka_unit_test(test_attribute_mapping),
      cmocka_unit_test(test_otlp_json_equals_protobuf),
      cmocka_unit_test(test_pprof_well_formed),
      cmocka_unit_test(test_output_gzip_and_atomic),
      cmocka_unit_test(test_folded_totals),
      cmocka_unit_test(test_chrome_events),
      cmocka_unit_test(test_prometheus_text),
      cmocka_unit_test(test_metrics_http),
      cmocka_unit_test(test_metrics_http_threads_block_signals),
      cmocka_unit_test(test_cli_bad_input),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
