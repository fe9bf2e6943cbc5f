/* `spantap setup`: prepares this machine for SystemTap's BPF runtime, or with
 * --runtime kernel for its module runtime. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "runtime/kernel_setup.h"
#include "runtime/machine_setup.h"

static const char usage[] =
    "Usage: spantap setup [--check] [--force] [--state-dir DIR]\n"
    "       spantap setup --runtime kernel [--kernel-release R] [--check] [--state-dir DIR]\n"
    "\n"
    "Prepare this machine for SystemTap's BPF runtime, idempotently: mount tracefs\n"
    "and debugfs, synthesize a kernel build tree from the kernel's BTF when no real\n"
    "one exists (kept under DIR, default $SPANTAP_STATE_DIR or " SPANTAP_DEFAULT_STATE_DIR "),\n"
    "and check the shim that lets stapbpf start without CAP_SYS_RESOURCE. Needs root.\n"
    "\n"
    "  --check          only report what is there and what is missing\n"
    "  --force          rebuild the synthesized tree even if it is up to date\n"
    "  --state-dir DIR  where spantap keeps what it builds\n"
    "\n"
    "  --runtime kernel        prepare for SystemTap's module runtime instead: check\n"
    "                          stap, staprun, a compiler and the kernel's headers (and\n"
    "                          name the packages that are missing), and patch a copy of\n"
    "                          stap's runtime where this SystemTap needs it for this kernel\n"
    "  --kernel-release R      with --runtime kernel: for kernel R (building elsewhere)\n";

/* --runtime kernel: the module runtime's checks and patched runtime. */
static int setup_kernel(const char *state_dir, const char *release, bool check) {
  struct spantap_kernel_setup ks;
  char err[1024];
  if (spantap_kernel_setup_inspect(state_dir, release, &ks) < 0) {
    fprintf(stderr, "spantap setup: cannot inspect this machine\n");
    return SPANTAP_EXIT_FAIL;
  }
  printf("kernel:                 %s\n", ks.release);
  printf("stap:                   %s", ks.stap ? "" : "missing\n");
  if (ks.stap)
    printf("%d.%d\n", ks.stap_major, ks.stap_minor);
  printf("staprun:                %s\n", ks.staprun ? "yes" : "missing");
  printf("kernel headers:         %s\n", ks.headers ? "yes" : "missing");
  printf("kernel debuginfo:       not needed (types come from the headers)\n");
  for (unsigned i = 0; spantap_stap_patches[i].name; i++)
    printf("runtime patch:          %s: %s\n", spantap_stap_patches[i].name,
           ks.patches & (1u << i) ? "needed" : "not needed");
  if (!check && ks.stap && !ks.runtime_ready) {
    if (geteuid() != 0 && !state_dir) {
      char dir[4096];
      if (spantap_setup_state_dir(NULL, dir, sizeof dir) < 0)
        snprintf(dir, sizeof dir, "%s", SPANTAP_DEFAULT_STATE_DIR);
      fprintf(stderr, "spantap setup: needs root to write under %s (or give --state-dir)\n", dir);
      return SPANTAP_EXIT_FAIL;
    }
    if (spantap_kernel_setup_run(&ks, stderr, err, sizeof err) < 0) {
      fprintf(stderr, "spantap setup: %s\n", err);
      return SPANTAP_EXIT_FAIL;
    }
  }
  if (ks.patches)
    printf("patched runtime:        %s%s\n", ks.runtime_dir, ks.runtime_ready ? "" : " (missing)");
  int missing = spantap_kernel_setup_report(&ks, true, true, stdout);
  printf("ready for --runtime kernel: %s\n", missing ? "no" : "yes");
  return missing ? SPANTAP_EXIT_FAIL : SPANTAP_EXIT_OK;
}

int spantap_cmd_setup(int argc, char **argv) {
  bool check = false, force = false;
  const char *state_dir = NULL, *runtime = "bpf", *release = NULL;
  const struct spantap_opt opts[] = {
      {.name = "check", .kind = SPANTAP_OPT_FLAG, .dest = &check},
      {.name = "force", .kind = SPANTAP_OPT_FLAG, .dest = &force},
      {.name = "state-dir", .kind = SPANTAP_OPT_STRING, .dest = &state_dir},
      {.name = "runtime", .kind = SPANTAP_OPT_STRING, .dest = &runtime},
      {.name = "kernel-release", .kind = SPANTAP_OPT_STRING, .dest = &release},
  };
  const struct spantap_cmdline cl =
      SPANTAP_CMDLINE("setup", usage, opts, 0, "takes no operand (see --help)");
  int first, status = spantap_args_parse(&cl, argc, argv, &first);
  if (status >= 0)
    return status;
  if (strcmp(runtime, "kernel") == 0)
    return setup_kernel(state_dir, release, check);
  if (strcmp(runtime, "bpf") != 0 || release) {
    fprintf(stderr, "spantap setup: --runtime is bpf or kernel; --kernel-release is for kernel\n");
    return SPANTAP_EXIT_USAGE;
  }
  struct spantap_setup_status st;
  if (check) {
    if (spantap_setup_inspect(state_dir, &st) < 0) {
      fprintf(stderr, "spantap setup: cannot inspect this machine\n");
      return SPANTAP_EXIT_FAIL;
    }
    printf("tracefs mounted:        %s\n", st.tracefs_mounted ? "yes" : "no");
    printf("debugfs mounted:        %s\n", st.debugfs_mounted ? "yes" : "no");
    printf("real kernel build tree: %s\n", st.real_kernel_tree ? "yes" : "no");
    printf("synthesized tree:       %s%s%s\n", st.synthesized_tree ? "yes (" : "no",
           st.synthesized_tree ? st.tree_dir : "", st.synthesized_tree ? ")" : "");
    printf("memlock shim:           %s\n", st.memlock_shim ? st.shim_path : "missing");
    bool ready = st.tracefs_mounted && st.debugfs_mounted &&
                 (st.real_kernel_tree || st.synthesized_tree) && st.memlock_shim;
    printf("ready for --runtime=bpf: %s\n", ready ? "yes" : "no (run 'spantap setup')");
    return ready ? SPANTAP_EXIT_OK : SPANTAP_EXIT_FAIL;
  }
  if (geteuid() != 0) {
    char dir[4096];
    if (spantap_setup_state_dir(state_dir, dir, sizeof dir) < 0)
      snprintf(dir, sizeof dir, "%s", state_dir ? state_dir : SPANTAP_DEFAULT_STATE_DIR);
    fprintf(stderr,
            "spantap setup: needs root (it mounts filesystems and writes under %s); "
            "run it with sudo\n",
            dir);
    return SPANTAP_EXIT_FAIL;
  }
  char err[1024] = "";
  if (spantap_setup_run(state_dir, force, stderr, err, sizeof err) < 0) {
    fprintf(stderr, "spantap setup: %s\n", err);
    return SPANTAP_EXIT_FAIL;
  }
  fprintf(stderr, "spantap setup: this machine is ready for 'spantap record --runtime bpf'\n");
  return SPANTAP_EXIT_OK;
}
