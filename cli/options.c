/* Option parsing for `record` and `script`, and their --help text. */
#include "cli/options.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/syscall_table.h"
#include "runtime/targets.h"

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
    "  -r, --runtime RT        bpf, kernel (SystemTap's module runtime) or auto (default).\n"
    "      --no-follow-exec    stop following a traced process that execs another binary.\n"
    "  -t, --duration T        stop after T seconds (default: Ctrl-C or when CMD ends).\n"
    "\n"
    "Output:\n"
    "  -o, --output FILE       the database (default trace.db); created mode 0600.\n"
    "  -f, --force             replace FILE if it exists.\n"
    "      --save-stream FILE  also keep the raw record stream (for `spantap import`).\n"
    "\n"
    "Build on one machine, run on another (the module runtime):\n"
    "      --compile-only      build the module into --output (NAME.ko) and stop.\n"
    "      --kernel-release R  with --compile-only: for kernel R (its headers installed).\n"
    "      --module X.ko       run a module built with --compile-only (needs staprun\n"
    "                          only); give the --stack-mode/--stack-depth it was built with.\n"
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
    "--runtime (bpf or kernel; default bpf) and --no-follow-exec.\n"
    "\n"
    "Example:\n"
    "  spantap script --binary httpd --runtime kernel --stack-mode 4 > httpd.stp\n";

static int parse_uint(const char *s, unsigned long max, unsigned long *out) {
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if (errno || end == s || *end || v > max || s[0] == '-')
    return -EINVAL;
  *out = v;
  return 0;
}

