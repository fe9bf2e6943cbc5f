/* Tests of the symbolizer against the test application (built with -g and
 * frame pointers, known function names) and against libc as mapped in this
 * test process. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <elfutils/libdwfl.h>

#include "collector/proc_mirror.h"
#include "collector/symbolize.h"
#include "tests/elf_symbol.h"

static void test_chain_functions_and_lines(void **state) {
  (void)state;
  struct spantap_symbolizer *s = spantap_symbolizer_new();
  static const char *const names[] = {"chain_a", "chain_b", "chain_c", "main"};
  for (size_t i = 0; i < 4; i++) {
    uint64_t a = spantap_test_symbol_addr(CHAIN_APP, names[i]);
    struct spantap_symbol sym;
    /* as a return address 10 bytes into the function */
    assert_int_equal(spantap_symbolizer_lookup_rel(s, CHAIN_APP, a + 10, true, &sym), 0);
    assert_string_equal(sym.function, names[i]);
    assert_int_equal(sym.offset, 10);
    assert_non_null(strstr(sym.file, "chain_app.c"));
    assert_true(sym.line > 0);
    assert_int_equal(strlen(sym.build_id), 40);
    /* and as an absolute address in a PIE mapping at 0x555555554000 */
    struct spantap_symbol abs;
    assert_int_equal(spantap_symbolizer_lookup(s, CHAIN_APP, 0x555555554000ULL, 0,
                                               0x555555554000ULL + a + 10, true, &abs),
                     0);
    assert_string_equal(abs.function, names[i]);
    assert_int_equal(abs.rel_addr, a + 10);
    assert_int_equal(abs.offset, 10);
    assert_int_equal(abs.line, sym.line);
    /* the text mapping as the kernel makes it: page of the PT_LOAD, its offset */
    uint64_t page = a & ~0xfffULL;
    assert_int_equal(spantap_symbolizer_lookup(s, CHAIN_APP, 0x555555554000ULL + page, page,
                                               0x555555554000ULL + a + 10, true, &abs),
                     0);
    assert_string_equal(abs.function, names[i]);
    assert_int_equal(abs.rel_addr, a + 10);
    /* not a return address: the line of the instruction itself, same function */
    assert_int_equal(spantap_symbolizer_lookup_rel(s, CHAIN_APP, a, false, &abs), 0);
    assert_string_equal(abs.function, names[i]);
    assert_int_equal(abs.offset, 0);
  }
  spantap_symbolizer_destroy(s);
}

static void test_chain_file_basename(void **state) {
  (void)state;
  struct spantap_symbolizer *s = spantap_symbolizer_new();
  struct spantap_symbol sym;
  uint64_t a = spantap_test_symbol_addr(CHAIN_APP, "chain_c");
  assert_int_equal(spantap_symbolizer_lookup_rel(s, CHAIN_APP, a + 10, true, &sym), 0);
  const char *slash = strrchr(sym.file, '/');
  assert_string_equal(slash ? slash + 1 : sym.file, "chain_app.c");
  spantap_symbolizer_destroy(s);
}

static void test_build_id(void **state) {
  (void)state;
  struct spantap_symbolizer *s = spantap_symbolizer_new();
  char bid[SPANTAP_BUILD_ID_HEX_MAX + 1] = "x";
  assert_int_equal(spantap_module_build_id(s, CHAIN_APP, bid), 0);
  assert_int_equal(strlen(bid), 40);
  assert_int_equal(strspn(bid, "0123456789abcdef"), 40);
  struct spantap_symbol sym;
  assert_int_equal(spantap_symbolizer_lookup_rel(s, CHAIN_APP, 0x10, false, &sym), 0);
  assert_string_equal(sym.build_id, bid);
  uint64_t text_off = 0;
  assert_int_equal(spantap_module_text_offset(s, CHAIN_APP, &text_off), 0);
  assert_true(text_off != 0);
  spantap_symbolizer_destroy(s);
}

/* [*LO, *HI): the ELF addresses of PATH's first executable PT_LOAD. */
static void text_range(const char *path, uint64_t *lo, uint64_t *hi) {
  int fd = open(path, O_RDONLY);
  assert_true(fd >= 0);
  Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
  size_t n = 0;
  assert_int_equal(elf_getphdrnum(elf, &n), 0);
  *lo = *hi = 0;
  for (size_t i = 0; i < n && !*hi; i++) {
    GElf_Phdr ph;
    if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD && (ph.p_flags & PF_X)) {
      *lo = ph.p_vaddr;
      *hi = ph.p_vaddr + ph.p_filesz;
    }
  }
  elf_end(elf);
  close(fd);
  assert_true(*hi > *lo);
}

