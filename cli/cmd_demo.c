/* `spantap demo`: records the bundled demo microservices (demo/, docs/demo.md)
 * under their load generator, scores the derived spans against the services'
 * own ground truth, and shows the traces. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "common/self_path.h"
#include "reports/recording.h"
#include "reports/traces.h"
#include "reports/tree.h"

static const char demo_usage[] =
    "Usage: spantap demo [OPTIONS]\n"
    "\n"
    "Trace the bundled demo application: a front HTTP service (a thread pool with\n"
    "keep-alive connections) that calls a middle tier (an event loop) that calls a\n"
    "store (a thread per connection, with helper threads). The services are traced\n"
    "by binary name while ab loads the front; spantap derives every request span\n"
    "and trace from kernel events alone, scores them against the ground truth the\n"
    "services log themselves, and prints the slowest traces and the tree of the\n"
    "slowest one. Needs root (it records).\n"
    "\n"
    "  -n, --requests N       requests ab sends (default 2000)\n"
    "  -c, --concurrency C    ab's keep-alive connections (default 8)\n"
    "  -o, --output FILE      the database (default demo.db; replaced if it exists)\n"
    "  -t, --truth DIR        where the services' ground truth goes (default demo-truth)\n"
    "  -s, --stack-mode M     stack mode 0-4 (default 1: the application call site)\n"
    "\n"
    "Then ask your own questions, e.g.:\n"
    "  spantap query demo.db \"SELECT * FROM slow_vs_fast\"\n"
    "  spantap stacks demo.db\n";

struct demo_opts {
  unsigned requests, concurrency, stack_mode;
  const char *output, *truth;
};

/* Finds FILE (e.g. "demo/run.sh") in the build tree of this binary, then in the
 * source tree it was configured from. Returns 0 with the path in OUT, or -ENOENT. */
static int find_demo_file(const char *file, char *out, size_t len) {
  char dir[PATH_MAX];
  if (spantap_self_dir(dir, sizeof dir) == 0 &&
      (size_t)snprintf(out, len, "%s/%s", dir, file) < len && access(out, X_OK) == 0)
    return 0;
  if ((size_t)snprintf(out, len, "%s/%s", SPANTAP_SRCDIR, file) >= len)
    return -ENAMETOOLONG;
  return access(out, X_OK) == 0 ? 0 : -ENOENT;
}

/* Starts `spantap record` for the demo's binaries with its standard error
 * piped to *ERR_FD. Returns the child's pid, or -1. */
