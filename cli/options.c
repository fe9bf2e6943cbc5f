/* Option parsing for `record` and `script`, and their --help text. */
#include "cli/options.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "collector/collector.h"
#include "common/syscall_table.h"
#include "runtime/bpf_object.h"
#include "runtime/recording_session.h"
#include "runtime/targets.h"
#include "spantap/record_queue.h"

static const char record_usage[] =
    "Usage: spantap record [OPTIONS] [--binary NAME|PATH]... [--pid PID]... [-- CMD [ARGS...]]\n"
    "\n"
    "Trace an application by its binary and store its kernel events, with the user\n"
    "stacks that led to them, in one SQLite file.\n"
    "\n"
    "What to trace (at least one):\n"
    "  -b, --binary NAME|PATH  processes running this binary, their children and threads;\n"
    "                          a NAME matches the executable's file name in full (a\n"
    "                          name under 15 characters also the process name), a PATH\n"
    "                          matches that exact file (by inode). Repeatable.\n"
    "  -p, --pid PID           a running process and its future children. Repeatable.\n"
    "  -- CMD [ARGS...]        launch CMD and trace it and its descendants.\n"
    "\n"
    "How:\n"
    "  -e, --events LIST       comma-separated: net, file, mem, proc (syscall classes),\n"
    "                          all (every syscall), tcp (TCP state changes), sched\n"
    "                          (off-CPU time), faults (user page faults), default.\n"
    "                          Default: net,proc,tcp (what request spans need).\n"
    "  -s, --stack-mode M      user stacks: 1 innermost frame in the application's own\n"
    "                          binary (default), 2 up to S frames in that binary,\n"
    "                          3 the innermost frame of each binary or library on the\n"
    "                          stack, up to S, 4 up to S frames anywhere; 0 no stacks.\n"
    "  -d, --stack-depth S     the frame budget of the stack modes (1-32, default 8).\n"
    "                          Deepest stack kept with the BPF runtime: mode 1 one\n"
    "                          frame (searched up to S frames deep), modes 2-4 S\n"
    "                          frames, up to 32 (interned in chunks of 8).\n"
    "  -r, --runtime RT        bpf, kernel (SystemTap's module runtime) or auto (default).\n"
    "      --unwind HOW        how the module runtime walks user stacks: dwarf (default;\n"
    "                          stap's unwinder and the binaries' unwind tables: whole\n"
    "                          stacks through code built without frame pointers, such\n"
    "                          as Debian's libc) or fp (frame pointers, as the BPF\n"
    "                          runtime always does: about three times cheaper, for code\n"
    "                          built with -fno-omit-frame-pointer).\n"
    "      --no-follow-exec    stop following a traced process that execs another binary.\n"
    "  -t, --duration T        stop after T seconds (default: Ctrl-C or when CMD ends).\n"
    "                          Stopping lets the runtime hand over its last records;\n"
    "                          a runtime still running 60 s later is killed: what was\n"
    "                          stored stays, marked incomplete.\n"
    "\n"
    "Output:\n"
    "  -o, --output FILE       the database (default trace.db); created mode 0600.\n"
    "  -f, --force             replace FILE if it exists.\n"
    "      --save-stream FILE  also keep the raw record stream (for `spantap import`,\n"
    "                          here or elsewhere: it names each binary by path and\n"
    "                          build id, so another build is never taken for it).\n"
    "      --metrics-listen ADDR:PORT\n"
    "                          serve Prometheus metrics of the recording so far at\n"
    "                          http://ADDR:PORT/metrics while recording (latency\n"
    "                          histograms, kernel time by class, syscalls; the same\n"
    "                          text as `spantap export prometheus FILE` afterwards).\n"
    "      --buffer-size MIB   kernel memory for the records on their way, in MiB\n"
    "                          (1-4096). The BPF runtime's record queues: by default\n"
    "                          about 38 MiB with the default events\n"
    "                          (41 with --events all or stack modes 2-4): 65,536\n"
    "                          records per syscall queue, 50 ms of a busy server. The\n"
    "                          queues grow with it (about 1,700 syscall records per\n"
    "                          MiB); records made while a queue is full are counted\n"
    "                          lost. The memory is locked (memcg-accounted) while\n"
    "                          recording; record prints what it takes.\n"
    "                          The module runtime's relay buffers take MIB divided\n"
    "                          among the CPUs (staprun -b; at least 1 MiB a CPU,\n"
    "                          about 15,000 syscall records without stacks).\n"
    "                          Default: stap's 16 MiB a CPU (less when free memory\n"
    "                          is short). Records made while they are full, or left\n"
    "                          unread when staprun exits, are counted lost.\n"
    "                          The collector's own memory does not grow with the\n"
    "                          recording's length: about 15 MiB of reorder window\n"
    "                          (65,536 events), at most 8 MiB of rows queued for\n"
    "                          the database writer thread, and one pass of the\n"
    "                          queues (about 250 bytes a record, at most what the\n"
    "                          queues hold: it grows with --buffer-size). Rows the\n"
    "                          writer is behind on wait in an unnamed scratch file\n"
    "                          beside --output (about 150 bytes a syscall row, gone\n"
    "                          when record ends), so the queues keep draining.\n"
    "\n"
    "Build on one machine, run on another:\n"
    "      --compile-only      build the module into --output (NAME.ko) and stop; with\n"
    "                          --runtime bpf, a BPF object (NAME.bo) for stapbpf.\n"
    "      --kernel-release R  with --compile-only: for kernel R (its headers installed);\n"
    "                          with --runtime bpf, R is a release or a build tree, whose\n"
    "                          System.map must name bpf_raw_tp_link_release.\n"
    "      --module X.ko       run a module built with --compile-only (needs staprun\n"
    "                          only); its stack mode and depth are the module's own.\n"
    "      --module X.bo       run a BPF object built with --compile-only (needs stapbpf\n"
    "                          only, and as many CPUs as the build machine at most); it\n"
    "                          traces the --binary targets it was built with (no --pid,\n"
    "                          no -- CMD).\n"
    "\n"
    "Request spans and traces are derived from the events as they arrive; when the\n"
    "recording ends, `spantap traces FILE` lists them.\n"
    "\n"
    "Examples:\n"
    "  spantap record --binary nginx --duration 30 -o nginx.db\n"
    "  spantap record --stack-mode 4 -o run.db -- ./server --port 8080\n"
    "  spantap record --pid 1234 --events net,file,sched\n"
    "Needs root. On kernels without loadable modules run `spantap setup` once first.\n";

