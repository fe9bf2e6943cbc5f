/* demo_middle: the event-loop tier of the demo application. One thread runs an
 * epoll loop over non-blocking sockets: requests from demo_front connections
 * are forwarded to demo_store, each front connection over a store connection
 * of its own (connected lazily, without blocking, and kept), and each store
 * reply is written back to the front connection it belongs to. Many requests
 * are in progress at once on the one thread. */
#include "demo/demo_common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

static const char usage[] =
    "Usage: demo_middle [OPTIONS]\n"
    "Event-loop tier of the demo: one thread, epoll, requests from demo_front on\n"
    "127.0.0.1:--middle-port forwarded to demo_store on --store-port.";

enum endpoint_kind { ENDPOINT_LISTENER, ENDPOINT_SIGNALS, ENDPOINT_FRONT, ENDPOINT_STORE };

/* What an epoll event points to: every registered fd starts with this. A
 * closed endpoint stays allocated until the current batch of events is
 * handled, since a later event of the batch may point to it. */
struct endpoint {
  enum endpoint_kind kind;
  int fd;
  uint32_t events; /* the events epoll watches for, to skip needless epoll_ctl */
  bool closed;
  struct endpoint *next_closed;
};

/* Bytes accepted for a non-blocking socket but not yet written. */
struct outbuf {
  size_t len, sent;
  char data[DEMO_LINE_MAX];
};

struct store_link;

/* A connection from demo_front and the request it has in progress (at most
 * one: a further request waits in the input buffer until this one is done). */
struct front_conn {
  struct endpoint ep;
  uint16_t local_port, remote_port;
  bool reading; /* EPOLLIN is wanted (off while the input buffer is full) */
  bool in_flight;
  uint64_t trace_id, request_id, parent_request_id, start_ns;
  struct store_link *store;
  struct outbuf out;
  struct demo_inbuf in;
};

/* The store connection dedicated to one front connection. */
struct store_link {
  struct endpoint ep;
  bool connected;
  struct front_conn *owner;
  struct outbuf out;
  struct demo_inbuf in;
};

struct middle {
  struct demo_options opt;
  int epoll_fd;
  uint32_t pid;
  uint64_t next_request_id;
  bool stopping;
  struct endpoint listener, signals;
  struct endpoint *closed; /* freed after the current batch of events */
  struct demo_truth_log *truth;
  size_t front_conns;
};

static void start_next_request(struct middle *m, struct front_conn *fc);

/* Registers EP with EVENTS (op EPOLL_CTL_ADD), or changes its events (op
 * EPOLL_CTL_MOD; no syscall when they stay the same). Returns 0 or a negative
 * errno (printed). */
static int watch(struct middle *m, struct endpoint *ep, int op, uint32_t events) {
  if (op == EPOLL_CTL_MOD && ep->events == events)
    return 0;
  struct epoll_event ev = {.events = events, .data.ptr = ep};
  if (epoll_ctl(m->epoll_fd, op, ep->fd, &ev) != 0) {
    int err = errno;
    demo_log("Failed to update epoll: fd=%d op=%d events=0x%x errno=%d (%s)", ep->fd, op, events,
             err, strerror(err));
    return -err;
  }
  ep->events = events;
  return 0;
}

/* Closes EP's socket (which leaves the epoll set) and queues EP to be freed
 * once the current batch of events is handled. */
static void retire(struct middle *m, struct endpoint *ep) {
  close(ep->fd);
  ep->fd = -1;
  ep->closed = true;
  ep->next_closed = m->closed;
  m->closed = ep;
}

/* Frees the endpoints retired during the last batch. */
static void free_retired(struct middle *m) {
  while (m->closed) {
    struct endpoint *ep = m->closed;
    m->closed = ep->next_closed;
    free(ep);
  }
}

/* Writes what OUT holds to the non-blocking FD. Returns 1 when all of it is
 * written, 0 when the socket is full (the rest stays), or a negative errno. */
static int outbuf_flush(struct outbuf *out, int fd) {
  while (out->sent < out->len) {
    ssize_t n = write(fd, out->data + out->sent, out->len - out->sent);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return errno == EAGAIN ? 0 : -errno;
    }
    out->sent += (size_t)n;
  }
  out->len = out->sent = 0;
  return 1;
}

/* Closes the store link (no-op for NULL); the front connection opens a new
 * one for its next request. */
static void close_store_link(struct middle *m, struct store_link *s) {
  if (!s)
    return;
  s->owner->store = NULL;
  retire(m, &s->ep);
}

