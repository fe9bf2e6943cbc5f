/* spantap-accuracy: scores the request spans spantap derived (a recording's
 * spans table) against the ground truth the demo services wrote, for the
 * spans themselves (one-to-one matching by process, connection ports and
 * times) and for the parent links between tiers. See docs/demo.md. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXIT_BELOW_MIN 1
#define EXIT_BAD_INPUT 2
#define VERBOSE_LIMIT 10

static const char usage[] =
    "Usage: spantap-accuracy [OPTIONS] DB TRUTH_DIR\n"
    "Scores the spans of a spantap recording DB against the ground truth the demo\n"
    "services wrote to TRUTH_DIR (front.csv, middle.csv, store.csv).\n"
    "  --min X             exit 1 unless span and link precision and recall all\n"
    "                      reach X (0..1); without it, only print\n"
    "  --tolerance-us N    slack on each bound a span must fall within\n"
    "                      (default 2000)\n"
    "  --verbose           list up to 10 unmatched truth requests, unmatched spans\n"
    "                      and missed links\n"
    "Exit status: 0 scored (and at or above --min), 1 below --min, 2 bad input.\n";

enum service { FRONT, MIDDLE, STORE, SERVICE_COUNT };
static const char *const service_names[SERVICE_COUNT] = {"demo_front", "demo_middle", "demo_store"};
static const char *const truth_files[SERVICE_COUNT] = {"front.csv", "middle.csv", "store.csv"};
static const char truth_header[] = "service,pid,tid,local_port,remote_port,trace_id,request_id,"
                                   "parent_request_id,start_ns,end_ns";

struct truth_request {
  enum service service;
  uint32_t pid, tid;
  int32_t local_port, remote_port;
  uint64_t trace_id, request_id, parent_request_id;
  int64_t start_ns, end_ns;
  const struct span *match;
};

struct span {
  int64_t id, trace_id, parent_id; /* parent_id 0 when NULL */
  bool server;
  int service; /* enum service, or -1 for other executables */
  uint32_t pid, tid;
  int32_t local_port, remote_port; /* -1 without a connection */
  int64_t start_ns, end_ns;
  const struct truth_request *match;
};

struct scores {
  size_t derived[SERVICE_COUNT], truth[SERVICE_COUNT], matched[SERVICE_COUNT];
  size_t spans_derived, spans_truth, spans_matched;
  size_t links_derived, links_truth, links_correct;
};

/* Makes room for one more element in ARRAY (COUNT used of CAPACITY), growing
 * it by doubling; false when out of memory (the program then gives up). */
#define GROW(array, count, capacity)                                                               \
  ((count) < (capacity) || ((capacity) = (capacity) ? (capacity)*2 : 1024,                         \
                            (array) = realloc((array), (capacity) * sizeof *(array))) != NULL)

/* Loads TRUTH_DIR/<file of SERVICE> and appends its requests to *OUT. Returns
 * 0, or -1 after printing which file and line were wrong. */
static int load_truth_file(const char *dir, enum service service, struct truth_request **out,
                           size_t *count, size_t *capacity) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, truth_files[service]);
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "spantap-accuracy: Failed to open the truth file: path=%s errno=%d (%s)\n",
            path, errno, strerror(errno));
    return -1;
  }
  char line[1024];
  size_t line_no = 0;
  int rc = 0;
  while (fgets(line, sizeof line, f)) {
    line_no++;
    line[strcspn(line, "\r\n")] = '\0';
    if (line_no == 1) {
      if (strcmp(line, truth_header) != 0) {
        fprintf(stderr,
                "spantap-accuracy: Truth file has the wrong header: path=%s header='%s' "
                "expected='%s'\n",
                path, line, truth_header);
        rc = -1;
        break;
      }
      continue;
    }
    if (!line[0])
      continue;
    if (!GROW(*out, *count, *capacity)) {
      fprintf(stderr, "spantap-accuracy: Out of memory loading truth: path=%s line=%zu\n", path,
              line_no);
      rc = -1;
      break;
    }
    struct truth_request *t = &(*out)[*count];
    char name[64];
    int consumed = 0;
    int fields = sscanf(line,
                        "%63[^,],%" SCNu32 ",%" SCNu32 ",%" SCNd32 ",%" SCNd32 ",%" SCNu64
                        ",%" SCNu64 ",%" SCNu64 ",%" SCNd64 ",%" SCNd64 "%n",
                        name, &t->pid, &t->tid, &t->local_port, &t->remote_port, &t->trace_id,
                        &t->request_id, &t->parent_request_id, &t->start_ns, &t->end_ns, &consumed);
    if (fields != 10 || line[consumed] != '\0' || strcmp(name, service_names[service]) != 0) {
      fprintf(stderr,
              "spantap-accuracy: Malformed truth line: path=%s line=%zu text='%s' "
              "(expected service %s and 10 fields)\n",
              path, line_no, line, service_names[service]);
      rc = -1;
      break;
    }
    t->service = service;
    t->match = NULL;
    (*count)++;
  }
  if (rc == 0 && line_no == 0) {
    fprintf(stderr, "spantap-accuracy: Truth file is empty (no header): path=%s\n", path);
    rc = -1;
  }
  fclose(f);
  return rc;
}