/* The sorted index picks the same function as dwfl_module_addrinfo, over the
 * whole text of the test application and of this process's libc. */
static void compare_with_addrinfo(const char *path, uint64_t step) {
  static char *debuginfo_path = NULL;
  static const Dwfl_Callbacks cb = {.find_debuginfo = dwfl_standard_find_debuginfo,
                                    .debuginfo_path = &debuginfo_path};
  Dwfl *dwfl = dwfl_begin(&cb);
  assert_non_null(dwfl);
  Dwfl_Module *mod = dwfl_report_elf(dwfl, path, path, -1, 0, true);
  assert_non_null(mod);
  assert_int_equal(dwfl_report_end(dwfl, NULL, NULL), 0);
  struct spantap_symbolizer *s = spantap_symbolizer_new();
  uint64_t lo, hi;
  text_range(path, &lo, &hi);
  unsigned compared = 0, named = 0, differing = 0;
  for (uint64_t a = lo; a < hi; a += step) {
    GElf_Off off;
    GElf_Sym esym;
    const char *want = dwfl_module_addrinfo(mod, a, &off, &esym, NULL, NULL, NULL);
    struct spantap_symbol got;
    assert_int_equal(spantap_symbolizer_lookup_rel(s, path, a, false, &got), 0);
    compared++;
    if (want && esym.st_size == 0 && strcmp(want, got.function) != 0) {
      /* sizeless labels: libdwfl stretches them one byte past their section */
      differing++;
      continue;
    }
    assert_int_equal(want != NULL, got.function[0] != '\0');
    /* aliases at one address may be ordered differently; the start must agree */
    if (want)
      assert_int_equal(off, got.offset);
    named += got.function[0] != '\0';
  }
  assert_true(compared > 50);
  assert_true(named > compared / 2);
  assert_true(differing <= compared / 100);
  spantap_symbolizer_destroy(s);
  dwfl_end(dwfl);
}

static void test_same_as_addrinfo(void **state) {
  (void)state;
  compare_with_addrinfo(CHAIN_APP, 1);
  Dl_info info;
  assert_true(dladdr((void *)&dup, &info) != 0);
  compare_with_addrinfo(info.dli_fname, 997);
}

struct libc_map {
  uint64_t start, pgoff, target;
  char path[4096];
};

static int find_libc(const struct spantap_maps_entry *e, void *ctx) {
  struct libc_map *m = ctx;
  if (strstr(e->path, "libc.so") && m->target >= e->start && m->target < e->end) {
    m->start = e->start;
    m->pgoff = e->pgoff;
    snprintf(m->path, sizeof m->path, "%s", e->path);
  }
  return 0;
}

static void test_libc_as_mapped(void **state) {
  (void)state;
  struct libc_map m = {.target = (uint64_t)(uintptr_t)&dup};
  assert_true(spantap_proc_maps_read(getpid(), find_libc, &m) > 0);
  assert_true(m.start != 0);
  struct spantap_symbolizer *s = spantap_symbolizer_new();
  struct spantap_symbol sym;
  assert_int_equal(spantap_symbolizer_lookup(s, m.path, m.start, m.pgoff, m.target, false, &sym),
                   0);
  assert_non_null(strstr(sym.function, "dup"));
  assert_int_equal(sym.offset, 0);
  /* repeated lookups give the same answer */
  for (int i = 0; i < 100; i++) {
    struct spantap_symbol again;
    assert_int_equal(
        spantap_symbolizer_lookup(s, m.path, m.start, m.pgoff, m.target, false, &again), 0);
    assert_memory_equal(&again, &sym, sizeof sym);
  }
  /* as a return address just past its start, still the same function */
  struct spantap_symbol ret;
  assert_int_equal(spantap_symbolizer_lookup(s, m.path, m.start, m.pgoff, m.target + 4, true, &ret),
                   0);
  assert_string_equal(ret.function, sym.function);
  assert_int_equal(ret.offset, 4);
  assert_int_equal(strlen(ret.build_id), 40);
  spantap_symbolizer_destroy(s);
}

