/* Recording session: starts stap on a generated script (or, with the module
 * runtime, staprun on its module: module_session.c) and runs the live loop of
 * a recording (handshake, timers, diagnostics, signals, reaping), handing the
 * record stream to the caller's sink. See recording_session.h. */
#include "runtime/recording_session.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/machine_setup.h"
#include "runtime/module_session.h"
#include "runtime/stap_launch.h"
#include "runtime/targets.h"
#include "spantap/handshake.h"
#include "spantap/record_format.h"

#define STARTUP_TIMEOUT_NS (300 * 1000000000LL) /* compiling a script takes seconds */
#define DRAIN_NS (300 * 1000000LL) /* after the command ends, let in-flight events arrive */
#define STOP_TIMEOUT_S 60.0        /* stap asked to stop and still running then: killed */
#define PING_EVERY_NS (200 * 1000000LL)
#define TICK_EVERY_NS (500 * 1000000LL)
#define POLL_MS 100
#define POLL_SOURCE_MS 10 /* with a per-turn source: BPF map queues fill in ~50 ms at peak */
#define MAX_STAP_ARGS 32
#define STAPRUN "staprun" /* the module runtime's loader, searched in PATH */
#define STAPBPF "stapbpf" /* the BPF runtime's loader of a built object, searched in PATH */

struct spantap_session {
  struct spantap_session_opts o;
  struct spantap_session_sink sink;
  struct spantap_session_source sources[SPANTAP_SESSION_MAX_SOURCES];
  bool source_ended[SPANTAP_SESSION_MAX_SOURCES];
  size_t nsources;

  /* prepared by spantap_session_new */
  enum spantap_runtime rt;
  const char *stap; /* the program to run: stap_found, or o.stap as given */
  char stap_found[PATH_MAX];
  const char *stap_args[MAX_STAP_ARGS + 1];
  const char *ld_preload;
  struct spantap_setup_status setup; /* the BPF runtime's arguments point into it */
  char (*dpaths)[PATH_MAX];          /* the module runtime's -d paths of name targets */
  struct spantap_kernel_setup ks;    /* the module runtime's arguments point into it */

  /* started by spantap_session_start */
  char script_path[32];
  int script_fd, go_fd, sfd;
  pid_t child;
  struct spantap_stap stap_proc;
  int stap_status;                          /* stap's (staprun's) wait status, once reaped */
  char loaded[SPANTAP_MODULE_NAME_MAX + 1]; /* the module runtime: the module staprun loaded */

  /* the loop's state */
  int64_t started, wall_clock_offset, deadline, drain_until, last_ping, last_tick;
  int64_t stop_asked; /* when stap was asked to stop */
  bool ready, stopping, stap_done, out_eof, err_eof;
  bool stap_killed; /* stap did not stop in order: SIGKILL sent */
  char errline[1024];
  size_t errline_len;
  const char *incomplete;
  char incomplete_buf[256];
  char buf[1 << 16];
};

bool spantap_is_bpf_object_path(const char *path) {
  size_t n = strlen(path);
  return n > 3 && strcmp(path + n - 3, ".bo") == 0;
}

