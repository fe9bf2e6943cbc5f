/* The span model's rows: a derived span, a request trace, and (as a parent,
 * child and kind) the edge between two spans. The span engine produces them
 * and the store writes them; neither depends on the other for them. */
#ifndef SPANTAP_SPAN_MODEL_H
#define SPANTAP_SPAN_MODEL_H

#include <stdint.h>

/* One derived span (docs/schema.md, table spans). Strings are borrowed. */
struct spantap_span_row {
  int64_t id, trace_id, parent_id; /* parent_id 0: the trace's root */
  const char *kind;                /* "server" or "client" */
  int64_t pid, tid;
  const char *service; /* the executable's file name */
  int64_t conn_id;
  int64_t start_ns, end_ns;
  const char *status; /* "ok", "no_response", "reset", "unfinished", "loss" */
  int depth, critical;
  int64_t bytes_in, bytes_out, syscalls;
  int64_t net_ns, file_ns, mem_ns, proc_ns, other_ns; /* syscall time by class */
  int64_t offcpu_ns, switches, page_faults;
  int64_t start_stack_id, end_stack_id;
};

/* One request trace (docs/schema.md, table traces). Strings are borrowed. */
struct spantap_trace_row {
  int64_t id, root_span_id;
  int64_t start_ns, end_ns, spans;
  int depth;
  const char *services;      /* distinct services, in order of first span */
  const char *critical_path; /* services along the critical path, "a > b > c" */
  int complete;              /* 0 when a span is unfinished or lies in a window with loss */
};

#endif
