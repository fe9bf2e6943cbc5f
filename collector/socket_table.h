/* Socket table: the addresses that SOCK records announced for each kernel
 * socket, looked up by the syscalls that name the socket, in time order (as
 * events leave the reorder window). A socket is forgotten when it closes; a
 * new one at the same address is announced again. */
#ifndef SPANTAP_SOCKET_TABLE_H
#define SPANTAP_SOCKET_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "collector/event.h"

struct spantap_socket_table;

/* Returns an owned, empty table (destroy with spantap_socket_table_destroy) or NULL on ENOMEM. */
struct spantap_socket_table *spantap_socket_table_new(void);
void spantap_socket_table_destroy(struct spantap_socket_table *t); /* NULL is a no-op */

/* Sets the addresses of SOCK to ENDS and its connection to CONN_ID,
 * replacing what was known. Returns 0 or -ENOMEM (SOCK is then unknown). */
int spantap_socket_table_announce(struct spantap_socket_table *t, uint64_t sock,
                                  const struct spantap_endpoints *ends, int64_t conn_id);

/* Forgets SOCK; unknown sockets are ignored. */
void spantap_socket_table_forget(struct spantap_socket_table *t, uint64_t sock);

/* Sets E's ends and conn_id to those announced for E->sock. Returns false
 * (E unchanged) when no SOCK record announced it. */
bool spantap_socket_table_resolve(const struct spantap_socket_table *t, struct spantap_event *e);

#endif