int spantap_trace_options_parse(int argc, char **argv, bool for_record,
                                struct spantap_trace_options *o) {
  static const struct option longopts[] = {{"binary", required_argument, 0, 'b'},
                                           {"pid", required_argument, 0, 'p'},
                                           {"events", required_argument, 0, 'e'},
                                           {"stack-mode", required_argument, 0, 's'},
                                           {"stack-depth", required_argument, 0, 'd'},
                                           {"runtime", required_argument, 0, 'r'},
                                           {"duration", required_argument, 0, 't'},
                                           {"output", required_argument, 0, 'o'},
                                           {"force", no_argument, 0, 'f'},
                                           {"save-stream", required_argument, 0, 'S'},
                                           {"no-follow-exec", no_argument, 0, 'N'},
                                           {"kernel-release", required_argument, 0, 'K'},
                                           {"compile-only", no_argument, 0, 'C'},
                                           {"module", required_argument, 0, 'M'},
                                           {"help", no_argument, 0, 'h'},
                                           {0, 0, 0, 0}};
  memset(o, 0, sizeof *o);
  o->stack_mode = 1;
  o->stack_depth = 8;
  o->classes = SPANTAP_DEFAULT_CLASSES;
  o->extras = SPANTAP_DEFAULT_EXTRAS;
  o->events = "default";
  o->runtime = for_record ? "auto" : "bpf";
  o->follow_exec = true;
  o->output = "trace.db";
  const char *cmd = for_record ? "record" : "script";
  char err[256];
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "+b:p:e:s:d:r:t:o:fh", longopts, NULL)) != -1) {
    unsigned long v;
    switch (c) {
      case 'b':
        if (o->ntargets == SPANTAP_MAX_TARGETS) {
          fprintf(stderr, "spantap %s: at most %d --binary\n", cmd, SPANTAP_MAX_TARGETS);
          return -EINVAL;
        }
        if (spantap_target_resolve(optarg, &o->targets[o->ntargets], err, sizeof err) < 0) {
          fprintf(stderr, "spantap %s: %s\n", cmd, err);
          return -EINVAL;
        }
        o->ntargets++;
        break;
      case 'p':
        if (parse_uint(optarg, 4194304, &v) < 0 || v == 0 || o->npids == SPANTAP_MAX_PIDS) {
          fprintf(stderr, "spantap %s: invalid --pid '%s' (a process id; at most %d)\n", cmd,
                  optarg, SPANTAP_MAX_PIDS);
          return -EINVAL;
        }
        if (for_record && kill((pid_t)v, 0) < 0 && errno == ESRCH) {
          fprintf(stderr, "spantap %s: no process with --pid %lu\n", cmd, v);
          return -EINVAL;
        }
        o->pids[o->npids++] = (pid_t)v;
        break;
      case 'e':
        if (spantap_events_parse(optarg, &o->classes, &o->extras, err, sizeof err) < 0) {
          fprintf(stderr, "spantap %s: --events: %s\n", cmd, err);
          return -EINVAL;
        }
        o->events = optarg;
        break;
      case 's':
        if (parse_uint(optarg, 4, &v) < 0) {
          fprintf(stderr, "spantap %s: invalid --stack-mode '%s' (0-4)\n", cmd, optarg);
          return -EINVAL;
        }
        o->stack_mode = (unsigned)v;
        break;
      case 'd':
        if (parse_uint(optarg, SPANTAP_STACK_DEPTH_MAX, &v) < 0 || v == 0) {
          fprintf(stderr, "spantap %s: invalid --stack-depth '%s' (1-%d)\n", cmd, optarg,
                  SPANTAP_STACK_DEPTH_MAX);
          return -EINVAL;
        }
        o->stack_depth = (unsigned)v;
        break;
      case 'r':
        if (strcmp(optarg, "bpf") && strcmp(optarg, "kernel") &&
            (strcmp(optarg, "auto") || !for_record)) {
          fprintf(stderr, "spantap %s: invalid --runtime '%s' (bpf, kernel%s)\n", cmd, optarg,
                  for_record ? " or auto" : "");
          return -EINVAL;
        }
        o->runtime = optarg;
        break;
      case 'N':
        o->follow_exec = false;
        break;
      case 't': {
        char *end;
        o->duration_s = strtod(optarg, &end);
        if (!for_record || end == optarg || *end || !(o->duration_s > 0) || o->duration_s > 1e7) {
          fprintf(stderr, "spantap %s: invalid --duration '%s' (seconds, > 0)\n", cmd, optarg);
          return -EINVAL;
        }
        break;
      }
      case 'K':
      case 'C':
      case 'M':
        if (!for_record) {
          fprintf(stderr, "spantap %s: option not valid here (see --help)\n", cmd);
          return -EINVAL;
        }
        if (c == 'K')
          o->kernel_release = optarg;
        else if (c == 'C')
          o->compile_only = true;
        else
          o->module = optarg;
        break;
      case 'o':
      case 'f':
      case 'S':
        if (!for_record) {
          fprintf(stderr, "spantap %s: option not valid here (see --help)\n", cmd);
          return -EINVAL;
        }
        if (c == 'o')
          o->output = optarg;
        else if (c == 'f')
          o->force = true;
        else
          o->save_stream = optarg;
        break;
      case 'h':
        fputs(for_record ? record_usage : script_usage, stdout);
        return 1;
      default:
        fprintf(stderr, "Try 'spantap %s --help'.\n", cmd);
        return -EINVAL;
    }
  }
  if (optind < argc) {
    if (!for_record || strcmp(argv[optind - 1], "--") != 0) {
      fprintf(stderr, "spantap %s: unexpected argument '%s' (a command goes after --)\n", cmd,
              argv[optind]);
      return -EINVAL;
    }
    o->command = argv + optind;
  }
  if ((o->compile_only || o->kernel_release || o->module) && strcmp(o->runtime, "bpf") == 0) {
    fprintf(stderr,
            "spantap %s: --compile-only, --kernel-release and --module are for the "
            "module runtime (--runtime kernel)\n",
            cmd);
    return -EINVAL;
  }
  if (o->compile_only || o->kernel_release || o->module)
    o->runtime = "kernel";
  if (o->kernel_release && !o->compile_only) {
    fprintf(stderr,
            "spantap %s: --kernel-release builds for another kernel: it needs "
            "--compile-only\n",
            cmd);
    return -EINVAL;
  }
  if (o->module && o->compile_only) {
    fprintf(stderr, "spantap %s: --module runs a built module: not with --compile-only\n", cmd);
    return -EINVAL;
  }
  if (o->compile_only && o->command) {
    fprintf(stderr, "spantap %s: --compile-only runs nothing: use --binary, not -- CMD\n", cmd);
    return -EINVAL;
  }
  if (o->ntargets == 0 && o->npids == 0 && !o->command && !o->module) {
    fprintf(stderr,
            "spantap %s: nothing to trace: give --binary, --pid or -- CMD\n"
            "Try 'spantap %s --help'.\n",
            cmd, cmd);
    return -EINVAL;
  }
  return 0;
}

void spantap_trace_options_to_script(const struct spantap_trace_options *o,
                                     enum spantap_runtime runtime, pid_t launch_pid,
                                     struct spantap_script_opts *so) {
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
  };
}
