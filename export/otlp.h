/* OTLP pieces shared by the OTLP exporter (otlp.c): the request message it
 * builds with protobuf-c and its JSON encoding (otlp_json.c). */
#ifndef SPANTAP_EXPORT_OTLP_H
#define SPANTAP_EXPORT_OTLP_H

#include <stdbool.h>
#include <stddef.h>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest spantap_otlp_request;

/* REQ in OTLP's JSON encoding (the protobuf JSON mapping with OTLP's
 * exceptions: lowerCamelCase names, trace and span ids as hex, 64-bit integers
 * as strings, enums as numbers, default values left out), on one line ending
 * in '\n'. Returns an owned string (free it), or NULL when out of memory. */
char *spantap_otlp_json(const spantap_otlp_request *req);

#endif
