/* Unit tests of the queue transport's SystemTap code (runtime/queue_emit.h)
 * and of the layout rules (common/record_queue.c). With `--script FILE` the
 * binary instead writes a small complete script built from the emitted code
 * (tests/live/queue_elaborate.sh elaborates it with stap). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/queue_emit.h"

#define COOKIE UINT64_C(0x4a5b6c7d8e9f0123)

/* The text FN writes, as an owned string. */
static char *capture(int (*fn)(FILE *, const struct spantap_queue_set *, unsigned, const char *),
                     const struct spantap_queue_set *set, unsigned qid, int *rc) {
  /* on the heap: GCC takes a stack slot passed to open_memstream for a
   * dangling pointer once the function returns */
  struct {
    char *buf;
    size_t len;
  } *m = calloc(1, sizeof *m);
  assert_non_null(m);
  FILE *f = open_memstream(&m->buf, &m->len);
  assert_non_null(f);
  *rc = fn(f, set, qid, "  ");
  fclose(f);
  char *out = m->buf;
  free(m);
  return out;
}

static int begin_fn(FILE *f, const struct spantap_queue_set *set, unsigned qid, const char *ind) {
  (void)qid;
  (void)ind;
  return spantap_queue_emit_begin(f, set);
}

static int globals_fn(FILE *f, const struct spantap_queue_set *set, unsigned qid, const char *ind) {
  (void)qid;
  (void)ind;
  return spantap_queue_emit_globals(f, set);
}

static int chunk1_fn(FILE *f, const struct spantap_queue_set *set, unsigned nframes,
                     const char *ind) {
  return spantap_queue_emit_stack_chunk(f, set, 1, nframes, ind);
}

static void make_set(struct spantap_queue_set *set, unsigned stack_slots) {
  assert_int_equal(spantap_queue_set_init(set, COOKIE, 2, SPANTAP_QUEUE_SCALE_DEFAULT), 0);
  assert_int_equal(spantap_queue_set_add(set, SPANTAP_REC_SYSCALL, stack_slots, false), 0);
  assert_int_equal(spantap_queue_set_add(set, SPANTAP_REC_SYSCALL, stack_slots, false), 1);
  assert_int_equal(spantap_queue_set_add(set, SPANTAP_REC_EXEC, 0, false), 2);
  assert_int_equal(spantap_queue_set_add(set, SPANTAP_REC_BEGIN, 0, true), 3);
}

/* The tuple of the line that stores into _stq<QID>[: the text between its
 * brackets, owned. */
static char *record_tuple(const char *code, unsigned qid) {
  char head[32];
  snprintf(head, sizeof head, "_stq%u[_stq_tag", qid);
  const char *p = strstr(code, head);
  assert_non_null(p);
  const char *end = strchr(p, ']');
  assert_non_null(end);
  p += strlen(head) - strlen("_stq_tag");
  return strndup(p, (size_t)(end - p));
}

static void test_record_names_every_field_in_order(void **state) {
  (void)state;
  struct spantap_queue_set set;
  make_set(&set, 8);
  for (unsigned qid = 0; qid < set.nqueues; qid++) {
    int rc;
    char *code = capture(spantap_queue_emit_record, &set, qid, &rc);
    assert_int_equal(rc, 0);
    char *tuple = record_tuple(code, qid);
    const struct spantap_record_desc *d = spantap_record_desc_get(set.q[qid].kind);
    /* tag, then each field in table order, then the stack part */
    char *save = NULL;
    char *tok = strtok_r(tuple, ",", &save);
    assert_string_equal(tok, "_stq_tag");
    unsigned words = 1;
    for (unsigned i = 0; i < d->nfields; i++) {
      tok = strtok_r(NULL, ",", &save);
      assert_non_null(tok);
      char want[64];
      snprintf(want, sizeof want, " %s + 0", d->field_names[i]);
      assert_string_equal(tok, want);
      words++;
    }
    while ((tok = strtok_r(NULL, ",", &save)))
      words++;
    assert_int_equal(words, set.q[qid].key_words);
    free(tuple);
    free(code);
  }
}

