/* OTLP JSON: the request protobuf-c built, in OTLP's JSON encoding (otlp.h),
 * so that both encodings carry exactly the same spans. */
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/ids.h"
#include "export/otlp.h"

typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Trace__V1__Span Span;

/* json-c's object_add takes ownership of VAL; a NULL from an allocation that
 * failed is caught when the whole document is rendered (it is then NULL). */
static void put(json_object *obj, const char *key, json_object *val) {
  if (obj && val)
    json_object_object_add(obj, key, val);
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

char *spantap_otlp_json(const spantap_otlp_request *req) {
  json_object *root = json_object_new_object(), *rss = json_object_new_array();
  for (size_t i = 0; rss && i < req->n_resource_spans; i++) {
    const Opentelemetry__Proto__Trace__V1__ResourceSpans *rs = req->resource_spans[i];
    json_object *r = json_object_new_object(), *res = json_object_new_object();
    if (rs->resource)
      put(res, "attributes", attributes(rs->resource->attributes, rs->resource->n_attributes));
    put(r, "resource", res);
    json_object *sss = json_object_new_array();
    for (size_t j = 0; sss && j < rs->n_scope_spans; j++) {
      const Opentelemetry__Proto__Trace__V1__ScopeSpans *ss = rs->scope_spans[j];
      json_object *so = json_object_new_object(), *spans = json_object_new_array();
      if (ss->scope) {
        json_object *scope = json_object_new_object();
        put(scope, "name", json_object_new_string(ss->scope->name));
        if (ss->scope->version && ss->scope->version[0])
          put(scope, "version", json_object_new_string(ss->scope->version));
        put(so, "scope", scope);
      }
      for (size_t k = 0; spans && k < ss->n_spans; k++)
        json_object_array_add(spans, span_json(ss->spans[k]));
      put(so, "spans", spans);
      json_object_array_add(sss, so);
    }
    put(r, "scopeSpans", sss);
    json_object_array_add(rss, r);
  }
  put(root, "resourceSpans", rss);
  const char *text = root ? json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
                                                                     JSON_C_TO_STRING_NOSLASHESCAPE)
                          : NULL;
  char *line = NULL;
  if (text && asprintf(&line, "%s\n", text) < 0)
    line = NULL;
  json_object_put(root);
  return line;
}
