/* demo_front: the HTTP tier of the demo application. An acceptor thread hands
 * each accepted connection through a queue to a pool of worker threads; a
 * worker serves the connection's requests (HTTP/1.1, or HTTP/1.0 with
 * keep-alive) until the client closes it, asking demo_middle for each one over
 * a persistent connection the worker owns. */
#include "demo/demo_common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static const char usage[] =
    "Usage: demo_front [OPTIONS]\n"
    "HTTP tier of the demo: GET /item/<key> on 127.0.0.1:--front-port, answered\n"
    "through demo_middle (--middle-port) by a pool of worker threads.\n"
    "  --workers N         worker threads (default 4); a keep-alive connection\n"
    "                      holds its worker until the client closes it";

/* A connection waiting for a worker. */
struct accepted_conn {
  int fd;
  uint16_t remote_port;
};

/* Bounded FIFO from the acceptor to the workers. */
struct conn_queue {
  pthread_mutex_t lock;
  pthread_cond_t not_empty, not_full;
  bool closed;
  size_t head, count;
  struct accepted_conn slots[256];
};

struct front {
  struct demo_options opt;
  int listen_fd;
  uint32_t pid;
  atomic_bool stopping;
  atomic_uint_fast64_t next_request_id;
  struct conn_queue queue;
  /* Every socket a worker may block on (clients and middle connections), so
   * that a stop can wake the workers. */
  struct demo_conn_registry *sockets;
  struct demo_truth_log *truth;
};

struct worker {
  struct front *front;
  pthread_t thread;
  int middle_fd; /* -1 until the first request needs it */
  struct demo_inbuf client_in;
  struct demo_inbuf middle_in;
};

/* What the worker needs from one parsed HTTP request. */
struct http_request {
  char key[DEMO_KEY_MAX + 1];
  size_t content_length;
  bool keep_alive;
};

/* Initializes an empty, open queue. */
static void conn_queue_init(struct conn_queue *q) {
  pthread_mutex_init(&q->lock, NULL);
  pthread_cond_init(&q->not_empty, NULL);
  pthread_cond_init(&q->not_full, NULL);
  q->closed = false;
  q->head = q->count = 0;
}

/* Appends C, waiting while the queue is full. Returns 0, or -ECANCELED when
 * the queue was closed (C stays the caller's). */
static int conn_queue_push(struct conn_queue *q, struct accepted_conn c) {
  size_t cap = sizeof q->slots / sizeof q->slots[0];
  pthread_mutex_lock(&q->lock);
  while (q->count == cap && !q->closed)
    pthread_cond_wait(&q->not_full, &q->lock);
  int rc = -ECANCELED;
  if (!q->closed) {
    q->slots[(q->head + q->count++) % cap] = c;
    pthread_cond_signal(&q->not_empty);
    rc = 0;
  }
  pthread_mutex_unlock(&q->lock);
  return rc;
}

/* Takes the oldest connection into *OUT, waiting while the queue is empty.
 * Returns 0, or -ECANCELED once the queue is closed. */
static int conn_queue_pop(struct conn_queue *q, struct accepted_conn *out) {
  size_t cap = sizeof q->slots / sizeof q->slots[0];
  pthread_mutex_lock(&q->lock);
  while (q->count == 0 && !q->closed)
    pthread_cond_wait(&q->not_empty, &q->lock);
  int rc = -ECANCELED;
  if (!q->closed) {
    *out = q->slots[q->head];
    q->head = (q->head + 1) % cap;
    q->count--;
    pthread_cond_signal(&q->not_full);
    rc = 0;
  }
  pthread_mutex_unlock(&q->lock);
  return rc;
}

/* Closes the queue: waiters return -ECANCELED; connections still queued are
 * closed here since no worker will take them. */
static void conn_queue_close(struct conn_queue *q) {
  size_t cap = sizeof q->slots / sizeof q->slots[0];
  pthread_mutex_lock(&q->lock);
  q->closed = true;
  for (; q->count > 0; q->count--, q->head = (q->head + 1) % cap)
    close(q->slots[q->head].fd);
  pthread_cond_broadcast(&q->not_empty);
  pthread_cond_broadcast(&q->not_full);
  pthread_mutex_unlock(&q->lock);
}

/* True when the comma-separated header value VALUE (LEN bytes) holds TOKEN,
 * ignoring case. */
