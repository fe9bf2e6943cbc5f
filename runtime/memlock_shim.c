/* LD_PRELOAD shim for stapbpf: stapbpf aborts when setrlimit(RLIMIT_MEMLOCK,
 * infinity) fails, which it does without CAP_SYS_RESOURCE; since Linux 5.11
 * BPF memory is charged to the memory cgroup instead, so that EPERM is
 * reported as success. Every other call passes through unchanged. */
#include <dlfcn.h>
#include <errno.h>
#include <sys/resource.h>

typedef int (*spantap_setrlimit_fn)(__rlimit_resource_t, const struct rlimit *);
typedef int (*spantap_setrlimit64_fn)(__rlimit_resource_t, const struct rlimit64 *);

/* RLIMIT_MEMLOCK refused for lack of privilege: pretend it was set. */
static int forgive(__rlimit_resource_t res, int rc) {
  if (rc < 0 && res == RLIMIT_MEMLOCK && errno == EPERM) {
    errno = 0;
    return 0;
  }
  return rc;
}

int setrlimit(__rlimit_resource_t res, const struct rlimit *lim) {
  static spantap_setrlimit_fn next;

  if (!next)
    next = (spantap_setrlimit_fn)dlsym(RTLD_NEXT, "setrlimit");
  if (!next) {
    errno = ENOSYS;
    return -1;
  }
  return forgive(res, next(res, lim));
}

int setrlimit64(__rlimit_resource_t res, const struct rlimit64 *lim) {
  static spantap_setrlimit64_fn next;

  if (!next)
    next = (spantap_setrlimit64_fn)dlsym(RTLD_NEXT, "setrlimit64");
  if (!next) {
    errno = ENOSYS;
    return -1;
  }
  return forgive(res, next(res, lim));
}
