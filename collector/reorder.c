/* Two queues over one slab of events: a run, a FIFO ring of slots whose
 * completion times never decrease, and a binary min-heap of (completion time,
 * arrival number) for every other event. A push that completes no earlier
 * than the run's last event joins the run in O(1), which is nearly every push
 * when the input is in order; a release takes the earlier of the run's front
 * and the heap's top, so events leave in the order one heap alone would give.
 * On a tie the run's front arrived first: when a heap event H arrived, the
 * run's last event completed after H, so it leaves after H, and until then
 * only events completing after H can join the run. Events are copied once in
 * and once out. */
#include "collector/reorder.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

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
  struct heap_entry *heap; /* slab_cap entries */
  size_t n;
  size_t *run; /* ring of run_cap slots (slab_cap once grown), run_n from run_head */
  size_t run_head, run_n, run_cap;
  int64_t run_last; /* completion time of the run's last event, when run_n */
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
  free(r->run);
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

/* Grows the slab (and heap, run and free list) towards max_events. On
 * failure the window is unchanged apart from larger arrays. */
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
  size_t *run = realloc(r->run, cap * sizeof *run);
  if (!run)
    return -ENOMEM;
  r->run = run;
  /* a run that wraps around moves its upper part to the end of the larger ring */
  if (r->run_head + r->run_n > r->run_cap) {
    size_t upper = r->run_cap - r->run_head;
    memmove(run + cap - upper, run + r->run_head, upper * sizeof *run);
    r->run_head = cap - upper;
  }
  r->run_cap = cap;
  for (size_t s = cap; s > r->slab_cap; s--)
    r->free_slots[r->nfree++] = s - 1;
  r->slab_cap = cap;
  return 0;
}

/* Whether the earliest event held is the heap's top (else the run's front);
 * *KEY receives its completion time. Needs an event held. */
static bool earliest(const struct spantap_reorder *r, int64_t *key) {
  if (r->run_n) {
    int64_t front = spantap_event_end(&r->events[r->run[r->run_head]]);
    if (!r->n || r->heap[0].key >= front) { /* a tie: the run's front arrived first */
      *key = front;
      return false;
    }
  }
  *key = r->heap[0].key;
  return true;
}

/* Removes the earliest event (FROM_HEAP and KEY as earliest() gave them)
 * and passes it on. */
static int release_top(struct spantap_reorder *r, bool from_heap, int64_t key) {
  size_t slot;
  if (from_heap) {
    slot = r->heap[0].slot;
    r->heap[0] = r->heap[--r->n];
    if (r->n)
      sift_down(r, 0);
  } else {
    slot = r->run[r->run_head];
    r->run_n--;
    if (++r->run_head == r->run_cap)
      r->run_head = 0;
  }
  r->free_slots[r->nfree++] = slot;
  r->released = key;
  r->any_released = true;
  return r->fn(&r->events[slot], r->ctx);
}

/* Releases the earliest events while they completed at or before DUE. */
static int release_due(struct spantap_reorder *r, int64_t due) {
  while (r->n || r->run_n) {
    int64_t key;
    bool from_heap = earliest(r, &key);
    if (key > due)
      return 0;
    int rc = release_top(r, from_heap, key);
    if (rc)
      return rc;
  }
  return 0;
}

int spantap_reorder_push(struct spantap_reorder *r, const struct spantap_event *e) {
  int64_t key = spantap_event_end(e);
  if (r->any_released && key < r->released) {
    r->stats.late++;
    return r->fn(e, r->ctx);
  }
  if (r->n + r->run_n == r->max_events) {
    r->stats.forced++;
    int64_t top;
    bool from_heap = earliest(r, &top);
    int rc = release_top(r, from_heap, top);
    if (rc)
      return rc;
  }
  if (!r->nfree && grow(r) < 0)
    return -ENOMEM;
  size_t slot = r->free_slots[--r->nfree];
  r->events[slot] = *e;
  if (!r->run_n || key >= r->run_last) { /* its arrival number is the largest yet */
    size_t tail = r->run_head + r->run_n++;
    r->run[tail < r->run_cap ? tail : tail - r->run_cap] = slot;
    r->run_last = key;
    r->next_seq++;
  } else {
    r->heap[r->n] = (struct heap_entry){key, r->next_seq++, slot};
    sift_up(r, r->n++);
  }
  if (r->n + r->run_n > r->stats.peak)
    r->stats.peak = r->n + r->run_n;
  if (key > r->newest)
    r->newest = key;
  return release_due(r,
                     r->newest > INT64_MIN + r->window_ns ? r->newest - r->window_ns : INT64_MIN);
}

int spantap_reorder_release_before(struct spantap_reorder *r, int64_t before) {
  return release_due(r, before);
}

int spantap_reorder_drain(struct spantap_reorder *r) {
  return release_due(r, INT64_MAX);
}

size_t spantap_reorder_held(const struct spantap_reorder *r) {
  return r->n + r->run_n;
}

const struct spantap_reorder_stats *spantap_reorder_stats(const struct spantap_reorder *r) {
  return &r->stats;
}