/* Returns the enum service of the executable NAME, or -1. */
static int service_of(const char *name) {
  for (int i = 0; i < SERVICE_COUNT; i++)
    if (name && strcmp(name, service_names[i]) == 0)
      return i;
  return -1;
}

/* Loads every span of the recording DB, ordered by id. Returns 0, or -1
 * after printing what was wrong with the file. */
static int load_spans(const char *path, struct span **out, size_t *count) {
  if (access(path, R_OK) != 0) {
    fprintf(stderr, "spantap-accuracy: Cannot read the database: path=%s errno=%d (%s)\n", path,
            errno, strerror(errno));
    return -1;
  }
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  int rc = -1;
  size_t capacity = 0;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
    fprintf(stderr, "spantap-accuracy: Failed to open the database: path=%s error=%s\n", path,
            db ? sqlite3_errmsg(db) : "out of memory");
    goto done;
  }
  static const char *const needed[] = {"spans", "connections"};
  for (size_t i = 0; i < 2; i++) {
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", -1,
                           &stmt, NULL) != SQLITE_OK) {
      fprintf(stderr, "spantap-accuracy: Failed to read the schema: path=%s error=%s\n", path,
              sqlite3_errmsg(db));
      goto done;
    }
    sqlite3_bind_text(stmt, 1, needed[i], -1, SQLITE_STATIC);
    int step = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    stmt = NULL;
    if (step != SQLITE_ROW) {
      fprintf(stderr,
              "spantap-accuracy: The database has no %s table (not a recording with derived "
              "spans?): path=%s%s%s\n",
              needed[i], path,
              step == SQLITE_DONE ? "" : " error=", step == SQLITE_DONE ? "" : sqlite3_errmsg(db));
      goto done;
    }
  }
  static const char query[] =
      "SELECT s.id, s.trace_id, s.parent_id, s.kind, s.pid, s.tid, s.service, s.start_ns,"
      " s.end_ns, c.lport, c.rport FROM spans s LEFT JOIN connections c ON c.id = s.conn_id"
      " ORDER BY s.id";
  if (sqlite3_prepare_v2(db, query, -1, &stmt, NULL) != SQLITE_OK) {
    fprintf(stderr, "spantap-accuracy: Failed to query the spans: path=%s error=%s\n", path,
            sqlite3_errmsg(db));
    goto done;
  }
  int step;
  while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
    if (!GROW(*out, *count, capacity)) {
      fprintf(stderr, "spantap-accuracy: Out of memory loading spans: spans=%zu\n", *count);
      goto done;
    }
    struct span *s = &(*out)[(*count)++];
    s->id = sqlite3_column_int64(stmt, 0);
    s->trace_id = sqlite3_column_int64(stmt, 1);
    s->parent_id = sqlite3_column_int64(stmt, 2); /* NULL reads as 0 */
    const char *kind = (const char *)sqlite3_column_text(stmt, 3);
    s->server = kind && strcmp(kind, "server") == 0;
    s->pid = (uint32_t)sqlite3_column_int64(stmt, 4);
    s->tid = (uint32_t)sqlite3_column_int64(stmt, 5);
    s->service = service_of((const char *)sqlite3_column_text(stmt, 6));
    s->start_ns = sqlite3_column_int64(stmt, 7);
    s->end_ns = sqlite3_column_int64(stmt, 8);
    s->local_port = sqlite3_column_type(stmt, 9) == SQLITE_NULL ? -1 : sqlite3_column_int(stmt, 9);
    s->remote_port =
        sqlite3_column_type(stmt, 10) == SQLITE_NULL ? -1 : sqlite3_column_int(stmt, 10);
    s->match = NULL;
  }
  if (step != SQLITE_DONE) {
    fprintf(stderr, "spantap-accuracy: Failed to read the spans: path=%s error=%s\n", path,
            sqlite3_errmsg(db));
    goto done;
  }
  rc = 0;
