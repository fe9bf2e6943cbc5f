/* staprun launcher: the module's load-time globals as staprun arguments, then
 * the same fork/exec with pipes as stap's launcher. */
#include "runtime/staprun_launch.h"

#include <errno.h>
#include <stdio.h>

int spantap_staprun_spawn(const char *staprun, const char *module,
                          const struct spantap_script_opts *so, struct spantap_stap *out, char *err,
                          size_t errlen) {
  if (so->nattach > SPANTAP_KPARAM_ATTACH_SLOTS) {
    snprintf(err, errlen, "too many --pid for a module: %zu (at most %d)", so->nattach,
             SPANTAP_KPARAM_ATTACH_SLOTS);
    return -EINVAL;
  }
  char params[3 + SPANTAP_KPARAM_ATTACH_SLOTS][64];
  const char *args[6 + SPANTAP_KPARAM_ATTACH_SLOTS];
  size_t n = 0, np = 0;
  if (so->relay_mib_per_cpu) { /* each CPU's relay buffer, in MiB */
    snprintf(params[np], sizeof params[np], "%u", so->relay_mib_per_cpu);
    args[n++] = "-b";
    args[n++] = params[np++];
  }
  args[n++] = module;
  snprintf(params[np], sizeof params[np], "%s=%ld", SPANTAP_KPARAM_SELF_PID, (long)so->self_pid);
  args[n++] = params[np++];
  snprintf(params[np], sizeof params[np], "%s=%ld", SPANTAP_KPARAM_LAUNCH_PID,
           so->launch_pid > 0 ? (long)so->launch_pid : -1L);
  args[n++] = params[np++];
  for (size_t i = 0; i < so->nattach; i++) {
    snprintf(params[np], sizeof params[np], "%s%zu=%ld", SPANTAP_KPARAM_ATTACH_PREFIX, i,
             (long)so->attach_pids[i]);
    args[n++] = params[np++];
  }
  args[n] = NULL;
  /* spantap_stap_spawn appends its last argument: here, nothing */
  return spantap_stap_spawn(staprun, args, NULL, NULL, out, err, errlen);
}