static int64_t now_ns(clockid_t clk) {
  struct timespec ts;
  clock_gettime(clk, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Picks the runtime for "auto": the module runtime needs module loading and a
 * kernel build tree; otherwise the BPF runtime. Writes why into WHY. */
static enum spantap_runtime pick_runtime(const char *asked, char *why, size_t len) {
  enum spantap_runtime rt;
  if (spantap_runtime_parse(asked, &rt) == 0) {
    snprintf(why, len, "as asked");
    return rt;
  }
  struct utsname u;
  uname(&u);
  char build[512];
  snprintf(build, sizeof build, "/lib/modules/%s/build", u.release);
  bool modules = access("/proc/modules", F_OK) == 0;
  bool tree = access(build, F_OK) == 0;
  if (modules && tree) {
    snprintf(why, len, "this kernel loads modules and has a build tree at %s", build);
    return SPANTAP_RUNTIME_KERNEL;
  }
  snprintf(why, len, "%s",
           !modules ? "this kernel cannot load modules (no /proc/modules)"
                    : "no kernel build tree for the module runtime");
  return SPANTAP_RUNTIME_BPF;
}

/* The runtime's own stap arguments: the BPF runtime's from machine setup, the
 * module runtime's from this machine's kernel setup (module_session.c) and
 * the unwind tables of the target binaries and their libraries (-d, --ldd). A
 * module built ahead of time takes none. */
static int prepare_stap_args(struct spantap_session *s, char *err, size_t errlen) {
  size_t n = 0;
  if (s->rt == SPANTAP_RUNTIME_KERNEL && s->o.module) {
    s->stap_args[0] = NULL;
    return 0;
  }
  if (s->rt == SPANTAP_RUNTIME_BPF && s->o.module) {
    /* stapbpf alone: only its memlock limit may need the shim */
    s->stap_args[0] = NULL;
    if (!spantap_setup_memlock_shim_needed())
      return 0;
    if (spantap_setup_inspect(NULL, &s->setup) < 0 || !s->setup.memlock_shim) {
      snprintf(err, errlen,
               "stapbpf cannot raise RLIMIT_MEMLOCK here and spantap's memlock shim is not "
               "installed: run 'spantap setup'");
      return -ENOENT;
    }
    s->ld_preload = s->setup.shim_path;
    return 0;
  }
  if (s->rt == SPANTAP_RUNTIME_BPF && s->o.kernel_release) {
    /* a build for another kernel: its tree comes with -r (module_build);
     * task_current() reads the tree's DWARF vmlinux only in 4.2's form */
    s->stap_args[n++] = "--runtime=bpf";
    s->stap_args[n++] = "--compatible=4.2";
    s->stap_args[n] = NULL;
    return 0;
  }
  if (s->rt == SPANTAP_RUNTIME_BPF) {
    const char *bpf_args[16];
    err[0] = '\0';
    if (spantap_setup_inspect(NULL, &s->setup) < 0 ||
        spantap_setup_bpf_args(&s->setup, bpf_args, 16, &s->ld_preload, err, errlen) < 0) {
      if (!err[0])
        snprintf(err, errlen, "machine not prepared: run 'spantap setup'");
      return -ENOENT;
    }
    s->stap_args[n++] = "--runtime=bpf";
    for (size_t i = 0; bpf_args[i] && n < 24; i++)
      s->stap_args[n++] = bpf_args[i];
  } else {
    const struct spantap_script_opts *so = &s->o.script;
    int rc = spantap_module_stap_args(&s->ks, s->o.kernel_release, !s->o.compile_only,
                                      s->o.progress, s->stap_args, MAX_STAP_ARGS - 8, err, errlen);
    if (rc < 0)
      return rc;
    n = (size_t)rc;
    if (so->unwind_fp) { /* a frame-pointer walk needs no unwind tables */
      s->stap_args[n] = NULL;
      return 0;
    }
    s->dpaths = calloc(so->ntargets ? so->ntargets : 1, sizeof *s->dpaths);
    if (!s->dpaths) {
      snprintf(err, errlen, "Failed to allocate target paths: targets=%zu", so->ntargets);
      return -ENOMEM;
    }
    s->stap_args[n++] = "--ldd";
    for (size_t i = 0; i < so->ntargets && n + 2 < MAX_STAP_ARGS; i++) {
      const char *p = so->targets[i].name;
      if (!so->targets[i].is_path) {
        if (spantap_target_find_in_path(p, s->dpaths[i], sizeof s->dpaths[i]) < 0)
          continue;
        p = s->dpaths[i];
      }
      s->stap_args[n++] = "-d";
      s->stap_args[n++] = p;
    }
  }
  s->stap_args[n] = NULL;
  return 0;
}

int spantap_session_new(const struct spantap_session_opts *opts, struct spantap_session **out,
                        char *err, size_t errlen) {
  *out = NULL;
  struct spantap_session *s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(err, errlen, "Failed to allocate the recording session: errno=%d", ENOMEM);
    return -ENOMEM;
  }
  s->o = *opts;
  s->script_fd = s->go_fd = s->sfd = -1;
  s->stap_proc = (struct spantap_stap){.pid = 0, .out_fd = -1, .err_fd = -1};
  /* built ahead of time: a module needs only staprun (checked when loading),
   * a BPF object stapbpf */
  bool bpf_object = s->o.module && spantap_is_bpf_object_path(s->o.module);
  s->stap = bpf_object    ? STAPBPF
            : s->o.module ? (s->o.staprun ? s->o.staprun : STAPRUN)
            : s->o.stap   ? s->o.stap
                          : "stap";
  if (spantap_target_find_in_path(s->stap, s->stap_found, sizeof s->stap_found) < 0 &&
      access(s->stap, X_OK) < 0) {
    if (bpf_object)
      snprintf(err, errlen,
               "SystemTap's stapbpf not found: install it with 'apt-get install systemtap' "
               "(or copy /usr/bin/stapbpf and its libraries)");
    else if (s->o.module)
      snprintf(err, errlen,
               "SystemTap's staprun not found: install it with "
               "'apt-get install systemtap-runtime'");
    else
      snprintf(err, errlen,
               "SystemTap (stap) not found: install it with "
               "'apt-get install systemtap' (or run ./bootstrap)");
    spantap_session_destroy(s);
    return -ENOENT;
  }
  if (s->stap_found[0] && access(s->stap_found, X_OK) == 0)
    s->stap = s->stap_found;
  char why[1024];
  const char *asked = s->o.runtime;
  if (bpf_object)
    asked = "bpf";
  else if (s->o.module || (s->o.compile_only && strcmp(s->o.runtime, "bpf") != 0))
    asked = "kernel";
  s->rt = pick_runtime(asked, why, sizeof why);
  if (s->o.progress)
    fprintf(s->o.progress, "spantap: runtime %s (%s)\n", spantap_runtime_name(s->rt), why);
  int rc = prepare_stap_args(s, err, errlen);
  if (rc < 0) {
    spantap_session_destroy(s);
    return rc;
  }
  *out = s;
  return 0;
}

enum spantap_runtime spantap_session_runtime(const struct spantap_session *s) {
  return s->rt;
}

int spantap_session_add_source(struct spantap_session *s,
                               const struct spantap_session_source *src) {
  if (s->nsources == SPANTAP_SESSION_MAX_SOURCES)
    return -ENOSPC;
  s->source_ended[s->nsources] = false;
  s->sources[s->nsources++] = *src;
  return 0;
}

/* The signals that stop a recording, and SIGCHLD, which the loop reaps by. */
static void loop_signals(sigset_t *mask) {
  sigemptyset(mask);
  sigaddset(mask, SIGINT);
  sigaddset(mask, SIGTERM);
  sigaddset(mask, SIGCHLD);
}

/* Forks the command, held before exec until GO is written to. The child gets
 * the signals spantap blocks back, so that it can be stopped. */
static pid_t launch_held(char **command, int *go_fd) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0)
    return -1;
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    close(p[0]);
    close(p[1]);
    errno = e;
    return -1;
  }
  if (pid == 0) {
    close(p[1]);
    char c;
    if (read(p[0], &c, 1) != 1)
      _exit(126); /* spantap gave up before tracing started */
    sigset_t mask;
    loop_signals(&mask);
    sigprocmask(SIG_UNBLOCK, &mask, NULL);
    signal(SIGINT, SIG_DFL);
    execvp(command[0], command);
    fprintf(stderr, "spantap: cannot run %s: %s\n", command[0], strerror(errno));
    _exit(127);
  }
  close(p[0]);
  *go_fd = p[1];
  return pid;
}

