/* The subcommands of the spantap program; each returns the exit status. */
#ifndef SPANTAP_CLI_COMMANDS_H
#define SPANTAP_CLI_COMMANDS_H

int spantap_cmd_record(int argc, char **argv);
int spantap_cmd_script(int argc, char **argv);
int spantap_cmd_import(int argc, char **argv);
int spantap_cmd_setup(int argc, char **argv);
int spantap_cmd_summary(int argc, char **argv);
int spantap_cmd_demo(int argc, char **argv);
int spantap_cmd_query(int argc, char **argv);
int spantap_cmd_traces(int argc, char **argv);
int spantap_cmd_tree(int argc, char **argv);
int spantap_cmd_stacks(int argc, char **argv);
int spantap_cmd_report(int argc, char **argv);
int spantap_cmd_export(int argc, char **argv);

/* Exit statuses. */
#define SPANTAP_EXIT_OK 0
#define SPANTAP_EXIT_FAIL 1       /* something failed; nothing (more) was written */
#define SPANTAP_EXIT_USAGE 2      /* bad command line */
#define SPANTAP_EXIT_INCOMPLETE 3 /* a recording was stored but is incomplete */

#endif
