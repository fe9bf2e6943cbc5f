/* Tests of the modules of a saved stream (MOD records, collector/module_records.c):
 * a live recording writes one MOD record per file backing user code, with the
 * build id read where it records, before the records that map it; an import
 * symbolizes a module with the file at the recorded path only when its build
 * id is the recorded one, else with a debug file of that build id under the
 * debug directories, else keeps the frames' addresses, counts them and warns
 * once. The file at the path is one of two builds of tests/apps/buildid_app.c
 * that differ in their build id alone. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "collector/collector.h"
#include "collector/symbolize.h"
#include "tests/elf_symbol.h"

#define BUILD_ID_A "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"
#define BUILD_ID_B "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2"
#define MAP_BASE 0x555555554000ULL

static char dir[PATH_MAX], db[PATH_MAX + 16], app[PATH_MAX + 16], debug_dir[PATH_MAX + 16];

/* What the collector warned, all messages one per line. */
static char warnings[8192];
static unsigned nwarnings;

static void collect_warning(const char *message, void *ctx) {
  (void)ctx;
  size_t used = strlen(warnings);
  snprintf(warnings + used, sizeof warnings - used, "%s\n", message);
  nwarnings++;
}

static int run_command(const char *cmd) {
  int status = system(cmd);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/spantap-test-buildid-%d", (int)getpid());
  char cmd[PATH_MAX + 16];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  run_command(cmd);
  if (mkdir(dir, 0700) < 0)
    return -1;
  snprintf(db, sizeof db, "%s/t.db", dir);
  snprintf(app, sizeof app, "%s/app", dir); /* the recorded path */
  snprintf(debug_dir, sizeof debug_dir, "%s/debug", dir);
  warnings[0] = '\0';
  nwarnings = 0;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  char cmd[PATH_MAX + 16];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return run_command(cmd) == 0 ? 0 : -1;
}

