/* The synthetic request stream of tests/export_stream.h. */
#include "tests/export_stream.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/syscall_table.h"
#include "include/spantap/record_format.h"

#define CONNECTIONS 16
#define WORKERS 4
#define FRONT_PID 2000
#define STORE_PID 3000
#define STEP 20000000L /* a request every 20 ms */

/* Code addresses inside the services' executable mappings (see the MAP lines):
 * the call sites that take a request, call the store and answer. */
static const char *const stack_recv = "@0,401120,401800,402000";
static const char *const stack_file = "@0,401240,401900,402000";
static const char *const stack_call = "@0,401360,401a00,402000";
static const char *const stack_send = "@0,401480,401800,402000";

static void netcall(FILE *f, long ts, long dur, int pid, int tid, long nr, long ret, long sock,
                    const char *stack) {
  fprintf(f, "NC %ld %ld %d %d %ld %ld 5 0 0 %ld %s\n", ts, dur, pid, tid, nr, ret, sock, stack);
}

static void process(FILE *f, long ts, int pid, const char *exe) {
  fprintf(f, "EXEC %ld %d %d 1 1 4194304 4210688 %d 2049 %s\n", ts, pid, pid, pid, exe);
  fprintf(f, "MAP %ld %d 0 0 0 0 %s\n", ts + 1, pid, exe);
  fprintf(f, "MAP %ld %d 4194304 4210688 0 %d r-xp %s\n", ts + 1, pid, pid, exe);
  for (int w = 1; w <= WORKERS; w++)
    fprintf(f, "FORK %ld %d %d %d %d\n", ts + 2, pid, pid, pid, pid + w);
}

int export_stream_write(FILE *f, long requests) {
  long nr_read = spantap_syscall_by_name("read"), nr_write = spantap_syscall_by_name("write");
  long nr_pread = spantap_syscall_by_name("pread64");
  fprintf(f, "BEGIN %d 0 bpf\nREADY 10 1\n", SPANTAP_RECORD_FORMAT_VERSION);
  process(f, 100, FRONT_PID, "/opt/spantap-test/front");
  process(f, 200, STORE_PID, "/opt/spantap-test/store");
  for (int k = 0; k < CONNECTIONS; k++) {
    const char *fmt = "SOCK 1000 %d %ld 2 6 %d %d 0 16777343 0 16777343\n";
    fprintf(f, fmt, FRONT_PID, 0x10000L + k, 8080, 40000 + k); /* load generator -> front */
    fprintf(f, fmt, FRONT_PID, 0x20000L + k, 50000 + k, 9000); /* front -> store */
    fprintf(f, fmt, STORE_PID, 0x30000L + k, 9000, 50000 + k); /* the store's side */
  }
  for (long r = 0; r < requests; r++) {
    int k = (int)(r % CONNECTIONS), tid = FRONT_PID + 1 + k % WORKERS;
    int stid = STORE_PID + 1 + k % WORKERS;
    long t = 1000000 + r * STEP, pread = EXPORT_STREAM_PREAD_NS * (r % 10 == 0 ? 4 : 1);
    long csock = 0x10000 + k, fsock = 0x20000 + k, ssock = 0x30000 + k;
    netcall(f, t, 20000, FRONT_PID, tid, nr_read, 200, csock, stack_recv);
    fprintf(f, "SC %ld %ld %d %d %ld 4096 7 0 4096 %s\n", t + 30000, pread, FRONT_PID, tid,
            nr_pread, stack_file);
    long u = t + 30000 + pread + 10000;
    netcall(f, u, 5000, FRONT_PID, tid, nr_write, 64, fsock, stack_call);
    netcall(f, u + 20000, 3000, STORE_PID, stid, nr_read, 64, ssock, stack_recv);
    fprintf(f, "SC %ld 200000 %d %d %ld 512 5 0 512 %s\n", u + 30000, STORE_PID, stid, nr_pread,
            stack_file);
    netcall(f, u + 240000, 4000, STORE_PID, stid, nr_write, 128, ssock, stack_send);
    netcall(f, u + 10000, 250000, FRONT_PID, tid, nr_read, 128, fsock, stack_call);
    netcall(f, u + 300000, 8000, FRONT_PID, tid, nr_write, 1000, csock, stack_send);
  }
  fprintf(f, "END %ld\n", 1000000 + requests * STEP + 1000);
  return ferror(f) ? -EIO : 0;
}

int export_stream_import(const char *spantap, long requests, const char *stream_path,
                         const char *db) {
  FILE *f = fopen(stream_path, "w");
  if (!f || export_stream_write(f, requests) < 0 || fclose(f) != 0) {
    perror(stream_path);
    return -1;
  }
  fflush(NULL); /* the child must not write out the parent's buffered output */
  pid_t pid = fork();
  if (pid == 0) {
    if (!freopen("/dev/null", "w", stdout))
      _exit(126);
    execl(spantap, spantap, "import", "-f", "-o", db, stream_path, (char *)NULL);
    _exit(127);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
    fprintf(stderr, "spantap import of %s into %s failed (status %d)\n", stream_path, db, status);
    return -1;
  }
  return 0;
}
