/* The saved stream (record --save-stream): every record the collector reads,
 * and the MAP and LOST records it makes itself, written once each through the
 * record writer. Every write is checked: a full disk stops the recording with
 * a message naming the file instead of leaving a silently truncated stream. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "collector/collector_impl.h"

void spantap_collector_save_name(struct spantap_collector *c) {
  if (!c->opts.save_stream)
    return;
  if (c->opts.save_stream_path) {
    snprintf(c->save_path, sizeof c->save_path, "%s", c->opts.save_stream_path);
    return;
  }
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fileno(c->opts.save_stream));
  ssize_t n = readlink(link, c->save_path, sizeof c->save_path - 1);
  if (n <= 0)
    snprintf(c->save_path, sizeof c->save_path, "descriptor %d", fileno(c->opts.save_stream));
  else
    c->save_path[n] = '\0';
}

int spantap_collector_save(struct spantap_collector *c, const struct spantap_record *r) {
  if (!c->opts.save_stream)
    return 0;
  if (c->save_errno)
    return -EIO; /* already failed: nothing after a hole */
  int rc = spantap_record_write(c->opts.save_stream, r);
  if (rc < 0) {
    c->save_errno = -rc;
    return -EIO;
  }
  return 0;
}

int spantap_collector_save_flush(struct spantap_collector *c) {
  if (!c->opts.save_stream)
    return 0;
  if (c->save_errno)
    return -EIO;
  errno = 0;
  if (fflush(c->opts.save_stream) != 0 || ferror(c->opts.save_stream)) {
    c->save_errno = errno ? errno : EIO;
    return -EIO;
  }
  return 0;
}

int spantap_collector_save_failed(struct spantap_collector *c, char *err, size_t errlen) {
  snprintf(err, errlen, "Failed to write the saved stream: path=%s error=%s", c->save_path,
           strerror(c->save_errno ? c->save_errno : EIO));
  return -EIO;
}