static void test_stack_part_follows_the_form(void **state) {
  (void)state;
  struct spantap_queue_set set;
  int rc;
  make_set(&set, 1);
  assert_int_equal(set.q[0].stack_form, SPANTAP_QUEUE_STACK_INLINE);
  assert_int_equal(set.stack_table_entries, 0);
  char *code = capture(spantap_queue_emit_record, &set, 0, &rc);
  assert_non_null(strstr(code, ", _sflags, _sf0] = 1"));
  free(code);
  make_set(&set, 12);
  assert_int_equal(set.q[0].stack_form, SPANTAP_QUEUE_STACK_INTERNED);
  assert_true(set.stack_table_entries > 0);
  code = capture(spantap_queue_emit_record, &set, 0, &rc);
  assert_non_null(strstr(code, ", _sflags, _stq_stk] = 1"));
  free(code);
  /* kinds without stacks never carry one */
  code = capture(spantap_queue_emit_record, &set, 2, &rc);
  assert_null(strstr(code, "_sflags"));
  free(code);
}

static void test_counters_are_per_queue(void **state) {
  (void)state;
  struct spantap_queue_set set;
  make_set(&set, 0);
  for (unsigned qid = 0; qid < 2; qid++) {
    int rc;
    char *code = capture(spantap_queue_emit_record, &set, qid, &rc);
    char own[32], other[32];
    snprintf(own, sizeof own, "_stq%uc[_stq_c]", qid);
    snprintf(other, sizeof other, "_stq%uc[", 1 - qid);
    /* read, then written after the record */
    const char *read = strstr(code, own);
    assert_non_null(read);
    const char *rec = strstr(code, "] = 1\n");
    assert_non_null(rec);
    const char *write = strstr(read + 1, own);
    assert_non_null(write);
    assert_true(read < rec && rec < write);
    assert_null(strstr(code, other));
    free(code);
  }
}

static void test_text_before_record_and_user_space_cpu(void **state) {
  (void)state;
  struct spantap_queue_set set;
  make_set(&set, 0);
  int rc;
  char *code = capture(spantap_queue_emit_record, &set, 2, &rc);
  const char *text = strstr(code, "_stq2t[_stq_tag] = text");
  const char *rec = strstr(code, "_stq2[_stq_tag");
  assert_non_null(text);
  assert_non_null(rec);
  assert_true(text < rec);
  assert_non_null(strstr(code, "_stq_c = cpu()"));
  free(code);
  code = capture(spantap_queue_emit_record, &set, 3, &rc);
  assert_non_null(strstr(code, "_stq_c = 0\n"));
  assert_null(strstr(code, "cpu()"));
  free(code);
  assert_int_equal(spantap_queue_emit_record(stdout, &set, set.nqueues, ""), -EINVAL);
}

