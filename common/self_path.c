/* The running program's own directory, read from /proc/self/exe. */
#include "common/self_path.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

int spantap_self_dir(char *dir, size_t len) {
  if (len < 2)
    return -ENAMETOOLONG;
  dir[0] = '\0';
  ssize_t n = readlink("/proc/self/exe", dir, len);
  if (n < 0)
    return -errno;
  if ((size_t)n >= len) { /* readlink truncates without saying so */
    dir[0] = '\0';
    return -ENAMETOOLONG;
  }
  dir[n] = '\0';
  char *slash = strrchr(dir, '/');
  if (!slash) {
    dir[0] = '\0';
    return -ENOENT;
  }
  slash[slash == dir ? 1 : 0] = '\0';
  return 0;
}
