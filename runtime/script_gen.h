/* Script generator: turns a recording's options into one SystemTap script for
 * either runtime, from the templates in stp/ and the record table in
 * include/spantap/record_format.h. */
#ifndef SPANTAP_SCRIPT_GEN_H
#define SPANTAP_SCRIPT_GEN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

enum spantap_runtime { SPANTAP_RUNTIME_BPF, SPANTAP_RUNTIME_KERNEL };

/* Extra event sources beyond the syscall classes (bit set). */
enum spantap_extra_events {
  SPANTAP_EXTRA_TCP = 1u << 0,   /* TCP state changes */
  SPANTAP_EXTRA_SCHED = 1u << 1, /* off-CPU time from scheduler switches */
  SPANTAP_EXTRA_FAULTS = 1u << 2 /* user page faults */
};

#define SPANTAP_STACK_DEPTH_MAX 32
#define SPANTAP_NAME_MAX 255 /* longest binary name matched (a file name) */

/* A binary to trace: by name (matched against the executable's file name and
 * the process name) or by path (matched by the executable's inode). */
/* Bytes of a process name the kernel keeps (TASK_COMM_LEN - 1). */
#define SPANTAP_COMM_MAX 15

struct spantap_target {
  const char *name; /* as the user gave it */
  bool is_path;
  uint64_t ino;  /* is_path: st_ino of the file */
  uint64_t kdev; /* is_path: st_dev in the kernel's encoding (major << 20 | minor) */
};

struct spantap_script_opts {
  enum spantap_runtime runtime;
  const struct spantap_target *targets;
  size_t ntargets;
  const pid_t *attach_pids; /* --pid: traced from the first event seen */
  size_t nattach;
  pid_t launch_pid;     /* -- CMD: the launched child, traced from its exec; 0 none */
  pid_t self_pid;       /* spantap's own pid: never traced, answers the ready ping */
  unsigned stack_mode;  /* 0 (no stacks) or 1-4, Uscope's modes */
  unsigned stack_depth; /* 1..SPANTAP_STACK_DEPTH_MAX */
  unsigned classes;     /* enum spantap_event_class bits */
  unsigned extras;      /* enum spantap_extra_events bits */
  bool follow_exec;     /* a traced process that execs a non-target stays traced */
  bool unwind_fp;       /* the module runtime walks frame pointers, not DWARF (--unwind fp) */
  /* The BPF runtime's record queues (include/spantap/record_queue.h): the
   * recording's cookie (spantap_queue_cookie_new; required for the BPF
   * runtime), the CPUs the queues are numbered for (the possible CPUs), and
   * the capacity scale (--buffer-size; 0: SPANTAP_QUEUE_SCALE_DEFAULT). */
  uint64_t queue_cookie;
  unsigned queue_ncpu;
  unsigned queue_scale;
  /* The module runtime's relay buffer of each CPU, in MiB (staprun -b, from
   * --buffer-size); 0: stap's default (16 MiB, or a quarter of free memory
   * divided among the CPUs when that is less). */
  unsigned relay_mib_per_cpu;
  /* A BPF object built ahead of time (`record --compile-only --runtime bpf`):
   * spantap's pid is read from stapbpf's -x PID (target()) when it runs, not
   * written into the script. */
  bool self_pid_at_load;
};

/* The module runtime's load-time globals (module parameters: staprun MODULE
 * NAME=VALUE): what changes between recordings with the same options. */
#define SPANTAP_KPARAM_SELF_PID "_st_self_pid"
#define SPANTAP_KPARAM_LAUNCH_PID "_st_launch_pid"
#define SPANTAP_KPARAM_ATTACH_PREFIX "_st_attach_" /* _st_attach_0 .. */
#define SPANTAP_KPARAM_ATTACH_SLOTS 8              /* --pid values a module takes */

/* The module runtime's type source for @cast: the kernel's headers. */
#define SPANTAP_KERNEL_CAST_HEADERS                                                                \
  "<linux/sched.h><linux/sched/signal.h><linux/mm_types.h><linux/fdtable.h><linux/fs.h>"           \
  "<linux/net.h><net/sock.h><linux/binfmts.h><asm/ptrace.h>"

/* Checks OPTS. Returns 0, or -EINVAL with the reason in ERR. */
int spantap_script_opts_check(const struct spantap_script_opts *opts, char *err, size_t errlen);

/* Writes the script for OPTS to OUT. Returns 0, -EINVAL (bad options, reason
 * in ERR) or -EIO (write failed). Nothing from the user's strings reaches the
 * script as text: names become integer constants, paths inode numbers. */
int spantap_script_generate(const struct spantap_script_opts *opts, FILE *out, char *err,
                            size_t errlen);

/* Bytes of kernel memory the BPF runtime's record queues of OPTS hold (the
 * cost of --buffer-size), or 0 for the module runtime or invalid options. */
size_t spantap_script_queue_memory(const struct spantap_script_opts *opts);

/* The number of frame slots each stack record carries for OPTS (0 without stacks). */
unsigned spantap_script_stack_slots(const struct spantap_script_opts *opts);

/* Parses "bpf", "kernel" into *RT. Returns 0 or -EINVAL. */
int spantap_runtime_parse(const char *s, enum spantap_runtime *rt);
const char *spantap_runtime_name(enum spantap_runtime rt);

/* Parses an --events list ("net,file,tcp", "all", "default") into class and
 * extra bits. Returns 0 or -EINVAL with the offending word in ERR. */
int spantap_events_parse(const char *list, unsigned *classes, unsigned *extras, char *err,
                         size_t errlen);

/* The default event set: what span derivation needs, cheap enough for production. */
#define SPANTAP_DEFAULT_CLASSES (SPANTAP_CLASS_NET | SPANTAP_CLASS_PROC)
#define SPANTAP_DEFAULT_EXTRAS (SPANTAP_EXTRA_TCP)

#endif