static const char script_usage[] =
    "Usage: spantap script [OPTIONS] [--binary NAME|PATH]... [--pid PID]...\n"
    "\n"
    "Print the SystemTap script `spantap record` would run, without running it.\n"
    "Takes record's --binary, --pid, --events, --stack-mode, --stack-depth,\n"
    "--runtime (bpf or kernel; default bpf), --unwind and --no-follow-exec.\n"
    "\n"
    "Example:\n"
    "  spantap script --binary httpd --runtime kernel --stack-mode 4 > httpd.stp\n";

/* The CALL options below take O (struct spantap_trace_options *) as DEST. */

static int take_binary(void *dest, const char *value, char *err, size_t errlen) {
  struct spantap_trace_options *o = dest;
  if (o->ntargets == SPANTAP_MAX_TARGETS) {
    snprintf(err, errlen, "at most %d --binary", SPANTAP_MAX_TARGETS);
    return -EINVAL;
  }
  if (spantap_target_resolve(value, &o->targets[o->ntargets], err, errlen) < 0)
    return -EINVAL;
  o->ntargets++;
  return 0;
}

static int take_pid(void *dest, const char *value, char *err, size_t errlen) {
  struct spantap_trace_options *o = dest;
  uint64_t v;
  if (o->npids == SPANTAP_MAX_PIDS) {
    snprintf(err, errlen, "at most %d --pid", SPANTAP_MAX_PIDS);
    return -EINVAL;
  }
  if (spantap_arg_number("--pid", value, 1, SPANTAP_PID_MAX, &v, err, errlen) < 0)
    return -EINVAL;
  if (o->for_record && kill((pid_t)v, 0) < 0 && errno == ESRCH) {
    snprintf(err, errlen, "no process with --pid %llu", (unsigned long long)v);
    return -EINVAL;
  }
  o->pids[o->npids++] = (pid_t)v;
  return 0;
}