static bool header_has_token(const char *value, size_t len, const char *token) {
  size_t tlen = strlen(token);
  for (size_t i = 0; i + tlen <= len; i++)
    if (strncasecmp(value + i, token, tlen) == 0)
      return true;
  return false;
}

/* Parses the request head HEAD (LEN bytes, ending in the blank line) into
 * *OUT. Returns 0, or -EINVAL when it is not an HTTP/1.x request. */
static int parse_http_request(const char *head, size_t len, struct http_request *out) {
  const char *line_end = memmem(head, len, "\r\n", 2);
  if (!line_end)
    return -EINVAL;
  /* Request line: METHOD SP TARGET SP HTTP/1.x */
  const char *sp1 = memchr(head, ' ', (size_t)(line_end - head));
  if (!sp1)
    return -EINVAL;
  const char *target = sp1 + 1;
  const char *sp2 = memchr(target, ' ', (size_t)(line_end - target));
  if (!sp2 || line_end - sp2 != 9 || strncmp(sp2 + 1, "HTTP/1.", 7) != 0)
    return -EINVAL;
  bool http11 = sp2[8] == '1';
  size_t target_len = (size_t)(sp2 - target);
  static const char item_prefix[] = "/item/";
  if (target_len > sizeof item_prefix - 1 &&
      strncmp(target, item_prefix, sizeof item_prefix - 1) == 0) {
    target += sizeof item_prefix - 1;
    target_len -= sizeof item_prefix - 1;
  }
  size_t key_len = 0;
  for (size_t i = 0; i < target_len && key_len < DEMO_KEY_MAX; i++)
    if ((unsigned char)target[i] > ' ')
      out->key[key_len++] = target[i];
  if (key_len == 0)
    out->key[key_len++] = '/';
  out->key[key_len] = '\0';

  out->content_length = 0;
  out->keep_alive = http11;
  const char *end = head + len;
  for (const char *line = line_end + 2; line < end;) {
    const char *eol = memmem(line, (size_t)(end - line), "\r\n", 2);
    if (!eol || eol == line)
      break;
    const char *colon = memchr(line, ':', (size_t)(eol - line));
    if (colon) {
      size_t name_len = (size_t)(colon - line);
      const char *value = colon + 1;
      size_t value_len = (size_t)(eol - value);
      if (name_len == 10 && strncasecmp(line, "Connection", 10) == 0) {
        if (header_has_token(value, value_len, "close"))
          out->keep_alive = false;
        else if (header_has_token(value, value_len, "keep-alive"))
          out->keep_alive = true;
      } else if (name_len == 14 && strncasecmp(line, "Content-Length", 14) == 0) {
        out->content_length = strtoul(value, NULL, 10);
      }
    }
    line = eol + 2;
  }
  return 0;
}

/* Closes the worker's connection to the middle tier (reopened on next use). */
static void drop_middle(struct worker *w) {
  if (w->middle_fd >= 0) {
    demo_conn_registry_remove(w->front->sockets, w->middle_fd);
    close(w->middle_fd);
  }
  w->middle_fd = -1;
  w->middle_in.len = 0;
}

/* Asks the middle tier for KEY on the worker's connection (opened now if
 * needed): one write, then reads the reply line. Copies the 16-hex-digit
 * value into VALUE. Returns 0, or a negative errno after printing what failed
 * (the connection is then dropped). */
