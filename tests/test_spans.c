/* Span engine tests: hand-written event sequences for each server model and
 * each inconsistency the engine must survive, checked against the spans,
 * edges, traces and event rows it delivers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "collector/spans.h"
#include "common/syscall_table.h"

#define MAX_OUT 64

/* Everything the engine delivered. */
struct capture {
  struct spantap_span_row spans[MAX_OUT];
  char span_status[MAX_OUT][16], span_service[MAX_OUT][16], span_kind[MAX_OUT][8];
  int nspans;
  struct {
    int64_t parent, child;
    char kind[8];
  } edges[MAX_OUT];
  int nedges;
  struct spantap_trace_row traces[MAX_OUT];
  char trace_path[MAX_OUT][128], trace_services[MAX_OUT][128];
  int ntraces;
  struct {
    int64_t ts, tid, nr, span_id;
    enum spantap_event_kind kind;
  } rows[256];
  int nrows;
};

static int cap_row(void *ctx, const struct spantap_event *e, int64_t span_id) {
  struct capture *c = ctx;
  assert_true(c->nrows < 256);
  c->rows[c->nrows].ts = e->ts;
  c->rows[c->nrows].tid = e->tid;
  c->rows[c->nrows].nr = e->nr;
  c->rows[c->nrows].kind = e->kind;
  c->rows[c->nrows++].span_id = span_id;
  return 0;
}

static int cap_span(void *ctx, const struct spantap_span_row *r) {
  struct capture *c = ctx;
  assert_true(c->nspans < MAX_OUT);
  c->spans[c->nspans] = *r;
  snprintf(c->span_status[c->nspans], 16, "%s", r->status);
  snprintf(c->span_service[c->nspans], 16, "%s", r->service ? r->service : "");
  snprintf(c->span_kind[c->nspans], 8, "%s", r->kind);
  c->nspans++;
  return 0;
}

static int cap_edge(void *ctx, int64_t parent, int64_t child, const char *kind) {
  struct capture *c = ctx;
  c->edges[c->nedges].parent = parent;
  c->edges[c->nedges].child = child;
  snprintf(c->edges[c->nedges++].kind, 8, "%s", kind);
  return 0;
}

static int cap_trace(void *ctx, const struct spantap_trace_row *r) {
  struct capture *c = ctx;
  c->traces[c->ntraces] = *r;
  snprintf(c->trace_path[c->ntraces], 128, "%s", r->critical_path);
  snprintf(c->trace_services[c->ntraces], 128, "%s", r->services);
  c->ntraces++;
  return 0;
}

static const char *cap_service(void *ctx, int64_t pid) {
  (void)ctx;
  return pid == 100 ? "front" : pid == 200 ? "middle" : pid == 300 ? "store" : "other";
}

static struct spantap_span_engine *engine(struct capture *c) {
  memset(c, 0, sizeof *c);
  struct spantap_span_sink sink = {c, cap_row, cap_span, cap_edge, cap_trace, cap_service};
  struct spantap_span_engine *s;
  assert_int_equal(spantap_span_engine_new(&sink, &s), 0);
  return s;
}

/* ---- event builders ---------------------------------------------------------- */

/* The two ends of a loopback connection between ports A (local) and B. */
static struct spantap_endpoints ends(int lport, int rport) {
  return (struct spantap_endpoints){.family = 2,
                                    .proto = 6,
                                    .lport = lport,
                                    .rport = rport,
                                    .laddr_lo = 0x0100007f,
                                    .raddr_lo = 0x0100007f};
}

static void sock_call(struct spantap_span_engine *s, int64_t ts, int64_t dur, int64_t pid,
                      int64_t tid, const char *name, int64_t ret, uint64_t sock, int lport,
                      int rport) {
  struct spantap_event e = {.kind = SPANTAP_EV_SYSCALL,
                            .ts = ts,
                            .dur = dur,
                            .pid = pid,
                            .tid = tid,
                            .nr = spantap_syscall_by_name(name),
                            .ret = ret,
                            .class_name = "net",
                            .sock = sock,
                            .conn_id = (int64_t)sock,
                            .ends = ends(lport, rport),
                            .stack_id = ts};
  assert_int_equal(spantap_span_engine_event(s, &e), 0);
}

