/* `spantap setup --runtime kernel`: what SystemTap's module runtime needs on
 * this machine (stap, the kernel's headers, a compiler), the packages that
 * provide what is missing, and a patched copy of stap's runtime where the
 * installed SystemTap is known not to fit the kernel (runtime/stap-patches/). */
#ifndef SPANTAP_KERNEL_SETUP_H
#define SPANTAP_KERNEL_SETUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct spantap_kernel_setup {
  char release[256]; /* the kernel the modules are for */
  bool stap;         /* stap found */
  int stap_major, stap_minor;
  bool staprun;           /* staprun found (needed where modules run) */
  bool compiler;          /* gcc found (needed where modules are built) */
  bool headers;           /* /lib/modules/RELEASE/build exists */
  bool cancel_func;       /* the headers declare task_work_cancel_func() */
  unsigned patches;       /* bit i: spantap_stap_patch i applies here */
  bool runtime_ready;     /* no patch needed, or the patched copy is there */
  char runtime_src[4096]; /* stap's own runtime */
  char runtime_dir[4096]; /* the patched copy (stap -R), when patches != 0 */
  char distro[64];        /* ID of /etc/os-release ("debian", "fedora", ...) */
};

/* A patch to stap's runtime, kept in runtime/stap-patches/ and compiled in. */
struct spantap_stap_patch {
  const char *name; /* file name */
  const char *text; /* the patch, its header comment first */
};
extern const struct spantap_stap_patch spantap_stap_patches[]; /* ends with {0, 0} */

/* Fills KS for kernel RELEASE (NULL: the running one), with the patched
 * runtime kept under STATE_DIR (NULL: the default, see machine_setup.h).
 * Only reads. Returns 0 or -errno. */
int spantap_kernel_setup_inspect(const char *state_dir, const char *release,
                                 struct spantap_kernel_setup *ks);

/* Prints what is missing for building (BUILD) and running (RUN) modules,
 * with the packages of KS->distro that provide it, to OUT. Returns the
 * number of missing things. */
int spantap_kernel_setup_report(const struct spantap_kernel_setup *ks, bool build, bool run,
                                FILE *out);

/* Makes the patched copy of stap's runtime when KS needs one and it is
 * missing or stale (copies KS->runtime_src, applies the patches with
 * patch(1)), then refreshes KS. Progress to PROGRESS (may be NULL). Returns
 * 0 or -errno with "Failed to X: ..." in ERR. */
int spantap_kernel_setup_run(struct spantap_kernel_setup *ks, FILE *progress, char *err,
                             size_t errlen);

/* The stap arguments for building modules on this machine: the patched
 * runtime (-R) and its -D where needed, and the limits a busy target needs
 * (no overload kill, enough lock retries and skipped probes before giving
 * up). Fills ARGV (MAX entries with the terminating NULL; strings point into
 * KS or are literals). Returns the count, -ENOENT when a needed patched
 * runtime is missing (ERR says to run `spantap setup --runtime kernel`), or
 * -ENOSPC. */
int spantap_kernel_stap_args(const struct spantap_kernel_setup *ks, const char **argv, size_t max,
                             char *err, size_t errlen);

#endif