done:
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return rc;
}

/* The span with id ID, or NULL (SPANS is ordered by id). */
static const struct span *span_by_id(const struct span *spans, size_t count, int64_t id) {
  size_t lo = 0, hi = count;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (spans[mid].id < id)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < count && spans[lo].id == id ? &spans[lo] : NULL;
}

/* Compares by (pid, local port, remote port, start): the matching order. */
#define CONNECTION_ORDER(a, b)                                                                     \
  ((a)->pid != (b)->pid                   ? ((a)->pid < (b)->pid ? -1 : 1)                         \
   : (a)->local_port != (b)->local_port   ? ((a)->local_port < (b)->local_port ? -1 : 1)           \
   : (a)->remote_port != (b)->remote_port ? ((a)->remote_port < (b)->remote_port ? -1 : 1)         \
   : (a)->start_ns != (b)->start_ns       ? ((a)->start_ns < (b)->start_ns ? -1 : 1)               \
                                          : 0)

/* qsort order of truth request pointers: by connection, then start. */
static int compare_truth_ptr(const void *pa, const void *pb) {
  const struct truth_request *a = *(const struct truth_request *const *)pa;
  const struct truth_request *b = *(const struct truth_request *const *)pb;
  return CONNECTION_ORDER(a, b);
}

/* qsort order of span pointers: by connection, then start. */
static int compare_span_ptr(const void *pa, const void *pb) {
  const struct span *a = *(const struct span *const *)pa;
  const struct span *b = *(const struct span *const *)pb;
  return CONNECTION_ORDER(a, b);
}

/* Same process and connection ports. */
static bool same_connection(const struct truth_request *t, const struct span *s) {
  return t->pid == s->pid && t->local_port == s->local_port && t->remote_port == s->remote_port;
}

/* Orders a truth request against a span by connection only. */
static int compare_connection(const struct truth_request *t, const struct span *s) {
  if (t->pid != s->pid)
    return t->pid < s->pid ? -1 : 1;
  if (t->local_port != s->local_port)
    return t->local_port < s->local_port ? -1 : 1;
  if (t->remote_port != s->remote_port)
    return t->remote_port < s->remote_port ? -1 : 1;
  return 0;
}

/* Matches truth requests to demo server spans one-to-one: per connection,
 * both in start order. A service logs a request's times in user space, after
 * the read that brought it and after the write that answered it returned, so
 * under load (a thread preempted right after its syscall) its figures can be
 * late by milliseconds; the span's are the kernel's. So a span matches a
 * truth request when it starts after the connection's previous request was
 * logged done and no later than this one was logged started, and ends between
 * this request's logged start and end, each bound give or take TOLERANCE_NS.
 * Sets the match pointers. Returns 0 or -ENOMEM. */
