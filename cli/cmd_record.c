/* `spantap record`: generate the script, start stap, launch or wait for the
 * traced application, feed the collector until the recording ends, and store
 * the recording's metadata and summary. One straight line with one cleanup. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/record_module.h"
#include "collector/collector.h"
#include "collector/summary.h"
#include "runtime/machine_setup.h"
#include "runtime/stap_launch.h"
#include "runtime/targets.h"

#define READY_PING_ARG 21328  /* getpriority(21328, 0): answered by the script with READY */
#define STARTUP_TIMEOUT_S 300 /* compiling a script takes seconds; give up after this */
#define DRAIN_MS 300          /* after the traced command ends, let in-flight events arrive */

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

/* Forks the traced command, held before exec until GO is written to. */
static pid_t launch_held(char **command, int *go_fd) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0)
    return -1;
  pid_t pid = fork();
  if (pid < 0)
    return -1;
  if (pid == 0) {
    close(p[1]);
    char c;
    if (read(p[0], &c, 1) != 1)
      _exit(126); /* spantap gave up before tracing started */
    signal(SIGINT, SIG_DFL);
    execvp(command[0], command);
    fprintf(stderr, "spantap: cannot run %s: %s\n", command[0], strerror(errno));
    _exit(127);
  }
  close(p[0]);
  *go_fd = p[1];
  return pid;
}

static char *join_args(int argc, char **argv) {
  size_t len = 1;
  for (int i = 0; i < argc; i++)
    len += strlen(argv[i]) + 1;
  char *s = calloc(1, len);
  for (int i = 0; s && i < argc; i++) {
    strcat(s, argv[i]);
    if (i + 1 < argc)
      strcat(s, " ");
  }
  return s;
}

