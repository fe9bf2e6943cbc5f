/* `spantap setup --runtime kernel`: inspects the machine for SystemTap's
 * module runtime and makes the patched copy of stap's runtime where the
 * installed SystemTap needs one (which patch, for which versions: below). */
#include "runtime/kernel_setup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/machine_setup.h"
#include "runtime/targets.h"

#define MARKER ".spantap-patched"

/* Whether patch NAME applies to KS (stap's version, the kernel's headers). */
static bool patch_applies(const char *name, const struct spantap_kernel_setup *ks) {
  int v = ks->stap_major * 100 + ks->stap_minor;
  if (strcmp(name, "task-work-cancel-func.patch") == 0)
    return v < 502 && ks->cancel_func; /* fixed in stap 5.2 */
  if (strcmp(name, "relay-no-split.patch") == 0)
    return v < 501; /* fixed in stap 5.1 */
  if (strcmp(name, "relay-drain-count-lost.patch") == 0)
    return v < 501; /* stapio 5.1 drains and counts: see the patch */
  return false;
}

/* Reads "version X.Y" from `STAP -V`. */
static int stap_version(const char *stap, int *major, int *minor) {
  char cmd[4200];
  snprintf(cmd, sizeof cmd, "'%s' -V 2>&1", stap);
  FILE *p = popen(cmd, "r");
  if (!p)
    return -errno;
  char line[512];
  int rc = -ENOENT;
  while (fgets(line, sizeof line, p)) {
    const char *v = strstr(line, "version ");
    if (v && sscanf(v, "version %d.%d", major, minor) == 2) {
      rc = 0;
      break;
    }
  }
  pclose(p);
  return rc;
}

static bool file_has(const char *path, const char *needle) {
  FILE *f = fopen(path, "re");
  if (!f)
    return false;
  char line[1024];
  bool found = false;
  while (!found && fgets(line, sizeof line, f))
    found = strstr(line, needle) != NULL;
  fclose(f);
  return found;
}

static void os_id(char *out, size_t len) {
  snprintf(out, len, "unknown");
  FILE *f = fopen("/etc/os-release", "re");
  if (!f)
    return;
  char line[256];
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "ID=", 3) == 0) {
      char *v = line + 3;
      v[strcspn(v, "\r\n")] = '\0';
      if (*v == '"') {
        v++;
        v[strcspn(v, "\"")] = '\0';
      }
      snprintf(out, len, "%.63s", v);
    }
  }
  fclose(f);
}

