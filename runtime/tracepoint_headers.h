/* BTF -> DECLARE_TRACE generator: turns the running kernel's BTF into the
 * include/trace/events/<system>.h headers that SystemTap's tracepoint query
 * compiles to learn each tracepoint's argument names, types and layout. */
#ifndef SPANTAP_TRACEPOINT_HEADERS_H
#define SPANTAP_TRACEPOINT_HEADERS_H

#include <stddef.h>

struct btf;

/* More arguments than this cannot be expressed: stap's FIELDS() macro counts
 * at most 12. Such tracepoints are written as a comment and counted as skipped. */
#define SPANTAP_TP_MAX_ARGS 12

/* Index of the tracepoints a BTF blob describes. Opaque; built by
 * spantap_tp_index_new, freed by spantap_tp_index_free. */
struct spantap_tp_index;

struct spantap_tp_stats {
  unsigned events;   /* DECLARE_TRACE lines written */
  unsigned skipped;  /* tracepoints written as a comment (no names, > 12 args) */
  unsigned systems;  /* header files written */
  unsigned btf_only; /* tracepoints without a tracefs event, put in btf_only.h */
};

/* Builds the tracepoint index of BTF (every btf_trace_<event> typedef, with the
 * __probestub_<event> and __bpf_trace_<class> prototypes that carry parameter
 * names). BTF stays owned by the caller and must outlive the index.
 * Returns the index, or NULL with errno set and a message in ERR. */
struct spantap_tp_index *spantap_tp_index_new(const struct btf *btf, char *err, size_t errlen);

/* Frees IDX (NULL is fine). Does not free the BTF it was built from. */
void spantap_tp_index_free(struct spantap_tp_index *idx);

/* Number of tracepoints in IDX. */
size_t spantap_tp_index_count(const struct spantap_tp_index *idx);

/* Name of the I-th tracepoint of IDX (sorted by name), or NULL when I is out
 * of range. The string belongs to the BTF the index was built from. */
const char *spantap_tp_index_name(const struct spantap_tp_index *idx, size_t i);

/* Writes into *OUT (malloc'd, caller frees) the declaration stap's query
 * needs for EVENT, without a trailing newline:
 *   DECLARE_TRACE(ev, PARAMS(T1 n1, T2 n2), PARAMS(n1, n2))
 * A tracepoint without arguments gives the equivalent empty stapprobe struct.
 * Returns 0; -ENOENT when BTF has no btf_trace_EVENT; -ENOTSUP when the
 * tracepoint cannot be expressed (no parameter names found, too many
 * arguments); -ENOMEM. ERR receives a message on every error. */
int spantap_tp_declare_trace(const struct spantap_tp_index *idx, const char *event, char **out,
                             char *err, size_t errlen);

/* Writes one <system>.h per tracefs system under EVENTS_DIR (for example
 * /sys/kernel/tracing/events) into OUT_DIR (which must exist), plus
 * btf_only.h for tracepoints that have no tracefs event. Existing files of
 * the same names are replaced. STATS may be NULL.
 * Returns 0 or -errno with a "Failed to ..." message in ERR. */
int spantap_tp_write_headers(const struct spantap_tp_index *idx, const char *events_dir,
                             const char *out_dir, struct spantap_tp_stats *stats, char *err,
                             size_t errlen);

#endif
