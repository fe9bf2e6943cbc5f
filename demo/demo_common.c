/* Shared pieces of the demo services (see demo_common.h). Nothing here makes
 * a syscall on a request's path except the socket reads and writes the
 * request itself needs: the truth log and thread ids are memory only. */
#include "demo/demo_common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- ground truth ------------------------------------------------------ */

/* Prints "<program>: " and the message to stderr, whatever demo_log's limit:
 * for the once-per-run messages about the truth file. */
static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "%s: ", program_invocation_short_name);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

struct demo_truth_log {
  const char *service;
  size_t capacity;
  atomic_size_t next; /* slots handed out; may exceed capacity */
  atomic_size_t dropped;
  struct demo_truth_record *records;
};

int demo_truth_log_create(const char *service, size_t capacity, struct demo_truth_log **out) {
  struct demo_truth_log *log = calloc(1, sizeof *log);
  if (!log)
    return -ENOMEM;
  /* calloc of this size maps fresh zero pages: only the records written get
   * memory, and no allocation happens later on a request's path. */
  log->records = calloc(capacity ? capacity : 1, sizeof *log->records);
  if (!log->records) {
    free(log);
    return -ENOMEM;
  }
  log->service = service;
  log->capacity = capacity;
  atomic_init(&log->next, 0);
  atomic_init(&log->dropped, 0);
  *out = log;
  return 0;
}

void demo_truth_log_add(struct demo_truth_log *log, const struct demo_truth_record *record) {
  if (!log)
    return;
  size_t slot = atomic_fetch_add_explicit(&log->next, 1, memory_order_relaxed);
  if (slot >= log->capacity) {
    atomic_fetch_add_explicit(&log->dropped, 1, memory_order_relaxed);
    return;
  }
  log->records[slot] = *record;
}

size_t demo_truth_log_count(const struct demo_truth_log *log) {
  if (!log)
    return 0;
  size_t n = atomic_load(&((struct demo_truth_log *)log)->next);
  return n < log->capacity ? n : log->capacity;
}

int demo_truth_log_write(const struct demo_truth_log *log, const char *path) {
  FILE *f = fopen(path, "w");
  if (!f) {
    int err = errno;
    report("Failed to open the truth file: path=%s errno=%d (%s)", path, err, strerror(err));
    return -err;
  }
  fputs("service,pid,tid,local_port,remote_port,trace_id,request_id,parent_request_id,"
        "start_ns,end_ns\n",
        f);
  size_t n = demo_truth_log_count(log);
  for (size_t i = 0; i < n; i++) {
    const struct demo_truth_record *r = &log->records[i];
    fprintf(f,
            "%s,%" PRIu32 ",%" PRIu32 ",%u,%u,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
            ",%" PRIu64 "\n",
            log->service, r->pid, r->tid, r->local_port, r->remote_port, r->trace_id, r->request_id,
            r->parent_request_id, r->start_ns, r->end_ns);
  }
  int failed = ferror(f);
  if (fclose(f) != 0 || failed) {
    int err = errno ? errno : EIO;
    report("Failed to write the truth file: path=%s records=%zu errno=%d (%s)", path, n, err,
           strerror(err));
    return -err;
  }
  size_t dropped = atomic_load(&((struct demo_truth_log *)log)->dropped);
  if (dropped)
    report("truth log full: capacity=%zu dropped=%zu (raise --truth-capacity)", log->capacity,
           dropped);
  return 0;
}

void demo_truth_log_destroy(struct demo_truth_log *log) {
  if (!log)
    return;
  free(log->records);
  free(log);
}

uint64_t demo_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint32_t demo_thread_id(void) {
  static __thread uint32_t cached;
  if (!cached)
    cached = (uint32_t)gettid();
  return cached;
}

/* ---- sockets ----------------------------------------------------------- */

/* The address 127.0.0.1:PORT. */
static struct sockaddr_in loopback(uint16_t port) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

