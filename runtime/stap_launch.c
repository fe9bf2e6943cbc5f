/* Stap launcher: fork/exec of stap with pipes, and the parsing of the loss
 * reports that the runtimes print on standard error. */
#include "runtime/stap_launch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

int spantap_stap_spawn(const char *stap, const char *const *args, const char *ld_preload,
                       const char *script_path, struct spantap_stap *out, char *err,
                       size_t errlen) {
  int outp[2], errp[2];
  if (pipe2(outp, O_CLOEXEC) < 0) {
    snprintf(err, errlen, "Failed to create pipe: errno=%s", strerror(errno));
    return -errno;
  }
  if (pipe2(errp, O_CLOEXEC) < 0) {
    int e = errno;
    close(outp[0]);
    close(outp[1]);
    snprintf(err, errlen, "Failed to create pipe: errno=%s", strerror(e));
    return -e;
  }
  const char *argv[64];
  size_t n = 0;
  argv[n++] = stap;
  for (size_t i = 0; args && args[i] && n < 62; i++)
    argv[n++] = args[i];
  if (script_path)
    argv[n++] = script_path;
  argv[n] = NULL;
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    snprintf(err, errlen, "Failed to fork for stap: errno=%s", strerror(e));
    close(outp[0]);
    close(outp[1]);
    close(errp[0]);
    close(errp[1]);
    return -e;
  }
  if (pid == 0) {
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0)
      dup2(devnull, 0);
    dup2(outp[1], 1);
    dup2(errp[1], 2);
    setpgid(0, 0); /* Ctrl-C goes to spantap, which stops stap in order */
    /* stapbpf's reader must keep pace with the traced threads, or its buffers
     * overflow and it may abort: under load the traced side waits instead */
    setpriority(PRIO_PROCESS, 0, SPANTAP_TRACER_NICE);
    if (ld_preload)
      setenv("LD_PRELOAD", ld_preload, 1);
    execvp(stap, (char *const *)argv);
    dprintf(2, "spantap: Failed to run stap: path=%s errno=%s\n", stap, strerror(errno));
    _exit(127);
  }
  close(outp[1]);
  close(errp[1]);
  out->pid = pid;
  out->out_fd = outp[0];
  out->err_fd = errp[0];
  return 0;
}

/* The number written just before P in LINE (as in "There were 12 transport
 * failures"), or 0. */
static uint64_t number_before(const char *line, const char *p) {
  unsigned long long n = 0;
  while (p > line && p[-1] == ' ')
    p--;
  while (p > line && p[-1] >= '0' && p[-1] <= '9')
    p--;
  return sscanf(p, "%llu", &n) == 1 ? n : 0;
}

uint64_t spantap_stap_lost_in_line(const char *line) {
  unsigned long long n = 0;
  const char *p;
  /* the module runtime patched by spantap counts the records in the
   * messages it could not send or that were left unread */
  if ((p = strstr(line, " records lost)")))
    return number_before(line, p);
  if ((p = strstr(line, " transport failures")))
    return number_before(line, p);
  /* stapio 5.1 and later: messages missing from its sequence */
  if ((p = strstr(line, " lost messages")))
    return number_before(line, p);
  if ((p = strstr(line, "lost ")) && sscanf(p, "lost %llu", &n) == 1)
    return n;
  if ((p = strstr(line, "skipped probes: ")) && sscanf(p, "skipped probes: %llu", &n) == 1)
    return n;
  return 0;
}
