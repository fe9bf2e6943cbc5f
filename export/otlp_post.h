/* OTLP/HTTP: each OTLP request body POSTed to a collector's /v1/traces
 * (otlp_post.c), as a struct spantap_export_sink. */
#ifndef SPANTAP_EXPORT_OTLP_POST_H
#define SPANTAP_EXPORT_OTLP_POST_H

#include <stdbool.h>
#include <stddef.h>

struct spantap_otlp_post;

/* Prepares POSTs of OTLP requests to ENDPOINT (http://HOST:PORT, to which
 * /v1/traces is added when it has no path), as JSON or protobuf, each given
 * at most TIMEOUT_MS to connect and complete. Returns an owned poster in *OUT
 * (destroy it), or a negative errno with ERR. */
int spantap_otlp_post_new(const char *endpoint, bool json, long timeout_ms,
                          struct spantap_otlp_post **out, char *err, size_t errlen);

/* POSTs one request body (a struct spantap_export_sink's write: CTX is the
 * poster). Returns 0 when the collector answered 2xx, else -ECONNREFUSED,
 * -ETIMEDOUT or -EIO with ERR naming the URL and quoting libcurl or the
 * status and the answer's first bytes. */
int spantap_otlp_post_write(void *ctx, const void *body, size_t len, char *err, size_t errlen);

/* Requests POSTed so far. */
unsigned long spantap_otlp_post_count(const struct spantap_otlp_post *p);

void spantap_otlp_post_destroy(struct spantap_otlp_post *p); /* NULL is a no-op */

#endif
