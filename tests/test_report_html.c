/* Tests of the HTML report's data and page (reports/html/) on recordings made
 * by `spantap import` of small synthetic streams: requests through two traced
 * services (front -> store, every fifth slow in fsync), a recording without
 * spans and an empty one. The JSON is checked with SQLite's own JSON functions
 * against SQL over the recording. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "include/spantap/record_format.h"
#include "reports/html/report_data.h"
#include "reports/html/report_page.h"

#define REQUESTS 40
#define MS 1000000LL

static char dir[64], requests_db[128], nospans_db[128], empty_db[128], foreign_db[128];

/* ---- the recordings ---- */

/* One request: front (pid 100) reads it on a new connection, asks store
 * (pid 200) on another, store fsyncs, answers; front answers and closes. */
static void write_request(FILE *f, int i) {
  long long t = 1000 * MS + i * 20 * MS, slow = i % 5 == 0 ? 5 * MS : 100000;
  int a = 1000 + i, b = 5000 + i, c = 9000 + i, cport = 30000 + i, sport = 31000 + i;
  const char *lo = "0 16777343 0 16777343";
  fprintf(f, "SOCK %lld 100 %d 2 6 8080 %d %s\n", t + 10000, a, cport, lo);
  fprintf(f, "NC %lld 10000 100 101 0 100 5 0 0 %d @0,10010,1510,0\n", t, a);
  fprintf(f, "SOCK %lld 100 %d 2 6 %d 9090 %s\n", t + 25000, b, sport, lo);
  fprintf(f, "NC %lld 5000 100 101 1 40 6 0 0 %d @0,10010,1620,0\n", t + 20000, b);
  fprintf(f, "SOCK %lld 200 %d 2 6 9090 %d %s\n", t + 35000, c, sport, lo);
  fprintf(f, "NC %lld 5000 200 201 0 40 7 0 0 %d @0,10010,1510,0\n", t + 30000, c);
  fprintf(f, "SC %lld %lld 200 201 74 0 8 0 0 @0,10010,1730,0\n", t + 40000, slow);
  fprintf(f, "NC %lld 3000 200 201 1 60 7 0 0 %d @0,10010,1620,0\n", t + 41000 + slow, c);
  fprintf(f, "NC %lld 5000 100 101 0 60 6 0 0 %d @0,10010,1510,0\n", t + 40000 + slow, b);
  fprintf(f, "NC %lld 4000 100 101 1 200 5 0 0 %d @0,10010,1620,0\n", t + 50000 + slow, a);
  fprintf(f, "NC %lld 1000 100 101 3 0 6 0 0 %d @0,10010,1840,0\n", t + 60000 + slow, b);
  fprintf(f, "NC %lld 1000 200 201 3 0 7 0 0 %d @0,10010,1840,0\n", t + 60000 + slow, c);
  fprintf(f, "NC %lld 1000 100 101 3 0 5 0 0 %d @0,10010,1840,0\n", t + 62000 + slow, a);
}

/* Writes a stream (requests > 0: that many requests; 0: file syscalls only;
 * -1: nothing but its start and end) and imports it with spantap into DB. */
static void make_recording(const char *db, int requests) {
  char stream[160], cmd[512];
  snprintf(stream, sizeof stream, "%s/rec.stream", dir);
  FILE *f = fopen(stream, "w");
  assert_non_null(f);
  fprintf(f, "BEGIN %d 0 bpf\n", SPANTAP_RECORD_FORMAT_VERSION);
  if (requests >= 0) {
    fprintf(f, "EXEC %lld 100 100 1 1 4096 8192 77 88 /opt/app/front\n", 100 * MS);
    fprintf(f, "MAP %lld 100 0 0 0 0 /opt/app/front\n", 100 * MS);
    fprintf(f, "MAP %lld 100 4096 8192 0 77 r-xp /opt/app/front\n", 100 * MS);
    fprintf(f, "MAP %lld 100 65536 131072 4096 99 r-xp /lib/libc.so.6\n", 100 * MS);
    fprintf(f, "FORK %lld 100 100 100 101\n", 100 * MS + 1);
    fprintf(f, "EXEC %lld 200 200 1 1 4096 8192 78 88 /opt/app/store\n", 100 * MS + 2);
    fprintf(f, "MAP %lld 200 0 0 0 0 /opt/app/store\n", 100 * MS + 2);
    fprintf(f, "MAP %lld 200 4096 8192 0 78 r-xp /opt/app/store\n", 100 * MS + 2);
    fprintf(f, "MAP %lld 200 65536 131072 4096 99 r-xp /lib/libc.so.6\n", 100 * MS + 2);
    fprintf(f, "FORK %lld 200 200 200 201\n", 100 * MS + 3);
  }
  for (int i = 0; i < requests; i++)
    write_request(f, i);
  if (requests == 0)
    for (int i = 0; i < 10; i++)
      fprintf(f, "SC %lld 20000 200 201 74 0 8 0 0 @0,10010,1730,0\n", 200 * MS + i * MS);
  fprintf(f, "END %lld\n", 2000 * MS + requests * 20 * MS);
  assert_int_equal(fclose(f), 0);
  snprintf(cmd, sizeof cmd, "'%s' import -f -o '%s' '%s' > /dev/null", SPANTAP_BIN, db, stream);
  assert_int_equal(system(cmd), 0);
  unlink(stream);
}

