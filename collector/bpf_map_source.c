/* BPF map source (collector/bpf_map_source.h): finds a recording's queue
 * maps through bpf(2) with libbpf and drains them with
 * BPF_MAP_LOOKUP_AND_DELETE_BATCH. A pass reads the counters first, then
 * the stack table, the texts and the queues, so that everything a counter
 * covers was in the maps before they were drained. */
#include "collector/bpf_map_source.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/bpf.h>

#define DEFAULT_MIN_NEW 4096
#define DEFAULT_LATENCY_NS 100000000ull

struct queue {
  struct spantap_queue_desc desc;
  int ctl_fd, q_fd, text_fd;
  __u32 ctl_id;
  struct spantap_queue_decoder *dec;
  uint64_t *counters;
  uint64_t seen; /* sum of the counters at the last pass */
};

struct spantap_bpf_map_source {
  struct spantap_bpf_map_source_opts o;
  unsigned nqueues; /* from the control slots; 0 until a counter map is found */
  unsigned stack_entries;
  struct queue q[SPANTAP_QUEUE_MAX_QUEUES];
  int stack_fd;
  struct spantap_stack_table *stacks;
  bool ready;
  uint64_t last_pass_ns;
  /* batch buffers, sized for the largest map + ncpu */
  uint64_t *keys;
  size_t keys_words;
  uint64_t *vals;
  uint64_t *text_tags;
  char *texts;
  size_t batch_cap;
  struct spantap_bpf_map_source_stats st;
};

static void set_err(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t len, const char *fmt, ...) {
  if (!err || !len)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, len, fmt, ap);
  va_end(ap);
}

int spantap_bpf_map_source_new(const struct spantap_bpf_map_source_opts *opts,
                               struct spantap_bpf_map_source **out) {
  *out = NULL;
  if (!spantap_queue_is_cookie(opts->cookie))
    return -EINVAL;
  struct spantap_bpf_map_source *s = calloc(1, sizeof *s);
  if (!s)
    return -ENOMEM;
  s->o = *opts;
  if (!s->o.ncpu) {
    int n = libbpf_num_possible_cpus();
    if (n < 0) {
      free(s);
      return n;
    }
    s->o.ncpu = (unsigned)n;
  }
  if (s->o.ncpu > SPANTAP_QUEUE_MAX_CPUS) {
    free(s);
    return -EINVAL;
  }
  if (!s->o.min_new)
    s->o.min_new = DEFAULT_MIN_NEW;
  if (!s->o.max_latency_ns)
    s->o.max_latency_ns = DEFAULT_LATENCY_NS;
  s->stack_fd = -1;
  for (unsigned i = 0; i < SPANTAP_QUEUE_MAX_QUEUES; i++)
    s->q[i].ctl_fd = s->q[i].q_fd = s->q[i].text_fd = -1;
  s->stacks = spantap_stack_table_new();
  if (!s->stacks) {
    free(s);
    return -ENOMEM;
  }
  *out = s;
  return 0;
}

void spantap_bpf_map_source_destroy(struct spantap_bpf_map_source *s) {
  if (!s)
    return;
  for (unsigned i = 0; i < SPANTAP_QUEUE_MAX_QUEUES; i++) {
    struct queue *q = &s->q[i];
    if (q->ctl_fd >= 0)
      close(q->ctl_fd);
    if (q->q_fd >= 0)
      close(q->q_fd);
    if (q->text_fd >= 0)
      close(q->text_fd);
    spantap_queue_decoder_destroy(q->dec);
    free(q->counters);
  }
  if (s->stack_fd >= 0)
    close(s->stack_fd);
  spantap_stack_table_destroy(s->stacks);
  free(s->keys);
  free(s->vals);
  free(s->text_tags);
  free(s->texts);
  free(s);
}

static int read_u64(int fd, uint64_t key, uint64_t *v) {
  if (bpf_map_lookup_elem(fd, &key, v) == 0)
    return 0;
  return -errno;
}

/* A counter map of this recording: reads its control slots. Returns 0 when
 * taken (fd kept), 1 when not ours, -EAGAIN when not ready, -EPROTO. */