int spantap_kernel_setup_inspect(const char *state_dir, const char *release,
                                 struct spantap_kernel_setup *ks) {
  memset(ks, 0, sizeof *ks);
  if (!release) {
    struct utsname u;
    if (uname(&u) < 0)
      return -errno;
    release = u.release;
    snprintf(ks->release, sizeof ks->release, "%s", u.release);
  } else {
    snprintf(ks->release, sizeof ks->release, "%s", release);
  }
  os_id(ks->distro, sizeof ks->distro);
  char stap[4096], path[4400];
  const char *stap_name = getenv("SPANTAP_STAP") ? getenv("SPANTAP_STAP") : "stap";
  ks->stap = spantap_target_find_in_path(stap_name, stap, sizeof stap) == 0 ||
             (snprintf(stap, sizeof stap, "%s", stap_name), access(stap, X_OK) == 0);
  if (ks->stap && stap_version(stap, &ks->stap_major, &ks->stap_minor) < 0)
    ks->stap = false;
  ks->staprun = spantap_target_find_in_path("staprun", path, sizeof path) == 0;
  ks->compiler = spantap_target_find_in_path("gcc", path, sizeof path) == 0;
  snprintf(path, sizeof path, "/lib/modules/%s/build", ks->release);
  ks->headers = access(path, F_OK) == 0;
  /* Debian splits the headers: include/ is in the -common package (source) */
  const char *tw[] = {"build", "source"};
  for (size_t i = 0; i < 2 && !ks->cancel_func; i++) {
    snprintf(path, sizeof path, "/lib/modules/%s/%s/include/linux/task_work.h", ks->release, tw[i]);
    ks->cancel_func = file_has(path, "task_work_cancel_func");
  }
  /* stap's runtime: $SYSTEMTAP_RUNTIME, else next to stap (PREFIX/share/systemtap) */
  if (getenv("SYSTEMTAP_RUNTIME")) {
    snprintf(ks->runtime_src, sizeof ks->runtime_src, "%s", getenv("SYSTEMTAP_RUNTIME"));
  } else if (ks->stap) {
    char real[4096];
    if (!realpath(stap, real))
      snprintf(real, sizeof real, "/usr/bin/stap");
    char *slash = strrchr(real, '/');
    if (slash)
      *slash = '\0';
    snprintf(ks->runtime_src, sizeof ks->runtime_src, "%.4000s/../share/systemtap/runtime", real);
  }
  char names[64] = "";
  for (unsigned i = 0; spantap_stap_patches[i].name; i++) {
    if (!patch_applies(spantap_stap_patches[i].name, ks))
      continue;
    ks->patches |= 1u << i;
    size_t l = strlen(names);
    snprintf(names + l, sizeof names - l, "-%u", i);
  }
  char state[4096];
  int rc = spantap_setup_state_dir(state_dir, state, sizeof state);
  if (rc < 0)
    return rc;
  snprintf(ks->runtime_dir, sizeof ks->runtime_dir, "%.3900s/stap-runtime/%d.%d%s", state,
           ks->stap_major, ks->stap_minor, names);
  snprintf(path, sizeof path, "%s/" MARKER, ks->runtime_dir);
  ks->runtime_ready = !ks->patches || access(path, F_OK) == 0;
  return 0;
}

int spantap_kernel_setup_report(const struct spantap_kernel_setup *ks, bool build, bool run,
                                FILE *out) {
  bool rpm = strcmp(ks->distro, "fedora") == 0 || strcmp(ks->distro, "rhel") == 0 ||
             strcmp(ks->distro, "centos") == 0 || strcmp(ks->distro, "rocky") == 0 ||
             strcmp(ks->distro, "almalinux") == 0;
  const char *install = rpm ? "dnf install" : "apt-get install";
  int missing = 0;
  if (build && !ks->stap) {
    fprintf(out, "missing: SystemTap (stap): %s systemtap\n", install);
    missing++;
  }
  if (run && !ks->staprun) {
    fprintf(out, "missing: staprun: %s systemtap-runtime\n", install);
    missing++;
  }
  if (build && !ks->headers) {
    fprintf(out, "missing: the headers of kernel %s: %s %s%s\n", ks->release, install,
            rpm ? "kernel-devel-" : "linux-headers-", ks->release);
    missing++;
  }
  if (build && !ks->compiler) {
    fprintf(out, "missing: a C compiler: %s gcc make\n", install);
    missing++;
  }
  if (build && !ks->runtime_ready) {
    fprintf(out,
            "missing: stap %d.%d needs a patched runtime for this kernel: run "
            "'spantap setup --runtime kernel'\n",
            ks->stap_major, ks->stap_minor);
    missing++;
  }
  return missing;
}

/* Runs ARGV, its stdin from STDIN_TEXT (NULL: /dev/null). Returns 0 or -EIO. */
static int run(const char *const *argv, const char *stdin_text) {
  int p[2] = {-1, -1};
  if (stdin_text && pipe2(p, O_CLOEXEC) < 0)
    return -errno;
  pid_t pid = fork();
  if (pid < 0)
    return -errno;
  if (pid == 0) {
    if (stdin_text)
      dup2(p[0], 0);
    execvp(argv[0], (char *const *)argv);
    _exit(127);
  }
  if (stdin_text) {
    close(p[0]);
    size_t len = strlen(stdin_text), off = 0;
    while (off < len) {
      ssize_t w = write(p[1], stdin_text + off, len - off);
      if (w <= 0)
        break;
      off += (size_t)w;
    }
    close(p[1]);
  }
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR)
      return -errno;
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EIO;
}