/* The script options of S: what to trace, with its runtime and pids. */
static struct spantap_script_opts script_opts(const struct spantap_session *s) {
  struct spantap_script_opts so = s->o.script;
  so.runtime = s->rt;
  so.launch_pid = s->child;
  so.self_pid = getpid();
  return so;
}

/* Writes the script for S into a new temporary file, S->script_path. */
static int write_script(struct spantap_session *s, char *err, size_t errlen) {
  struct spantap_script_opts so = script_opts(s);
  snprintf(s->script_path, sizeof s->script_path, "/tmp/spantap-XXXXXX.stp");
  s->script_fd = mkstemps(s->script_path, 4);
  if (s->script_fd < 0) {
    int e = errno;
    snprintf(err, errlen, "Failed to write script: path=%s errno=%s", s->script_path, strerror(e));
    s->script_path[0] = '\0';
    return -e;
  }
  int fd = dup(s->script_fd);
  FILE *sf = fd >= 0 ? fdopen(fd, "w") : NULL;
  if (!sf) {
    int e = errno;
    if (fd >= 0)
      close(fd);
    snprintf(err, errlen, "Failed to write script: path=%s errno=%s", s->script_path, strerror(e));
    return -e;
  }
  char why[512] = "";
  int rc = spantap_script_generate(&so, sf, why, sizeof why);
  if (fclose(sf) != 0 && rc == 0)
    rc = -errno;
  if (rc < 0) {
    snprintf(err, errlen, "Failed to write script: path=%s %s", s->script_path, why);
    return rc;
  }
  return 0;
}

