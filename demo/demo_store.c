/* demo_store: the storage tier of the demo application. One thread per
 * accepted connection; each request preads a few KiB of a data file created
 * at start. Every 10th request also runs a short-lived helper thread (an
 * audit record, written and fsynced) and joins it before answering, and about
 * 5% of requests are slow, by file work (write + fsync) or by sleeping, so
 * that slow and fast requests differ by resource. */
#include "demo/demo_common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char usage[] =
    "Usage: demo_store [OPTIONS]\n"
    "Storage tier of the demo: a thread per connection on 127.0.0.1:--store-port.\n"
    "  --data-dir DIR      where the data files' temporary directory is made\n"
    "                      (default $TMPDIR, else /var/tmp: a disk, so fsync costs)";

#define DATA_FILE_SIZE (1u << 20)
#define ITEM_SIZE 4096u
#define AUDIT_EVERY 10u
#define SLOW_PERCENT 5u

struct store {
  struct demo_options opt;
  int listen_fd;
  uint32_t pid;
  atomic_bool stopping;
  atomic_uint_fast64_t next_request_id;
  char dir[PATH_MAX];
  int data_fd, audit_fd, scratch_fd;
  struct demo_conn_registry *conns;
  struct demo_truth_log *truth;
  /* Connection threads, reaped by the acceptor as they finish and joined at
   * stop; only the acceptor (then main, after joining it) touches the list. */
  struct store_conn **threads;
  size_t thread_count, thread_capacity;
};

struct store_conn {
  struct store *store;
  int fd;
  uint16_t remote_port;
  pthread_t thread;
  atomic_bool done;
  struct demo_inbuf in;
};

/* What the audit helper thread writes. */
struct audit_job {
  struct store *store;
  uint64_t request_id, trace_id;
  const char *key;
  int error; /* errno of a failed write or fsync, 0 on success */
};

/* Helper thread: appends one audit record and fsyncs it. */
static void *audit_main(void *arg) {
  struct audit_job *job = arg;
  char line[DEMO_LINE_MAX];
  int len = snprintf(line, sizeof line, "request=%" PRIu64 " trace_id=%" PRIu64 " key=%s\n",
                     job->request_id, job->trace_id, job->key);
  if (demo_write_all(job->store->audit_fd, line, (size_t)len) != 0 ||
      fsync(job->store->audit_fd) != 0)
    job->error = errno;
  return NULL;
}

/* Writes the audit record of a request from a helper thread and joins it. */
static void audit_request(struct store *s, uint64_t request_id, uint64_t trace_id,
                          const char *key) {
  struct audit_job job = {s, request_id, trace_id, key, 0};
  pthread_t helper;
  int rc = pthread_create(&helper, NULL, audit_main, &job);
  if (rc != 0) {
    demo_log("Failed to start the audit thread: request_id=%" PRIu64 " errno=%d (%s)", request_id,
             rc, strerror(rc));
    return;
  }
  pthread_join(helper, NULL);
  if (job.error)
    demo_log("Failed to write the audit record: dir=%s request_id=%" PRIu64 " errno=%d (%s)",
             s->dir, request_id, job.error, strerror(job.error));
}

/* The extra work of a slow request, chosen by HASH: half write a block to the
 * scratch file and fsync it, half sleep 2-5 ms. */
static void slow_work(struct store *s, uint64_t hash) {
  if (hash >> 32 & 1) {
    char block[ITEM_SIZE];
    memset(block, (int)(hash & 0xff), sizeof block);
    if (pwrite(s->scratch_fd, block, sizeof block, (off_t)((hash >> 40) % 64) * ITEM_SIZE) < 0 ||
        fsync(s->scratch_fd) != 0)
      demo_log("Failed slow-path file work: dir=%s errno=%d (%s)", s->dir, errno, strerror(errno));
  } else {
    usleep(2000 + (useconds_t)((hash >> 40) % 3001));
  }
}

/* Reads the item of KEY for request REQUEST_ID from the data file. Returns
 * the bytes read (negative errno on failure) and its checksum in *SUM. */
static ssize_t read_item(struct store *s, const char *key, uint64_t request_id, uint64_t *sum) {
  unsigned char item[ITEM_SIZE];
  uint64_t slots = DATA_FILE_SIZE / ITEM_SIZE;
  off_t offset = (off_t)((demo_hash_key(key) + request_id) % slots) * ITEM_SIZE;
  ssize_t n = pread(s->data_fd, item, sizeof item, offset);
  if (n < 0)
    return -errno;
  uint64_t h = 1469598103934665603ull;
  for (ssize_t i = 0; i < n; i++)
    h = (h ^ item[i]) * 1099511628211ull;
  *sum = h;
  return n;
}

/* Serves one request frame (FRAME bytes at the head of c->in) and answers
 * it. Returns 0, or -1 when the connection must close. */
