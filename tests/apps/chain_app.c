/* Test application with a known call chain, for stack and lineage tests:
 * main -> chain_a -> chain_b -> chain_c -> dup()/close(). Built with frame
 * pointers, no inlining and no sibling calls so every frame is real.
 *   chain N   the chain N times          fork   a child execs "chain 3", a thread
 *   tcp N     N request/response pairs     runs "chain 1", the parent "chain 2"
 *             over loopback, in-process  loop N  N getppid() (cost benchmark)
 *   sleep MS  sleep, then the chain once
 *   touch N   map N fresh pages and write one byte to each (N write faults)
 *   seq N     N getppid() numbered: call i passes i and ~i as its first two
 *             arguments (completeness tests: every call seen exactly once)
 * CHAIN_APP_START_DELAY_MS delays the start of every mode;
 * CHAIN_APP_START_FILE=PATH then holds it until PATH exists (at most 5 min),
 * so a test can start it only once a recording is tracing. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BARRIER() __asm__ volatile("" ::: "memory")

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

__attribute__((noinline)) int chain_c(int n) {
  int fd = dup(1);
  if (fd >= 0)
    close(fd);
  BARRIER();
  return n + (fd >= 0);
}

__attribute__((noinline)) int chain_b(int n) {
  int r = chain_c(n) + 1;
  BARRIER();
  return r;
}

__attribute__((noinline)) int chain_a(int n) {
  int r = chain_b(n) + 1;
  BARRIER();
  return r;
}

__attribute__((noinline, noclone)) static int run_chain(long n) {
  int sum = 0;
  for (long i = 0; i < n; i++)
    sum += chain_a((int)i);
  return sum;
}

/* One write per page of a fresh anonymous mapping: one user write fault per
 * page (no huge pages, so no page is mapped by another's fault). */
__attribute__((noinline, noclone)) static long touch_pages(volatile char *p, long n, long page) {
  for (long i = 0; i < n; i++)
    p[i * page] = 1;
  BARRIER();
  return n;
}

static int mode_touch(long n) {
  long page = sysconf(_SC_PAGESIZE);
  if (n <= 0 || page <= 0)
    return 1;
  size_t len = (size_t)n * (size_t)page;
  char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    return 1;
  madvise(p, len, MADV_NOHUGEPAGE);
  touch_pages(p, n, page);
  printf("touch base=0x%lx pages=%ld page_size=%ld\n", (unsigned long)p, n, page);
  munmap(p, len);
  return 0;
}

static void *thread_main(void *arg) {
  (void)arg;
  run_chain(1);
  return NULL;
}

static int mode_fork(void) {
  pid_t child = fork();
  if (child < 0)
    return 1;
  if (child == 0) {
    execl("/proc/self/exe", "chain_app", "chain", "3", (char *)NULL);
    _exit(127);
  }
  int status = 0;
  if (waitpid(child, &status, 0) != child)
    return 1;
  printf("child %d exited %d\n", (int)child, WEXITSTATUS(status));
  pthread_t t;
  if (pthread_create(&t, NULL, thread_main, NULL) != 0)
    return 1;
  pthread_join(t, NULL);
  run_chain(2);
  return 0;
}

static int mode_tcp(long n) {
  int l = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  if (l < 0 || bind(l, (void *)&a, sizeof a) < 0 || listen(l, 4) < 0 ||
      getsockname(l, (void *)&a, &al) < 0)
    return 1;
  int c = socket(AF_INET, SOCK_STREAM, 0);
  if (c < 0 || connect(c, (void *)&a, sizeof a) < 0)
    return 1;
  int s = accept(l, NULL, NULL);
  if (s < 0)
    return 1;
  struct sockaddr_in ca;
  socklen_t cal = sizeof ca;
  getsockname(c, (void *)&ca, &cal);
  char req[100], resp[200], buf[256];
  memset(req, 'q', sizeof req);
  memcpy(req, "GET /", 5);
  memset(resp, 'r', sizeof resp);
  for (long i = 0; i < n; i++) {
    if (send(c, req, sizeof req, 0) != (ssize_t)sizeof req)
      return 1;
    size_t got = 0;
    while (got < sizeof req) {
      ssize_t r = recv(s, buf, sizeof req - got, 0);
      if (r <= 0)
        return 1;
      got += (size_t)r;
    }
    if (send(s, resp, sizeof resp, 0) != (ssize_t)sizeof resp)
      return 1;
    for (got = 0; got < sizeof resp;) {
      ssize_t r = recv(c, buf, sizeof resp - got, 0);
      if (r <= 0)
        return 1;
      got += (size_t)r;
    }
  }
  printf("tcp port=%d client_port=%d requests=%ld\n", ntohs(a.sin_port), ntohs(ca.sin_port), n);
  close(c);
  close(s);
  close(l);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr,
            "usage: chain_app chain N | fork | tcp N | loop N | seq N | sleep MS | touch N\n");
    return 2;
  }
  const char *mode = argv[1];
  long n = argc > 2 ? atol(argv[2]) : 1;
  const char *delay = getenv("CHAIN_APP_START_DELAY_MS");
  if (delay)
    sleep_ms(atol(delay));
  const char *start_file = getenv("CHAIN_APP_START_FILE");
  for (int waited_ms = 0; start_file && access(start_file, F_OK) != 0; waited_ms += 10) {
    if (waited_ms >= 300000) {
      fprintf(stderr, "chain_app: %s did not appear within 5 min\n", start_file);
      return 2;
    }
    sleep_ms(10);
  }
  if (strcmp(mode, "loop") == 0) {
    for (long i = 0; i < n; i++)
      getppid();
    return 0;
  }
  if (strcmp(mode, "seq") == 0) {
    for (long i = 0; i < n; i++)
      syscall(SYS_getppid, i, ~i);
    return 0;
  }
  int rc = 0;
  if (strcmp(mode, "chain") == 0) {
    run_chain(n);
    printf("chain done %ld\n", n);
  } else if (strcmp(mode, "fork") == 0) {
    rc = mode_fork();
  } else if (strcmp(mode, "tcp") == 0) {
    rc = mode_tcp(n);
  } else if (strcmp(mode, "sleep") == 0) {
    sleep_ms(n);
    run_chain(1);
  } else if (strcmp(mode, "touch") == 0) {
    rc = mode_touch(n);
  } else {
    fprintf(stderr, "chain_app: unknown mode %s\n", mode);
    return 2;
  }
  fflush(stdout);
  return rc;
}