static void plain_call(struct spantap_span_engine *s, int64_t ts, int64_t dur, int64_t pid,
                       int64_t tid, const char *name, const char *cls) {
  struct spantap_event e = {.kind = SPANTAP_EV_SYSCALL,
                            .ts = ts,
                            .dur = dur,
                            .pid = pid,
                            .tid = tid,
                            .nr = spantap_syscall_by_name(name),
                            .class_name = cls};
  assert_int_equal(spantap_span_engine_event(s, &e), 0);
}

static void other_event(struct spantap_span_engine *s, enum spantap_event_kind kind, int64_t ts,
                        int64_t dur, int64_t pid, int64_t tid) {
  struct spantap_event e = {.kind = kind, .ts = ts, .dur = dur, .pid = pid, .tid = tid};
  assert_int_equal(spantap_span_engine_event(s, &e), 0);
}

static void fork_event(struct spantap_span_engine *s, int64_t ts, int64_t pid, int64_t tid,
                       int64_t child_pid, int64_t child_tid) {
  struct spantap_event e = {.kind = SPANTAP_EV_FORK,
                            .ts = ts,
                            .pid = pid,
                            .tid = tid,
                            .child_pid = child_pid,
                            .child_tid = child_tid};
  assert_int_equal(spantap_span_engine_event(s, &e), 0);
}

static void tcp_close(struct spantap_span_engine *s, int64_t ts, int64_t pid, uint64_t sock) {
  struct spantap_event e = {
      .kind = SPANTAP_EV_TCPSTATE, .ts = ts, .pid = pid, .tid = pid, .sock = sock, .state = 7};
  assert_int_equal(spantap_span_engine_event(s, &e), 0);
}

static const struct spantap_span_row *span_by_id(struct capture *c, int64_t id) {
  for (int i = 0; i < c->nspans; i++)
    if (c->spans[i].id == id)
      return &c->spans[i];
  fail_msg("no span %lld", (long long)id);
  return NULL;
}

static int64_t row_span(struct capture *c, int64_t ts) {
  for (int i = 0; i < c->nrows; i++)
    if (c->rows[i].ts == ts)
      return c->rows[i].span_id;
  fail_msg("no row at ts %lld", (long long)ts);
  return -1;
}

/* ---- tests ------------------------------------------------------------------- */

/* Two requests on one kept connection, served by one thread: two spans, each
 * from the end of its request's read to the end of its response's write; the
 * file read in between counts in the first; the epoll_wait after the response
 * counts in none. */
static void test_keep_alive(void **state) {
  (void)state;
  struct capture c;
  struct spantap_span_engine *s = engine(&c);
  const uint64_t sk = 0xa1;
  sock_call(s, 100, 10, 100, 101, "read", 50, sk, 80, 5555);
  plain_call(s, 120, 30, 100, 101, "pread64", "file");
  sock_call(s, 160, 20, 100, 101, "write", 400, sk, 80, 5555);
  plain_call(s, 200, 1000, 100, 101, "epoll_wait", "net");
  sock_call(s, 1300, 10, 100, 101, "read", 60, sk, 80, 5555);
  sock_call(s, 1320, 10, 100, 101, "write", 500, sk, 80, 5555);
  sock_call(s, 2000, 5, 100, 101, "read", 0, sk, 80, 5555); /* client closed */
  assert_int_equal(spantap_span_engine_finish(s), 0);

  assert_int_equal(c.nspans, 2);
  assert_int_equal(c.ntraces, 2);
  const struct spantap_span_row *a = span_by_id(&c, 1), *b = span_by_id(&c, 2);
  assert_string_equal(c.span_kind[0], "server");
  assert_int_equal(a->start_ns, 110);
  assert_int_equal(a->end_ns, 180);
  assert_int_equal(a->bytes_in, 50);
  assert_int_equal(a->bytes_out, 400);
  assert_int_equal(a->syscalls, 3);
  assert_int_equal(a->file_ns, 30);
  assert_int_equal(a->net_ns, 20); /* the write; the read that opened it waited before */
  assert_int_equal(a->start_stack_id, 100);
  assert_int_equal(a->end_stack_id, 160);
  assert_int_equal(b->start_ns, 1310);
  assert_int_equal(b->end_ns, 1330);
  assert_string_equal(c.span_status[1], "ok");
  assert_int_equal(row_span(&c, 120), 1);
  assert_int_equal(row_span(&c, 200), 0); /* after the response: given back */
  assert_int_equal(row_span(&c, 1300), 2);
  assert_int_equal(row_span(&c, 2000), 0);
  assert_int_equal(c.traces[0].spans, 1);
  assert_int_equal(c.traces[0].depth, 1);
  assert_int_equal(c.traces[0].complete, 1);
  assert_string_equal(c.trace_path[0], "front");
  spantap_span_engine_destroy(s);
}

