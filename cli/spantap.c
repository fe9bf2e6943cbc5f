/* spantap: the command-line entry point; dispatches to the subcommands. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "config.h"

static const char usage[] =
    "Usage: spantap COMMAND [OPTIONS]\n"
    "\n"
    "Trace what an application asks of the kernel, with the user stacks that led\n"
    "there, into one SQLite file.\n"
    "\n"
    "Commands:\n"
    "  record    trace an application by binary, pid or command (needs root)\n"
    "  import    store a saved record stream into a database (no root needed)\n"
    "  summary   print the summary of a recorded database\n"
    "  traces    list a recording's request traces, slowest first\n"
    "  tree      draw one trace's spans as a tree, with their time and call sites\n"
    "  stacks    rank application call sites by the syscall time they cause\n"
    "  query     run SQL over a recording, read-only (table, CSV or JSON)\n"
    "  report    write one offline HTML page that shows why requests are slow\n"
    "  export    write a recording as OTLP, pprof, folded stacks, Chrome trace or Prometheus\n"
    "  script    print the SystemTap script record would run\n"
    "  setup     prepare this machine for SystemTap's BPF runtime (needs root)\n"
    "  demo      trace the bundled demo microservices and score the spans (needs root)\n"
    "\n"
    "Run 'spantap COMMAND --help' for a command's options.\n"
    "Example: sudo spantap record --binary nginx --duration 30 -o nginx.db\n"
    "         spantap traces nginx.db\n";

int main(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    fputs(usage, argc < 2 ? stderr : stdout);
    return argc < 2 ? SPANTAP_EXIT_USAGE : SPANTAP_EXIT_OK;
  }
  if (strcmp(argv[1], "--version") == 0) {
    printf("spantap %s\n", PACKAGE_VERSION);
    return SPANTAP_EXIT_OK;
  }
  static const struct {
    const char *name;
    int (*fn)(int, char **);
  } cmds[] = {{"record", spantap_cmd_record},   {"import", spantap_cmd_import},
              {"summary", spantap_cmd_summary}, {"script", spantap_cmd_script},
              {"setup", spantap_cmd_setup},     {"demo", spantap_cmd_demo},
              {"query", spantap_cmd_query},     {"traces", spantap_cmd_traces},
              {"tree", spantap_cmd_tree},       {"stacks", spantap_cmd_stacks},
              {"report", spantap_cmd_report},   {"export", spantap_cmd_export}};
  for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
    if (strcmp(argv[1], cmds[i].name) == 0)
      return cmds[i].fn(argc - 1, argv + 1);
  fprintf(stderr, "spantap: unknown command '%s'\n\n%s", argv[1], usage);
  return SPANTAP_EXIT_USAGE;
}