/* Closes the front connection and its store link. */
static void close_front(struct middle *m, struct front_conn *fc) {
  close_store_link(m, fc->store);
  retire(m, &fc->ep);
  m->front_conns--;
}

/* The reply for the request in progress is fully written: log it, then start
 * the next request if one is buffered. */
static void finish_request(struct middle *m, struct front_conn *fc) {
  uint64_t end_ns = demo_now_ns();
  demo_truth_log_add(m->truth, &(struct demo_truth_record){
                                   .pid = m->pid,
                                   .tid = demo_thread_id(),
                                   .local_port = fc->local_port,
                                   .remote_port = fc->remote_port,
                                   .trace_id = fc->trace_id,
                                   .request_id = fc->request_id,
                                   .parent_request_id = fc->parent_request_id,
                                   .start_ns = fc->start_ns,
                                   .end_ns = end_ns,
                               });
  fc->in_flight = false;
  start_next_request(m, fc);
}

/* Queues the reply LINE (LEN bytes) for the front connection and writes it.
 * Returns 0, or -1 when the front connection failed and was closed. */
static int reply_to_front(struct middle *m, struct front_conn *fc, const char *line, size_t len) {
  if (len > sizeof fc->out.data)
    len = sizeof fc->out.data;
  memcpy(fc->out.data, line, len);
  fc->out.len = len;
  fc->out.sent = 0;
  int rc = outbuf_flush(&fc->out, fc->ep.fd);
  if (rc < 0) {
    if (rc != -EPIPE && rc != -ECONNRESET)
      demo_log("Failed to answer front: remote_port=%u trace_id=%" PRIu64 " errno=%d (%s)",
               fc->remote_port, fc->trace_id, -rc, strerror(-rc));
    close_front(m, fc);
    return -1;
  }
  if (rc == 0) /* the rest goes out when the socket drains */
    return watch(m, &fc->ep, EPOLL_CTL_MOD, (fc->reading ? EPOLLIN : 0) | EPOLLOUT) == 0 ? 0 : -1;
  finish_request(m, fc);
  return 0;
}

/* Answers the request in progress with an error line (store unreachable). */
static void fail_request(struct middle *m, struct front_conn *fc, const char *reason) {
  char line[DEMO_LINE_MAX];
  int len = snprintf(line, sizeof line, "ERR %" PRIu64 " %s\n", fc->trace_id, reason);
  reply_to_front(m, fc, line, (size_t)len);
}

/* Opens the store link of FC with a non-blocking connect and registers it.
 * Returns 0 or a negative errno (printed). */
static int open_store_link(struct middle *m, struct front_conn *fc) {
  struct store_link *s = calloc(1, sizeof *s);
  if (!s)
    return -ENOMEM;
  int fd = -1;
  int rc = demo_connect_tcp(m->opt.store_port, true, &fd);
  if (rc < 0 && rc != -EINPROGRESS) {
    demo_log("Failed to connect to store: port=%u errno=%d (%s)", m->opt.store_port, -rc,
             strerror(-rc));
    free(s);
    return rc;
  }
  s->ep = (struct endpoint){.kind = ENDPOINT_STORE, .fd = fd};
  s->connected = rc == 0;
  s->owner = fc;
  if (watch(m, &s->ep, EPOLL_CTL_ADD, EPOLLIN | EPOLLOUT) != 0) {
    close(fd);
    free(s);
    return -EIO;
  }
  fc->store = s;
  return 0;
}

/* Sends the store link's pending request once it is connected. Returns 0, or
 * a negative errno when the link failed (the caller closes it). */
static int flush_store(struct middle *m, struct store_link *s) {
  if (!s->connected)
    return 0;
  int rc = outbuf_flush(&s->out, s->ep.fd);
  if (rc < 0)
    return rc;
  return watch(m, &s->ep, EPOLL_CTL_MOD, EPOLLIN | (rc == 0 ? EPOLLOUT : 0));
}

/* When no request is in progress on FC and a complete one is buffered,
 * starts it: forwards it to the store over FC's store link. */
