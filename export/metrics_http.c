/* The /metrics endpoint (metrics_http.h) on libmicrohttpd's internal thread:
 * GET /metrics renders the text with the callback; anything else is 404 or
 * 405. A render that fails answers 500 with the reason. */
#include "export/metrics_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct spantap_metrics_http {
  struct MHD_Daemon *daemon;
  spantap_metrics_render_fn render;
  void *ctx;
  unsigned port;
  atomic_ulong scrapes;
};

static enum MHD_Result answer_text(struct MHD_Connection *conn, unsigned status, char *text,
                                   size_t len, bool owned, const char *type) {
  struct MHD_Response *r = MHD_create_response_from_buffer(
      len, text, owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_MUST_COPY);
  if (!r) {
    if (owned)
      free(text);
    return MHD_NO;
  }
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
  enum MHD_Result ret = MHD_queue_response(conn, status, r);
  MHD_destroy_response(r);
  return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **req_cls) {
  struct spantap_metrics_http *s = cls;
  static const char plain[] = "text/plain; charset=utf-8";
  if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
    return answer_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, (char *)"only GET /metrics\n", 18, false,
                       plain);
  if (strcmp(url, "/metrics") != 0)
    return answer_text(conn, MHD_HTTP_NOT_FOUND, (char *)"spantap serves /metrics only\n", 29,
                       false, plain);
  atomic_fetch_add(&s->scrapes, 1);
  char *text = NULL, err[512] = "";
  size_t len = 0;
  if (s->render(s->ctx, &text, &len, err, sizeof err) < 0) {
    free(text);
    char msg[600];
    int n = snprintf(msg, sizeof msg, "spantap: %s\n", err);
    return answer_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, msg,
                       n < (int)sizeof msg ? (size_t)n : sizeof msg - 1, false, plain);
  }
  return answer_text(conn, MHD_HTTP_OK, text, len, true,
                     "text/plain; version=0.0.4; charset=utf-8");
}

/* Parses "ADDR:PORT" or "[ADDR6]:PORT" into SA. Returns its length, or 0. */
static socklen_t parse_listen(const char *listen, struct sockaddr_storage *sa) {
  char host[128];
  const char *colon = strrchr(listen, ':');
  if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof host)
    return 0;
  memcpy(host, listen, (size_t)(colon - listen));
  host[colon - listen] = '\0';
  char *end;
  long port = strtol(colon + 1, &end, 10);
  if (!colon[1] || *end || port < 0 || port > 65535)
    return 0;
  memset(sa, 0, sizeof *sa);
  size_t hl = strlen(host);
  if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
    host[hl - 1] = '\0';
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)sa;
    if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) != 1)
      return 0;
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)port);
    return sizeof *a6;
  }
  struct sockaddr_in *a4 = (struct sockaddr_in *)sa;
  if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
    return 0;
  a4->sin_family = AF_INET;
  a4->sin_port = htons((uint16_t)port);
  return sizeof *a4;
}

int spantap_metrics_http_start(const char *listen, spantap_metrics_render_fn render, void *ctx,
                               struct spantap_metrics_http **out, char *err, size_t errlen) {
  *out = NULL;
  struct sockaddr_storage sa;
  if (!parse_listen(listen, &sa)) {
    snprintf(err, errlen, "invalid listen address '%s': give ADDR:PORT, e.g. 127.0.0.1:9464",
             listen);
    return -EINVAL;
  }
  struct spantap_metrics_http *s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(err, errlen, "Failed to allocate the metrics server: listen=%s", listen);
    return -ENOMEM;
  }
  s->render = render;
  s->ctx = ctx;
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
  if (sa.ss_family == AF_INET6)
    flags |= MHD_USE_IPv6;
  /* The server's thread starts with every signal blocked: signals (SIGCHLD
   * above all) belong to the program's own thread, which may wait for them
   * with signalfd; a thread that took them would hide a child's end. */
  sigset_t all, before;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &before);
  errno = 0;
  s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR,
                               (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
                               MHD_OPTION_CONNECTION_LIMIT, (unsigned)32, MHD_OPTION_END);
  int start_errno = errno;
  pthread_sigmask(SIG_SETMASK, &before, NULL);
  errno = start_errno;
  if (!s->daemon) {
    int e = errno ? errno : EADDRINUSE;
    snprintf(err, errlen, "Failed to serve /metrics: listen=%s errno=%s", listen, strerror(e));
    free(s);
    return -e;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
  s->port = info ? info->port : 0;
  *out = s;
  return 0;
}

unsigned spantap_metrics_http_port(const struct spantap_metrics_http *s) {
  return s->port;
}

unsigned long spantap_metrics_http_scrapes(const struct spantap_metrics_http *s) {
  return atomic_load(&s->scrapes);
}

void spantap_metrics_http_stop(struct spantap_metrics_http *s) {
  if (!s)
    return;
  MHD_stop_daemon(s->daemon);
  free(s);
}
