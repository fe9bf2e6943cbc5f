/* Process mirror: a pid-keyed hash of the live traced processes (with
 * tombstones, so exits free memory) and their mappings, sorted for binary
 * search on every stack frame. */
#include "collector/proc_mirror.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOMBSTONE ((struct spantap_process *)1)

struct spantap_proc_mirror {
  struct spantap_process **slots;
  size_t nslots, used; /* used counts live entries and tombstones */
};

struct spantap_proc_mirror *spantap_proc_mirror_new(void) {
  struct spantap_proc_mirror *m = calloc(1, sizeof *m);
  if (!m)
    return NULL;
  m->nslots = 256;
  m->slots = calloc(m->nslots, sizeof *m->slots);
  if (!m->slots) {
    free(m);
    return NULL;
  }
  return m;
}

static void process_free(struct spantap_process *p) {
  free(p->exe);
  free(p->maps);
  free(p);
}

void spantap_proc_mirror_destroy(struct spantap_proc_mirror *m) {
  if (!m)
    return;
  for (size_t i = 0; i < m->nslots; i++)
    if (m->slots[i] && m->slots[i] != TOMBSTONE)
      process_free(m->slots[i]);
  free(m->slots);
  free(m);
}

static size_t slot_of(int64_t pid, size_t n) {
  return ((uint64_t)pid * 0x9e3779b97f4a7c15ULL) >> 7 & (n - 1);
}

static int rehash(struct spantap_proc_mirror *m, size_t n) {
  struct spantap_process **s = calloc(n, sizeof *s);
  if (!s)
    return -ENOMEM;
  size_t used = 0;
  for (size_t i = 0; i < m->nslots; i++) {
    struct spantap_process *p = m->slots[i];
    if (!p || p == TOMBSTONE)
      continue;
    size_t j = slot_of(p->pid, n);
    while (s[j])
      j = (j + 1) & (n - 1);
    s[j] = p;
    used++;
  }
  free(m->slots);
  m->slots = s;
  m->nslots = n;
  m->used = used;
  return 0;
}

struct spantap_process *spantap_proc_mirror_get(struct spantap_proc_mirror *m, int64_t pid,
                                                bool create) {
  size_t i = slot_of(pid, m->nslots), free_slot = SIZE_MAX;
  while (m->slots[i]) {
    if (m->slots[i] == TOMBSTONE) {
      if (free_slot == SIZE_MAX)
        free_slot = i;
    } else if (m->slots[i]->pid == pid) {
      return m->slots[i];
    }
    i = (i + 1) & (m->nslots - 1);
  }
  if (!create)
    return NULL;
  struct spantap_process *p = calloc(1, sizeof *p);
  if (!p)
    return NULL;
  p->pid = pid;
  p->exit_status = -1;
  if (free_slot != SIZE_MAX) {
    m->slots[free_slot] = p;
  } else {
    m->slots[i] = p;
    m->used++;
  }
  if (m->used * 2 > m->nslots && rehash(m, m->nslots * 2) < 0)
    return p; /* still stored; the table is merely fuller */
  return p;
}

void spantap_proc_mirror_remove(struct spantap_proc_mirror *m, int64_t pid) {
  size_t i = slot_of(pid, m->nslots);
  while (m->slots[i]) {
    if (m->slots[i] != TOMBSTONE && m->slots[i]->pid == pid) {
      process_free(m->slots[i]);
      m->slots[i] = TOMBSTONE;
      return;
    }
    i = (i + 1) & (m->nslots - 1);
  }
}

void spantap_proc_mirror_foreach(struct spantap_proc_mirror *m,
                                 void (*fn)(struct spantap_process *p, void *ctx), void *ctx) {
  for (size_t i = 0; i < m->nslots; i++)
    if (m->slots[i] && m->slots[i] != TOMBSTONE)
      fn(m->slots[i], ctx);
}

static int by_start(const void *a, const void *b) {
  const struct spantap_mapping *x = a, *y = b;
  return x->start < y->start ? -1 : x->start > y->start;
}

int spantap_process_set_maps(struct spantap_process *p, const struct spantap_mapping *maps,
                             size_t n) {
  struct spantap_mapping *copy = NULL;
  if (n) {
    copy = malloc(n * sizeof *copy);
    if (!copy)
      return -ENOMEM;
    memcpy(copy, maps, n * sizeof *copy);
    qsort(copy, n, sizeof *copy, by_start);
  }
  free(p->maps);
  p->maps = copy;
  p->nmaps = n;
  return 0;
}

int spantap_process_add_mapping(struct spantap_process *p, const struct spantap_mapping *m) {
  struct spantap_mapping *all = malloc((p->nmaps + 1) * sizeof *all);
  if (!all)
    return -ENOMEM;
  size_t n = 0;
  for (size_t i = 0; i < p->nmaps; i++)
    if (p->maps[i].end <= m->start || p->maps[i].start >= m->end)
      all[n++] = p->maps[i];
  all[n++] = *m;
  int rc = spantap_process_set_maps(p, all, n);
  free(all);
  return rc;
}

const struct spantap_mapping *spantap_process_find_mapping(const struct spantap_process *p,
                                                           uint64_t addr) {
  size_t lo = 0, hi = p->nmaps;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (addr < p->maps[mid].start)
      hi = mid;
    else if (addr >= p->maps[mid].end)
      lo = mid + 1;
    else
      return &p->maps[mid];
  }
  return NULL;
}

int spantap_proc_maps_parse_line(char *line, struct spantap_maps_entry *e) {
  /* start-end perms offset dev inode [path] */
  int pos = 0;
  unsigned long long start, end, off, ino;
  char perms[8];
  if (sscanf(line, "%llx-%llx %7s %llx %*s %llu %n", &start, &end, perms, &off, &ino, &pos) < 5 ||
      strlen(perms) != 4)
    return -EINVAL;
  e->start = start;
  e->end = end;
  e->pgoff = off;
  e->ino = ino;
  memcpy(e->perms, perms, 5);
  e->path = pos > 0 ? line + pos : "";
  return 0;
}

int spantap_proc_maps_read(int64_t pid, int (*fn)(const struct spantap_maps_entry *e, void *ctx),
                           void *ctx) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%" PRId64 "/maps", pid);
  FILE *f = fopen(path, "re");
  if (!f)
    return -errno;
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  int n = 0, rc = 0;
  while ((len = getline(&line, &cap, f)) > 0) {
    if (line[len - 1] == '\n')
      line[len - 1] = '\0';
    struct spantap_maps_entry e;
    if (spantap_proc_maps_parse_line(line, &e) < 0)
      continue;
    rc = fn(&e, ctx);
    if (rc < 0)
      break;
    n++;
  }
  free(line);
  fclose(f);
  return rc < 0 ? rc : n;
}