static int try_counter_map(struct spantap_bpf_map_source *s, int fd, __u32 id, char *err,
                           size_t errlen) {
  uint64_t ctl[SPANTAP_QCTL__COUNT] = {0};
  if (read_u64(fd, SPANTAP_QUEUE_CTL_KEY(SPANTAP_QCTL_COOKIE), &ctl[SPANTAP_QCTL_COOKIE]) < 0 ||
      ctl[SPANTAP_QCTL_COOKIE] != s->o.cookie)
    return 1;
  for (unsigned k = 0; k < SPANTAP_QCTL__COUNT; k++)
    if (read_u64(fd, SPANTAP_QUEUE_CTL_KEY(k), &ctl[k]) < 0)
      ctl[k] = 0;
  struct spantap_queue_desc d;
  int rc = spantap_queue_control_check(ctl, s->o.cookie, s->o.ncpu, &d);
  if (rc == -EPROTO)
    set_err(err, errlen,
            "Failed to accept counter map: map_id=%u version=%llu kind=%llu key_words=%llu "
            "ncpu=%llu (expected version %d, ncpu %u)",
            id, (unsigned long long)ctl[SPANTAP_QCTL_VERSION],
            (unsigned long long)ctl[SPANTAP_QCTL_KIND],
            (unsigned long long)ctl[SPANTAP_QCTL_KEY_WORDS],
            (unsigned long long)ctl[SPANTAP_QCTL_NCPU], SPANTAP_QUEUE_LAYOUT_VERSION, s->o.ncpu);
  if (rc < 0)
    return rc;
  struct queue *q = &s->q[d.id];
  if (q->ctl_fd >= 0)
    return 1; /* already taken */
  if (!q->dec) {
    rc = spantap_queue_decoder_new(&d, s->o.ncpu, s->o.cookie, &q->dec);
    if (rc < 0)
      return rc;
    q->counters = calloc(s->o.ncpu, sizeof *q->counters);
    if (!q->counters)
      return -ENOMEM;
  }
  q->desc = d;
  q->ctl_fd = fd;
  q->ctl_id = id;
  s->nqueues = (unsigned)ctl[SPANTAP_QCTL_NQUEUES];
  s->stack_entries = (unsigned)ctl[SPANTAP_QCTL_STACK_TABLE];
  return 0;
}

/* A queue, text array or stack table of this recording, told by its shape
 * and confirmed by its marker. Returns 0 when taken, 1 when not ours. */
static int try_data_map(struct spantap_bpf_map_source *s, int fd, const struct bpf_map_info *mi) {
  uint64_t key[SPANTAP_QUEUE_MAX_KEY_WORDS + SPANTAP_QUEUE_MAX_DEPTH] = {0};
  uint64_t v8;
  char vs[SPANTAP_QUEUE_TEXT_MAX];
  for (unsigned i = 0; i < s->nqueues; i++) {
    struct queue *q = &s->q[i];
    if (q->ctl_fd < 0 || mi->max_entries != q->desc.capacity)
      continue;
    if (q->q_fd < 0 && mi->key_size == 8 * q->desc.key_words && mi->value_size == 8) {
      memset(key, 0, sizeof key);
      key[0] = s->o.cookie;
      key[1] = q->desc.id;
      if (bpf_map_lookup_elem(fd, key, &v8) == 0) {
        q->q_fd = fd;
        return 0;
      }
    }
    if (q->desc.has_text && q->text_fd < 0 && mi->key_size == 8 &&
        mi->value_size == SPANTAP_QUEUE_TEXT_MAX) {
      uint64_t k = s->o.cookie + q->desc.id;
      if (bpf_map_lookup_elem(fd, &k, vs) == 0) {
        q->text_fd = fd;
        return 0;
      }
    }
  }
  if (s->stack_entries && s->stack_fd < 0 && mi->max_entries == s->stack_entries &&
      mi->key_size == 8 * SPANTAP_QUEUE_STACK_ROW_WORDS && mi->value_size == 8) {
    memset(key, 0, sizeof key);
    key[0] = s->o.cookie;
    key[1] = UINT64_MAX;
    if (bpf_map_lookup_elem(fd, key, &v8) == 0) {
      s->stack_fd = fd;
      return 0;
    }
  }
  return 1;
}

