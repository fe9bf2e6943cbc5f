/* Recording session: the live side of `spantap record`. It picks the runtime,
 * writes the script, starts stap and the traced command (held before its exec
 * until every probe family answered the start-up ping), and runs the loop that
 * carries stap's output to a sink: the handshake, the duration and drain
 * timers, a periodic tick, stap's diagnostics and loss reports, Ctrl-C and the
 * reaping of stap and the command.
 *
 * The session knows nothing of the collector: records leave through the
 * sink's callbacks, which the caller wires to whatever consumes them. A second
 * record source (a reader of BPF maps, say) joins the same loop as an extra
 * source: a descriptor polled beside stap's output, or a callback run on every
 * turn of the loop, each delivering its records through its own context.
 *
 * With SystemTap's module runtime the script is built into a module (stap's
 * cache serves the same options again) and loaded by staprun, whose output the
 * same loop carries; a module built ahead of time, on another machine, can be
 * run instead (opts.module), and spantap_session_compile builds one.
 *
 * Use: spantap_session_new (checks, no side effect but the runtime line on
 * PROGRESS), spantap_session_start, spantap_session_poll until it returns 0 or
 * an error, spantap_session_stop, spantap_session_destroy (also the one
 * cleanup after any failure). */
#ifndef SPANTAP_RECORDING_SESSION_H
#define SPANTAP_RECORDING_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "runtime/script_gen.h"

struct spantap_session_opts {
  const char *runtime; /* "bpf", "kernel" or "auto" */
  /* What to trace. The session fills in runtime, launch_pid and self_pid;
   * the arrays it points to are borrowed for the session's life. */
  struct spantap_script_opts script;
  char **command;    /* argv launched once tracing starts, or NULL; borrowed */
  double duration_s; /* 0: until Ctrl-C, SIGTERM or the command's end */
  const char *stap;  /* the stap program (a name searched in PATH, or a path); NULL: "stap" */
  FILE *progress;    /* the user's messages and stap's diagnostics; NULL: none */
  /* Built ahead of time (spantap_session_compile; runtime "kernel", or "bpf"
   * for a BPF object): */
  const char *module;         /* run this module (X.ko) under staprun, or this BPF object (X.bo,
                                 whose mark script.queue_cookie and queue_ncpu must match) under
                                 stapbpf (no stap needed); NULL: build the script */
  const char *kernel_release; /* build for this kernel (spantap_session_compile); NULL: this one.
                                 The BPF runtime: a release or a build tree, as stap's -r */
  const char
      *staprun;      /* the staprun program (a name searched in PATH, or a path); NULL: "staprun" */
  bool compile_only; /* the session only builds (spantap_session_compile): no staprun needed */
  /* Once asked to stop (SIGINT), how long stap (staprun, stapbpf) may take to
   * finish before it is killed, with what it started, and the recording
   * marked incomplete. 0: 60 s. A repeated SIGINT or SIGTERM changes nothing:
   * timeout(1) and process groups deliver one twice. */
  double stop_timeout_s;
};

/* True when PATH names a BPF object built ahead of time (it ends in ".bo"),
 * false for anything else (a module, X.ko). */
bool spantap_is_bpf_object_path(const char *path);

/* Where the session delivers what stap produces. Every callback returns 0, or
 * a negative errno with the reason in ERR: the session then stops stap, marks
 * the recording "storing failed" and spantap_session_poll returns -EIO. */
struct spantap_session_sink {
  void *ctx;
  /* LEN bytes of the script's record stream, split anywhere. */
  int (*stream)(void *ctx, const char *buf, size_t len, char *err, size_t errlen);
  /* COUNT events the runtime reported lost on its standard error; SOURCE
   * says where ("runtime"). */
  int (*lost)(void *ctx, uint64_t count, const char *source, char *err, size_t errlen);
  /* Called about every 500 ms and nowhere else: commit what arrived. May be NULL. */
  int (*tick)(void *ctx, char *err, size_t errlen);
  /* The SPANTAP_READY_* probe families whose READY records arrived so far:
   * tracing starts (the command is released, the duration counts) once all
   * have. Called on every turn of the loop; must not fail. */
  unsigned (*ready)(void *ctx);
};