static int take_events(void *dest, const char *value, char *err, size_t errlen) {
  struct spantap_trace_options *o = dest;
  char why[200];
  if (spantap_events_parse(value, &o->classes, &o->extras, why, sizeof why) < 0) {
    snprintf(err, errlen, "--events: %s", why);
    return -EINVAL;
  }
  o->events = value;
  return 0;
}

/* bpf or kernel, and for `record` also auto (decided when it starts). */
static int take_runtime(void *dest, const char *value, char *err, size_t errlen) {
  struct spantap_trace_options *o = dest;
  enum spantap_runtime rt;
  if (spantap_runtime_parse(value, &rt) < 0 && !(o->for_record && strcmp(value, "auto") == 0)) {
    snprintf(err, errlen, "invalid --runtime '%s' (bpf, kernel%s)", value,
             o->for_record ? " or auto" : "");
    return -EINVAL;
  }
  o->runtime = value;
  return 0;
}

static int take_unwind(void *dest, const char *value, char *err, size_t errlen) {
  struct spantap_trace_options *o = dest;
  if (strcmp(value, "dwarf") != 0 && strcmp(value, "fp") != 0) {
    snprintf(err, errlen, "invalid --unwind '%s' (dwarf or fp)", value);
    return -EINVAL;
  }
  o->unwind = value;
  return 0;
}

static int take_duration(void *dest, const char *value, char *err, size_t errlen) {
  struct spantap_trace_options *o = dest;
  char *end;
  errno = 0;
  o->duration_s = strtod(value, &end);
  if (errno || end == value || *end || !(o->duration_s > 0) || o->duration_s > 1e7) {
    snprintf(err, errlen, "invalid --duration '%s' (seconds, > 0 and at most 1e7)", value);
    return -EINVAL;
  }
  return 0;
}

