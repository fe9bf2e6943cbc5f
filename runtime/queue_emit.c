/* SystemTap code of the queue transport, written from the record table and a
 * queue set (runtime/queue_emit.h). Names: _stq<Q> (queue), _stq<Q>c
 * (counters and control), _stq<Q>t (texts), _stqstk and _stqsid (interned
 * stacks); locals start with _stq_ so that they never meet a template's. */
#include "runtime/queue_emit.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>

struct out {
  FILE *f;
  int err;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (vfprintf(o->f, fmt, ap) < 0)
    o->err = -EIO;
  va_end(ap);
}

int spantap_queue_emit_globals(FILE *f, const struct spantap_queue_set *set) {
  struct out o = {.f = f};
  put(&o, "// record queues (layout %d): one per probe and record kind\n",
      SPANTAP_QUEUE_LAYOUT_VERSION);
  for (unsigned i = 0; i < set->nqueues; i++) {
    const struct spantap_queue_desc *q = &set->q[i];
    put(&o, "global _stq%u[%u] // %s records, key of %u words\n", q->id, q->capacity,
        spantap_record_desc_get(q->kind)->tag, q->key_words);
    put(&o, "global _stq%uc[%u]\n", q->id, set->ncpu + SPANTAP_QCTL__COUNT);
    if (q->has_text)
      put(&o, "global _stq%ut[%u]\n", q->id, q->capacity);
  }
  if (set->stack_table_entries) {
    put(&o, "global _stqstk[%u] // interned stack chunks\n", set->stack_table_entries);
    put(&o, "global _stqsid[%u]\n", set->stack_table_entries);
  }
  return o.err;
}

int spantap_queue_emit_begin(FILE *f, const struct spantap_queue_set *set) {
  struct out o = {.f = f};
  put(&o, "probe begin {\n");
  put(&o, "  _stq_cookie = 0x%016llx // the recording's cookie, through a local\n",
      (unsigned long long)set->cookie);
  for (unsigned i = 0; i < set->nqueues; i++) {
    const struct spantap_queue_desc *q = &set->q[i];
    const uint64_t slots[SPANTAP_QCTL__COUNT - 2] = {
        [SPANTAP_QCTL_QUEUE] = q->id,
        [SPANTAP_QCTL_KIND] = (uint64_t)q->kind,
        [SPANTAP_QCTL_KEY_WORDS] = q->key_words,
        [SPANTAP_QCTL_STACK_FORM] = (uint64_t)q->stack_form,
        [SPANTAP_QCTL_STACK_SLOTS] = q->stack_slots,
        [SPANTAP_QCTL_NCPU] = set->ncpu,
        [SPANTAP_QCTL_CAPACITY] = q->capacity,
        [SPANTAP_QCTL_NQUEUES] = set->nqueues,
        [SPANTAP_QCTL_STACK_TABLE] = set->stack_table_entries,
    };
    _Static_assert(SPANTAP_QCTL_COOKIE == SPANTAP_QCTL__COUNT - 2 &&
                       SPANTAP_QCTL_VERSION == SPANTAP_QCTL__COUNT - 1,
                   "cookie and version are the last control slots");
    put(&o, "  // queue %u: %s\n ", q->id, spantap_record_desc_get(q->kind)->tag);
    for (unsigned s = 0; s < SPANTAP_QCTL__COUNT - 2; s++)
      put(&o, " _stq%uc[%d] = %llu;", q->id, -(int)s - 1, (unsigned long long)slots[s]);
    put(&o, "\n  _stq%uc[%d] = _stq_cookie\n", q->id, -(int)SPANTAP_QCTL_COOKIE - 1);
    put(&o, "  _stq%u[_stq_cookie, %u", q->id, q->id);
    for (unsigned w = 2; w < q->key_words; w++)
      put(&o, ", 0");
    put(&o, "] = 0\n");
    if (q->has_text)
      put(&o, "  _stq%ut[_stq_cookie + %u] = \"\"\n", q->id, q->id);
  }
  if (set->stack_table_entries) {
    put(&o, "  _stqstk[_stq_cookie, -1");
    for (unsigned w = 2; w < SPANTAP_QUEUE_STACK_ROW_WORDS; w++)
      put(&o, ", 0");
    put(&o, "] = 0\n");
  }
  put(&o, "  // last: the layout version tells the reader the maps are ready\n ");
  for (unsigned i = 0; i < set->nqueues; i++)
    put(&o, " _stq%uc[%d] = %d;", set->q[i].id, -(int)SPANTAP_QCTL_VERSION - 1,
        SPANTAP_QUEUE_LAYOUT_VERSION);
  put(&o, "\n}\n");
  return o.err;
}