/* Pipelined requests: read separately, each answered in turn, they are two
 * spans; two requests that arrive in one read are one exchange. */
static void test_pipelined(void **state) {
  (void)state;
  struct capture c;
  struct spantap_span_engine *s = engine(&c);
  sock_call(s, 100, 10, 100, 101, "read", 40, 0xb1, 80, 6000);
  sock_call(s, 120, 10, 100, 101, "write", 100, 0xb1, 80, 6000);
  sock_call(s, 140, 10, 100, 101, "read", 40, 0xb1, 80, 6000);
  sock_call(s, 160, 10, 100, 101, "write", 100, 0xb1, 80, 6000);
  sock_call(s, 200, 10, 100, 102, "read", 80, 0xb2, 80, 6001); /* both requests at once */
  sock_call(s, 220, 10, 100, 102, "write", 100, 0xb2, 80, 6001);
  sock_call(s, 240, 10, 100, 102, "write", 100, 0xb2, 80, 6001);
  assert_int_equal(spantap_span_engine_finish(s), 0);
  assert_int_equal(spantap_span_engine_stats(s)->server_spans, 3);
  assert_int_equal(span_by_id(&c, 3)->bytes_out, 200);
  spantap_span_engine_destroy(s);
}

/* One event-loop thread, two connections interleaved: one span per
 * exchange, each with its own I/O; the file read made between connection 1's
 * request and its response counts there, not in connection 2's span. */
static void test_event_loop(void **state) {
  (void)state;
  struct capture c;
  struct spantap_span_engine *s = engine(&c);
  plain_call(s, 90, 5, 200, 200, "epoll_wait", "net");
  sock_call(s, 100, 5, 200, 200, "read", 30, 0xc1, 81, 7001);
  plain_call(s, 110, 20, 200, 200, "pread64", "file");
  sock_call(s, 140, 5, 200, 200, "read", 30, 0xc2, 81, 7002);
  sock_call(s, 150, 5, 200, 200, "write", 70, 0xc1, 81, 7001);
  sock_call(s, 160, 5, 200, 200, "read", -11, 0xc1, 81, 7001); /* EAGAIN */
  sock_call(s, 170, 5, 200, 200, "write", 80, 0xc2, 81, 7002);
  assert_int_equal(spantap_span_engine_finish(s), 0);
  assert_int_equal(c.nspans, 2);
  const struct spantap_span_row *a = span_by_id(&c, 1), *b = span_by_id(&c, 2);
  assert_int_equal(a->conn_id, 0xc1);
  assert_int_equal(b->conn_id, 0xc2);
  assert_int_equal(a->start_ns, 105);
  assert_int_equal(a->end_ns, 155);
  assert_int_equal(b->start_ns, 145);
  assert_int_equal(b->end_ns, 175);
  assert_int_equal(a->file_ns, 20);
  assert_int_equal(b->file_ns, 0);
  assert_int_equal(row_span(&c, 90), 0);
  assert_int_equal(row_span(&c, 110), 1);
  spantap_span_engine_destroy(s);
}

/* A thread pool: one thread accepts, another serves: the span is the
 * serving thread's, and the acceptor's accept is in no span. */
static void test_thread_pool(void **state) {
  (void)state;
  struct capture c;
  struct spantap_span_engine *s = engine(&c);
  sock_call(s, 100, 10, 100, 101, "accept4", 5, 0xd1, 80, 9000);
  sock_call(s, 200, 10, 100, 102, "read", 30, 0xd1, 80, 9000);
  sock_call(s, 220, 10, 100, 102, "write", 90, 0xd1, 80, 9000);
  sock_call(s, 300, 10, 100, 102, "close", 0, 0xd1, 80, 9000);
  assert_int_equal(spantap_span_engine_finish(s), 0);
  assert_int_equal(c.nspans, 1);
  assert_int_equal(c.spans[0].tid, 102);
  assert_int_equal(c.spans[0].end_ns, 230);
  assert_string_equal(c.span_status[0], "ok");
  assert_int_equal(row_span(&c, 100), 0);
  assert_int_equal(row_span(&c, 300), 0);
  spantap_span_engine_destroy(s);
}

