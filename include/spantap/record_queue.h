/* spantap record queues: the binary form of the records that SystemTap's BPF
 * runtime hands to the collector through BPF maps instead of printf. It is
 * derived from the record table in spantap/record_format.h (no record is
 * defined twice): the generator writes records with it and the collector
 * reads them with it. docs/bpf-transport.md explains the design and figures.
 *
 * One queue per probe and record kind ("per probe that writes": probes nest,
 * e.g. a softirq tracepoint interrupting sys_exit, but a probe never nests in
 * itself, so a counter owned by one probe needs no atomics). A queue is:
 *
 *   _stq<Q>[capacity]   HASH, key = KEY_WORDS u64, value u64 (1; 0 = marker).
 *                       The key is the record:
 *                         word 0       tag = cpu << 48 | n (n: this probe's
 *                                      record number on that CPU)
 *                         words 1..F   the record's integer fields, in table order
 *                         then         stack: INLINE   flags, frame 0..S-1
 *                                             INTERNED flags, stack id
 *                       Marker (begin): {cookie, Q, 0, ...} = 0.
 *   _stq<Q>c[ncpu + SPANTAP_QCTL__COUNT]
 *                       HASH, key u64, value u64: [cpu] = records made on
 *                       that CPU (written after the record); control slots
 *                       at keys SPANTAP_QUEUE_CTL_KEY(slot), VERSION last.
 *   _stq<Q>t[capacity]  only for kinds with text: HASH, key = tag, value = a
 *                       SystemTap string (SPANTAP_QUEUE_TEXT_MAX bytes),
 *                       written before the record. Marker key: cookie + Q.
 *
 * Interned stacks (one table per recording, shared by the queues' probes;
 * each update is a whole element, written before the record that uses it):
 *   _stqstk[entries]    HASH, key = {id, parent id, frame 0..CHUNK-1}, value 1:
 *                       a chunk of SPANTAP_QUEUE_STACK_CHUNK frames, innermost
 *                       first; a stack deeper than a chunk chains through
 *                       parent (the chunk nearer the innermost frame).
 *                       Marker: {cookie, ~0, 0, ...} = 0.
 *   _stqsid[entries]    HASH id -> 1: ids already written (kernel only).
 *   id = spantap_queue_stack_hash(parent, frames); 0 means no frames.
 *
 * Maps have no names: the reader finds a recording's counter maps by shape
 * (HASH, key 8, value 8, max_entries ncpu + SPANTAP_QCTL__COUNT) and the
 * cookie slot, then every other map by the shape the control slots give and
 * its marker. A cookie always has a top 16-bit value of at least 0x4000, so it
 * is never a tag (cpu < SPANTAP_QUEUE_MAX_CPUS). */
#ifndef SPANTAP_RECORD_QUEUE_H
#define SPANTAP_RECORD_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spantap/record_format.h"

/* Bumped whenever a map's key, value or control slots change. */
#define SPANTAP_QUEUE_LAYOUT_VERSION 1

#define SPANTAP_QUEUE_SEQ_BITS 48
#define SPANTAP_QUEUE_SEQ_MASK ((UINT64_C(1) << SPANTAP_QUEUE_SEQ_BITS) - 1)
#define SPANTAP_QUEUE_TAG(cpu, n) (((uint64_t)(cpu) << SPANTAP_QUEUE_SEQ_BITS) | (uint64_t)(n))
#define SPANTAP_QUEUE_TAG_CPU(tag) ((unsigned)((tag) >> SPANTAP_QUEUE_SEQ_BITS))
#define SPANTAP_QUEUE_TAG_SEQ(tag) ((tag)&SPANTAP_QUEUE_SEQ_MASK)
#define SPANTAP_QUEUE_MAX_CPUS 4096
#define SPANTAP_QUEUE_COOKIE_MIN_TOP 0x4000u /* a cookie's top 16 bits are >= this */
#define SPANTAP_QUEUE_MAX_QUEUES 64
#define SPANTAP_QUEUE_STACK_CHUNK 8
#define SPANTAP_QUEUE_STACK_ROW_WORDS (2 + SPANTAP_QUEUE_STACK_CHUNK)
#define SPANTAP_QUEUE_STACK_PRIME UINT64_C(1099511628211) /* FNV-1a's 64-bit prime */
/* SystemTap's BPF runtime stores a string value in 64 bytes (NUL included). */
#define SPANTAP_QUEUE_TEXT_MAX 64
/* Deepest stack a queue record can carry: 1 frame inline (stack mode 1), or
 * the interned chunks (all frames a record of the text form carries). */
#define SPANTAP_QUEUE_MAX_DEPTH 32
#define SPANTAP_QUEUE_MAX_KEY_WORDS (1 + SPANTAP_MAX_FIELDS + 2)

/* Control slots of a counter map, at key SPANTAP_QUEUE_CTL_KEY(slot). */
enum spantap_queue_ctl {
  SPANTAP_QCTL_QUEUE,       /* this queue's id Q */
  SPANTAP_QCTL_KIND,        /* enum spantap_record_kind */
  SPANTAP_QCTL_KEY_WORDS,   /* u64 words of the queue's key */
  SPANTAP_QCTL_STACK_FORM,  /* enum spantap_queue_stack_form */
  SPANTAP_QCTL_STACK_SLOTS, /* frames a record carries (0 without stack) */
  SPANTAP_QCTL_NCPU,        /* CPUs the script was generated for */
  SPANTAP_QCTL_CAPACITY,    /* max_entries of _stq<Q> and _stq<Q>t */
  SPANTAP_QCTL_NQUEUES,     /* queues in the recording */
  SPANTAP_QCTL_STACK_TABLE, /* max_entries of _stqstk (0: no interned stacks) */
  SPANTAP_QCTL_COOKIE,      /* the recording's cookie */
  SPANTAP_QCTL_VERSION,     /* SPANTAP_QUEUE_LAYOUT_VERSION, written last: ready */
  SPANTAP_QCTL__COUNT
};
/* Control slot keys are negative, so they never meet a CPU number. */
#define SPANTAP_QUEUE_CTL_KEY(slot) ((uint64_t)(-(int64_t)(slot)-1))

