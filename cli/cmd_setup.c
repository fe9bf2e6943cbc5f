/* `spantap setup`: prepares this machine for SystemTap's BPF runtime. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "runtime/machine_setup.h"

static const char usage[] =
    "Usage: spantap setup [--check] [--force] [--state-dir DIR]\n"
    "\n"
    "Prepare this machine for SystemTap's BPF runtime, idempotently: mount tracefs\n"
    "and debugfs, synthesize a kernel build tree from the kernel's BTF when no real\n"
    "one exists (kept under DIR, default " SPANTAP_DEFAULT_STATE_DIR "), and check the shim that\n"
    "lets stapbpf start without CAP_SYS_RESOURCE. Needs root.\n"
    "\n"
    "  --check          only report what is there and what is missing\n"
    "  --force          rebuild the synthesized tree even if it is up to date\n"
    "  --state-dir DIR  where spantap keeps what it builds\n";

int spantap_cmd_setup(int argc, char **argv) {
  static const struct option longopts[] = {{"check", no_argument, 0, 'c'},
                                           {"force", no_argument, 0, 'f'},
                                           {"state-dir", required_argument, 0, 'D'},
                                           {"help", no_argument, 0, 'h'},
                                           {0, 0, 0, 0}};
  bool check = false, force = false;
  const char *state_dir = NULL;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (c) {
      case 'c':
        check = true;
        break;
      case 'f':
        force = true;
        break;
      case 'D':
        state_dir = optarg;
        break;
      case 'h':
        fputs(usage, stdout);
        return SPANTAP_EXIT_OK;
      default:
        fprintf(stderr, "Try 'spantap setup --help'.\n");
        return SPANTAP_EXIT_USAGE;
    }
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