/* front (pid 100) serves a request and calls middle (pid 200) over a kept
 * connection; middle calls store (pid 300). The server spans join the caller's
 * trace through client spans; depth, critical path and services follow. */
static void test_cross_process_trace(void **state) {
  (void)state;
  struct capture c;
  struct spantap_span_engine *s = engine(&c);
  sock_call(s, 100, 10, 100, 101, "read", 100, 0xe1, 8080, 40000); /* client -> front */
  sock_call(s, 120, 5, 100, 101, "connect", 0, 0xe2, 50001, 8081); /* front -> middle */
  sock_call(s, 130, 5, 100, 101, "write", 20, 0xe2, 50001, 8081);
  sock_call(s, 140, 5, 200, 201, "read", 20, 0xe3, 8081, 50001);  /* middle gets it */
  sock_call(s, 150, 5, 200, 201, "write", 10, 0xe4, 50002, 8082); /* middle -> store */
  sock_call(s, 160, 5, 300, 301, "read", 10, 0xe5, 8082, 50002);
  plain_call(s, 170, 50, 300, 301, "fsync", "file");
  sock_call(s, 230, 5, 300, 301, "write", 30, 0xe5, 8082, 50002);
  sock_call(s, 236, 4, 200, 201, "read", 30, 0xe4, 50002, 8082);
  sock_call(s, 245, 5, 200, 201, "write", 40, 0xe3, 8081, 50001);
  sock_call(s, 251, 4, 100, 101, "read", 40, 0xe2, 50001, 8081);
  sock_call(s, 260, 5, 100, 101, "write", 500, 0xe1, 8080, 40000);
  sock_call(s, 400, 5, 100, 101, "close", 0, 0xe1, 8080, 40000);
  assert_int_equal(spantap_span_engine_finish(s), 0);

  assert_int_equal(c.ntraces, 1);
  assert_int_equal(c.nspans, 5);
  const struct spantap_span_row *front = span_by_id(&c, 1), *call1 = span_by_id(&c, 2),
                                *middle = span_by_id(&c, 3), *call2 = span_by_id(&c, 4),
                                *store = span_by_id(&c, 5);
  assert_int_equal(front->parent_id, 0);
  assert_int_equal(call1->parent_id, 1);
  assert_int_equal(middle->parent_id, 2);
  assert_int_equal(call2->parent_id, 3);
  assert_int_equal(store->parent_id, 4);
  assert_int_equal(store->depth, 4);
  assert_int_equal(store->file_ns, 50);
  assert_int_equal(call1->start_ns, 130);
  assert_int_equal(call1->end_ns, 255);
  for (int i = 1; i <= 5; i++)
    assert_int_equal(span_by_id(&c, i)->trace_id, 1);
  assert_int_equal(c.traces[0].depth, 5);
  assert_int_equal(c.traces[0].root_span_id, 1);
  assert_int_equal(c.traces[0].start_ns, 110);
  assert_int_equal(c.traces[0].end_ns, 265);
  assert_string_equal(c.trace_path[0], "front > middle > store");
  assert_string_equal(c.trace_services[0], "front,middle,store");
  assert_int_equal(spantap_span_engine_stats(s)->joined, 2);
  assert_int_equal(c.nedges, 4);
  assert_string_equal(c.edges[0].kind, "calls");
  assert_string_equal(c.edges[1].kind, "serves");
  spantap_span_engine_destroy(s);
}

/* The critical path follows the child that finished last: of two calls
 * made in turn, the second. */
