/* Queue decoder (collector/queue_decode.h). A pass sorts the keys it holds
 * (this batch plus the records kept from the last pass) by tag, walks each
 * CPU's records in sequence order against that CPU's counter, and delivers
 * the CPUs' runs merged by time. Keys are never trusted: a tag from a CPU
 * that does not exist, a tag seen twice, or a marker that is not this
 * queue's is counted, never delivered. */
#include "collector/queue_decode.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "collector/time_order.h"
#include "collector/u64_map.h"
#include "common/array_grow.h"

int spantap_queue_control_check(const uint64_t ctl[SPANTAP_QCTL__COUNT], uint64_t cookie,
                                unsigned ncpu, struct spantap_queue_desc *out) {
  if (ctl[SPANTAP_QCTL_COOKIE] != cookie)
    return -EXDEV;
  if (ctl[SPANTAP_QCTL_VERSION] == 0)
    return -EAGAIN;
  if (ctl[SPANTAP_QCTL_VERSION] != SPANTAP_QUEUE_LAYOUT_VERSION)
    return -EPROTO;
  uint64_t kind = ctl[SPANTAP_QCTL_KIND], form = ctl[SPANTAP_QCTL_STACK_FORM];
  uint64_t slots = ctl[SPANTAP_QCTL_STACK_SLOTS];
  if (kind >= SPANTAP_REC__COUNT || slots > SPANTAP_QUEUE_MAX_DEPTH ||
      ctl[SPANTAP_QCTL_QUEUE] >= SPANTAP_QUEUE_MAX_QUEUES ||
      ctl[SPANTAP_QCTL_NQUEUES] > SPANTAP_QUEUE_MAX_QUEUES ||
      ctl[SPANTAP_QCTL_QUEUE] >= ctl[SPANTAP_QCTL_NQUEUES] || ctl[SPANTAP_QCTL_NCPU] != ncpu ||
      ctl[SPANTAP_QCTL_CAPACITY] < 1 || ctl[SPANTAP_QCTL_CAPACITY] > (1u << 24))
    return -EPROTO;
  const struct spantap_record_desc *d = spantap_record_desc_get((enum spantap_record_kind)kind);
  if (!d->written_by_script ||
      form != (uint64_t)spantap_queue_stack_form_for(d->kind, (unsigned)slots) ||
      ctl[SPANTAP_QCTL_KEY_WORDS] !=
          spantap_queue_key_words(d->kind, (enum spantap_queue_stack_form)form, (unsigned)slots) ||
      (form == SPANTAP_QUEUE_STACK_INTERNED && ctl[SPANTAP_QCTL_STACK_TABLE] == 0))
    return -EPROTO;
  *out = (struct spantap_queue_desc){
      .id = (unsigned)ctl[SPANTAP_QCTL_QUEUE],
      .kind = d->kind,
      .stack_form = (enum spantap_queue_stack_form)form,
      .stack_slots = form == SPANTAP_QUEUE_STACK_NONE ? 0 : (unsigned)slots,
      .key_words = (unsigned)ctl[SPANTAP_QCTL_KEY_WORDS],
      .capacity = (unsigned)ctl[SPANTAP_QCTL_CAPACITY],
      .has_text = d->has_text,
  };
  return 0;
}

/* ---- interned stacks ---- */

struct chunk {
  uint64_t parent;
  uint64_t frames[SPANTAP_QUEUE_STACK_CHUNK];
};

struct spantap_stack_table {
  struct spantap_u64_map *chunks; /* id -> malloc'd struct chunk */
};

struct spantap_stack_table *spantap_stack_table_new(void) {
  struct spantap_stack_table *t = calloc(1, sizeof *t);
  if (!t)
    return NULL;
  t->chunks = spantap_u64_map_new();
  if (!t->chunks) {
    free(t);
    return NULL;
  }
  return t;
}

void spantap_stack_table_destroy(struct spantap_stack_table *t) {
  if (!t)
    return;
  spantap_u64_map_free_values(t->chunks);
  spantap_u64_map_destroy(t->chunks);
  free(t);
}

