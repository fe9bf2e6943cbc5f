/* Pieces the three demo services share: the ground-truth log (kept in memory,
 * written at exit), TCP helpers, a framed input buffer that remembers when a
 * request's first bytes arrived, the line protocol between the tiers, stop
 * signals and the command line. */
#ifndef DEMO_COMMON_H
#define DEMO_COMMON_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define DEMO_DEFAULT_FRONT_PORT 18080
#define DEMO_DEFAULT_MIDDLE_PORT 18081
#define DEMO_DEFAULT_STORE_PORT 18082
#define DEMO_DEFAULT_TRUTH_CAPACITY (1u << 20)

/* ---- ground truth ------------------------------------------------------ */

/* One request a service served, as it saw it (see docs/demo.md). */
struct demo_truth_record {
  uint32_t pid;
  uint32_t tid;
  uint16_t local_port;
  uint16_t remote_port;
  uint64_t trace_id;
  uint64_t request_id;
  uint64_t parent_request_id;
  uint64_t start_ns;
  uint64_t end_ns;
};

struct demo_truth_log;

/* Creates a log for SERVICE with room for CAPACITY records, allocated now so
 * that adding a record never makes a syscall. Returns 0 and an owned log in
 * *OUT (destroy with demo_truth_log_destroy), or -ENOMEM. */
int demo_truth_log_create(const char *service, size_t capacity, struct demo_truth_log **out);

/* Appends a copy of RECORD; safe from any thread, lock-free, no syscall.
 * When the log is full the record is counted as dropped instead. */
void demo_truth_log_add(struct demo_truth_log *log, const struct demo_truth_record *record);

/* Writes the CSV header and every record to PATH (replacing it). Call once
 * the threads that add records have stopped. Returns 0 or a negative errno;
 * the failure is printed with the path. Reports dropped records on stderr. */
int demo_truth_log_write(const struct demo_truth_log *log, const char *path);

/* Number of records held. */
size_t demo_truth_log_count(const struct demo_truth_log *log);

/* Frees the log; NULL is a no-op. */
void demo_truth_log_destroy(struct demo_truth_log *log);

/* CLOCK_MONOTONIC in nanoseconds (vDSO: no syscall). */
uint64_t demo_now_ns(void);

/* gettid() of the calling thread, cached after the first call so that
 * request paths make no extra syscall. */
uint32_t demo_thread_id(void);

/* ---- sockets ----------------------------------------------------------- */

/* Opens a TCP socket listening on 127.0.0.1:PORT (SO_REUSEADDR, close-on-exec,
 * non-blocking when NONBLOCKING). Returns 0 and the fd in *OUT_FD, or a
 * negative errno after printing what failed. */
int demo_listen_tcp(uint16_t port, bool nonblocking, int *out_fd);

/* Connects a new TCP socket (TCP_NODELAY) to 127.0.0.1:PORT. Blocking unless
 * NONBLOCKING, in which case -EINPROGRESS with *OUT_FD set means the connect
 * goes on (wait for writability, then check demo_socket_error). Returns 0 and
 * the fd in *OUT_FD, or a negative errno (nothing is left open). Prints no
 * message: the caller knows which tier it wanted. */
int demo_connect_tcp(uint16_t port, bool nonblocking, int *out_fd);

/* Sets TCP_NODELAY on FD; ignores failure (a latency nicety only). */
void demo_set_nodelay(int fd);

/* Pending error of a socket (SO_ERROR) as a negative errno, or 0. */
int demo_socket_error(int fd);

/* Writes all LEN bytes of BUF to the blocking FD (one write unless the
 * kernel takes less), retrying on EINTR. Returns 0 or a negative errno. */
int demo_write_all(int fd, const void *buf, size_t len);

/* ---- framed input ------------------------------------------------------ */

#define DEMO_INBUF_SIZE 8192

/* Bytes read from a connection and not yet consumed. FIRST_NS is when the
 * first unconsumed byte arrived: the time right after the read that returned
 * it (for bytes left over after a frame, the time of the latest read). */
struct demo_inbuf {
  size_t len;
  uint64_t first_ns;
  uint64_t last_read_ns;
  char data[DEMO_INBUF_SIZE];
};

/* One read() into the free space of IN. Returns the bytes read, 0 at end of
 * stream, -ENOBUFS when IN is full, or a negative errno (-EAGAIN included). */
ssize_t demo_inbuf_read(struct demo_inbuf *in, int fd);

/* Length of the first frame in IN (up to and including TERMINATOR), or 0
 * when no complete frame is buffered yet. */
size_t demo_inbuf_frame(const struct demo_inbuf *in, const char *terminator);