static int match_spans(struct truth_request *truth, size_t truth_count, struct span *spans,
                       size_t span_count, int64_t tolerance_ns) {
  struct truth_request **t_order = malloc((truth_count + 1) * sizeof *t_order);
  struct span **s_order = malloc((span_count + 1) * sizeof *s_order);
  if (!t_order || !s_order) {
    free(t_order);
    free(s_order);
    return -ENOMEM;
  }
  size_t n_spans = 0;
  for (size_t i = 0; i < span_count; i++)
    if (spans[i].server && spans[i].service >= 0)
      s_order[n_spans++] = &spans[i];
  for (size_t i = 0; i < truth_count; i++)
    t_order[i] = &truth[i];
  qsort(t_order, truth_count, sizeof *t_order, compare_truth_ptr);
  qsort(s_order, n_spans, sizeof *s_order, compare_span_ptr);

  size_t first = 0; /* first span of the current connection not yet passed */
  for (size_t i = 0; i < truth_count; i++) {
    struct truth_request *t = t_order[i];
    bool has_prev = i > 0 && t_order[i - 1]->pid == t->pid &&
                    t_order[i - 1]->local_port == t->local_port &&
                    t_order[i - 1]->remote_port == t->remote_port;
    int64_t after = has_prev ? t_order[i - 1]->end_ns - tolerance_ns : INT64_MIN;
    while (first < n_spans && compare_connection(t, s_order[first]) > 0)
      first++;
    /* Spans starting before the previous request ended, or already taken,
     * are passed for every later request of the connection too. */
    while (first < n_spans && same_connection(t, s_order[first]) &&
           (s_order[first]->match || s_order[first]->start_ns <= after))
      first++;
    for (size_t k = first; k < n_spans && same_connection(t, s_order[k]) &&
                           s_order[k]->start_ns <= t->start_ns + tolerance_ns;
         k++) {
      struct span *s = s_order[k];
      if (!s->match && s->end_ns >= t->start_ns - tolerance_ns &&
          s->end_ns <= t->end_ns + tolerance_ns) {
        s->match = t;
        t->match = s;
        break;
      }
    }
  }
  free(t_order);
  free(s_order);
  return 0;
}

/* The server span S's derived parent server span: S.parent_id is a client
 * span whose parent_id is a server span. NULL when the chain is not there. */
static const struct span *derived_parent_server(const struct span *spans, size_t count,
                                                const struct span *s) {
  const struct span *client = s->parent_id ? span_by_id(spans, count, s->parent_id) : NULL;
  if (!client || client->server || !client->parent_id)
    return NULL;
  const struct span *server = span_by_id(spans, count, client->parent_id);
  return server && server->server ? server : NULL;
}

/* qsort/bsearch order of truth request pointers: by service, then request id. */
static int compare_request_key(const void *pa, const void *pb) {
  const struct truth_request *a = *(const struct truth_request *const *)pa;
  const struct truth_request *b = *(const struct truth_request *const *)pb;
  if (a->service != b->service)
    return a->service < b->service ? -1 : 1;
  return a->request_id < b->request_id ? -1 : a->request_id > b->request_id;
}

/* The truth request of SERVICE with REQUEST_ID in BY_KEY (ordered by
 * compare_request_key), or NULL. */
static const struct truth_request *truth_by_id(struct truth_request *const *by_key, size_t count,
                                               enum service service, uint64_t request_id) {
  struct truth_request key = {.service = service, .request_id = request_id};
  const struct truth_request *k = &key;
  struct truth_request **found = bsearch(&k, by_key, count, sizeof *by_key, compare_request_key);
  return found ? *found : NULL;
}

/* Why the truth link of T (a request with a parent) is not correct, or NULL
 * when it is. */
static const char *link_fault(struct truth_request *const *by_key, size_t truth_count,
                              const struct span *spans, size_t span_count,
                              const struct truth_request *t) {
  const struct truth_request *parent =
      truth_by_id(by_key, truth_count, (enum service)(t->service - 1), t->parent_request_id);
  if (!parent)
    return "the parent request is not in the truth";
  if (!t->match)
    return "the request has no matched span";
  if (!parent->match)
    return "the parent request has no matched span";
  const struct span *derived = derived_parent_server(spans, span_count, t->match);
  if (!derived)
    return "the span has no server -> client -> server parent chain";
  if (derived != parent->match)
    return "the span's parent chain leads to another server span";
  if (derived->trace_id != t->match->trace_id)
    return "the span and its parent have different trace ids";
  return NULL;
}

/* Scores the matched spans and the links into *OUT. BY_KEY is TRUTH ordered
 * by compare_request_key. */