int demo_listen_tcp(uint16_t port, bool nonblocking, int *out_fd) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) {
    int err = errno;
    demo_log("Failed to create the listening socket: port=%u errno=%d (%s)", port, err,
             strerror(err));
    return -err;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = loopback(port);
  if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 1024) != 0) {
    int err = errno;
    demo_log("Failed to listen: addr=127.0.0.1 port=%u errno=%d (%s)", port, err, strerror(err));
    close(fd);
    return -err;
  }
  *out_fd = fd;
  return 0;
}

void demo_set_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int demo_connect_tcp(uint16_t port, bool nonblocking, int *out_fd) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0)
    return -errno;
  demo_set_nodelay(fd);
  struct sockaddr_in a = loopback(port);
  int r;
  do
    r = connect(fd, (struct sockaddr *)&a, sizeof a);
  while (r != 0 && errno == EINTR && !nonblocking);
  if (r != 0) {
    int err = errno;
    if (nonblocking && err == EINPROGRESS) {
      *out_fd = fd;
      return -EINPROGRESS;
    }
    close(fd);
    return -err;
  }
  *out_fd = fd;
  return 0;
}

int demo_socket_error(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
    return -errno;
  return -err;
}

int demo_write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return -errno;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* ---- framed input ------------------------------------------------------ */

ssize_t demo_inbuf_read(struct demo_inbuf *in, int fd) {
  if (in->len == sizeof in->data)
    return -ENOBUFS;
  ssize_t n = read(fd, in->data + in->len, sizeof in->data - in->len);
  if (n < 0)
    return -errno;
  if (n > 0) {
    uint64_t now = demo_now_ns();
    if (in->len == 0)
      in->first_ns = now;
    in->last_read_ns = now;
    in->len += (size_t)n;
  }
  return n;
}

size_t demo_inbuf_frame(const struct demo_inbuf *in, const char *terminator) {
  size_t tlen = strlen(terminator);
  const char *end = memmem(in->data, in->len, terminator, tlen);
  return end ? (size_t)(end - in->data) + tlen : 0;
}

ssize_t demo_inbuf_fill_until(struct demo_inbuf *in, int fd, const char *terminator) {
  for (;;) {
    size_t frame = demo_inbuf_frame(in, terminator);
    if (frame > 0)
      return (ssize_t)frame;
    ssize_t n = demo_inbuf_read(in, fd);
    if (n == 0)
      return in->len == 0 ? 0 : -EPROTO;
    if (n == -EINTR)
      continue;
    if (n < 0)
      return n;
  }
}

int demo_inbuf_fill_to(struct demo_inbuf *in, int fd, size_t size) {
  if (size > sizeof in->data)
    return -ENOBUFS;
  while (in->len < size) {
    ssize_t n = demo_inbuf_read(in, fd);
    if (n == 0)
      return -EPROTO;
    if (n == -EINTR)
      continue;
    if (n < 0)
      return (int)n;
  }
  return 0;
}

void demo_inbuf_consume(struct demo_inbuf *in, size_t n) {
  memmove(in->data, in->data + n, in->len - n);
  in->len -= n;
  if (in->len > 0)
    in->first_ns = in->last_read_ns;
}

/* ---- tier protocol ----------------------------------------------------- */

size_t demo_request_format(char *buf, uint64_t trace_id, uint64_t request_id, const char *key) {
  int n = snprintf(buf, DEMO_LINE_MAX, "GET %" PRIu64 " %" PRIu64 " %.*s\n", trace_id, request_id,
                   DEMO_KEY_MAX, key);
  return n < DEMO_LINE_MAX ? (size_t)n : DEMO_LINE_MAX - 1;
}

int demo_request_parse(const char *line, size_t len, struct demo_request *out) {
  char copy[DEMO_LINE_MAX];
  if (len == 0 || len >= sizeof copy || line[len - 1] != '\n')
    return -EINVAL;
  memcpy(copy, line, len - 1);
  copy[len - 1] = '\0';
  char key[DEMO_KEY_MAX + 1];
  int consumed = 0;
  if (sscanf(copy, "GET %" SCNu64 " %" SCNu64 " %64s%n", &out->trace_id, &out->request_id, key,
             &consumed) != 3 ||
      (size_t)consumed != len - 1)
    return -EINVAL;
  memcpy(out->key, key, sizeof key);
  return 0;
}