static bool all_found(const struct spantap_bpf_map_source *s) {
  if (!s->nqueues)
    return false;
  for (unsigned i = 0; i < s->nqueues; i++) {
    const struct queue *q = &s->q[i];
    if (q->ctl_fd < 0 || q->q_fd < 0 || (q->desc.has_text && q->text_fd < 0))
      return false;
  }
  return !s->stack_entries || s->stack_fd >= 0;
}

/* One walk over every BPF map id; COUNTERS: look for counter maps, else for
 * the data maps they describe. */
static int scan(struct spantap_bpf_map_source *s, bool counters, char *err, size_t errlen) {
  __u32 id = 0;
  int result = 0;
  for (;;) {
    if (bpf_map_get_next_id(id, &id) < 0) {
      if (errno == ENOENT)
        break;
      int e = errno;
      set_err(err, errlen, "Failed to list BPF maps: after_id=%u: %s", id, strerror(e));
      return -e;
    }
    int fd = bpf_map_get_fd_by_id(id);
    if (fd < 0) {
      if (errno == ENOENT)
        continue; /* gone meanwhile */
      int e = errno;
      set_err(err, errlen, "Failed to open BPF map: map_id=%u: %s", id, strerror(e));
      return -e;
    }
    struct bpf_map_info mi;
    __u32 len = sizeof mi;
    memset(&mi, 0, sizeof mi);
    int rc = 1;
    if (bpf_obj_get_info_by_fd(fd, &mi, &len) == 0 && mi.type == BPF_MAP_TYPE_HASH) {
      if (counters && mi.key_size == 8 && mi.value_size == 8 &&
          mi.max_entries == s->o.ncpu + SPANTAP_QCTL__COUNT)
        rc = try_counter_map(s, fd, id, err, errlen);
      else if (!counters)
        rc = try_data_map(s, fd, &mi);
    }
    if (rc != 0)
      close(fd);
    if (rc == -EPROTO || rc == -ENOMEM)
      return rc;
    if (rc == -EAGAIN)
      result = -EAGAIN;
  }
  return result;
}

/* Room beyond the most elements a map holds at once (max_entries + ncpu): a
 * drain also returns records the probes insert into buckets it has not
 * walked yet (kept for the next pass), and a batch returns whole buckets (a
 * bucket that does not fit the room left fails with ENOSPC). A drain cut
 * short would leave records below the counters in the map, which the pass
 * would count lost, so the room is twice the capacity and a drain that
 * still fills it fails. */
#define BATCH_SLACK 1024

static int alloc_batch(struct spantap_bpf_map_source *s) {
  size_t cap = 0, words = 0;
  for (unsigned i = 0; i < s->nqueues; i++) {
    size_t n = 2 * ((size_t)s->q[i].desc.capacity + s->o.ncpu) + BATCH_SLACK;
    cap = n > cap ? n : cap;
    size_t w = n * s->q[i].desc.key_words;
    words = w > words ? w : words;
  }
  if (s->stack_entries) {
    size_t n = 2 * ((size_t)s->stack_entries + s->o.ncpu) + BATCH_SLACK;
    cap = n > cap ? n : cap;
    size_t w = n * SPANTAP_QUEUE_STACK_ROW_WORDS;
    words = w > words ? w : words;
  }
  s->keys = malloc(words * sizeof *s->keys);
  s->vals = malloc(cap * sizeof *s->vals);
  s->text_tags = malloc(cap * sizeof *s->text_tags);
  s->texts = malloc(cap * SPANTAP_QUEUE_TEXT_MAX);
  if (!s->keys || !s->vals || !s->text_tags || !s->texts)
    return -ENOMEM;
  s->keys_words = words;
  s->batch_cap = cap;
  return 0;
}

