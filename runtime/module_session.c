/* The module runtime's steps of a recording session: stap's arguments from
 * the machine's kernel setup, building through stap's cache, staprun, and the
 * unload of a module left behind. See module_session.h. */
#include "runtime/module_session.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/bpf_object.h"
#include "runtime/machine_setup.h"
#include "runtime/staprun_launch.h"

int spantap_module_stap_args(struct spantap_kernel_setup *ks, const char *release, bool run,
                             FILE *progress, const char **args, size_t max, char *err,
                             size_t errlen) {
  int rc = spantap_kernel_setup_inspect(NULL, release, ks);
  if (rc < 0) {
    snprintf(err, errlen, "Failed to inspect this machine for the module runtime: %s",
             strerror(-rc));
    return rc;
  }
  FILE *report = progress ? progress : fopen("/dev/null", "we");
  int missing = report ? spantap_kernel_setup_report(ks, true, run, report) : 0;
  if (report && report != progress)
    fclose(report);
  if (missing > 0) {
    snprintf(err, errlen, "the module runtime cannot %s here: %d thing%s missing (see above)",
             run ? "run" : "build", missing, missing == 1 ? "" : "s");
    return -ENOENT;
  }
  return spantap_kernel_stap_args(ks, args, max, err, errlen);
}

/* Reads the file at PATH into *TEXT (owned, free it) and *LEN. Returns 0 or
 * -errno with the reason in ERR. */
static int read_text(const char *path, char **text, size_t *len, char *err, size_t errlen) {
  *text = NULL;
  *len = 0;
  FILE *in = fopen(path, "re");
  FILE *mem = in ? open_memstream(text, len) : NULL;
  int rc = 0;
  if (!mem) {
    rc = -errno;
    snprintf(err, errlen, "Failed to read script: path=%s errno=%s", path, strerror(-rc));
  }
  char buf[8192];
  size_t n;
  while (mem && (n = fread(buf, 1, sizeof buf, in)) > 0)
    if (fwrite(buf, 1, n, mem) != n)
      rc = -ENOMEM;
  if (in && ferror(in) && rc == 0)
    rc = -EIO;
  if (mem && fclose(mem) != 0 && rc == 0)
    rc = -ENOMEM;
  if (in)
    fclose(in);
  if (rc < 0 && mem)
    snprintf(err, errlen, "Failed to read script: path=%s errno=%s", path, strerror(-rc));
  return rc;
}

/* Copies the script at PATH to STATE/scripts/spantap_<hash>.stp (the state
 * directory of machine_setup.h), its name a hash of its text, and writes that
 * path into OUT. stap's cache key includes the script's path: a fresh
 * temporary name would make it miss every time. */
static int stable_script(const char *path, char *out, size_t outlen, char *err, size_t errlen) {
  char *text;
  size_t len;
  int rc = read_text(path, &text, &len, err, errlen);
  if (rc < 0)
    return rc;
  char state[4096], name[64], dir[4200], tmp[4400];
  rc = spantap_setup_state_dir(NULL, state, sizeof state);
  if (rc < 0) {
    snprintf(err, errlen, "Failed to find the state directory: %s", strerror(-rc));
    goto out;
  }
  spantap_module_name_of_script(text, len, name, sizeof name);
  snprintf(dir, sizeof dir, "%.4000s/scripts", state);
  if ((mkdir(state, 0755) < 0 && errno != EEXIST) || (mkdir(dir, 0700) < 0 && errno != EEXIST)) {
    rc = -errno;
    snprintf(err, errlen, "Failed to create directory: path=%s errno=%s", dir, strerror(-rc));
    goto out;
  }
  if ((size_t)snprintf(out, outlen, "%s/%s.stp", dir, name) >= outlen) {
    rc = -ENAMETOOLONG;
    snprintf(err, errlen, "Failed to name script: dir=%s", dir);
    goto out;
  }
  snprintf(tmp, sizeof tmp, "%s.%d", out, (int)getpid());
  FILE *f = fopen(tmp, "we");
  bool written = f && fwrite(text, 1, len, f) == len;
  if (f && fclose(f) != 0)
    written = false;
  if (!written || rename(tmp, out) < 0) {
    rc = -EIO;
    snprintf(err, errlen, "Failed to write script: path=%s", tmp);
    unlink(tmp);
  }
out:
  free(text);
  return rc;
}