uint64_t demo_hash_key(const char *key) {
  uint64_t h = 1469598103934665603ull;
  for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
    h ^= *p;
    h *= 1099511628211ull;
  }
  return h;
}

uint64_t demo_mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

/* ---- connections to wake at stop --------------------------------------- */

struct demo_conn_registry {
  pthread_mutex_t lock;
  bool closed;
  size_t count, capacity;
  int *fds;
};

int demo_conn_registry_create(struct demo_conn_registry **out) {
  struct demo_conn_registry *reg = calloc(1, sizeof *reg);
  if (!reg)
    return -ENOMEM;
  pthread_mutex_init(&reg->lock, NULL);
  *out = reg;
  return 0;
}

int demo_conn_registry_add(struct demo_conn_registry *reg, int fd) {
  int rc = 0;
  pthread_mutex_lock(&reg->lock);
  if (reg->closed) {
    rc = -ECANCELED;
  } else {
    if (reg->count == reg->capacity) {
      size_t cap = reg->capacity ? reg->capacity * 2 : 16;
      int *fds = realloc(reg->fds, cap * sizeof *fds);
      if (!fds)
        rc = -ENOMEM;
      else {
        reg->fds = fds;
        reg->capacity = cap;
      }
    }
    if (rc == 0)
      reg->fds[reg->count++] = fd;
  }
  pthread_mutex_unlock(&reg->lock);
  return rc;
}

void demo_conn_registry_remove(struct demo_conn_registry *reg, int fd) {
  pthread_mutex_lock(&reg->lock);
  for (size_t i = 0; i < reg->count; i++) {
    if (reg->fds[i] == fd) {
      reg->fds[i] = reg->fds[--reg->count];
      break;
    }
  }
  pthread_mutex_unlock(&reg->lock);
}

void demo_conn_registry_shutdown_all(struct demo_conn_registry *reg) {
  pthread_mutex_lock(&reg->lock);
  reg->closed = true;
  for (size_t i = 0; i < reg->count; i++)
    shutdown(reg->fds[i], SHUT_RDWR);
  pthread_mutex_unlock(&reg->lock);
}

void demo_conn_registry_destroy(struct demo_conn_registry *reg) {
  if (!reg)
    return;
  pthread_mutex_destroy(&reg->lock);
  free(reg->fds);
  free(reg);
}

/* ---- stop signals ------------------------------------------------------ */

int demo_stop_signals_block(sigset_t *set) {
  sigemptyset(set);
  sigaddset(set, SIGTERM);
  sigaddset(set, SIGINT);
  int rc = pthread_sigmask(SIG_BLOCK, set, NULL);
  if (rc != 0) {
    demo_log("Failed to block SIGTERM/SIGINT: errno=%d (%s)", rc, strerror(rc));
    return -rc;
  }
  signal(SIGPIPE, SIG_IGN);
  return 0;
}

int demo_stop_signal_wait(const sigset_t *set) {
  int sig = 0;
  while (sigwait(set, &sig) != 0)
    ;
  return sig;
}

/* ---- command line ------------------------------------------------------ */

enum {
  OPT_FRONT_PORT = 256,
  OPT_MIDDLE_PORT,
  OPT_STORE_PORT,
  OPT_TRUTH,
  OPT_TRUTH_CAPACITY,
  OPT_WORKERS,
  OPT_DATA_DIR
};

/* Parses TEXT as a decimal in MIN..MAX into *OUT for option --NAME. Returns
 * 0, or -EINVAL after printing what was wrong. */
static int parse_number(const char *name, const char *text, unsigned long min, unsigned long max,
                        unsigned long *out) {
  char *end = NULL;
  errno = 0;
  unsigned long v = strtoul(text, &end, 10);
  if (errno || !end || *end || end == text || v < min || v > max) {
    demo_log("Invalid value for --%s: '%s' (expected %lu..%lu)", name, text, min, max);
    return -EINVAL;
  }
  *out = v;
  return 0;
}

