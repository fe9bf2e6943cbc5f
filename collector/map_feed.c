/* Map feed: the BPF map source's records into the collector, in time order
 * within a pass (collector/map_feed.h). */
#include "collector/map_feed.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/time_order.h"
#include "common/array_grow.h"

/* One record of a pass, copied out of the decoder's buffers. */
struct held {
  const struct spantap_record_desc *desc;
  int64_t v[SPANTAP_MAX_FIELDS];
  unsigned stack_flags, nframes;
  bool has_stack_token;
  size_t frames_at; /* index of its first frame in the feed's frame arrays */
  size_t text_len;
  char text[SPANTAP_QUEUE_TEXT_MAX];
};

struct spantap_map_feed {
  struct spantap_bpf_map_source *src;
  struct spantap_collector *col;
  bool ready;
  struct held *held;
  size_t nheld, held_cap;
  uint64_t *frames;
  uint8_t *slots;
  size_t nframes, frames_cap;
  struct spantap_time_order_item *order, *order_tmp; /* (time, index held) */
  size_t order_cap, order_tmp_cap;
  uint64_t lost_reported, bad_reported;
};

int spantap_map_feed_new(uint64_t cookie, unsigned ncpu, struct spantap_collector *col,
                         struct spantap_map_feed **out) {
  *out = NULL;
  struct spantap_map_feed *f = calloc(1, sizeof *f);
  if (!f)
    return -ENOMEM;
  const struct spantap_bpf_map_source_opts so = {.cookie = cookie, .ncpu = ncpu};
  int rc = spantap_bpf_map_source_new(&so, &f->src);
  if (rc < 0) {
    free(f);
    return rc;
  }
  f->col = col;
  *out = f;
  return 0;
}

void spantap_map_feed_destroy(struct spantap_map_feed *f) {
  if (!f)
    return;
  spantap_bpf_map_source_destroy(f->src);
  free(f->held);
  free(f->frames);
  free(f->slots);
  free(f->order);
  free(f->order_tmp);
  free(f);
}

/* The decoder's callback: keeps a copy of REC for the pass's ordering. */
static int hold(const struct spantap_record *rec, void *ctx) {
  return spantap_map_feed_hold(ctx, rec);
}

int spantap_map_feed_hold(struct spantap_map_feed *f, const struct spantap_record *rec) {
  size_t frames_cap = f->frames_cap;
  if (spantap_array_grow((void **)&f->held, &f->held_cap, f->nheld + 1, sizeof *f->held) < 0 ||
      spantap_array_grow((void **)&f->frames, &f->frames_cap, f->nframes + rec->nframes,
                         sizeof *f->frames) < 0)
    return -ENOMEM;
  if (f->frames_cap != frames_cap) {
    uint8_t *s = realloc(f->slots, f->frames_cap);
    if (!s)
      return -ENOMEM;
    f->slots = s;
  }
  struct held *h = &f->held[f->nheld++];
  h->desc = rec->desc;
  memcpy(h->v, rec->v, sizeof h->v);
  h->stack_flags = rec->stack_flags;
  h->nframes = rec->nframes;
  h->has_stack_token = rec->has_stack_token;
  h->frames_at = f->nframes;
  if (rec->nframes) { /* no frames yet: the arrays may still be NULL */
    memcpy(f->frames + f->nframes, rec->frames, rec->nframes * sizeof *rec->frames);
    memcpy(f->slots + f->nframes, rec->frame_slot, rec->nframes);
    f->nframes += rec->nframes;
  }
  h->text_len = rec->text_len < sizeof h->text ? rec->text_len : sizeof h->text;
  memcpy(h->text, rec->text ? rec->text : "", h->text_len);
  return 0;
}

/* A record's place in time, as the collector's reorder window orders
 * events: when it completed (ts + dur); BEGIN first, END last. A SOCK record
 * is dated at the end of the syscall that announced it, so it comes before
 * that syscall's NC record (an earlier queue: delivered first on a tie). */
static int64_t time_of(const struct held *h) {
  const struct spantap_record_desc *d = h->desc;
  if (d->kind == SPANTAP_REC_BEGIN)
    return INT64_MIN;
  if (d->kind == SPANTAP_REC_END)
    return INT64_MAX;
  bool has_dur;
  if (!spantap_record_desc_timed(d, &has_dur))
    return INT64_MIN;
  if (has_dur && h->v[1] > 0 && h->v[0] <= INT64_MAX - h->v[1])
    return h->v[0] + h->v[1];
  return h->v[0];
}