/* The staprun program of S: found in session_new when it runs a module built
 * ahead of time (then it is S->stap), else as given. */
static const char *staprun_of(const struct spantap_session *s) {
  return s->o.module ? s->stap : s->o.staprun ? s->o.staprun : STAPRUN;
}

/* The module runtime: builds the script's module (or takes opts.module) and
 * starts staprun on it. */
static int load_module(struct spantap_session *s, char *err, size_t errlen) {
  const struct spantap_module_load l = {.module = s->o.module,
                                        .stap = s->stap,
                                        .args = s->stap_args,
                                        .script_path = s->script_path,
                                        .kernel_release = s->o.kernel_release,
                                        .staprun = staprun_of(s),
                                        .progress = s->o.progress};
  struct spantap_script_opts so = script_opts(s);
  return spantap_module_load(&l, &so, s->loaded, sizeof s->loaded, &s->stap_proc, err, errlen);
}

int spantap_session_compile(struct spantap_session *s, const char *ko_path, bool force, char *err,
                            size_t errlen) {
  if (s->o.module) {
    snprintf(err, errlen, "--module %s is built already: nothing to compile", s->o.module);
    return -EINVAL;
  }
  struct spantap_script_opts so = script_opts(s);
  if (s->o.progress)
    fprintf(s->o.progress, "spantap: building %s for kernel %s...\n", ko_path,
            s->rt == SPANTAP_RUNTIME_KERNEL ? s->ks.release
            : s->o.kernel_release           ? s->o.kernel_release
                                            : "(this one)");
  return spantap_module_compile(s->stap, s->stap_args, s->o.kernel_release, &so, ko_path, force,
                                s->o.progress, err, errlen);
}

int spantap_session_start(struct spantap_session *s, const struct spantap_session_sink *sink,
                          char *err, size_t errlen) {
  s->sink = *sink;
  /* Signals arrive on a descriptor so the loop sees them in order. An ignored
   * signal (a background job of a script, nohup) would never reach it, so the
   * dispositions go back to default first; blocked, they only queue. */
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  sigset_t mask;
  loop_signals(&mask);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  s->sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (s->sfd < 0) {
    int e = errno;
    snprintf(err, errlen, "Failed to create signalfd: errno=%s", strerror(e));
    return -e;
  }
  if (s->o.command) {
    s->child = launch_held(s->o.command, &s->go_fd);
    if (s->child < 0) {
      int e = errno;
      snprintf(err, errlen, "Failed to fork for %s: %s", s->o.command[0], strerror(e));
      s->child = 0;
      return -e;
    }
  }
  /* the session keeps pace with stap like stap with the traced threads (the
   * command above was forked first and keeps its own priority) */
  setpriority(PRIO_PROCESS, 0, SPANTAP_TRACER_NICE);
  int rc = s->o.module ? 0 : write_script(s, err, errlen);
  if (rc < 0)
    return rc;
  sigprocmask(SIG_UNBLOCK, &mask, NULL); /* stap's child must not inherit the block */
  char self[24];
  snprintf(self, sizeof self, "%ld", (long)getpid());
  const char *const stapbpf_args[] = {"-x", self, NULL}; /* the object's target(): spantap */
  if (s->rt == SPANTAP_RUNTIME_KERNEL)
    rc = load_module(s, err, errlen);
  else if (s->o.module)
    rc = spantap_stap_spawn(s->stap, stapbpf_args, s->ld_preload, s->o.module, &s->stap_proc, err,
                            errlen);
  else
    rc = spantap_stap_spawn(s->stap, s->stap_args, s->ld_preload, s->script_path, &s->stap_proc,
                            err, errlen);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  if (rc < 0)
    return rc;
  if (s->o.progress)
    fprintf(s->o.progress, "spantap: compiling and loading the tracing script...\n");
  s->started = s->last_tick = now_ns(CLOCK_MONOTONIC);
  s->wall_clock_offset = now_ns(CLOCK_REALTIME) - s->started;
  return 0;
}