int spantap_trace_options_parse(int argc, char **argv, bool for_record,
                                struct spantap_trace_options *o) {
  memset(o, 0, sizeof *o);
  o->for_record = for_record;
  /* defaults below; a --module's stream says its own */
  o->stack_mode = SPANTAP_STACK_AS_RECORDED;
  o->stack_depth = SPANTAP_STACK_AS_RECORDED;
  o->classes = SPANTAP_DEFAULT_CLASSES;
  o->extras = SPANTAP_DEFAULT_EXTRAS;
  o->events = "default";
  o->runtime = for_record ? "auto" : "bpf";
  o->output = "trace.db";
  bool no_follow_exec = false;
  /* record's own options last: `script` takes the SCRIPT_NOPTS before them */
  enum { SCRIPT_NOPTS = 8 };
  const struct spantap_opt opts[] = {
      {.name = "binary", .letter = 'b', .kind = SPANTAP_OPT_CALL, .dest = o, .call = take_binary},
      {.name = "pid", .letter = 'p', .kind = SPANTAP_OPT_CALL, .dest = o, .call = take_pid},
      {.name = "events", .letter = 'e', .kind = SPANTAP_OPT_CALL, .dest = o, .call = take_events},
      SPANTAP_OPT_STACK_MODE(&o->stack_mode, NULL),
      SPANTAP_OPT_STACK_DEPTH(&o->stack_depth),
      {.name = "runtime", .letter = 'r', .kind = SPANTAP_OPT_CALL, .dest = o, .call = take_runtime},
      {.name = "unwind", .kind = SPANTAP_OPT_CALL, .dest = o, .call = take_unwind},
      {.name = "no-follow-exec", .kind = SPANTAP_OPT_FLAG, .dest = &no_follow_exec},
      {.name = "duration",
       .letter = 't',
       .kind = SPANTAP_OPT_CALL,
       .dest = o,
       .call = take_duration},
      SPANTAP_OPT_OUTPUT(&o->output),
      SPANTAP_OPT_FORCE(&o->force),
      {.name = "save-stream", .kind = SPANTAP_OPT_STRING, .dest = &o->save_stream},
      {.name = "metrics-listen", .kind = SPANTAP_OPT_STRING, .dest = &o->metrics_listen},
      SPANTAP_OPT_NUMBER("buffer-size", 0, &o->buffer_mib, 1, 4096),
      {.name = "compile-only", .kind = SPANTAP_OPT_FLAG, .dest = &o->compile_only},
      {.name = "kernel-release", .kind = SPANTAP_OPT_STRING, .dest = &o->kernel_release},
      {.name = "module", .kind = SPANTAP_OPT_STRING, .dest = &o->module},
  };
  const struct spantap_cmdline cl = {
      .cmd = for_record ? "record" : "script",
      .usage = for_record ? record_usage : script_usage,
      .opts = opts,
      .nopts = for_record ? sizeof opts / sizeof opts[0] : SCRIPT_NOPTS,
      .in_order = true,
      .operands = -1,
  };
  int first, status = spantap_args_parse(&cl, argc, argv, &first);
  if (status >= 0)
    return status == SPANTAP_EXIT_OK ? 1 : -EINVAL;
  o->follow_exec = !no_follow_exec;
  if (first < argc) {
    if (!for_record || strcmp(argv[first - 1], "--") != 0) {
      fprintf(stderr, "spantap %s: unexpected argument '%s' (a command goes after --)\n", cl.cmd,
              argv[first]);
      return -EINVAL;
    }
    o->command = argv + first;
  }
  bool bpf_object = o->module && spantap_is_bpf_object_path(o->module);
  if (o->module && strcmp(o->runtime, "auto") != 0 &&
      strcmp(o->runtime, bpf_object ? "bpf" : "kernel") != 0) {
    fprintf(stderr, "spantap %s: --module %s runs with the %s runtime, not --runtime %s\n", cl.cmd,
            o->module, bpf_object ? "BPF" : "module", o->runtime);
    return -EINVAL;
  }
  if (bpf_object || (o->compile_only && strcmp(o->runtime, "bpf") == 0))
    o->runtime = "bpf";
  else if (o->compile_only || o->kernel_release || o->module)
    o->runtime = "kernel";
  if (bpf_object && (o->npids || o->command || o->ntargets)) {
    fprintf(stderr,
            "spantap %s: --module %s traces what it was built for: no --binary, --pid or "
            "-- CMD (build it with its --binary targets)\n",
            cl.cmd, o->module);
    return -EINVAL;
  }
  if (o->compile_only && strcmp(o->runtime, "bpf") == 0 && o->npids) {
    fprintf(stderr,
            "spantap %s: a BPF object cannot take --pid (pids differ where it runs): use "
            "--binary\n",
            cl.cmd);
    return -EINVAL;
  }
  /* A module built ahead of time records with the stack mode and depth it was
   * built with, which its stream's BEGIN record carries: there -s and -d only
   * select among the recorded frames, as for `spantap import`. */
  if (!o->module && o->stack_mode == SPANTAP_STACK_AS_RECORDED)
    o->stack_mode = 1;
  if (!o->module && o->stack_depth == SPANTAP_STACK_AS_RECORDED)
    o->stack_depth = 8;
  if (o->kernel_release && !o->compile_only) {
    fprintf(stderr,
            "spantap %s: --kernel-release builds for another kernel: it needs "
            "--compile-only\n",
            cl.cmd);
    return -EINVAL;
  }
  if (o->module && o->unwind) {
    fprintf(stderr,
            "spantap %s: --module %s walks stacks as it was built to: no --unwind (give it "
            "with --compile-only)\n",
            cl.cmd, o->module);
    return -EINVAL;
  }
  if (o->module && o->compile_only) {
    fprintf(stderr, "spantap %s: --module runs a built module: not with --compile-only\n", cl.cmd);
    return -EINVAL;
  }
  if (o->compile_only && o->command) {
    fprintf(stderr, "spantap %s: --compile-only runs nothing: use --binary, not -- CMD\n", cl.cmd);
    return -EINVAL;
  }
  if (o->ntargets == 0 && o->npids == 0 && !o->command && !o->module) {
    fprintf(stderr,
            "spantap %s: nothing to trace: give --binary, --pid or -- CMD\n"
            "Try 'spantap %s --help'.\n",
            cl.cmd, cl.cmd);
    return -EINVAL;
  }
  return 0;
}

