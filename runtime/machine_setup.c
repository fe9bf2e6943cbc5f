/* `spantap setup` machine preparation: detects and creates what SystemTap's
 * BPF runtime needs here (tracefs/debugfs mounts, a kernel build tree, the
 * RLIMIT_MEMLOCK shim) and derives the stap arguments from it. */
#include "runtime/report.h"
#include "runtime/machine_setup.h"
#include "runtime/kbuild_tree.h"
#include "common/self_path.h"

#include <errno.h>
#include <limits.h>
#include <mntent.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define TRACEFS_DIR "/sys/kernel/tracing"
#define DEBUGFS_DIR "/sys/kernel/debug"
#define SHIM_NAME "libspantap_memlock.so"
#define CAP_SYS_RESOURCE_BIT 24

int spantap_setup_state_dir(const char *state_dir, char *out, size_t len) {
  const char *dir = state_dir;

  if (!dir) {
    dir = getenv("SPANTAP_STATE_DIR");
    if (!dir || !*dir)
      dir = SPANTAP_DEFAULT_STATE_DIR;
  }
  if (snprintf(out, len, "%s", dir) >= (int)len)
    return -ENAMETOOLONG;
  return 0;
}

/* True when a filesystem of TYPE is mounted exactly at DIR. */
static bool mounted(const char *type, const char *dir) {
  FILE *f = setmntent("/proc/self/mounts", "r");
  struct mntent *m;
  bool found = false;

  if (!f)
    return false;
  while (!found && (m = getmntent(f)))
    found = strcmp(m->mnt_type, type) == 0 && strcmp(m->mnt_dir, dir) == 0;
  endmntent(f);
  return found;
}

static bool is_file(const char *path) {
  struct stat sb;

  return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Finds the memlock shim: $SPANTAP_MEMLOCK_SHIM, then the build tree next to
 * the running executable, then the install directory. */
static bool find_shim(char *out, size_t len) {
  const char *env = getenv("SPANTAP_MEMLOCK_SHIM");
  static const char *const rel[] = {".libs/" SHIM_NAME, SHIM_NAME, "../.libs/" SHIM_NAME};
  char exe[PATH_MAX];

  out[0] = '\0';
  if (env && *env) {
    if (is_file(env) && snprintf(out, len, "%s", env) < (int)len)
      return true;
    return false;
  }
  if (spantap_self_dir(exe, sizeof(exe)) == 0) {
    for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
      char cand[PATH_MAX + 64], canon[PATH_MAX];

      snprintf(cand, sizeof(cand), "%s/%s", exe, rel[i]);
      if (is_file(cand) && realpath(cand, canon) && snprintf(out, len, "%s", canon) < (int)len)
        return true;
    }
  }
#ifdef SPANTAP_PKGLIBDIR
  {
    char cand[PATH_MAX];

    snprintf(cand, sizeof(cand), "%s/%s", SPANTAP_PKGLIBDIR, SHIM_NAME);
    if (is_file(cand) && snprintf(out, len, "%s", cand) < (int)len)
      return true;
  }
#endif
  out[0] = '\0';
  return false;
}

bool spantap_setup_memlock_shim_needed(void) {
  struct rlimit rl;
  char *line = NULL;
  size_t cap = 0;
  bool has_cap = false;
  FILE *f;

  if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_max == RLIM_INFINITY)
    return false;
  f = fopen("/proc/self/status", "r");
  if (f) {
    while (getline(&line, &cap, f) > 0) {
      unsigned long long caps;

      if (sscanf(line, "CapEff: %llx", &caps) == 1) {
        has_cap = (caps >> CAP_SYS_RESOURCE_BIT) & 1;
        break;
      }
    }
    free(line);
    fclose(f);
  }
  return !has_cap;
}

int spantap_setup_inspect(const char *state_dir, struct spantap_setup_status *st) {
  char state[4096], real[PATH_MAX], synth[4096];
  struct utsname u;
  struct stat sb;
  int cur;

  memset(st, 0, sizeof(*st));
  if (spantap_setup_state_dir(state_dir, state, sizeof(state)) < 0)
    return -ENAMETOOLONG;
  if (uname(&u) < 0)
    return -errno;
  st->tracefs_mounted = mounted("tracefs", TRACEFS_DIR);
  st->debugfs_mounted = mounted("debugfs", DEBUGFS_DIR);
  snprintf(real, sizeof(real), "/lib/modules/%s/build", u.release);
  st->real_kernel_tree = stat(real, &sb) == 0 && S_ISDIR(sb.st_mode);
  if (snprintf(synth, sizeof(synth), "%s/kbuild/%s", state, u.release) >= (int)sizeof(synth))
    return -ENAMETOOLONG;
  cur = spantap_kbuild_is_current(synth, NULL);
  st->synthesized_tree = cur == 1;
  if (st->synthesized_tree || !st->real_kernel_tree)
    snprintf(st->tree_dir, sizeof(st->tree_dir), "%s", synth);
  else
    snprintf(st->tree_dir, sizeof(st->tree_dir), "%s", real);
  st->memlock_shim = find_shim(st->shim_path, sizeof(st->shim_path));
  return 0;
}