int spantap_cmd_record(int argc, char **argv) {
  struct spantap_trace_options o;
  int rc = spantap_trace_options_parse(argc, argv, true, &o);
  if (rc)
    return rc > 0 ? SPANTAP_EXIT_OK : SPANTAP_EXIT_USAGE;

  int status = SPANTAP_EXIT_FAIL;
  char err[1024] = "", why[1024];
  char script_path[] = "/tmp/spantap-XXXXXX.stp";
  int script_fd = -1, go_fd = -1, sfd = -1;
  pid_t child = 0;
  struct spantap_stap stap = {.pid = 0, .out_fd = -1, .err_fd = -1};
  struct spantap_store *store = NULL;
  struct spantap_symbolizer *sym = NULL;
  struct spantap_collector *col = NULL;
  FILE *saved = NULL;
  char *cmdline = join_args(argc + 1, argv - 1);
  const char *incomplete = NULL;
  char incomplete_buf[256];

  if (geteuid() != 0 && !o.compile_only) {
    fprintf(stderr, "spantap record: needs root (it loads a tracing program into the kernel); "
                    "run it with sudo\n");
    goto cleanup;
  }
  const char *stap_bin = getenv("SPANTAP_STAP") ? getenv("SPANTAP_STAP") : "stap";
  char found[4096];
  found[0] = '\0';
  if (!o.module && spantap_target_find_in_path(stap_bin, found, sizeof found) < 0 &&
      access(stap_bin, X_OK) < 0) {
    fprintf(stderr, "spantap record: SystemTap (stap) not found: install it with "
                    "'apt-get install systemtap' (or run ./bootstrap)\n");
    goto cleanup;
  }
  enum spantap_runtime rt = pick_runtime(o.runtime, why, sizeof why);
  fprintf(stderr, "spantap: runtime %s (%s)\n", spantap_runtime_name(rt), why);

  const char *stap_args[32];
  size_t nargs = 0;
  const char *ld_preload = NULL;
  struct spantap_setup_status setup;
  if (rt == SPANTAP_RUNTIME_BPF) {
    const char *bpf_args[16];
    if (spantap_setup_inspect(NULL, &setup) < 0 ||
        spantap_setup_bpf_args(&setup, bpf_args, 16, &ld_preload, err, sizeof err) < 0) {
      fprintf(stderr, "spantap record: %s\n",
              err[0] ? err : "machine not prepared: run 'spantap setup'");
      goto cleanup;
    }
    stap_args[nargs++] = "--runtime=bpf";
    for (size_t i = 0; bpf_args[i] && nargs < 24; i++)
      stap_args[nargs++] = bpf_args[i];
  } else if (spantap_record_module_args(&o, stap_args, &nargs, 32) < 0) {
    goto cleanup;
  }
  stap_args[nargs] = NULL;
  if (o.compile_only) {
    status = spantap_record_compile_only(&o, found[0] ? found : stap_bin, stap_args);
    goto cleanup;
  }

  if (spantap_store_open(o.output, o.force, &store, err, sizeof err) < 0) {
    fprintf(stderr, "spantap record: %s\n", err);
    goto cleanup;
  }
  if (o.save_stream && !(saved = fopen(o.save_stream, "we"))) {
    fprintf(stderr, "spantap record: cannot create --save-stream %s: %s\n", o.save_stream,
            strerror(errno));
    goto cleanup;
  }
  sym = spantap_symbolizer_new();
  struct spantap_collector_opts copts = {
      .live = true, .stack_mode = o.stack_mode, .stack_depth = o.stack_depth, .save_stream = saved};
  if (!sym || spantap_collector_new(store, sym, &copts, &col) < 0) {
    fprintf(stderr, "spantap record: out of memory starting the collector\n");
    goto cleanup;
  }

  /* Signals arrive on a descriptor so the loop below sees them in order. An
   * ignored signal (a background job of a script, nohup) would never reach it,
   * so the dispositions go back to default first; blocked, they only queue. */
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGCHLD);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

  if (o.command) {
    child = launch_held(o.command, &go_fd);
    if (child < 0) {
      fprintf(stderr, "spantap record: Failed to fork for %s: %s\n", o.command[0], strerror(errno));
      child = 0;
      goto cleanup;
    }
  }
  /* the collector keeps pace with stap like stap with the traced threads (the
   * command above was forked first and keeps its own priority) */
  setpriority(PRIO_PROCESS, 0, SPANTAP_TRACER_NICE);
  struct spantap_script_opts so;
  spantap_trace_options_to_script(&o, rt, child, &so);
  script_fd = mkstemps(script_path, 4);
  FILE *sf = script_fd >= 0 ? fdopen(dup(script_fd), "w") : NULL;
  /* --module: the script was compiled into the module elsewhere */
  if (!sf || (!o.module && spantap_script_generate(&so, sf, err, sizeof err) < 0) ||
      fclose(sf) != 0) {
    fprintf(stderr, "spantap record: Failed to write script: path=%s %s\n", script_path, err);
    goto cleanup;
  }
  sigprocmask(SIG_UNBLOCK, &mask, NULL); /* stap's child must not inherit the block */
  if (rt == SPANTAP_RUNTIME_KERNEL)
    rc = spantap_record_module_spawn(&o, &so, found[0] ? found : stap_bin, stap_args, script_path,
                                     &stap, err, sizeof err);
  else
    rc = spantap_stap_spawn(found[0] && access(found, X_OK) == 0 ? found : stap_bin, stap_args,
                            ld_preload, script_path, &stap, err, sizeof err);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  if (rc < 0) {
    fprintf(stderr, "spantap record: %s\n", err);
    goto cleanup;
  }
  fprintf(stderr, "spantap: compiling and loading the tracing script...\n");

  int64_t started = now_ns(CLOCK_MONOTONIC), started_wall = now_ns(CLOCK_REALTIME);
  int64_t deadline = 0, drain_until = 0, last_ping = 0, last_flush = started;
  bool ready = false, stopping = false, stap_done = false, out_eof = false, err_eof = false;
  int stap_status = 0;
  char errline[1024];
  size_t errlen = 0;
  static char buf[1 << 16];
  while (!(stap_done && out_eof && err_eof)) {
    int64_t now = now_ns(CLOCK_MONOTONIC);
    const struct spantap_collector_stats *cs = spantap_collector_stats(col);
    if (!ready && cs->ready_mask == SPANTAP_READY_ALL) {
      ready = true;
      started = now;
      /* the script is compiled and loaded: nothing is left behind if spantap is killed */
      unlink(script_path);
      fprintf(stderr, "spantap: tracing%s (Ctrl-C to stop)\n",
              o.duration_s > 0 ? " for the given duration" : "");
      if (o.duration_s > 0)
        deadline = now + (int64_t)(o.duration_s * 1e9);
      if (go_fd >= 0) {
        if (write(go_fd, "g", 1) != 1) {
          /* the child died before we released it; its exit ends the recording */
        }
        close(go_fd);
        go_fd = -1;
      }
      if (o.ntargets && !o.npids && !o.command) {
        int running = spantap_targets_count_running(o.targets, o.ntargets);
        if (running == 0)
          fprintf(stderr, "spantap: no process runs %s%s yet: waiting for one to start\n",
                  o.targets[0].name, o.ntargets > 1 ? " (or the other targets)" : "");
        else
          fprintf(stderr, "spantap: %d running process%s matched\n", running,
                  running == 1 ? "" : "es");
      }
    }
    if (!ready && !stap_done && now - last_ping > 200000000) {
      /* ping each probe family until it answers: stap attaches them one by one */
      if (!(cs->ready_mask & SPANTAP_READY_SYSCALLS))
        syscall(SYS_getpriority, READY_PING_ARG, 0);
      if (!(cs->ready_mask & SPANTAP_READY_EXEC)) {
        pid_t ping = fork();
        if (ping == 0) {
          execl("/bin/true", "true", (char *)NULL);
          _exit(0);
        }
      }
      last_ping = now;
    }
    if (!ready && !stopping && now - started > (int64_t)STARTUP_TIMEOUT_S * 1000000000) {
      incomplete = "the tracing script did not start in time";
      stopping = true;
      kill(stap.pid, SIGTERM);
    }
    if (!stopping && ((deadline && now >= deadline) || (drain_until && now >= drain_until))) {
      stopping = true;
      kill(stap.pid, SIGINT);
    }
    if (now - last_flush > 500000000) {
      if (spantap_collector_flush(col, err, sizeof err) < 0) {
        fprintf(stderr, "spantap record: %s\n", err);
        incomplete = "storing failed";
        break;
      }
      last_flush = now;
    }
    struct pollfd pf[3] = {{.fd = out_eof ? -1 : stap.out_fd, .events = POLLIN},
                           {.fd = err_eof ? -1 : stap.err_fd, .events = POLLIN},
                           {.fd = sfd, .events = POLLIN}};
    if (poll(pf, 3, 100) < 0 && errno != EINTR)
      break;
    if (pf[0].revents) {
      ssize_t n = read(stap.out_fd, buf, sizeof buf);
      if (n <= 0) {
        out_eof = true;
      } else if (spantap_collector_feed(col, buf, (size_t)n, err, sizeof err) < 0) {
        fprintf(stderr, "spantap record: %s\n", err);
        incomplete = "storing failed";
        kill(stap.pid, SIGINT);
        break;
      }
    }
    if (pf[1].revents) {
      ssize_t n = read(stap.err_fd, buf, sizeof buf);
      if (n <= 0)
        err_eof = true;
      for (ssize_t i = 0; i < n; i++) {
        if (buf[i] != '\n' && errlen < sizeof errline - 1) {
          errline[errlen++] = buf[i];
          continue;
        }
        if (buf[i] != '\n')
          continue;
        errline[errlen] = '\0';
        errlen = 0;
        uint64_t lost = spantap_stap_lost_in_line(errline);
        if (lost)
          spantap_collector_add_lost(col, lost, "runtime", err, sizeof err);
        if (strncmp(errline, "Pass ", 5) != 0)
          fprintf(stderr, "stap: %s\n", errline);
      }
    }
    if (pf[2].revents) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM) {
          if (!stopping) {
            fprintf(stderr, "\nspantap: stopping...\n");
            stopping = true;
            kill(stap.pid, SIGINT);
          }
        }
      }
      int st;
      pid_t w;
      while ((w = waitpid(-1, &st, WNOHANG)) > 0) {
        if (w == stap.pid) {
          stap_done = true;
          stap_status = st;
          if (!stopping) {
            snprintf(incomplete_buf, sizeof incomplete_buf,
                     "stap exited on its own (status %d) before the recording ended",
                     WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
            incomplete = incomplete_buf;
          }
        } else if (w == child) {
          child = 0;
          if (!stopping && !drain_until)
            drain_until = now_ns(CLOCK_MONOTONIC) + (int64_t)DRAIN_MS * 1000000;
        }
      }
    }
  }
  if (!stap_done && stap.pid > 0) {
    kill(stap.pid, SIGKILL);
    waitpid(stap.pid, &stap_status, 0);
  }
  stap.pid = 0;
  if (rt == SPANTAP_RUNTIME_KERNEL)
    spantap_record_module_unload(stap_status);
  const struct spantap_collector_stats *cs = spantap_collector_stats(col);
  if (!incomplete && cs->ready_mask != SPANTAP_READY_ALL)
    incomplete = "the tracing script never started (see stap's messages above)";
  if (!incomplete && !cs->end_seen)
    incomplete = "the tracing script ended without its END record";
  if (spantap_collector_finish(col, err, sizeof err) < 0) {
    fprintf(stderr, "spantap record: %s\n", err);
    incomplete = "storing failed";
  }
  struct utsname u;
  uname(&u);
  char kernel[600];
  snprintf(kernel, sizeof kernel, "%s %s %s", u.sysname, u.release, u.machine);
  spantap_store_meta(store, "command_line", cmdline, 0);
  spantap_store_meta(store, "kernel", kernel, 0);
  spantap_store_meta(store, "hostname", u.nodename, 0);
  spantap_store_meta(store, "stack_mode", NULL, o.stack_mode);
  spantap_store_meta(store, "stack_depth", NULL, o.stack_depth);
  spantap_store_meta(store, "events", o.events, 0);
  spantap_store_meta(store, "started_ns", NULL, started);
  spantap_store_meta(store, "ended_ns", NULL, now_ns(CLOCK_MONOTONIC));
  spantap_store_meta(store, "wall_clock_offset_ns", NULL,
                     started_wall - started); /* add to *_ns columns for wall-clock time */
  spantap_store_meta(store, "complete", NULL, incomplete == NULL);
  if (incomplete)
    spantap_store_meta(store, "incomplete_reason", incomplete, 0);
  if (spantap_store_close(store, err, sizeof err) < 0) {
    store = NULL;
    fprintf(stderr, "spantap record: %s\n", err);
    goto cleanup;
  }
  store = NULL;
  if (cs->malformed)
    fprintf(stderr, "spantap: %llu malformed lines skipped (first at line %llu: %s)\n",
            (unsigned long long)cs->malformed,
            (unsigned long long)cs->malformed_examples[0].line_no, cs->malformed_examples[0].why);
  spantap_summary_print(o.output, stdout, 10, err, sizeof err);
  if (incomplete)
    fprintf(stderr, "spantap: the recording is INCOMPLETE: %s\n", incomplete);
  status = incomplete ? SPANTAP_EXIT_INCOMPLETE : SPANTAP_EXIT_OK;

cleanup:
  if (go_fd >= 0)
    close(go_fd);
  if (child > 0) {
    kill(child, SIGTERM);
    waitpid(child, NULL, 0);
  }
  if (stap.pid > 0) {
    kill(stap.pid, SIGKILL);
    waitpid(stap.pid, NULL, 0);
  }
  if (stap.out_fd >= 0)
    close(stap.out_fd);
  if (stap.err_fd >= 0)
    close(stap.err_fd);
  if (sfd >= 0)
    close(sfd);
  if (script_fd >= 0) {
    close(script_fd);
    unlink(script_path);
  }
  spantap_collector_destroy(col);
  spantap_symbolizer_destroy(sym);
  if (store) {
    /* failed before recording: remove the empty database rather than leave it */
    spantap_store_destroy(store);
    spantap_store_remove(o.output);
  }
  if (saved)
    fclose(saved);
  free(cmdline);
  return status;
}
