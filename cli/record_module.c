/* `spantap record` with SystemTap's module runtime: build on one machine
 * (--compile-only, --kernel-release), run on another (--module, staprun). */
#include "cli/record_module.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/commands.h"
#include "runtime/kernel_setup.h"
#include "runtime/machine_setup.h"
#include "runtime/module_build.h"
#include "runtime/staprun_launch.h"
#include "runtime/targets.h"

static struct spantap_kernel_setup ks; /* strings of the stap arguments point here */
static char dpaths[SPANTAP_MAX_TARGETS][4096];
static char started[SPANTAP_MODULE_NAME_MAX + 64]; /* the module's name once started */

int spantap_record_module_args(const struct spantap_trace_options *o, const char **args,
                               size_t *nargs, size_t max) {
  char err[1024];
  if (o->module)
    return 0; /* built elsewhere: nothing to build here */
  int rc = spantap_kernel_setup_inspect(NULL, o->kernel_release, &ks);
  if (rc < 0) {
    fprintf(stderr, "spantap record: Failed to inspect this machine: %s\n", strerror(-rc));
    return rc;
  }
  if (spantap_kernel_setup_report(&ks, true, !o->compile_only, stderr) > 0) {
    fprintf(stderr, "spantap record: the module runtime cannot build here (see above)\n");
    return -ENOENT;
  }
  const char *kargs[16];
  rc = spantap_kernel_stap_args(&ks, kargs, 16, err, sizeof err);
  if (rc < 0) {
    fprintf(stderr, "spantap record: %s\n", err);
    return rc;
  }
  for (int i = 0; i < rc && *nargs + 1 < max; i++)
    args[(*nargs)++] = kargs[i];
  /* stap's unwinder needs the unwind tables of the targets and their
   * libraries at build time */
  if (*nargs + 1 < max)
    args[(*nargs)++] = "--ldd";
  for (size_t i = 0; i < o->ntargets && *nargs + 3 < max; i++) {
    const char *p = o->targets[i].name;
    if (!o->targets[i].is_path) {
      if (spantap_target_find_in_path(p, dpaths[i], sizeof dpaths[i]) < 0)
        continue;
      p = dpaths[i];
    }
    args[(*nargs)++] = "-d";
    args[(*nargs)++] = p;
  }
  args[*nargs] = NULL;
  return 0;
}

int spantap_record_compile_only(const struct spantap_trace_options *o, const char *stap,
                                const char *const *args) {
  char err[1024], name[SPANTAP_MODULE_NAME_MAX + 1];
  if (spantap_module_name_of_path(o->output, name, sizeof name) < 0) {
    fprintf(stderr,
            "spantap record: --compile-only: --output %s must be NAME.ko, NAME of 1-%d "
            "characters [A-Za-z0-9_] (the module's name)\n",
            o->output, SPANTAP_MODULE_NAME_MAX);
    return SPANTAP_EXIT_USAGE;
  }
  if (!o->force && access(o->output, F_OK) == 0) {
    fprintf(stderr, "spantap record: %s exists (use --force to replace it)\n", o->output);
    return SPANTAP_EXIT_FAIL;
  }
  char script_path[] = "/tmp/spantap-XXXXXX.stp";
  int fd = mkstemps(script_path, 4);
  FILE *sf = fd >= 0 ? fdopen(fd, "w") : NULL;
  struct spantap_script_opts so;
  spantap_trace_options_to_script(o, SPANTAP_RUNTIME_KERNEL, 0, &so);
  int status = SPANTAP_EXIT_FAIL;
  if (!sf || spantap_script_generate(&so, sf, err, sizeof err) < 0) {
    fprintf(stderr, "spantap record: Failed to write script: path=%s %s\n", script_path, err);
    if (sf)
      fclose(sf);
    else if (fd >= 0)
      close(fd);
    goto out;
  }
  if (fclose(sf) != 0) {
    fprintf(stderr, "spantap record: Failed to write script: path=%s\n", script_path);
    goto out;
  }
  fprintf(stderr, "spantap: building %s for kernel %s...\n", o->output, ks.release);
  struct spantap_module_build b = {.stap = stap,
                                   .kernel_release = o->kernel_release,
                                   .args = args,
                                   .module_name = name,
                                   .script_path = script_path};
  char out[4096];
  snprintf(out, sizeof out, "%s", o->output);
  if (spantap_module_build(&b, out, sizeof out, stderr, err, sizeof err) < 0) {
    fprintf(stderr, "spantap record: %s\n", err);
    goto out;
  }
  fprintf(stderr,
          "spantap: built %s: run it with 'spantap record --module %s -s %u -d %u -o FILE.db' "
          "where staprun is installed\n",
          o->output, o->output, o->stack_mode, o->stack_depth);
  status = SPANTAP_EXIT_OK;
out:
  unlink(script_path);
  return status;
}