static void test_begin_cookie_local_and_version_last(void **state) {
  (void)state;
  struct spantap_queue_set set;
  make_set(&set, 8);
  int rc;
  char *code = capture(begin_fn, &set, 0, &rc);
  assert_int_equal(rc, 0);
  char hex[32];
  snprintf(hex, sizeof hex, "0x%016llx", (unsigned long long)COOKIE);
  /* the 64-bit constant appears once, assigned to a local */
  char assign[64];
  snprintf(assign, sizeof assign, "_stq_cookie = %s", hex);
  const char *a = strstr(code, assign);
  assert_non_null(a);
  assert_null(strstr(a + strlen(assign), hex));
  /* every version slot after every other slot */
  char ver[32];
  snprintf(ver, sizeof ver, "[%d] = %d", -(int)SPANTAP_QCTL_VERSION - 1,
           SPANTAP_QUEUE_LAYOUT_VERSION);
  const char *first_ver = strstr(code, ver);
  assert_non_null(first_ver);
  for (unsigned q = 0; q < set.nqueues; q++) {
    char slot[48];
    snprintf(slot, sizeof slot, "_stq%uc[%d] = _stq_cookie", q, -(int)SPANTAP_QCTL_COOKIE - 1);
    const char *s = strstr(code, slot);
    assert_non_null(s);
    assert_true(s < first_ver);
    snprintf(slot, sizeof slot, "_stq%uc[%d] = %d", q, -(int)SPANTAP_QCTL_VERSION - 1,
             SPANTAP_QUEUE_LAYOUT_VERSION);
    assert_non_null(strstr(code, slot));
    /* each queue's marker: cookie, the queue id, zeros to the key's width */
    snprintf(slot, sizeof slot, "_stq%u[_stq_cookie, %u", q, q);
    s = strstr(code, slot);
    assert_non_null(s);
    unsigned commas = 0;
    for (; *s != ']'; s++)
      commas += *s == ',';
    assert_int_equal(commas + 1, set.q[q].key_words);
  }
  assert_non_null(strstr(code, "_stqstk[_stq_cookie, -1"));
  free(code);
}

static void test_globals_sizes(void **state) {
  (void)state;
  struct spantap_queue_set set;
  make_set(&set, 8);
  int rc;
  char *code = capture(globals_fn, &set, 0, &rc);
  char want[64];
  snprintf(want, sizeof want, "global _stq0[%u]", set.q[0].capacity);
  assert_non_null(strstr(code, want));
  snprintf(want, sizeof want, "global _stq1c[%u]\n", set.ncpu + SPANTAP_QCTL__COUNT);
  assert_non_null(strstr(code, want));
  assert_non_null(strstr(code, "global _stq2t["));
  assert_null(strstr(code, "global _stq0t["));
  snprintf(want, sizeof want, "global _stqstk[%u]", set.stack_table_entries);
  assert_non_null(strstr(code, want));
  free(code);
}

static void test_stack_chunk(void **state) {
  (void)state;
  struct spantap_queue_set set;
  make_set(&set, 12);
  int rc;
  char *code = capture(chunk1_fn, &set, 4, &rc);
  assert_int_equal(rc, 0);
  /* eight hash steps, the four missing frames as zeros */
  unsigned steps = 0;
  for (const char *p = code; (p = strstr(p, "_stq_stk = ")); p++)
    steps++;
  assert_int_equal(steps, SPANTAP_QUEUE_STACK_CHUNK);
  assert_non_null(strstr(code, "_stqstk[_stq_stk, _stq_par, _sf0, _sf1, _sf2, _sf3, 0, 0, 0, 0]"));
  const char *row = strstr(code, "_stqstk[");
  const char *seen = strstr(code, "_stqsid[_stq_stk] = 1");
  assert_true(row && seen && row < seen);
  free(code);
  code = capture(chunk1_fn, &set, 0, &rc);
  assert_int_equal(rc, -EINVAL);
  free(code);
  code = capture(chunk1_fn, &set, SPANTAP_QUEUE_STACK_CHUNK + 1, &rc);
  assert_int_equal(rc, -EINVAL);
  free(code);
  make_set(&set, 1); /* no interned stacks: no table to write to */
  code = capture(chunk1_fn, &set, 1, &rc);
  assert_int_equal(rc, -EINVAL);
  free(code);
}

