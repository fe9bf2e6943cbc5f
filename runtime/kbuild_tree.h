/* Synthesized kernel "build tree" for SystemTap: System.map, .config, BTF-derived
 * headers, a fake kbuild Makefile and a DWARF-only vmlinux, generated from what
 * the running kernel exposes (/proc/kallsyms, /proc/config.gz, BTF, tracefs). */
#ifndef SPANTAP_KBUILD_TREE_H
#define SPANTAP_KBUILD_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Name of the stamp file at the top of a finished tree. Its content
 * identifies the kernel the tree was built for (see spantap_kbuild_stamp). */
#define SPANTAP_KBUILD_STAMP ".spantap-stamp"

struct spantap_kbuild_opts {
  const char *tree_dir;   /* final location, e.g. /var/lib/spantap/kbuild/<release> */
  const char *events_dir; /* tracefs events dir; NULL = /sys/kernel/tracing/events */
  const char *btf_path;   /* kernel BTF; NULL = /sys/kernel/btf/vmlinux */
  bool warm;              /* run `stap -p2` once so the query-object cache is filled */
  FILE *progress;         /* progress lines; may be NULL */
};

/* Writes into BUF the stamp text identifying the running kernel: format
 * version, `uname -r` and size + FNV-1a hash of BTF_PATH (NULL = the
 * default). Returns 0 or -errno with a message in ERR. */
int spantap_kbuild_stamp(const char *btf_path, char *buf, size_t len, char *err, size_t errlen);

/* 1 when TREE_DIR holds a finished tree whose stamp equals the running
 * kernel's (BTF_PATH NULL = default), 0 when absent, incomplete or stale,
 * -errno when the running kernel's stamp cannot be computed. */
int spantap_kbuild_is_current(const char *tree_dir, const char *btf_path);

/* Builds the tree in a hidden sibling directory of OPTS->tree_dir and renames
 * it into place only once it is complete (an older tree there is replaced
 * atomically, then removed). Leftover temporary trees of dead processes are
 * removed first. Refuses (-EINVAL) any tree_dir under /lib/modules or
 * /usr/lib/modules. Command output goes to <tree_dir>.setup.log.
 * Returns 0 or -errno with a "Failed to ..." message in ERR; on error the
 * previous tree, if any, is left untouched. */
int spantap_kbuild_build(const struct spantap_kbuild_opts *opts, char *err, size_t errlen);

#endif