int spantap_stack_table_add(struct spantap_stack_table *t, const uint64_t *rows, size_t nrows,
                            uint64_t cookie, struct spantap_stack_table_stats *st) {
  struct spantap_stack_table_stats dummy;
  if (!st)
    st = &dummy;
  for (size_t i = 0; i < nrows; i++) {
    const uint64_t *r = rows + i * SPANTAP_QUEUE_STACK_ROW_WORDS;
    if (spantap_queue_is_cookie(r[0]) && r[0] != cookie && r[1] == UINT64_MAX)
      return -EXDEV;
  }
  for (size_t i = 0; i < nrows; i++) {
    const uint64_t *r = rows + i * SPANTAP_QUEUE_STACK_ROW_WORDS;
    if (r[0] == cookie && r[1] == UINT64_MAX)
      continue; /* the marker */
    if (r[0] == 0 || spantap_queue_stack_hash(r[1], r + 2) != r[0]) {
      st->rejected++;
      continue;
    }
    struct chunk *have = spantap_u64_map_get(t->chunks, r[0]);
    if (have) {
      if (have->parent != r[1] || memcmp(have->frames, r + 2, sizeof have->frames) != 0)
        st->collisions++;
      continue;
    }
    struct chunk *c = malloc(sizeof *c);
    if (!c)
      return -ENOMEM;
    c->parent = r[1];
    memcpy(c->frames, r + 2, sizeof c->frames);
    if (spantap_u64_map_put(t->chunks, r[0], c) < 0) {
      free(c);
      return -ENOMEM;
    }
    st->chunks++;
  }
  return 0;
}

int spantap_stack_table_resolve(const struct spantap_stack_table *t, uint64_t id, uint64_t *frames,
                                unsigned max, unsigned *n) {
  enum { MAX_CHAIN = SPANTAP_MAX_FRAMES / SPANTAP_QUEUE_STACK_CHUNK };
  const struct chunk *chain[MAX_CHAIN];
  unsigned len = 0;
  int rc = 0;
  *n = 0;
  /* the id names the outermost chunk; walk to the innermost (parent 0) */
  while (id) {
    const struct chunk *c = t ? spantap_u64_map_get(t->chunks, id) : NULL;
    if (!c || len == MAX_CHAIN) {
      rc = -ENOENT;
      break;
    }
    chain[len++] = c;
    id = c->parent;
  }
  for (unsigned i = len; i-- > 0;)
    for (unsigned k = 0; k < SPANTAP_QUEUE_STACK_CHUNK && *n < max; k++)
      frames[(*n)++] = chain[i]->frames[k];
  return rc;
}

/* ---- the decoder ---- */

/* A key to order: its tag and its address. */
static struct spantap_time_order_item entry(const uint64_t *key) {
  return (struct spantap_time_order_item){key[0], (uint64_t)(uintptr_t)key};
}
static const uint64_t *key_of(const struct spantap_time_order_item *e) {
  return (const uint64_t *)(uintptr_t)e->value;
}

struct text {
  uint64_t tag;
  char s[SPANTAP_QUEUE_TEXT_MAX];
};

struct spantap_queue_decoder {
  struct spantap_queue_desc desc;
  unsigned ncpu;
  uint64_t cookie;
  uint64_t *next;         /* per CPU: the next record number not yet delivered or counted lost */
  uint64_t *pend, *pend2; /* kept keys, and the buffer the next pass keeps into */
  size_t npend, pend_cap, pend2_cap;
  struct spantap_time_order_item *ents, *ents_tmp; /* (tag, address of the key) */
  size_t ents_cap, ents_tmp_cap;
  const uint64_t **out; /* deliverable keys, per CPU runs */
  size_t out_cap;
  size_t *run_start, *run_end;
  struct text *texts;
  size_t ntexts, texts_cap;
  struct spantap_queue_stats stats;
  struct spantap_record rec;
};

int spantap_queue_decoder_new(const struct spantap_queue_desc *desc, unsigned ncpu, uint64_t cookie,
                              struct spantap_queue_decoder **out) {
  *out = NULL;
  if (ncpu < 1 || ncpu > SPANTAP_QUEUE_MAX_CPUS || !spantap_record_desc_get(desc->kind) ||
      desc->key_words != spantap_queue_key_words(desc->kind, desc->stack_form, desc->stack_slots) ||
      desc->key_words > SPANTAP_QUEUE_MAX_KEY_WORDS + SPANTAP_QUEUE_MAX_DEPTH)
    return -EINVAL;
  struct spantap_queue_decoder *d = calloc(1, sizeof *d);
  if (!d)
    return -ENOMEM;
  d->desc = *desc;
  d->ncpu = ncpu;
  d->cookie = cookie;
  d->next = calloc(ncpu, sizeof *d->next);
  d->run_start = calloc(ncpu, sizeof *d->run_start);
  d->run_end = calloc(ncpu, sizeof *d->run_end);
  if (!d->next || !d->run_start || !d->run_end) {
    spantap_queue_decoder_destroy(d);
    return -ENOMEM;
  }
  *out = d;
  return 0;
}

