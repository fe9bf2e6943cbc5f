/* Connection interning: the key is the whole socket description, so a socket
 * whose ports change (bind, connect) becomes a new connection. */
#include "collector/connections.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "collector/intern.h"

struct spantap_connections {
  struct spantap_store *store;
  struct spantap_intern *ids;
};

struct spantap_connections *spantap_connections_new(struct spantap_store *store) {
  struct spantap_connections *t = calloc(1, sizeof *t);
  if (!t)
    return NULL;
  t->store = store;
  t->ids = spantap_intern_new();
  if (!t->ids) {
    free(t);
    return NULL;
  }
  return t;
}

void spantap_connections_destroy(struct spantap_connections *t) {
  if (!t)
    return;
  spantap_intern_destroy(t->ids);
  free(t);
}

/* Formats an address of the record format's encoding (bytes in order in the
 * little-endian halves LO then HI). */
static void format_addr(int family, int64_t hi, int64_t lo, char *out, size_t len) {
  unsigned char b[16];
  uint64_t h = (uint64_t)hi, l = (uint64_t)lo;
  for (int i = 0; i < 8; i++) {
    b[i] = (unsigned char)(l >> (8 * i));
    b[8 + i] = (unsigned char)(h >> (8 * i));
  }
  if (family == AF_INET6)
    inet_ntop(AF_INET6, b, out, (socklen_t)len);
  else if (family == AF_INET)
    inet_ntop(AF_INET, b, out, (socklen_t)len);
  else
    snprintf(out, len, "-");
}

int64_t spantap_connections_intern(struct spantap_connections *t, const struct spantap_endpoints *e,
                                   uint64_t sock) {
  int64_t key[9] = {e->family,   e->proto,    e->lport,    e->rport,     e->laddr_hi,
                    e->laddr_lo, e->raddr_hi, e->raddr_lo, (int64_t)sock};
  bool created;
  int64_t id = spantap_intern_get(t->ids, key, sizeof key, true, &created);
  if (id > 0 && created) {
    char la[64], ra[64];
    format_addr(e->family, e->laddr_hi, e->laddr_lo, la, sizeof la);
    format_addr(e->family, e->raddr_hi, e->raddr_lo, ra, sizeof ra);
    if (spantap_store_connection(t->store, id, e->family, e->proto, la, e->lport, ra, e->rport,
                                 sock) < 0)
      return -EIO;
  }
  return id;
}

struct spantap_endpoints spantap_connections_record_ends(const struct spantap_record *r) {
  const int64_t *v = r->v;
  switch (r->desc->kind) {
    case SPANTAP_REC_SOCKET:
      return (struct spantap_endpoints){.family = (int)v[SPANTAP_SOCKET_family],
                                        .proto = (int)v[SPANTAP_SOCKET_proto],
                                        .lport = (int)v[SPANTAP_SOCKET_lport],
                                        .rport = (int)v[SPANTAP_SOCKET_rport],
                                        .laddr_hi = v[SPANTAP_SOCKET_laddr_hi],
                                        .laddr_lo = v[SPANTAP_SOCKET_laddr_lo],
                                        .raddr_hi = v[SPANTAP_SOCKET_raddr_hi],
                                        .raddr_lo = v[SPANTAP_SOCKET_raddr_lo]};
    case SPANTAP_REC_TCPSTATE:
      return (struct spantap_endpoints){.family = (int)v[SPANTAP_TCPSTATE_family],
                                        .proto = IPPROTO_TCP,
                                        .lport = (int)v[SPANTAP_TCPSTATE_lport],
                                        .rport = (int)v[SPANTAP_TCPSTATE_rport],
                                        .laddr_hi = v[SPANTAP_TCPSTATE_laddr_hi],
                                        .laddr_lo = v[SPANTAP_TCPSTATE_laddr_lo],
                                        .raddr_hi = v[SPANTAP_TCPSTATE_raddr_hi],
                                        .raddr_lo = v[SPANTAP_TCPSTATE_raddr_lo]};
    default:
      return (struct spantap_endpoints){0};
  }
}

uint64_t spantap_connections_count(const struct spantap_connections *t) {
  return spantap_intern_count(t->ids);
}