static void test_critical_path(void **state) {
  (void)state;
  struct capture c;
  struct spantap_span_engine *s = engine(&c);
  sock_call(s, 100, 10, 100, 101, "read", 10, 0xf1, 8080, 40000);
  sock_call(s, 120, 5, 100, 101, "write", 10, 0xf2, 50001, 8081); /* call to middle */
  sock_call(s, 130, 5, 200, 201, "read", 10, 0xf3, 8081, 50001);
  sock_call(s, 140, 5, 200, 201, "write", 10, 0xf3, 8081, 50001);
  sock_call(s, 150, 5, 100, 101, "read", 10, 0xf2, 50001, 8081);
  sock_call(s, 160, 5, 100, 101, "write", 10, 0xf4, 50002, 8082); /* call to store */
  sock_call(s, 170, 5, 300, 301, "read", 10, 0xf5, 8082, 50002);
  sock_call(s, 180, 50, 300, 301, "write", 10, 0xf5, 8082, 50002);
  sock_call(s, 240, 5, 100, 101, "read", 10, 0xf4, 50002, 8082);
  sock_call(s, 250, 5, 100, 101, "write", 10, 0xf1, 8080, 40000);
  assert_int_equal(spantap_span_engine_finish(s), 0);
  assert_int_equal(c.ntraces, 1);
  assert_string_equal(c.trace_path[0], "front > store");
  int critical = 0;
  for (int i = 0; i < c.nspans; i++)
    critical += c.spans[i].critical;
  assert_int_equal(critical, 3); /* front, its call to store, store */
  assert_int_equal(span_by_id(&c, 2)->critical, 0);
  spantap_span_engine_destroy(s);
}

/* Fork state: a thread started while serving a request works for it; its
 * syscalls count in the span and a call it makes is the span's child. */
static void test_fork_state(void **state) {
  (void)state;
  struct capture c;
  struct spantap_span_engine *s = engine(&c);
  sock_call(s, 100, 10, 300, 301, "read", 10, 0x11, 8082, 41000);
  fork_event(s, 120, 300, 301, 300, 305);
  plain_call(s, 130, 40, 300, 305, "fsync", "file");
  other_event(s, SPANTAP_EV_PAGEFAULT, 135, 0, 300, 305);
  other_event(s, SPANTAP_EV_OFFCPU, 140, 25, 300, 305);
  sock_call(s, 170, 5, 300, 305, "write", 10, 0x12, 52000, 9999); /* an untraced peer */
  sock_call(s, 180, 5, 300, 305, "read", 10, 0x12, 52000, 9999);
  other_event(s, SPANTAP_EV_EXIT, 190, 0, 300, 305);
  sock_call(s, 200, 5, 300, 301, "write", 10, 0x11, 8082, 41000);
  assert_int_equal(spantap_span_engine_finish(s), 0);
  assert_int_equal(c.ntraces, 1);
  const struct spantap_span_row *server = span_by_id(&c, 1), *call = span_by_id(&c, 2);
  assert_int_equal(server->file_ns, 40);
  assert_int_equal(server->page_faults, 1);
  assert_int_equal(server->offcpu_ns, 25);
  assert_int_equal(server->switches, 1);
  assert_int_equal(call->parent_id, 1);
  assert_int_equal(call->tid, 305);
  assert_int_equal(row_span(&c, 130), 1);
  spantap_span_engine_destroy(s);
}

/* A connection reset in the middle of a request, a response with no request,
 * a reply with no request out, and a request still open when the recording
 * ends: each is counted, none is fatal. */
static void test_inconsistent_input(void **state) {
  (void)state;
  struct capture c;
  struct spantap_span_engine *s = engine(&c);
  sock_call(s, 100, 10, 100, 101, "read", 10, 0x21, 80, 1000);
  tcp_close(s, 120, 100, 0x21); /* reset before any response */
  sock_call(s, 130, 5, 100, 102, "accept", 0, 0x22, 80, 1001);
  sock_call(s, 140, 5, 100, 102, "write", 10, 0x22, 80, 1001); /* response, no request */
  sock_call(s, 150, 5, 100, 103, "connect", 0, 0x23, 50000, 9000);
  sock_call(s, 160, 5, 100, 103, "read", 10, 0x23, 50000, 9000); /* reply, nothing asked */
  sock_call(s, 170, 5, 100, 104, "read", 10, 0x24, 80, 1002);    /* never answered */
  sock_call(s, 180, 5, 100, 104, "write", -32, 0x25, 80, 1003);  /* EPIPE on unknown socket */
  assert_int_equal(spantap_span_engine_finish(s), 0);
  const struct spantap_span_stats *st = spantap_span_engine_stats(s);
  assert_int_equal(st->server_spans, 2);
  assert_int_equal(st->stray_responses, 1);
  assert_int_equal(st->stray_replies, 1);
  assert_int_equal(st->unfinished, 1);
  assert_int_equal(c.nspans, 2);
  assert_string_equal(c.span_status[0], "reset");
  assert_string_equal(c.span_status[1], "unfinished");
  assert_int_equal(c.traces[0].complete, 0);
  spantap_span_engine_destroy(s);
}

