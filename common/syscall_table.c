/* x86_64 syscall table: names come from the kernel UAPI header (generated
 * syscall_names.inc), classes and fd roles are spantap's own choice. */
#include "common/syscall_table.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

static const char *const names[SPANTAP_SYSCALL_MAX] = {
#include "common/syscall_names.inc"
};

struct class_rule {
  const char *name;
  unsigned classes;
  bool fd_arg0, fd_ret, net_if_sock;
};

/* Syscalls with a class or an fd role. Names absent here are OTHER. */
static const struct class_rule rules[] = {
    /* sockets */
    {"socket", SPANTAP_CLASS_NET, false, true, false},
    {"socketpair", SPANTAP_CLASS_NET, false, false, false},
    {"bind", SPANTAP_CLASS_NET, true, false, false},
    {"listen", SPANTAP_CLASS_NET, true, false, false},
    {"connect", SPANTAP_CLASS_NET, true, false, false},
    {"accept", SPANTAP_CLASS_NET, false, true, false},
    {"accept4", SPANTAP_CLASS_NET, false, true, false},
    {"sendto", SPANTAP_CLASS_NET, true, false, false},
    {"recvfrom", SPANTAP_CLASS_NET, true, false, false},
    {"sendmsg", SPANTAP_CLASS_NET, true, false, false},
    {"recvmsg", SPANTAP_CLASS_NET, true, false, false},
    {"sendmmsg", SPANTAP_CLASS_NET, true, false, false},
    {"recvmmsg", SPANTAP_CLASS_NET, true, false, false},
    {"shutdown", SPANTAP_CLASS_NET, true, false, false},
    {"getsockname", SPANTAP_CLASS_NET, true, false, false},
    {"getpeername", SPANTAP_CLASS_NET, true, false, false},
    {"setsockopt", SPANTAP_CLASS_NET, true, false, false},
    {"getsockopt", SPANTAP_CLASS_NET, true, false, false},
    /* readiness waits: how event-loop servers block */
    {"poll", SPANTAP_CLASS_NET, false, false, false},
    {"ppoll", SPANTAP_CLASS_NET, false, false, false},
    {"select", SPANTAP_CLASS_NET, false, false, false},
    {"pselect6", SPANTAP_CLASS_NET, false, false, false},
    {"epoll_wait", SPANTAP_CLASS_NET, false, false, false},
    {"epoll_pwait", SPANTAP_CLASS_NET, false, false, false},
    {"epoll_pwait2", SPANTAP_CLASS_NET, false, false, false},
    {"epoll_ctl", SPANTAP_CLASS_NET, false, false, false},
    {"epoll_create1", SPANTAP_CLASS_NET, false, true, false},
    /* fd I/O: file class always, net class when the fd is a socket */
    {"read", SPANTAP_CLASS_FILE | SPANTAP_CLASS_NET, true, false, true},
    {"write", SPANTAP_CLASS_FILE | SPANTAP_CLASS_NET, true, false, true},
    {"readv", SPANTAP_CLASS_FILE | SPANTAP_CLASS_NET, true, false, true},
    {"writev", SPANTAP_CLASS_FILE | SPANTAP_CLASS_NET, true, false, true},
    {"close", SPANTAP_CLASS_FILE | SPANTAP_CLASS_NET, true, false, true},
    {"sendfile", SPANTAP_CLASS_FILE | SPANTAP_CLASS_NET, true, false, true},
    {"splice", SPANTAP_CLASS_FILE | SPANTAP_CLASS_NET, true, false, true},
    {"pread64", SPANTAP_CLASS_FILE, true, false, false},
    {"pwrite64", SPANTAP_CLASS_FILE, true, false, false},
    {"preadv", SPANTAP_CLASS_FILE, true, false, false},
    {"pwritev", SPANTAP_CLASS_FILE, true, false, false},
    {"preadv2", SPANTAP_CLASS_FILE, true, false, false},
    {"pwritev2", SPANTAP_CLASS_FILE, true, false, false},
    {"open", SPANTAP_CLASS_FILE, false, true, false},
    {"openat", SPANTAP_CLASS_FILE, false, true, false},
    {"openat2", SPANTAP_CLASS_FILE, false, true, false},
    {"creat", SPANTAP_CLASS_FILE, false, true, false},
    {"dup", SPANTAP_CLASS_FILE, true, true, false},
    {"dup2", SPANTAP_CLASS_FILE, true, false, false},
    {"dup3", SPANTAP_CLASS_FILE, true, false, false},
    {"fcntl", SPANTAP_CLASS_FILE, true, false, false},
    {"ioctl", SPANTAP_CLASS_FILE, true, false, false},
    {"lseek", SPANTAP_CLASS_FILE, true, false, false},
    {"fsync", SPANTAP_CLASS_FILE, true, false, false},
    {"fdatasync", SPANTAP_CLASS_FILE, true, false, false},
    {"sync_file_range", SPANTAP_CLASS_FILE, true, false, false},
    {"ftruncate", SPANTAP_CLASS_FILE, true, false, false},
    {"fallocate", SPANTAP_CLASS_FILE, true, false, false},
    {"fstat", SPANTAP_CLASS_FILE, true, false, false},
    {"newfstatat", SPANTAP_CLASS_FILE, false, false, false},
    {"statx", SPANTAP_CLASS_FILE, false, false, false},
    {"stat", SPANTAP_CLASS_FILE, false, false, false},
    {"lstat", SPANTAP_CLASS_FILE, false, false, false},
    {"access", SPANTAP_CLASS_FILE, false, false, false},
    {"faccessat", SPANTAP_CLASS_FILE, false, false, false},
    {"faccessat2", SPANTAP_CLASS_FILE, false, false, false},
    {"getdents64", SPANTAP_CLASS_FILE, true, false, false},
    {"unlink", SPANTAP_CLASS_FILE, false, false, false},
    {"unlinkat", SPANTAP_CLASS_FILE, false, false, false},
    {"rename", SPANTAP_CLASS_FILE, false, false, false},
    {"renameat", SPANTAP_CLASS_FILE, false, false, false},
    {"renameat2", SPANTAP_CLASS_FILE, false, false, false},
    {"mkdir", SPANTAP_CLASS_FILE, false, false, false},
    {"mkdirat", SPANTAP_CLASS_FILE, false, false, false},
    {"readlink", SPANTAP_CLASS_FILE, false, false, false},
    {"readlinkat", SPANTAP_CLASS_FILE, false, false, false},
    {"pipe", SPANTAP_CLASS_FILE, false, false, false},
    {"pipe2", SPANTAP_CLASS_FILE, false, false, false},
    {"io_uring_enter", SPANTAP_CLASS_FILE, true, false, false},
    /* memory */
    {"mmap", SPANTAP_CLASS_MEM, false, false, false},
    {"munmap", SPANTAP_CLASS_MEM, false, false, false},
    {"mprotect", SPANTAP_CLASS_MEM, false, false, false},
    {"mremap", SPANTAP_CLASS_MEM, false, false, false},
    {"madvise", SPANTAP_CLASS_MEM, false, false, false},
    {"brk", SPANTAP_CLASS_MEM, false, false, false},
    {"msync", SPANTAP_CLASS_MEM, false, false, false},
    {"mlock", SPANTAP_CLASS_MEM, false, false, false},
    {"munlock", SPANTAP_CLASS_MEM, false, false, false},
    {"mincore", SPANTAP_CLASS_MEM, false, false, false},
    /* processes and threads */
    {"clone", SPANTAP_CLASS_PROC, false, false, false},
    {"clone3", SPANTAP_CLASS_PROC, false, false, false},
    {"fork", SPANTAP_CLASS_PROC, false, false, false},
    {"vfork", SPANTAP_CLASS_PROC, false, false, false},
    {"execve", SPANTAP_CLASS_PROC, false, false, false},
    {"execveat", SPANTAP_CLASS_PROC, false, false, false},
    {"wait4", SPANTAP_CLASS_PROC, false, false, false},
    {"waitid", SPANTAP_CLASS_PROC, false, false, false},
    {"kill", SPANTAP_CLASS_PROC, false, false, false},
    {"tgkill", SPANTAP_CLASS_PROC, false, false, false},
    {"tkill", SPANTAP_CLASS_PROC, false, false, false},
    {"exit", SPANTAP_CLASS_PROC, false, false, false},
    {"exit_group", SPANTAP_CLASS_PROC, false, false, false},
    {"futex", SPANTAP_CLASS_PROC, false, false, false},
    {"nanosleep", SPANTAP_CLASS_PROC, false, false, false},
    {"clock_nanosleep", SPANTAP_CLASS_PROC, false, false, false},
    {"sched_yield", SPANTAP_CLASS_PROC, false, false, false},
    {"prctl", SPANTAP_CLASS_PROC, false, false, false},
    {"setsid", SPANTAP_CLASS_PROC, false, false, false},
};