static int mount_if_needed(const char *type, const char *dir, FILE *prog, char *err,
                           size_t errlen) {
  int rc;

  if (mounted(type, dir)) {
    spantap_progress(prog, "%s already mounted at %s", type, dir);
    return 0;
  }
  if (mount("nodev", dir, type, 0, NULL) < 0) {
    rc = -errno;
    spantap_set_err(err, errlen, "Failed to mount %s: target=%s errno=%d (%s)%s", type, dir, -rc,
                    strerror(-rc), rc == -EPERM ? ": run spantap setup as root" : "");
    return rc;
  }
  spantap_progress(prog, "mounted %s at %s (undo: umount %s)", type, dir, dir);
  return 0;
}

int spantap_setup_run(const char *state_dir, bool force_rebuild, FILE *prog, char *err,
                      size_t errlen) {
  struct spantap_setup_status st;
  char state[4096], synth[8192];
  struct utsname u;
  int rc;

  if (spantap_setup_state_dir(state_dir, state, sizeof(state)) < 0 || uname(&u) < 0 ||
      snprintf(synth, sizeof(synth), "%s/kbuild/%s", state, u.release) >= PATH_MAX) {
    spantap_set_err(err, errlen, "Failed to resolve state directory: state_dir=%s errno=%d",
                    state_dir ? state_dir : "(default)", ENAMETOOLONG);
    return -ENAMETOOLONG;
  }
  if (state[0] != '/') {
    spantap_set_err(err, errlen,
                    "Failed to use state directory: state_dir=%s errno=%d "
                    "(need an absolute path)",
                    state, EINVAL);
    return -EINVAL;
  }
  spantap_progress(prog, "state directory %s", state);
  if ((rc = mount_if_needed("tracefs", TRACEFS_DIR, prog, err, errlen)) < 0 ||
      (rc = mount_if_needed("debugfs", DEBUGFS_DIR, prog, err, errlen)) < 0)
    return rc;

  if ((rc = spantap_setup_inspect(state, &st)) < 0) {
    spantap_set_err(err, errlen, "Failed to inspect machine: state_dir=%s errno=%d", state, -rc);
    return rc;
  }
  if (st.real_kernel_tree && !force_rebuild) {
    spantap_progress(prog, "kernel build tree /lib/modules/%s/build exists: nothing to synthesize",
                     u.release);
  } else if (st.synthesized_tree && !force_rebuild) {
    spantap_progress(prog, "kernel tree %s is up to date", synth);
  } else {
    struct spantap_kbuild_opts o = {
        .tree_dir = synth,
        .warm = true,
        .progress = prog,
    };
    struct timespec t0, t1;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    if ((rc = spantap_kbuild_build(&o, err, errlen)) < 0)
      return rc;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    spantap_progress(prog, "kernel tree synthesized in %.1fs",
                     (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
  }

  if (spantap_setup_inspect(state, &st) == 0 && st.memlock_shim) {
    spantap_progress(prog, "memlock shim %s", st.shim_path);
  } else if (spantap_setup_memlock_shim_needed()) {
    spantap_set_err(err, errlen,
                    "Failed to find memlock shim: name=" SHIM_NAME " errno=%d (stapbpf cannot "
                    "raise RLIMIT_MEMLOCK here; reinstall spantap or set SPANTAP_MEMLOCK_SHIM)",
                    ENOENT);
    return -ENOENT;
  } else {
    spantap_progress(prog, "memlock shim not found, not needed (RLIMIT_MEMLOCK can be raised)");
  }
  return 0;
}

int spantap_setup_bpf_args(const struct spantap_setup_status *st, const char **argv_out, size_t max,
                           const char **ld_preload_out, char *err, size_t errlen) {
  size_t n = 0;

  *ld_preload_out = NULL;
  if (max < 4) {
    spantap_set_err(err, errlen, "Failed to build stap arguments: max=%zu errno=%d (need 4)", max,
                    ENOSPC);
    return -ENOSPC;
  }
  if (st->synthesized_tree) {
    argv_out[n++] = "-r";
    argv_out[n++] = st->tree_dir;
    /* A module-less @cast and task_current() resolve against the
     * DWARF-only vmlinux only with 4.2 semantics. */
    argv_out[n++] = "--compatible=4.2";
  } else if (!st->real_kernel_tree) {
    argv_out[0] = NULL;
    spantap_set_err(err, errlen,
                    "Failed to find a kernel build tree: tree_dir=%s errno=%d: run `spantap setup` "
                    "(as root) first",
                    st->tree_dir, ENOENT);
    return -ENOENT;
  }
  argv_out[n] = NULL;
  if (st->memlock_shim) {
    *ld_preload_out = st->shim_path;
  } else if (spantap_setup_memlock_shim_needed()) {
    argv_out[0] = NULL;
    spantap_set_err(err, errlen,
                    "Failed to find memlock shim: name=" SHIM_NAME " errno=%d: run `spantap setup` "
                    "to check the installation",
                    ENOENT);
    return -ENOENT;
  }
  return 0;
}
