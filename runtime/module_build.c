/* Module builds: runs stap up to pass 4 in a scratch directory, where it
 * leaves NAME.ko, and moves the module to where the caller wants it. */
#include "runtime/module_build.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/hash.h"

int spantap_module_name_check(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n > SPANTAP_MODULE_NAME_MAX)
    return -EINVAL;
  for (size_t i = 0; i < n; i++) {
    char c = name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
      return -EINVAL;
  }
  return 0;
}

int spantap_object_name_of_path(const char *path, const char *suffix, char *out, size_t len) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  size_t n = strlen(base), k = strlen(suffix);
  if (n <= k || strcmp(base + n - k, suffix) != 0)
    return -EINVAL;
  if (n - k >= len)
    return -ENAMETOOLONG;
  memcpy(out, base, n - k);
  out[n - k] = '\0';
  return spantap_module_name_check(out);
}

int spantap_module_name_of_path(const char *path, char *out, size_t len) {
  return spantap_object_name_of_path(path, ".ko", out, len);
}

void spantap_module_name_of_script(const char *text, size_t len, char *out, size_t outlen) {
  snprintf(out, outlen, "spantap_%016llx", (unsigned long long)spantap_fnv1a(text, len));
}

/* Copies SRC to DST (created mode 0644, replaced if there). */
static int copy_file(const char *src, const char *dst) {
  int in = open(src, O_RDONLY | O_CLOEXEC);
  if (in < 0)
    return -errno;
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s.tmp", dst) >= (int)sizeof tmp) {
    close(in);
    return -ENAMETOOLONG;
  }
  int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) {
    int e = -errno;
    close(in);
    return e;
  }
  char buf[1 << 16];
  ssize_t n;
  int rc = 0;
  while ((n = read(in, buf, sizeof buf)) > 0) {
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(out, buf + off, (size_t)(n - off));
      if (w < 0) {
        rc = -errno;
        break;
      }
      off += w;
    }
    if (rc)
      break;
  }
  if (n < 0 && !rc)
    rc = -errno;
  if (close(out) < 0 && !rc)
    rc = -errno;
  close(in);
  if (!rc && rename(tmp, dst) < 0)
    rc = -errno;
  if (rc)
    unlink(tmp);
  return rc;
}

int spantap_module_build(const struct spantap_module_build *b, char *out_path, size_t outlen,
                         FILE *diag, char *err, size_t errlen) {
  if (b->module_name && spantap_module_name_check(b->module_name) < 0) {
    snprintf(err, errlen,
             "Failed to build module: name=%s (a module name is 1-%d characters of [A-Za-z0-9_])",
             b->module_name, SPANTAP_MODULE_NAME_MAX);
    return -EINVAL;
  }
  char script[4096];
  if (!realpath(b->script_path, script)) {
    int e = errno;
    snprintf(err, errlen, "Failed to find script: path=%s errno=%s", b->script_path, strerror(e));
    return -e;
  }
  char dir[] = "/tmp/spantap-build-XXXXXX";
  if (!mkdtemp(dir)) {
    int e = errno;
    snprintf(err, errlen, "Failed to create build directory: errno=%s", strerror(e));
    return -e;
  }
  const char *argv[80];
  size_t n = 0;
  argv[n++] = b->stap;
  argv[n++] = "-p4";
  if (b->kernel_release) {
    argv[n++] = "-r";
    argv[n++] = b->kernel_release;
  }
  for (size_t i = 0; b->args && b->args[i] && n < 74; i++)
    argv[n++] = b->args[i];
  if (b->module_name) {
    argv[n++] = "-m";
    argv[n++] = b->module_name;
  }
  argv[n++] = script;
  argv[n] = NULL;
  if (diag)
    fflush(diag);
  int rc = 0, outp[2] = {-1, -1};
  char line[4096] = "";
  if (pipe2(outp, O_CLOEXEC) < 0) {
    rc = -errno;
    snprintf(err, errlen, "Failed to create pipe: errno=%s", strerror(-rc));
    goto out;
  }
  pid_t pid = fork();
  if (pid < 0) {
    rc = -errno;
    snprintf(err, errlen, "Failed to fork for stap: errno=%s", strerror(-rc));
    goto out;
  }
  if (pid == 0) {
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0)
      dup2(devnull, 0);
    dup2(outp[1], 1); /* the module's path */
    int d = diag ? fileno(diag) : devnull;
    if (d >= 0)
      dup2(d, 2);
    if (chdir(dir) < 0)
      _exit(126);
    execvp(b->stap, (char *const *)argv);
    dprintf(2, "spantap: Failed to run stap: path=%s errno=%s\n", b->stap, strerror(errno));
    _exit(127);
  }
  close(outp[1]);
  outp[1] = -1;
  /* keep the last line stap prints on stdout: the module's path */
  size_t used = 0;
  char c;
  ssize_t r;
  while ((r = read(outp[0], &c, 1)) != 0) {
    if (r < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    if (c == '\n') {
      if (used)
        line[used] = '\0';
      used = 0;
    } else if (used < sizeof line - 1) {
      line[used++] = c;
      line[used] = '\0';
    }
  }
  int st;
  while (waitpid(pid, &st, 0) < 0) {
    if (errno != EINTR) {
      rc = -errno;
      snprintf(err, errlen, "Failed to wait for stap: errno=%s", strerror(-rc));
      goto out;
    }
  }
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    rc = -EIO;
    snprintf(err, errlen, "Failed to build module: stap -p4%s%s exited with status %d",
             b->kernel_release ? " -r " : "", b->kernel_release ? b->kernel_release : "",
             WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    goto out;
  }
  if (!b->module_name) {
    if (line[0] != '/' || access(line, R_OK) < 0 || strlen(line) >= outlen) {
      rc = -ENOENT;
      snprintf(err, errlen, "Failed to find the module stap built: stap printed '%s'", line);
      goto out;
    }
    snprintf(out_path, outlen, "%s", line);
    goto out;
  }
  char built[4200];
  snprintf(built, sizeof built, "%s/%s%s", dir, b->module_name, b->suffix ? b->suffix : ".ko");
  rc = copy_file(built, out_path);
  if (rc < 0)
    snprintf(err, errlen, "Failed to copy module: from=%s to=%s errno=%s", built, out_path,
             strerror(-rc));
  unlink(built);
out:
  if (outp[0] >= 0)
    close(outp[0]);
  if (outp[1] >= 0)
    close(outp[1]);
  rmdir(dir);
  return rc;
}
