/* OTLP/HTTP: each request body POSTed to a collector's /v1/traces with
 * libcurl, with a bounded time to connect and to finish (otlp.h). */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/otlp_post.h"

struct spantap_otlp_post {
  CURL *curl;
  struct curl_slist *headers;
  char url[1024];
  char answer[256]; /* the start of the collector's answer, for messages */
  size_t answer_len;
  unsigned long sent;
};

static size_t keep_answer(char *data, size_t size, size_t n, void *ctx) {
  struct spantap_otlp_post *p = ctx;
  size_t len = size * n, room = sizeof p->answer - 1 - p->answer_len;
  memcpy(p->answer + p->answer_len, data, len < room ? len : room);
  p->answer_len += len < room ? len : room;
  p->answer[p->answer_len] = '\0';
  return len;
}

int spantap_otlp_post_new(const char *endpoint, bool json, long timeout_ms,
                          struct spantap_otlp_post **out, char *err, size_t errlen) {
  *out = NULL;
  if (strncmp(endpoint, "http://", 7) != 0 && strncmp(endpoint, "https://", 8) != 0) {
    snprintf(err, errlen, "invalid OTLP endpoint '%s': give http://HOST:PORT", endpoint);
    return -EINVAL;
  }
  static bool curl_ready;
  if (!curl_ready && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    snprintf(err, errlen, "Failed to initialize libcurl");
    return -EIO;
  }
  curl_ready = true;
  struct spantap_otlp_post *p = calloc(1, sizeof *p);
  if (!p) {
    snprintf(err, errlen, "Failed to allocate the OTLP poster");
    return -ENOMEM;
  }
  const char *path = strchr(endpoint + (endpoint[4] == 's' ? 8 : 7), '/');
  snprintf(p->url, sizeof p->url, "%s%s", endpoint,
           path && path[1] ? ""
           : path          ? "v1/traces"
                           : "/v1/traces");
  p->curl = curl_easy_init();
  p->headers = curl_slist_append(NULL, json ? "Content-Type: application/json"
                                            : "Content-Type: application/x-protobuf");
  if (!p->curl || !p->headers) {
    snprintf(err, errlen, "Failed to start libcurl: url=%s", p->url);
    spantap_otlp_post_destroy(p);
    return -ENOMEM;
  }
  CURL *c = p->curl;
  curl_easy_setopt(c, CURLOPT_URL, p->url);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, p->headers);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep_answer);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, p);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "spantap-export");
  *out = p;
  return 0;
}

int spantap_otlp_post_write(void *ctx, const void *body, size_t len, char *err, size_t errlen) {
  struct spantap_otlp_post *p = ctx;
  char curl_err[CURL_ERROR_SIZE] = "";
  p->answer_len = 0;
  p->answer[0] = '\0';
  curl_easy_setopt(p->curl, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(p->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
  curl_easy_setopt(p->curl, CURLOPT_ERRORBUFFER, curl_err);
  CURLcode rc = curl_easy_perform(p->curl);
  curl_easy_setopt(p->curl, CURLOPT_ERRORBUFFER, NULL);
  if (rc != CURLE_OK) {
    snprintf(err, errlen,
             "Failed to POST spans to the OTLP endpoint: url=%s requests_sent=%lu"
             " error=%s",
             p->url, p->sent, curl_err[0] ? curl_err : curl_easy_strerror(rc));
    return rc == CURLE_COULDNT_CONNECT      ? -ECONNREFUSED
           : rc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT
                                            : -EIO;
  }
  long status = 0;
  curl_easy_getinfo(p->curl, CURLINFO_RESPONSE_CODE, &status);
  if (status < 200 || status > 299) {
    snprintf(err, errlen,
             "the OTLP endpoint refused the spans: url=%s status=%ld"
             " requests_sent=%lu answer='%.120s'",
             p->url, status, p->sent, p->answer);
    return -EIO;
  }
  p->sent++;
  return 0;
}

unsigned long spantap_otlp_post_count(const struct spantap_otlp_post *p) {
  return p->sent;
}

void spantap_otlp_post_destroy(struct spantap_otlp_post *p) {
  if (!p)
    return;
  curl_easy_cleanup(p->curl);
  curl_slist_free_all(p->headers);
  free(p);
}
