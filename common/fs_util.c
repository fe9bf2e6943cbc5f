/* File-system helpers: mkdir -p and rm -rf, for machine setup and tests. */
#include "common/fs_util.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int spantap_mkdir_p(const char *path, mode_t mode) {
  char buf[PATH_MAX];
  size_t n = strlen(path);

  if (n == 0 || n >= sizeof(buf))
    return -ENAMETOOLONG;
  memcpy(buf, path, n + 1);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    if (mkdir(buf, mode) < 0 && errno != EEXIST)
      return -errno;
    *p = '/';
  }
  if (mkdir(buf, mode) < 0 && errno != EEXIST)
    return -errno;
  return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw) {
  (void)sb;
  (void)ftw;
  if (type == FTW_DP)
    return rmdir(path) < 0 ? -1 : 0;
  return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

int spantap_rmtree(const char *path) {
  struct stat sb;

  if (lstat(path, &sb) < 0)
    return errno == ENOENT ? 0 : -errno;
  if (!S_ISDIR(sb.st_mode))
    return unlink(path) < 0 ? -errno : 0;
  if (nftw(path, rm_entry, 32, FTW_DEPTH | FTW_PHYS) != 0)
    return errno ? -errno : -EIO;
  return 0;
}