static void test_errors(void **state) {
  (void)state;
  struct spantap_symbolizer *s = spantap_symbolizer_new();
  struct spantap_symbol sym;
  char bid[SPANTAP_BUILD_ID_HEX_MAX + 1];
  assert_int_equal(spantap_symbolizer_lookup_rel(s, "/nonexistent/module", 0x10, false, &sym),
                   -ENOENT);
  assert_non_null(strstr(spantap_symbolizer_last_error(s), "/nonexistent/module"));
  char path[] = "/tmp/spantap-not-elf-XXXXXX";
  int fd = mkstemp(path);
  assert_int_equal(write(fd, "hello, not an ELF file\n", 23), 23);
  close(fd);
  assert_int_equal(spantap_symbolizer_lookup_rel(s, path, 0x10, false, &sym), -EINVAL);
  assert_non_null(strstr(spantap_symbolizer_last_error(s), path));
  assert_int_equal(spantap_module_build_id(s, path, bid), -EINVAL);
  assert_string_equal(bid, "");
  /* failures are cached and still named */
  assert_int_equal(spantap_symbolizer_lookup_rel(s, "/nonexistent/module", 0x10, false, &sym),
                   -ENOENT);
  assert_non_null(strstr(spantap_symbolizer_last_error(s), "/nonexistent/module"));
  unlink(path);
  /* an address past every loadable segment */
  assert_int_equal(
      spantap_symbolizer_lookup(s, CHAIN_APP, 0x1000, 0, 0x1000 + (1ULL << 40), false, &sym),
      -EINVAL);
  spantap_symbolizer_destroy(s);
  spantap_symbolizer_destroy(NULL);
}

/* The module cache grows past its first table: hundreds of paths, failed and not. */
static void test_many_modules(void **state) {
  (void)state;
  struct spantap_symbolizer *s = spantap_symbolizer_new();
  struct spantap_symbol sym, first;
  uint64_t a = spantap_test_symbol_addr(CHAIN_APP, "chain_b");
  assert_int_equal(spantap_symbolizer_lookup_rel(s, CHAIN_APP, a + 10, true, &first), 0);
  char path[64];
  for (int round = 0; round < 2; round++) {
    for (int i = 0; i < 500; i++) {
      snprintf(path, sizeof path, "/nonexistent/lib%d.so", i);
      assert_int_equal(spantap_symbolizer_lookup_rel(s, path, 0x10, false, &sym), -ENOENT);
    }
    assert_int_equal(spantap_symbolizer_lookup_rel(s, CHAIN_APP, a + 10, true, &sym), 0);
    assert_memory_equal(&sym, &first, sizeof sym);
  }
  spantap_symbolizer_destroy(s);
}

/* A symbolizer that cannot start says which call failed, quoting libdwfl,
 * rather than a bare "out of memory": in a child whose address space is
 * exhausted, dwfl_begin (the first allocation) fails and is named. */
static void test_open_failure_names_dwfl_begin(void **state) {
  (void)state;
#if defined(__SANITIZE_ADDRESS__)
  /* AddressSanitizer reserves terabytes of shadow memory: an address-space
   * limit stops the child before dwfl_begin is reached */
  print_message("SKIP test_open_failure_names_dwfl_begin: RLIMIT_AS cannot be used under "
                "AddressSanitizer (the plain and valgrind builds run it)\n");
  skip();
#endif
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    struct rlimit rl = {.rlim_cur = 256u << 20, .rlim_max = 256u << 20};
    if (setrlimit(RLIMIT_AS, &rl) != 0)
      _exit(3);
    char err[256] = "";
    /* the blocks are chained from a static, so that a leak checker (valgrind)
     * sees them reachable rather than lost when the child exits */
    static void *exhausted;
    for (size_t size = 1u << 20; size >= sizeof(void *); size /= 2)
      for (void **block; (block = malloc(size)); exhausted = block)
        *block = exhausted;
    struct spantap_symbolizer *sym = NULL;
    int rc = spantap_symbolizer_open(&sym, err, sizeof err);
    _exit(rc == -ENOMEM && !sym && strstr(err, "dwfl_begin") && strstr(err, "error=") ? 0 : 1);
  }
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_chain_functions_and_lines),
      cmocka_unit_test(test_libc_as_mapped),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_chain_file_basename),
      cmocka_unit_test(test_build_id),
      cmocka_unit_test(test_same_as_addrinfo),
      cmocka_unit_test(test_many_modules),
      cmocka_unit_test(test_open_failure_names_dwfl_begin),
  };
  return cmocka_run_group_tests_name("symbolize", tests, NULL, NULL);
}
