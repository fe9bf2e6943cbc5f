/* BTF -> DECLARE_TRACE generator. Argument types come from each
 * btf_trace_<event> typedef; argument names from __probestub_<event> (exact,
 * kernels >= 6.4) or the __bpf_trace_<class> function of the event's class. */
#include "runtime/report.h"
#include "runtime/tracepoint_headers.h"

#include <bpf/btf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TYPEDEF_PREFIX "btf_trace_"
#define STUB_PREFIX "__probestub_"
#define CLASS_PREFIX "__bpf_trace_"

struct named_proto {
  const char *name; /* without prefix; points into the BTF string section */
  __u32 proto_id;   /* FUNC_PROTO type id */
};

/* Growable text buffer fed by btf_dump's printf callback. */
struct text_buf {
  char *s;
  size_t len, cap;
  bool oom;
};

struct spantap_tp_index {
  const struct btf *btf;
  struct btf_dump *dump;
  struct text_buf *buf;
  struct named_proto *events, *stubs, *classes;
  size_t n_events, n_stubs, n_classes;
};

static int buf_vappend(struct text_buf *b, const char *fmt, va_list ap) {
  va_list ap2;
  int n;

  va_copy(ap2, ap);
  n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0)
    return -EINVAL;
  if (b->len + (size_t)n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    char *p;

    while (b->len + (size_t)n + 1 > cap)
      cap *= 2;
    p = realloc(b->s, cap);
    if (!p) {
      b->oom = true;
      return -ENOMEM;
    }
    b->s = p;
    b->cap = cap;
  }
  vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
  b->len += (size_t)n;
  return 0;
}

