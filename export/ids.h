/* Trace and span ids of exported spans: derived from the recording's own ids
 * and a salt taken from the recording's metadata, so that a second export of
 * the same recording gives the same ids and two recordings do not collide. */
#ifndef SPANTAP_EXPORT_IDS_H
#define SPANTAP_EXPORT_IDS_H

#include <stddef.h>
#include <stdint.h>

struct spantap_export_salt {
  uint64_t k0, k1;
};

/* What an exported 8-byte span id stands for; ids of different kinds never
 * collide within one recording. */
enum spantap_export_id_kind {
  SPANTAP_EXPORT_ID_SPAN = 1,    /* spans.id */
  SPANTAP_EXPORT_ID_SYSCALL = 2, /* syscalls.id, a span's syscall as its child span */
};

/* Starts a salt; add each piece of metadata with spantap_export_salt_add. */
void spantap_export_salt_init(struct spantap_export_salt *s);

/* Mixes KEY=VALUE (VALUE may be NULL) into the salt S. */
void spantap_export_salt_add(struct spantap_export_salt *s, const char *key, const char *value);

/* The 16-byte trace id of the recording's trace TRACE_ID (never all zero). */
void spantap_export_trace_id(const struct spantap_export_salt *s, int64_t trace_id,
                             uint8_t out[16]);

/* The 8-byte span id of the recording's row ID of kind KIND (never all zero);
 * distinct (kind, id) pairs with 0 <= id < 2^56 give distinct ids. */
void spantap_export_span_id(const struct spantap_export_salt *s, enum spantap_export_id_kind kind,
                            int64_t id, uint8_t out[8]);

/* Writes the LEN bytes of ID as lowercase hex into OUT (2 * LEN + 1 bytes). */
void spantap_export_id_hex(const uint8_t *id, size_t len, char *out);

#endif