void spantap_queue_decoder_destroy(struct spantap_queue_decoder *d) {
  if (!d)
    return;
  free(d->next);
  free(d->pend);
  free(d->pend2);
  free(d->ents);
  free(d->ents_tmp);
  free(d->out);
  free(d->run_start);
  free(d->run_end);
  free(d->texts);
  free(d);
}

const struct spantap_queue_stats *
spantap_queue_decoder_stats(const struct spantap_queue_decoder *d) {
  return &d->stats;
}

const struct spantap_queue_desc *spantap_queue_decoder_desc(const struct spantap_queue_decoder *d) {
  return &d->desc;
}

static int cmp_text(const void *a, const void *b) {
  uint64_t x = ((const struct text *)a)->tag, y = ((const struct text *)b)->tag;
  return x < y ? -1 : x > y;
}

static const struct text *find_text(const struct spantap_queue_decoder *d, uint64_t tag) {
  size_t lo = 0, hi = d->ntexts;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (d->texts[mid].tag < tag)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < d->ntexts && d->texts[lo].tag == tag ? &d->texts[lo] : NULL;
}

/* Adds the batch's texts (tags of this queue only) and sorts them by tag. */
static int take_texts(struct spantap_queue_decoder *d, const uint64_t *tags, const char *vals,
                      size_t n) {
  if (spantap_array_grow((void **)&d->texts, &d->texts_cap, d->ntexts + n, sizeof *d->texts) < 0)
    return -ENOMEM;
  for (size_t i = 0; i < n; i++) {
    if (SPANTAP_QUEUE_TAG_CPU(tags[i]) >= d->ncpu)
      continue; /* the marker, or not a tag */
    struct text *t = &d->texts[d->ntexts++];
    t->tag = tags[i];
    memcpy(t->s, vals + i * SPANTAP_QUEUE_TEXT_MAX, SPANTAP_QUEUE_TEXT_MAX);
    t->s[SPANTAP_QUEUE_TEXT_MAX - 1] = '\0';
  }
  if (d->ntexts)
    qsort(d->texts, d->ntexts, sizeof *d->texts, cmp_text);
  return 0;
}

/* Drops the texts whose record was delivered or lost. */
static void prune_texts(struct spantap_queue_decoder *d) {
  size_t k = 0;
  for (size_t i = 0; i < d->ntexts; i++) {
    uint64_t tag = d->texts[i].tag;
    if (SPANTAP_QUEUE_TAG_SEQ(tag) >= d->next[SPANTAP_QUEUE_TAG_CPU(tag)] &&
        (k == 0 || d->texts[k - 1].tag != tag))
      d->texts[k++] = d->texts[i];
  }
  d->ntexts = k;
}

static void fill_record(struct spantap_queue_decoder *d, const uint64_t *key,
                        const struct spantap_stack_table *stacks) {
  const struct spantap_record_desc *rd = spantap_record_desc_get(d->desc.kind);
  struct spantap_record *r = &d->rec;
  r->desc = rd;
  for (unsigned i = 0; i < rd->nfields; i++)
    r->v[i] = (int64_t)key[1 + i];
  r->nframes = 0;
  r->stack_flags = 0;
  r->has_stack_token = d->desc.stack_form != SPANTAP_QUEUE_STACK_NONE;
  const uint64_t *s = key + 1 + rd->nfields;
  if (d->desc.stack_form == SPANTAP_QUEUE_STACK_INLINE) {
    r->stack_flags = (unsigned)s[0];
    for (unsigned i = 0; i < d->desc.stack_slots; i++)
      if (s[1 + i]) {
        r->frame_slot[r->nframes] = (uint8_t)i;
        r->frames[r->nframes++] = s[1 + i];
      }
  } else if (d->desc.stack_form == SPANTAP_QUEUE_STACK_INTERNED) {
    r->stack_flags = (unsigned)s[0];
    uint64_t frames[SPANTAP_MAX_FRAMES];
    unsigned n = 0;
    if (spantap_stack_table_resolve(stacks, s[1], frames, SPANTAP_MAX_FRAMES, &n) < 0) {
      d->stats.missing_stack++;
      r->stack_flags |= SPANTAP_STACK_UNWIND_BROKEN;
    }
    if (n > d->desc.stack_slots)
      n = d->desc.stack_slots;
    for (unsigned i = 0; i < n; i++)
      if (frames[i]) {
        r->frame_slot[r->nframes] = (uint8_t)i;
        r->frames[r->nframes++] = frames[i];
      }
  }
  r->text = "";
  r->text_len = 0;
  if (d->desc.has_text) {
    const struct text *t = find_text(d, key[0]);
    if (t) {
      r->text = t->s;
      r->text_len = strnlen(t->s, SPANTAP_QUEUE_TEXT_MAX);
    } else {
      d->stats.missing_text++;
    }
  }
}