static int call_middle(struct worker *w, uint64_t trace_id, uint64_t request_id, const char *key,
                       char value[17]) {
  struct front *f = w->front;
  if (w->middle_fd < 0) {
    int rc = demo_connect_tcp(f->opt.middle_port, false, &w->middle_fd);
    if (rc < 0) {
      w->middle_fd = -1;
      demo_log("Failed to connect to middle: port=%u errno=%d (%s)", f->opt.middle_port, -rc,
               strerror(-rc));
      return rc;
    }
    rc = demo_conn_registry_add(f->sockets, w->middle_fd);
    if (rc < 0) { /* stopping */
      close(w->middle_fd);
      w->middle_fd = -1;
      return rc;
    }
  }
  char line[DEMO_LINE_MAX];
  size_t len = demo_request_format(line, trace_id, request_id, key);
  int rc = demo_write_all(w->middle_fd, line, len);
  if (rc < 0) {
    demo_log("Failed to send to middle: port=%u trace_id=%" PRIu64 " errno=%d (%s)",
             f->opt.middle_port, trace_id, -rc, strerror(-rc));
    drop_middle(w);
    return rc;
  }
  ssize_t frame = demo_inbuf_fill_until(&w->middle_in, w->middle_fd, "\n");
  if (frame <= 0) {
    if (atomic_load(&f->stopping))
      ; /* woken by the stop: nothing to report */
    else if (frame == 0 || frame == -EPROTO)
      demo_log("Middle closed the connection before replying: port=%u trace_id=%" PRIu64,
               f->opt.middle_port, trace_id);
    else
      demo_log("Failed to read the reply of middle: port=%u trace_id=%" PRIu64 " errno=%d (%s)",
               f->opt.middle_port, trace_id, (int)-frame, strerror((int)-frame));
    drop_middle(w);
    return frame == 0 ? -EPIPE : (int)frame;
  }
  char reply[DEMO_LINE_MAX];
  size_t reply_len = (size_t)frame < sizeof reply ? (size_t)frame - 1 : sizeof reply - 1;
  memcpy(reply, w->middle_in.data, reply_len);
  reply[reply_len] = '\0';
  demo_inbuf_consume(&w->middle_in, (size_t)frame);
  uint64_t reply_trace = 0;
  char reply_value[17] = "";
  int fields = sscanf(reply, "OK %" SCNu64 " %16[0-9a-f]", &reply_trace, reply_value);
  if (fields != 2 || reply_trace != trace_id || strlen(reply_value) != 16) {
    demo_log("Middle answered an error or another request: trace_id=%" PRIu64 " reply='%s'",
             trace_id, reply);
    return -EPROTO;
  }
  memcpy(value, reply_value, 17);
  return 0;
}

/* Serves the requests of one client connection until it closes, fails, or
 * asks not to be kept alive. */