static int64_t query_int(const char *sql) {
  sqlite3 *h;
  sqlite3_stmt *st;
  int64_t v = -1;
  assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
    fail_msg("bad SQL %s: %s", sql, sqlite3_errmsg(h));
  if (sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(h);
  return v;
}

static const char *query_text(const char *sql) {
  static char out[4096];
  sqlite3 *h;
  sqlite3_stmt *st;
  out[0] = '\0';
  assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
    fail_msg("bad SQL %s: %s", sql, sqlite3_errmsg(h));
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
    snprintf(out, sizeof out, "%s", (const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  sqlite3_close(h);
  return out;
}

static int64_t recording_num(const char *key) {
  char sql[256];
  snprintf(sql, sizeof sql, "SELECT num_value FROM recording WHERE key = '%s'", key);
  return query_int(sql);
}

static void copy_file(const char *from, const char *to) {
  char cmd[3 * PATH_MAX];
  snprintf(cmd, sizeof cmd, "cp '%s' '%s'", from, to);
  assert_int_equal(run_command(cmd), 0);
}

/* Writes, as recorded with buildid_app_a at APP: its MOD record, its text
 * mapping and one syscall whose stack is buildid_leaf <- buildid_caller,
 * each 10 bytes into the function. Sets *LEAF_REL to the leaf frame's ELF
 * address. Returns the stream (static). */
static const char *recorded_stream(uint64_t *leaf_rel) {
  struct spantap_symbolizer *sym = spantap_symbolizer_new();
  struct spantap_text_segment text;
  assert_int_equal(spantap_module_text_segment(sym, BUILDID_APP_A, &text), 0);
  spantap_symbolizer_destroy(sym);
  uint64_t start = MAP_BASE + text.offset;
  uint64_t leaf = spantap_test_symbol_addr(BUILDID_APP_A, "buildid_leaf") + 10;
  uint64_t caller = spantap_test_symbol_addr(BUILDID_APP_A, "buildid_caller") + 10;
  *leaf_rel = leaf;
  static char stream[4 * PATH_MAX];
  snprintf(stream, sizeof stream,
           "BEGIN 3 0 4 8 kernel\n"
           "MOD 1 77 8388609 %" PRIu64 " %" PRIu64 " %" PRIu64 " " BUILD_ID_A " %s\n"
           "MAP 2 20 0 0 0 0 %s\n"
           "MAP 2 20 %" PRIu64 " %" PRIu64 " %" PRIu64 " 77 r-xp %s\n"
           "SC 10 1 20 20 1 3 1 0 0 @0,%" PRIx64 ",%" PRIx64 "\n"
           "END 20\n",
           text.offset, text.vaddr, text.size, app, app, start, start + text.size, text.offset, app,
           start + leaf - text.vaddr, start + caller - text.vaddr);
  return stream;
}

/* Imports STREAM into db with a symbolizer, the debug directory DEBUG (NULL:
 * the default) and the warnings collected. */
static struct spantap_collector_stats import(const char *stream, const char *debug) {
  struct spantap_store *store;
  char err[512];
  assert_int_equal(spantap_store_open(db, true, &store, err, sizeof err), 0);
  struct spantap_symbolizer *sym = spantap_symbolizer_new();
  assert_non_null(sym);
  const char *const dirs[] = {"/nonexistent-debug-dir", debug};
  struct spantap_collector_opts o = {.live = false,
                                     .stack_mode = SPANTAP_STACK_AS_RECORDED,
                                     .stack_depth = SPANTAP_STACK_AS_RECORDED,
                                     .debug_dirs = debug ? dirs : NULL,
                                     .ndebug_dirs = debug ? 2 : 0,
                                     .warn = collect_warning};
  struct spantap_collector *c;
  assert_int_equal(spantap_collector_new(store, sym, &o, &c), 0);
  if (spantap_collector_feed(c, stream, strlen(stream), err, sizeof err) != 0 ||
      spantap_collector_finish(c, err, sizeof err) != 0)
    fail_msg("import failed: %s", err);
  struct spantap_collector_stats s = *spantap_collector_stats(c);
  spantap_collector_destroy(c);
  spantap_symbolizer_destroy(sym);
  assert_int_equal(spantap_store_close(store, err, sizeof err), 0);
  return s;
}

/* The file at the path is the one recorded: its symbols, no warning. */
static void test_matching_build_id_symbolizes(void **state) {
  (void)state;
  copy_file(BUILDID_APP_A, app);
  uint64_t leaf;
  struct spantap_collector_stats s = import(recorded_stream(&leaf), NULL);
  assert_int_equal(s.malformed, 0);
  assert_string_equal(query_text("SELECT group_concat(function) FROM (SELECT function FROM frames "
                                 "ORDER BY id)"),
                      "buildid_leaf,buildid_caller");
  assert_string_equal(query_text("SELECT build_id FROM modules"), BUILD_ID_A);
  assert_int_equal(nwarnings, 0);
  assert_int_equal(recording_num("modules_build_id_mismatch"), 0);
  assert_int_equal(recording_num("frames_unsymbolized_build_id_mismatch"), 0);
  /* BEGIN's stack mode is stored as recorded */
  assert_int_equal(recording_num("stack_mode_recorded"), 4);
  assert_int_equal(s.stack_mode, 4);
}

/* Another build at the path: its symbols would lie, so none; the frames keep
 * their module and ELF address, are counted, and one warning names the
 * module, the recorded and the found build id. */
static void test_mismatch_leaves_frames_unsymbolized(void **state) {
  (void)state;
  copy_file(BUILDID_APP_B, app);
  uint64_t leaf;
  struct spantap_collector_stats s = import(recorded_stream(&leaf), NULL);
  assert_int_equal(query_int("SELECT count(*) FROM frames WHERE function IS NOT NULL"), 0);
  assert_int_equal(query_int("SELECT count(*) FROM frames WHERE module_id = 1"), 2);
  char sql[256];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM frames WHERE rel_addr = %" PRIu64, leaf);
  assert_int_equal(query_int(sql), 1);
  assert_string_equal(query_text("SELECT build_id FROM modules"), BUILD_ID_A); /* as recorded */
  assert_string_equal(query_text("SELECT path FROM modules"), app);
  assert_int_equal(s.unsymbolized[SPANTAP_UNSYM_BUILD_ID_MISMATCH], 2);
  assert_int_equal(recording_num("frames_unsymbolized_build_id_mismatch"), 2);
  assert_int_equal(recording_num("frames_unsymbolized_no_file"), 0);
  assert_int_equal(recording_num("modules_build_id_mismatch"), 1);
  assert_int_equal(nwarnings, 1);
  assert_non_null(strstr(warnings, app));
  assert_non_null(strstr(warnings, "expected build id " BUILD_ID_A));
  assert_non_null(strstr(warnings, "found " BUILD_ID_B));
}

/* Another build at the path, and the recorded build's debug file under a
 * --debug-dir: symbols, file and line from the debug file. */
static void test_mismatch_with_debug_file_symbolizes(void **state) {
  (void)state;
  if (!OBJCOPY[0])
    skip(); /* configure found no objcopy: it says so */
  copy_file(BUILDID_APP_B, app);
  char cmd[4 * PATH_MAX];
  snprintf(cmd, sizeof cmd,
           "mkdir -p '%s/.build-id/a1' && '%s' --only-keep-debug '%s' "
           "'%s/.build-id/a1/%s.debug'",
           debug_dir, OBJCOPY, BUILDID_APP_A, debug_dir, BUILD_ID_A + 2);
  assert_int_equal(run_command(cmd), 0);
  uint64_t leaf;
  struct spantap_collector_stats s = import(recorded_stream(&leaf), debug_dir);
  assert_string_equal(query_text("SELECT group_concat(function) FROM (SELECT function FROM frames "
                                 "ORDER BY id)"),
                      "buildid_leaf,buildid_caller");
  assert_int_equal(query_int("SELECT count(*) FROM frames WHERE file LIKE '%buildid_app.c' AND "
                             "line > 0"),
                   2);
  char sql[256];
  snprintf(sql, sizeof sql, "SELECT offset FROM frames WHERE rel_addr = %" PRIu64, leaf);
  assert_int_equal(query_int(sql), 10);
  assert_int_equal(s.unsymbolized[SPANTAP_UNSYM_BUILD_ID_MISMATCH], 0);
  assert_int_equal(recording_num("modules_build_id_mismatch"), 1); /* the file at the path */
  assert_int_equal(nwarnings, 1);
  assert_non_null(strstr(warnings, "symbolizing with the debug file"));
  assert_non_null(strstr(warnings, debug_dir));
}

/* The recorded build at the path, stripped: its symbols come from its debug
 * file under the debug directories (libdwfl's own search, by build id). */
static void test_stripped_match_uses_debug_dir(void **state) {
  (void)state;
  if (!OBJCOPY[0])
    skip(); /* configure found no objcopy: it says so */
  char cmd[4 * PATH_MAX];
  snprintf(cmd, sizeof cmd,
           "'%s' --strip-all '%s' '%s' && mkdir -p '%s/.build-id/a1' && "
           "'%s' --only-keep-debug '%s' '%s/.build-id/a1/%s.debug'",
           OBJCOPY, BUILDID_APP_A, app, debug_dir, OBJCOPY, BUILDID_APP_A, debug_dir,
           BUILD_ID_A + 2);
  assert_int_equal(run_command(cmd), 0);
  const char *const dirs[] = {debug_dir};
  assert_int_equal(spantap_symbolizer_set_debug_dirs(dirs, 1), 0);
  uint64_t leaf;
  struct spantap_collector_stats s = import(recorded_stream(&leaf), debug_dir);
  assert_int_equal(spantap_symbolizer_set_debug_dirs(NULL, 0), 0);
  assert_string_equal(query_text("SELECT group_concat(function) FROM (SELECT function FROM frames "
                                 "ORDER BY id)"),
                      "buildid_leaf,buildid_caller");
  assert_int_equal(query_int("SELECT count(*) FROM frames WHERE line > 0"), 2);
  assert_int_equal(s.modules_build_id_mismatch, 0);
  assert_int_equal(nwarnings, 0);
}

/* No file at the path and no debug file: counted as no file, one warning. */
static void test_missing_file(void **state) {
  (void)state;
  uint64_t leaf;
  struct spantap_collector_stats s = import(recorded_stream(&leaf), debug_dir);
  assert_int_equal(query_int("SELECT count(*) FROM frames WHERE function IS NOT NULL"), 0);
  assert_int_equal(s.unsymbolized[SPANTAP_UNSYM_NO_FILE], 2);
  assert_int_equal(recording_num("frames_unsymbolized_no_file"), 2);
  assert_int_equal(recording_num("frames_unsymbolized_build_id_mismatch"), 0);
  assert_int_equal(recording_num("modules_build_id_mismatch"), 0);
  assert_string_equal(query_text("SELECT build_id FROM modules"), BUILD_ID_A);
  assert_int_equal(nwarnings, 1);
  assert_non_null(strstr(warnings, "found no such file"));
  assert_non_null(strstr(warnings, app));
}

/* An XMAP names a bare file name and the file's identity on the recording
 * machine: importing, the MOD record with that identity says which module it
 * is (and its build id is checked), never a file here with that inode; an
 * identity no MOD record gave falls back to the path alone. */
static void test_xmap_found_by_recorded_identity(void **state) {
  (void)state;
  copy_file(BUILDID_APP_B, app); /* another build: the frames must not get its symbols */
  uint64_t leaf;
  char stream[8 * PATH_MAX];
  snprintf(stream, sizeof stream, "%s", recorded_stream(&leaf));
  /* the MAP records become an XMAP of the app's text, by file name alone
   * (no directory of this machine's search path holds it) */
  char *map = strstr(stream, "MAP 2 20 0 0 0 0 "), *sc = strstr(stream, "SC 10 ");
  assert_non_null(map);
  assert_non_null(sc);
  uint64_t start, end, pgoff;
  const char *text_map = strstr(map + 1, "MAP 2 20 ");
  assert_int_equal(
      sscanf(text_map, "MAP 2 20 %" SCNu64 " %" SCNu64 " %" SCNu64, &start, &end, &pgoff), 3);
  char tail[PATH_MAX];
  snprintf(tail, sizeof tail, "%s", sc);
  snprintf(map, sizeof stream - (size_t)(map - stream),
           "FORK 2 20 20 20 21\n"
           "XMAP 3 20 %" PRIu64 " %" PRIu64 " %" PRIu64 " 77 8388609 app\n%s",
           start, end, pgoff, tail);
  struct spantap_collector_stats s = import(stream, NULL);
  assert_int_equal(s.malformed, 0);
  assert_int_equal(query_int("SELECT count(*) FROM modules"), 1);
  assert_int_equal(query_int("SELECT count(*) FROM frames WHERE module_id = 1"), 2);
  assert_int_equal(query_int("SELECT count(*) FROM frames WHERE function IS NOT NULL"), 0);
  assert_int_equal(recording_num("frames_unsymbolized_build_id_mismatch"), 2);
  assert_int_equal(nwarnings, 1);
}

__attribute__((noinline)) static uint64_t code_address(void) {
  return (uint64_t)(uintptr_t)&code_address;
}

/* Runs the live collector (symbolizing with SYM, borrowed) over the text
 * STREAM with a saved stream; returns the saved stream's text (owned by the
 * caller). */
static char *live_saved_stream(struct spantap_symbolizer *sym, const char *stream) {
  char *saved = NULL;
  size_t saved_len = 0;
  FILE *f = open_memstream(&saved, &saved_len);
  assert_non_null(f);
  struct spantap_store *store;
  char err[512];
  assert_int_equal(spantap_store_open(db, true, &store, err, sizeof err), 0);
  struct spantap_collector_opts o = {
      .live = true, .stack_mode = 4, .stack_depth = 8, .save_stream = f};
  struct spantap_collector *c;
  assert_int_equal(spantap_collector_new(store, sym, &o, &c), 0);
  if (spantap_collector_feed(c, stream, strlen(stream), err, sizeof err) != 0 ||
      spantap_collector_finish(c, err, sizeof err) != 0)
    fail_msg("live collector failed: %s", err);
  spantap_collector_destroy(c);
  assert_int_equal(spantap_store_close(store, err, sizeof err), 0);
  fclose(f);
  return saved;
}

/* Live with a saved stream: the collector reads this process's maps and
 * writes a MOD record for each file it executes from, with the build id read
 * here, before the MAP record of that file; the saved stream imports with the
 * recorded build ids, and this program's frame is symbolized. */
static void test_live_recording_saves_modules(void **state) {
  (void)state;
  char exe[PATH_MAX];
  assert_non_null(realpath("/proc/self/exe", exe));
  struct spantap_symbolizer *sym = spantap_symbolizer_new();
  char want[SPANTAP_BUILD_ID_HEX_MAX + 1];
  assert_int_equal(spantap_module_build_id(sym, exe, want), 0);
  if (!want[0])
    skip(); /* a toolchain that writes no build id: nothing to check */
  char stream[512];
  int pid = (int)getpid();
  snprintf(stream, sizeof stream,
           "BEGIN 3 0 4 8 kernel\nSC 5 1 %d %d 1 3 1 0 0\nSC 10 1 %d %d 1 3 1 0 0 @0,%" PRIx64
           "\nEND 20\n",
           pid, pid, pid, pid, code_address() + 4);
  char *saved = live_saved_stream(sym, stream);
  /* the first record of this process (without a stack) has its maps read:
   * this program's MOD record, with its build id, before its MAP records */
  char mod_text[PATH_MAX + 160], exe_map[PATH_MAX + 16];
  snprintf(mod_text, sizeof mod_text, " %s %s\n", want, exe);
  snprintf(exe_map, sizeof exe_map, " r-xp %s\n", exe);
  const char *mod = strstr(saved, mod_text), *map = strstr(saved, exe_map);
  assert_non_null(mod);
  assert_non_null(map);
  assert_true(mod < map);
  const char *line = mod;
  while (line > saved && line[-1] != '\n')
    line--;
  assert_memory_equal(line, "MOD ", 4);
  /* one MOD per module: this program's once */
  assert_null(strstr(mod + 1, mod_text));
  /* the libraries it executes from too (libc) */
  assert_non_null(strstr(saved, "libc.so"));
  unsigned mods = 0;
  for (const char *p = saved; (p = strstr(p, "\nMOD ")); p++)
    mods++;
  assert_true(mods >= 2);
  /* imported: the recorded build id, this program's frame symbolized */
  spantap_symbolizer_destroy(sym);
  struct spantap_collector_stats s = import(saved, NULL);
  assert_int_equal(s.malformed, 0);
  assert_int_equal(nwarnings, 0);
  char sql[PATH_MAX + 64];
  snprintf(sql, sizeof sql, "SELECT build_id FROM modules WHERE path = '%s'", exe);
  assert_string_equal(query_text(sql), want);
  if (query_int("SELECT count(*) FROM frames WHERE function = 'code_address'") != 1)
    fail_msg("no frame of code_address: frames %s; saved stream:\n%s",
             query_text("SELECT group_concat(coalesce(function, '?') || '@' || "
                        "coalesce(module_id, 0) || '+' || rel_addr) FROM frames"),
             saved);
  free(saved);
}

/* Live with a saved stream, a process found running whose first record
 * carries a stack: its maps are read and saved before that record, so the
 * import symbolizes the very first stack as the live recording did. */
static void test_first_record_stack_replayable(void **state) {
  (void)state;
  char stream[512];
  int pid = (int)getpid();
  snprintf(stream, sizeof stream,
           "BEGIN 3 0 4 8 kernel\nSC 10 1 %d %d 1 3 1 0 0 @0,%" PRIx64 "\nEND 20\n", pid, pid,
           code_address() + 4);
  struct spantap_symbolizer *sym = spantap_symbolizer_new();
  char *saved = live_saved_stream(sym, stream);
  spantap_symbolizer_destroy(sym);
  const char *map = strstr(saved, "\nMAP "), *sc = strstr(saved, "\nSC ");
  assert_non_null(map);
  assert_non_null(sc);
  if (map > sc)
    fail_msg("the process's maps follow its first record; saved stream:\n%s", saved);
  struct spantap_collector_stats s = import(saved, NULL);
  assert_int_equal(s.malformed, 0);
  if (query_int("SELECT count(*) FROM frames WHERE function = 'code_address'") != 1)
    fail_msg("the first stack is not symbolized on import: frames %s; saved stream:\n%s",
             query_text("SELECT group_concat(coalesce(function, '?') || '@' || "
                        "coalesce(module_id, 0) || '+' || rel_addr) FROM frames"),
             saved);
  free(saved);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_matching_build_id_symbolizes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_mismatch_leaves_frames_unsymbolized, setup, teardown),
      cmocka_unit_test_setup_teardown(test_mismatch_with_debug_file_symbolizes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stripped_match_uses_debug_dir, setup, teardown),
      cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
      cmocka_unit_test_setup_teardown(test_xmap_found_by_recorded_identity, setup, teardown),
      cmocka_unit_test_setup_teardown(test_live_recording_saves_modules, setup, teardown),
      cmocka_unit_test_setup_teardown(test_first_record_stack_replayable, setup, teardown),
  };
  return cmocka_run_group_tests_name("import_buildid", tests, NULL, NULL);
}