/* Stops stap in order (SIGINT: it prints its END record), once. */
static void stop_stap(struct spantap_session *s, int sig) {
  if (s->stopping)
    return;
  s->stopping = true;
  s->stop_asked = now_ns(CLOCK_MONOTONIC);
  kill(s->stap_proc.pid, sig);
}

/* SIGKILL to stap and what it started (stapbpf, stapio): its process group,
 * of which it is the leader (spantap_stap_spawn). Killing stap alone would
 * leave stapbpf running, holding the output pipe open. */
static void kill_stap_group(pid_t pid) {
  if (kill(-pid, SIGKILL) < 0)
    kill(pid, SIGKILL);
}

/* Kills stap, asked to stop and still running, once: the recording is
 * incomplete for WHY (what was stored stays; a module left loaded is
 * unloaded when stap is reaped). */
static void kill_stap(struct spantap_session *s, const char *why) {
  if (s->stap_killed || s->stap_done)
    return;
  s->stap_killed = true;
  if (s->o.progress)
    fprintf(s->o.progress, "spantap: %s: killing %s (pid %ld)\n", why,
            s->rt == SPANTAP_RUNTIME_KERNEL ? "staprun" : "stap", (long)s->stap_proc.pid);
  snprintf(s->incomplete_buf, sizeof s->incomplete_buf, "%s: the runtime was killed", why);
  s->incomplete = s->incomplete_buf;
  kill_stap_group(s->stap_proc.pid);
}

/* A callback failed: the recording stops and is incomplete. */
static int sink_failed(struct spantap_session *s) {
  s->incomplete = "storing failed";
  stop_stap(s, SIGINT);
  return -EIO;
}

/* Every probe family answered: tracing starts now. */
static void on_ready(struct spantap_session *s, int64_t now) {
  const struct spantap_session_opts *o = &s->o;
  s->ready = true;
  s->started = now;
  /* the script is compiled and loaded: nothing is left behind if spantap is killed */
  unlink(s->script_path);
  if (o->progress)
    fprintf(o->progress, "spantap: tracing%s (Ctrl-C to stop)\n",
            o->duration_s > 0 ? " for the given duration" : "");
  if (o->duration_s > 0)
    s->deadline = now + (int64_t)(o->duration_s * 1e9);
  if (s->go_fd >= 0) {
    if (write(s->go_fd, "g", 1) != 1) {
      /* the child died before we released it; its exit ends the recording */
    }
    close(s->go_fd);
    s->go_fd = -1;
  }
  const struct spantap_script_opts *so = &o->script;
  if (so->ntargets && !so->nattach && !o->command && o->progress) {
    int running = spantap_targets_count_running(so->targets, so->ntargets);
    if (running == 0)
      fprintf(o->progress, "spantap: no process runs %s%s yet: waiting for one to start\n",
              so->targets[0].name, so->ntargets > 1 ? " (or the other targets)" : "");
    else
      fprintf(o->progress, "spantap: %d running process%s matched\n", running,
              running == 1 ? "" : "es");
  }
}

/* Pings each probe family that has not answered: stap attaches them one by one. */
static void ping(unsigned answered) {
  if (!(answered & SPANTAP_READY_SYSCALLS))
    syscall(SYS_getpriority, SPANTAP_READY_PING_WHICH, 0);
  if (!(answered & SPANTAP_READY_EXEC)) {
    pid_t child = fork();
    if (child == 0) {
      execl(SPANTAP_READY_PING_EXEC, SPANTAP_READY_PING_EXEC, (char *)NULL);
      _exit(0);
    }
  }
}

