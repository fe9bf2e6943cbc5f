/* Targets: resolution of --binary words and the scan of /proc for processes
 * that already run a target when recording starts. */
#include "runtime/targets.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

int spantap_target_resolve(const char *word, struct spantap_target *t, char *err, size_t errlen) {
  memset(t, 0, sizeof *t);
  t->name = word;
  size_t len = strlen(word);
  if (len == 0) {
    snprintf(err, errlen, "empty --binary");
    return -EINVAL;
  }
  if (!strchr(word, '/')) {
    if (len > SPANTAP_NAME_MAX) {
      snprintf(err, errlen, "binary name too long: %zu bytes (at most %d)", len, SPANTAP_NAME_MAX);
      return -EINVAL;
    }
    return 0;
  }
  struct stat st;
  if (stat(word, &st) < 0) {
    int e = errno;
    snprintf(err, errlen, "cannot use --binary %s: %s", word, strerror(e));
    return -e;
  }
  if (!S_ISREG(st.st_mode) || !(st.st_mode & 0111)) {
    snprintf(err, errlen, "cannot use --binary %s: not an executable file", word);
    return -EINVAL;
  }
  t->is_path = true;
  t->ino = st.st_ino;
  t->kdev = ((uint64_t)major(st.st_dev) << 20) | minor(st.st_dev);
  return 0;
}

static bool runs_target(const char *pid, const struct spantap_target *targets, size_t n) {
  char path[64], comm[32] = "", exe[PATH_MAX] = "";
  snprintf(path, sizeof path, "/proc/%s/comm", pid);
  FILE *f = fopen(path, "re");
  if (f) {
    if (fgets(comm, sizeof comm, f))
      comm[strcspn(comm, "\n")] = '\0';
    fclose(f);
  }
  snprintf(path, sizeof path, "/proc/%s/exe", pid);
  ssize_t len = readlink(path, exe, sizeof exe - 1);
  if (len > 0)
    exe[len] = '\0';
  const char *base = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;
  struct stat st;
  bool have_stat = stat(path, &st) == 0;
  for (size_t i = 0; i < n; i++) {
    const struct spantap_target *t = &targets[i];
    if (t->is_path) {
      uint64_t kdev = ((uint64_t)major(st.st_dev) << 20) | minor(st.st_dev);
      if (have_stat && st.st_ino == t->ino && kdev == t->kdev)
        return true;
    } else if (strcmp(base, t->name) == 0) {
      return true;
    } else if (strlen(t->name) < SPANTAP_COMM_MAX && strcmp(comm, t->name) == 0) {
      /* the kernel's process name is exact only for names shorter than its
       * limit: a longer name would also match every name sharing its start */
      return true;
    }
  }
  return false;
}

int spantap_targets_count_running(const struct spantap_target *targets, size_t n) {
  DIR *d = opendir("/proc");
  if (!d)
    return -errno;
  char self[32];
  snprintf(self, sizeof self, "%d", (int)getpid());
  int count = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!isdigit((unsigned char)e->d_name[0]) || strcmp(e->d_name, self) == 0)
      continue;
    if (runs_target(e->d_name, targets, n))
      count++;
  }
  closedir(d);
  return count;
}

int spantap_target_find_in_path(const char *name, char *out, size_t outlen) {
  const char *path = getenv("PATH");
  if (!path)
    path = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
  while (*path) {
    size_t n = strcspn(path, ":");
    snprintf(out, outlen, "%.*s/%s", (int)n, path, name);
    if (access(out, X_OK) == 0)
      return 0;
    path += n;
    if (*path == ':')
      path++;
  }
  return -ENOENT;
}
