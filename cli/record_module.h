/* `spantap record` with SystemTap's module runtime: the stap arguments for
 * this machine, --compile-only, and starting a module (built now, served by
 * stap's cache, or given with --module) under staprun. */
#ifndef SPANTAP_CLI_RECORD_MODULE_H
#define SPANTAP_CLI_RECORD_MODULE_H

#include <stddef.h>

#include "cli/options.h"
#include "runtime/stap_launch.h"

/* Fills ARGS from index *NARGS (MAX entries in all, NULL-terminated) with
 * the module runtime's stap arguments: this machine's (patched runtime,
 * limits) and the targets' unwind tables (-d BINARY --ldd). Prints what is
 * missing, with its packages. Returns 0 or -errno (message printed). */
int spantap_record_module_args(const struct spantap_trace_options *o, const char **args,
                               size_t *nargs, size_t max);

/* --compile-only: generates the script for O, builds it into O->output
 * (NAME.ko) with STAP and ARGS. Returns a SPANTAP_EXIT_* status. */
int spantap_record_compile_only(const struct spantap_trace_options *o, const char *stap,
                                const char *const *args);

/* Starts the recording's module under staprun: O->module, or SCRIPT_PATH
 * built with STAP and ARGS (stap's cache serves a script it has built), with
 * SO's load-time values. Fills *OUT like spantap_stap_spawn. Returns 0 or
 * -errno with the reason in ERR. */
int spantap_record_module_spawn(const struct spantap_trace_options *o,
                                const struct spantap_script_opts *so, const char *stap,
                                const char *const *args, const char *script_path,
                                struct spantap_stap *out, char *err, size_t errlen);

/* After staprun ended with wait STATUS: when a signal killed it (before its
 * own cleanup) and the module the recording started is still loaded a
 * moment later, unloads it with `staprun -d` and says so on stderr. Never
 * when staprun exited: its cleanup unloads the module, and a second unload
 * at the same time could race it. A no-op when no module was started. */
void spantap_record_module_unload(int status);

#endif