/* The handshake, the timers and the tick: what is due before waiting. */
static int due(struct spantap_session *s, char *err, size_t errlen) {
  int64_t now = now_ns(CLOCK_MONOTONIC);
  unsigned answered = s->sink.ready(s->sink.ctx);
  if (!s->ready && answered == SPANTAP_READY_ALL)
    on_ready(s, now);
  if (!s->ready && !s->stap_done && now - s->last_ping > PING_EVERY_NS) {
    ping(answered);
    s->last_ping = now;
  }
  if (!s->ready && !s->stopping && now - s->started > STARTUP_TIMEOUT_NS) {
    s->incomplete = "the tracing script did not start in time";
    stop_stap(s, SIGTERM);
  }
  if ((s->deadline && now >= s->deadline) || (s->drain_until && now >= s->drain_until))
    stop_stap(s, SIGINT);
  double stop_timeout_s = s->o.stop_timeout_s > 0 ? s->o.stop_timeout_s : STOP_TIMEOUT_S;
  if (s->stopping && !s->stap_done && now - s->stop_asked > (int64_t)(stop_timeout_s * 1e9)) {
    char why[96];
    snprintf(why, sizeof why, "the runtime did not stop within %g s of being asked",
             stop_timeout_s);
    kill_stap(s, why);
  }
  if (now - s->last_tick > TICK_EVERY_NS) {
    if (s->sink.tick) {
      int rc = s->sink.tick(s->sink.ctx, err, errlen);
      if (rc < 0) {
        s->incomplete = "storing failed";
        return -EIO; /* stap is killed by spantap_session_stop */
      }
    }
    s->last_tick = now;
  }
  return 0;
}

/* stap's standard error: loss reports go to the sink, the rest to the user
 * (but the "Pass N" progress lines). */
static int on_stap_stderr(struct spantap_session *s, const char *buf, size_t n, char *err,
                          size_t errlen) {
  for (size_t i = 0; i < n; i++) {
    if (buf[i] != '\n') {
      if (s->errline_len < sizeof s->errline - 1)
        s->errline[s->errline_len++] = buf[i];
      continue;
    }
    s->errline[s->errline_len] = '\0';
    s->errline_len = 0;
    uint64_t lost = spantap_stap_lost_in_line(s->errline);
    if (lost) {
      int rc = s->sink.lost(s->sink.ctx, lost, "runtime", err, errlen);
      if (rc < 0)
        return sink_failed(s);
    }
    if (strncmp(s->errline, "Pass ", 5) != 0 && s->o.progress)
      fprintf(s->o.progress, "stap: %s\n", s->errline);
    /* stap 4.8 spells it "insufficent" */
    if (strstr(s->errline, "insufficent BPF stack") && s->o.progress)
      fprintf(s->o.progress,
              "spantap: the script needs more than the BPF runtime's 512-byte stack per probe: "
              "trace fewer --binary targets (names under 16 bytes cost the most; a path the "
              "least), or choose a lower --stack-mode\n");
  }
  return 0;
}

