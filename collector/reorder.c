/* A binary min-heap of (completion time, arrival number) over a slab of
 * events: ties keep arrival order, and events are copied once in and once out. */
#include "collector/reorder.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

struct heap_entry {
  int64_t key;  /* completion time */
  uint64_t seq; /* arrival number */
  size_t slot;  /* index into events */
};

struct spantap_reorder {
  int64_t window_ns;
  size_t max_events;
  spantap_reorder_release_fn fn;
  void *ctx;
  struct spantap_event *events; /* slab, max_events slots, grown on demand */
  size_t *free_slots, nfree, slab_cap;
  struct heap_entry *heap;
  size_t n;
  uint64_t next_seq;
  int64_t newest;   /* latest completion time pushed */
  int64_t released; /* completion time of the last event released */
  bool any_released;
  struct spantap_reorder_stats stats;
};

int spantap_reorder_new(int64_t window_ns, size_t max_events, spantap_reorder_release_fn fn,
                        void *ctx, struct spantap_reorder **out) {
  struct spantap_reorder *r = calloc(1, sizeof *r);
  if (!r)
    return -ENOMEM;
  r->window_ns = window_ns < 0 ? 0 : window_ns;
  r->max_events = max_events ? max_events : 1;
  r->fn = fn;
  r->ctx = ctx;
  r->newest = INT64_MIN;
  *out = r;
  return 0;
}

void spantap_reorder_destroy(struct spantap_reorder *r) {
  if (!r)
    return;
  free(r->events);
  free(r->free_slots);
  free(r->heap);
  free(r);
}

static bool before(const struct heap_entry *a, const struct heap_entry *b) {
  return a->key < b->key || (a->key == b->key && a->seq < b->seq);
}

static void sift_up(struct spantap_reorder *r, size_t i) {
  struct heap_entry e = r->heap[i];
  while (i > 0 && before(&e, &r->heap[(i - 1) / 2])) {
    r->heap[i] = r->heap[(i - 1) / 2];
    i = (i - 1) / 2;
  }
  r->heap[i] = e;
}

static void sift_down(struct spantap_reorder *r, size_t i) {
  struct heap_entry e = r->heap[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= r->n)
      break;
    if (c + 1 < r->n && before(&r->heap[c + 1], &r->heap[c]))
      c++;
    if (!before(&r->heap[c], &e))
      break;
    r->heap[i] = r->heap[c];
    i = c;
  }
  r->heap[i] = e;
}

/* Grows the slab (and heap and free list) towards max_events. */
static int grow(struct spantap_reorder *r) {
  size_t cap = r->slab_cap ? r->slab_cap * 2 : 1024;
  if (cap > r->max_events)
    cap = r->max_events;
  struct spantap_event *ev = realloc(r->events, cap * sizeof *ev);
  if (!ev)
    return -ENOMEM;
  r->events = ev;
  size_t *fs = realloc(r->free_slots, cap * sizeof *fs);
  if (!fs)
    return -ENOMEM;
  r->free_slots = fs;
  struct heap_entry *h = realloc(r->heap, cap * sizeof *h);
  if (!h)
    return -ENOMEM;
  r->heap = h;
  for (size_t s = cap; s > r->slab_cap; s--)
    r->free_slots[r->nfree++] = s - 1;
  r->slab_cap = cap;
  return 0;
}

/* Removes the earliest event and passes it on. */
static int release_top(struct spantap_reorder *r) {
  struct heap_entry top = r->heap[0];
  r->heap[0] = r->heap[--r->n];
  if (r->n)
    sift_down(r, 0);
  r->free_slots[r->nfree++] = top.slot;
  r->released = top.key;
  r->any_released = true;
  return r->fn(&r->events[top.slot], r->ctx);
}

int spantap_reorder_push(struct spantap_reorder *r, const struct spantap_event *e) {
  int64_t key = spantap_event_end(e);
  if (r->any_released && key < r->released) {
    r->stats.late++;
    return r->fn(e, r->ctx);
  }
  if (r->n == r->max_events) {
    r->stats.forced++;
    int rc = release_top(r);
    if (rc)
      return rc;
  }
  if (!r->nfree && grow(r) < 0)
    return -ENOMEM;
  size_t slot = r->free_slots[--r->nfree];
  r->events[slot] = *e;
  r->heap[r->n] = (struct heap_entry){key, r->next_seq++, slot};
  sift_up(r, r->n++);
  if (r->n > r->stats.peak)
    r->stats.peak = r->n;
  if (key > r->newest)
    r->newest = key;
  int64_t due = r->newest > INT64_MIN + r->window_ns ? r->newest - r->window_ns : INT64_MIN;
  while (r->n && r->heap[0].key <= due) {
    int rc = release_top(r);
    if (rc)
      return rc;
  }
  return 0;
}

int spantap_reorder_release_before(struct spantap_reorder *r, int64_t before) {
  while (r->n && r->heap[0].key <= before) {
    int rc = release_top(r);
    if (rc)
      return rc;
  }
  return 0;
}

int spantap_reorder_drain(struct spantap_reorder *r) {
  while (r->n) {
    int rc = release_top(r);
    if (rc)
      return rc;
  }
  return 0;
}

size_t spantap_reorder_held(const struct spantap_reorder *r) {
  return r->n;
}

const struct spantap_reorder_stats *spantap_reorder_stats(const struct spantap_reorder *r) {
  return &r->stats;
}
