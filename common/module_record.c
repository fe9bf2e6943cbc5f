/* The MOD record's text, "BUILD_ID PATH": written and read here only, so the
 * collector's lines and the parser's checks cannot disagree. */
#include "spantap/module_record.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int hex_digit(char ch) {
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  if (ch >= 'a' && ch <= 'f')
    return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F')
    return ch - 'A' + 10;
  return -1;
}

/* Checks the build id word W (N bytes), copying it in lowercase to OUT
 * ("" for "-"). Returns NULL or why it is no build id. */
static const char *take_build_id(const char *w, size_t n, char *out) {
  if (n == 1 && w[0] == SPANTAP_BUILD_ID_NONE[0]) {
    out[0] = '\0';
    return NULL;
  }
  if (n == 0)
    return "empty build id";
  if (n > SPANTAP_BUILD_ID_HEX_MAX)
    return "build id too long";
  if (n % 2)
    return "build id of an odd number of digits";
  for (size_t i = 0; i < n; i++) {
    int d = hex_digit(w[i]);
    if (d < 0)
      return "build id not hex";
    out[i] = "0123456789abcdef"[d];
  }
  out[n] = '\0';
  return NULL;
}

int spantap_module_text_parse(const char *text, size_t len, struct spantap_module_text *out,
                              const char **why) {
  const char *space = memchr(text, ' ', len);
  if (!space) {
    *why = "module record without a path";
    return -EINVAL;
  }
  const char *bad = take_build_id(text, (size_t)(space - text), out->build_id);
  if (bad) {
    *why = bad;
    return -EINVAL;
  }
  out->path = space + 1;
  out->path_len = len - (size_t)(space + 1 - text);
  if (out->path_len == 0 || out->path[0] != '/') {
    *why = "module path not absolute";
    return -EINVAL;
  }
  return 0;
}

int spantap_module_text_format(char *buf, size_t size, const char *build_id, const char *path) {
  char check[SPANTAP_BUILD_ID_HEX_MAX + 1];
  size_t n = strlen(build_id);
  if ((n && take_build_id(build_id, n, check)) || path[0] != '/')
    return -EINVAL;
  int len = snprintf(buf, size, "%s %s", n ? build_id : SPANTAP_BUILD_ID_NONE, path);
  if (len < 0 || (size_t)len >= size)
    return -ENAMETOOLONG;
  return len;
}