int spantap_queue_decode_pass(struct spantap_queue_decoder *d, const uint64_t *counters,
                              const uint64_t *keys, size_t nkeys, const uint64_t *text_tags,
                              const char *texts, size_t ntexts,
                              const struct spantap_stack_table *stacks, spantap_queue_record_fn fn,
                              void *ctx) {
  const size_t kw = d->desc.key_words;
  /* validate before changing anything */
  for (unsigned c = 0; c < d->ncpu; c++)
    if (counters[c] < d->next[c] || counters[c] > SPANTAP_QUEUE_SEQ_MASK)
      return -EPROTO;
  for (size_t i = 0; i < nkeys; i++) {
    const uint64_t *k = keys + i * kw;
    if (spantap_queue_is_cookie(k[0]) && k[0] != d->cookie)
      return -EXDEV;
  }
  size_t total = d->npend + nkeys;
  if (spantap_array_grow((void **)&d->ents, &d->ents_cap, total, sizeof *d->ents) < 0 ||
      spantap_array_grow((void **)&d->ents_tmp, &d->ents_tmp_cap, total, sizeof *d->ents_tmp) < 0 ||
      spantap_array_grow((void **)&d->out, &d->out_cap, total, sizeof *d->out) < 0)
    return -ENOMEM;
  if (d->desc.has_text && ntexts && take_texts(d, text_tags, texts, ntexts) < 0)
    return -ENOMEM;

  size_t ne = 0;
  for (size_t i = 0; i < d->npend; i++)
    d->ents[ne++] = entry(d->pend + i * kw);
  for (size_t i = 0; i < nkeys; i++) {
    const uint64_t *k = keys + i * kw;
    if (k[0] == d->cookie) {
      if (k[1] == d->desc.id)
        d->stats.markers++;
      else
        d->stats.malformed++;
      continue;
    }
    if (SPANTAP_QUEUE_TAG_CPU(k[0]) >= d->ncpu) {
      d->stats.malformed++;
      continue;
    }
    d->ents[ne++] = entry(k);
  }
  spantap_time_order_sort(d->ents, d->ents_tmp, ne);

  /* walk each CPU's records in sequence order against its counter */
  size_t nout = 0, nkeep = 0;
  if (spantap_array_grow((void **)&d->pend2, &d->pend2_cap, ne * kw, sizeof *d->pend2) < 0)
    return -ENOMEM;
  size_t e = 0;
  for (unsigned c = 0; c < d->ncpu; c++) {
    d->run_start[c] = nout;
    uint64_t prev = UINT64_MAX;
    for (; e < ne && SPANTAP_QUEUE_TAG_CPU(d->ents[e].key) == c; e++) {
      uint64_t tag = d->ents[e].key, n = SPANTAP_QUEUE_TAG_SEQ(tag);
      if (tag == prev || n < d->next[c]) {
        d->stats.duplicates++;
        continue;
      }
      prev = tag;
      if (n >= counters[c]) {
        memcpy(d->pend2 + nkeep++ * kw, key_of(&d->ents[e]), kw * sizeof(uint64_t));
        continue;
      }
      d->stats.lost += n - d->next[c];
      d->next[c] = n + 1;
      d->out[nout++] = key_of(&d->ents[e]);
    }
    d->run_end[c] = nout;
    d->stats.lost += counters[c] - d->next[c];
    d->next[c] = counters[c];
  }

  /* deliver, merging the CPUs' runs by their first field (the time) */
  int rc = 0;
  size_t left = nout;
  while (left && rc == 0) {
    unsigned best = d->ncpu;
    for (unsigned c = 0; c < d->ncpu; c++)
      if (d->run_start[c] < d->run_end[c] &&
          (best == d->ncpu ||
           (int64_t)d->out[d->run_start[c]][1] < (int64_t)d->out[d->run_start[best]][1]))
        best = c;
    fill_record(d, d->out[d->run_start[best]++], stacks);
    left--;
    d->stats.delivered++;
    rc = fn(&d->rec, ctx);
  }

  /* the kept records become the pending ones (they may point into pend) */
  uint64_t *t = d->pend;
  size_t tcap = d->pend_cap;
  d->pend = d->pend2;
  d->pend_cap = d->pend2_cap;
  d->pend2 = t;
  d->pend2_cap = tcap;
  d->npend = nkeep;
  d->stats.kept = nkeep;
  if (d->desc.has_text)
    prune_texts(d);
  return rc;
}