/* Copies the script at PATH to STATE/scripts/spantap_<hash>.stp (the state
 * directory of machine_setup.h), its name a hash of its text, and writes that
 * path into OUT. stap's cache key includes the script's path: a fresh
 * temporary name would make it miss every time. */
static int stable_script(const char *path, char *out, size_t outlen, char *err, size_t errlen) {
  FILE *in = fopen(path, "re");
  char *text = NULL;
  size_t len = 0;
  FILE *mem = open_memstream(&text, &len);
  int rc = 0;
  if (!in || !mem) {
    rc = -errno;
    snprintf(err, errlen, "Failed to read script: path=%s errno=%s", path, strerror(-rc));
    goto out;
  }
  char buf[8192];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, in)) > 0)
    fwrite(buf, 1, n, mem);
  fclose(mem);
  mem = NULL;
  char state[4096], name[64];
  rc = spantap_setup_state_dir(NULL, state, sizeof state);
  if (rc < 0) {
    snprintf(err, errlen, "Failed to find the state directory: %s", strerror(-rc));
    goto out;
  }
  spantap_module_name_of_script(text, len, name, sizeof name);
  char dir[4200];
  snprintf(dir, sizeof dir, "%.4000s/scripts", state);
  mkdir(state, 0755);
  if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
    rc = -errno;
    snprintf(err, errlen, "Failed to create directory: path=%s errno=%s", dir, strerror(-rc));
    goto out;
  }
  if ((size_t)snprintf(out, outlen, "%s/%s.stp", dir, name) >= outlen) {
    rc = -ENAMETOOLONG;
    snprintf(err, errlen, "Failed to name script: dir=%s", dir);
    goto out;
  }
  char tmp[4400];
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
  if (mem)
    fclose(mem);
  if (in)
    fclose(in);
  free(text);
  return rc;
}

int spantap_record_module_spawn(const struct spantap_trace_options *o,
                                const struct spantap_script_opts *so, const char *stap,
                                const char *const *args, const char *script_path,
                                struct spantap_stap *out, char *err, size_t errlen) {
  char module[4096];
  if (o->module) {
    if (access(o->module, R_OK) < 0) {
      int e = errno;
      snprintf(err, errlen, "Failed to open module: path=%s errno=%s", o->module, strerror(e));
      return -e;
    }
    snprintf(module, sizeof module, "%s", o->module);
  } else {
    /* stap's cache key holds the script's path: the same script at the same path */
    char stable[4096];
    int rc = stable_script(script_path, stable, sizeof stable, err, errlen);
    if (rc < 0)
      return rc;
    fprintf(stderr, "spantap: building the tracing module (stap's cache serves a rebuild)...\n");
    struct spantap_module_build b = {.stap = stap,
                                     .kernel_release = o->kernel_release,
                                     .args = args,
                                     .module_name = NULL,
                                     .script_path = stable};
    rc = spantap_module_build(&b, module, sizeof module, stderr, err, errlen);
    if (rc < 0)
      return rc;
  }
  /* stap's cached modules are named stap_<hash>_<n>: the file's name */
  if (spantap_module_name_of_path(module, started, sizeof started) < 0)
    started[0] = '\0';
  return spantap_staprun_spawn("staprun", module, so, out, err, errlen);
}

void spantap_record_module_unload(int status) {
  if (!started[0] || !WIFSIGNALED(status))
    return;
  char sys[sizeof started + 16];
  snprintf(sys, sizeof sys, "/sys/module/%s", started);
  for (int i = 0; i < 20 && access(sys, F_OK) == 0; i++)
    usleep(100000); /* stapio may still be unloading it */
  if (access(sys, F_OK) < 0)
    return;
  fprintf(stderr, "spantap: staprun left module %s loaded: unloading it\n", started);
  pid_t pid = fork();
  if (pid == 0) {
    execlp("staprun", "staprun", "-d", started, (char *)NULL);
    _exit(127);
  }
  if (pid > 0)
    waitpid(pid, NULL, 0);
}