int spantap_map_feed_push(struct spantap_map_feed *f, char *err, size_t errlen) {
  if (spantap_array_grow((void **)&f->order, &f->order_cap, f->nheld, sizeof *f->order) < 0 ||
      spantap_array_grow((void **)&f->order_tmp, &f->order_tmp_cap, f->nheld,
                         sizeof *f->order_tmp) < 0) {
    snprintf(err, errlen, "Failed to order a pass: records=%zu: %s", f->nheld, strerror(ENOMEM));
    return -ENOMEM;
  }
  for (size_t i = 0; i < f->nheld; i++)
    f->order[i] = (struct spantap_time_order_item){spantap_time_order_key(time_of(&f->held[i])), i};
  /* stable: ties in the order held */
  spantap_time_order_sort(f->order, f->order_tmp, f->nheld);
  struct spantap_record rec;
  for (size_t i = 0; i < f->nheld; i++) {
    const struct held *h = &f->held[f->order[i].value];
    memset(&rec, 0, offsetof(struct spantap_record, frames));
    rec.desc = h->desc;
    memcpy(rec.v, h->v, sizeof rec.v);
    rec.stack_flags = h->stack_flags;
    rec.nframes = h->nframes;
    if (h->nframes) {
      memcpy(rec.frames, f->frames + h->frames_at, h->nframes * sizeof *rec.frames);
      memcpy(rec.frame_slot, f->slots + h->frames_at, h->nframes);
    }
    rec.has_stack_token = h->has_stack_token;
    rec.text = h->text;
    rec.text_len = h->text_len;
    int rc = spantap_collector_push_record(f->col, &rec, err, errlen);
    if (rc < 0) {
      f->nheld = f->nframes = 0;
      return rc;
    }
  }
  f->nheld = f->nframes = 0;
  return 0;
}

/* Losses and undecodable keys since the last turn, into the collector. */
static int report(struct spantap_map_feed *f, char *err, size_t errlen) {
  struct spantap_bpf_map_source_stats st;
  spantap_bpf_map_source_stats(f->src, &st);
  if (st.q.lost > f->lost_reported) {
    int rc = spantap_collector_add_lost(f->col, st.q.lost - f->lost_reported, "queue", err, errlen);
    if (rc < 0)
      return rc;
    f->lost_reported = st.q.lost;
  }
  uint64_t bad = st.q.malformed + st.q.duplicates;
  for (; f->bad_reported < bad; f->bad_reported++)
    spantap_collector_count_malformed(f->col, "a queue key that is no record of its queue");
  return 0;
}

int spantap_map_feed_turn(struct spantap_map_feed *f, bool final, char *err, size_t errlen) {
  if (!f->ready) {
    int rc = spantap_bpf_map_source_find(f->src, err, errlen);
    if (rc == -EAGAIN)
      return 0;
    if (rc < 0)
      return rc;
    f->ready = true;
  }
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  f->nheld = f->nframes = 0;
  int rc = spantap_bpf_map_source_poll(f->src, (uint64_t)now.tv_sec * 1000000000u + now.tv_nsec,
                                       final, hold, f, err, errlen);
  if (rc == -ENOMEM && f->nheld) /* the callback's own failure */
    snprintf(err, errlen, "Failed to keep a pass of the record queues: records=%zu: %s", f->nheld,
             strerror(ENOMEM));
  if (rc < 0)
    return rc;
  rc = spantap_map_feed_push(f, err, errlen);
  if (rc < 0)
    return rc;
  return report(f, err, errlen);
}

bool spantap_map_feed_ready(const struct spantap_map_feed *f) {
  return f->ready;
}

void spantap_map_feed_stats(const struct spantap_map_feed *f,
                            struct spantap_bpf_map_source_stats *out) {
  spantap_bpf_map_source_stats(f->src, out);
}

void spantap_map_feed_summary(const struct spantap_map_feed *f, char *buf, size_t len) {
  struct spantap_bpf_map_source_stats st;
  spantap_bpf_map_source_stats(f->src, &st);
  size_t n =
      (size_t)snprintf(buf, len, "%llu records in %llu passes (at most %llu), %llu lost",
                       (unsigned long long)st.q.delivered, (unsigned long long)st.passes,
                       (unsigned long long)st.records_per_pass_max, (unsigned long long)st.q.lost);
  const char *sep = " (";
  struct spantap_queue_desc d;
  struct spantap_queue_stats q;
  for (unsigned i = 0; n < len && spantap_bpf_map_source_queue(f->src, i, &d, &q) == 0; i++) {
    if (!q.lost)
      continue;
    n += (size_t)snprintf(buf + n, len - n, "%s%s %llu", sep, spantap_record_desc_get(d.kind)->tag,
                          (unsigned long long)q.lost);
    sep = ", ";
  }
  if (n < len && sep[0] == ',')
    n += (size_t)snprintf(buf + n, len - n, ")");
  if (n < len)
    snprintf(buf + n, len - n, ", %llu duplicate, %llu malformed",
             (unsigned long long)st.q.duplicates, (unsigned long long)st.q.malformed);
}
