/* The module runtime's steps of a recording session (recording_session.c):
 * its stap arguments on this machine, the module built through stap's cache
 * (or one built elsewhere) started under staprun, the unload of a module that
 * staprun left loaded, and a module built to run on another machine
 * (SystemTap's `stap -p4 -r KVER` on a build box, staprun on the target). */
#ifndef SPANTAP_MODULE_SESSION_H
#define SPANTAP_MODULE_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "runtime/kernel_setup.h"
#include "runtime/module_build.h"
#include "runtime/script_gen.h"
#include "runtime/stap_launch.h"

/* Inspects this machine for building modules for kernel RELEASE (NULL: this
 * one) and, when RUN, for running them, into *KS; prints what is missing, with
 * its packages, to PROGRESS (may be NULL). Fills ARGS (MAX entries with the
 * terminating NULL) with the stap arguments of this machine (patched runtime,
 * limits; they point into KS or are literals). Returns their count, or
 * -errno with the reason in ERR. */
int spantap_module_stap_args(struct spantap_kernel_setup *ks, const char *release, bool run,
                             FILE *progress, const char **args, size_t max, char *err,
                             size_t errlen);

/* What spantap_module_load needs: the module, or how to build it. */
struct spantap_module_load {
  const char *module;         /* a module built ahead of time, or NULL: build SCRIPT_PATH */
  const char *stap;           /* the stap program that builds */
  const char *const *args;    /* its arguments (NULL-terminated) */
  const char *script_path;    /* the generated script (not with MODULE) */
  const char *kernel_release; /* NULL: this kernel */
  const char *staprun;        /* the staprun program (a name searched in PATH, or a path) */
  FILE *progress;             /* "building..." and stap's diagnostics; may be NULL */
};

/* Loads L's module under staprun with SO's load-time values (its pids): with
 * L->module that file, else L->script_path copied to a path named by its text
 * (stap's cache key holds the script's path: the same options give the same
 * path, and the cache serves the module in about a second) and built there.
 * Writes the loaded module's name into LOADED (LOADEDLEN bytes; "" when
 * unknown). Fills *OUT like spantap_stap_spawn. Returns 0 or -errno with the
 * reason in ERR. */
int spantap_module_load(const struct spantap_module_load *l, const struct spantap_script_opts *so,
                        char *loaded, size_t loadedlen, struct spantap_stap *out, char *err,
                        size_t errlen);

/* After staprun ended with wait STATUS: when a signal killed it (before its
 * own cleanup) and module LOADED is still loaded a moment later, unloads it
 * with `STAPRUN -d` and says so on PROGRESS (may be NULL). Never when staprun
 * exited: its cleanup unloads the module, and a second unload at the same
 * time could race it. A no-op when LOADED is empty. */
void spantap_module_unload_left(const char *staprun, const char *loaded, int status,
                                FILE *progress);

/* Generates the script for SO (the module runtime's) and builds it with STAP
 * and ARGS for kernel RELEASE (NULL: this one) into KO_PATH, which must be
 * NAME.ko (NAME the module's name, see spantap_module_name_of_path) and must
 * not exist unless FORCE. With SO->runtime BPF (ARGS then hold
 * --runtime=bpf) the same builds SystemTap's BPF object NAME.bo for stapbpf,
 * marked with SO's queue cookie and CPU count (runtime/bpf_object.h). stap's
 * diagnostics go to PROGRESS (may be NULL). Returns 0, -EINVAL (a bad
 * KO_PATH), -EEXIST, or -errno with the reason in ERR. */
int spantap_module_compile(const char *stap, const char *const *args, const char *release,
                           const struct spantap_script_opts *so, const char *ko_path, bool force,
                           FILE *progress, char *err, size_t errlen);

#endif