static int setup_group(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/spantap_report_html_XXXXXX");
  if (!mkdtemp(dir))
    return -1;
  snprintf(requests_db, sizeof requests_db, "%s/requests.db", dir);
  snprintf(nospans_db, sizeof nospans_db, "%s/nospans.db", dir);
  snprintf(empty_db, sizeof empty_db, "%s/empty.db", dir);
  snprintf(foreign_db, sizeof foreign_db, "%s/foreign.db", dir);
  make_recording(requests_db, REQUESTS);
  make_recording(nospans_db, 0);
  make_recording(empty_db, -1);
  sqlite3 *db;
  if (sqlite3_open(foreign_db, &db) != SQLITE_OK)
    return -1;
  sqlite3_exec(db, "CREATE TABLE people (name TEXT)", NULL, NULL, NULL);
  sqlite3_close(db);
  return 0;
}

static int teardown_group(void **state) {
  (void)state;
  char cmd[128];
  if (getenv("KEEP"))
    return 0;
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

/* ---- helpers ---- */

static sqlite3 *open_ro(const char *path) {
  sqlite3 *db;
  assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  return db;
}

/* One integer from SQL over DB, with the text JSON bound to ?1 when not NULL. */
static int64_t sql_int(sqlite3 *db, const char *sql, const char *json) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    fail_msg("SQL error: %s in %s", sqlite3_errmsg(db), sql);
  if (json)
    sqlite3_bind_text(st, 1, json, -1, SQLITE_STATIC);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  int64_t v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

/* The report data of PATH (COMPARE too when not NULL) as an owned string. */
static char *data_of(const char *path, const char *compare_path,
                     const struct spantap_report_data_opts *o,
                     struct spantap_report_data_info *info, int expect) {
  sqlite3 *db = open_ro(path), *cmp = compare_path ? open_ro(compare_path) : NULL;
  char *buf = NULL, err[1024] = "";
  size_t len = 0;
  FILE *out = open_memstream(&buf, &len);
  assert_non_null(out);
  int rc = spantap_report_data_write(db, cmp, out, o, info, err, sizeof err);
  fclose(out);
  sqlite3_close(cmp);
  sqlite3_close(db);
  if (rc != expect)
    fail_msg("spantap_report_data_write returned %d, expected %d: %s", rc, expect, err);
  if (rc < 0)
    assert_true(strlen(err) > 0);
  return buf;
}

/* ---- the tests ---- */

static void test_requests(void **state) {
  (void)state;
  struct spantap_report_data_info info;
  struct spantap_report_data_opts o = {.name = requests_db};
  char *json = data_of(requests_db, NULL, &o, &info, 0);
  sqlite3 *db = open_ro(requests_db), *mem;
  assert_int_equal(sqlite3_open(":memory:", &mem), SQLITE_OK);
  assert_int_equal(sql_int(mem, "SELECT json_valid(?1)", json), 1);
  /* the import derived what the stream holds */
  assert_int_equal(sql_int(db, "SELECT count(*) FROM spans", NULL), 3 * REQUESTS);
  assert_int_equal(sql_int(db, "SELECT count(*) FROM traces", NULL), REQUESTS);
  assert_int_equal(info.spans, 3 * REQUESTS);
  assert_int_equal(info.spans_shown, 3 * REQUESTS);
  assert_int_equal(info.sample_every, 1);
  assert_string_equal(info.missing, "");
  assert_int_equal(sql_int(mem, "SELECT json_type(?1, '$.missing') = 'null'", json), 1);
  /* every span, and its texts resolved through the string table */
  assert_int_equal(sql_int(mem, "SELECT json_array_length(?1, '$.spans.rows')", json),
                   3 * REQUESTS);
  assert_int_equal(sql_int(mem,
                           "WITH s AS (SELECT value AS row FROM json_each(?1, '$.spans.rows'))"
                           " SELECT count(*) FROM s WHERE json_extract(?1, '$.strings[' ||"
                           " json_extract(row, '$[4]') || ']') = 'store'",
                           json),
                   sql_int(db, "SELECT count(*) FROM spans WHERE service = 'store'", NULL));
  assert_int_equal(
      sql_int(mem, "SELECT sum(json_extract(value, '$[8]')) FROM json_each(?1, '$.spans.rows')",
              json),
      sql_int(db, "SELECT sum(dur_ns) FROM spans", NULL));
  /* health: as the recording says */
  assert_int_equal(sql_int(mem, "SELECT json_extract(?1, '$.health.complete')", json),
                   sql_int(db, "SELECT num_value FROM recording WHERE key = 'complete'", NULL));
  assert_int_equal(sql_int(mem, "SELECT json_extract(?1, '$.health.frames_unsymbolized')", json),
                   sql_int(db, "SELECT count(*) FROM frames WHERE function IS NULL", NULL));
  assert_true(sql_int(mem, "SELECT json_extract(?1, '$.health.frames_unsymbolized')", json) > 0);
  /* the flame graph's weights add up to the syscall time in spans */
  assert_int_equal(
      sql_int(mem, "SELECT sum(json_extract(value, '$[4]')) FROM json_each(?1, '$.weights.rows')",
              json),
      sql_int(db, "SELECT sum(dur_ns) FROM syscalls WHERE span_id IS NOT NULL", NULL));
  assert_int_equal(
      sql_int(mem,
              "SELECT count(DISTINCT json_extract(value, '$[0]')) FROM json_each(?1,"
              " '$.frames.rows')",
              json),
      sql_int(db, "SELECT count(DISTINCT stack_id) FROM syscalls WHERE span_id IS NOT NULL", NULL));
  /* the slowest traces first, with every syscall of their spans */
  assert_int_equal(sql_int(mem, "SELECT json_array_length(?1, '$.traces.rows')", json), REQUESTS);
  assert_int_equal(sql_int(mem, "SELECT json_extract(?1, '$.traces.rows[0][0]')", json),
                   sql_int(db, "SELECT id FROM traces ORDER BY dur_ns DESC, id LIMIT 1", NULL));
  assert_int_equal(sql_int(mem, "SELECT json_array_length(?1, '$.trace_syscalls.rows')", json),
                   sql_int(db, "SELECT count(*) FROM syscalls WHERE span_id IS NOT NULL", NULL));
  /* the dual space: the view's rows, in nanoseconds */
  assert_int_equal(sql_int(mem, "SELECT json_array_length(?1, '$.dual.rows')", json),
                   sql_int(db, "SELECT count(*) FROM dual_space", NULL));
  assert_int_equal(
      sql_int(mem, "SELECT sum(json_extract(value, '$[3]')) FROM json_each(?1, '$.dual.rows')",
              json),
      sql_int(db, "SELECT sum(dur_ns) FROM syscalls", NULL));
  assert_int_equal(sql_int(mem, "SELECT json_type(?1, '$.compare') IS NULL", json), 1);
  free(json);

  /* fewer traces listed when asked */
  o.traces = 5;
  json = data_of(requests_db, NULL, &o, NULL, 0);
  assert_int_equal(sql_int(mem, "SELECT json_array_length(?1, '$.traces.rows')", json), 5);
  free(json);
  sqlite3_close(mem);
  sqlite3_close(db);
}

/* Above max_spans: whole traces, one in K, plus the slowest listed. */
static void test_sampling(void **state) {
  (void)state;
  struct spantap_report_data_info info;
  struct spantap_report_data_opts o = {.max_spans = REQUESTS, .traces = 4};
  char *json = data_of(requests_db, NULL, &o, &info, 0);
  sqlite3 *db = open_ro(requests_db), *mem;
  assert_int_equal(sqlite3_open(":memory:", &mem), SQLITE_OK);
  assert_int_equal(info.sample_every, 3);
  int64_t kept = sql_int(db,
                         "SELECT count(*) FROM spans WHERE trace_id % 3 = 0 OR trace_id IN"
                         " (SELECT id FROM traces ORDER BY dur_ns DESC LIMIT 4)",
                         NULL);
  assert_int_equal(info.spans_shown, kept);
  assert_true(kept < 3 * REQUESTS);
  assert_int_equal(sql_int(mem, "SELECT json_array_length(?1, '$.spans.rows')", json), kept);
  assert_int_equal(sql_int(mem, "SELECT json_extract(?1, '$.sampling.sample_every')", json), 3);
  /* whole traces: each kept trace has all of its 3 spans */
  assert_int_equal(sql_int(mem,
                           "SELECT count(*) FROM (SELECT json_extract(value, '$[1]') AS t,"
                           " count(*) AS n FROM json_each(?1, '$.spans.rows') GROUP BY t)"
                           " WHERE n <> 3",
                           json),
                   0);
  free(json);
  sqlite3_close(mem);
  sqlite3_close(db);
}

static void test_compare(void **state) {
  (void)state;
  struct spantap_report_data_opts o = {.name = requests_db, .compare_name = nospans_db};
  char *json = data_of(requests_db, nospans_db, &o, NULL, 0);
  sqlite3 *other = open_ro(nospans_db), *mem;
  assert_int_equal(sqlite3_open(":memory:", &mem), SQLITE_OK);
  assert_int_equal(sql_int(mem, "SELECT json_array_length(?1, '$.compare.dual.rows')", json),
                   sql_int(other, "SELECT count(*) FROM dual_space", NULL));
  assert_int_equal(sql_int(mem, "SELECT json_extract(?1, '$.compare.traces')", json), 0);
  char name[192];
  snprintf(name, sizeof name, "\"compare\":{\"name\":\"%s\"", nospans_db);
  assert_non_null(strstr(json, name));
  free(json);
  /* a --compare file that is not a recording is refused, naming which file */
  sqlite3 *db = open_ro(requests_db), *foreign = open_ro(foreign_db);
  char err[1024], *buf = NULL;
  size_t len;
  FILE *out = open_memstream(&buf, &len);
  assert_int_equal(spantap_report_data_write(db, foreign, out, &o, NULL, err, sizeof err), -EINVAL);
  fclose(out);
  free(buf);
  assert_non_null(strstr(err, "--compare"));
  sqlite3_close(foreign);
  sqlite3_close(db);
  sqlite3_close(other);
  sqlite3_close(mem);
}

static void test_no_spans(void **state) {
  (void)state;
  struct spantap_report_data_info info;
  char *json = data_of(nospans_db, NULL, NULL, &info, 0);
  sqlite3 *mem;
  assert_int_equal(sqlite3_open(":memory:", &mem), SQLITE_OK);
  assert_int_equal(sql_int(mem, "SELECT json_valid(?1)", json), 1);
  assert_int_equal(info.spans, 0);
  assert_int_equal(info.syscalls, 10);
  assert_non_null(strstr(info.missing, "no spans"));
  assert_int_equal(
      sql_int(mem, "SELECT instr(json_extract(?1, '$.missing'), 'no spans') > 0", json), 1);
  assert_int_equal(sql_int(mem, "SELECT json_array_length(?1, '$.spans.rows')", json), 0);
  assert_int_equal(sql_int(mem, "SELECT json_array_length(?1, '$.dual.rows')", json), 1);
  free(json);
  sqlite3_close(mem);
}

static void test_empty(void **state) {
  (void)state;
  struct spantap_report_data_info info;
  char *json = data_of(empty_db, NULL, NULL, &info, 0);
  sqlite3 *mem;
  assert_int_equal(sqlite3_open(":memory:", &mem), SQLITE_OK);
  assert_int_equal(sql_int(mem, "SELECT json_valid(?1)", json), 1);
  assert_non_null(strstr(info.missing, "empty recording"));
  assert_int_equal(sql_int(mem, "SELECT json_array_length(?1, '$.dual.rows')", json), 0);
  assert_int_equal(sql_int(mem, "SELECT json_array_length(?1, '$.traces.rows')", json), 0);
  free(json);
  sqlite3_close(mem);
}

static void test_not_a_recording(void **state) {
  (void)state;
  sqlite3 *db = open_ro(foreign_db);
  char err[1024], *buf = NULL;
  size_t len;
  FILE *out = open_memstream(&buf, &len);
  assert_int_equal(spantap_report_data_write(db, NULL, out, NULL, NULL, err, sizeof err), -EINVAL);
  fclose(out);
  free(buf);
  assert_non_null(strstr(err, "no 'recording'"));
  sqlite3_close(db);
}

static int count_entries(const char *path) {
  DIR *d = opendir(path);
  assert_non_null(d);
  int n = 0;
  for (struct dirent *e; (e = readdir(d));)
    n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

/* The page: the template filled (styles, data, d3, script), the data valid
 * JSON inside its <script> element; a failure leaves no file behind. */
static void test_page(void **state) {
  (void)state;
  char path[192], err[1024];
  snprintf(path, sizeof path, "%s/out/report.html", dir);
  char outdir[160];
  snprintf(outdir, sizeof outdir, "%s/out", dir);
  assert_int_equal(mkdir(outdir, 0700), 0);
  sqlite3 *db = open_ro(requests_db);
  struct spantap_report_data_opts o = {.name = "<requests>"};
  assert_int_equal(spantap_report_page_write(path, db, NULL, &o, NULL, err, sizeof err), 0);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  FILE *f = fopen(path, "r");
  char *page = calloc(1, (size_t)st.st_size + 1);
  assert_int_equal(fread(page, 1, (size_t)st.st_size, f), (size_t)st.st_size);
  fclose(f);
  assert_null(strstr(page, "<!--SPANTAP:"));
  assert_non_null(strstr(page, "d3js.org v7.9.0"));
  assert_non_null(strstr(page, "window.spantapReport"));
  assert_null(strstr(page, "<requests>")); /* texts escaped inside the page */
  const char *open_tag = "<script id=\"spantap-data\" type=\"application/json\">";
  char *data = strstr(page, open_tag);
  assert_non_null(data);
  data += strlen(open_tag);
  char *end = strstr(data, "</script>");
  assert_non_null(end);
  *end = '\0';
  sqlite3 *mem;
  assert_int_equal(sqlite3_open(":memory:", &mem), SQLITE_OK);
  assert_int_equal(sql_int(mem, "SELECT json_valid(?1)", data), 1);
  assert_int_equal(sql_int(mem, "SELECT json_extract(?1, '$.name') = '<requests>'", data), 1);
  sqlite3_close(mem);
  free(page);
  assert_int_equal(count_entries(outdir), 1);

  /* a directory that does not exist: an error naming the path, nothing left */
  char bad[224];
  snprintf(bad, sizeof bad, "%s/missing/report.html", dir);
  assert_int_equal(spantap_report_page_write(bad, db, NULL, &o, NULL, err, sizeof err), -ENOENT);
  assert_non_null(strstr(err, bad));
  /* a failure half-way (the data cannot be read) leaves neither the page nor its temporary */
  sqlite3 *foreign = open_ro(foreign_db);
  char half[224];
  snprintf(half, sizeof half, "%s/half.html", outdir);
  assert_int_equal(spantap_report_page_write(half, foreign, NULL, &o, NULL, err, sizeof err),
                   -EINVAL);
  assert_int_equal(count_entries(outdir), 1);
  assert_int_equal(access(half, F_OK), -1);
  /* and the page in place is kept when its replacement fails */
  assert_int_equal(spantap_report_page_write(path, foreign, NULL, &o, NULL, err, sizeof err),
                   -EINVAL);
  assert_int_equal(stat(path, &st), 0);
  assert_true(st.st_size > 100000);
  sqlite3_close(foreign);
  sqlite3_close(db);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_requests), cmocka_unit_test(test_sampling),
      cmocka_unit_test(test_compare),  cmocka_unit_test(test_no_spans),
      cmocka_unit_test(test_empty),    cmocka_unit_test(test_not_a_recording),
      cmocka_unit_test(test_page),
  };
  return cmocka_run_group_tests_name("report_html", tests, setup_group, teardown_group);
}
