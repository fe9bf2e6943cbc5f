/* x86_64 syscall numbers, names and spantap's event classes. The generator
 * uses it to choose which syscalls a script records; the collector uses it to
 * name the syscalls it stores. */
#ifndef SPANTAP_SYSCALL_TABLE_H
#define SPANTAP_SYSCALL_TABLE_H

#include <stdbool.h>

#define SPANTAP_SYSCALL_MAX 1024 /* numbers at or above this are never recorded */

/* Event classes a user selects with --events (bit set). */
enum spantap_event_class {
  SPANTAP_CLASS_NET = 1u << 0,  /* socket syscalls, and read/write/... on sockets */
  SPANTAP_CLASS_FILE = 1u << 1, /* file syscalls (read/write/... on non-sockets too) */
  SPANTAP_CLASS_MEM = 1u << 2,  /* mmap, brk, madvise, ... */
  SPANTAP_CLASS_PROC = 1u << 3, /* clone, execve, wait, kill, exit, ... */
  SPANTAP_CLASS_OTHER = 1u << 4 /* everything else (only with 'all') */
};

/* How a syscall relates to file descriptors, for socket resolution. */
struct spantap_syscall_info {
  const char *name; /* NULL for numbers this table has no name for */
  unsigned classes; /* enum spantap_event_class bits */
  bool fd_arg0;     /* arg0 is a file descriptor */
  bool fd_ret;      /* the return value is a new file descriptor */
  bool net_if_sock; /* in class NET only when its fd is a socket */
};

/* Fills INFO for syscall NR. Returns 0, or -EINVAL when NR is out of range. */
int spantap_syscall_info(long nr, struct spantap_syscall_info *info);

/* Returns the number of the syscall named NAME, or -1. */
long spantap_syscall_by_name(const char *name);

#endif