int spantap_kernel_setup_run(struct spantap_kernel_setup *ks, FILE *progress, char *err,
                             size_t errlen) {
  if (ks->runtime_ready)
    return 0;
  char tmp[4200], parent[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", ks->runtime_dir);
  snprintf(parent, sizeof parent, "%s", ks->runtime_dir);
  char *slash = strrchr(parent, '/');
  if (slash)
    *slash = '\0';
  const char *mk[] = {"mkdir", "-p", parent, NULL};
  const char *rm[] = {"rm", "-rf", tmp, NULL};
  const char *cp[] = {"cp", "-a", ks->runtime_src, tmp, NULL};
  if (run(mk, NULL) < 0 || run(rm, NULL) < 0 || run(cp, NULL) < 0) {
    snprintf(err, errlen, "Failed to copy stap's runtime: from=%s to=%s", ks->runtime_src, tmp);
    return -EIO;
  }
  for (unsigned i = 0; spantap_stap_patches[i].name; i++) {
    if (!(ks->patches & (1u << i)))
      continue;
    if (progress)
      fprintf(progress, "spantap setup: patching stap %d.%d's runtime: %s\n", ks->stap_major,
              ks->stap_minor, spantap_stap_patches[i].name);
    const char *patch[] = {"patch", "-s", "-p1", "-d", tmp, NULL};
    if (run(patch, spantap_stap_patches[i].text) < 0) {
      snprintf(err, errlen, "Failed to apply patch: name=%s dir=%s (is patch(1) installed?)",
               spantap_stap_patches[i].name, tmp);
      run(rm, NULL);
      return -EIO;
    }
  }
  char marker[4300];
  snprintf(marker, sizeof marker, "%s/" MARKER, tmp);
  int fd = open(marker, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    int e = errno;
    snprintf(err, errlen, "Failed to create marker: path=%s errno=%s", marker, strerror(e));
    return -e;
  }
  close(fd);
  const char *rmold[] = {"rm", "-rf", ks->runtime_dir, NULL};
  if (run(rmold, NULL) < 0 || rename(tmp, ks->runtime_dir) < 0) {
    int e = errno;
    snprintf(err, errlen, "Failed to install patched runtime: path=%s errno=%s", ks->runtime_dir,
             strerror(e));
    return -EIO;
  }
  if (progress)
    fprintf(progress, "spantap setup: patched runtime in %s\n", ks->runtime_dir);
  ks->runtime_ready = true;
  return 0;
}

int spantap_kernel_stap_args(const struct spantap_kernel_setup *ks, const char **argv, size_t max,
                             char *err, size_t errlen) {
  if (!ks->runtime_ready) {
    snprintf(err, errlen,
             "stap %d.%d needs a patched runtime for kernel %s: run 'spantap setup --runtime "
             "kernel%s%s' first",
             ks->stap_major, ks->stap_minor, ks->release, "", "");
    return -ENOENT;
  }
  const char *a[12];
  size_t n = 0;
  if (ks->patches) {
    a[n++] = "-R";
    a[n++] = ks->runtime_dir;
  }
  if (ks->cancel_func)
    a[n++] = "-DSTAPCONF_TASK_WORK_CANCEL_FUNC";
  /* the script's lock-free tables are embedded C (runtime_kernel.stp) */
  a[n++] = "-g";
  /* a syscall-bound target keeps probes busy past stap's overload threshold */
  a[n++] = "-DSTP_NO_OVERLOAD";
  /* a busy target waits on the map locks: wait longer, and never end the run */
  a[n++] = "-DMAXTRYLOCK=10000";
  a[n++] = "-DMAXSKIPPED=1000000";
  if (n + 1 > max)
    return -ENOSPC;
  for (size_t i = 0; i < n; i++)
    argv[i] = a[i];
  argv[n] = NULL;
  return (int)n;
}
