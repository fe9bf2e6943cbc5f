/* Options shared by `spantap record` and `spantap script`: what to trace and
 * how, parsed into script options with errors that say which value is wrong. */
#ifndef SPANTAP_CLI_OPTIONS_H
#define SPANTAP_CLI_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "runtime/script_gen.h"

#define SPANTAP_MAX_TARGETS 32
#define SPANTAP_MAX_PIDS 64
#define SPANTAP_PID_MAX 4194304 /* the kernel's PID_MAX_LIMIT */

struct spantap_trace_options {
  struct spantap_target targets[SPANTAP_MAX_TARGETS];
  size_t ntargets;
  pid_t pids[SPANTAP_MAX_PIDS];
  size_t npids;
  char **command;                   /* argv after "--", or NULL */
  unsigned stack_mode, stack_depth; /* with --module: SPANTAP_STACK_AS_RECORDED unless given */
  unsigned classes, extras;
  const char *events;  /* as given, for the recording's metadata */
  const char *runtime; /* "bpf", "kernel" or "auto" */
  bool follow_exec;
  const char *unwind; /* --unwind: "dwarf" or "fp", NULL when not given */
  double duration_s;  /* 0: until Ctrl-C or the command ends */
  const char *output;
  const char *save_stream;
  const char *metrics_listen; /* NULL, or ADDR:PORT where /metrics is served while recording */
  unsigned buffer_mib;        /* --buffer-size: the record queues' memory in MiB, 0 default */
  bool force;
  bool for_record;            /* parsed for `record` (else `script`) */
  const char *kernel_release; /* --kernel-release: build the module for this kernel */
  bool compile_only;          /* --compile-only: build the module into --output, run nothing */
  const char *module;         /* --module: run this module built ahead of time */
};

/* Parses ARGV (after the subcommand) into O. FOR_RECORD allows the options
 * only `record` has. Returns 0, 1 when --help was printed, or -EINVAL after
 * printing the reason to stderr. */
int spantap_trace_options_parse(int argc, char **argv, bool for_record,
                                struct spantap_trace_options *o);

/* Fills SO from O for RUNTIME, with a fresh random queue cookie, the possible
 * CPUs and the queue scale --buffer-size asks for. Returns 0, or -errno with
 * what failed in ERR (no randomness, no CPU list). */
int spantap_trace_options_to_script(const struct spantap_trace_options *o,
                                    enum spantap_runtime runtime, pid_t launch_pid,
                                    struct spantap_script_opts *so, char *err, size_t errlen);

#endif