static void score(struct truth_request *const *by_key, const struct truth_request *truth,
                  size_t truth_count, const struct span *spans, size_t span_count,
                  struct scores *out) {
  memset(out, 0, sizeof *out);
  for (size_t i = 0; i < span_count; i++) {
    const struct span *s = &spans[i];
    if (!s->server || s->service < 0)
      continue;
    out->derived[s->service]++;
    if (s->match) {
      out->matched[s->service]++;
      if (derived_parent_server(spans, span_count, s))
        out->links_derived++;
    }
  }
  for (size_t i = 0; i < truth_count; i++) {
    const struct truth_request *t = &truth[i];
    out->truth[t->service]++;
    if (t->service == FRONT || t->parent_request_id == 0)
      continue;
    out->links_truth++;
    if (!link_fault(by_key, truth_count, spans, span_count, t))
      out->links_correct++;
  }
  for (int i = 0; i < SERVICE_COUNT; i++) {
    out->spans_derived += out->derived[i];
    out->spans_truth += out->truth[i];
    out->spans_matched += out->matched[i];
  }
}

/* Lists up to VERBOSE_LIMIT truth links that are not correct, with why. */
static void print_missed_links(struct truth_request *const *by_key,
                               const struct truth_request *truth, size_t truth_count,
                               const struct span *spans, size_t span_count) {
  size_t listed = 0;
  for (size_t i = 0; i < truth_count && listed < VERBOSE_LIMIT; i++) {
    const struct truth_request *t = &truth[i];
    if (t->service == FRONT || t->parent_request_id == 0)
      continue;
    const char *fault = link_fault(by_key, truth_count, spans, span_count, t);
    if (!fault)
      continue;
    if (listed++ == 0)
      printf("\nmissed links (first %d):\n", VERBOSE_LIMIT);
    printf("  %s request_id=%" PRIu64 " parent_request_id=%" PRIu64 " span=%" PRId64 ": %s\n",
           service_names[t->service], t->request_id, t->parent_request_id,
           t->match ? t->match->id : 0, fault);
  }
}

/* Prints NUMERATOR/DENOMINATOR with four decimals, or n/a for 0/0. */
static void print_fraction(size_t numerator, size_t denominator) {
  if (denominator == 0)
    printf("  %9s", "n/a");
  else
    printf("  %9.4f", (double)numerator / (double)denominator);
}

/* One row of the table. */
static void print_row(const char *name, size_t derived, size_t truth, size_t matched) {
  printf("%-12s %8zu %8zu %8zu", name, derived, truth, matched);
  print_fraction(matched, derived);
  print_fraction(matched, truth);
  printf("\n");
}

/* Lists up to VERBOSE_LIMIT unmatched truth requests and unmatched spans. */
static void print_unmatched(const struct truth_request *truth, size_t truth_count,
                            const struct span *spans, size_t span_count) {
  size_t listed = 0;
  for (size_t i = 0; i < truth_count && listed < VERBOSE_LIMIT; i++) {
    const struct truth_request *t = &truth[i];
    if (t->match)
      continue;
    if (listed++ == 0)
      printf("\nunmatched truth requests (first %d):\n", VERBOSE_LIMIT);
    printf("  %s pid=%" PRIu32 " tid=%" PRIu32 " ports=%d->%d request_id=%" PRIu64
           " start_ns=%" PRId64 " end_ns=%" PRId64 "\n",
           service_names[t->service], t->pid, t->tid, t->remote_port, t->local_port, t->request_id,
           t->start_ns, t->end_ns);
  }
  listed = 0;
  for (size_t i = 0; i < span_count && listed < VERBOSE_LIMIT; i++) {
    const struct span *s = &spans[i];
    if (!s->server || s->service < 0 || s->match)
      continue;
    if (listed++ == 0)
      printf("\nunmatched spans (first %d):\n", VERBOSE_LIMIT);
    printf("  span=%" PRId64 " %s pid=%" PRIu32 " tid=%" PRIu32 " ports=%d->%d start_ns=%" PRId64
           " end_ns=%" PRId64 "\n",
           s->id, service_names[s->service], s->pid, s->tid, s->remote_port, s->local_port,
           s->start_ns, s->end_ns);
  }
}

/* True when NUMERATOR/DENOMINATOR is defined and at least MIN. */
static bool reaches(size_t numerator, size_t denominator, double min) {
  return denominator > 0 && (double)numerator / (double)denominator >= min;
}

