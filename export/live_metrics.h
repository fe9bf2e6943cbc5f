/* Live /metrics for a recording in progress (`spantap record
 * --metrics-listen`): each scrape opens the recording read-only, renders the
 * Prometheus text of what the collector has committed so far, and closes it
 * again, so a scrape never holds the database between batches. */
#ifndef SPANTAP_EXPORT_LIVE_METRICS_H
#define SPANTAP_EXPORT_LIVE_METRICS_H

#include <stddef.h>

struct spantap_live_metrics;

/* Serves GET /metrics on LISTEN ("ADDR:PORT") for the recording being written
 * at DB_PATH (copied). Returns an owned server in *OUT (stop it with
 * spantap_live_metrics_stop), or a negative errno with ERR naming the address
 * and the cause. A scrape that cannot read the database answers 500 with the
 * reason. */
int spantap_live_metrics_start(const char *listen, const char *db_path,
                               struct spantap_live_metrics **out, char *err, size_t errlen);

/* The port it listens on (useful with port 0). */
unsigned spantap_live_metrics_port(const struct spantap_live_metrics *m);

/* Scrapes answered so far. */
unsigned long spantap_live_metrics_scrapes(const struct spantap_live_metrics *m);

/* Stops serving and frees M. NULL is a no-op. */
void spantap_live_metrics_stop(struct spantap_live_metrics *m);

#endif
