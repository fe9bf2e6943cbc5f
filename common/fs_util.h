/* File-system helpers that any layer may use: creating and removing
 * directory trees. */
#ifndef SPANTAP_FS_UTIL_H
#define SPANTAP_FS_UTIL_H

#include <sys/types.h>

/* Creates PATH and its missing parents with MODE (like mkdir -p); existing
 * directories are fine. Returns 0 or -errno (-ENAMETOOLONG past PATH_MAX). */
int spantap_mkdir_p(const char *path, mode_t mode);

/* Removes the directory tree PATH (like rm -rf; symlinks are not followed).
 * A missing PATH is success. Returns 0 or -errno. */
int spantap_rmtree(const char *path);

#endif