static void start_next_request(struct middle *m, struct front_conn *fc) {
  if (fc->in_flight)
    return;
  if (!fc->reading) { /* the buffer has room again */
    fc->reading = true;
    if (watch(m, &fc->ep, EPOLL_CTL_MOD, EPOLLIN) != 0) {
      close_front(m, fc);
      return;
    }
  }
  size_t frame = demo_inbuf_frame(&fc->in, "\n");
  if (frame == 0)
    return;
  struct demo_request req;
  bool valid = demo_request_parse(fc->in.data, frame, &req) == 0;
  fc->start_ns = fc->in.first_ns;
  demo_inbuf_consume(&fc->in, frame);
  fc->in_flight = true;
  fc->trace_id = valid ? req.trace_id : 0;
  fc->parent_request_id = valid ? req.request_id : 0;
  fc->request_id = m->next_request_id++;
  if (!valid) {
    fail_request(m, fc, "bad-request");
    return;
  }
  if (!fc->store && open_store_link(m, fc) != 0) {
    fail_request(m, fc, "store-unavailable");
    return;
  }
  struct store_link *s = fc->store;
  s->out.len = demo_request_format(s->out.data, req.trace_id, fc->request_id, req.key);
  s->out.sent = 0;
  int rc = flush_store(m, s);
  if (rc < 0) {
    demo_log("Failed to send to store: port=%u trace_id=%" PRIu64 " errno=%d (%s)",
             m->opt.store_port, req.trace_id, -rc, strerror(-rc));
    close_store_link(m, s);
    fail_request(m, fc, "store-unavailable");
  }
}

/* Accepts every pending connection from demo_front. */
static void on_listener(struct middle *m) {
  for (;;) {
    struct sockaddr_in peer;
    socklen_t peer_len = sizeof peer;
    int fd =
        accept4(m->listener.fd, (struct sockaddr *)&peer, &peer_len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      if (err != EAGAIN && err != EINTR && err != ECONNABORTED)
        demo_log("Failed to accept: port=%u errno=%d (%s)", m->opt.middle_port, err, strerror(err));
      return;
    }
    demo_set_nodelay(fd);
    struct front_conn *fc = calloc(1, sizeof *fc);
    if (!fc) {
      demo_log("Failed to allocate a connection: remote_port=%u", ntohs(peer.sin_port));
      close(fd);
      continue;
    }
    fc->ep = (struct endpoint){.kind = ENDPOINT_FRONT, .fd = fd};
    fc->local_port = m->opt.middle_port;
    fc->remote_port = ntohs(peer.sin_port);
    fc->reading = true;
    if (watch(m, &fc->ep, EPOLL_CTL_ADD, EPOLLIN) != 0) {
      close(fd);
      free(fc);
      continue;
    }
    m->front_conns++;
  }
}

/* Events on a front connection: request bytes, or room to finish a reply. */
static void on_front(struct middle *m, struct front_conn *fc, uint32_t events) {
  if (events & EPOLLOUT) {
    int rc = outbuf_flush(&fc->out, fc->ep.fd);
    if (rc < 0) {
      close_front(m, fc);
      return;
    }
    if (rc == 1) {
      if (watch(m, &fc->ep, EPOLL_CTL_MOD, fc->reading ? EPOLLIN : 0) != 0) {
        close_front(m, fc);
        return;
      }
      finish_request(m, fc); /* may close fc: return right after */
      return;
    }
  }
  if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
    return;
  ssize_t n = demo_inbuf_read(&fc->in, fc->ep.fd);
  if (n == -EAGAIN || n == -EINTR)
    return;
  if (n == -ENOBUFS) { /* a request longer than the buffer, or a pipeline: wait */
    if (!fc->in_flight) {
      demo_log("Request too long: remote_port=%u bytes=%zu", fc->remote_port, fc->in.len);
      close_front(m, fc);
      return;
    }
    fc->reading = false;
    if (watch(m, &fc->ep, EPOLL_CTL_MOD, fc->out.len ? EPOLLOUT : 0) != 0)
      close_front(m, fc);
    return;
  }
  if (n <= 0) { /* closed by demo_front (or failed) */
    if (n < 0 && n != -ECONNRESET)
      demo_log("Failed to read from front: remote_port=%u errno=%d (%s)", fc->remote_port, (int)-n,
               strerror((int)-n));
    close_front(m, fc);
    return;
  }
  start_next_request(m, fc);
}