static int serve_request(struct store_conn *c, size_t frame) {
  struct store *s = c->store;
  uint64_t start_ns = c->in.first_ns;
  struct demo_request req;
  bool valid = demo_request_parse(c->in.data, frame, &req) == 0;
  demo_inbuf_consume(&c->in, frame);
  if (!valid) {
    demo_log("Malformed request: remote_port=%u", c->remote_port);
    return -1;
  }
  uint64_t request_id = atomic_fetch_add(&s->next_request_id, 1);
  uint64_t sum = 0;
  ssize_t n = read_item(s, req.key, request_id, &sum);
  if (n < 0)
    demo_log("Failed to read the data file: dir=%s request_id=%" PRIu64 " errno=%d (%s)", s->dir,
             request_id, (int)-n, strerror((int)-n));
  if (request_id % AUDIT_EVERY == 0)
    audit_request(s, request_id, req.trace_id, req.key);
  uint64_t hash = demo_mix64(demo_hash_key(req.key) ^ request_id);
  if (hash % 100 < SLOW_PERCENT)
    slow_work(s, hash);

  char line[DEMO_LINE_MAX];
  int len = n < 0 ? snprintf(line, sizeof line, "ERR %" PRIu64 " read-failed\n", req.trace_id)
                  : snprintf(line, sizeof line, "OK %" PRIu64 " %016" PRIx64 " %zd\n", req.trace_id,
                             sum, n);
  if (demo_write_all(c->fd, line, (size_t)len) != 0)
    return -1;
  uint64_t end_ns = demo_now_ns();
  demo_truth_log_add(s->truth, &(struct demo_truth_record){
                                   .pid = s->pid,
                                   .tid = demo_thread_id(),
                                   .local_port = s->opt.store_port,
                                   .remote_port = c->remote_port,
                                   .trace_id = req.trace_id,
                                   .request_id = request_id,
                                   .parent_request_id = req.request_id,
                                   .start_ns = start_ns,
                                   .end_ns = end_ns,
                               });
  return 0;
}

/* Connection thread: serves requests until the peer closes. */
static void *conn_main(void *arg) {
  struct store_conn *c = arg;
  struct store *s = c->store;
  for (;;) {
    ssize_t frame = demo_inbuf_fill_until(&c->in, c->fd, "\n");
    if (frame <= 0) {
      if (frame < 0 && frame != -ECONNRESET && !atomic_load(&s->stopping))
        demo_log("Failed to read a request: remote_port=%u errno=%d (%s)", c->remote_port,
                 (int)-frame, strerror((int)-frame));
      break;
    }
    if (serve_request(c, (size_t)frame) != 0)
      break;
  }
  demo_conn_registry_remove(s->conns, c->fd);
  close(c->fd);
  atomic_store(&c->done, true);
  return NULL;
}

/* Joins and frees the connection threads that finished (ALL: every one,
 * waiting for those still running). */
static void reap_threads(struct store *s, bool all) {
  size_t kept = 0;
  for (size_t i = 0; i < s->thread_count; i++) {
    struct store_conn *c = s->threads[i];
    if (all || atomic_load(&c->done)) {
      pthread_join(c->thread, NULL);
      free(c);
    } else {
      s->threads[kept++] = c;
    }
  }
  s->thread_count = kept;
}

/* Starts the thread of a newly accepted connection FD. Returns 0, or a
 * negative errno (printed) after closing FD. */
static int start_conn(struct store *s, int fd, uint16_t remote_port) {
  if (s->thread_count == s->thread_capacity) {
    size_t cap = s->thread_capacity ? s->thread_capacity * 2 : 16;
    struct store_conn **threads = realloc(s->threads, cap * sizeof *threads);
    if (!threads) {
      demo_log("Failed to allocate a connection: remote_port=%u", remote_port);
      close(fd);
      return -ENOMEM;
    }
    s->threads = threads;
    s->thread_capacity = cap;
  }
  struct store_conn *c = calloc(1, sizeof *c);
  if (!c || demo_conn_registry_add(s->conns, fd) != 0) {
    free(c);
    close(fd);
    return -ECANCELED;
  }
  c->store = s;
  c->fd = fd;
  c->remote_port = remote_port;
  atomic_init(&c->done, false);
  int rc = pthread_create(&c->thread, NULL, conn_main, c);
  if (rc != 0) {
    demo_log("Failed to start a connection thread: remote_port=%u errno=%d (%s)", remote_port, rc,
             strerror(rc));
    demo_conn_registry_remove(s->conns, fd);
    close(fd);
    free(c);
    return -rc;
  }
  s->threads[s->thread_count++] = c;
  return 0;
}

/* Acceptor thread: a new thread per connection, until the listening socket
 * is shut down. */
static void *acceptor_main(void *arg) {
  struct store *s = arg;
  while (!atomic_load(&s->stopping)) {
    struct sockaddr_in peer;
    socklen_t peer_len = sizeof peer;
    int fd = accept4(s->listen_fd, (struct sockaddr *)&peer, &peer_len, SOCK_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      if (atomic_load(&s->stopping))
        break;
      if (err == EINTR || err == ECONNABORTED)
        continue;
      demo_log("Failed to accept: port=%u errno=%d (%s)", s->opt.store_port, err, strerror(err));
      if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
        usleep(10000);
        continue;
      }
      break;
    }
    demo_set_nodelay(fd);
    reap_threads(s, false);
    start_conn(s, fd, ntohs(peer.sin_port));
  }
  return NULL;
}