int spantap_bpf_map_source_find(struct spantap_bpf_map_source *s, char *err, size_t errlen) {
  if (s->ready)
    return 0;
  int rc = scan(s, true, err, errlen);
  if (rc < 0 && rc != -EAGAIN)
    return rc == -EPERM ? -EPERM : rc;
  if (!s->nqueues || rc == -EAGAIN)
    return -EAGAIN;
  for (unsigned i = 0; i < s->nqueues; i++)
    if (s->q[i].ctl_fd < 0)
      return -EAGAIN;
  rc = scan(s, false, err, errlen);
  if (rc < 0)
    return rc;
  if (!all_found(s))
    return -EAGAIN;
  rc = alloc_batch(s);
  if (rc < 0)
    return rc;
  s->ready = true;
  return 0;
}

/* Drains map FD into KEYS (KEY_SIZE bytes each) and VALS (VALUE_SIZE each),
 * at most s->batch_cap elements. Returns the number of elements, or -errno. */
static long drain(struct spantap_bpf_map_source *s, int fd, void *keys, size_t key_size, void *vals,
                  size_t value_size, char *err, size_t errlen) {
  size_t got = 0;
  uint64_t in_batch = 0, out_batch = 0;
  bool first = true, ended = false;
  LIBBPF_OPTS(bpf_map_batch_opts, opts);
  while (got < s->batch_cap) {
    __u32 count = (__u32)(s->batch_cap - got);
    int rc = bpf_map_lookup_and_delete_batch(fd, first ? NULL : &in_batch, &out_batch,
                                             (char *)keys + got * key_size,
                                             (char *)vals + got * value_size, &count, &opts);
    int e = rc < 0 ? errno : 0;
    got += count;
    if (rc < 0 && e == ENOENT) {
      ended = true; /* the end of the map */
      break;
    }
    if (rc < 0) {
      set_err(err, errlen, "Failed to drain BPF map: fd=%d got=%zu: %s", fd, got, strerror(e));
      return -e;
    }
    in_batch = out_batch;
    first = false;
  }
  if (!ended) {
    set_err(err, errlen, "Failed to drain BPF map: fd=%d got=%zu: more than the room for a pass",
            fd, got);
    return -ENOSPC;
  }
  return (long)got;
}

static int read_counters(struct spantap_bpf_map_source *s, struct queue *q, char *err,
                         size_t errlen) {
  for (unsigned c = 0; c < s->o.ncpu; c++) {
    int rc = read_u64(q->ctl_fd, c, &q->counters[c]);
    if (rc == -ENOENT)
      q->counters[c] = 0; /* no record on that CPU yet */
    else if (rc < 0) {
      set_err(err, errlen, "Failed to read counter: queue=%u cpu=%u: %s", q->desc.id, c,
              strerror(-rc));
      return rc;
    }
  }
  return 0;
}

