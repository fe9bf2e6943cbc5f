/* Stap launcher: starts SystemTap on a generated script with its output on
 * pipes, and reads the runtime's own reports of lost events. */
#ifndef SPANTAP_STAP_LAUNCH_H
#define SPANTAP_STAP_LAUNCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct spantap_stap {
  pid_t pid;
  int out_fd; /* the script's records */
  int err_fd; /* stap's diagnostics */
};

/* Starts `STAP ARGS... SCRIPT_PATH` (ARGS NULL-terminated, may be NULL;
 * SCRIPT_PATH NULL: none, for other SystemTap programs such as staprun) with
 * LD_PRELOAD set to LD_PRELOAD when not NULL, stdout and stderr on pipes and
 * stdin on /dev/null. Fills *OUT (close its fds, reap its pid). Returns 0 or
 * -errno with the failing call in ERR. */
int spantap_stap_spawn(const char *stap, const char *const *args, const char *ld_preload,
                       const char *script_path, struct spantap_stap *out, char *err, size_t errlen);

/* Returns the number of events a runtime diagnostic LINE reports lost, or 0:
 * stapbpf's "WARNING: lost N perf_events on cpu C"; the module runtime's
 * "There were F transport failures (N records lost)" (stap's runtime as
 * spantap patches it: the records of the failed messages and of those left
 * unread at exit), else F; stapio's (5.1 and later) "There were N lost
 * messages and B lost bytes"; "skipped probes: N"; "lost N". */
uint64_t spantap_stap_lost_in_line(const char *line);

/* Scheduling priority (nice) of stap, stapbpf and the collector while they
 * record: above the traced processes, so that a busy application waits for
 * its tracer rather than overflow the runtime's buffers. */
#define SPANTAP_TRACER_NICE (-10)

#endif