enum spantap_queue_stack_form {
  SPANTAP_QUEUE_STACK_NONE,     /* the kind has no stack, or stacks are off */
  SPANTAP_QUEUE_STACK_INLINE,   /* flags and the frames in the key (1 frame) */
  SPANTAP_QUEUE_STACK_INTERNED, /* flags and a stack id; frames in _stqstk */
};

/* One queue: a record kind written by one probe. */
struct spantap_queue_desc {
  unsigned id;
  enum spantap_record_kind kind;
  enum spantap_queue_stack_form stack_form;
  unsigned stack_slots; /* frames per record (0 with SPANTAP_QUEUE_STACK_NONE) */
  unsigned key_words;
  unsigned capacity; /* max_entries of the queue (and of its text array) */
  bool has_text;
  bool user_space; /* written by a begin/end probe (stapbpf's interpreter): cpu 0 */
};

/* The queues of one recording, in the order the generator created them. */
struct spantap_queue_set {
  uint64_t cookie;
  unsigned ncpu;
  unsigned scale; /* capacity multiplier, 1 = default (see spantap_queue_capacity) */
  unsigned nqueues;
  unsigned stack_table_entries; /* 0 until a queue interns stacks */
  struct spantap_queue_desc q[SPANTAP_QUEUE_MAX_QUEUES];
};

/* The stack form a record of KIND with STACK_SLOTS frames uses: NONE for
 * kinds without stacks or 0 slots, INLINE for 1 frame, INTERNED beyond. */
enum spantap_queue_stack_form spantap_queue_stack_form_for(enum spantap_record_kind kind,
                                                           unsigned stack_slots);

/* u64 words of a queue key: tag, fields, then the stack part of FORM.
 * Returns 0 when KIND is out of range. */
unsigned spantap_queue_key_words(enum spantap_record_kind kind, enum spantap_queue_stack_form form,
                                 unsigned stack_slots);

/* The capacity scale of a recording without --buffer-size. Capacities grow
 * linearly with the scale; scale 1 is the smallest (1/64 of the default). */
#define SPANTAP_QUEUE_SCALE_DEFAULT 64

/* max_entries of a queue of KIND: at the default scale enough for one reader
 * pass (50 ms) at the kind's expected peak rate; SCALE (>= 1) / 64 of:
 * per-syscall kinds and TCP state changes 65536, per-process and
 * per-connection kinds 8192;
 * once-per-run kinds 64 whatever the scale. */
unsigned spantap_queue_capacity(enum spantap_record_kind kind, unsigned scale);

/* Bytes of kernel memory a queue map of DESC holds (preallocated hash map:
 * key, value and the kernel's ~48-byte element header, for max_entries + ncpu
 * elements), its counter map and text array included. */
size_t spantap_queue_memory_bytes(const struct spantap_queue_desc *desc, unsigned ncpu);

/* Entries of the interned stack table for SCALE (16384 at the default). */
unsigned spantap_queue_stack_table_entries(unsigned scale);

/* Initializes SET for a recording with COOKIE on NCPU CPUs (1..MAX_CPUS) and
 * capacity SCALE (>= 1). Returns 0 or -EINVAL (bad NCPU, SCALE or COOKIE). */
int spantap_queue_set_init(struct spantap_queue_set *set, uint64_t cookie, unsigned ncpu,
                           unsigned scale);

/* Adds a queue for records of KIND written by one probe, with STACK_SLOTS
 * frames (ignored for kinds without stacks); USER_SPACE for begin/end probes.
 * Returns the queue's id (>= 0), or -EINVAL (KIND not written by scripts,
 * STACK_SLOTS above SPANTAP_QUEUE_MAX_DEPTH), -ENOSPC (too many queues). */
int spantap_queue_set_add(struct spantap_queue_set *set, enum spantap_record_kind kind,
                          unsigned stack_slots, bool user_space);

/* Bytes of kernel memory all maps of SET hold (what --buffer-size costs). */
size_t spantap_queue_set_memory_bytes(const struct spantap_queue_set *set);

/* The number of possible CPUs (/sys/devices/system/cpu/possible): what
 * cpu() can return in a probe, so what queues are numbered for. Returns
 * 1..SPANTAP_QUEUE_MAX_CPUS, or -errno. */
int spantap_queue_possible_cpus(void);

/* A fresh random cookie (getrandom), never a valid tag. Returns 0 or -errno. */
int spantap_queue_cookie_new(uint64_t *out);

/* True when V can be a cookie (its top 16 bits are in the cookie range). */
bool spantap_queue_is_cookie(uint64_t v);

/* The id of a stack chunk: FNV-1a over the chunk's frames, seeded by the
 * parent's id (0 for the innermost chunk). The generated code computes the
 * same value with 64-bit wrapping arithmetic. */
uint64_t spantap_queue_stack_hash(uint64_t parent,
                                  const uint64_t frames[SPANTAP_QUEUE_STACK_CHUNK]);

#endif