/* A server that closes the connection without answering: the span says so. */
static void test_no_response(void **state) {
  (void)state;
  struct capture c;
  struct spantap_span_engine *s = engine(&c);
  sock_call(s, 100, 10, 100, 101, "recvfrom", 10, 0x31, 80, 1000);
  sock_call(s, 130, 5, 100, 101, "close", 0, 0x31, 80, 1000);
  assert_int_equal(spantap_span_engine_finish(s), 0);
  assert_int_equal(c.nspans, 1);
  assert_string_equal(c.span_status[0], "no_response");
  assert_int_equal(spantap_span_engine_stats(s)->no_response, 1);
  spantap_span_engine_destroy(s);
}

/* An IPv4 client reaching a dual-stack IPv6 listener: the server sees
 * ::ffff:127.0.0.1, the client 127.0.0.1; the two ends still join. */
static void test_v4_mapped_join(void **state) {
  (void)state;
  struct capture c;
  struct spantap_span_engine *s = engine(&c);
  sock_call(s, 100, 10, 100, 101, "read", 10, 0x41, 8080, 40000);
  sock_call(s, 120, 5, 100, 101, "write", 10, 0x42, 50001, 8081);
  struct spantap_event e = {.kind = SPANTAP_EV_SYSCALL,
                            .ts = 130,
                            .dur = 5,
                            .pid = 200,
                            .tid = 201,
                            .nr = spantap_syscall_by_name("read"),
                            .ret = 10,
                            .class_name = "net",
                            .sock = 0x43,
                            .conn_id = 0x43,
                            .ends = {.family = 10,
                                     .proto = 6,
                                     .lport = 8081,
                                     .rport = 50001,
                                     .laddr_hi = (int64_t)(0xffff0000ULL | (0x0100007fULL << 32)),
                                     .raddr_hi = (int64_t)(0xffff0000ULL | (0x0100007fULL << 32))}};
  assert_int_equal(spantap_span_engine_event(s, &e), 0);
  assert_int_equal(spantap_span_engine_finish(s), 0);
  assert_int_equal(spantap_span_engine_stats(s)->joined, 1);
  assert_int_equal(c.ntraces, 1);
  spantap_span_engine_destroy(s);
}

/* An event loop reads request A, starts a non-blocking connect for it, then
 * reads request B and sends B's call on a kept connection; when A's connection
 * is up it sends A's call: each call is the child of its own request. */
static void test_event_loop_deferred_connect(void **state) {
  (void)state;
  struct capture c;
  struct spantap_span_engine *s = engine(&c);
  sock_call(s, 100, 5, 200, 200, "read", 10, 0x51, 8081, 50001);      /* request A: span 1 */
  sock_call(s, 110, 5, 200, 200, "connect", -115, 0x52, 49001, 8082); /* EINPROGRESS */
  sock_call(s, 120, 5, 200, 200, "read", 10, 0x53, 8081, 50002);      /* request B: span 2 */
  sock_call(s, 130, 5, 200, 200, "write", 10, 0x54, 49002, 8082);     /* B's call: span 3 */
  sock_call(s, 140, 5, 200, 200, "write", 10, 0x52, 49001, 8082);     /* A's call: span 4 */
  assert_int_equal(spantap_span_engine_finish(s), 0);
  assert_int_equal(span_by_id(&c, 3)->parent_id, 2);
  assert_int_equal(span_by_id(&c, 4)->parent_id, 1);
  spantap_span_engine_destroy(s);
}

/* Events lost while a span is open make it "loss" (and its trace incomplete);
 * a span opened after the loss is not marked. */
static void test_loss_marks_open_spans(void **state) {
  (void)state;
  struct capture c;
  struct spantap_span_engine *s = engine(&c);
  sock_call(s, 100, 10, 100, 101, "read", 10, 0x61, 80, 1000);
  other_event(s, SPANTAP_EV_LOSS, 120, 0, 0, 0);
  sock_call(s, 130, 10, 100, 101, "write", 10, 0x61, 80, 1000);
  sock_call(s, 200, 10, 100, 101, "read", 10, 0x61, 80, 1000);
  sock_call(s, 230, 10, 100, 101, "write", 10, 0x61, 80, 1000);
  assert_int_equal(spantap_span_engine_finish(s), 0);
  assert_int_equal(c.nspans, 2);
  assert_string_equal(c.span_status[0], "loss");
  assert_int_equal(c.traces[0].complete, 0);
  assert_string_equal(c.span_status[1], "ok");
  assert_int_equal(spantap_span_engine_stats(s)->spans_in_loss, 1);
  spantap_span_engine_destroy(s);
}