static void lookup(long nr, struct spantap_syscall_info *info) {
  info->name = names[nr];
  info->classes = SPANTAP_CLASS_OTHER;
  info->fd_arg0 = info->fd_ret = info->net_if_sock = false;
  if (!info->name)
    return;
  for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
    if (strcmp(rules[i].name, info->name) == 0) {
      info->classes = rules[i].classes;
      info->fd_arg0 = rules[i].fd_arg0;
      info->fd_ret = rules[i].fd_ret;
      info->net_if_sock = rules[i].net_if_sock;
      break;
    }
  }
}

/* The collector asks for every stored syscall: answer from a table built
 * once rather than by scanning the rules each time. */
static struct spantap_syscall_info table[SPANTAP_SYSCALL_MAX];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void build_table(void) {
  for (long nr = 0; nr < SPANTAP_SYSCALL_MAX; nr++)
    lookup(nr, &table[nr]);
}

int spantap_syscall_info(long nr, struct spantap_syscall_info *info) {
  if (nr < 0 || nr >= SPANTAP_SYSCALL_MAX)
    return -EINVAL;
  pthread_once(&table_once, build_table);
  *info = table[nr];
  return 0;
}

long spantap_syscall_by_name(const char *name) {
  for (long nr = 0; nr < SPANTAP_SYSCALL_MAX; nr++)
    if (names[nr] && strcmp(names[nr], name) == 0)
      return nr;
  return -1;
}