static void test_layout_rules(void **state) {
  (void)state;
  struct spantap_queue_set set;
  assert_int_equal(spantap_queue_set_init(&set, 1, 2, SPANTAP_QUEUE_SCALE_DEFAULT),
                   -EINVAL); /* not a cookie */
  assert_int_equal(spantap_queue_set_init(&set, COOKIE, 0, SPANTAP_QUEUE_SCALE_DEFAULT), -EINVAL);
  assert_int_equal(spantap_queue_set_init(&set, COOKIE, 2, SPANTAP_QUEUE_SCALE_DEFAULT), 0);
  assert_int_equal(spantap_queue_set_add(&set, SPANTAP_REC_MAPPING, 0, false), -EINVAL);
  assert_int_equal(
      spantap_queue_set_add(&set, SPANTAP_REC_SYSCALL, SPANTAP_QUEUE_MAX_DEPTH + 1, false),
      -EINVAL);
  for (unsigned i = 0; i < SPANTAP_QUEUE_MAX_QUEUES; i++)
    assert_int_equal(spantap_queue_set_add(&set, SPANTAP_REC_FORK, 0, false), (int)i);
  assert_int_equal(spantap_queue_set_add(&set, SPANTAP_REC_FORK, 0, false), -ENOSPC);
  /* a larger scale costs more memory */
  struct spantap_queue_set big;
  assert_int_equal(spantap_queue_set_init(&big, COOKIE, 2, 4 * SPANTAP_QUEUE_SCALE_DEFAULT), 0);
  assert_int_equal(spantap_queue_set_init(&set, COOKIE, 2, SPANTAP_QUEUE_SCALE_DEFAULT), 0);
  spantap_queue_set_add(&set, SPANTAP_REC_SYSCALL, 8, false);
  spantap_queue_set_add(&big, SPANTAP_REC_SYSCALL, 8, false);
  assert_true(spantap_queue_set_memory_bytes(&big) > spantap_queue_set_memory_bytes(&set));
  /* cookies are never tags and differ between calls */
  uint64_t a, b;
  assert_int_equal(spantap_queue_cookie_new(&a), 0);
  assert_int_equal(spantap_queue_cookie_new(&b), 0);
  assert_true(spantap_queue_is_cookie(a));
  assert_true(a != b);
  assert_true(SPANTAP_QUEUE_TAG_CPU(a) >= SPANTAP_QUEUE_MAX_CPUS);
  assert_false(spantap_queue_is_cookie(SPANTAP_QUEUE_TAG(SPANTAP_QUEUE_MAX_CPUS - 1, 5)));
  /* a stack id depends on the parent and on every frame */
  uint64_t f[SPANTAP_QUEUE_STACK_CHUNK] = {1, 2, 3, 4, 5, 6, 7, 8};
  uint64_t h = spantap_queue_stack_hash(0, f);
  assert_true(h != spantap_queue_stack_hash(1, f));
  f[7] = 9;
  assert_true(h != spantap_queue_stack_hash(0, f));
  uint64_t zero[SPANTAP_QUEUE_STACK_CHUNK] = {0};
  assert_true(spantap_queue_stack_hash(0, zero) == 0); /* no frames: id 0 */
}

/* A small complete script for the BPF runtime: SYSCALL records with an
 * interned 8-frame stack (a frame-pointer walk, as the generator writes it),
 * EXEC records with their file name, and BEGIN from the begin probe. */