/* On loopback the server's read can return before the client's write does,
 * so the server span comes first in completion order: once the client's send
 * shows up (begun before that read returned), the server span and its trace
 * join the client's trace. */
static void test_server_read_returns_before_client_write(void **state) {
  (void)state;
  struct capture c;
  struct spantap_span_engine *s = engine(&c);
  sock_call(s, 10, 10, 100, 101, "read", 10, 0x71, 8080, 40000);   /* front's request: span 1 */
  sock_call(s, 90, 40, 200, 201, "read", 20, 0x73, 8081, 50001);   /* middle reads: ends 130 */
  sock_call(s, 100, 50, 100, 101, "write", 20, 0x72, 50001, 8081); /* front's call: ends 150 */
  sock_call(s, 160, 5, 200, 201, "write", 30, 0x73, 8081, 50001);
  sock_call(s, 170, 5, 100, 101, "read", 30, 0x72, 50001, 8081);
  sock_call(s, 180, 5, 100, 101, "write", 99, 0x71, 8080, 40000);
  assert_int_equal(spantap_span_engine_finish(s), 0);
  assert_int_equal(c.ntraces, 1);
  assert_int_equal(spantap_span_engine_stats(s)->traces, 1);
  const struct spantap_span_row *middle = span_by_id(&c, 2), *call = span_by_id(&c, 3);
  assert_int_equal(middle->parent_id, 3);
  assert_int_equal(middle->depth, 2);
  assert_int_equal(call->parent_id, 1);
  assert_int_equal(c.traces[0].root_span_id, 1);
  assert_int_equal(c.traces[0].depth, 3);
  assert_string_equal(c.trace_path[0], "front > middle");
  spantap_span_engine_destroy(s);
}

/* On a kept connection, the server reads the next request before the client's
 * write of it returns, while the client's previous exchange (reply received)
 * is still open: the server span must not join that finished exchange, but the
 * client's next one. */
static void test_next_request_does_not_join_finished_exchange(void **state) {
  (void)state;
  struct capture c;
  struct spantap_span_engine *s = engine(&c);
  sock_call(s, 10, 5, 200, 201, "write", 20, 0x81, 34722, 8082); /* call 1: span 1 */
  sock_call(s, 20, 5, 300, 301, "read", 20, 0x82, 8082, 34722);  /* store: span 2 */
  sock_call(s, 30, 5, 300, 301, "write", 30, 0x82, 8082, 34722);
  sock_call(s, 40, 5, 200, 201, "read", 30, 0x81, 34722, 8082);  /* call 1 has its reply */
  sock_call(s, 95, 10, 300, 301, "read", 20, 0x82, 8082, 34722); /* store reads call 2: ends 105 */
  sock_call(s, 100, 10, 200, 201, "write", 20, 0x81, 34722, 8082); /* call 2 sent: ends 110 */
  sock_call(s, 120, 5, 300, 301, "write", 30, 0x82, 8082, 34722);
  sock_call(s, 130, 5, 200, 201, "read", 30, 0x81, 34722, 8082);
  assert_int_equal(spantap_span_engine_finish(s), 0);
  assert_int_equal(span_by_id(&c, 2)->parent_id, 1);
  assert_int_equal(span_by_id(&c, 3)->parent_id, 4); /* the second store span, of call 2 */
  assert_int_equal(c.ntraces, 2);
  spantap_span_engine_destroy(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_keep_alive),
      cmocka_unit_test(test_pipelined),
      cmocka_unit_test(test_event_loop),
      cmocka_unit_test(test_thread_pool),
      cmocka_unit_test(test_cross_process_trace),
      cmocka_unit_test(test_critical_path),
      cmocka_unit_test(test_fork_state),
      cmocka_unit_test(test_inconsistent_input),
      cmocka_unit_test(test_no_response),
      cmocka_unit_test(test_v4_mapped_join),
      cmocka_unit_test(test_event_loop_deferred_connect),
      cmocka_unit_test(test_loss_marks_open_spans),
      cmocka_unit_test(test_server_read_returns_before_client_write),
      cmocka_unit_test(test_next_request_does_not_join_finished_exchange),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
