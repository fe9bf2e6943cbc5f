/* Module builds: SystemTap's module runtime compiled ahead of time
 * (`stap -p4 -r KVER`), on this machine or for another one, and the module
 * names stap and staprun accept. */
#ifndef SPANTAP_MODULE_BUILD_H
#define SPANTAP_MODULE_BUILD_H

#include <stddef.h>
#include <stdio.h>

#define SPANTAP_MODULE_NAME_MAX 55 /* stap's limit on a module name (-m) */

struct spantap_module_build {
  const char *stap;           /* the stap executable */
  const char *kernel_release; /* -r: the kernel the module is for; NULL: this one */
  const char *const *args;    /* more stap arguments (NULL-terminated; may be NULL) */
  const char *module_name;    /* -m (see spantap_module_name_check), or NULL */
  const char *script_path;    /* the generated script */
  const char *suffix;         /* what stap names NAME + suffix: ".ko" (NULL) or ".bo" (the BPF
                                 runtime's object, stap --runtime=bpf in ARGS) */
};

/* Runs `stap -p4 [-r KVER] ARGS... [-m NAME] SCRIPT` in a scratch directory.
 * With a module name, copies the module NAME.ko stap built to OUT_PATH
 * (stap rebuilds a named module every time: a few seconds once its
 * configuration and type queries are cached). Without one, stap names the
 * module after its cache key and serves it from its cache when the script and
 * options are the same (under a second): its path goes into OUT_PATH (OUTLEN
 * bytes) and the module stays in stap's cache. stap's diagnostics go to DIAG
 * (may be NULL). Returns 0, or -errno with what failed in ERR (stap's exit
 * status, or the failing call). */
int spantap_module_build(const struct spantap_module_build *b, char *out_path, size_t outlen,
                         FILE *diag, char *err, size_t errlen);

/* Checks NAME as a module name: 1-SPANTAP_MODULE_NAME_MAX characters of
 * [A-Za-z0-9_]. Returns 0 or -EINVAL. */
int spantap_module_name_check(const char *name);

/* Writes into OUT the module name for the module file PATH: its file name
 * without ".ko" (staprun loads a module under its file's name, which must be
 * the name it was built with). Returns 0; -EINVAL when PATH does not end in
 * ".ko" or the name is not a valid module name; -ENAMETOOLONG. */
int spantap_module_name_of_path(const char *path, char *out, size_t len);

/* The same for a file ending in SUFFIX (".ko", or ".bo": a BPF object). */
int spantap_object_name_of_path(const char *path, const char *suffix, char *out, size_t len);

/* Writes into OUT a module name derived from TEXT (the script): the same
 * script gives the same name, so stap's cache serves a rebuild. */
void spantap_module_name_of_script(const char *text, size_t len, char *out, size_t outlen);

#endif
