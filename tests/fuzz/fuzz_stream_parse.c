/* libFuzzer harness of the stream parser: the input as one line, then split
 * at newlines as the collector splits a stream. Every line is copied into a
 * buffer of its exact size, so AddressSanitizer sees any read past its end,
 * and every parsed record is checked against the contract of stream_parse.h.
 * Built by tests/fuzz/fuzz.mk (configure CC=clang --enable-fuzzing). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/stream_parse.h"
#include "tests/fuzz/fuzz_targets.h"

static void broken(const char *what, const char *line, size_t len) {
  fprintf(stderr, "fuzz_stream_parse: contract broken: %s: line(%zu bytes)=\"%.*s\"\n", what, len,
          (int)(len > 200 ? 200 : len), line);
  abort();
}

/* Parses the LEN bytes at LINE (a buffer of exactly that size) and checks the result. */
static void parse_one(const char *line, size_t len) {
  struct spantap_record r;
  const char *why = NULL;
  int rc = spantap_record_parse(line, len, &r, &why);
  if (rc == -EPROTO) {
    if (!r.desc || r.desc->kind != SPANTAP_REC_BEGIN ||
        r.v[SPANTAP_BEGIN_format_version] == SPANTAP_RECORD_FORMAT_VERSION)
      broken("-EPROTO for a record that is no BEGIN of another version", line, len);
    return;
  }
  if (rc < 0) {
    if (rc != -EINVAL)
      broken("an error other than -EINVAL or -EPROTO", line, len);
    if (!why || !why[0])
      broken("rejected without a reason", line, len);
    return;
  }
  if (rc != 0 || !r.desc)
    broken("accepted without a record description", line, len);
  size_t tag_len = strlen(r.desc->tag);
  if (len < tag_len || memcmp(line, r.desc->tag, tag_len) != 0 ||
      (len > tag_len && line[tag_len] != ' ' && line[tag_len] != '\r'))
    broken("the record kind is not the line's tag", line, len);
  if (r.nframes > SPANTAP_MAX_FRAMES)
    broken("more frames than SPANTAP_MAX_FRAMES", line, len);
  if (!r.desc->has_stack && (r.has_stack_token || r.nframes))
    broken("a stack on a record kind without one", line, len);
  for (unsigned i = 0; i < r.nframes; i++) {
    if (r.frames[i] == 0)
      broken("an empty (zero) frame kept", line, len);
    if (i > 0 && r.frame_slot[i] <= r.frame_slot[i - 1])
      broken("frame slots not increasing", line, len);
  }
  if (r.desc->has_text) {
    if (r.text < line || r.text > line + len || r.text_len > (size_t)(line + len - r.text))
      broken("text outside the line", line, len);
  } else if (r.text_len != 0) {
    broken("text on a record kind without text", line, len);
  }
}

static void parse_copy(const uint8_t *data, size_t len) {
  char *copy = malloc(len ? len : 1);
  if (!copy)
    abort();
  memcpy(copy, data, len);
  parse_one(copy, len);
  free(copy);
}

int spantap_fuzz_stream_parse(const uint8_t *data, size_t size) {
  parse_copy(data, size);
  const uint8_t *p = data, *end = data + size;
  while (p < end) {
    const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
    size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
    parse_copy(p, len);
    p += len + 1;
  }
  return 0;
}

#ifndef SPANTAP_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return spantap_fuzz_stream_parse(data, size);
}
#endif
