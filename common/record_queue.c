/* The record queue layout (include/spantap/record_queue.h): key sizes, the
 * sizing rules and the queue set that the generator fills and the reader
 * checks against. */
#include "spantap/record_queue.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>

_Static_assert(SPANTAP_QUEUE_MAX_CPUS <= (1u << (64 - SPANTAP_QUEUE_SEQ_BITS)),
               "the CPU must fit the tag");
_Static_assert(SPANTAP_QUEUE_MAX_CPUS < SPANTAP_QUEUE_COOKIE_MIN_TOP,
               "a cookie must never be a tag");
_Static_assert(SPANTAP_QUEUE_MAX_DEPTH <= SPANTAP_MAX_FRAMES, "frames must fit a record");

/* The kernel's hash map element header (struct htab_elem) and rounding. */
#define HTAB_ELEM_OVERHEAD 48

enum spantap_queue_stack_form spantap_queue_stack_form_for(enum spantap_record_kind kind,
                                                           unsigned stack_slots) {
  const struct spantap_record_desc *d = spantap_record_desc_get(kind);
  if (!d || !d->has_stack || stack_slots == 0)
    return SPANTAP_QUEUE_STACK_NONE;
  return stack_slots == 1 ? SPANTAP_QUEUE_STACK_INLINE : SPANTAP_QUEUE_STACK_INTERNED;
}

unsigned spantap_queue_key_words(enum spantap_record_kind kind, enum spantap_queue_stack_form form,
                                 unsigned stack_slots) {
  const struct spantap_record_desc *d = spantap_record_desc_get(kind);
  if (!d)
    return 0;
  unsigned words = 1 + d->nfields;
  if (form == SPANTAP_QUEUE_STACK_INLINE)
    words += 1 + stack_slots;
  else if (form == SPANTAP_QUEUE_STACK_INTERNED)
    words += 2;
  return words;
}

unsigned spantap_queue_capacity(enum spantap_record_kind kind, unsigned scale) {
  unsigned base;
  switch (kind) {
    case SPANTAP_REC_SYSCALL:
    case SPANTAP_REC_NETCALL:
    case SPANTAP_REC_OFFCPU:
    case SPANTAP_REC_PAGEFAULT:
    case SPANTAP_REC_TCPSTATE: /* ~10 per short connection: as many as its syscalls */
      base = 65536 / SPANTAP_QUEUE_SCALE_DEFAULT;
      break;
    case SPANTAP_REC_BEGIN:
    case SPANTAP_REC_READY:
    case SPANTAP_REC_END:
      return 64; /* written once or twice per run, whatever the scale */
    default:
      base = 8192 / SPANTAP_QUEUE_SCALE_DEFAULT;
      break;
  }
  if (scale < 1)
    scale = 1;
  uint64_t c = (uint64_t)base * scale;
  return c > (1u << 24) ? (1u << 24) : (unsigned)c;
}

unsigned spantap_queue_stack_table_entries(unsigned scale) {
  uint64_t c = (uint64_t)(16384 / SPANTAP_QUEUE_SCALE_DEFAULT) * (scale < 1 ? 1 : scale);
  return c > (1u << 22) ? (1u << 22) : (unsigned)c;
}

size_t spantap_queue_memory_bytes(const struct spantap_queue_desc *q, unsigned ncpu) {
  size_t elems = (size_t)q->capacity + ncpu;
  size_t bytes = elems * ((size_t)q->key_words * 8 + 8 + HTAB_ELEM_OVERHEAD);
  if (q->has_text)
    bytes += elems * (8 + SPANTAP_QUEUE_TEXT_MAX + HTAB_ELEM_OVERHEAD);
  bytes += (size_t)(2 * ncpu + SPANTAP_QCTL__COUNT) * (8 + 8 + HTAB_ELEM_OVERHEAD);
  return bytes;
}

int spantap_queue_set_init(struct spantap_queue_set *set, uint64_t cookie, unsigned ncpu,
                           unsigned scale) {
  if (ncpu < 1 || ncpu > SPANTAP_QUEUE_MAX_CPUS || scale < 1 || !spantap_queue_is_cookie(cookie))
    return -EINVAL;
  *set = (struct spantap_queue_set){.cookie = cookie, .ncpu = ncpu, .scale = scale};
  return 0;
}

