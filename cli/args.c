/* The command-line reader every spantap command uses: getopt_long driven by a
 * command's table of options, with one strict number parser. */
#include "cli/args.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "reports/table_print.h"

/* Long-only options get values from here on, past any letter. */
#define LONG_ONLY_BASE 256

int spantap_arg_number(const char *name, const char *value, uint64_t min, uint64_t max,
                       uint64_t *out, char *err, size_t errlen) {
  char range[96];
  if (max == UINT64_MAX || max == INT64_MAX)
    snprintf(range, sizeof range, "a whole number, at least %llu", (unsigned long long)min);
  else
    snprintf(range, sizeof range, "a whole number from %llu to %llu", (unsigned long long)min,
             (unsigned long long)max);
  /* strtoull alone would take blanks, a sign and a negative number */
  bool digits = value && value[0] && strspn(value, "0123456789") == strlen(value);
  char *end = NULL;
  errno = 0;
  unsigned long long v = digits ? strtoull(value, &end, 10) : 0;
  if (!digits || errno == ERANGE || *end || v < min || v > max) {
    snprintf(err, errlen, "invalid %s '%s' (%s)", name, value ? value : "", range);
    return -EINVAL;
  }
  *out = v;
  return 0;
}

/* The name of option O as the user wrote it in ARG: "--stack-mode" or "-s". */
static void opt_name(const struct spantap_opt *o, const char *arg, char *buf, size_t len) {
  if (o->letter && arg[0] == '-' && arg[1] != '-')
    snprintf(buf, len, "-%c", o->letter);
  else
    snprintf(buf, len, "--%s", o->name);
}

/* Stores VALUE (NULL for an option without one) of O, written as ARG, where O
 * says. Returns 0 or -EINVAL with the reason in ERR. */
static int opt_take(const struct spantap_opt *o, const char *arg, const char *value, char *err,
                    size_t errlen) {
  char name[64];
  uint64_t v;
  opt_name(o, arg, name, sizeof name);
  switch (o->kind) {
    case SPANTAP_OPT_FLAG:
      *(bool *)o->dest = true;
      break;
    case SPANTAP_OPT_STRING:
      *(const char **)o->dest = value;
      break;
    case SPANTAP_OPT_UINT:
    case SPANTAP_OPT_INT64: {
      uint64_t max = o->kind == SPANTAP_OPT_UINT && o->max > UINT_MAX ? UINT_MAX : o->max;
      if (o->kind == SPANTAP_OPT_INT64 && max > INT64_MAX)
        max = INT64_MAX;
      if (spantap_arg_number(name, value, o->min, max, &v, err, errlen) < 0)
        return -EINVAL;
      if (o->kind == SPANTAP_OPT_UINT)
        *(unsigned *)o->dest = (unsigned)v;
      else
        *(int64_t *)o->dest = (int64_t)v;
      break;
    }
    case SPANTAP_OPT_CSV:
      *(enum spantap_table_format *)o->dest = SPANTAP_TABLE_CSV;
      break;
    case SPANTAP_OPT_JSON:
      *(enum spantap_table_format *)o->dest = SPANTAP_TABLE_JSON;
      break;
    case SPANTAP_OPT_CALL:
      if (o->call(o->dest, value, err, errlen) < 0)
        return -EINVAL;
      break;
  }
  if (o->given)
    *o->given = true;
  return 0;
}

static bool takes_value(const struct spantap_opt *o) {
  return o->kind == SPANTAP_OPT_STRING || o->kind == SPANTAP_OPT_UINT ||
         o->kind == SPANTAP_OPT_INT64 || o->kind == SPANTAP_OPT_CALL;
}

