/* staprun launcher: loads a module built ahead of time (SystemTap's module
 * runtime) with its load-time values, its record stream on a pipe; where
 * only staprun and spantap are installed, no compiler nor stap is needed. */
#ifndef SPANTAP_STAPRUN_LAUNCH_H
#define SPANTAP_STAPRUN_LAUNCH_H

#include <stddef.h>

#include "runtime/script_gen.h"
#include "runtime/stap_launch.h"

/* Starts `STAPRUN [-b MIB] MODULE _st_self_pid=N _st_launch_pid=N
 * _st_attach_I=N...` (the values from SO: relay_mib_per_cpu when not 0,
 * self_pid, launch_pid, attach_pids) with stdout and
 * stderr on pipes, like spantap_stap_spawn: fills *OUT (close its fds, reap
 * its pid; SIGINT ends the recording in order). Returns 0, -EINVAL (more
 * --pid than a module takes), or -errno with the failing call in ERR. */
int spantap_staprun_spawn(const char *staprun, const char *module,
                          const struct spantap_script_opts *so, struct spantap_stap *out, char *err,
                          size_t errlen);

#endif