/* Events on a store link: connect completion, request sent, reply bytes. */
static void on_store(struct middle *m, struct store_link *s, uint32_t events) {
  struct front_conn *fc = s->owner;
  if (!s->connected && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
    int rc = demo_socket_error(s->ep.fd);
    if (rc != 0) {
      demo_log("Failed to connect to store: port=%u errno=%d (%s)", m->opt.store_port, -rc,
               strerror(-rc));
      close_store_link(m, s);
      if (fc->in_flight)
        fail_request(m, fc, "store-unavailable");
      return;
    }
    s->connected = true;
  }
  if (events & EPOLLOUT) {
    int rc = flush_store(m, s);
    if (rc < 0) {
      demo_log("Failed to send to store: port=%u trace_id=%" PRIu64 " errno=%d (%s)",
               m->opt.store_port, fc->trace_id, -rc, strerror(-rc));
      close_store_link(m, s);
      if (fc->in_flight)
        fail_request(m, fc, "store-unavailable");
      return;
    }
  }
  if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
    return;
  ssize_t n = demo_inbuf_read(&s->in, s->ep.fd);
  if (n == -EAGAIN || n == -EINTR)
    return;
  if (n <= 0) {
    if (n < 0)
      demo_log("Failed to read from store: port=%u errno=%d (%s)", m->opt.store_port, (int)-n,
               strerror((int)-n));
    close_store_link(m, s);
    if (fc->in_flight)
      fail_request(m, fc, "store-closed");
    return;
  }
  size_t frame = demo_inbuf_frame(&s->in, "\n");
  if (frame == 0)
    return;
  char line[DEMO_LINE_MAX];
  size_t len = frame < sizeof line ? frame : sizeof line;
  memcpy(line, s->in.data, len);
  demo_inbuf_consume(&s->in, frame);
  if (fc->in_flight) /* otherwise a stray reply: dropped */
    reply_to_front(m, fc, line, len);
}

/* Runs the loop until a stop signal arrives. Returns 0, or 1 when epoll
 * itself failed. */
static int run_loop(struct middle *m) {
  struct epoll_event events[64];
  while (!m->stopping) {
    int n = epoll_wait(m->epoll_fd, events, 64, -1);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      demo_log("Failed to wait for events: errno=%d (%s)", errno, strerror(errno));
      return 1;
    }
    for (int i = 0; i < n; i++) {
      struct endpoint *ep = events[i].data.ptr;
      if (ep->closed)
        continue;
      switch (ep->kind) {
        case ENDPOINT_LISTENER:
          on_listener(m);
          break;
        case ENDPOINT_SIGNALS:
          m->stopping = true;
          break;
        case ENDPOINT_FRONT:
          on_front(m, (struct front_conn *)ep, events[i].events);
          break;
        case ENDPOINT_STORE:
          on_store(m, (struct store_link *)ep, events[i].events);
          break;
      }
    }
    free_retired(m);
  }
  return 0;
}

int main(int argc, char **argv) {
  struct middle m = {.epoll_fd = -1,
                     .listener = {.kind = ENDPOINT_LISTENER, .fd = -1},
                     .signals = {.kind = ENDPOINT_SIGNALS, .fd = -1},
                     .next_request_id = 1};
  int rc = demo_options_parse(argc, argv, 0, usage, &m.opt);
  if (rc != 0)
    return rc > 0 ? 0 : 2;
  sigset_t stop_signals;
  if (demo_stop_signals_block(&stop_signals) != 0)
    return 1;
  m.pid = (uint32_t)getpid();
  int status = 1;
  if (m.opt.truth_path &&
      demo_truth_log_create("demo_middle", m.opt.truth_capacity, &m.truth) != 0) {
    demo_log("Failed to allocate the truth log: truth_capacity=%zu", m.opt.truth_capacity);
    goto cleanup;
  }
  m.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  m.signals.fd = signalfd(-1, &stop_signals, SFD_NONBLOCK | SFD_CLOEXEC);
  if (m.epoll_fd < 0 || m.signals.fd < 0) {
    demo_log("Failed to create the event loop: epoll_fd=%d signal_fd=%d errno=%d (%s)", m.epoll_fd,
             m.signals.fd, errno, strerror(errno));
    goto cleanup;
  }
  if (demo_listen_tcp(m.opt.middle_port, true, &m.listener.fd) != 0 ||
      watch(&m, &m.listener, EPOLL_CTL_ADD, EPOLLIN) != 0 ||
      watch(&m, &m.signals, EPOLL_CTL_ADD, EPOLLIN) != 0)
    goto cleanup;
  status = run_loop(&m);
  if (m.truth && demo_truth_log_write(m.truth, m.opt.truth_path) != 0)
    status = 1;

cleanup:
  if (m.listener.fd >= 0)
    close(m.listener.fd);
  if (m.signals.fd >= 0)
    close(m.signals.fd);
  if (m.epoll_fd >= 0)
    close(m.epoll_fd);
  demo_truth_log_destroy(m.truth);
  return status;
}
