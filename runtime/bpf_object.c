/* The mark of a BPF object built ahead of time: see bpf_object.h. */
#include "runtime/bpf_object.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spantap/record_queue.h"

#define MARK_MAX 128 /* the mark line's longest form, with room */

int spantap_bpf_object_mark(const char *path, uint64_t cookie, unsigned ncpu, char *err,
                            size_t errlen) {
  char line[MARK_MAX];
  int n = snprintf(line, sizeof line, "\n%s cookie=0x%016llx ncpu=%u\n", SPANTAP_BPF_OBJECT_MARK,
                   (unsigned long long)cookie, ncpu);
  int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    snprintf(err, errlen, "Failed to open the BPF object to mark it: path=%s errno=%s", path,
             strerror(e));
    return -e;
  }
  ssize_t w = write(fd, line, (size_t)n);
  int e = w < 0 ? errno : w != n ? EIO : 0;
  if (close(fd) < 0 && !e)
    e = errno;
  if (e) {
    snprintf(err, errlen, "Failed to mark the BPF object: path=%s errno=%s", path, strerror(e));
    return -e;
  }
  return 0;
}

int spantap_bpf_object_read_mark(const char *path, uint64_t *cookie, unsigned *ncpu, char *err,
                                 size_t errlen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    snprintf(err, errlen, "Failed to open the BPF object: path=%s errno=%s", path, strerror(e));
    return -e;
  }
  struct stat st;
  char tail[MARK_MAX + 1] = "";
  ssize_t got = -1;
  if (fstat(fd, &st) == 0) {
    off_t off = st.st_size > MARK_MAX ? st.st_size - MARK_MAX : 0;
    got = pread(fd, tail, MARK_MAX, off);
  }
  int e = got < 0 ? errno : 0;
  close(fd);
  if (e) {
    snprintf(err, errlen, "Failed to read the BPF object: path=%s errno=%s", path, strerror(e));
    return -e;
  }
  tail[got > 0 && got <= MARK_MAX ? got : 0] = '\0';
  /* the object's bytes before the mark may hold NULs: search from the end */
  const char *m = NULL;
  for (ssize_t i = got - (ssize_t)strlen(SPANTAP_BPF_OBJECT_MARK); i >= 0 && !m; i--)
    if (memcmp(tail + i, SPANTAP_BPF_OBJECT_MARK, strlen(SPANTAP_BPF_OBJECT_MARK)) == 0)
      m = tail + i;
  unsigned long long c = 0;
  unsigned n = 0;
  if (!m) {
    snprintf(err, errlen,
             "%s has no spantap mark: a BPF object for --module is built by 'spantap record "
             "--compile-only --runtime bpf -o NAME.bo'",
             path);
    return -EINVAL;
  }
  if (sscanf(m, SPANTAP_BPF_OBJECT_MARK " cookie=0x%llx ncpu=%u", &c, &n) != 2 ||
      !spantap_queue_is_cookie(c) || n < 1 || n > SPANTAP_QUEUE_MAX_CPUS) {
    snprintf(err, errlen, "%s has an invalid spantap mark: '%.60s'", path, m);
    return -EINVAL;
  }
  *cookie = c;
  *ncpu = n;
  return 0;
}
