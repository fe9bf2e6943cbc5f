/* Socket table on a u64 map: kernel sock address -> what its SOCK record said. */
#include "collector/socket_table.h"

#include <errno.h>
#include <stdlib.h>

#include "collector/u64_map.h"

struct socket_entry {
  struct spantap_endpoints ends;
  int64_t conn_id;
};

struct spantap_socket_table {
  struct spantap_u64_map *map; /* sock -> owned struct socket_entry */
};

struct spantap_socket_table *spantap_socket_table_new(void) {
  struct spantap_socket_table *t = calloc(1, sizeof *t);
  if (!t)
    return NULL;
  t->map = spantap_u64_map_new();
  if (!t->map) {
    free(t);
    return NULL;
  }
  return t;
}

void spantap_socket_table_destroy(struct spantap_socket_table *t) {
  if (!t)
    return;
  spantap_u64_map_free_values(t->map);
  spantap_u64_map_destroy(t->map);
  free(t);
}

int spantap_socket_table_announce(struct spantap_socket_table *t, uint64_t sock,
                                  const struct spantap_endpoints *ends, int64_t conn_id) {
  struct socket_entry *s = malloc(sizeof *s);
  if (!s)
    return -ENOMEM;
  *s = (struct socket_entry){.ends = *ends, .conn_id = conn_id};
  free(spantap_u64_map_remove(t->map, sock));
  if (spantap_u64_map_put(t->map, sock, s) < 0) {
    free(s);
    return -ENOMEM;
  }
  return 0;
}

void spantap_socket_table_forget(struct spantap_socket_table *t, uint64_t sock) {
  free(spantap_u64_map_remove(t->map, sock));
}

bool spantap_socket_table_resolve(const struct spantap_socket_table *t, struct spantap_event *e) {
  const struct socket_entry *s = spantap_u64_map_get(t->map, e->sock);
  if (!s)
    return false;
  e->ends = s->ends;
  e->conn_id = s->conn_id;
  return true;
}