/* Ctrl-C and SIGTERM stop the recording; exited children are reaped. */
static void on_signals(struct spantap_session *s) {
  struct signalfd_siginfo si;
  while (read(s->sfd, &si, sizeof si) == sizeof si) {
    if ((si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM) && !s->stopping) {
      if (s->o.progress)
        fprintf(s->o.progress, "\nspantap: stopping...\n");
      stop_stap(s, SIGINT);
    }
  }
  int st;
  pid_t w;
  while ((w = waitpid(-1, &st, WNOHANG)) > 0) {
    if (w == s->stap_proc.pid) {
      s->stap_done = true;
      s->stap_status = st;
      if (!s->stopping) {
        snprintf(s->incomplete_buf, sizeof s->incomplete_buf,
                 "stap exited on its own (status %d) before the recording ended",
                 WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
        s->incomplete = s->incomplete_buf;
      }
    } else if (w == s->child) {
      s->child = 0;
      if (!s->stopping && !s->drain_until)
        s->drain_until = now_ns(CLOCK_MONOTONIC) + DRAIN_NS;
    }
  }
}

int spantap_session_poll(struct spantap_session *s, char *err, size_t errlen) {
  if (s->stap_done && s->out_eof && s->err_eof)
    return 0;
  int rc = due(s, err, errlen);
  if (rc < 0)
    return rc;
  struct pollfd pf[3 + SPANTAP_SESSION_MAX_SOURCES] = {
      {.fd = s->out_eof ? -1 : s->stap_proc.out_fd, .events = POLLIN},
      {.fd = s->err_eof ? -1 : s->stap_proc.err_fd, .events = POLLIN},
      {.fd = s->sfd, .events = POLLIN}};
  for (size_t i = 0; i < s->nsources; i++)
    pf[3 + i] = (struct pollfd){.fd = s->source_ended[i] ? -1 : s->sources[i].fd, .events = POLLIN};
  int timeout = POLL_MS;
  for (size_t i = 0; i < s->nsources; i++)
    if (s->sources[i].fd < 0 && !s->source_ended[i])
      timeout = POLL_SOURCE_MS;
  if (poll(pf, 3 + s->nsources, timeout) < 0 && errno != EINTR) {
    int e = errno;
    snprintf(err, errlen, "Failed to poll stap's output: errno=%s", strerror(e));
    return -e;
  }
  if (pf[0].revents) {
    ssize_t n = read(s->stap_proc.out_fd, s->buf, sizeof s->buf);
    if (n <= 0)
      s->out_eof = true;
    else if ((rc = s->sink.stream(s->sink.ctx, s->buf, (size_t)n, err, errlen)) < 0)
      return sink_failed(s);
  }
  if (pf[1].revents) {
    ssize_t n = read(s->stap_proc.err_fd, s->buf, sizeof s->buf);
    if (n <= 0)
      s->err_eof = true;
    else if ((rc = on_stap_stderr(s, s->buf, (size_t)n, err, errlen)) < 0)
      return rc;
  }
  for (size_t i = 0; i < s->nsources; i++) {
    if (s->source_ended[i] || (s->sources[i].fd >= 0 && !pf[3 + i].revents))
      continue;
    rc = s->sources[i].readable(s->sources[i].ctx, err, errlen);
    if (rc < 0)
      return sink_failed(s);
    s->source_ended[i] = rc > 0;
  }
  if (pf[2].revents)
    on_signals(s);
  return 1;
}

/* Kills stap if it still runs and reaps it; a module that staprun left loaded
 * when a signal killed it is unloaded. */
static void end_stap(struct spantap_session *s) {
  if (!s->stap_done && s->stap_proc.pid > 0) {
    kill_stap_group(s->stap_proc.pid);
    waitpid(s->stap_proc.pid, &s->stap_status, 0);
  }
  if (s->stap_proc.pid > 0 && s->rt == SPANTAP_RUNTIME_KERNEL)
    spantap_module_unload_left(staprun_of(s), s->loaded, s->stap_status, s->o.progress);
  s->stap_done = true;
  s->stap_proc.pid = 0;
}

void spantap_session_stop(struct spantap_session *s, struct spantap_session_result *r) {
  end_stap(s);
  s->ready = s->ready || s->sink.ready(s->sink.ctx) == SPANTAP_READY_ALL;
  if (!s->incomplete && !s->ready)
    s->incomplete = "the tracing script never started (see stap's messages above)";
  *r = (struct spantap_session_result){.ready = s->ready,
                                       .started_ns = s->started,
                                       .wall_clock_offset_ns = s->wall_clock_offset,
                                       .incomplete = s->incomplete};
}

void spantap_session_destroy(struct spantap_session *s) {
  if (!s)
    return;
  if (s->go_fd >= 0)
    close(s->go_fd);
  if (s->child > 0) {
    kill(s->child, SIGTERM);
    waitpid(s->child, NULL, 0);
  }
  end_stap(s);
  if (s->stap_proc.out_fd >= 0)
    close(s->stap_proc.out_fd);
  if (s->stap_proc.err_fd >= 0)
    close(s->stap_proc.err_fd);
  if (s->sfd >= 0)
    close(s->sfd);
  if (s->script_fd >= 0)
    close(s->script_fd);
  if (s->script_path[0])
    unlink(s->script_path);
  free(s->dpaths);
  free(s);
}