int demo_options_parse(int argc, char **argv, unsigned extra, const char *usage,
                       struct demo_options *out) {
  static const struct option longopts[] = {
      {"front-port", required_argument, NULL, OPT_FRONT_PORT},
      {"middle-port", required_argument, NULL, OPT_MIDDLE_PORT},
      {"store-port", required_argument, NULL, OPT_STORE_PORT},
      {"truth", required_argument, NULL, OPT_TRUTH},
      {"truth-capacity", required_argument, NULL, OPT_TRUTH_CAPACITY},
      {"workers", required_argument, NULL, OPT_WORKERS},
      {"data-dir", required_argument, NULL, OPT_DATA_DIR},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  *out = (struct demo_options){
      .front_port = DEMO_DEFAULT_FRONT_PORT,
      .middle_port = DEMO_DEFAULT_MIDDLE_PORT,
      .store_port = DEMO_DEFAULT_STORE_PORT,
      .workers = 4,
      .data_dir = NULL,
      .truth_path = NULL,
      .truth_capacity = DEMO_DEFAULT_TRUTH_CAPACITY,
  };
  int c;
  unsigned long v;
  opterr = 0; /* the messages below name the option and what was wrong */
  while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
    switch (c) {
      case OPT_FRONT_PORT:
      case OPT_MIDDLE_PORT:
      case OPT_STORE_PORT: {
        const char *name = c == OPT_FRONT_PORT    ? "front-port"
                           : c == OPT_MIDDLE_PORT ? "middle-port"
                                                  : "store-port";
        if (parse_number(name, optarg, 1, 65535, &v) != 0)
          return -EINVAL;
        if (c == OPT_FRONT_PORT)
          out->front_port = (uint16_t)v;
        else if (c == OPT_MIDDLE_PORT)
          out->middle_port = (uint16_t)v;
        else
          out->store_port = (uint16_t)v;
        break;
      }
      case OPT_TRUTH:
        out->truth_path = optarg;
        break;
      case OPT_TRUTH_CAPACITY:
        if (parse_number("truth-capacity", optarg, 1, 1ul << 28, &v) != 0)
          return -EINVAL;
        out->truth_capacity = v;
        break;
      case OPT_WORKERS:
        if (!(extra & DEMO_OPT_WORKERS)) {
          demo_log("Option --workers does not apply to this service (see --help)");
          return -EINVAL;
        }
        if (parse_number("workers", optarg, 1, 1024, &v) != 0)
          return -EINVAL;
        out->workers = (unsigned)v;
        break;
      case OPT_DATA_DIR:
        if (!(extra & DEMO_OPT_DATA_DIR)) {
          demo_log("Option --data-dir does not apply to this service (see --help)");
          return -EINVAL;
        }
        out->data_dir = optarg;
        break;
      case 'h':
        printf("%s\nCommon options:\n"
               "  --front-port P, --middle-port P, --store-port P\n"
               "                      the tiers' ports on 127.0.0.1 (18080, 18081, 18082)\n"
               "  --truth FILE        write the ground truth (CSV, one line per request) at exit\n"
               "  --truth-capacity N  requests the truth log holds (default %u)\n",
               usage, DEMO_DEFAULT_TRUTH_CAPACITY);
        return 1;
      case ':':
        demo_log("Option '%s' needs a value (see --help)", argv[optind - 1]);
        return -EINVAL;
      default:
        demo_log("Unknown option: '%s' (see --help)", argv[optind - 1]);
        return -EINVAL;
    }
  }
  if (optind < argc) {
    demo_log("Unexpected argument: '%s' (see --help)", argv[optind]);
    return -EINVAL;
  }
  return 0;
}

/* Past this many messages a failing tier would only repeat itself (one per
 * request), so the rest are dropped, saying so once. */
#define DEMO_LOG_LIMIT 50

void demo_log(const char *fmt, ...) {
  static atomic_uint logged;
  unsigned n = atomic_fetch_add(&logged, 1);
  if (n == DEMO_LOG_LIMIT)
    fprintf(stderr, "%s: %d messages logged; further ones are suppressed\n",
            program_invocation_short_name, DEMO_LOG_LIMIT);
  if (n >= DEMO_LOG_LIMIT)
    return;
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  fprintf(stderr, "%s: %s\n", program_invocation_short_name, line);
}
