/* The HTML report page: the template of assets/report.html with its markers
 * replaced by the styles, the recording's JSON data, d3 and the page's script,
 * written to a temporary file that is renamed over the output when complete. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reports/html/html_assets.h"
#include "reports/html/report_page.h"

/* Writes the template from *POS up to the next marker <!--SPANTAP:NAME-->
 * (or its end), and returns the marker's name in NAME ("" at the end). */
static void copy_to_marker(FILE *out, const char **pos, char *name, size_t namelen) {
  static const char open[] = "<!--SPANTAP:";
  const char *m = strstr(*pos, open);
  if (!m) {
    fputs(*pos, out);
    *pos += strlen(*pos);
    name[0] = '\0';
    return;
  }
  fwrite(*pos, 1, (size_t)(m - *pos), out);
  const char *n = m + sizeof open - 1, *end = strstr(n, "-->");
  size_t len = end ? (size_t)(end - n) : strlen(n);
  snprintf(name, namelen, "%.*s", (int)(len < namelen ? len : namelen - 1), n);
  *pos = end ? end + 3 : n + len;
}

static int write_page(FILE *out, struct sqlite3 *db, struct sqlite3 *compare,
                      const struct spantap_report_data_opts *o,
                      struct spantap_report_data_info *info, char *err, size_t errlen) {
  const char *pos = spantap_html_template;
  char name[32];
  for (;;) {
    copy_to_marker(out, &pos, name, sizeof name);
    if (!name[0])
      return 0;
    if (strcmp(name, "CSS") == 0) {
      fputs(spantap_html_css, out);
    } else if (strcmp(name, "D3") == 0) {
      fputs(spantap_html_d3, out);
    } else if (strcmp(name, "JS") == 0) {
      fputs(spantap_html_js, out);
    } else if (strcmp(name, "DATA") == 0) {
      int rc = spantap_report_data_write(db, compare, out, o, info, err, errlen);
      if (rc < 0)
        return rc;
    } else {
      snprintf(err, errlen, "Failed to fill the report's template: unknown marker=%s", name);
      return -EINVAL;
    }
  }
}

int spantap_report_page_write(const char *path, struct sqlite3 *db, struct sqlite3 *compare,
                              const struct spantap_report_data_opts *o,
                              struct spantap_report_data_info *info, char *err, size_t errlen) {
  size_t len = strlen(path) + sizeof ".tmp.XXXXXX";
  char *tmp = malloc(len);
  if (!tmp) {
    snprintf(err, errlen, "Failed to write the report: path=%s error=out of memory", path);
    return -ENOMEM;
  }
  snprintf(tmp, len, "%s.tmp.XXXXXX", path);
  int fd = mkstemp(tmp);
  if (fd < 0) {
    int e = errno;
    snprintf(err, errlen, "Failed to create the report: path=%s errno=%s", path, strerror(e));
    free(tmp);
    return -e;
  }
  FILE *out = fdopen(fd, "w");
  if (!out) {
    int e = errno;
    snprintf(err, errlen, "Failed to write the report: path=%s errno=%s", tmp, strerror(e));
    close(fd);
    unlink(tmp);
    free(tmp);
    return -e;
  }
  int rc = write_page(out, db, compare, o, info, err, errlen);
  if (rc == 0 && (fflush(out) != 0 || ferror(out) || fsync(fd) != 0)) {
    rc = -errno;
    snprintf(err, errlen, "Failed to write the report: path=%s errno=%s", tmp, strerror(errno));
  }
  if (fclose(out) != 0 && rc == 0) {
    rc = -errno;
    snprintf(err, errlen, "Failed to write the report: path=%s errno=%s", tmp, strerror(errno));
  }
  if (rc == 0 && rename(tmp, path) != 0) {
    rc = -errno;
    snprintf(err, errlen, "Failed to put the report in place: from=%s to=%s errno=%s", tmp, path,
             strerror(errno));
  }
  if (rc < 0)
    unlink(tmp);
  free(tmp);
  return rc;
}