/* Builds getopt_long's tables for CL: LONGOPTS (NOPTS + 2 entries) and SHORTS. */
static int build_getopt(const struct spantap_cmdline *cl, struct option *longopts, char *shorts,
                        size_t shorts_len, char *err, size_t errlen) {
  if (cl->nopts > SPANTAP_MAX_OPTS) {
    snprintf(err, errlen, "too many options: command=%s options=%zu (at most %d)", cl->cmd,
             cl->nopts, SPANTAP_MAX_OPTS);
    return -EINVAL;
  }
  size_t n = 0;
  /* '+': stop at the first operand; ':': report a missing value apart */
  n += (size_t)snprintf(shorts, shorts_len, "%s:h", cl->in_order ? "+" : "");
  for (size_t i = 0; i < cl->nopts; i++) {
    const struct spantap_opt *o = &cl->opts[i];
    longopts[i] = (struct option){o->name, takes_value(o) ? required_argument : no_argument, NULL,
                                  o->letter ? o->letter : LONG_ONLY_BASE + (int)i};
    if (o->letter && n + 3 < shorts_len) {
      shorts[n++] = o->letter;
      if (takes_value(o))
        shorts[n++] = ':';
      shorts[n] = '\0';
    }
  }
  longopts[cl->nopts] = (struct option){"help", no_argument, NULL, 'h'};
  longopts[cl->nopts + 1] = (struct option){0, 0, 0, 0};
  return 0;
}

/* The entry of CL that getopt_long's value C stands for, or NULL. */
static const struct spantap_opt *find_opt(const struct spantap_cmdline *cl, int c) {
  if (c >= LONG_ONLY_BASE && (size_t)(c - LONG_ONLY_BASE) < cl->nopts)
    return &cl->opts[c - LONG_ONLY_BASE];
  for (size_t i = 0; i < cl->nopts; i++)
    if (cl->opts[i].letter && cl->opts[i].letter == c)
      return &cl->opts[i];
  return NULL;
}

int spantap_args_read(const struct spantap_cmdline *cl, int argc, char **argv, int *first,
                      char *err, size_t errlen) {
  struct option longopts[SPANTAP_MAX_OPTS + 2];
  char shorts[3 * SPANTAP_MAX_OPTS + 8];
  if (build_getopt(cl, longopts, shorts, sizeof shorts, err, errlen) < 0)
    return -EINVAL;
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, shorts, longopts, NULL)) != -1) {
    /* the option as written: the element before a separate value */
    const char *arg =
        optarg && optind >= 2 && optarg == argv[optind - 1] ? argv[optind - 2] : argv[optind - 1];
    if (c == 'h')
      return 1;
    if (c == ':') {
      snprintf(err, errlen, "option '%s' needs a value", arg);
      return -EINVAL;
    }
    const struct spantap_opt *o = c == '?' ? NULL : find_opt(cl, c);
    const struct spantap_opt *flag = c == '?' && optopt ? find_opt(cl, optopt) : NULL;
    if (flag && strncmp(arg, "--", 2) == 0) { /* "--csv=yes" */
      snprintf(err, errlen, "option '--%s' takes no value", flag->name);
      return -EINVAL;
    }
    if (!o) {
      if (optopt && optopt < LONG_ONLY_BASE && arg[0] == '-' && arg[1] != '-')
        snprintf(err, errlen, "unknown option '-%c'", optopt);
      else
        snprintf(err, errlen, "unknown option '%s'", arg);
      return -EINVAL;
    }
    if (opt_take(o, arg, optarg, err, errlen) < 0)
      return -EINVAL;
  }
  *first = optind;
  return 0;
}

int spantap_args_parse(const struct spantap_cmdline *cl, int argc, char **argv, int *first) {
  char err[512];
  int rc = spantap_args_read(cl, argc, argv, first, err, sizeof err);
  if (rc > 0) {
    fputs(cl->usage, stdout);
    return SPANTAP_EXIT_OK;
  }
  if (rc == 0 && (cl->operands < 0 || argc - *first == cl->operands))
    return -1;
  fprintf(stderr, "spantap %s: %s\nTry 'spantap %s --help'.\n", cl->cmd,
          rc < 0 ? err : cl->operands_what, cl->cmd);
  return SPANTAP_EXIT_USAGE;
}
