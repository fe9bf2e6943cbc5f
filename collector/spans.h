/* Span engine: derives request spans and cross-process request traces from
 * time-ordered kernel events, with no instrumentation of the application.
 *
 * The model (docs/spans.md):
 *  - A server span is one request/response exchange on one TCP connection: it
 *    opens when a thread receives the request's first bytes and closes at the
 *    last bytes of the response, known for sure when the next request arrives on
 *    the connection or the connection closes. Keep-alive connections carry many
 *    spans; an event loop serving many connections gets one span per exchange;
 *    a thread pool (accept in one thread, serve in another) too, since spans
 *    are kept per connection.
 *  - A client span is one outgoing request/response on a connection whose
 *    first move was a send (or a connect): it opens at the first bytes sent.
 *    Its parent is the server span the sending thread was serving (or
 *    inherited through fork/clone). When the other end of the connection is a
 *    traced thread, that side's server span becomes the client span's child and
 *    joins its trace; otherwise a server span starts a new trace.
 *  - Every other event of a thread (syscalls, off-CPU time, page faults) goes
 *    to the span the thread is serving; events after a span's last I/O that
 *    turn out to follow its end are given back (no span).
 * Events must arrive in order of completion (collector/reorder.h); the engine
 * tolerates stragglers and inconsistent input, which it counts. Memory is
 * bounded by the open connections, threads and traces. */
#ifndef SPANTAP_SPANS_H
#define SPANTAP_SPANS_H

#include <stddef.h>
#include <stdint.h>

#include "collector/event.h"
#include "collector/span_model.h"

/* Where the engine's results go. Each callback returns 0, or nonzero to stop
 * the engine (the value is passed back to its caller). */
struct spantap_span_sink {
  void *ctx;
  /* The row of a SYSCALL, OFFCPU or PAGEFAULT event, with its span (0: none). */
  int (*event_row)(void *ctx, const struct spantap_event *e, int64_t span_id);
  /* A finished span; rows of one trace come together when the trace ends. */
  int (*span)(void *ctx, const struct spantap_span_row *row);
  int (*edge)(void *ctx, int64_t parent_id, int64_t child_id, const char *kind);
  int (*trace)(void *ctx, const struct spantap_trace_row *row);
  /* The service name of process PID (its executable's file name), or NULL. */
  const char *(*service)(void *ctx, int64_t pid);
};

struct spantap_span_stats {
  uint64_t server_spans, client_spans, traces;
  uint64_t joined;           /* server spans joined to a traced client's span */
  uint64_t stray_responses;  /* bytes sent on a server connection with no request open */
  uint64_t stray_replies;    /* bytes received on a client connection with no request out */
  uint64_t no_response;      /* spans closed before any response */
  uint64_t unfinished;       /* spans still in their request when the recording ended */
  uint64_t pending_overflow; /* events kept in a span because too many awaited a decision */
  uint64_t losses;           /* times the runtime reported lost events */
  uint64_t spans_in_loss;    /* spans open at such a time: status "loss" */
};

struct spantap_span_engine;

/* Creates an engine reporting to SINK (copied). Returns an owned engine in
 * *OUT (destroy with spantap_span_engine_destroy), or -ENOMEM. */
int spantap_span_engine_new(const struct spantap_span_sink *sink, struct spantap_span_engine **out);
/* Frees the engine; results not yet delivered are dropped. NULL is a no-op. */
void spantap_span_engine_destroy(struct spantap_span_engine *s);

/* Processes one event. Returns 0, -ENOMEM, or a sink callback's nonzero value. */
int spantap_span_engine_event(struct spantap_span_engine *s, const struct spantap_event *e);

/* Ends the recording: closes every open span (a span whose response was sent
 * is complete; one still in its request is "unfinished"), and delivers every
 * remaining row, span, edge and trace. Returns 0, -ENOMEM or a sink's value. */
int spantap_span_engine_finish(struct spantap_span_engine *s);

const struct spantap_span_stats *spantap_span_engine_stats(const struct spantap_span_engine *s);

#endif