/* Reads from the blocking FD until IN holds a frame ending in TERMINATOR.
 * Returns the frame length; 0 when the peer closed with nothing buffered;
 * -EPROTO when it closed mid-frame; -ENOBUFS when a frame does not fit;
 * another negative errno when read failed. */
ssize_t demo_inbuf_fill_until(struct demo_inbuf *in, int fd, const char *terminator);

/* Reads from the blocking FD until IN holds at least SIZE bytes. Returns 0,
 * -EPROTO at end of stream, -ENOBUFS if SIZE exceeds the buffer, or a
 * negative errno. */
int demo_inbuf_fill_to(struct demo_inbuf *in, int fd, size_t size);

/* Drops the first N bytes (N <= in->len). */
void demo_inbuf_consume(struct demo_inbuf *in, size_t n);

/* ---- tier protocol ----------------------------------------------------- */

/* Requests between the tiers are one line: "GET <trace_id> <request_id>
 * <key>\n" (ids in decimal, REQUEST_ID the caller's); replies are one line,
 * "OK <trace_id> <value: 16 hex digits> <bytes read>\n" or "ERR <trace_id>
 * <reason>\n". */
#define DEMO_KEY_MAX 64
#define DEMO_LINE_MAX 256

struct demo_request {
  uint64_t trace_id;
  uint64_t request_id;
  char key[DEMO_KEY_MAX + 1];
};

/* Formats a request line into BUF (DEMO_LINE_MAX bytes). Returns its length. */
size_t demo_request_format(char *buf, uint64_t trace_id, uint64_t request_id, const char *key);

/* Parses the request line LINE of LEN bytes (with its newline). Returns 0,
 * or -EINVAL when it is not a request line. */
int demo_request_parse(const char *line, size_t len, struct demo_request *out);

/* A 64-bit hash of the NUL-terminated KEY (FNV-1a). */
uint64_t demo_hash_key(const char *key);

/* A 64-bit mixer (splitmix64 finalizer): spreads nearby values apart. */
uint64_t demo_mix64(uint64_t x);

/* ---- connections to wake at stop --------------------------------------- */

/* The sockets that threads are blocked on, so that a stop can shut them down
 * (the blocked read then returns) before the threads are joined. */
struct demo_conn_registry;

/* Returns 0 and an owned registry in *OUT (destroy with
 * demo_conn_registry_destroy), or -ENOMEM. */
int demo_conn_registry_create(struct demo_conn_registry **out);

/* Registers FD. Returns 0, -ECANCELED once demo_conn_registry_shutdown_all
 * ran (the caller then closes FD), or -ENOMEM. */
int demo_conn_registry_add(struct demo_conn_registry *reg, int fd);

/* Unregisters FD; call before closing it. */
void demo_conn_registry_remove(struct demo_conn_registry *reg, int fd);

/* Shuts down (both ways) every registered socket and refuses later adds. */
void demo_conn_registry_shutdown_all(struct demo_conn_registry *reg);

/* Frees the registry (not the sockets); NULL is a no-op. */
void demo_conn_registry_destroy(struct demo_conn_registry *reg);

/* ---- stop signals ------------------------------------------------------ */

/* Blocks SIGTERM and SIGINT in the calling thread (threads created afterwards
 * inherit the mask) and ignores SIGPIPE. Fills *SET with the two signals for
 * demo_stop_signal_wait or signalfd. Returns 0 or a negative errno. */
int demo_stop_signals_block(sigset_t *set);

/* Waits for one of the signals in SET. Returns its number. */
int demo_stop_signal_wait(const sigset_t *set);

/* ---- command line ------------------------------------------------------ */

struct demo_options {
  uint16_t front_port;
  uint16_t middle_port;
  uint16_t store_port;
  unsigned workers;       /* demo_front only */
  const char *data_dir;   /* demo_store only */
  const char *truth_path; /* NULL: keep no ground truth */
  size_t truth_capacity;
};

/* Options a service accepts besides the ports, --truth and --truth-capacity. */
enum demo_option_extra {
  DEMO_OPT_WORKERS = 1u << 0,
  DEMO_OPT_DATA_DIR = 1u << 1,
};

/* Parses ARGV into *OUT (defaults first) accepting the common options plus
 * those in EXTRA (a mask of demo_option_extra); USAGE is the service's own
 * paragraph for --help. Returns 0 to run, 1 when --help was printed, or
 * -EINVAL after printing what was wrong. */
int demo_options_parse(int argc, char **argv, unsigned extra, const char *usage,
                       struct demo_options *out);

/* Prints "<program>: " and the formatted message to stderr, with a newline.
 * After 50 messages the rest are dropped (saying so once): a tier whose
 * neighbour is down would otherwise repeat itself for every request. */
void demo_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
