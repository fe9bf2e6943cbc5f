/* `spantap setup`: prepares this machine for SystemTap's BPF runtime. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "runtime/machine_setup.h"

static const char usage[] =
    "Usage: spantap setup [--check] [--force] [--state-dir DIR]\n"
    "\n"
    "Prepare this machine for SystemTap's BPF runtime, idempotently: mount tracefs\n"
    "and debugfs, synthesize a kernel build tree from the kernel's BTF when no real\n"
    "one exists (kept under DIR, default $SPANTAP_STATE_DIR or " SPANTAP_DEFAULT_STATE_DIR "),\n"
    "and check the shim that lets stapbpf start without CAP_SYS_RESOURCE. Needs root.\n"
    "\n"
    "  --check          only report what is there and what is missing\n"
    "  --force          rebuild the synthesized tree even if it is up to date\n"
    "  --state-dir DIR  where spantap keeps what it builds\n";

int spantap_cmd_setup(int argc, char **argv) {
  bool check = false, force = false;
  const char *state_dir = NULL;
  const struct spantap_opt opts[] = {
      {.name = "check", .kind = SPANTAP_OPT_FLAG, .dest = &check},
      {.name = "force", .kind = SPANTAP_OPT_FLAG, .dest = &force},
      {.name = "state-dir", .kind = SPANTAP_OPT_STRING, .dest = &state_dir},
  };
  const struct spantap_cmdline cl =
      SPANTAP_CMDLINE("setup", usage, opts, 0, "takes no operand (see --help)");
  int first, status = spantap_args_parse(&cl, argc, argv, &first);
  if (status >= 0)
    return status;
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
