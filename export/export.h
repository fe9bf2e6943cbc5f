/* spantap export: a finished recording written in the formats of the tools
 * people already run (docs/exports.md). Every exporter reads the recording
 * through SQL rows it steps through one at a time, so its memory does not grow
 * with the recording, and hands its bytes to a sink. */
#ifndef SPANTAP_EXPORT_EXPORT_H
#define SPANTAP_EXPORT_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "export/export_db.h"

enum spantap_export_format {
  SPANTAP_EXPORT_OTLP,
  SPANTAP_EXPORT_PPROF,
  SPANTAP_EXPORT_FOLDED,
  SPANTAP_EXPORT_CHROME,
  SPANTAP_EXPORT_PROMETHEUS,
};

/* Where an exporter's bytes go. WRITE returns 0 or a negative errno with ERR
 * saying what failed. The OTLP exporter calls it once per whole request body
 * (a batch of spans), the others with consecutive pieces of one file. */
struct spantap_export_sink {
  int (*write)(void *ctx, const void *buf, size_t len, char *err, size_t errlen);
  void *ctx;
};

struct spantap_export_opts {
  bool json;              /* otlp: OTLP JSON (one request per line) instead of protobuf */
  int64_t min_syscall_ns; /* otlp, chrome: syscalls at least this long become child spans
                             (otlp) or events (chrome, with syscalls); negative: none */
  bool syscalls;          /* chrome: syscalls as complete events too */
  unsigned batch_spans;   /* otlp: spans per request (0: 512) */
};

#define SPANTAP_EXPORT_DEFAULT_MIN_SYSCALL_NS 100000 /* 100 us */

/* Each exporter reads REC's database (spantap_export_recording_open) and
 * writes the whole export to SINK. Returns 0, or a negative errno with ERR
 * saying what failed with which values (-EIO a database error, or what the
 * sink returned). On failure part of the export may have reached the sink. */
int spantap_export_otlp(const struct spantap_export_recording *rec,
                        const struct spantap_export_opts *o, const struct spantap_export_sink *sink,
                        char *err, size_t errlen);
int spantap_export_pprof(const struct spantap_export_recording *rec,
                         const struct spantap_export_sink *sink, char *err, size_t errlen);
int spantap_export_folded(const struct spantap_export_recording *rec,
                          const struct spantap_export_sink *sink, char *err, size_t errlen);
int spantap_export_chrome(const struct spantap_export_recording *rec,
                          const struct spantap_export_opts *o,
                          const struct spantap_export_sink *sink, char *err, size_t errlen);
int spantap_export_prometheus(const struct spantap_export_recording *rec,
                              const struct spantap_export_sink *sink, char *err, size_t errlen);

/* The Prometheus text of REC as an owned string in *TEXT (free it) of *LEN
 * bytes: what spantap_export_prometheus writes and /metrics serves. Returns 0
 * or a negative errno with ERR. */
int spantap_export_prometheus_text(const struct spantap_export_recording *rec, char **text,
                                   size_t *len, char *err, size_t errlen);

#endif
