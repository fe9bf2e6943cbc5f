/* Targets: turns the user's --binary words into script targets (names, or
 * paths resolved to inode and device) and finds processes already running them. */
#ifndef SPANTAP_TARGETS_H
#define SPANTAP_TARGETS_H

#include <stddef.h>

#include "runtime/script_gen.h"

/* Fills T from WORD: a word with '/' is a path (must name an existing regular,
 * executable file), anything else a name. T->name borrows WORD. Returns 0 or
 * -errno with the reason in ERR. */
int spantap_target_resolve(const char *word, struct spantap_target *t, char *err, size_t errlen);

/* Counts the running processes (not spantap itself) that run one of the N
 * TARGETS, judged as the script will judge them. Returns the count or -errno. */
int spantap_targets_count_running(const struct spantap_target *targets, size_t n);

/* Finds the executable a name target runs, for the module runtime's unwinder
 * (-d): searches PATH. Returns 0 with the path in OUT, or -ENOENT. */
int spantap_target_find_in_path(const char *name, char *out, size_t outlen);

#endif