static pid_t start_recording(const struct demo_opts *o, int *err_fd) {
  int fds[2];
  if (pipe(fds) < 0)
    return -1;
  pid_t pid = fork();
  if (pid < 0)
    return -1;
  if (pid == 0) {
    close(fds[0]);
    dup2(fds[1], STDERR_FILENO);
    dup2(fds[1], STDOUT_FILENO);
    close(fds[1]);
    char mode[16];
    snprintf(mode, sizeof mode, "%u", o->stack_mode);
    execl("/proc/self/exe", "spantap", "record", "--force", "-o", o->output, "--stack-mode", mode,
          "--events", "default,file", "--binary", "demo_front", "--binary", "demo_middle",
          "--binary", "demo_store", "--duration", "3600", (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  *err_fd = fds[0];
  return pid;
}

/* Copies the recorder's output to standard error until its tracing line (or
 * its end). Returns true when tracing started. */
static bool wait_tracing(FILE *rec_out) {
  char line[1024];
  while (fgets(line, sizeof line, rec_out)) {
    fputs(line, stderr);
    if (strncmp(line, "spantap: tracing", 16) == 0)
      return true;
  }
  return false;
}

/* The id of the slowest trace in DB, or 0 when there is none (or on error). */
static int64_t slowest_trace(const char *db) {
  sqlite3 *conn;
  char err[256];
  int64_t id = 0;
  if (spantap_recording_open(db, &conn, err, sizeof err) < 0)
    return 0;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(conn, "SELECT trace_id FROM slowest_traces LIMIT 1", -1, &st, NULL) ==
      SQLITE_OK) {
    if (sqlite3_step(st) == SQLITE_ROW)
      id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
  sqlite3_close(conn);
  return id;
}

/* Runs ARGV (argv[0] a path) and waits. Returns its exit status, or -1. */
static int run_wait(char *const argv[]) {
  pid_t pid = fork();
  if (pid < 0)
    return -1;
  if (pid == 0) {
    execv(argv[0], argv);
    fprintf(stderr, "spantap demo: Failed to run %s: errno=%s\n", argv[0], strerror(errno));
    _exit(127);
  }
  int status;
  if (waitpid(pid, &status, 0) < 0)
    return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int spantap_cmd_demo(int argc, char **argv) {
  struct demo_opts o = {.requests = 2000,
                        .concurrency = 8,
                        .stack_mode = 1,
                        .output = "demo.db",
                        .truth = "demo-truth"};
  const struct spantap_opt opts[] = {
      SPANTAP_OPT_NUMBER("requests", 'n', &o.requests, 1, INT_MAX),
      SPANTAP_OPT_NUMBER("concurrency", 'c', &o.concurrency, 1, INT_MAX),
      SPANTAP_OPT_OUTPUT(&o.output),
      {.name = "truth", .letter = 't', .kind = SPANTAP_OPT_STRING, .dest = &o.truth},
      SPANTAP_OPT_STACK_MODE(&o.stack_mode, NULL),
  };
  const struct spantap_cmdline cl =
      SPANTAP_CMDLINE("demo", demo_usage, opts, 0, "takes no operand (see --help)");
  int first, usage_status = spantap_args_parse(&cl, argc, argv, &first);
  if (usage_status >= 0)
    return usage_status;
  char run_sh[PATH_MAX], accuracy[PATH_MAX];
  if (find_demo_file("demo/run.sh", run_sh, sizeof run_sh) < 0 ||
      find_demo_file("demo/spantap-accuracy", accuracy, sizeof accuracy) < 0) {
    fprintf(stderr,
            "spantap demo: the demo is not built: looked for demo/run.sh and "
            "demo/spantap-accuracy next to this binary and in %s (run make)\n",
            SPANTAP_SRCDIR);
    return SPANTAP_EXIT_FAIL;
  }
  if (geteuid() != 0) {
    fprintf(stderr, "spantap demo: recording needs root (try: sudo spantap demo)\n");
    return SPANTAP_EXIT_FAIL;
  }
  /* run.sh finds the services in the build tree named by top_builddir */
  char dir[PATH_MAX];
  if (spantap_self_dir(dir, sizeof dir) == 0)
    setenv("top_builddir", dir, 0);

  int rec_fd;
  pid_t rec = start_recording(&o, &rec_fd);
  FILE *rec_out = rec > 0 ? fdopen(rec_fd, "r") : NULL;
  if (!rec_out) {
    fprintf(stderr, "spantap demo: Failed to start the recording: errno=%s\n", strerror(errno));
    return SPANTAP_EXIT_FAIL;
  }
  if (!wait_tracing(rec_out)) {
    int status;
    waitpid(rec, &status, 0);
    fclose(rec_out);
    fprintf(stderr, "spantap demo: the recording did not start (its output is above)\n");
    return SPANTAP_EXIT_FAIL;
  }
  fprintf(stderr, "spantap demo: running the services under ab: %u requests, %u connections\n",
          o.requests, o.concurrency);
  char requests[16], concurrency[16];
  snprintf(requests, sizeof requests, "%u", o.requests);
  snprintf(concurrency, sizeof concurrency, "%u", o.concurrency);
  char *run_argv[] = {run_sh, "-n", requests, "-c", concurrency, "-o", (char *)o.truth, NULL};
  int run_rc = run_wait(run_argv);
  kill(rec, SIGINT);
  /* the recorder's summary follows */
  char line[1024];
  while (fgets(line, sizeof line, rec_out))
    fputs(line, stderr);
  fclose(rec_out);
  int status = 0;
  waitpid(rec, &status, 0);
  int rec_rc = WIFEXITED(status) ? WEXITSTATUS(status) : SPANTAP_EXIT_FAIL;
  if (run_rc != 0 || rec_rc != 0) {
    fprintf(stderr, "spantap demo: %s (exit %d)\n",
            run_rc != 0 ? "the demo run failed" : "the recording failed",
            run_rc != 0 ? run_rc : rec_rc);
    return SPANTAP_EXIT_FAIL;
  }
  printf("\nHow the derived spans compare with the services' own ground truth:\n");
  fflush(stdout);
  char *acc_argv[] = {accuracy, (char *)o.output, (char *)o.truth, NULL};
  if (run_wait(acc_argv) != 0)
    return SPANTAP_EXIT_FAIL;
  printf("\nThe slowest traces (spantap traces %s):\n", o.output);
  char err[512];
  struct spantap_traces_opts to = {.limit = 5, .format = SPANTAP_TABLE_TEXT};
  if (spantap_report_traces(o.output, stdout, &to, err, sizeof err) < 0) {
    fprintf(stderr, "spantap demo: %s\n", err);
    return SPANTAP_EXIT_FAIL;
  }
  int64_t slowest = slowest_trace(o.output);
  if (!slowest) {
    fprintf(stderr, "spantap demo: the recording holds no trace\n");
    return SPANTAP_EXIT_FAIL;
  }
  printf("\nThe slowest trace as a tree (spantap tree %s %lld):\n", o.output, (long long)slowest);
  if (spantap_report_tree(o.output, slowest, stdout, err, sizeof err) < 0) {
    fprintf(stderr, "spantap demo: %s\n", err);
    return SPANTAP_EXIT_FAIL;
  }
  printf("\nNext: spantap query %s \"SELECT * FROM slow_vs_fast\"; spantap stacks %s\n", o.output,
         o.output);
  return SPANTAP_EXIT_OK;
}
