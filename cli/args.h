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

/* A number option: --NAME (or -LETTER, 0 for none) N in LO..HI, into an
 * unsigned (NUMBER) or an int64_t (NUMBER64). */
#define SPANTAP_OPT_NUMBER(long_name, short_letter, dest_unsigned, lo, hi)                         \
  {                                                                                                \
    .name = (long_name), .letter = (short_letter), .kind = SPANTAP_OPT_UINT,                       \
    .dest = (dest_unsigned), .min = (lo), .max = (hi)                                              \
  }
#define SPANTAP_OPT_NUMBER64(long_name, short_letter, dest_int64, lo, hi)                          \
  {                                                                                                \
    .name = (long_name), .letter = (short_letter), .kind = SPANTAP_OPT_INT64,                      \
    .dest = (dest_int64), .min = (lo), .max = (hi)                                                 \
  }

/* The options several commands share, with the same names, letters and bounds
 * everywhere. */
/* -s, --stack-mode M; GIVEN_BOOL (may be NULL) tells whether it was given. */
#define SPANTAP_OPT_STACK_MODE(dest_unsigned, given_bool)                                          \
  {                                                                                                \
    .name = "stack-mode", .letter = 's', .kind = SPANTAP_OPT_UINT, .dest = (dest_unsigned),        \
    .min = 0, .max = SPANTAP_STACK_MODE_MAX, .given = (given_bool)                                 \
  }
/* -d, --stack-depth S */
#define SPANTAP_OPT_STACK_DEPTH(dest_unsigned)                                                     \
  SPANTAP_OPT_NUMBER("stack-depth", 'd', dest_unsigned, 1, SPANTAP_STACK_DEPTH_MAX)
/* -n, --limit N: at most N rows, 0 for all. */
#define SPANTAP_OPT_LIMIT(dest_int64)                                                              \
  SPANTAP_OPT_NUMBER64("limit", 'n', dest_int64, 0, SPANTAP_COUNT_MAX)
/* --csv and --json: two entries of the table. */
#define SPANTAP_OPT_FORMAT(dest_format)                                                            \
  {.name = "csv", .kind = SPANTAP_OPT_CSV, .dest = (dest_format)}, {                               \
    .name = "json", .kind = SPANTAP_OPT_JSON, .dest = (dest_format)                                \
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
  size_t nopts;              /* at most SPANTAP_MAX_OPTS */
  bool in_order;             /* stop at the first operand (what follows belongs to a command) */
  int operands;              /* exactly this many operands; -1: the command checks them */
  const char *operands_what; /* the message when they are not: "give one DATABASE" */
};

#define SPANTAP_MAX_OPTS 24

/* The command line of command NAME with the options of the array OPTS and
 * exactly N operands (WHAT says which). */
#define SPANTAP_CMDLINE(name, usage_text, opts_array, n, what)                                     \
  {                                                                                                \
    .cmd = (name), .usage = (usage_text), .opts = (opts_array),                                    \
    .nopts = sizeof(opts_array) / sizeof((opts_array)[0]), .operands = (n),                        \
    .operands_what = (what)                                                                        \
  }
/* The same for a command without options. */
#define SPANTAP_CMDLINE_NO_OPTS(name, usage_text, n, what)                                         \
  { .cmd = (name), .usage = (usage_text), .operands = (n), .operands_what = (what) }

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
 * prints the usage to standard output (exit status 0); after an error, or when
 * the operands are not as many as CL says, prints "spantap CMD: ..." and a hint
 * to standard error (exit status 2). Returns -1 when the command goes on with
 * its operands from *FIRST, else the exit status the command ends with. */
int spantap_args_parse(const struct spantap_cmdline *cl, int argc, char **argv, int *first);

#endif
