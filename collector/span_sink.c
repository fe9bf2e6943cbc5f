/* Adapters between the collector and the span engine: the reorder window's
 * release (the socket table follows SOCK records and socket ends, syscalls on
 * sockets get their addresses), and the engine's sink, which writes event
 * rows, spans, edges and traces to the store and names services. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/collector_impl.h"
#include "collector/spans.h"
#include "common/kernel_abi.h"
#include "common/syscall_table.h"

int spantap_collector_release(const struct spantap_event *e, void *ctx) {
  struct spantap_collector *c = ctx;
  if (e->kind == SPANTAP_EV_SOCKET)
    return spantap_socket_table_announce(c->sockets, e->sock, &e->ends, e->conn_id);
  if (e->kind == SPANTAP_EV_TCPSTATE && e->state == SPANTAP_TCP_CLOSE)
    spantap_socket_table_forget(c->sockets, e->sock); /* gone: a new one will be announced */
  if (e->kind != SPANTAP_EV_SYSCALL || !e->sock)
    return spantap_span_engine_event(c->spans, e);
  struct spantap_event resolved = *e;
  if (!spantap_socket_table_resolve(c->sockets, &resolved))
    c->stats.unknown_sockets++; /* its SOCK record was lost: no addresses, no spans */
  if (e->nr == c->close_nr)
    spantap_socket_table_forget(c->sockets, e->sock);
  return spantap_span_engine_event(c->spans, &resolved);
}

int spantap_collector_name_service(struct spantap_collector *c, int64_t pid, const char *path,
                                   bool replace) {
  if (!replace && spantap_u64_map_get(c->services, (uint64_t)pid))
    return 0;
  const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
  char *name = strdup(base);
  if (!name)
    return -ENOMEM;
  free(spantap_u64_map_remove(c->services, (uint64_t)pid));
  if (spantap_u64_map_put(c->services, (uint64_t)pid, name) < 0) {
    free(name);
    return -ENOMEM;
  }
  return 0;
}

const char *spantap_collector_service(const struct spantap_collector *c, int64_t pid) {
  return spantap_u64_map_get(c->services, (uint64_t)pid);
}

static int sink_event_row(void *ctx, const struct spantap_event *e, int64_t span_id) {
  struct spantap_collector *c = ctx;
  int rc = 0;
  switch (e->kind) {
    case SPANTAP_EV_SYSCALL: {
      struct spantap_syscall_info info = {0};
      char unnamed[32];
      if (spantap_syscall_info(e->nr, &info) < 0 || !info.name) {
        snprintf(unnamed, sizeof unnamed, "syscall_%" PRId64, e->nr);
        info.name = unnamed;
      }
      rc = spantap_store_syscall(c->store, e->ts, e->dur, e->pid, e->tid, e->nr, info.name,
                                 e->class_name, e->args, e->ret, e->stack_id, e->conn_id, span_id);
      break;
    }
    case SPANTAP_EV_OFFCPU:
      rc = spantap_store_offcpu(c->store, e->ts, e->dur, e->pid, e->tid, e->state, span_id);
      break;
    case SPANTAP_EV_PAGEFAULT:
      rc = spantap_store_page_fault(c->store, e->ts, e->pid, e->tid, e->address, e->error_code,
                                    e->stack_id, span_id);
      break;
    default:
      break;
  }
  return rc < 0 ? -EIO : 0;
}

static int sink_span(void *ctx, const struct spantap_span_row *row) {
  struct spantap_collector *c = ctx;
  return spantap_store_span(c->store, row) < 0 ? -EIO : 0;
}

static int sink_edge(void *ctx, int64_t parent_id, int64_t child_id, const char *kind) {
  struct spantap_collector *c = ctx;
  return spantap_store_span_edge(c->store, parent_id, child_id, kind) < 0 ? -EIO : 0;
}

static int sink_trace(void *ctx, const struct spantap_trace_row *row) {
  struct spantap_collector *c = ctx;
  return spantap_store_trace(c->store, row) < 0 ? -EIO : 0;
}

static const char *sink_service(void *ctx, int64_t pid) {
  return spantap_collector_service(ctx, pid);
}

struct spantap_span_sink spantap_collector_span_sink(struct spantap_collector *c) {
  return (struct spantap_span_sink){.ctx = c,
                                    .event_row = sink_event_row,
                                    .span = sink_span,
                                    .edge = sink_edge,
                                    .trace = sink_trace,
                                    .service = sink_service};
}
