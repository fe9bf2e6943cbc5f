/* Outputs written whole or not at all (output.h). */
#include "export/output.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

struct spantap_output {
  char path[PATH_MAX];
  char tmp[PATH_MAX + 8]; /* "" for standard output */
  int fd;
  gzFile gz;
};

int spantap_output_open(const char *path, bool gzip, struct spantap_output **out, char *err,
                        size_t errlen) {
  *out = NULL;
  struct spantap_output *o = calloc(1, sizeof *o);
  if (!o) {
    snprintf(err, errlen, "Failed to allocate the output: path=%s", path ? path : "-");
    return -ENOMEM;
  }
  o->fd = -1;
  if (!path || strcmp(path, "-") == 0) {
    snprintf(o->path, sizeof o->path, "-");
    o->fd = dup(STDOUT_FILENO);
  } else {
    if (strlen(path) >= sizeof o->path) {
      snprintf(err, errlen, "Failed to create output: path=%.64s... is too long", path);
      free(o);
      return -ENAMETOOLONG;
    }
    snprintf(o->path, sizeof o->path, "%s", path);
    snprintf(o->tmp, sizeof o->tmp, "%s.XXXXXX", path);
    o->fd = mkostemp(o->tmp, O_CLOEXEC);
    if (o->fd < 0)
      o->tmp[0] = '\0';
  }
  if (o->fd < 0) {
    int e = errno;
    snprintf(err, errlen, "Failed to create output: path=%s errno=%s", o->path, strerror(e));
    free(o);
    return -e;
  }
  if (gzip) {
    int fd = dup(o->fd); /* gzclose closes its own descriptor */
    o->gz = fd >= 0 ? gzdopen(fd, "wb") : NULL;
    if (!o->gz) {
      if (fd >= 0)
        close(fd);
      snprintf(err, errlen, "Failed to start gzip output: path=%s", o->path);
      spantap_output_destroy(o);
      return -ENOMEM;
    }
  }
  *out = o;
  return 0;
}

int spantap_output_write(void *ctx, const void *buf, size_t len, char *err, size_t errlen) {
  struct spantap_output *o = ctx;
  const char *p = buf;
  if (o->gz) {
    while (len > 0) {
      unsigned chunk = len > (1u << 30) ? 1u << 30 : (unsigned)len;
      if (gzwrite(o->gz, p, chunk) != (int)chunk) {
        int zerr;
        const char *msg = gzerror(o->gz, &zerr);
        snprintf(err, errlen, "Failed to write output: path=%s error=%s", o->path,
                 zerr == Z_ERRNO ? strerror(errno) : msg);
        return -EIO;
      }
      p += chunk;
      len -= chunk;
    }
    return 0;
  }
  while (len > 0) {
    ssize_t n = write(o->fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      int e = n < 0 ? errno : EIO;
      snprintf(err, errlen, "Failed to write output: path=%s errno=%s", o->path, strerror(e));
      return -e;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int spantap_output_commit(struct spantap_output *o, char *err, size_t errlen) {
  int rc = 0;
  if (o->gz) {
    int zrc = gzclose(o->gz);
    o->gz = NULL;
    if (zrc != Z_OK) {
      snprintf(err, errlen, "Failed to finish gzip output: path=%s error=%s", o->path,
               zrc == Z_ERRNO ? strerror(errno) : zError(zrc));
      rc = -EIO;
    }
  }
  if (rc == 0 && o->tmp[0] && fsync(o->fd) < 0) {
    int e = errno;
    snprintf(err, errlen, "Failed to write output: path=%s errno=%s", o->path, strerror(e));
    rc = -e;
  }
  if (close(o->fd) < 0 && rc == 0) {
    int e = errno;
    snprintf(err, errlen, "Failed to write output: path=%s errno=%s", o->path, strerror(e));
    rc = -e;
  }
  o->fd = -1;
  if (rc == 0 && o->tmp[0]) {
    if (rename(o->tmp, o->path) < 0) {
      int e = errno;
      snprintf(err, errlen, "Failed to rename output into place: path=%s errno=%s", o->path,
               strerror(e));
      rc = -e;
    } else {
      o->tmp[0] = '\0';
    }
  }
  spantap_output_destroy(o);
  return rc;
}

void spantap_output_destroy(struct spantap_output *o) {
  if (!o)
    return;
  if (o->gz)
    gzclose(o->gz);
  if (o->fd >= 0)
    close(o->fd);
  if (o->tmp[0])
    unlink(o->tmp);
  free(o);
}