static int write_script(const char *path, unsigned ncpu, uint64_t cookie) {
  FILE *f = fopen(path, "w");
  if (!f)
    return -errno;
  struct spantap_queue_set set;
  int rc = spantap_queue_set_init(&set, cookie, ncpu, SPANTAP_QUEUE_SCALE_DEFAULT);
  int sc = spantap_queue_set_add(&set, SPANTAP_REC_SYSCALL, 8, false);
  int ex = spantap_queue_set_add(&set, SPANTAP_REC_EXEC, 0, false);
  int bg = spantap_queue_set_add(&set, SPANTAP_REC_BEGIN, 0, true);
  if (rc < 0 || sc < 0 || ex < 0 || bg < 0) {
    fclose(f);
    return -EINVAL;
  }
  fprintf(f, "// queue transport test script: SYSCALL (8 frames), EXEC, BEGIN\n");
  fprintf(f, "function _st_u64:long (addr:long) { return @cast(addr, \"stap_u64x2\", "
             "\"kernel\")->lo }\n");
  rc |= spantap_queue_emit_globals(f, &set);
  fprintf(f, "global _t0[16384]\n");
  fprintf(f, "probe kernel.trace(\"raw_syscalls:sys_enter\") {\n"
             "  if (pid() == target()) _t0[tid()] = ktime_get_ns()\n}\n");
  fprintf(f, "probe kernel.trace(\"raw_syscalls:sys_exit\") {\n"
             "  tid = tid(); ts = _t0[tid]\n  if (ts) {\n    delete _t0[tid]\n"
             "    dur = ktime_get_ns() - ts; pid = pid()\n    _regs = $regs\n"
             "    nr = @cast(_regs, \"pt_regs\", \"kernel\")->orig_ax\n    ret = $ret\n"
             "    arg0 = @cast(_regs, \"pt_regs\", \"kernel\")->di\n"
             "    arg1 = @cast(_regs, \"pt_regs\", \"kernel\")->si\n"
             "    arg2 = @cast(_regs, \"pt_regs\", \"kernel\")->dx\n"
             "    _sflags = 0\n    _fp = @cast(_regs, \"pt_regs\", \"kernel\")->bp\n"
             "    _sf0 = @cast(_regs, \"pt_regs\", \"kernel\")->ip\n"
             "    _sf1 = _st_u64(@cast(_regs, \"pt_regs\", \"kernel\")->sp)\n");
  for (unsigned k = 2; k < 8; k++)
    fprintf(f,
            "    _sf%u = 0\n    if (_fp) { _nfp = _st_u64(_fp); _sf%u = _st_u64(_fp + 8)\n"
            "      if (_nfp && (_nfp <= _fp || _nfp - _fp > 1048576)) { _sflags = _sflags | 2; "
            "_nfp = 0 }\n      _fp = _nfp }\n",
            k, k);
  fprintf(f, "    if (_fp) _sflags = _sflags | 1\n");
  rc |= spantap_queue_emit_stack_start(f, "    ");
  rc |= spantap_queue_emit_stack_chunk(f, &set, 0, 8, "    ");
  rc |= spantap_queue_emit_record(f, &set, (unsigned)sc, "    ");
  fprintf(f, "  }\n}\n");
  fprintf(f, "probe kernel.trace(\"sched:sched_process_exec\") {\n"
             "  ts = ktime_get_ns(); pid = pid(); tid = tid(); ppid = 0; traced = 1\n"
             "  start_code = 0; end_code = 0; ino = 0; dev = 0\n"
             "  bprm = $bprm\n"
             "  text = kernel_string(@cast(bprm, \"linux_binprm\", \"kernel\")->filename)\n");
  rc |= spantap_queue_emit_record(f, &set, (unsigned)ex, "  ");
  fprintf(f, "}\n");
  fprintf(f, "probe begin {\n  format_version = %d; script_pid = 0; text = \"bpf\"\n",
          SPANTAP_RECORD_FORMAT_VERSION);
  rc |= spantap_queue_emit_record(f, &set, (unsigned)bg, "  ");
  fprintf(f, "}\n");
  rc |= spantap_queue_emit_begin(f, &set);
  if (fclose(f) != 0 || rc)
    return -EIO;
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 3 && strcmp(argv[1], "--script") == 0) {
    unsigned ncpu = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 0) : 2;
    uint64_t cookie = argc > 4 ? strtoull(argv[4], NULL, 0) : COOKIE;
    int rc = write_script(argv[2], ncpu, cookie);
    if (rc < 0)
      fprintf(stderr, "Failed to write script: path=%s: %s\n", argv[2], strerror(-rc));
    return rc < 0 ? 1 : 0;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_record_names_every_field_in_order),
      cmocka_unit_test(test_stack_part_follows_the_form),
      cmocka_unit_test(test_counters_are_per_queue),
      cmocka_unit_test(test_text_before_record_and_user_space_cpu),
      cmocka_unit_test(test_begin_cookie_local_and_version_last),
      cmocka_unit_test(test_globals_sizes),
      cmocka_unit_test(test_stack_chunk),
      cmocka_unit_test(test_layout_rules),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
