/* Deterministic, salted trace and span ids. A span id is a bijective 64-bit
 * mix of (salt, kind, id), so two rows of one recording never share an id;
 * the salt makes ids of different recordings unrelated. */
#include "export/ids.h"

/* A bijective 64-bit finalizer (xor-shift and odd multipliers). */
static uint64_t mix64(uint64_t x) {
  x ^= x >> 31;
  x *= 0x7fb5d329728ea185ULL;
  x ^= x >> 27;
  x *= 0x81dadef4bc2dd44dULL;
  x ^= x >> 33;
  return x;
}

void spantap_export_salt_init(struct spantap_export_salt *s) {
  s->k0 = 0x73706e74617073ULL; /* "spantaps" */
  s->k1 = 0x6578706f7274ULL;   /* "export" */
}

static void salt_byte(struct spantap_export_salt *s, unsigned char c) {
  /* two FNV-1a streams with different offsets, finalized when used */
  s->k0 = (s->k0 ^ c) * 0x100000001b3ULL;
  s->k1 = (s->k1 ^ c) * 0x100000001b3ULL + 0x9e3779b97f4a7c15ULL;
}

void spantap_export_salt_add(struct spantap_export_salt *s, const char *key, const char *value) {
  for (const char *p = key; *p; p++)
    salt_byte(s, (unsigned char)*p);
  salt_byte(s, '=');
  for (const char *p = value ? value : ""; *p; p++)
    salt_byte(s, (unsigned char)*p);
  salt_byte(s, value ? '\n' : '\0');
}

static void put64(uint64_t v, uint8_t *out) {
  for (int i = 0; i < 8; i++)
    out[i] = (uint8_t)(v >> (56 - 8 * i));
}

void spantap_export_trace_id(const struct spantap_export_salt *s, int64_t trace_id,
                             uint8_t out[16]) {
  uint64_t hi = mix64(mix64(s->k0) ^ (uint64_t)trace_id);
  uint64_t lo = mix64(mix64(s->k1) ^ (uint64_t)trace_id);
  if (!hi && !lo)
    lo = 1;
  put64(hi, out);
  put64(lo, out + 8);
}

void spantap_export_span_id(const struct spantap_export_salt *s, enum spantap_export_id_kind kind,
                            int64_t id, uint8_t out[8]) {
  uint64_t x = mix64(s->k0 ^ s->k1) ^ ((uint64_t)kind << 56 | ((uint64_t)id & 0xffffffffffffffULL));
  uint64_t v = mix64(x);
  put64(v ? v : 1, out);
}

void spantap_export_id_hex(const uint8_t *id, size_t len, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < len; i++) {
    out[2 * i] = digits[id[i] >> 4];
    out[2 * i + 1] = digits[id[i] & 15];
  }
  out[2 * len] = '\0';
}
