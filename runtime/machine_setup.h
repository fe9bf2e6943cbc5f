/* `spantap setup`: inspects and prepares this machine for SystemTap's BPF
 * runtime (tracefs/debugfs mounts, a kernel build tree, the memlock shim) and
 * turns the result into the extra stap arguments and environment. */
#ifndef SPANTAP_MACHINE_SETUP_H
#define SPANTAP_MACHINE_SETUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Default state directory; the environment variable SPANTAP_STATE_DIR
 * overrides it. Synthesized trees live in <state>/kbuild/<uname -r>. */
#define SPANTAP_DEFAULT_STATE_DIR "/var/lib/spantap"

struct spantap_setup_status {
  bool tracefs_mounted;  /* tracefs at /sys/kernel/tracing */
  bool debugfs_mounted;  /* debugfs at /sys/kernel/debug (stapbpf's uprobes need it) */
  bool real_kernel_tree; /* /lib/modules/<release>/build exists */
  bool synthesized_tree; /* an up-to-date synthesized tree exists at tree_dir */
  bool memlock_shim;     /* the memlock shim was found at shim_path */
  /* The tree stap should use: the synthesized tree when it is up to date,
   * else the real build tree when present, else where setup would
   * synthesize one. */
  char tree_dir[4096];
  char shim_path[4096]; /* empty when not found */
};

/* Fills ST with what this machine has for the BPF runtime. STATE_DIR NULL =
 * default (env SPANTAP_STATE_DIR overrides the default). Only reads; needs no
 * privileges. Returns 0 or -errno. */
int spantap_setup_inspect(const char *state_dir, struct spantap_setup_status *st);

/* Prepares the machine idempotently: mounts tracefs at /sys/kernel/tracing
 * and debugfs at /sys/kernel/debug when not mounted, synthesizes the tree when
 * no real /lib/modules/<release>/build exists and no up-to-date synthesized
 * one exists (FORCE_REBUILD: always synthesize), checks the memlock shim.
 * Prints progress lines to PROGRESS (may be NULL). On error returns -errno
 * and writes "Failed to X: key=value..." into ERR. Mounting needs root. */
int spantap_setup_run(const char *state_dir, bool force_rebuild, FILE *progress, char *err,
                      size_t errlen);

/* The extra stap arguments and environment for the BPF runtime on this
 * machine: fills ARGV_OUT (up to MAX entries including the terminating NULL)
 * with e.g. "-r", tree, "--compatible=4.2" and sets *LD_PRELOAD_OUT to the
 * shim path or NULL. Strings point into ST (or are literals).
 * Returns 0; -ENOENT when setup has not been run (no kernel tree, or the
 * shim is needed but missing; ERR says to run `spantap setup`); -ENOSPC
 * when MAX is too small. */
int spantap_setup_bpf_args(const struct spantap_setup_status *st, const char **argv_out, size_t max,
                           const char **ld_preload_out, char *err, size_t errlen);

/* Resolves the state directory into OUT: STATE_DIR if not NULL, else
 * $SPANTAP_STATE_DIR if set and non-empty, else SPANTAP_DEFAULT_STATE_DIR.
 * Returns 0 or -ENAMETOOLONG. */
int spantap_setup_state_dir(const char *state_dir, char *out, size_t len);

/* True when stapbpf's setrlimit(RLIMIT_MEMLOCK, infinity) would fail for
 * this process (hard limit finite and not raisable), i.e. the shim is needed. */
bool spantap_setup_memlock_shim_needed(void);

#endif