int spantap_queue_emit_record(FILE *f, const struct spantap_queue_set *set, unsigned qid,
                              const char *ind) {
  if (qid >= set->nqueues)
    return -EINVAL;
  const struct spantap_queue_desc *q = &set->q[qid];
  const struct spantap_record_desc *d = spantap_record_desc_get(q->kind);
  struct out o = {.f = f};
  put(&o, "%s// %s record into queue %u\n", ind, d->tag, q->id);
  if (q->user_space) /* begin/end run in stapbpf's interpreter: no cpu() there */
    put(&o, "%s_stq_c = 0\n", ind);
  else
    put(&o, "%s_stq_c = cpu()\n", ind);
  put(&o, "%s_stq_n = _stq%uc[_stq_c]; _stq_tag = (_stq_c << %d) | _stq_n\n", ind, q->id,
      SPANTAP_QUEUE_SEQ_BITS);
  if (q->has_text)
    put(&o, "%s_stq%ut[_stq_tag] = text\n", ind, q->id);
  put(&o, "%s_stq%u[_stq_tag", ind, q->id);
  /* "+ 0" types a field copied straight from a tracepoint argument
   * (`ret = $ret`), which stap otherwise leaves unresolved in a tuple */
  for (unsigned i = 0; i < d->nfields; i++)
    put(&o, ", %s + 0", d->field_names[i]);
  if (q->stack_form == SPANTAP_QUEUE_STACK_INLINE) {
    put(&o, ", _sflags");
    for (unsigned i = 0; i < q->stack_slots; i++)
      put(&o, ", _sf%u", i);
  } else if (q->stack_form == SPANTAP_QUEUE_STACK_INTERNED) {
    put(&o, ", _sflags, _stq_stk");
  }
  put(&o, "] = 1\n");
  put(&o, "%s_stq%uc[_stq_c] = _stq_n + 1\n", ind, q->id);
  return o.err;
}

int spantap_queue_emit_stack_start(FILE *f, const char *ind) {
  struct out o = {.f = f};
  put(&o, "%s_stq_stk = 0; _stq_p = %llu\n", ind, (unsigned long long)SPANTAP_QUEUE_STACK_PRIME);
  return o.err;
}

int spantap_queue_emit_stack_chunk(FILE *f, const struct spantap_queue_set *set, unsigned chunk,
                                   unsigned nframes, const char *ind) {
  if (!set->stack_table_entries || nframes < 1 || nframes > SPANTAP_QUEUE_STACK_CHUNK ||
      (chunk + 1) * SPANTAP_QUEUE_STACK_CHUNK >
          SPANTAP_QUEUE_MAX_DEPTH + SPANTAP_QUEUE_STACK_CHUNK - 1)
    return -EINVAL;
  struct out o = {.f = f};
  put(&o, "%s// stack chunk %u (frames %u..%u): its id hashes the parent's and its frames\n", ind,
      chunk, chunk * SPANTAP_QUEUE_STACK_CHUNK, chunk * SPANTAP_QUEUE_STACK_CHUNK + nframes - 1);
  put(&o, "%s_stq_par = _stq_stk\n", ind);
  for (unsigned i = 0; i < SPANTAP_QUEUE_STACK_CHUNK; i++) {
    if (i < nframes)
      put(&o, "%s_stq_stk = (_stq_stk ^ _sf%u) * _stq_p\n", ind, i);
    else
      put(&o, "%s_stq_stk = _stq_stk * _stq_p\n", ind);
  }
  put(&o, "%sif (_stq_stk && !(_stq_stk in _stqsid)) {\n", ind);
  put(&o, "%s  _stqstk[_stq_stk, _stq_par", ind);
  for (unsigned i = 0; i < SPANTAP_QUEUE_STACK_CHUNK; i++) {
    if (i < nframes)
      put(&o, ", _sf%u", i);
    else
      put(&o, ", 0");
  }
  put(&o, "] = 1\n");
  put(&o, "%s  _stqsid[_stq_stk] = 1 // after the chunk: an id seen here is in the table\n", ind);
  put(&o, "%s}\n", ind);
  return o.err;
}