int spantap_bpf_map_source_poll(struct spantap_bpf_map_source *s, uint64_t now_ns, bool final,
                                spantap_queue_record_fn fn, void *ctx, char *err, size_t errlen) {
  if (!s->ready)
    return -EINVAL;
  uint64_t fresh = 0;
  for (unsigned i = 0; i < s->nqueues; i++) {
    struct queue *q = &s->q[i];
    int rc = read_counters(s, q, err, errlen);
    if (rc < 0)
      return rc;
    uint64_t sum = 0;
    for (unsigned c = 0; c < s->o.ncpu; c++)
      sum += q->counters[c];
    fresh += sum - q->seen;
  }
  if (!final &&
      (fresh == 0 || (fresh < s->o.min_new && now_ns - s->last_pass_ns < s->o.max_latency_ns)))
    return 0;
  s->last_pass_ns = now_ns;
  s->st.passes++;
  if (s->stack_fd >= 0) {
    long n =
        drain(s, s->stack_fd, s->keys, 8 * SPANTAP_QUEUE_STACK_ROW_WORDS, s->vals, 8, err, errlen);
    if (n < 0)
      return (int)n;
    int rc = spantap_stack_table_add(s->stacks, s->keys, (size_t)n, s->o.cookie, &s->st.stacks);
    if (rc < 0) {
      set_err(err, errlen, "Failed to take stack chunks: rows=%ld: %s", n, strerror(-rc));
      return rc;
    }
  }
  uint64_t delivered = 0, most = 0;
  for (unsigned i = 0; i < s->nqueues; i++) {
    struct queue *q = &s->q[i];
    uint64_t made = 0;
    for (unsigned c = 0; c < s->o.ncpu; c++)
      made += q->counters[c];
    /* a pass walks every bucket of a map: a queue whose counters did not
     * move and that holds nothing kept has nothing below them to deliver */
    if (!final && made == q->seen && !spantap_queue_decoder_stats(q->dec)->kept)
      continue;
    long nt = 0;
    if (q->text_fd >= 0) {
      nt = drain(s, q->text_fd, s->text_tags, 8, s->texts, SPANTAP_QUEUE_TEXT_MAX, err, errlen);
      if (nt < 0)
        return (int)nt;
    }
    long n = drain(s, q->q_fd, s->keys, 8 * (size_t)q->desc.key_words, s->vals, 8, err, errlen);
    if (n < 0)
      return (int)n;
    uint64_t before = spantap_queue_decoder_stats(q->dec)->delivered;
    int rc = spantap_queue_decode_pass(q->dec, q->counters, s->keys, (size_t)n, s->text_tags,
                                       s->texts, (size_t)nt, s->stacks, fn, ctx);
    uint64_t got = spantap_queue_decoder_stats(q->dec)->delivered - before;
    delivered += got;
    most = got > most ? got : most;
    if (rc < 0) {
      set_err(err, errlen, "Failed to decode queue: queue=%u kind=%s keys=%ld: %s", q->desc.id,
              spantap_record_desc_get(q->desc.kind)->tag, n, strerror(-rc));
      return rc;
    }
    if (rc > 0)
      return rc; /* the callback's own stop */
    uint64_t sum = 0;
    for (unsigned c = 0; c < s->o.ncpu; c++)
      sum += q->counters[c];
    q->seen = sum;
  }
  if (most > s->st.records_per_pass_max)
    s->st.records_per_pass_max = most;
  return delivered > INT32_MAX ? INT32_MAX : (int)delivered;
}

void spantap_bpf_map_source_stats(const struct spantap_bpf_map_source *s,
                                  struct spantap_bpf_map_source_stats *out) {
  *out = s->st;
  memset(&out->q, 0, sizeof out->q);
  for (unsigned i = 0; i < s->nqueues; i++) {
    if (!s->q[i].dec)
      continue;
    const struct spantap_queue_stats *q = spantap_queue_decoder_stats(s->q[i].dec);
    out->q.delivered += q->delivered;
    out->q.lost += q->lost;
    out->q.kept += q->kept;
    out->q.duplicates += q->duplicates;
    out->q.malformed += q->malformed;
    out->q.markers += q->markers;
    out->q.missing_text += q->missing_text;
    out->q.missing_stack += q->missing_stack;
  }
}

int spantap_bpf_map_source_queue(const struct spantap_bpf_map_source *s, unsigned i,
                                 struct spantap_queue_desc *desc, struct spantap_queue_stats *st) {
  if (i >= s->nqueues || !s->q[i].dec)
    return -ENOENT;
  *desc = s->q[i].desc;
  *st = *spantap_queue_decoder_stats(s->q[i].dec);
  return 0;
}

bool spantap_bpf_map_source_attached(const struct spantap_bpf_map_source *s) {
  if (s->nqueues == 0 || s->q[0].ctl_fd < 0)
    return false;
  __u32 pid = 0;
  while (bpf_prog_get_next_id(pid, &pid) == 0) {
    int fd = bpf_prog_get_fd_by_id(pid);
    if (fd < 0)
      continue;
    __u32 ids[64];
    struct bpf_prog_info pi;
    memset(&pi, 0, sizeof pi);
    pi.nr_map_ids = 64;
    pi.map_ids = (__u64)(uintptr_t)ids;
    __u32 len = sizeof pi;
    bool uses = false;
    if (bpf_obj_get_info_by_fd(fd, &pi, &len) == 0)
      for (__u32 k = 0; k < pi.nr_map_ids && k < 64; k++)
        if (ids[k] == s->q[0].ctl_id)
          uses = true;
    close(fd);
    if (uses)
      return true;
  }
  return false;
}
