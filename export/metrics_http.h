/* A Prometheus /metrics endpoint (libmicrohttpd): each scrape calls a render
 * callback for the text, so it serves a finished recording (`spantap export
 * prometheus --listen`) or one being recorded alike. */
#ifndef SPANTAP_EXPORT_METRICS_HTTP_H
#define SPANTAP_EXPORT_METRICS_HTTP_H

#include <stddef.h>

struct spantap_metrics_http;

/* Renders the exposition text (format 0.0.4) into an owned *TEXT (freed by
 * the server with free) of *LEN bytes. Called from the server's own thread,
 * one scrape at a time. Returns 0 or a negative errno with ERR. */
typedef int (*spantap_metrics_render_fn)(void *ctx, char **text, size_t *len, char *err,
                                         size_t errlen);

/* Starts serving GET /metrics on LISTEN ("ADDR:PORT", an IPv4 address or
 * "[IPv6]:PORT"; port 0 picks a free one) in a thread of its own. Returns an
 * owned server in *OUT (stop it with spantap_metrics_http_stop), or a
 * negative errno with ERR naming the address and the cause. */
int spantap_metrics_http_start(const char *listen, spantap_metrics_render_fn render, void *ctx,
                               struct spantap_metrics_http **out, char *err, size_t errlen);

/* The port the server listens on. */
unsigned spantap_metrics_http_port(const struct spantap_metrics_http *s);

/* Scrapes answered so far (200 and 500 alike). */
unsigned long spantap_metrics_http_scrapes(const struct spantap_metrics_http *s);

/* Stops the server and frees it. NULL is a no-op. */
void spantap_metrics_http_stop(struct spantap_metrics_http *s);

#endif
