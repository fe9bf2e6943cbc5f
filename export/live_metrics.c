/* Live /metrics: the metrics server of export/metrics_http.c with a render
 * callback that reads the recording as it is being written. */
#include "export/live_metrics.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/export.h"
#include "export/metrics_http.h"

struct spantap_live_metrics {
  struct spantap_metrics_http *server;
  char *db_path;
};

/* Opens the recording read-only for one scrape; WAL lets it read the last
 * committed batch while the collector writes the next one. */
static int render_live(void *ctx, char **text, size_t *len, char *err, size_t errlen) {
  const struct spantap_live_metrics *m = ctx;
  sqlite3 *db = NULL;
  if (sqlite3_open_v2(m->db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
    snprintf(err, errlen, "Failed to open the recording: path=%s error=%s", m->db_path,
             db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_close(db);
    return -EIO;
  }
  sqlite3_busy_timeout(db, 2000);
  struct spantap_export_recording rec;
  int rc = spantap_export_recording_open(db, &rec, err, errlen);
  if (rc == 0)
    rc = spantap_export_prometheus_text(&rec, text, len, err, errlen);
  sqlite3_close(db);
  return rc;
}

int spantap_live_metrics_start(const char *listen, const char *db_path,
                               struct spantap_live_metrics **out, char *err, size_t errlen) {
  struct spantap_live_metrics *m = calloc(1, sizeof *m);
  if (!m || !(m->db_path = strdup(db_path))) {
    free(m);
    snprintf(err, errlen, "Failed to start the metrics server: listen=%s error=out of memory",
             listen);
    return -ENOMEM;
  }
  int rc = spantap_metrics_http_start(listen, render_live, m, &m->server, err, errlen);
  if (rc < 0) {
    free(m->db_path);
    free(m);
    return rc;
  }
  *out = m;
  return 0;
}

unsigned spantap_live_metrics_port(const struct spantap_live_metrics *m) {
  return spantap_metrics_http_port(m->server);
}

unsigned long spantap_live_metrics_scrapes(const struct spantap_live_metrics *m) {
  return spantap_metrics_http_scrapes(m->server);
}

void spantap_live_metrics_stop(struct spantap_live_metrics *m) {
  if (!m)
    return;
  spantap_metrics_http_stop(m->server);
  free(m->db_path);
  free(m);
}