/* An extra record source polled in the session's loop beside stap's output.
 * With FD >= 0, READABLE runs when FD is readable (or hung up); with FD -1,
 * on every turn of the loop (at least every 10 ms). READABLE reads what is
 * there and delivers it itself; it returns 0 to stay polled, 1 when the source
 * has ended (it is polled no more), or a negative errno with the reason in ERR
 * (handled like a failed sink). The session does not own FD or CTX, and does
 * not wait for an extra source to end: after spantap_session_poll returned 0
 * its owner drains what is left. */
struct spantap_session_source {
  int fd;
  int (*readable)(void *ctx, char *err, size_t errlen);
  void *ctx;
};

#define SPANTAP_SESSION_MAX_SOURCES 4

/* What a session leaves behind, valid until spantap_session_destroy. */
struct spantap_session_result {
  bool ready;         /* every probe family answered: tracing started */
  int64_t started_ns; /* CLOCK_MONOTONIC when tracing started (or stap was started) */
  /* CLOCK_REALTIME - CLOCK_MONOTONIC, both read at the same instant */
  int64_t wall_clock_offset_ns;
  /* NULL, or why the recording is incomplete: the script did not start in
   * time or never started, stap exited on its own, the sink failed. */
  const char *incomplete;
};

struct spantap_session;

/* Checks that the session can run (stap exists, or staprun for OPTS->module;
 * the machine is prepared for the runtime chosen: "auto" picks the module
 * runtime when this kernel loads modules and has a build tree, else BPF) and
 * prints the runtime chosen to OPTS->progress (with the module runtime, also
 * what it misses, with its packages). OPTS is copied; what it points to is
 * borrowed. Returns 0 and an owned session in *OUT (spantap_session_destroy),
 * or -errno with what is missing in ERR; nothing is started. */
int spantap_session_new(const struct spantap_session_opts *opts, struct spantap_session **out,
                        char *err, size_t errlen);

/* With the module runtime ("kernel"), instead of a recording: generates the
 * script and builds it into the module KO_PATH (NAME.ko, NAME the module's
 * name; replaced only when FORCE) for OPTS->kernel_release, to be run with
 * opts.module where staprun is installed. Returns 0, -EINVAL (another runtime,
 * a bad KO_PATH), -EEXIST, or -errno with the reason in ERR. */
int spantap_session_compile(struct spantap_session *s, const char *ko_path, bool force, char *err,
                            size_t errlen);

/* The runtime S runs: the one asked for, or what "auto" picked. */
enum spantap_runtime spantap_session_runtime(const struct spantap_session *s);

/* Adds an extra record source (copied) to S, before or after the start.
 * Returns 0, or -ENOSPC past SPANTAP_SESSION_MAX_SOURCES. */
int spantap_session_add_source(struct spantap_session *s, const struct spantap_session_source *src);

/* Starts the session: routes SIGINT and SIGTERM into the loop (they stop the
 * recording in order), forks the command held before its exec, writes the
 * script to a temporary file and starts stap on it (the module runtime: builds
 * the module, or takes opts.module, and starts staprun on it). SINK is copied.
 * Returns 0 or -errno with the failing step in ERR (destroy S then). */
int spantap_session_start(struct spantap_session *s, const struct spantap_session_sink *sink,
                          char *err, size_t errlen);

/* Runs one turn of the loop: waits up to 100 ms for stap's output, its
 * diagnostics, a signal or an extra source, and handles what arrived and what
 * is due (pings, timers, the tick). Returns 1 while the recording goes on, 0
 * once it has ended (stap exited and its output is drained), or a negative
 * errno with the reason in ERR (a callback failed, or poll did). */
int spantap_session_poll(struct spantap_session *s, char *err, size_t errlen);

/* Ends the session: stap, if still running, is killed and reaped (a module
 * that a killed staprun left loaded is unloaded); fills *RESULT. The traced
 * command, if still running, is left to spantap_session_destroy. */
void spantap_session_stop(struct spantap_session *s, struct spantap_session_result *result);

/* Stops whatever still runs (SIGTERM to the command, SIGKILL to stap, both
 * reaped), closes the descriptors, removes the script and frees S. NULL is a
 * no-op. */
void spantap_session_destroy(struct spantap_session *s);

#endif