/* Opens DIR/NAME (created, read-write) into *FD. Returns 0 or a negative
 * errno (printed). */
static int open_in_dir(const char *dir, const char *name, int flags, int *fd) {
  char path[PATH_MAX + 32];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | flags, 0600);
  if (*fd < 0) {
    int err = errno;
    demo_log("Failed to create a data file: path=%s errno=%d (%s)", path, err, strerror(err));
    return -err;
  }
  return 0;
}

/* Creates the temporary directory and its files; the data file gets
 * DATA_FILE_SIZE bytes of pseudo-random content. Returns 0 or a negative
 * errno (printed). */
static int create_data(struct store *s) {
  const char *base = s->opt.data_dir ? s->opt.data_dir : getenv("TMPDIR");
  if (!base || !*base)
    base = "/var/tmp";
  snprintf(s->dir, sizeof s->dir, "%s/demo_store.XXXXXX", base);
  if (!mkdtemp(s->dir)) {
    int err = errno;
    demo_log("Failed to create the data directory: template=%s errno=%d (%s)", s->dir, err,
             strerror(err));
    s->dir[0] = '\0';
    return -err;
  }
  if (open_in_dir(s->dir, "data.bin", O_TRUNC, &s->data_fd) != 0 ||
      open_in_dir(s->dir, "audit.log", O_APPEND | O_TRUNC, &s->audit_fd) != 0 ||
      open_in_dir(s->dir, "scratch.bin", O_TRUNC, &s->scratch_fd) != 0)
    return -EIO;
  uint64_t *data = malloc(DATA_FILE_SIZE);
  if (!data)
    return -ENOMEM;
  for (size_t i = 0; i < DATA_FILE_SIZE / sizeof *data; i++)
    data[i] = demo_mix64(i);
  int rc = demo_write_all(s->data_fd, data, DATA_FILE_SIZE);
  free(data);
  if (rc != 0) {
    demo_log("Failed to fill the data file: dir=%s bytes=%u errno=%d (%s)", s->dir, DATA_FILE_SIZE,
             -rc, strerror(-rc));
    return rc;
  }
  return 0;
}

/* Closes and removes the data files and their directory. */
static void remove_data(struct store *s) {
  static const char *const names[] = {"data.bin", "audit.log", "scratch.bin"};
  int *fds[] = {&s->data_fd, &s->audit_fd, &s->scratch_fd};
  for (size_t i = 0; i < 3; i++) {
    if (*fds[i] >= 0)
      close(*fds[i]);
    *fds[i] = -1;
  }
  if (!s->dir[0])
    return;
  for (size_t i = 0; i < 3; i++) {
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%s", s->dir, names[i]);
    unlink(path);
  }
  rmdir(s->dir);
}

int main(int argc, char **argv) {
  struct store s = {.listen_fd = -1, .data_fd = -1, .audit_fd = -1, .scratch_fd = -1};
  int rc = demo_options_parse(argc, argv, DEMO_OPT_DATA_DIR, usage, &s.opt);
  if (rc != 0)
    return rc > 0 ? 0 : 2;
  sigset_t stop_signals;
  if (demo_stop_signals_block(&stop_signals) != 0)
    return 1;
  s.pid = (uint32_t)getpid();
  atomic_init(&s.stopping, false);
  atomic_init(&s.next_request_id, 1);

  int status = 1;
  pthread_t acceptor;
  if (demo_conn_registry_create(&s.conns) != 0 ||
      (s.opt.truth_path &&
       demo_truth_log_create("demo_store", s.opt.truth_capacity, &s.truth) != 0)) {
    demo_log("Failed to allocate: truth_capacity=%zu", s.opt.truth_capacity);
    goto cleanup;
  }
  if (create_data(&s) != 0 || demo_listen_tcp(s.opt.store_port, false, &s.listen_fd) != 0)
    goto cleanup;
  rc = pthread_create(&acceptor, NULL, acceptor_main, &s);
  if (rc != 0) {
    demo_log("Failed to start the acceptor thread: errno=%d (%s)", rc, strerror(rc));
    goto cleanup;
  }

  demo_stop_signal_wait(&stop_signals);
  status = 0;
  /* Stop accepting, wake the connection threads, join them all. */
  atomic_store(&s.stopping, true);
  shutdown(s.listen_fd, SHUT_RDWR);
  pthread_join(acceptor, NULL);
  demo_conn_registry_shutdown_all(s.conns);
  reap_threads(&s, true);
  if (s.truth && demo_truth_log_write(s.truth, s.opt.truth_path) != 0)
    status = 1;

cleanup:
  if (s.listen_fd >= 0)
    close(s.listen_fd);
  remove_data(&s);
  demo_truth_log_destroy(s.truth);
  demo_conn_registry_destroy(s.conns);
  free(s.threads);
  return status;
}