int spantap_queue_set_add(struct spantap_queue_set *set, enum spantap_record_kind kind,
                          unsigned stack_slots, bool user_space) {
  const struct spantap_record_desc *d = spantap_record_desc_get(kind);
  if (!d || !d->written_by_script || stack_slots > SPANTAP_QUEUE_MAX_DEPTH)
    return -EINVAL;
  if (set->nqueues >= SPANTAP_QUEUE_MAX_QUEUES)
    return -ENOSPC;
  struct spantap_queue_desc *q = &set->q[set->nqueues];
  q->id = set->nqueues;
  q->kind = kind;
  q->stack_form = spantap_queue_stack_form_for(kind, stack_slots);
  q->stack_slots = q->stack_form == SPANTAP_QUEUE_STACK_NONE ? 0 : stack_slots;
  q->key_words = spantap_queue_key_words(kind, q->stack_form, q->stack_slots);
  q->capacity = spantap_queue_capacity(kind, set->scale);
  q->has_text = d->has_text;
  q->user_space = user_space;
  if (q->stack_form == SPANTAP_QUEUE_STACK_INTERNED && !set->stack_table_entries)
    set->stack_table_entries = spantap_queue_stack_table_entries(set->scale);
  return (int)set->nqueues++;
}

size_t spantap_queue_set_memory_bytes(const struct spantap_queue_set *set) {
  size_t bytes = 0;
  for (unsigned i = 0; i < set->nqueues; i++)
    bytes += spantap_queue_memory_bytes(&set->q[i], set->ncpu);
  if (set->stack_table_entries) {
    size_t elems = (size_t)set->stack_table_entries + set->ncpu;
    bytes += elems * (SPANTAP_QUEUE_STACK_ROW_WORDS * 8 + 8 + HTAB_ELEM_OVERHEAD);
    bytes += elems * (8 + 8 + HTAB_ELEM_OVERHEAD);
  }
  return bytes;
}

bool spantap_queue_is_cookie(uint64_t v) {
  unsigned top = (unsigned)(v >> 48);
  return top >= SPANTAP_QUEUE_COOKIE_MIN_TOP && top < 0x8000u;
}

int spantap_queue_cookie_new(uint64_t *out) {
  uint64_t r;
  ssize_t n = getrandom(&r, sizeof r, 0);
  if (n < 0)
    return -errno;
  if ((size_t)n != sizeof r)
    return -EIO;
  /* top 16 bits in [0x4000, 0x7fff]: positive in SystemTap, never a tag */
  *out = (r & UINT64_C(0x3fffffffffffffff)) | UINT64_C(0x4000000000000000);
  return 0;
}

uint64_t spantap_queue_stack_hash(uint64_t parent,
                                  const uint64_t frames[SPANTAP_QUEUE_STACK_CHUNK]) {
  uint64_t h = parent;
  for (unsigned i = 0; i < SPANTAP_QUEUE_STACK_CHUNK; i++)
    h = (h ^ frames[i]) * SPANTAP_QUEUE_STACK_PRIME;
  return h;
}

int spantap_queue_possible_cpus(void) {
  FILE *f = fopen("/sys/devices/system/cpu/possible", "re");
  if (!f)
    return -errno;
  char buf[256];
  bool ok = fgets(buf, sizeof buf, f) != NULL;
  fclose(f);
  if (!ok)
    return -EIO;
  /* ranges and single CPUs, "0-3,5": the highest CPU + 1 */
  long most = -1;
  for (char *p = buf; *p && *p != '\n';) {
    char *end;
    long v = strtol(p, &end, 10);
    if (end == p || v < 0)
      return -EPROTO;
    most = v > most ? v : most;
    p = *end == '-' || *end == ',' ? end + 1 : end;
    if (*end != '-' && *end != ',' && *end != '\n' && *end)
      return -EPROTO;
  }
  if (most < 0 || most >= SPANTAP_QUEUE_MAX_CPUS)
    return -ERANGE;
  return (int)most + 1;
}