/* The queue scale whose maps hold about MIB MiB for SO (memory is linear in
 * the scale: a fixed part plus a part per scale unit). */
static unsigned scale_for_mib(struct spantap_script_opts so, unsigned mib) {
  so.runtime = SPANTAP_RUNTIME_BPF;
  so.queue_scale = 1;
  size_t one = spantap_script_queue_memory(&so);
  so.queue_scale = 2;
  size_t two = spantap_script_queue_memory(&so);
  if (!one || two <= one)
    return SPANTAP_QUEUE_SCALE_DEFAULT;
  size_t unit = two - one, fixed = one > unit ? one - unit : 0;
  size_t want = (size_t)mib << 20;
  size_t scale = want > fixed ? (want - fixed) / unit : 1;
  return scale < 1                                  ? 1
         : scale > 64 * SPANTAP_QUEUE_SCALE_DEFAULT ? 64 * SPANTAP_QUEUE_SCALE_DEFAULT
                                                    : (unsigned)scale;
}

int spantap_trace_options_to_script(const struct spantap_trace_options *o,
                                    enum spantap_runtime runtime, pid_t launch_pid,
                                    struct spantap_script_opts *so, char *err, size_t errlen) {
  *so = (struct spantap_script_opts){
      .runtime = runtime,
      .targets = o->targets,
      .ntargets = o->ntargets,
      .attach_pids = o->pids,
      .nattach = o->npids,
      .launch_pid = launch_pid,
      .self_pid = getpid(),
      .stack_mode = o->stack_mode,
      .stack_depth = o->stack_depth,
      .classes = o->classes,
      .extras = o->extras,
      .follow_exec = o->follow_exec,
      .unwind_fp = o->unwind && strcmp(o->unwind, "fp") == 0,
      .queue_scale = SPANTAP_QUEUE_SCALE_DEFAULT,
  };
  if (runtime == SPANTAP_RUNTIME_BPF && o->unwind && strcmp(o->unwind, "dwarf") == 0) {
    snprintf(err, errlen,
             "--unwind dwarf needs the module runtime (--runtime kernel): the BPF runtime walks "
             "frame pointers only");
    return -EINVAL;
  }
  int rc = spantap_queue_cookie_new(&so->queue_cookie);
  if (rc < 0) {
    snprintf(err, errlen, "Failed to draw the recording's cookie: %s", strerror(-rc));
    return rc;
  }
  int ncpu = spantap_queue_possible_cpus();
  if (ncpu < 0) {
    snprintf(err, errlen, "Failed to read /sys/devices/system/cpu/possible: %s", strerror(-ncpu));
    return ncpu;
  }
  so->queue_ncpu = (unsigned)ncpu;
  if (o->compile_only && strcmp(o->runtime, "bpf") == 0) {
    /* built to run elsewhere: spantap's pid comes from stapbpf -x there */
    so->self_pid_at_load = true;
  }
  if (o->module && spantap_is_bpf_object_path(o->module)) {
    /* the object's queues are its build's: read them from its mark */
    rc = spantap_bpf_object_read_mark(o->module, &so->queue_cookie, &so->queue_ncpu, err, errlen);
    if (rc < 0)
      return rc;
    if (so->queue_ncpu < (unsigned)ncpu) {
      snprintf(err, errlen,
               "%s was built for %u CPUs and this machine has %d: build it on a machine with at "
               "least as many (its record queues are numbered by CPU)",
               o->module, so->queue_ncpu, ncpu);
      return -EINVAL;
    }
  }
  if (o->buffer_mib) {
    so->queue_scale = scale_for_mib(*so, o->buffer_mib);
    /* the module runtime: MIB shared among the CPUs' relay buffers */
    so->relay_mib_per_cpu = o->buffer_mib / (unsigned)ncpu ? o->buffer_mib / (unsigned)ncpu : 1;
  }
  return 0;
}
