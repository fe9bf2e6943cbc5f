/* Connection interning: each distinct socket (its two ends and its kernel
 * address) gets one id and one row of the connections table. */
#ifndef SPANTAP_CONNECTIONS_H
#define SPANTAP_CONNECTIONS_H

#include <stdint.h>

#include "collector/event.h"
#include "collector/store.h"
#include "spantap/record.h"

struct spantap_connections;

/* Creates an empty table writing rows to STORE (borrowed). Returns an owned
 * table (destroy with spantap_connections_destroy) or NULL on ENOMEM. */
struct spantap_connections *spantap_connections_new(struct spantap_store *store);
void spantap_connections_destroy(struct spantap_connections *t); /* NULL is a no-op */

/* The id of the connection ENDS of socket SOCK, stored when new. Returns the
 * id (>= 1), -ENOMEM, or -EIO when the store failed. */
int64_t spantap_connections_intern(struct spantap_connections *t,
                                   const struct spantap_endpoints *ends, uint64_t sock);

/* The socket ends that a SOCK or TCP record R describes (IPPROTO_TCP for a
 * TCP record); zero ends for any other kind. */
struct spantap_endpoints spantap_connections_record_ends(const struct spantap_record *r);

/* Connections interned. */
uint64_t spantap_connections_count(const struct spantap_connections *t);

#endif