int main(int argc, char **argv) {
  static const struct option longopts[] = {
      {"min", required_argument, NULL, 'm'},
      {"tolerance-us", required_argument, NULL, 't'},
      {"verbose", no_argument, NULL, 'v'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  double min = NAN;
  long long tolerance_us = 2000;
  bool verbose = false;
  int c;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":hv", longopts, NULL)) != -1) {
    char *end = NULL;
    switch (c) {
      case 'm':
        min = strtod(optarg, &end);
        if (!end || *end || end == optarg || !(min >= 0 && min <= 1)) {
          fprintf(stderr, "spantap-accuracy: Invalid --min: '%s' (expected 0..1)\n", optarg);
          return EXIT_BAD_INPUT;
        }
        break;
      case 't':
        tolerance_us = strtoll(optarg, &end, 10);
        if (!end || *end || end == optarg || tolerance_us < 0 || tolerance_us > 60000000) {
          fprintf(stderr, "spantap-accuracy: Invalid --tolerance-us: '%s' (expected 0..60000000)\n",
                  optarg);
          return EXIT_BAD_INPUT;
        }
        break;
      case 'v':
        verbose = true;
        break;
      case 'h':
        fputs(usage, stdout);
        return 0;
      case ':':
        fprintf(stderr, "spantap-accuracy: Option '%s' needs a value (see --help)\n",
                argv[optind - 1]);
        return EXIT_BAD_INPUT;
      default:
        fprintf(stderr, "spantap-accuracy: Unknown option: '%s' (see --help)\n", argv[optind - 1]);
        return EXIT_BAD_INPUT;
    }
  }
  if (argc - optind != 2) {
    fprintf(stderr, "spantap-accuracy: Expected DB and TRUTH_DIR, got %d arguments\n%s",
            argc - optind, usage);
    return EXIT_BAD_INPUT;
  }
  const char *db_path = argv[optind], *truth_dir = argv[optind + 1];

  int status = EXIT_BAD_INPUT;
  struct truth_request *truth = NULL;
  size_t truth_count = 0, truth_capacity = 0;
  struct span *spans = NULL;
  size_t span_count = 0;
  struct truth_request **by_key = NULL;
  for (int i = 0; i < SERVICE_COUNT; i++)
    if (load_truth_file(truth_dir, (enum service)i, &truth, &truth_count, &truth_capacity) != 0)
      goto done;
  if (truth_count == 0) {
    fprintf(stderr, "spantap-accuracy: The truth holds no request: dir=%s\n", truth_dir);
    goto done;
  }
  if (load_spans(db_path, &spans, &span_count) != 0)
    goto done;
  by_key = malloc(truth_count * sizeof *by_key);
  if (!by_key || match_spans(truth, truth_count, spans, span_count, tolerance_us * 1000) != 0) {
    fprintf(stderr, "spantap-accuracy: Out of memory scoring: spans=%zu truth=%zu\n", span_count,
            truth_count);
    goto done;
  }
  for (size_t i = 0; i < truth_count; i++)
    by_key[i] = &truth[i];
  qsort(by_key, truth_count, sizeof *by_key, compare_request_key);
  struct scores sc;
  score(by_key, truth, truth_count, spans, span_count, &sc);

  printf("db=%s truth=%s tolerance_us=%lld\n", db_path, truth_dir, tolerance_us);
  printf("%-12s %8s %8s %8s  %9s  %9s\n", "", "derived", "truth", "matched", "precision", "recall");
  for (int i = 0; i < SERVICE_COUNT; i++)
    print_row(service_names[i], sc.derived[i], sc.truth[i], sc.matched[i]);
  print_row("spans", sc.spans_derived, sc.spans_truth, sc.spans_matched);
  print_row("links", sc.links_derived, sc.links_truth, sc.links_correct);
  if (verbose) {
    print_unmatched(truth, truth_count, spans, span_count);
    print_missed_links(by_key, truth, truth_count, spans, span_count);
  }

  status = 0;
  if (!isnan(min)) {
    bool ok = reaches(sc.spans_matched, sc.spans_derived, min) &&
              reaches(sc.spans_matched, sc.spans_truth, min) &&
              reaches(sc.links_correct, sc.links_derived, min) &&
              reaches(sc.links_correct, sc.links_truth, min);
    printf("%s: every precision and recall %s %.4f\n", ok ? "PASS" : "FAIL",
           ok ? ">=" : "must be >=", min);
    status = ok ? 0 : EXIT_BELOW_MIN;
  }
done:
  free(by_key);
  free(truth);
  free(spans);
  return status;
}
