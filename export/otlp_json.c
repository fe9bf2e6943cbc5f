/* OTLP JSON: the request protobuf-c built, in OTLP's JSON encoding (otlp.h),
 * so that both encodings carry exactly the same spans. */
#include <inttypes.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/ids.h"
#include "export/otlp.h"

typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Trace__V1__Span Span;

/* Adds VAL (owned by OBJ from then on) under KEY, a string constant added
 * once, so json-c neither copies nor looks it up. A NULL from an allocation
 * that failed leaves the document incomplete, which rendering reports. */
static void put(json_object *obj, const char *key, json_object *val) {
  if (obj && val)
    json_object_object_add_ex(obj, key, val,
                              JSON_C_OBJECT_ADD_KEY_IS_NEW | JSON_C_OBJECT_KEY_IS_CONSTANT);
  else
    json_object_put(val);
}

/* 64-bit integers are strings in OTLP JSON (the protobuf JSON mapping). */
static json_object *u64_string(uint64_t v) {
  char buf[24];
  snprintf(buf, sizeof buf, "%" PRIu64, v);
  return json_object_new_string(buf);
}

static json_object *hex_id(const ProtobufCBinaryData *id) {
  char hex[33];
  if (id->len > 16)
    return NULL;
  spantap_export_id_hex(id->data, id->len, hex);
  return json_object_new_string(hex);
}

static json_object *attributes(KeyValue **kv, size_t n) {
  json_object *arr = json_object_new_array();
  for (size_t i = 0; arr && i < n; i++) {
    json_object *a = json_object_new_object(), *v = json_object_new_object();
    put(a, "key", json_object_new_string(kv[i]->key));
    const Opentelemetry__Proto__Common__V1__AnyValue *av = kv[i]->value;
    switch (av ? av->value_case : 0) {
      case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
        put(v, "stringValue", json_object_new_string(av->string_value));
        break;
      case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
        put(v, "boolValue", json_object_new_boolean(av->bool_value));
        break;
      case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE: {
        char buf[24];
        snprintf(buf, sizeof buf, "%" PRId64, av->int_value);
        put(v, "intValue", json_object_new_string(buf));
        break;
      }
      case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
        put(v, "doubleValue", json_object_new_double(av->double_value));
        break;
      default:
        break;
    }
    put(a, "value", v);
    json_object_array_add(arr, a);
  }
  return arr;
}

static json_object *span_json(const Span *s) {
  json_object *o = json_object_new_object();
  put(o, "traceId", hex_id(&s->trace_id));
  put(o, "spanId", hex_id(&s->span_id));
  if (s->parent_span_id.len)
    put(o, "parentSpanId", hex_id(&s->parent_span_id));
  if (s->flags)
    put(o, "flags", json_object_new_int64(s->flags));
  put(o, "name", json_object_new_string(s->name ? s->name : ""));
  if (s->kind)
    put(o, "kind", json_object_new_int(s->kind));
  put(o, "startTimeUnixNano", u64_string(s->start_time_unix_nano));
  put(o, "endTimeUnixNano", u64_string(s->end_time_unix_nano));
  if (s->n_attributes)
    put(o, "attributes", attributes(s->attributes, s->n_attributes));
  if (s->status) {
    json_object *st = json_object_new_object();
    if (s->status->message && s->status->message[0])
      put(st, "message", json_object_new_string(s->status->message));
    if (s->status->code)
      put(st, "code", json_object_new_int(s->status->code));
    put(o, "status", st);
  }
  return o;
}

/* A growing text buffer; FAILED once an allocation failed. */
struct text {
  char *buf;
  size_t len, cap;
  bool failed;
};

static void text_add(struct text *t, const char *s, size_t n) {
  if (t->failed)
    return;
  if (t->len + n + 2 > t->cap) {
    size_t cap = (t->len + n + 2) * 2;
    char *grown = realloc(t->buf, cap);
    if (!grown) {
      t->failed = true;
      return;
    }
    t->buf = grown, t->cap = cap;
  }
  memcpy(t->buf + t->len, s, n);
  t->len += n;
  t->buf[t->len] = '\0';
}

static void text_str(struct text *t, const char *s) {
  text_add(t, s, strlen(s));
}

/* Appends OBJ rendered (and frees it): one small tree at a time, so the
 * encoder's many small allocations are reused span after span. */
static void text_json(struct text *t, json_object *obj) {
  const char *s = obj ? json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
                                                                JSON_C_TO_STRING_NOSLASHESCAPE)
                      : NULL;
  if (s)
    text_str(t, s);
  else
    t->failed = true;
  json_object_put(obj);
}

char *spantap_otlp_json(const spantap_otlp_request *req) {
  /* the request's frame by hand, each resource, scope and span by json-c */
  struct text t = {0};
  text_str(&t, "{\"resourceSpans\":[");
  for (size_t i = 0; i < req->n_resource_spans; i++) {
    const Opentelemetry__Proto__Trace__V1__ResourceSpans *rs = req->resource_spans[i];
    text_str(&t, i ? ",{\"resource\":" : "{\"resource\":");
    json_object *res = json_object_new_object();
    if (rs->resource)
      put(res, "attributes", attributes(rs->resource->attributes, rs->resource->n_attributes));
    text_json(&t, res);
    text_str(&t, ",\"scopeSpans\":[");
    for (size_t j = 0; j < rs->n_scope_spans; j++) {
      const Opentelemetry__Proto__Trace__V1__ScopeSpans *ss = rs->scope_spans[j];
      text_str(&t, j ? ",{" : "{");
      if (ss->scope) {
        json_object *scope = json_object_new_object();
        put(scope, "name", json_object_new_string(ss->scope->name));
        if (ss->scope->version && ss->scope->version[0])
          put(scope, "version", json_object_new_string(ss->scope->version));
        text_str(&t, "\"scope\":");
        text_json(&t, scope);
        text_str(&t, ",");
      }
      text_str(&t, "\"spans\":[");
      for (size_t k = 0; k < ss->n_spans; k++) {
        if (k)
          text_str(&t, ",");
        text_json(&t, span_json(ss->spans[k]));
      }
      text_str(&t, "]}");
    }
    text_str(&t, "]}");
  }
  text_str(&t, "]}\n");
  if (t.failed) {
    free(t.buf);
    return NULL;
  }
  return t.buf;
}