static void serve_client(struct worker *w, const struct accepted_conn *c) {
  struct front *f = w->front;
  struct demo_inbuf *in = &w->client_in;
  in->len = 0;
  for (;;) {
    ssize_t head = demo_inbuf_fill_until(in, c->fd, "\r\n\r\n");
    if (head == 0)
      return; /* the client closed between requests */
    if (head < 0) {
      if (!atomic_load(&f->stopping) && head != -ECONNRESET)
        demo_log("Failed to read a request: remote_port=%u errno=%d (%s)", c->remote_port,
                 (int)-head, strerror((int)-head));
      return;
    }
    uint64_t start_ns = in->first_ns;
    struct http_request req;
    if (parse_http_request(in->data, (size_t)head, &req) != 0) {
      static const char bad[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                                "Connection: close\r\n\r\n";
      demo_write_all(c->fd, bad, sizeof bad - 1);
      return;
    }
    /* The body, if any, is read and ignored. */
    if (req.content_length > 0 &&
        demo_inbuf_fill_to(in, c->fd, (size_t)head + req.content_length) != 0)
      return;
    demo_inbuf_consume(in, (size_t)head + req.content_length);

    uint64_t request_id = atomic_fetch_add(&f->next_request_id, 1);
    uint64_t trace_id = (uint64_t)f->pid << 32 | request_id;
    char value[17];
    char body[DEMO_KEY_MAX + 64];
    const char *status = "200 OK";
    int body_len;
    if (call_middle(w, trace_id, request_id, req.key, value) == 0) {
      body_len = snprintf(body, sizeof body, "item=%s value=%s\n", req.key, value);
    } else {
      status = "502 Bad Gateway";
      body_len = snprintf(body, sizeof body, "middle tier failed\n");
    }
    char response[DEMO_KEY_MAX + 256];
    int len = snprintf(response, sizeof response,
                       "HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                       "Connection: %s\r\n\r\n%s",
                       status, body_len, req.keep_alive ? "keep-alive" : "close", body);
    if (demo_write_all(c->fd, response, (size_t)len) != 0)
      return;
    uint64_t end_ns = demo_now_ns();
    demo_truth_log_add(f->truth, &(struct demo_truth_record){
                                     .pid = f->pid,
                                     .tid = demo_thread_id(),
                                     .local_port = f->opt.front_port,
                                     .remote_port = c->remote_port,
                                     .trace_id = trace_id,
                                     .request_id = request_id,
                                     .parent_request_id = 0,
                                     .start_ns = start_ns,
                                     .end_ns = end_ns,
                                 });
    if (!req.keep_alive)
      return;
  }
}

/* Worker thread: serves queued connections until the queue closes. */
static void *worker_main(void *arg) {
  struct worker *w = arg;
  struct front *f = w->front;
  struct accepted_conn c;
  while (conn_queue_pop(&f->queue, &c) == 0) {
    if (demo_conn_registry_add(f->sockets, c.fd) == 0) {
      serve_client(w, &c);
      demo_conn_registry_remove(f->sockets, c.fd);
    }
    close(c.fd);
  }
  drop_middle(w);
  return NULL;
}

/* Acceptor thread: accepts until the listening socket is shut down. */
static void *acceptor_main(void *arg) {
  struct front *f = arg;
  while (!atomic_load(&f->stopping)) {
    struct sockaddr_in peer;
    socklen_t peer_len = sizeof peer;
    int fd = accept4(f->listen_fd, (struct sockaddr *)&peer, &peer_len, SOCK_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      if (atomic_load(&f->stopping))
        break;
      if (err == EINTR || err == ECONNABORTED)
        continue;
      demo_log("Failed to accept: port=%u errno=%d (%s)", f->opt.front_port, err, strerror(err));
      if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
        usleep(10000);
        continue;
      }
      break;
    }
    demo_set_nodelay(fd);
    if (conn_queue_push(&f->queue, (struct accepted_conn){fd, ntohs(peer.sin_port)}) != 0) {
      close(fd);
      break;
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  struct front f = {.listen_fd = -1};
  int rc = demo_options_parse(argc, argv, DEMO_OPT_WORKERS, usage, &f.opt);
  if (rc != 0)
    return rc > 0 ? 0 : 2;
  sigset_t stop_signals;
  if (demo_stop_signals_block(&stop_signals) != 0)
    return 1;
  f.pid = (uint32_t)getpid();
  atomic_init(&f.stopping, false);
  atomic_init(&f.next_request_id, 1);
  conn_queue_init(&f.queue);

  int status = 1;
  struct worker *workers = calloc(f.opt.workers, sizeof *workers);
  pthread_t acceptor;
  unsigned started = 0;
  bool acceptor_started = false;
  if (!workers || demo_conn_registry_create(&f.sockets) != 0 ||
      (f.opt.truth_path &&
       demo_truth_log_create("demo_front", f.opt.truth_capacity, &f.truth) != 0)) {
    demo_log("Failed to allocate: workers=%u truth_capacity=%zu", f.opt.workers,
             f.opt.truth_capacity);
    goto cleanup;
  }
  if (demo_listen_tcp(f.opt.front_port, false, &f.listen_fd) != 0)
    goto cleanup;
  for (; started < f.opt.workers; started++) {
    workers[started] = (struct worker){.front = &f, .middle_fd = -1};
    rc = pthread_create(&workers[started].thread, NULL, worker_main, &workers[started]);
    if (rc != 0) {
      demo_log("Failed to start a worker thread: index=%u errno=%d (%s)", started, rc,
               strerror(rc));
      goto stop;
    }
  }
  rc = pthread_create(&acceptor, NULL, acceptor_main, &f);
  if (rc != 0) {
    demo_log("Failed to start the acceptor thread: errno=%d (%s)", rc, strerror(rc));
    goto stop;
  }
  acceptor_started = true;

  demo_stop_signal_wait(&stop_signals);
  status = 0;

stop:
  /* Stop accepting, release idle workers, wake busy ones, then join all. */
  atomic_store(&f.stopping, true);
  shutdown(f.listen_fd, SHUT_RDWR);
  if (acceptor_started)
    pthread_join(acceptor, NULL);
  conn_queue_close(&f.queue);
  demo_conn_registry_shutdown_all(f.sockets);
  for (unsigned i = 0; i < started; i++)
    pthread_join(workers[i].thread, NULL);
  if (f.truth && demo_truth_log_write(f.truth, f.opt.truth_path) != 0)
    status = 1;

cleanup:
  if (f.listen_fd >= 0)
    close(f.listen_fd);
  demo_truth_log_destroy(f.truth);
  demo_conn_registry_destroy(f.sockets);
  free(workers);
  return status;
}