int spantap_module_load(const struct spantap_module_load *l, const struct spantap_script_opts *so,
                        char *loaded, size_t loadedlen, struct spantap_stap *out, char *err,
                        size_t errlen) {
  char module[4096];
  loaded[0] = '\0';
  if (l->module) {
    if (access(l->module, R_OK) < 0) {
      int e = errno;
      snprintf(err, errlen, "Failed to open module: path=%s errno=%s", l->module, strerror(e));
      return -e;
    }
    snprintf(module, sizeof module, "%s", l->module);
  } else {
    char stable[4096];
    int rc = stable_script(l->script_path, stable, sizeof stable, err, errlen);
    if (rc < 0)
      return rc;
    if (l->progress)
      fprintf(l->progress,
              "spantap: building the tracing module (stap's cache serves a rebuild)...\n");
    struct spantap_module_build b = {.stap = l->stap,
                                     .kernel_release = l->kernel_release,
                                     .args = l->args,
                                     .module_name = NULL,
                                     .script_path = stable};
    rc = spantap_module_build(&b, module, sizeof module, l->progress, err, errlen);
    if (rc < 0)
      return rc;
  }
  /* staprun loads a module under its file's name (stap's cached modules are
   * named stap_<hash>_<n>) */
  if (spantap_module_name_of_path(module, loaded, loadedlen) < 0)
    loaded[0] = '\0';
  return spantap_staprun_spawn(l->staprun, module, so, out, err, errlen);
}

void spantap_module_unload_left(const char *staprun, const char *loaded, int status,
                                FILE *progress) {
  if (!loaded[0] || !WIFSIGNALED(status))
    return;
  char sys[4200];
  snprintf(sys, sizeof sys, "/sys/module/%.4000s", loaded);
  for (int i = 0; i < 20 && access(sys, F_OK) == 0; i++)
    usleep(100000); /* stapio may still be unloading it */
  if (access(sys, F_OK) < 0)
    return;
  if (progress)
    fprintf(progress, "spantap: staprun left module %s loaded: unloading it\n", loaded);
  pid_t pid = fork();
  if (pid == 0) {
    execlp(staprun, staprun, "-d", loaded, (char *)NULL);
    _exit(127);
  }
  if (pid > 0)
    waitpid(pid, NULL, 0);
}

int spantap_module_compile(const char *stap, const char *const *args, const char *release,
                           const struct spantap_script_opts *so, const char *ko_path, bool force,
                           FILE *progress, char *err, size_t errlen) {
  bool bpf = so->runtime == SPANTAP_RUNTIME_BPF;
  const char *suffix = bpf ? ".bo" : ".ko";
  char name[SPANTAP_MODULE_NAME_MAX + 1];
  if (spantap_object_name_of_path(ko_path, suffix, name, sizeof name) < 0) {
    snprintf(err, errlen,
             "--output %s must be NAME%s, NAME of 1-%d characters [A-Za-z0-9_] (the %s name)",
             ko_path, suffix, SPANTAP_MODULE_NAME_MAX, bpf ? "BPF object's" : "module's");
    return -EINVAL;
  }
  if (!force && access(ko_path, F_OK) == 0) {
    snprintf(err, errlen, "%s exists (use --force to replace it)", ko_path);
    return -EEXIST;
  }
  char script_path[] = "/tmp/spantap-XXXXXX.stp";
  int fd = mkstemps(script_path, 4);
  if (fd < 0) {
    int e = errno;
    snprintf(err, errlen, "Failed to write script: path=%s errno=%s", script_path, strerror(e));
    return -e;
  }
  FILE *sf = fdopen(fd, "w");
  char why[512] = "";
  int rc = sf ? spantap_script_generate(so, sf, why, sizeof why) : -errno;
  if (sf && fclose(sf) != 0 && rc == 0)
    rc = -errno;
  else if (!sf)
    close(fd);
  if (rc < 0) {
    snprintf(err, errlen, "Failed to write script: path=%s %s", script_path, why);
    goto out;
  }
  struct spantap_module_build b = {.stap = stap,
                                   .kernel_release = release,
                                   .args = args,
                                   .module_name = name,
                                   .script_path = script_path,
                                   .suffix = suffix};
  char out[4096];
  snprintf(out, sizeof out, "%s", ko_path);
  rc = spantap_module_build(&b, out, sizeof out, progress, err, errlen);
  /* the map reader where it runs must know the object's record queues */
  if (rc == 0 && bpf)
    rc = spantap_bpf_object_mark(ko_path, so->queue_cookie, so->queue_ncpu, err, errlen);
out:
  unlink(script_path);
  return rc;
}
