/* One way to read a command line for every spantap command: each command
 * declares its options in a table (long name, letter, kind, bounds, where the
 * value goes), numbers are parsed strictly, and a bad value is reported with
 * the option, the value and what is allowed, for exit status 2. The options
 * several commands share are declared once here (stack mode and depth, the
 * table format, counts). */
#ifndef SPANTAP_CLI_ARGS_H
#define SPANTAP_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/script_gen.h"

enum spantap_opt_kind {
  SPANTAP_OPT_FLAG,   /* no value: *(bool *)dest = true */
  SPANTAP_OPT_STRING, /* *(const char **)dest = the value (borrowed from argv) */
  SPANTAP_OPT_UINT,   /* *(unsigned *)dest = a number in min..max */
  SPANTAP_OPT_INT64,  /* *(int64_t *)dest = a number in min..max */
  SPANTAP_OPT_CSV,    /* no value: *(enum spantap_table_format *)dest = CSV */
  SPANTAP_OPT_JSON,   /* no value: *(enum spantap_table_format *)dest = JSON */
  SPANTAP_OPT_CALL    /* call(dest, value, err, errlen) */
};

/* One option of a command. */
struct spantap_opt {
  const char *name; /* the long name, without "--" */
  char letter;      /* the short option, 0 for none */
  enum spantap_opt_kind kind;
  void *dest;
  uint64_t min, max; /* UINT and INT64: the allowed values */
  /* CALL: takes VALUE into DEST; returns 0, or -EINVAL with the whole reason
   * ("invalid --runtime 'x' (bpf or kernel)") in ERR. */
  int (*call)(void *dest, const char *value, char *err, size_t errlen);
  bool *given; /* when not NULL, set to true when the option is on the command line */
};

/* The modes of spantap_script_opts.stack_mode: 0 no stacks, 1-4 Uscope's. */
#define SPANTAP_STACK_MODE_MAX 4
/* A count option bound: "-n 0" means all, and at most this many of anything. */
#define SPANTAP_COUNT_MAX INT64_MAX

/* The options several commands share, with the same names, letters and bounds
 * everywhere. GIVEN_BOOL may be NULL. */
#define SPANTAP_OPT_STACK_MODE(dest_unsigned, given_bool)                                          \
  {                                                                                                \
    .name = "stack-mode", .letter = 's', .kind = SPANTAP_OPT_UINT, .dest = (dest_unsigned),        \
    .min = 0, .max = SPANTAP_STACK_MODE_MAX, .given = (given_bool)                                 \
  }
#define SPANTAP_OPT_STACK_DEPTH(dest_unsigned)                                                     \
  {                                                                                                \
    .name = "stack-depth", .letter = 'd', .kind = SPANTAP_OPT_UINT, .dest = (dest_unsigned),       \
    .min = 1, .max = SPANTAP_STACK_DEPTH_MAX                                                       \
  }
/* --csv and --json: two entries of the table. */
#define SPANTAP_OPT_FORMAT(dest_format)                                                            \
  {.name = "csv", .kind = SPANTAP_OPT_CSV, .dest = (dest_format)}, {                               \
    .name = "json", .kind = SPANTAP_OPT_JSON, .dest = (dest_format)                                \
  }
/* -n, --limit N: at most N rows, 0 for all. */
#define SPANTAP_OPT_LIMIT(dest_int64)                                                              \
  {                                                                                                \
    .name = "limit", .letter = 'n', .kind = SPANTAP_OPT_INT64, .dest = (dest_int64), .min = 0,     \
    .max = SPANTAP_COUNT_MAX                                                                       \
  }
/* -o, --output FILE and -f, --force: the database a command writes. */
#define SPANTAP_OPT_OUTPUT(dest_path)                                                              \
  { .name = "output", .letter = 'o', .kind = SPANTAP_OPT_STRING, .dest = (dest_path) }
#define SPANTAP_OPT_FORCE(dest_bool)                                                               \
  { .name = "force", .letter = 'f', .kind = SPANTAP_OPT_FLAG, .dest = (dest_bool) }

/* A command's command line. */
struct spantap_cmdline {
  const char *cmd;   /* "record": messages start "spantap record: " */
  const char *usage; /* what --help prints */
  const struct spantap_opt *opts;
  size_t nopts;  /* at most SPANTAP_MAX_OPTS */
  bool in_order; /* stop at the first operand (what follows belongs to a command) */
};

#define SPANTAP_MAX_OPTS 24

/* The command line of command NAME with the options of the array OPTS. */
#define SPANTAP_CMDLINE(name, usage_text, opts_array)                                              \
  {                                                                                                \
    .cmd = (name), .usage = (usage_text), .opts = (opts_array),                                    \
    .nopts = sizeof(opts_array) / sizeof((opts_array)[0])                                          \
  }

/* Parses VALUE, the value of option NAME ("--stack-depth", "TRACE_ID"), as a
 * decimal number in MIN..MAX: digits only, no sign, no blanks, no trailing
 * text, no overflow. Returns 0 with the number in *OUT, or -EINVAL with ERR
 * naming the option, the value and the allowed range. */
int spantap_arg_number(const char *name, const char *value, uint64_t min, uint64_t max,
                       uint64_t *out, char *err, size_t errlen);

/* Reads ARGV (ARGV[0] the command's name) as CL says, storing each option's
 * value where its entry says. Returns 0 with *FIRST the index of the first
 * operand, 1 when --help (or -h) was given, or -EINVAL with ERR saying which
 * option or value is wrong. Uses getopt's state (optind): not reentrant. */
int spantap_args_read(const struct spantap_cmdline *cl, int argc, char **argv, int *first,
                      char *err, size_t errlen);

/* spantap_args_read, then what a command does with its result: after --help
 * prints the usage to standard output and sets *EXIT to 0; after an error prints
 * "spantap CMD: ERR" and a hint to standard error and sets *EXIT to 2. Returns
 * true when the command goes on with its operands from *FIRST. */
bool spantap_args_parse(const struct spantap_cmdline *cl, int argc, char **argv, int *first,
                        int *exit);

/* Checks that exactly N operands follow FIRST; else prints "spantap CMD: WHAT"
 * and a hint to standard error. Returns true when they do. */
bool spantap_args_operands(const struct spantap_cmdline *cl, int argc, int first, int n,
                           const char *what);

#endif