static int buf_append(struct text_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int buf_append(struct text_buf *b, const char *fmt, ...) {
  va_list ap;
  int rc;

  va_start(ap, fmt);
  rc = buf_vappend(b, fmt, ap);
  va_end(ap);
  return rc;
}

static void buf_reset(struct text_buf *b) {
  b->len = 0;
  b->oom = false;
  if (b->s)
    b->s[0] = '\0';
}

static void dump_printf(void *ctx, const char *fmt, va_list ap) {
  buf_vappend(ctx, fmt, ap);
}

static int cmp_named(const void *a, const void *b) {
  return strcmp(((const struct named_proto *)a)->name, ((const struct named_proto *)b)->name);
}

static const struct named_proto *find_named(const struct named_proto *arr, size_t n,
                                            const char *name) {
  struct named_proto key = {.name = name};

  return bsearch(&key, arr, n, sizeof(*arr), cmp_named);
}

static int push_named(struct named_proto **arr, size_t *n, size_t *cap, const char *name,
                      __u32 proto_id) {
  if (*n == *cap) {
    size_t ncap = *cap ? *cap * 2 : 512;
    struct named_proto *p = realloc(*arr, ncap * sizeof(**arr));

    if (!p)
      return -ENOMEM;
    *arr = p;
    *cap = ncap;
  }
  (*arr)[*n].name = name;
  (*arr)[*n].proto_id = proto_id;
  (*n)++;
  return 0;
}

struct spantap_tp_index *spantap_tp_index_new(const struct btf *btf, char *err, size_t errlen) {
  struct spantap_tp_index *idx;
  size_t cap_e = 0, cap_s = 0, cap_c = 0;
  __u32 n = btf__type_cnt(btf);
  int rc = 0;

  idx = calloc(1, sizeof(*idx));
  if (!idx || !(idx->buf = calloc(1, sizeof(*idx->buf)))) {
    free(idx);
    spantap_set_err(err, errlen, "Failed to allocate tracepoint index: errno=%d", ENOMEM);
    errno = ENOMEM;
    return NULL;
  }
  idx->btf = btf;
  for (__u32 id = 1; id < n && rc == 0; id++) {
    const struct btf_type *t = btf__type_by_id(btf, id);
    const char *name = btf__name_by_offset(btf, t->name_off);

    if (!name || !*name)
      continue;
    if (btf_is_typedef(t) && strncmp(name, TYPEDEF_PREFIX, strlen(TYPEDEF_PREFIX)) == 0) {
      const struct btf_type *ptr = btf__type_by_id(btf, t->type);

      if (!ptr || !btf_is_ptr(ptr))
        continue;
      const struct btf_type *proto = btf__type_by_id(btf, ptr->type);
      if (!proto || !btf_is_func_proto(proto))
        continue;
      rc = push_named(&idx->events, &idx->n_events, &cap_e, name + strlen(TYPEDEF_PREFIX),
                      ptr->type);
    } else if (btf_is_func(t)) {
      const struct btf_type *proto = btf__type_by_id(btf, t->type);

      if (!proto || !btf_is_func_proto(proto))
        continue;
      if (strncmp(name, STUB_PREFIX, strlen(STUB_PREFIX)) == 0)
        rc = push_named(&idx->stubs, &idx->n_stubs, &cap_s, name + strlen(STUB_PREFIX), t->type);
      else if (strncmp(name, CLASS_PREFIX, strlen(CLASS_PREFIX)) == 0)
        rc = push_named(&idx->classes, &idx->n_classes, &cap_c, name + strlen(CLASS_PREFIX),
                        t->type);
    }
  }
  if (rc == 0) {
    idx->dump = btf_dump__new(btf, dump_printf, idx->buf, NULL);
    if (!idx->dump)
      rc = errno ? -errno : -ENOMEM;
  }
  if (rc != 0) {
    spantap_set_err(err, errlen, "Failed to index BTF tracepoints: types=%u errno=%d", n, -rc);
    spantap_tp_index_free(idx);
    errno = -rc;
    return NULL;
  }
  qsort(idx->events, idx->n_events, sizeof(*idx->events), cmp_named);
  qsort(idx->stubs, idx->n_stubs, sizeof(*idx->stubs), cmp_named);
  qsort(idx->classes, idx->n_classes, sizeof(*idx->classes), cmp_named);
  return idx;
}

void spantap_tp_index_free(struct spantap_tp_index *idx) {
  if (!idx)
    return;
  if (idx->dump)
    btf_dump__free(idx->dump);
  if (idx->buf)
    free(idx->buf->s);
  free(idx->buf);
  free(idx->events);
  free(idx->stubs);
  free(idx->classes);
  free(idx);
}

size_t spantap_tp_index_count(const struct spantap_tp_index *idx) {
  return idx ? idx->n_events : 0;
}

const char *spantap_tp_index_name(const struct spantap_tp_index *idx, size_t i) {
  return idx && i < idx->n_events ? idx->events[i].name : NULL;
}

/* True when prototype NAMED (first parameter void *__data) takes exactly the
 * argument types of the tracepoint prototype TP (first parameter void *). */
static bool same_args(const struct btf *btf, __u32 tp_proto, __u32 named_proto) {
  const struct btf_type *a = btf__type_by_id(btf, tp_proto);
  const struct btf_type *b = btf__type_by_id(btf, named_proto);
  const struct btf_param *pa, *pb;

  if (btf_vlen(a) != btf_vlen(b))
    return false;
  pa = btf_params(a);
  pb = btf_params(b);
  for (unsigned i = 1; i < btf_vlen(a); i++)
    if (pa[i].type != pb[i].type)
      return false;
  return true;
}

static size_t common_prefix(const char *a, const char *b) {
  size_t n = 0;

  while (a[n] && a[n] == b[n])
    n++;
  return n;
}

/* The prototype carrying EVENT's parameter names, or 0 when none matches. */
static __u32 names_proto(const struct spantap_tp_index *idx, const struct named_proto *ev) {
  const struct named_proto *p, *best = NULL;
  size_t best_len = 0;

  p = find_named(idx->stubs, idx->n_stubs, ev->name);
  if (p && same_args(idx->btf, ev->proto_id, p->proto_id))
    return p->proto_id;
  p = find_named(idx->classes, idx->n_classes, ev->name);
  if (p && same_args(idx->btf, ev->proto_id, p->proto_id))
    return p->proto_id;
  /* DEFINE_EVENT of a class named differently: the class with the same
   * argument types whose name shares the longest prefix with the event. */
  for (size_t i = 0; i < idx->n_classes; i++) {
    size_t len;

    p = &idx->classes[i];
    if (!same_args(idx->btf, ev->proto_id, p->proto_id))
      continue;
    len = common_prefix(p->name, ev->name);
    if (!best || len > best_len || (len == best_len && strlen(p->name) < strlen(best->name))) {
      best = p;
      best_len = len;
    }
  }
  return best ? best->proto_id : 0;
}

/* Appends "TYPE NAME" for one parameter to OUT. Function pointers (whose
 * commas would break stap's FIELDS() macro), arrays (which decay to pointers
 * in a parameter list) and anonymous aggregates become "void *NAME". */
static int append_param(const struct spantap_tp_index *idx, __u32 type_id, const char *name,
                        struct text_buf *out) {
  LIBBPF_OPTS(btf_dump_emit_type_decl_opts, opts, .field_name = name);
  struct text_buf *b = idx->buf;
  int rc;

  buf_reset(b);
  rc = btf_dump__emit_type_decl(idx->dump, type_id, &opts);
  if (rc < 0)
    return rc;
  if (b->oom)
    return -ENOMEM;
  if (!b->s || strpbrk(b->s, "([{\n"))
    return buf_append(out, "void *%s", name);
  return buf_append(out, "%s", b->s);
}

int spantap_tp_declare_trace(const struct spantap_tp_index *idx, const char *event, char **out,
                             char *err, size_t errlen) {
  const struct named_proto *ev = find_named(idx->events, idx->n_events, event);
  const struct btf_type *tp, *np;
  const struct btf_param *tparams, *nparams;
  struct text_buf line = {0};
  char argname[32];
  unsigned nargs;
  __u32 names_id;
  int rc = 0;

  *out = NULL;
  if (!ev) {
    spantap_set_err(err, errlen, "Failed to find tracepoint in BTF: typedef=" TYPEDEF_PREFIX "%s",
                    event);
    return -ENOENT;
  }
  tp = btf__type_by_id(idx->btf, ev->proto_id);
  nargs = btf_vlen(tp) ? btf_vlen(tp) - 1 : 0;
  if (nargs == 0) {
    rc = buf_append(&line, "struct stapprobe_%s { struct { } data; } stapprobe_%s;", event, event);
    goto done;
  }
  if (nargs > SPANTAP_TP_MAX_ARGS) {
    spantap_set_err(err, errlen, "Failed to declare tracepoint: event=%s args=%u max=%d", event,
                    nargs, SPANTAP_TP_MAX_ARGS);
    return -ENOTSUP;
  }
  names_id = names_proto(idx, ev);
  if (!names_id) {
    spantap_set_err(err, errlen,
                    "Failed to find parameter names for tracepoint: event=%s (no " STUB_PREFIX
                    "%s or matching " CLASS_PREFIX "<class>)",
                    event, event);
    return -ENOTSUP;
  }
  np = btf__type_by_id(idx->btf, names_id);
  tparams = btf_params(tp);
  nparams = btf_params(np);

  rc = buf_append(&line, "DECLARE_TRACE(%s, PARAMS(", event);
  for (unsigned i = 1; i <= nargs && rc == 0; i++) {
    const char *name = btf__name_by_offset(idx->btf, nparams[i].name_off);

    if (!name || !*name) {
      snprintf(argname, sizeof(argname), "arg%u", i - 1);
      name = argname;
    }
    if (i > 1)
      rc = buf_append(&line, ", ");
    if (rc == 0)
      rc = append_param(idx, tparams[i].type, name, &line);
  }
  if (rc == 0)
    rc = buf_append(&line, "), PARAMS(");
  for (unsigned i = 1; i <= nargs && rc == 0; i++) {
    const char *name = btf__name_by_offset(idx->btf, nparams[i].name_off);

    if (!name || !*name) {
      snprintf(argname, sizeof(argname), "arg%u", i - 1);
      name = argname;
    }
    rc = buf_append(&line, "%s%s", i > 1 ? ", " : "", name);
  }
  if (rc == 0)
    rc = buf_append(&line, "))");
done:
  if (rc != 0) {
    free(line.s);
    spantap_set_err(err, errlen, "Failed to format tracepoint declaration: event=%s errno=%d",
                    event, -rc);
    return rc;
  }
  *out = line.s;
  return 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

struct str_list {
  char **v;
  size_t n, cap;
};

static int list_push(struct str_list *l, const char *s) {
  if (l->n == l->cap) {
    size_t ncap = l->cap ? l->cap * 2 : 64;
    char **p = realloc(l->v, ncap * sizeof(*p));

    if (!p)
      return -ENOMEM;
    l->v = p;
    l->cap = ncap;
  }
  if (!(l->v[l->n] = strdup(s)))
    return -ENOMEM;
  l->n++;
  return 0;
}

static void list_free(struct str_list *l) {
  for (size_t i = 0; i < l->n; i++)
    free(l->v[i]);
  free(l->v);
  l->v = NULL;
  l->n = l->cap = 0;
}

/* Subdirectory names of DIR, sorted. */
static int list_subdirs(const char *dir, struct str_list *out) {
  DIR *d = opendir(dir);
  struct dirent *de;
  int rc = 0;

  if (!d)
    return -errno;
  while (rc == 0 && (de = readdir(d))) {
    struct stat sb;

    if (de->d_name[0] == '.')
      continue;
    if (de->d_type == DT_DIR || (de->d_type == DT_UNKNOWN &&
                                 fstatat(dirfd(d), de->d_name, &sb, 0) == 0 && S_ISDIR(sb.st_mode)))
      rc = list_push(out, de->d_name);
  }
  closedir(d);
  if (rc == 0)
    qsort(out->v, out->n, sizeof(*out->v), cmp_str);
  return rc;
}

/* Writes OUT_DIR/SYSTEM.h declaring EVENTS (names of indexed tracepoints). */
static int write_system(const struct spantap_tp_index *idx, const char *out_dir, const char *system,
                        char **events, size_t n, struct spantap_tp_stats *st, char *err,
                        size_t errlen) {
  char path[4096], msg[256];
  FILE *f;
  int rc = 0;

  if (snprintf(path, sizeof(path), "%s/%s.h", out_dir, system) >= (int)sizeof(path)) {
    spantap_set_err(err, errlen, "Failed to build header path: dir=%s system=%s errno=%d", out_dir,
                    system, ENAMETOOLONG);
    return -ENAMETOOLONG;
  }
  f = fopen(path, "w");
  if (!f) {
    rc = -errno;
    spantap_set_err(err, errlen, "Failed to create tracepoint header: path=%s errno=%d", path, -rc);
    return rc;
  }
  fprintf(f,
          "/* Generated by spantap setup from the running kernel's BTF. */\n"
          "#undef TRACE_SYSTEM\n#define TRACE_SYSTEM %s\n\n",
          system);
  for (size_t i = 0; i < n; i++) {
    char *decl = NULL;
    int drc = spantap_tp_declare_trace(idx, events[i], &decl, msg, sizeof(msg));

    if (drc == -ENOMEM) {
      rc = drc;
      spantap_set_err(err, errlen, "%s", msg);
      break;
    }
    if (drc < 0) {
      fprintf(f, "/* skipped %s: %s */\n", events[i], msg);
      st->skipped++;
      continue;
    }
    fprintf(f, "%s\n", decl);
    free(decl);
    st->events++;
  }
  if (fclose(f) != 0 && rc == 0) {
    rc = -errno;
    spantap_set_err(err, errlen, "Failed to write tracepoint header: path=%s errno=%d", path, -rc);
  }
  if (rc == 0)
    st->systems++;
  return rc;
}

int spantap_tp_write_headers(const struct spantap_tp_index *idx, const char *events_dir,
                             const char *out_dir, struct spantap_tp_stats *stats, char *err,
                             size_t errlen) {
  struct spantap_tp_stats st = {0};
  struct str_list systems = {0}, evs = {0}, orphans = {0};
  bool *placed = calloc(idx->n_events ? idx->n_events : 1, sizeof(bool));
  char path[4096];
  int rc;

  if (!placed) {
    spantap_set_err(err, errlen, "Failed to allocate tracepoint table: events=%zu errno=%d",
                    idx->n_events, ENOMEM);
    return -ENOMEM;
  }
  rc = list_subdirs(events_dir, &systems);
  if (rc < 0) {
    spantap_set_err(err, errlen, "Failed to list tracefs systems: dir=%s errno=%d", events_dir,
                    -rc);
    goto out;
  }
  for (size_t s = 0; s < systems.n && rc == 0; s++) {
    if (snprintf(path, sizeof(path), "%s/%s", events_dir, systems.v[s]) >= (int)sizeof(path))
      continue;
    list_free(&evs);
    if (list_subdirs(path, &evs) < 0)
      continue;
    /* Keep only tracepoints BTF knows (ftrace-only events have no raw tracepoint). */
    size_t keep = 0;
    for (size_t i = 0; i < evs.n; i++) {
      const struct named_proto *p = find_named(idx->events, idx->n_events, evs.v[i]);

      if (p) {
        placed[p - idx->events] = true;
        evs.v[keep++] = evs.v[i];
      } else {
        free(evs.v[i]);
      }
    }
    evs.n = keep;
    if (keep)
      rc = write_system(idx, out_dir, systems.v[s], evs.v, evs.n, &st, err, errlen);
  }
  for (size_t i = 0; i < idx->n_events && rc == 0; i++) {
    if (placed[i])
      continue;
    rc = list_push(&orphans, idx->events[i].name);
    if (rc < 0)
      spantap_set_err(err, errlen, "Failed to allocate tracepoint list: errno=%d", -rc);
  }
  if (rc == 0 && orphans.n) {
    st.btf_only = (unsigned)orphans.n;
    rc = write_system(idx, out_dir, "btf_only", orphans.v, orphans.n, &st, err, errlen);
  }
out:
  list_free(&systems);
  list_free(&evs);
  list_free(&orphans);
  free(placed);
  if (stats)
    *stats = st;
  return rc;
}
